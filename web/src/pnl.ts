// Profit and loss from the follower's filled copies: average cost per (session, symbol), realized
// on the part of a fill that reduces a position, unrealized at the last fill price seen.
// Display arithmetic only (the services keep money as decimals); venue fees are not included.
import type { FollowerOrder } from "./api";

export interface PnlPoint {
  time: string;
  value: number;
}

export interface PnlSummary {
  key: string; // the session's config id
  trades: number;
  volume: number;
  realized: number;
  unrealized: number;
  position: number;
  curve: PnlPoint[]; // cumulative realized over time
}

export function computePnl(orders: FollowerOrder[]): { perSession: Map<string, PnlSummary>; total: PnlPoint[] } {
  const filled = orders
    .filter((o) => Number(o.filledQuantity ?? 0) > 0 && Number(o.averageFillPrice ?? 0) > 0)
    .sort((a, b) => (a.ackTime ?? a.masterFillTime ?? "").localeCompare(b.ackTime ?? b.masterFillTime ?? ""));
  const perSession = new Map<string, PnlSummary>();
  const book = new Map<string, { qty: number; cost: number }>(); // per session+symbol: signed qty, average price
  const last = new Map<string, number>();
  const total: PnlPoint[] = [];
  let cumulative = 0;
  for (const o of filled) {
    const key = o.configId ?? "";
    const qty = Number(o.filledQuantity) * (o.side === "SIDE_SELL" ? -1 : 1);
    const price = Number(o.averageFillPrice);
    const at = o.ackTime ?? o.masterFillTime ?? "";
    const summary = perSession.get(key) ?? { key, trades: 0, volume: 0, realized: 0, unrealized: 0, position: 0, curve: [] };
    const posKey = `${key}|${o.symbol}`;
    const pos = book.get(posKey) ?? { qty: 0, cost: 0 };
    let realized = 0;
    if (pos.qty !== 0 && Math.sign(pos.qty) !== Math.sign(qty)) {
      const closing = Math.min(Math.abs(qty), Math.abs(pos.qty));
      realized = closing * (price - pos.cost) * Math.sign(pos.qty);
      const remaining = qty + pos.qty;
      if (Math.sign(remaining) === Math.sign(pos.qty) || remaining === 0) {
        pos.qty = remaining;
      } else {
        pos.qty = remaining;
        pos.cost = price; // flipped: the rest opens at this price
      }
    } else {
      const newQty = pos.qty + qty;
      pos.cost = newQty === 0 ? 0 : (pos.cost * pos.qty + price * qty) / newQty;
      pos.qty = newQty;
    }
    if (Math.abs(pos.qty) < 1e-12) pos.qty = 0;
    book.set(posKey, pos);
    last.set(o.symbol ?? "", price);
    summary.trades += 1;
    summary.volume += Math.abs(qty) * price;
    summary.realized += realized;
    summary.curve.push({ time: at, value: summary.realized });
    perSession.set(key, summary);
    cumulative += realized;
    total.push({ time: at, value: cumulative });
  }
  for (const [posKey, pos] of book) {
    const [key, symbol] = posKey.split("|");
    const summary = perSession.get(key)!;
    summary.position += pos.qty;
    summary.unrealized += pos.qty * ((last.get(symbol) ?? pos.cost) - pos.cost);
  }
  return { perSession, total };
}
