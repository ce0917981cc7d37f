import { useMemo } from "react";
import { get, type CopySession, type FollowerOrder } from "../api";
import { num } from "../format";
import { useLoad } from "../hooks";
import { masterLabel, masterNames } from "../masters";
import { computePnl } from "../pnl";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading } from "../components/Status";
import { TimeChart, type Series } from "../components/TimeChart";

const COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2"];
const MAX_PAGES = 10;

async function allOrders(userId: string): Promise<FollowerOrder[]> {
  const out: FollowerOrder[] = [];
  let token = "";
  for (let page = 0; page < MAX_PAGES; page++) {
    const reply = await get<{ orders?: FollowerOrder[]; nextPageToken?: string }>(
      `/v1/follower-orders?followerId=${encodeURIComponent(userId)}&pageSize=500${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`,
    );
    out.push(...(reply.orders ?? []));
    token = reply.nextPageToken ?? "";
    if (!token) break;
  }
  return out;
}

export function AnalyticsPage() {
  const { user } = useSession();
  const data = useLoad(
    () => Promise.all([allOrders(user.userId), get<{ sessions?: CopySession[] }>(`/v1/copy-sessions?followerId=${encodeURIComponent(user.userId)}&pageSize=100`), masterNames()]),
    [user.userId],
  );
  const computed = useMemo(() => (data.data ? computePnl(data.data[0]) : null), [data.data]);
  const sessions = new Map((data.data?.[1].sessions ?? []).map((s) => [s.configId, s]));
  const names = data.data?.[2];

  // Per master: the sessions copying them, added up.
  const perMaster = useMemo(() => {
    const out = new Map<string, { name: string; trades: number; volume: number; realized: number; unrealized: number; curves: { time: string; value: number }[][] }>();
    if (!computed) return out;
    for (const s of computed.perSession.values()) {
      const masterId = sessions.get(s.key)?.masterId ?? "unknown";
      const m = out.get(masterId) ?? { name: masterLabel(names, masterId), trades: 0, volume: 0, realized: 0, unrealized: 0, curves: [] };
      m.trades += s.trades;
      m.volume += s.volume;
      m.realized += s.realized;
      m.unrealized += s.unrealized;
      m.curves.push(s.curve);
      out.set(masterId, m);
    }
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [computed, names]);

  const series: Series[] = useMemo(() => {
    if (!computed) return [];
    const list: Series[] = [{ name: "All masters", color: "#111827", points: computed.total }];
    [...perMaster.values()].forEach((m, i) => {
      if (perMaster.size > 1 && m.curves.length === 1) list.push({ name: m.name, color: COLORS[i % COLORS.length], points: m.curves[0] });
    });
    return list;
  }, [computed, perMaster]);

  return (
    <section aria-labelledby="analytics-title">
      <h1 id="analytics-title">Analytics</h1>
      <p className="muted small">Realized PnL of your filled copies (average cost, before venue fees), and what is open at the last fill price.</p>
      <ErrorBox error={data.error} onRetry={data.reload} />
      {data.loading && !data.data && <Loading what="your copies" />}
      {computed && computed.total.length === 0 && <Empty>No filled copies yet.</Empty>}
      {computed && computed.total.length > 0 && (
        <>
          <TimeChart series={series} label="Realized PnL over time (quote currency)" />
          <h2>Per master</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Master</th>
                  <th scope="col">Filled copies</th>
                  <th scope="col">Volume</th>
                  <th scope="col">Realized PnL</th>
                  <th scope="col">Unrealized PnL</th>
                </tr>
              </thead>
              <tbody>
                {[...perMaster.entries()].map(([id, m]) => (
                  <tr key={id}>
                    <th scope="row">{m.name}</th>
                    <td>{m.trades}</td>
                    <td>{num(m.volume)}</td>
                    <td className={m.realized >= 0 ? "up" : "down"}>{num(m.realized, 4)}</td>
                    <td className={m.unrealized >= 0 ? "up" : "down"}>{num(m.unrealized, 4)}</td>
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
