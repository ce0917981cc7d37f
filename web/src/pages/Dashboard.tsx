import { useEffect, useMemo, useState } from "react";
import { get, post, type CopyEvent, type CopySession, type FollowerOrder, type ReconciliationResult, type RiskLimits, type TradingStateReply } from "../api";
import { clock, enumLabel, num } from "../format";
import { useLoad } from "../hooks";
import { masterLabel, masterNames } from "../masters";
import { useSession } from "../session";
import { describeTrade, eventRow, orderRow, type FeedRow } from "../feed";
import { Empty, ErrorBox, Loading } from "../components/Status";
import { Link } from "../router";

interface DashboardReply {
  sessions?: CopySession[];
  tradingState?: TradingStateReply;
  limits?: RiskLimits;
  recentOrders?: FollowerOrder[];
}

const MAX_ROWS = 100;

export function FeedTable({ rows }: { rows: FeedRow[] }) {
  return (
    <div className="table-wrap">
      <table className="feed">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Copy</th>
            <th scope="col">Trade</th>
            <th scope="col">Latency</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} className={r.kind} data-kind={r.kind} data-config={r.order.configId}>
              <td>{clock(r.time)}</td>
              <td>
                <span className={`badge ${r.kind}`}>{r.kind}</span>
              </td>
              <td>{describeTrade(r.order)}</td>
              <td>{r.latencyMs === null ? "—" : `${r.latencyMs} ms`}</td>
              <td className={r.reason ? "reason" : "none"}>{r.reason || "—"}</td>
            </tr>
          ))}
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
    source.addEventListener("error", (e) => {
      const data = (e as MessageEvent).data;
      if (data) {
        try {
          setError(JSON.parse(data).message ?? String(data));
        } catch {
          setError(String(data));
        }
      }
      setState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    });
    return () => source.close();
  }, []);
  return { rows, state, error };
}

function Positions({ session, name }: { session: CopySession; name: string }) {
  const data = useLoad(
    () =>
      Promise.all([
        post<{ result: ReconciliationResult }>("/api/error-recovery/reconcile-trade", { configId: session.configId, dryRun: true }),
        get<{ orders?: FollowerOrder[] }>(`/v1/follower-orders?configId=${encodeURIComponent(session.configId)}&pageSize=500`),
      ]),
    [session.configId],
  );
  const rows = useMemo(() => {
    if (!data.data) return [];
    const [reconciled, orders] = data.data;
    const bySymbol = new Map<string, { symbol: string; yours: string; implied: string; difference: string; cause: string }>();
    // What the copies filled, net per symbol: the position when nothing drifted.
    const net = new Map<string, number>();
    for (const o of orders.orders ?? []) {
      const filled = Number(o.filledQuantity ?? 0);
      if (!o.symbol || !filled) continue;
      net.set(o.symbol, (net.get(o.symbol) ?? 0) + (o.side === "SIDE_SELL" ? -filled : filled));
    }
    for (const [symbol, q] of net) {
      const text = q.toFixed(8).replace(/\.?0+$/, "") || "0";
      bySymbol.set(symbol, { symbol, yours: text, implied: text, difference: "0", cause: "in sync" });
    }
    for (const d of reconciled.result.discrepancies ?? []) {
      bySymbol.set(d.symbol ?? "", {
        symbol: d.symbol ?? "",
        yours: d.followerPosition ?? "",
        implied: d.targetPosition ?? "",
        difference: d.difference ?? "",
        cause: enumLabel(d.cause),
      });
    }
    return [...bySymbol.values()];
  }, [data.data]);
  const inSync = data.data?.[0].result.inSync;
  return (
    <article className="card" aria-label={`Positions copying ${name}`}>
      <header>
        <h3>{name}</h3>
        {data.data && <span className={`badge ${inSync ? "active" : "refused"}`}>{inSync ? "in sync" : "drifted"}</span>}
        <button type="button" className="link" onClick={data.reload}>
          Refresh
        </button>
      </header>
      <ErrorBox error={data.error} onRetry={data.reload} />
      {data.loading && !data.data && <Loading what="positions" />}
      {data.data && rows.length === 0 && <Empty>No position yet.</Empty>}
      {rows.length > 0 && (
        <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Symbol</th>
              <th scope="col">You hold</th>
              <th scope="col">Master implies</th>
              <th scope="col">Difference</th>
              <th scope="col">Cause</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.symbol}>
                <td>{r.symbol}</td>
                <td>{r.yours}</td>
                <td>{r.implied}</td>
                <td>{r.difference}</td>
                <td>{r.cause}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </article>
  );
}

export function DashboardPage() {
  const { user } = useSession();
  const dash = useLoad(() => get<DashboardReply>(`/v1/users/${encodeURIComponent(user.userId)}/dashboard?recentLimit=20`), [user.userId]);
  const names = useLoad(masterNames, []);
  const feed = useCopyFeed(dash.data?.recentOrders);
  const trading = dash.data?.tradingState;
  const live = (dash.data?.sessions ?? []).filter((s) => s.state !== "SESSION_STATE_STOPPED");
  const latencies = feed.rows.map((r) => r.latencyMs).filter((v): v is number => v !== null);
  const counts = feed.rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.kind]: (acc[r.kind] ?? 0) + 1 }), {});

  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">Live copies</h1>
      <ErrorBox error={dash.error} onRetry={dash.reload} />
      {dash.loading && !dash.data && <Loading what="your dashboard" />}
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
          <dt>Sessions copying</dt>
          <dd>{live.length}</dd>
        </div>
        <div>
          <dt>Feed</dt>
          <dd>
            <span className={`badge feed-${feed.state}`} data-testid="feed-state">
              {feed.state}
            </span>
          </dd>
        </div>
        <div>
          <dt>Median latency (shown copies)</dt>
          <dd>{latencies.length ? `${num([...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)], 0)} ms` : "—"}</dd>
        </div>
        <div>
          <dt>Copied / refused / failed</dt>
          <dd>
            {(counts.copied ?? 0) + (counts.filled ?? 0)} / {counts.refused ?? 0} / {counts.failed ?? 0}
          </dd>
        </div>
      </dl>
      {(feed.error || feed.state === "closed") && (
        <div className="status error" role="alert">
          <strong>The live feed stopped:</strong> {feed.error || "the gateway closed it (is your session still valid?)"}. Reload the page to reconnect.
        </div>
      )}
      <h2>Copy feed</h2>
      <div role="log" aria-live="polite" aria-label="Copy feed">
        {feed.rows.length === 0 ? <Empty>No copies yet: they appear here the moment a master you follow trades.</Empty> : <FeedTable rows={feed.rows} />}
      </div>
      <h2>Positions against the masters'</h2>
      {dash.data && live.length === 0 && <Empty>No session is copying.</Empty>}
      <div className="cards">
        {live.map((s) => (
          <Positions key={s.configId} session={s} name={masterLabel(names.data, s.masterId)} />
        ))}
      </div>
    </section>
  );
}
