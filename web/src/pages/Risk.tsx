import { useState } from "react";
import { get, patch, post, type CircuitBreaker, type RiskLimits, type TradingStateReply } from "../api";
import { enumLabel, time } from "../format";
import { useAction, useLoad } from "../hooks";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading, Notice } from "../components/Status";
import { Confirm } from "../components/Confirm";

type FieldKind = "decimal" | "int" | "bool" | "text";
export const LIMIT_FIELDS: { key: keyof RiskLimits; label: string; kind: FieldKind; hint?: string }[] = [
  { key: "maxDailyLoss", label: "Max daily loss", kind: "decimal", hint: "quote currency" },
  { key: "maxDrawdown", label: "Max drawdown", kind: "decimal", hint: "0.15 = 15%" },
  { key: "maxPositionSize", label: "Max position size", kind: "decimal", hint: "notional" },
  { key: "maxLeverage", label: "Max leverage", kind: "decimal" },
  { key: "emergencyStopLoss", label: "Emergency stop loss", kind: "decimal", hint: "0.05 = 5%" },
  { key: "maxSlippage", label: "Max slippage", kind: "decimal", hint: "0.01 = 1%" },
  { key: "correlationLimit", label: "Correlation limit", kind: "decimal" },
  { key: "volatilityLimit", label: "Volatility limit", kind: "decimal" },
  { key: "maxLatencyMs", label: "Max copy latency (ms)", kind: "int" },
  { key: "maxOrdersPerMinute", label: "Max orders per minute", kind: "int" },
  { key: "timezone", label: "Timezone (daily loss resets at its midnight)", kind: "text" },
  { key: "circuitBreakerEnabled", label: "Circuit breakers on", kind: "bool" },
  { key: "stopLossEnabled", label: "Stop loss on", kind: "bool" },
  { key: "takeProfitEnabled", label: "Take profit on", kind: "bool" },
];

/** The fields that differ from what the service holds: the update mask and its body. */
export function changedLimits(saved: RiskLimits, draft: RiskLimits): { mask: string[]; body: RiskLimits } {
  const mask: string[] = [];
  const body: Record<string, unknown> = {};
  for (const f of LIMIT_FIELDS) {
    const before = saved[f.key];
    let after: unknown = draft[f.key];
    if (f.kind === "int") after = after === "" || after === undefined ? 0 : Number(after);
    if (f.kind === "bool") after = !!after;
    if (f.kind === "bool" ? !!before !== after : String(before ?? (f.kind === "int" ? 0 : "")) !== String(after ?? "")) {
      mask.push(f.key);
      body[f.key] = after;
    }
  }
  return { mask, body: body as RiskLimits };
}

function LimitsForm({ userId }: { userId: string }) {
  const limits = useLoad(() => get<{ limits?: RiskLimits; isDefault?: boolean; updateTime?: string }>(`/v1/users/${encodeURIComponent(userId)}/risk-limits`), [userId]);
  const [draft, setDraft] = useState<RiskLimits>({});
  const [saved, setSaved] = useState("");
  const action = useAction();
  const [loadedFrom, setLoadedFrom] = useState<unknown>(null);
  if (limits.data && loadedFrom !== limits.data) {
    // What the service holds becomes the form's starting point (during render: no empty flash).
    setLoadedFrom(limits.data);
    setDraft(limits.data.limits ?? {});
  }

  async function save(e: React.FormEvent) {
    e.preventDefault();
    setSaved("");
    const { mask, body } = changedLimits(limits.data?.limits ?? {}, draft);
    if (!mask.length) {
      setSaved("Nothing changed.");
      return;
    }
    const done = await action.run(() => patch(`/v1/users/${encodeURIComponent(userId)}/risk-limits?updateMask=${mask.join(",")}`, body));
    if (done) {
      setSaved(`Saved: ${mask.length} limit(s) changed; the next copies are checked against them.`);
      limits.reload();
    }
  }

  return (
    <section aria-labelledby="limits-title">
      <h2 id="limits-title">Limits</h2>
      <ErrorBox error={limits.error} onRetry={limits.reload} />
      {limits.loading && !limits.data && <Loading what="your limits" />}
      {limits.data && (
        <form className="grid-form" onSubmit={save} aria-label="Risk limits">
          {limits.data.isDefault && <p className="muted small full">These are the platform defaults until you change one.</p>}
          {LIMIT_FIELDS.map((f) =>
            f.kind === "bool" ? (
              <label className="check" key={f.key}>
                <input type="checkbox" checked={!!draft[f.key]} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.checked })} />
                {f.label}
              </label>
            ) : (
              <label key={f.key}>
                {f.label}
                {f.hint && <span className="muted small"> ({f.hint})</span>}
                <input
                  inputMode={f.kind === "text" ? "text" : f.kind === "int" ? "numeric" : "decimal"}
                  value={(draft[f.key] as string | number | undefined) ?? ""}
                  onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
                />
              </label>
            ),
          )}
          <div className="actions full">
            <button type="submit" className="primary" disabled={action.busy}>
              {action.busy ? "Saving…" : "Save limits"}
            </button>
          </div>
        </form>
      )}
      <ErrorBox error={action.error} />
      {saved && <Notice>{saved}</Notice>}
    </section>
  );
}

function TradingState({ userId }: { userId: string }) {
  const state = useLoad(() => get<TradingStateReply>(`/v1/trading-state?scope.userId=${encodeURIComponent(userId)}`), [userId]);
  const breakers = useLoad(() => get<{ breakers?: CircuitBreaker[] }>(`/v1/users/${encodeURIComponent(userId)}/circuit-breakers`), [userId]);
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const action = useAction();
  const info = state.data?.state;
  const killed = !!info?.killSwitchActive;
  const effective = state.data?.effectiveState ?? info?.state;
  const refresh = () => {
    state.reload();
    breakers.reload();
  };

  async function kill() {
    const done = await action.run(() => post("/v1/kill-switch:activate", { scope: { userId }, reason: reason.trim() || "kill switch from the web app" }));
    setConfirming(false);
    if (done) refresh();
  }
  async function reset() {
    const done = await action.run(() => post("/v1/trading-state:reset", { scope: { userId }, comment: "reset from the web app" }));
    if (done) refresh();
  }

  const tripped = (breakers.data?.breakers ?? []).filter((b) => b.tripped);
  return (
    <section aria-labelledby="state-title">
      <h2 id="state-title">Trading state</h2>
      <ErrorBox error={state.error} onRetry={state.reload} />
      {state.loading && !state.data && <Loading what="your trading state" />}
      {state.data && (
        <div className="state-panel">
          <p>
            <span className={`badge big ${(effective ?? "").toLowerCase()}`} data-testid="trading-state">
              {enumLabel(effective)}
              {killed ? " · kill switch on" : ""}
            </span>
          </p>
          {info?.reason && (
            <p className="small">
              {info.reason} {info.changedBy && `(by ${info.changedBy === userId ? "you" : info.changedBy}`}
              {info.changeTime && `, ${time(info.changeTime)})`}
            </p>
          )}
          <div className="actions">
            {!killed && (
              <button type="button" className="danger" onClick={() => setConfirming(true)}>
                Kill switch: stop all copying
              </button>
            )}
            {(killed || effective !== "TRADING_STATE_ACTIVE" || tripped.length > 0) && (
              <button type="button" onClick={reset} disabled={action.busy}>
                Reset to active
              </button>
            )}
          </div>
        </div>
      )}
      <ErrorBox error={action.error} />
      {confirming && (
        <Confirm title="Pull the kill switch?" confirmLabel="Stop all copying" danger busy={action.busy} onConfirm={kill} onCancel={() => setConfirming(false)}>
          <p>Every copy to your accounts is refused until you reset. Open positions stay as they are.</p>
          <label>
            Reason (kept in the audit trail)
            <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="e.g. going on holiday" />
          </label>
        </Confirm>
      )}
      <h2>Circuit breakers</h2>
      <ErrorBox error={breakers.error} onRetry={breakers.reload} />
      {breakers.loading && !breakers.data && <Loading what="circuit breakers" />}
      {breakers.data && (breakers.data.breakers ?? []).length === 0 && <Empty>No breakers are configured.</Empty>}
      {(breakers.data?.breakers ?? []).length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Breaker</th>
                <th scope="col">Status</th>
                <th scope="col">Value / threshold</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {breakers.data!.breakers!.map((b) => (
                <tr key={b.kind}>
                  <td>{enumLabel(b.kind)}</td>
                  <td>
                    <span className={`badge ${b.tripped ? "refused" : "active"}`}>{b.tripped ? `tripped ${time(b.tripTime)}` : "ok"}</span>
                  </td>
                  <td>
                    {b.value || "—"} / {b.threshold || "—"}
                  </td>
                  <td>{b.reason || "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {tripped.length > 0 && <p className="small">A tripped breaker is cleared by “Reset to active”.</p>}
    </section>
  );
}

export function RiskPage() {
  const { user } = useSession();
  return (
    <section aria-labelledby="risk-title">
      <h1 id="risk-title">Risk</h1>
      <TradingState userId={user.userId} />
      <LimitsForm userId={user.userId} />
    </section>
  );
}
