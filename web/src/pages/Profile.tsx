import { useEffect, useMemo, useState } from "react";
import { get, post, type CopySession, type CopySettings, type MasterActivity, type MasterProfile, type PerformanceStats, type PreviewReply, type VenueAccount } from "../api";
import { enumLabel, money, num, pct, qty, time, tone, venueName } from "../format";
import { FIGURES, labelled } from "../figures";
import { useAction, useLoad, usePageTitle } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading } from "../components/Status";
import { TimeChart, type Series } from "../components/TimeChart";
import { cleanSizing, describeSizing, SizingFields } from "../components/SizingFields";
import { FormError } from "../components/Field";
import { reasonWords } from "../words";
import { SPARK_CAPITAL } from "./Discovery";
import { DISCLOSURE, useVenues, venueNames } from "./Account";

const WINDOWS = ["STATS_WINDOW_7D", "STATS_WINDOW_30D", "STATS_WINDOW_90D", "STATS_WINDOW_ALL_TIME"];
// The follow form and the preview start from the same settings.
const DEFAULT_SETTINGS: CopySettings = { sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "1" };

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

/** A figure, or "not enough history" (with what it needs) where the history is too short for it. */
export function orShort(s: PerformanceStats, field: string, shown: React.ReactNode): React.ReactNode {
  const short = s.notEnoughHistory?.find((n) => n.field === field);
  if (!short) return shown;
  return (
    <span className="muted" title={`needs ${short.required} ${short.observation}, has ${short.observed ?? 0}`}>
      not enough history
    </span>
  );
}

/** How the copy return was worked out: the delay and slippage measured on real copies, or the model's. */
export function capturableBasis(s: PerformanceStats): string {
  const how = `${s.capturableDelayMs ?? 0} ms delay, ${s.capturableSlippageBps ?? "0"} bp slippage`;
  return s.capturableBasis === "CAPTURABLE_BASIS_MEASURED"
    ? `measured on ${s.capturableCopyCount} copies: ${how}`
    : `no copy measured yet: modelled at ${how}`;
}

function StatsByWindow({ traderId }: { traderId: string }) {
  const stats = useLoad(
    () => Promise.all(WINDOWS.map((w) => get<{ stats: PerformanceStats }>(`/v1/master-profiles/${encodeURIComponent(traderId)}/stats?window=${w}`).then((r) => r.stats ?? {}))),
    [traderId],
  );
  const rows: [string, string, (s: PerformanceStats) => React.ReactNode][] = [
    [labelled("roi"), FIGURES.roi.means, (s) => <span className={tone(s.roi)}>{pct(s.roi, 2, true)}</span>],
    [labelled("realizedPnl"), FIGURES.realizedPnl.means, (s) => <span className={tone(s.realizedPnl)}>{money(s.realizedPnl, "", true)}</span>],
    [labelled("capturableRoi"), FIGURES.capturableRoi.means, (s) => <span title={capturableBasis(s)}>{pct(s.capturableRoi, 2, true)}</span>],
    [labelled("maxDrawdown"), FIGURES.maxDrawdown.means, (s) => pct(s.maxDrawdown)],
    [labelled("winRate"), FIGURES.winRate.means, (s) => orShort(s, "win_rate", pct(s.winRate, 0))],
    ["Profit factor", "gross profit over gross loss of closed trades", (s) => num(s.profitFactor)],
    [FIGURES.sharpeRatio.label, FIGURES.sharpeRatio.means, (s) => orShort(s, "sharpe_ratio", num(s.sharpeRatio))],
    ["Sortino", "mean daily return over its downside deviation, annualised", (s) => orShort(s, "sortino_ratio", num(s.sortinoRatio))],
    ["Trades", "closed round trips", (s) => String(s.tradeCount ?? 0)],
    ["Trades per day", "", (s) => num(s.tradesPerDay)],
    ["Average holding (hours)", "", (s) => num(s.averageHoldingHours, 1)],
  ];
  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Results by period</h2>
      <ErrorBox error={stats.error} onRetry={stats.reload} />
      {stats.loading && !stats.data && <Loading what="statistics" />}
      {stats.data && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Results by period, table">
          <table>
            <thead>
              <tr>
                <th scope="col">Figure</th>
                {WINDOWS.map((w) => (
                  <th scope="col" key={w}>
                    {enumLabel(w)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map(([label, means, f]) => (
                <tr key={label}>
                  <th scope="row" title={means || undefined}>
                    {label}
                  </th>
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

function Activity({ traderId }: { traderId: string }) {
  const activity = useLoad(() => get<MasterActivity>(`/v1/master-profiles/${encodeURIComponent(traderId)}/activity?tradeLimit=20`), [traderId]);
  const positions = activity.data?.positions ?? [];
  const trades = activity.data?.trades ?? [];
  return (
    <section aria-labelledby="activity-title">
      <h2 id="activity-title">Positions and trades</h2>
      <ErrorBox error={activity.error} onRetry={activity.reload} />
      {activity.loading && !activity.data && <Loading what="the master's positions" />}
      {activity.data && (
        <div className="two-col">
          <div>
            <h3>Open now</h3>
            {positions.length === 0 ? (
              <Empty>No open position.</Empty>
            ) : (
              <div className="table-wrap" tabIndex={0} role="region" aria-label="The master's open positions">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Instrument</th>
                      <th scope="col">Side</th>
                      <th scope="col">Quantity</th>
                      <th scope="col">Entry price</th>
                      <th scope="col">Since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {positions.map((p) => (
                      <tr key={p.symbol}>
                        <th scope="row">{p.symbol}</th>
                        <td>{Number(p.quantity) > 0 ? "Long" : "Short"}</td>
                        <td>{qty(Math.abs(Number(p.quantity)))}</td>
                        <td>{num(p.entryPrice)}</td>
                        <td>{time(p.openTime)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
          <div>
            <h3>Latest trades{activity.data.totalTrades ? ` (of ${activity.data.totalTrades})` : ""}</h3>
            {trades.length === 0 ? (
              <Empty>No trades yet.</Empty>
            ) : (
              <div className="table-wrap scroll-y" tabIndex={0} role="region" aria-label="The master's latest trades">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Trade</th>
                      <th scope="col">Price</th>
                      <th scope="col">Closed PnL after fees</th>
                    </tr>
                  </thead>
                  <tbody>
                    {trades.map((t) => (
                      <tr key={t.tradeId}>
                        <td>{time(t.time)}</td>
                        <td>
                          {enumLabel(t.side)} {qty(t.quantity)} {t.symbol}
                        </td>
                        <td>{num(t.price)}</td>
                        <td className={tone(t.realizedPnl)}>{t.realizedPnl ? money(t.realizedPnl, "USDT", true) : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

function CopyPreview({ traderId, settings, onSettings }: { traderId: string; settings: CopySettings; onSettings: (s: CopySettings) => void }) {
  const [capital, setCapital] = useState("5000");
  const [maxPosition, setMaxPosition] = useState("");
  const [result, setResult] = useState<{ yours: PreviewReply; plain: PreviewReply } | null>(null);
  const action = useAction();

  async function run(e: React.FormEvent) {
    e.preventDefault();
    const limits = maxPosition.trim() ? { maxPositionSize: maxPosition.trim() } : undefined;
    const done = await action.run(() =>
      Promise.all([
        preview(traderId, { capital, settings: cleanSizing(settings), limits }),
        preview(traderId, { capital, settings: DEFAULT_SETTINGS }),
      ]),
    );
    if (done) setResult({ yours: done[0], plain: done[1] });
  }

  const series: Series[] = useMemo(
    () =>
      result
        ? [
            { name: "Your copy", color: "var(--accent)", points: equityPoints(result.yours) },
            { name: "A 1× copy", color: "var(--muted)", points: equityPoints(result.plain) },
          ]
        : [],
    [result],
  );
  const changed = (result?.yours.trades ?? []).filter((t) => t.refusal?.reason);

  return (
    <section aria-labelledby="preview-title">
      <h2 id="preview-title">What copying would have done</h2>
      <p className="muted small">The master's real trades replayed with your capital and settings, a copy's delay and 0.1% fees per trade.</p>
      <form className="grid-form" onSubmit={run} aria-label="Copy preview">
        <label>
          Capital (USDT)
          <input inputMode="decimal" value={capital} onChange={(e) => setCapital(e.target.value)} required />
        </label>
        <SizingFields settings={settings} onChange={onSettings} idPrefix="preview" />
        <label>
          Maximum position (USDT, optional)
          <input inputMode="decimal" value={maxPosition} onChange={(e) => setMaxPosition(e.target.value)} />
        </label>
        <div className="actions">
          <button type="submit" className="primary" disabled={action.busy}>
            {action.busy ? "Replaying…" : "Preview"}
          </button>
        </div>
      </form>
      <FormError error={action.error} fields={[]} />
      {result && (
        <>
          <dl className="facts">
            <div>
              <dt>Your copy's return</dt>
              <dd className={tone(result.yours.followerReturn)}>{pct(result.yours.followerReturn, 2, true)}</dd>
            </div>
            <div>
              <dt>A 1× copy's return</dt>
              <dd className={tone(result.plain.followerReturn)}>{pct(result.plain.followerReturn, 2, true)}</dd>
            </div>
            <div>
              <dt>Trades copied / changed by your limits</dt>
              <dd>
                {result.yours.tradesTaken ?? 0} / {result.yours.tradesRefused ?? 0}
              </dd>
            </div>
          </dl>
          {series[0].points.length ? (
            <TimeChart series={series} label="Equity (USDT): your copy beside a 1× copy, same capital" />
          ) : (
            <Empty>The master has no trades in this period yet.</Empty>
          )}
          <h3>Trades your settings would not have copied in full</h3>
          {changed.length === 0 ? (
            <Empty>None: every trade would have been copied as sized.</Empty>
          ) : (
            <div className="table-wrap scroll-y" tabIndex={0} role="region" aria-label="Trades not copied in full">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Master's trade</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {changed.slice(0, 50).map((t) => (
                    <tr key={t.masterFillId}>
                      <td>{time(t.time)}</td>
                      <td>
                        {enumLabel(t.side)} {qty(t.masterQuantity)} {t.symbol}
                      </td>
                      <td>{reasonWords(t.refusal!.reason)}</td>
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

/** "My Binance (Binance spot)", or just "Binance spot" when the account is named after its venue. */
export function accountLabel(account: VenueAccount, names: Map<string, string>): string {
  const venue = venueName(account.venue, names);
  return account.label && account.label.toLowerCase() !== venue.toLowerCase() ? `${account.label} (${venue})` : venue;
}

function Follow({ profile, settings, onSettings }: { profile: MasterProfile; settings: CopySettings; onSettings: (s: CopySettings) => void }) {
  const { user } = useSession();
  const venues = useVenues();
  const names = venueNames(venues.data);
  const accounts = useLoad(() => get<{ accounts?: VenueAccount[] }>(`/v1/venue-accounts`), []);
  const sessions = useLoad(() => get<{ sessions?: CopySession[] }>(`/v1/copy-sessions?followerId=${encodeURIComponent(user.userId)}&pageSize=100`), [user.userId]);
  const followers = (accounts.data?.accounts ?? []).filter((a) => a.role === "ACCOUNT_ROLE_FOLLOWER");
  const [accountId, setAccountId] = useState("");
  const [step, setStep] = useState<"edit" | "review" | "done">("edit");
  const [agreed, setAgreed] = useState(false);
  const [started, setStarted] = useState<CopySession | null>(null);
  const action = useAction();
  const chosen = followers.find((a) => a.accountId === accountId) ?? followers[0];
  const existing = (sessions.data?.sessions ?? []).find(
    (s) => s.state !== "SESSION_STATE_STOPPED" && (profile.masterAccountIds ?? []).includes(s.masterAccountId ?? "") && s.followerAccountId === chosen?.accountId,
  );
  const sizingFields = ["multiplier", "fixed_notional", "fixed_quantity", "risk_percent", "allocated_capital", "sizing_mode"];

  async function follow() {
    if (!chosen) return;
    const reply = await action.run(() =>
      post<{ session: CopySession }>("/api/master-traders/follow", {
        traderId: profile.traderId,
        followerId: user.userId,
        followerAccountId: chosen.accountId,
        settings: cleanSizing(settings),
      }),
    );
    if (reply) {
      setStarted(reply.session);
      setStep("done");
      setAgreed(false);
      sessions.reload();
    } else {
      setStep("edit"); // the error is shown at the field it is about
    }
  }

  useEffect(() => {
    if (window.location.hash === "#follow") document.getElementById("follow-title")?.scrollIntoView?.();
  }, []);

  return (
    <section aria-labelledby="follow-title" className="follow">
      <h2 id="follow-title" tabIndex={-1}>
        Copy {profile.displayName}
      </h2>
      <ErrorBox error={accounts.error} onRetry={accounts.reload} />
      {accounts.loading && !accounts.data && <Loading what="your venue accounts" />}
      {accounts.data && followers.length === 0 && (
        <Empty>
          To copy, first verify your identity and connect a venue under <Link to="/account">Account</Link>.
        </Empty>
      )}
      {step === "done" && started && (
        <div className="status notice" role="status">
          You are copying {profile.displayName} now. Each of their next trades is copied to {chosen ? accountLabel(chosen, names) : "your account"}.{" "}
          <Link to="/dashboard">Watch it live</Link> or see <Link to="/copies">your copies</Link>.
        </div>
      )}
      {step !== "done" && existing && (
        <div className="status notice" role="status">
          This account already copies {profile.displayName}. Change how in <Link to="/copies">My copies</Link>, or choose another account.
        </div>
      )}
      {followers.length > 0 && step === "edit" && (
        <form
          className="grid-form"
          aria-label="Copy this master"
          onSubmit={(e) => {
            e.preventDefault();
            if (!existing) setStep("review");
          }}
        >
          <label>
            Your account
            <select value={chosen?.accountId ?? ""} onChange={(e) => setAccountId(e.target.value)}>
              {followers.map((a) => (
                <option key={a.accountId} value={a.accountId}>
                  {accountLabel(a, names)}
                </option>
              ))}
            </select>
          </label>
          <SizingFields settings={settings} onChange={onSettings} idPrefix="follow" error={action.error} />
          <label className="check">
            <input type="checkbox" name="copy_open_positions" checked={!!settings.copyOpenPositions} aria-describedby="follow-join-hint"
              onChange={(e) => onSettings({ ...settings, copyOpenPositions: e.target.checked })} />{" "}
            Join the master's open positions now
          </label>
          <p className="muted small" id="follow-join-hint">
            Buys (or sells) your share of what the master holds today, at market, sized like any copy and checked against your limits and maximum slippage. Otherwise only the master's next trades are copied.
          </p>
          <div className="actions">
            <button type="submit" className="primary" disabled={!!existing}>
              Review
            </button>
          </div>
        </form>
      )}
      {step === "edit" && <FormError error={action.error} fields={sizingFields} />}
      {step === "review" && chosen && (
        <div className="review card" role="group" aria-labelledby="review-title">
          <h3 id="review-title">Review your copy</h3>
          <dl className="review-list">
            <div>
              <dt>Master</dt>
              <dd>
                {profile.displayName} · {enumLabel(profile.strategyType)} · {enumLabel(profile.riskLevel)}
              </dd>
            </div>
            <div>
              <dt>Copied to</dt>
              <dd>
                {accountLabel(chosen, names)}
              </dd>
            </div>
            <div>
              <dt>Size of each copy</dt>
              <dd>{describeSizing(settings)}</dd>
            </div>
            <div>
              <dt>What happens</dt>
              <dd>
                {settings.copyOpenPositions
                  ? "First your share of the master's open positions is opened at market; then each trade the master makes is copied to your account, checked against your risk limits first."
                  : "From now on, each trade the master makes is copied to your account at market, checked against your risk limits first. What the master holds today is not copied."}
              </dd>
            </div>
          </dl>
          <div className="agreement">
            <h4>Risk agreement</h4>
            <ul>
              {DISCLOSURE.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
            <label className="check">
              <input type="checkbox" checked={agreed} onChange={(e) => setAgreed(e.target.checked)} /> I understand the risks and want to copy {profile.displayName}.
            </label>
          </div>
          <div className="actions">
            <button type="button" onClick={() => setStep("edit")}>
              Back
            </button>
            <button type="button" className="primary" disabled={!agreed || action.busy} onClick={follow}>
              {action.busy ? "Starting…" : "Start copying"}
            </button>
          </div>
        </div>
      )}
    </section>
  );
}

export function ProfilePage({ traderId }: { traderId: string }) {
  const profile = useLoad(() => get<{ profile: MasterProfile }>(`/api/master-traders/${encodeURIComponent(traderId)}`), [traderId]);
  const curve = useLoad(() => preview(traderId, { capital: SPARK_CAPITAL, settings: DEFAULT_SETTINGS }), [traderId]);
  const venues = useVenues();
  const names = venueNames(venues.data);
  const equity = useMemo(() => equityPoints(curve.data), [curve.data]);
  const equitySeries = useMemo<Series[]>(() => [{ name: "Equity", color: "var(--accent)", points: equity, area: true }], [equity]);
  const ddSeries = useMemo<Series[]>(() => [{ name: "Drawdown", color: "var(--down)", points: drawdown(equity), area: true }], [equity]);
  const [settings, setSettings] = useState<CopySettings>(DEFAULT_SETTINGS);
  const p = profile.data?.profile;
  usePageTitle(p?.displayName ?? "Master");

  return (
    <section aria-labelledby="profile-title">
      <p>
        <Link to="/discover">← All masters</Link>
      </p>
      <ErrorBox error={profile.error} onRetry={profile.reload} />
      {profile.loading && !p && <Loading what="the master's profile" />}
      {p && (
        <>
          <h1 id="profile-title">{p.displayName}</h1>
          <p className="muted">
            {enumLabel(p.strategyType)}
            {p.observedStrategyType && p.observedStrategyType !== p.strategyType ? ` (trades like ${enumLabel(p.observedStrategyType).toLowerCase()})` : ""} ·{" "}
            {enumLabel(p.riskLevel)} · {(p.venues ?? []).map((v) => venueName(v, names)).join(", ")} · {p.stats?.followerCount ?? 0} copiers
          </p>
          {p.bio && <p>{p.bio}</p>}
          <p>
            <a href="#follow-title" className="button primary">
              Copy {p.displayName}
            </a>
          </p>
          <div className="charts">
            <ErrorBox error={curve.error} onRetry={curve.reload} />
            {curve.loading && !curve.data && <Loading what="the equity curve" />}
            {curve.data && equity.length === 0 && <Empty>No trades yet, so no equity curve.</Empty>}
            {equity.length > 0 && (
              <>
                <TimeChart series={equitySeries} label={`Equity of a 1× copy of ${Number(SPARK_CAPITAL).toLocaleString()} USDT`} />
                <TimeChart series={ddSeries} label="Drawdown of that copy from its running peak (%)" height={160} />
              </>
            )}
          </div>
          <StatsByWindow traderId={traderId} />
          <Activity traderId={traderId} />
          <CopyPreview traderId={traderId} settings={settings} onSettings={setSettings} />
          <Follow profile={p} settings={settings} onSettings={setSettings} />
        </>
      )}
    </section>
  );
}
