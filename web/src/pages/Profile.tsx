import { useMemo, useState } from "react";
import { get, post, type CopySession, type CopySettings, type MasterProfile, type PerformanceStats, type PreviewReply, type VenueAccount } from "../api";
import { enumLabel, num, pct, time } from "../format";
import { useAction, useLoad } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading, Notice } from "../components/Status";
import { TimeChart, type Series } from "../components/TimeChart";
import { cleanSizing, SizingFields } from "../components/SizingFields";
import { SPARK_CAPITAL } from "./Discovery";

const WINDOWS = ["STATS_WINDOW_7D", "STATS_WINDOW_30D", "STATS_WINDOW_90D", "STATS_WINDOW_ALL_TIME"];

function preview(traderId: string, body: object) {
  return post<PreviewReply>(`/v1/master-profiles/${encodeURIComponent(traderId)}:previewCopy`, body);
}

export function drawdown(points: { time: string; value: number }[]) {
  let peak = -Infinity;
  return points.map((p) => {
    peak = Math.max(peak, p.value);
    return { time: p.time, value: peak > 0 ? (p.value / peak - 1) * 100 : 0 };
  });
}

const equityPoints = (r?: PreviewReply) => (r?.followerEquity ?? []).map((p) => ({ time: p.time ?? "", value: Number(p.equity) }));

function StatsByWindow({ traderId }: { traderId: string }) {
  const stats = useLoad(
    () => Promise.all(WINDOWS.map((w) => get<{ stats: PerformanceStats }>(`/v1/master-profiles/${encodeURIComponent(traderId)}/stats?window=${w}`).then((r) => r.stats ?? {}))),
    [traderId],
  );
  const rows: [string, (s: PerformanceStats) => string][] = [
    ["Return", (s) => pct(s.roi)],
    ["Capturable return", (s) => pct(s.capturableRoi)],
    ["Realized PnL", (s) => num(s.realizedPnl)],
    ["Max drawdown", (s) => pct(s.maxDrawdown)],
    ["Win rate", (s) => pct(s.winRate, 1)],
    ["Profit factor", (s) => num(s.profitFactor)],
    ["Sharpe", (s) => num(s.sharpeRatio)],
    ["Sortino", (s) => num(s.sortinoRatio)],
    ["Volatility", (s) => pct(s.volatility)],
    ["Trades", (s) => String(s.tradeCount ?? 0)],
    ["Trades per day", (s) => num(s.tradesPerDay)],
    ["Avg holding (h)", (s) => num(s.averageHoldingHours, 3)],
  ];
  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Statistics by window</h2>
      <ErrorBox error={stats.error} onRetry={stats.reload} />
      {stats.loading && !stats.data && <Loading what="statistics" />}
      {stats.data && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Statistic</th>
                {WINDOWS.map((w) => (
                  <th scope="col" key={w}>
                    {enumLabel(w)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map(([label, f]) => (
                <tr key={label}>
                  <th scope="row">{label}</th>
                  {stats.data!.map((s, i) => (
                    <td key={WINDOWS[i]}>{f(s)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CopyPreview({ traderId }: { traderId: string }) {
  const [capital, setCapital] = useState("5000");
  const [settings, setSettings] = useState<CopySettings>({ sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "0.5" });
  const [maxPosition, setMaxPosition] = useState("");
  const [maxDailyLoss, setMaxDailyLoss] = useState("");
  const [result, setResult] = useState<{ follower: PreviewReply; master: PreviewReply } | null>(null);
  const action = useAction();

  async function run(e: React.FormEvent) {
    e.preventDefault();
    const limits: Record<string, string> = {};
    if (maxPosition.trim()) limits.maxPositionSize = maxPosition.trim();
    if (maxDailyLoss.trim()) limits.maxDailyLoss = maxDailyLoss.trim();
    const done = await action.run(() =>
      Promise.all([
        preview(traderId, { capital, settings: cleanSizing(settings), limits: Object.keys(limits).length ? limits : undefined }),
        preview(traderId, { capital, settings: { sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "1" } }),
      ]),
    );
    if (done) setResult({ follower: done[0], master: done[1] });
  }

  const series: Series[] = useMemo(
    () =>
      result
        ? [
            { name: "Your copy", color: "#2563eb", points: equityPoints(result.follower) },
            { name: "Master (1×)", color: "#9ca3af", points: equityPoints(result.master) },
          ]
        : [],
    [result],
  );
  const refused = (result?.follower.trades ?? []).filter((t) => t.refusal?.reason);

  return (
    <section aria-labelledby="preview-title">
      <h2 id="preview-title">Preview copying</h2>
      <form className="grid-form" onSubmit={run} aria-label="Copy preview">
        <label>
          Capital
          <input inputMode="decimal" value={capital} onChange={(e) => setCapital(e.target.value)} required />
        </label>
        <SizingFields settings={settings} onChange={setSettings} idPrefix="preview" />
        <label>
          Max position size (limit)
          <input inputMode="decimal" value={maxPosition} onChange={(e) => setMaxPosition(e.target.value)} placeholder="your limit" />
        </label>
        <label>
          Max daily loss (limit)
          <input inputMode="decimal" value={maxDailyLoss} onChange={(e) => setMaxDailyLoss(e.target.value)} placeholder="your limit" />
        </label>
        <div className="actions">
          <button type="submit" className="primary" disabled={action.busy}>
            {action.busy ? "Previewing…" : "Preview"}
          </button>
        </div>
      </form>
      <ErrorBox error={action.error} />
      {result && (
        <>
          <dl className="facts">
            <div>
              <dt>Master's return</dt>
              <dd>{pct(result.follower.masterReturn)}</dd>
            </div>
            <div>
              <dt>Your return</dt>
              <dd>{pct(result.follower.followerReturn)}</dd>
            </div>
            <div>
              <dt>Capture gap</dt>
              <dd>{pct(result.follower.captureGap)}</dd>
            </div>
            <div>
              <dt>Trades taken / refused</dt>
              <dd>
                {result.follower.tradesTaken ?? 0} / {result.follower.tradesRefused ?? 0}
              </dd>
            </div>
          </dl>
          {series[0].points.length ? <TimeChart series={series} label="Preview equity: your copy beside the master's" /> : <Empty>The master has no trades in this period yet.</Empty>}
          <h3>Refused trades</h3>
          {refused.length === 0 ? (
            <Empty>None: every trade would have been copied.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Trade</th>
                    <th scope="col">Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {refused.slice(0, 50).map((t) => (
                    <tr key={t.masterFillId}>
                      <td>{time(t.time)}</td>
                      <td>
                        {enumLabel(t.side)} {t.masterQuantity} {t.symbol}
                      </td>
                      <td>
                        <strong>{t.refusal!.reason}</strong> {t.refusal!.message}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function Follow({ profile }: { profile: MasterProfile }) {
  const { user } = useSession();
  const accounts = useLoad(() => get<{ accounts?: VenueAccount[] }>(`/v1/venue-accounts`), []);
  const followers = (accounts.data?.accounts ?? []).filter((a) => a.role === "ACCOUNT_ROLE_FOLLOWER");
  const [accountId, setAccountId] = useState("");
  const [settings, setSettings] = useState<CopySettings>({ sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "1" });
  const [started, setStarted] = useState<CopySession | null>(null);
  const action = useAction();
  const chosen = accountId || followers[0]?.accountId || "";

  async function follow(e: React.FormEvent) {
    e.preventDefault();
    const reply = await action.run(() =>
      post<{ session: CopySession }>("/api/master-traders/follow", {
        traderId: profile.traderId,
        followerId: user.userId,
        followerAccountId: chosen,
        settings: cleanSizing(settings),
      }),
    );
    if (reply) setStarted(reply.session);
  }

  return (
    <section aria-labelledby="follow-title">
      <h2 id="follow-title">Follow {profile.displayName}</h2>
      <ErrorBox error={accounts.error} onRetry={accounts.reload} />
      {accounts.loading && !accounts.data && <Loading what="your venue accounts" />}
      {accounts.data && followers.length === 0 && (
        <Empty>
          You have no follower venue account yet: add your venue keys under <Link to="/following">Following</Link>.
        </Empty>
      )}
      {followers.length > 0 && (
        <form className="grid-form" onSubmit={follow} aria-label="Follow this master">
          <label>
            Your venue account
            <select value={chosen} onChange={(e) => setAccountId(e.target.value)}>
              {followers.map((a) => (
                <option key={a.accountId} value={a.accountId}>
                  {a.label || a.accountId} · {a.venue?.id} {enumLabel(a.venue?.marketType)}
                </option>
              ))}
            </select>
          </label>
          <SizingFields settings={settings} onChange={setSettings} idPrefix="follow" />
          <div className="actions">
            <button type="submit" className="primary" disabled={action.busy}>
              {action.busy ? "Starting…" : "Follow"}
            </button>
          </div>
        </form>
      )}
      <ErrorBox error={action.error} />
      {started && (
        <Notice>
          Following: session {started.configId} is {enumLabel(started.state)}. Watch its copies on the <Link to="/dashboard">live dashboard</Link>.
        </Notice>
      )}
    </section>
  );
}

export function ProfilePage({ traderId }: { traderId: string }) {
  const profile = useLoad(() => get<{ profile: MasterProfile }>(`/api/master-traders/${encodeURIComponent(traderId)}`), [traderId]);
  const curve = useLoad(() => preview(traderId, { capital: SPARK_CAPITAL, settings: { sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "1" } }), [traderId]);
  const equity = useMemo(() => equityPoints(curve.data), [curve.data]);
  const equitySeries = useMemo<Series[]>(() => [{ name: "Equity", color: "#2563eb", points: equity, area: true }], [equity]);
  const ddSeries = useMemo<Series[]>(() => [{ name: "Drawdown %", color: "#dc2626", points: drawdown(equity), area: true }], [equity]);
  const p = profile.data?.profile;

  return (
    <section aria-labelledby="profile-title">
      <p>
        <Link to="/discover">← Leaderboard</Link>
      </p>
      <ErrorBox error={profile.error} onRetry={profile.reload} />
      {profile.loading && !p && <Loading what="the master's profile" />}
      {p && (
        <>
          <h1 id="profile-title">{p.displayName}</h1>
          <p className="muted">
            {enumLabel(p.strategyType)} (trades like: {enumLabel(p.observedStrategyType)}) · risk {enumLabel(p.riskLevel)} ·{" "}
            {(p.venues ?? []).map((v) => `${v.id} ${enumLabel(v.marketType)}`).join(", ")} · {p.stats?.followerCount ?? 0} followers
          </p>
          {p.bio && <p>{p.bio}</p>}
          <div className="charts">
            <ErrorBox error={curve.error} onRetry={curve.reload} />
            {curve.loading && !curve.data && <Loading what="the equity curve" />}
            {curve.data && equity.length === 0 && <Empty>No trades yet, so no equity curve.</Empty>}
            {equity.length > 0 && (
              <>
                <TimeChart series={equitySeries} label={`Equity of a 1× copy of ${Number(SPARK_CAPITAL).toLocaleString()}`} />
                <TimeChart series={ddSeries} label="Drawdown from the running peak (%)" height={180} />
              </>
            )}
          </div>
          <StatsByWindow traderId={traderId} />
          <CopyPreview traderId={traderId} />
          <Follow profile={p} />
        </>
      )}
    </section>
  );
}
