// Copy events as rows for the live feed: what happened, to which trade, how fast, and why not.
import type { CopyEvent, FollowerOrder, Refusal } from "./api";
import { copyLatencyMs, enumLabel, eventLatencyMs, qty } from "./format";
import { reasonWords } from "./words";

export interface FeedRow {
  id: string;
  kind: "copied" | "filled" | "refused" | "failed" | "canceled";
  time: string;
  order: FollowerOrder;
  latencyMs: number | null;
  reason: string; // in words; empty unless refused, failed, canceled or reduced by a limit
}

export const KIND_WORDS: Record<FeedRow["kind"], string> = {
  copied: "Sent",
  filled: "Copied",
  refused: "Not copied",
  failed: "Failed",
  canceled: "Canceled",
};

/** Why a copy was not made, in words, with the numbers the service gave. */
export function refusalWords(r: Refusal | undefined): string {
  if (!r?.reason) return r?.message ?? "";
  const words = reasonWords(r.reason);
  const m = r.metadata ?? {};
  const numbers = m.limit && m.requested ? ` (${m.requested} asked, limit ${m.limit})` : m.limit ? ` (limit ${m.limit})` : "";
  return `${words.charAt(0).toUpperCase()}${words.slice(1)}${numbers}`;
}

/** A copy made smaller than sized, by which limit: "Reduced from 0.05 to 0.0156: …". */
export function reductionWords(o: FollowerOrder): string {
  const r = o.reduction;
  if (!r?.reason) return "";
  const m = r.metadata ?? {};
  const sizes = m.sized_quantity && m.approved_quantity ? ` from ${qty(m.sized_quantity)} to ${qty(m.approved_quantity)}` : "";
  const why = reasonWords(r.reason);
  return `Reduced${sizes}: ${why}${m.limit ? ` (limit ${m.limit})` : ""}`;
}

function failureWords(kind: string | undefined, willRetry?: boolean): string {
  const words = reasonWords(kind || "PLATFORM");
  return `${words.charAt(0).toUpperCase()}${words.slice(1)}${willRetry ? "; it will be tried again" : ""}`;
}

export function eventRow(event: CopyEvent): FeedRow | null {
  const time = event.occurTime ?? new Date().toISOString();
  if (event.placed) return { id: event.eventId, kind: "copied", time, order: event.placed.order, latencyMs: eventLatencyMs(event, event.placed.order), reason: reductionWords(event.placed.order) };
  if (event.filled) {
    const order = { ...event.filled.order, averageFillPrice: event.filled.order.averageFillPrice || event.filled.price };
    return { id: event.eventId, kind: "filled", time, order, latencyMs: eventLatencyMs(event, order), reason: reductionWords(order) };
  }
  if (event.refused) {
    return { id: event.eventId, kind: "refused", time, order: event.refused.order, latencyMs: null, reason: refusalWords(event.refused.refusal ?? event.refused.order.refusal) };
  }
  if (event.failed) {
    const f = event.failed;
    return { id: event.eventId, kind: "failed", time, order: f.order, latencyMs: null, reason: failureWords(f.errorKind, f.willRetry) };
  }
  if (event.canceled) {
    // A resting copy canceled: the master canceled or amended its order, the copy stopped, trading halted.
    const c = event.canceled;
    return { id: event.eventId, kind: "canceled", time, order: c.order, latencyMs: null, reason: c.reason || c.order.cancelReason || "Canceled" };
  }
  return null;
}

/** A recorded order (from the dashboard's recent orders) as a feed row. */
export function orderRow(order: FollowerOrder): FeedRow {
  const status = order.status ?? "";
  const refused = status === "FOLLOWER_ORDER_STATUS_REFUSED";
  const failed = status === "FOLLOWER_ORDER_STATUS_FAILED";
  return {
    id: `${order.orderId}:recorded`,
    kind: refused ? "refused" : failed ? "failed" : status === "FOLLOWER_ORDER_STATUS_FILLED" ? "filled" : "copied",
    time: order.ackTime ?? order.riskDecideTime ?? order.receiveTime ?? order.masterFillTime ?? "",
    order,
    latencyMs: refused || failed ? null : copyLatencyMs(order),
    reason: refused ? refusalWords(order.refusal) : failed ? failureWords(order.errorKind) : reductionWords(order),
  };
}

/** "Buy 0.001 BTC/USDT"; a copy that was not made has no quantity of its own. */
export function describeTrade(row: FeedRow): string {
  const o = row.order;
  const amount = Number(o.filledQuantity) > 0 ? o.filledQuantity : Number(o.quantity) > 0 ? o.quantity : "";
  return [enumLabel(o.side), amount ? qty(amount) : "", o.symbol ?? ""].filter(Boolean).join(" ");
}

/** The price the copy got (or asked), and its value in the quote currency. */
export function tradePrice(row: FeedRow): { price: number | null; notional: number | null } {
  const o = row.order;
  const price = Number(o.averageFillPrice || o.price || 0) || null;
  const amount = Number(o.filledQuantity) > 0 ? Number(o.filledQuantity) : Number(o.quantity) || 0;
  return { price, notional: price && amount ? price * amount : null };
}
