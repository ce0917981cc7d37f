import { useState } from "react";
import { get, patch, post, type CircuitBreaker, type RiskLimits, type TradingStateReply } from "../api";
import { enumLabel, money, num, pct, time } from "../format";
import { useAction, useLoad, usePageTitle } from "../hooks";
import { FormError, TextField } from "../components/Field";
import { useSession } from "../session";
import { Empty, ErrorBox, Loading, Notice } from "../components/Status";
import { Confirm } from "../components/Confirm";

type FieldKind = "percent" | "money" | "decimal" | "int" | "bool" | "text";
// What each limit means and its unit. Percent limits are fractions in the API (0.15) and
// percentages here (15).
export const LIMIT_FIELDS: { key: keyof RiskLimits; label: string; kind: FieldKind; hint?: string }[] = [
  { key: "maxDailyLoss", label: "Maximum loss in a day (USDT)", kind: "money", hint: "copies stop for the day once you have lost this much" },
  { key: "maxDrawdown", label: "Maximum drawdown (%)", kind: "percent", hint: "fall from your account's peak that halts copying" },
  { key: "maxPositionSize", label: "Maximum position (USDT)", kind: "money", hint: "copies are reduced to stay under it" },
  { key: "maxLeverage", label: "Maximum leverage (×)", kind: "decimal" },
  { key: "emergencyStopLoss", label: "Emergency stop-loss (%)", kind: "percent", hint: "loss on your equity that halts everything" },
  { key: "maxSlippage", label: "Maximum slippage (%)", kind: "percent" },
  { key: "correlationLimit", label: "Correlation limit (0 to 1)", kind: "decimal", hint: "refuses a copy that moves too much like what you hold" },
  { key: "volatilityLimit", label: "Volatility limit (% a year)", kind: "percent" },
  { key: "maxLatencyMs", label: "Maximum copy delay (ms)", kind: "int" },
  { key: "maxOrdersPerMinute", label: "Maximum orders per minute", kind: "int" },
  { key: "timezone", label: "Your time zone (the day's loss resets at its midnight)", kind: "text" },
  { key: "circuitBreakerEnabled", label: "Circuit breakers: halt copying when a limit above is hit", kind: "bool" },
  { key: "stopLossEnabled", label: "Place a stop-loss with each copy (when the master has one)", kind: "bool" },
  { key: "takeProfitEnabled", label: "Place a take-profit with each copy (when the master has one)", kind: "bool" },
];

const toShown = (kind: FieldKind, value: unknown) =>
  kind === "percent" && value !== undefined && value !== "" ? String(Number((Number(value) * 100).toPrecision(12))) : value;
const toApi = (kind: FieldKind, value: unknown) =>
  kind === "percent" && value !== undefined && value !== "" && Number.isFinite(Number(value)) ? String(Number((Number(value) / 100).toPrecision(12))) : value;

/** The fields that differ from what the service holds: the update mask and its body (draft in shown units). */
export function changedLimits(saved: RiskLimits, draft: RiskLimits): { mask: string[]; body: RiskLimits } {
  const mask: string[] = [];
  const body: Record<string, unknown> = {};
  for (const f of LIMIT_FIELDS) {
    const before = saved[f.key];
    let after: unknown = toApi(f.kind, draft[f.key]);
    if (f.kind === "int") after = after === "" || after === undefined ? 0 : Number(after);
    if (f.kind === "bool") after = !!after;
    const differs = f.kind === "bool" ? !!before !== after
      : f.kind === "percent" || f.kind === "money" || f.kind === "decimal" ? Number(before ?? 0) !== Number(after ?? 0) || String(after ?? "") === "" !== (String(before ?? "") === "")
        : String(before ?? (f.kind === "int" ? 0 : "")) !== String(after ?? "");
    if (differs) {
      mask.push(f.key);
      body[f.key] = after;
    }
  }
  return { mask, body: body as RiskLimits };
}

const shownLimits = (limits: RiskLimits): RiskLimits =>
  Object.fromEntries(Object.entries(limits).map(([k, v]) => [k, toShown(LIMIT_FIELDS.find((f) => f.key === k)?.kind ?? "text", v)])) as RiskLimits;

function LimitsForm({ userId }: { userId: string }) {
  const limits = useLoad(() => get<{ limits?: RiskLimits; isDefault?: boolean; updateTime?: string }>(`/v1/users/${encodeURIComponent(userId)}/risk-limits`), [userId]);
  const [draft, setDraft] = useState<RiskLimits>({});
  const [saved, setSaved] = useState("");
  const action = useAction();
  const [loadedFrom, setLoadedFrom] = useState<unknown>(null);
  if (limits.data && loadedFrom !== limits.data) {
    // What the service holds becomes the form's starting point (during render: no empty flash).
    setLoadedFrom(limits.data);
    setDraft(shownLimits(limits.data.limits ?? {}));
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
      setSaved(`Saved ${mask.length === 1 ? "one change" : `${mask.length} changes`}: the next copies are checked against them.`);
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
              <TextField
                key={f.key}
                label={f.label}
                name={f.key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}
                hint={f.hint}
                inputMode={f.kind === "text" ? "text" : f.kind === "int" ? "numeric" : "decimal"}
                value={String((draft[f.key] as string | number | undefined) ?? "")}
                onChange={(v) => setDraft({ ...draft, [f.key]: v })}
                error={action.error}
              />
            ),
          )}
          <div className="actions full">
            <button type="submit" className="primary" disabled={action.busy}>
              {action.busy ? "Saving…" : "Save limits"}
            </button>
          </div>
        </form>
      )}
      <FormError error={action.error} fields={LIMIT_FIELDS.map((f) => f.key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))} />
      {saved && <Notice>{saved}</Notice>}
    </section>
  );
}

/** A breaker's reading in its unit: losses in USDT, drawdowns in %, latency in ms. */
function breakerValue(kind: string | undefined, value: string | undefined): string {
  if (!value) return "—";
  if (kind === "BREAKER_KIND_DRAWDOWN" || kind === "BREAKER_KIND_EMERGENCY_STOP") return pct(value);
  if (kind === "BREAKER_KIND_DAILY_LOSS") return money(value);
  if (kind === "BREAKER_KIND_LATENCY") return `${num(value, 0)} ms`;
  return num(value);
}

function TradingState({ userId }: { userId: string }) {
  const state = useLoad(() => get<TradingStateReply>(`/v1/trading-state?scope.userId=${encodeURIComponent(userId)}`), [userId]);
  const breakers = useLoad(() => get<{ breakers?: CircuitBreaker[] }>(`/v1/users/${encodeURIComponent(userId)}/circuit-breakers`), [userId]);
  const [confirming, setConfirming] = useState(false);
  const [resetting, setResetting] = useState(false);
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
    const done = await action.run(() => post("/v1/kill-switch:activate", { scope: { userId }, reason: reason.trim() || "kill switch pulled by the follower" }));
    setConfirming(false);
    if (done) refresh();
  }
  async function reset() {
    const done = await action.run(() => post("/v1/trading-state:reset", { scope: { userId }, comment: "reset by the follower" }));
    setResetting(false);
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
              {info.reason}
              {info.changeTime && ` (${info.changedBy === userId ? "by you, " : ""}${time(info.changeTime)})`}
            </p>
          )}
          <div className="actions">
            {!killed && (
              <button type="button" className="danger" onClick={() => setConfirming(true)}>
                Kill switch: stop all copying
              </button>
            )}
            {(killed || effective !== "TRADING_STATE_ACTIVE" || tripped.length > 0) && (
              <button type="button" onClick={() => setResetting(true)} disabled={action.busy}>
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
      {resetting && (
        <Confirm title="Start copying again?" confirmLabel="Reset to active" busy={action.busy} onConfirm={reset} onCancel={() => setResetting(false)}>
          <p>The kill switch and any tripped breaker are cleared, and your copies start again with the master's next trade.</p>
          {tripped.length > 0 && <p>Tripped now: {tripped.map((b) => enumLabel(b.kind).toLowerCase()).join(", ")}.</p>}
        </Confirm>
      )}
      <h2>Circuit breakers</h2>
      <ErrorBox error={breakers.error} onRetry={breakers.reload} />
      {breakers.loading && !breakers.data && <Loading what="circuit breakers" />}
      {breakers.data && (breakers.data.breakers ?? []).length === 0 && <Empty>No breakers are configured.</Empty>}
      {(breakers.data?.breakers ?? []).length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Circuit breakers table">
          <table>
            <thead>
              <tr>
                <th scope="col">Breaker</th>
                <th scope="col">Status</th>
                <th scope="col">Now</th>
                <th scope="col">Trips at</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {breakers.data!.breakers!.map((b) => (
                <tr key={b.kind}>
                  <td>{enumLabel(b.kind)}</td>
                  <td>
                    <span className={`badge ${b.tripped ? "refused" : "active"}`}>{b.tripped ? `Tripped ${time(b.tripTime)}` : "OK"}</span>
                  </td>
                  <td>{breakerValue(b.kind, b.value)}</td>
                  <td>{breakerValue(b.kind, b.threshold)}</td>
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
  usePageTitle("Risk");
  const { user } = useSession();
  return (
    <section aria-labelledby="risk-title">
      <h1 id="risk-title">Risk</h1>
      <TradingState userId={user.userId} />
      <LimitsForm userId={user.userId} />
    </section>
  );
}
