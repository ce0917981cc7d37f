// How figures read: money with its currency and sign, fractions as percentages, times in the
// viewer's own locale and zone. Every page formats through these, so a figure reads the same
// everywhere it appears.
import { enumWords } from "./words";

export const enumLabel = enumWords;

const locale = () => (typeof navigator !== "undefined" && navigator.language) || undefined;

function toNumber(value: string | number | undefined | null): number | null {
  if (value === undefined || value === null || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** A fraction as a percentage: "0.0123" → "1.23%". Empty → "—". */
export function pct(value: string | number | undefined | null, digits = 2, signed = false): string {
  const n = toNumber(value);
  if (n === null) return "—";
  const text = (n * 100).toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${signed && n > 0 ? "+" : ""}${text}%`;
}

/** A plain number in the viewer's locale. */
export function num(value: string | number | undefined | null, digits = 2): string {
  const n = toNumber(value);
  return n === null ? "—" : n.toLocaleString(locale(), { maximumFractionDigits: digits });
}

/** An amount of money with its currency: "1,234.50 USDT"; signed shows "+" on gains. */
export function money(value: string | number | undefined | null, currency = "USDT", signed = false, digits = 2): string {
  const n = toNumber(value);
  if (n === null) return "—";
  const text = n.toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${signed && n > 0 ? "+" : ""}${text} ${currency}`.trim();
}

/** "up" for a gain, "down" for a loss: the colour class of a figure. */
export function tone(value: string | number | undefined | null): "up" | "down" | undefined {
  const n = toNumber(value);
  return n === null || n === 0 ? undefined : n > 0 ? "up" : "down";
}

/** A quantity as the venue gave it, without trailing zeros. */
export function qty(value: string | number | undefined | null): string {
  const n = toNumber(value);
  return n === null ? "—" : n.toLocaleString(locale(), { maximumFractionDigits: 8 });
}

export function time(value: string | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "—" : d.toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" });
}

export function day(value: string | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "—" : d.toLocaleDateString(locale(), { dateStyle: "medium" });
}

export function clock(value: string | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "—" : d.toLocaleTimeString(locale());
}

/** A copy event's latency: the one the service measured (CopyEvent.copyLatencyMs) when the event
 * carries it, otherwise computed from its order's timestamps (events from before it was sent). */
export function eventLatencyMs(event: { copyLatencyMs?: number }, order: Parameters<typeof copyLatencyMs>[0]): number | null {
  const measured = event.copyLatencyMs;
  if (typeof measured === "number" && Number.isFinite(measured) && measured > 0) return Math.round(measured);
  return copyLatencyMs(order);
}

/** Milliseconds from the master's fill to the follower's order being acknowledged (or sent). */
export function copyLatencyMs(order: { masterFillTime?: string; ackTime?: string; sendTime?: string }): number | null {
  const end = order.ackTime ?? order.sendTime;
  if (!order.masterFillTime || !end) return null;
  const ms = new Date(end).getTime() - new Date(order.masterFillTime).getTime();
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : null;
}

/** A venue as a person names it: "Binance spot". */
export function venueName(venue: { id?: string; marketType?: string } | undefined, names?: Map<string, string>): string {
  if (!venue?.id) return "—";
  const name = names?.get(venue.id) ?? venue.id.charAt(0).toUpperCase() + venue.id.slice(1);
  return venue.marketType ? `${name} ${enumWords(venue.marketType).toLowerCase()}` : name;
}
