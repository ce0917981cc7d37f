import { useEffect, useMemo, useState } from "react";
import { get, post, type CopyEvent, type CopySession, type FollowerOrder, type ReconciliationResult, type RiskLimits, type TradingStateReply } from "../api";
import { clock, enumLabel, money, num, qty } from "../format";
import { useAction, useLoad, usePageTitle } from "../hooks";
import { masterLabel, masterNames } from "../masters";
import { useSession } from "../session";
import { describeTrade, eventRow, KIND_WORDS, orderRow, tradePrice, type FeedRow } from "../feed";
import { Empty, ErrorBox, Loading } from "../components/Status";
import { Link } from "../router";
import { MoneyFacts, PositionsTable, usePerformance } from "./Following";

interface DashboardReply {
  sessions?: CopySession[];
  tradingState?: TradingStateReply;
  limits?: RiskLimits;
  recentOrders?: FollowerOrder[];
}

const MAX_ROWS = 100;

export function FeedTable({ rows, masterOf }: { rows: FeedRow[]; masterOf: (configId: string | undefined) => string }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Copies, newest first">
      <table className="feed">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Outcome</th>
            <th scope="col">Master</th>
            <th scope="col">Trade</th>
            <th scope="col">Price</th>
            <th scope="col">Value (USDT)</th>
            <th scope="col">Delay</th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const { price, notional } = tradePrice(r);
            return (
              <tr key={r.id} className={r.kind} data-kind={r.kind} data-config={r.order.configId}>
                <td className="f-time">{clock(r.time)}</td>
                <td className="f-kind">
                  <span className={`badge ${r.kind}`}>{KIND_WORDS[r.kind]}</span>
                </td>
                <td className="f-master">{masterOf(r.order.configId)}</td>
                <td className="f-trade">{describeTrade(r)}</td>
                <td className="f-price">{price ? num(price) : "—"}</td>
                <td className="f-value">{notional ? money(notional, "") : "—"}</td>
                <td className="f-delay">{r.latencyMs === null ? "—" : `${r.latencyMs} ms`}</td>
                <td className={`f-why ${r.reason ? "reason" : "none"}`}>{r.reason || "—"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The live copy feed over Server-Sent Events (the session cookie goes with it). */
function useCopyFeed(initial: FollowerOrder[] | undefined) {
  const [rows, setRows] = useState<FeedRow[]>([]);
  const [state, setState] = useState<"connecting" | "live" | "reconnecting" | "closed">("connecting");
  const [error, setError] = useState("");
  useEffect(() => {
    if (initial) setRows((current) => (current.length ? current : initial.map(orderRow)));
  }, [initial]);
  useEffect(() => {
    const source = new EventSource("/v1/copy-events:stream");
    source.onopen = () => {
      setState("live");
      setError("");
    };
    source.onmessage = (message) => {
      try {
        const reply = JSON.parse(message.data) as { event?: CopyEvent };
        const row = reply.event ? eventRow(reply.event) : null;
        if (row) setRows((current) => [row, ...current.filter((r) => r.order.orderId !== row.order.orderId)].slice(0, MAX_ROWS));
      } catch {
        /* a line that is not an event */
      }
    };
    source.addEventListener("error", () => setState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting"));
    source.addEventListener("error", (e) => {
      const data = (e as MessageEvent).data;
      if (!data) return;
      try {
        setError(JSON.parse(data).message ?? "");
      } catch {
        setError("");
      }
    });
    return () => source.close();
  }, []);
  return { rows, state, error };
}

const FEED_WORDS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Stopped" };

function Drift({ configId }: { configId: string }) {
  const action = useAction();
  const [result, setResult] = useState<ReconciliationResult | null>(null);
  async function check() {
    const reply = await action.run(() => post<{ result: ReconciliationResult }>("/api/error-recovery/reconcile-trade", { configId, dryRun: true }));
    if (reply) setResult(reply.result);
  }
  const off = (result?.discrepancies ?? []).filter((d) => Number(d.difference) !== 0);
  return (
    <div>
      <button type="button" className="link" onClick={check} disabled={action.busy}>
        {action.busy ? "Checking…" : "Check against the master's position"}
      </button>
      <ErrorBox error={action.error} />
      {result &&
        (off.length === 0 ? (
          <p className="small" role="status">Your position matches what the master's trades imply.</p>
        ) : (
          <ul className="small" role="status">
            {off.map((d, i) => (
              <li key={`${d.symbol}-${i}`}>
                {d.symbol}: you hold {qty(d.followerPosition)}, the master's trades imply {qty(d.targetPosition)}; {qty(d.difference)} because of{" "}
                {enumLabel(d.cause)}
              </li>
            ))}
          </ul>
        ))}
    </div>
  );
}

function SessionMoney({ session, name }: { session: CopySession; name: string }) {
  const perf = usePerformance(session.configId);
  return (
    <article className="card" aria-label={`What the copy of ${name} holds`}>
      <header>
        <h3>{name}</h3>
      </header>
      <ErrorBox error={perf.error} onRetry={perf.reload} />
      {perf.loading && !perf.data && <Loading what="positions" />}
      {perf.data && (
        <>
          <MoneyFacts perf={perf.data} />
          <PositionsTable perf={perf.data} label={`Open positions copying ${name}`} />
        </>
      )}
      <Drift configId={session.configId} />
    </article>
  );
}

export function DashboardPage() {
  usePageTitle("Live copies");
  const { user } = useSession();
  const dash = useLoad(() => get<DashboardReply>(`/v1/users/${encodeURIComponent(user.userId)}/dashboard?recentLimit=20`), [user.userId]);
  const names = useLoad(masterNames, []);
  const feed = useCopyFeed(dash.data?.recentOrders);
  const trading = dash.data?.tradingState;
  const sessions = dash.data?.sessions ?? [];
  const live = sessions.filter((s) => s.state !== "SESSION_STATE_STOPPED");
  const bySession = useMemo(() => new Map(sessions.map((s) => [s.configId, s.masterId])), [sessions]);
  const masterOf = (configId: string | undefined) => masterLabel(names.data, bySession.get(configId ?? ""));
  const latencies = feed.rows.map((r) => r.latencyMs).filter((v): v is number => v !== null);
  const counts = feed.rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.kind]: (acc[r.kind] ?? 0) + 1 }), {});

  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">Live copies</h1>
      <ErrorBox error={dash.error} onRetry={dash.reload} />
      {dash.loading && !dash.data && <Loading what="your copies" />}
      <dl className="facts">
        <div>
          <dt>Trading</dt>
          <dd>
            {trading ? (
              <span className={`badge ${(trading.effectiveState ?? "").toLowerCase()}`}>
                {enumLabel(trading.effectiveState)}
                {trading.state?.killSwitchActive ? " · kill switch on" : ""}
              </span>
            ) : (
              "—"
            )}{" "}
            <Link to="/risk">Risk controls</Link>
          </dd>
        </div>
        <div>
          <dt>Copies running</dt>
          <dd>{live.length}</dd>
        </div>
        <div>
          <dt>Feed</dt>
          <dd>
            <span className={`badge feed-${feed.state}`} data-testid="feed-state" data-state={feed.state}>
              {FEED_WORDS[feed.state]}
            </span>
          </dd>
        </div>
        <div>
          <dt>Typical delay (shown copies)</dt>
          <dd>{latencies.length ? `${num([...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)], 0)} ms` : "—"}</dd>
        </div>
        <div>
          <dt>Copied / not copied / failed</dt>
          <dd>
            {(counts.copied ?? 0) + (counts.filled ?? 0)} / {counts.refused ?? 0} / {counts.failed ?? 0}
          </dd>
        </div>
      </dl>
      {feed.state === "closed" && (
        <div className="status error" role="alert">
          <strong>The live feed stopped</strong>
          {feed.error ? `: ${feed.error}` : ""}. Reload the page to reconnect.
        </div>
      )}
      <h2>Copies as they happen</h2>
      <div role="log" aria-live="polite" aria-label="Copy feed">
        {feed.rows.length === 0 ? <Empty>No copies yet: they appear here the moment a master you copy trades.</Empty> : <FeedTable rows={feed.rows} masterOf={masterOf} />}
      </div>
      <h2>What your copies hold</h2>
      {dash.data && live.length === 0 && (
        <Empty>
          Nothing is being copied. <Link to="/discover">Find a master</Link>.
        </Empty>
      )}
      <div className="cards">
        {live.map((s) => (
          <SessionMoney key={s.configId} session={s} name={masterLabel(names.data, s.masterId)} />
        ))}
      </div>
    </section>
  );
}
