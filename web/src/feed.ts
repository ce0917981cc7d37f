// Copy events as rows for the live feed: what happened, to which trade, how fast, and why not.
import type { CopyEvent, FollowerOrder } from "./api";
import { copyLatencyMs, enumLabel } from "./format";

export interface FeedRow {
  id: string;
  kind: "copied" | "filled" | "refused" | "failed" | "canceled";
  time: string;
  order: FollowerOrder;
  latencyMs: number | null;
  reason: string; // empty unless refused, failed or canceled
}

export function eventRow(event: CopyEvent): FeedRow | null {
  const time = event.occurTime ?? new Date().toISOString();
  if (event.placed) return { id: event.eventId, kind: "copied", time, order: event.placed.order, latencyMs: copyLatencyMs(event.placed.order), reason: "" };
  if (event.filled) return { id: event.eventId, kind: "filled", time, order: event.filled.order, latencyMs: copyLatencyMs(event.filled.order), reason: "" };
  if (event.refused) {
    const r = event.refused.refusal ?? event.refused.order.refusal ?? {};
    return { id: event.eventId, kind: "refused", time, order: event.refused.order, latencyMs: null, reason: [r.reason, r.message].filter(Boolean).join(": ") || "refused" };
  }
  if (event.failed) {
    const f = event.failed;
    return {
      id: event.eventId,
      kind: "failed",
      time,
      order: f.order,
      latencyMs: null,
      reason: `${f.errorKind ?? "error"}: ${f.errorMessage ?? ""}${f.willRetry ? " (will retry)" : ""}`,
    };
  }
  if (event.canceled) {
    // A resting copy canceled: the master canceled or amended its order, the session stopped, trading halted.
    const c = event.canceled;
    return { id: event.eventId, kind: "canceled", time, order: c.order, latencyMs: null, reason: c.reason || c.order.cancelReason || "canceled" };
  }
  return null;
}

/** A recorded order (from the dashboard's recent orders) as a feed row. */
export function orderRow(order: FollowerOrder): FeedRow {
  const status = order.status ?? "";
  const refused = status === "FOLLOWER_ORDER_STATUS_REFUSED";
  const failed = status === "FOLLOWER_ORDER_STATUS_FAILED";
  const r = order.refusal ?? {};
  return {
    id: `${order.orderId}:recorded`,
    kind: refused ? "refused" : failed ? "failed" : status === "FOLLOWER_ORDER_STATUS_FILLED" ? "filled" : "copied",
    time: order.ackTime ?? order.riskDecideTime ?? order.receiveTime ?? order.masterFillTime ?? "",
    order,
    latencyMs: refused || failed ? null : copyLatencyMs(order),
    reason: refused ? [r.reason, r.message].filter(Boolean).join(": ") : failed ? `${order.errorKind ?? ""}: ${order.errorMessage ?? ""}` : "",
  };
}

export function describeTrade(order: FollowerOrder): string {
  return `${enumLabel(order.side)} ${order.filledQuantity && order.filledQuantity !== "0" ? order.filledQuantity : order.quantity ?? ""} ${order.symbol ?? ""}`.trim();
}
