// The portfolio: what every copy made after fees, overall and per master, over time. The same
// figures as on each copy (the venue's fills, fees included), added up.
import { useMemo } from "react";
import { get, type CopyPerformance, type CopySession } from "../api";
import { money, pct, tone } from "../format";
import { FIGURES, labelled } from "../figures";
import { useLoad, usePageTitle } from "../hooks";
import { masterLabel, masterNames } from "../masters";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading } from "../components/Status";
import { TimeChart, type Series } from "../components/TimeChart";

const COLORS = ["var(--accent)", "var(--series-2)", "var(--series-3)", "var(--series-4)", "var(--series-5)"];

interface Curve {
  time: string;
  value: number;
}

/** Curves added up: at each moment, the sum of every curve's latest value. */
export function sumCurves(curves: Curve[][]): Curve[] {
  const times = [...new Set(curves.flatMap((c) => c.map((p) => p.time)))].sort();
  const at = curves.map(() => 0);
  const index = curves.map(() => 0);
  return times.map((t) => {
    curves.forEach((c, i) => {
      while (index[i] < c.length && c[index[i]].time <= t) at[i] = c[index[i]++].value;
    });
    return { time: t, value: at.reduce((a, b) => a + b, 0) };
  });
}

interface Row {
  name: string;
  invested: number;
  netPnl: number;
  fees: number;
  copies: number;
  curve: Curve[];
}

export function AnalyticsPage() {
  usePageTitle("Portfolio");
  const { user } = useSession();
  const data = useLoad(async () => {
    const [sessions, names] = await Promise.all([
      get<{ sessions?: CopySession[] }>(`/v1/copy-sessions?followerId=${encodeURIComponent(user.userId)}&pageSize=100`),
      masterNames(),
    ]);
    const list = sessions.sessions ?? [];
    const perf = await Promise.all(
      list.map((s) => get<{ performance?: CopyPerformance }>(`/v1/copy-sessions/${encodeURIComponent(s.configId)}/performance`).then((r) => r.performance ?? {}, () => null)),
    );
    return { list, perf, names };
  }, [user.userId]);

  const { rows, total, unknown } = useMemo(() => {
    const byMaster = new Map<string, Row>();
    let unknown = 0;
    data.data?.list.forEach((s, i) => {
      const p = data.data!.perf[i];
      if (!p) {
        unknown += 1;
        return;
      }
      if (!p.fillCount) return;
      const key = s.masterId ?? "";
      const row = byMaster.get(key) ?? { name: masterLabel(data.data!.names, key), invested: 0, netPnl: 0, fees: 0, copies: 0, curve: [] };
      const curve = (p.curve ?? []).map((c) => ({ time: c.time ?? "", value: Number(c.netPnl) }));
      row.invested += Number(p.invested ?? 0);
      row.netPnl += Number(p.netPnl ?? 0);
      row.fees += Number(p.fees ?? 0);
      row.copies += 1;
      row.curve = sumCurves([row.curve, curve]);
      byMaster.set(key, row);
    });
    const rows = [...byMaster.values()];
    const total = rows.reduce((t, r) => ({ invested: t.invested + r.invested, netPnl: t.netPnl + r.netPnl, fees: t.fees + r.fees }), { invested: 0, netPnl: 0, fees: 0 });
    return { rows, total: { ...total, curve: sumCurves(rows.map((r) => r.curve)) }, unknown };
  }, [data.data]);

  const series: Series[] = useMemo(() => {
    const list: Series[] = [{ name: "All copies", color: "var(--text)", points: total.curve }];
    if (rows.length > 1) rows.forEach((r, i) => list.push({ name: r.name, color: COLORS[i % COLORS.length], points: r.curve }));
    return list;
  }, [rows, total]);

  return (
    <section aria-labelledby="analytics-title">
      <h1 id="analytics-title">Portfolio</h1>
      <p className="muted small">
        {FIGURES.netPnl.label}: {FIGURES.netPnl.means}. {FIGURES.copyRoi.label}: {FIGURES.copyRoi.means}. Stopped copies included.
      </p>
      <ErrorBox error={data.error} onRetry={data.reload} />
      {data.loading && !data.data && <Loading what="your copies" />}
      {unknown > 0 && <p className="small muted">{unknown} copies are left out: their venue did not answer.</p>}
      {data.data && rows.length === 0 && <Empty>No copy has traded yet.</Empty>}
      {rows.length > 0 && (
        <>
          <dl className="facts">
            <div>
              <dt>{labelled("invested")}</dt>
              <dd>{money(total.invested, "")}</dd>
            </div>
            <div>
              <dt>{labelled("netPnl")}</dt>
              <dd className={tone(total.netPnl)} data-testid="portfolio-pnl">
                {money(total.netPnl, "", true, 4)}
              </dd>
            </div>
            <div>
              <dt>{labelled("copyRoi")}</dt>
              <dd className={tone(total.netPnl)}>{total.invested > 0 ? pct(total.netPnl / total.invested, 2, true) : "—"}</dd>
            </div>
            <div>
              <dt>{labelled("fees")}</dt>
              <dd>{money(total.fees, "", false, 4)}</dd>
            </div>
          </dl>
          <TimeChart series={series} label="PnL after fees over time (USDT)" />
          <h2>Per master</h2>
          <div className="table-wrap" tabIndex={0} role="region" aria-label="PnL per master">
            <table>
              <thead>
                <tr>
                  <th scope="col">Master</th>
                  <th scope="col">Copies</th>
                  <th scope="col">{labelled("invested")}</th>
                  <th scope="col">{labelled("netPnl")}</th>
                  <th scope="col">{labelled("copyRoi")}</th>
                  <th scope="col">{labelled("fees")}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.name}>
                    <th scope="row">{r.name}</th>
                    <td>{r.copies}</td>
                    <td>{money(r.invested, "")}</td>
                    <td className={tone(r.netPnl)}>{money(r.netPnl, "", true, 4)}</td>
                    <td className={tone(r.netPnl)}>{r.invested > 0 ? pct(r.netPnl / r.invested, 2, true) : "—"}</td>
                    <td>{money(r.fees, "", false, 4)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
