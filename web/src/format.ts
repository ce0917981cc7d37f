// Display helpers: enum names without their prefix, decimals as given, times in the viewer's zone.

const PREFIXES = [
  "FOLLOWER_ORDER_STATUS_", "FEED_OUTAGE_POLICY_", "DISCREPANCY_CAUSE_", "TRADING_STATE_", "SESSION_STATE_",
  "STRATEGY_TYPE_", "DRIFT_POLICY_", "ERROR_STATUS_", "STATS_WINDOW_", "BREAKER_KIND_", "MARKET_TYPE_", "SIZING_MODE_",
  "ACCOUNT_ROLE_", "VENUE_KIND_", "ERROR_TYPE_", "KYC_STATUS_", "RISK_LEVEL_", "ORDER_TYPE_", "SIDE_", "ROLE_",
];

/** "SIZING_MODE_FIXED_NOTIONAL" → "fixed notional". */
export function enumLabel(value: string | undefined): string {
  if (!value) return "—";
  const prefix = PREFIXES.find((p) => value.startsWith(p));
  return (prefix ? value.slice(prefix.length) : value).replace(/_/g, " ").toLowerCase();
}

export function pct(value: string | number | undefined, digits = 2): string {
  if (value === undefined || value === "") return "—";
  const n = Number(value);
  return Number.isFinite(n) ? `${(n * 100).toFixed(digits)}%` : String(value);
}

export function num(value: string | number | undefined, digits = 2): string {
  if (value === undefined || value === "") return "—";
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString(undefined, { maximumFractionDigits: digits }) : String(value);
}

export function time(value: string | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString();
}

export function clock(value: string | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleTimeString();
}

/** Milliseconds from the master's fill to the follower's order being acknowledged (or sent). */
export function copyLatencyMs(order: { masterFillTime?: string; ackTime?: string; sendTime?: string }): number | null {
  const end = order.ackTime ?? order.sendTime;
  if (!order.masterFillTime || !end) return null;
  const ms = new Date(end).getTime() - new Date(order.masterFillTime).getTime();
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : null;
}

export function shortId(id: string | undefined): string {
  if (!id) return "—";
  return id.length > 14 ? `${id.slice(0, 12)}…` : id;
}
