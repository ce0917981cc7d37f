import { describe, expect, it } from "vitest";
import { describeTrade, eventRow, tradePrice } from "../feed";
import { parseSymbolMap } from "../pages/Following";
import { sumCurves } from "../pages/Analytics";
import { changedLimits } from "../pages/Risk";
import { describeError, ApiError } from "../api";
import { enumWords, reasonWords } from "../words";

const order = { orderId: "o1", configId: "cs_1", symbol: "BTC/USDT", side: "SIDE_BUY", quantity: "0.001", masterFillTime: "2026-01-01T00:00:00.000Z", sendTime: "2026-01-01T00:00:00.050Z", ackTime: "2026-01-01T00:00:00.080Z" };

describe("the copy feed", () => {
  it("shows each copy with its latency from the master's fill to the venue's ack, and its price and value", () => {
    const row = eventRow({ eventId: "e1", filled: { order: { ...order, filledQuantity: "0.001" }, price: "64000" } })!;
    expect(row.kind).toBe("filled");
    expect(row.latencyMs).toBe(80);
    expect(describeTrade(row)).toBe("Buy 0.001 BTC/USDT");
    expect(tradePrice(row)).toEqual({ price: 64000, notional: 64 });
  });

  it("shows the latency the service measured when the event carries it, else the order's own", () => {
    // The server's copyLatencyMs (ack minus master fill, in ms, fractional) comes first ...
    const filled = eventRow({ eventId: "e6", copyLatencyMs: 42.4, filled: { order: { ...order, filledQuantity: "0.001" }, price: "64000" } })!;
    expect(filled.latencyMs).toBe(42);
    expect(eventRow({ eventId: "e7", copyLatencyMs: 12.6, placed: { order } })!.latencyMs).toBe(13);
    // ... an older event without it (or with 0: not known yet) falls back to the order's timestamps.
    expect(eventRow({ eventId: "e8", placed: { order } })!.latencyMs).toBe(80);
    expect(eventRow({ eventId: "e9", copyLatencyMs: 0, placed: { order } })!.latencyMs).toBe(80);
    // A copy not made has no latency, whatever the event says.
    expect(eventRow({ eventId: "e10", copyLatencyMs: 5, refused: { order, refusal: { reason: "TRADING_HALTED" } } })!.latencyMs).toBeNull();
  });

  it("says why a copy was not made in words, with the numbers, never the code", () => {
    const row = eventRow({ eventId: "e2", refused: { order: { ...order, quantity: "0" }, refusal: { reason: "POSITION_LIMIT_EXCEEDED", message: "x", metadata: { limit: "50", requested: "64" } } } })!;
    expect(row.kind).toBe("refused");
    expect(row.reason).toBe("It would have gone past your maximum position size (64 asked, limit 50)");
    expect(row.reason).not.toContain("POSITION_LIMIT");
    expect(describeTrade(row)).toBe("Buy BTC/USDT"); // a refused copy has no quantity of its own: no "0"
  });

  it("says when a limit made a copy smaller, from what to what and why", () => {
    const reduced = { ...order, quantity: "0.01562", filledQuantity: "0.01562", reduction: { reason: "LEVERAGE_LIMIT_EXCEEDED", message: "x", metadata: { limit: "0.02", sized_quantity: "0.05", approved_quantity: "0.01562" } } };
    const row = eventRow({ eventId: "e4", filled: { order: reduced, price: "64000" } })!;
    expect(row.kind).toBe("filled");
    expect(row.reason).toMatch(/^Reduced from 0\.05 to 0\.01562: .+ \(limit 0\.02\)$/);
    expect(row.reason).not.toContain("LEVERAGE_LIMIT");
    expect(eventRow({ eventId: "e5", filled: { order: { ...order, filledQuantity: "0.001" }, price: "64000" } })!.reason).toBe("");
  });

  it("shows a canceled resting copy with why it was canceled", () => {
    const row = eventRow({ eventId: "e3", canceled: { order: { ...order, masterOrderId: "acc:42" }, reason: "the master canceled its order" } })!;
    expect(row.kind).toBe("canceled");
    expect(row.reason).toBe("the master canceled its order");
  });
});

describe("trader language", () => {
  it("names enums and reasons in words", () => {
    expect(enumWords("SESSION_STATE_ACTIVE")).toBe("Copying");
    expect(enumWords("RISK_LEVEL_AGGRESSIVE")).toBe("High risk");
    expect(enumWords("SOMETHING_NEW_VALUE")).toBe("Something new value");
    expect(reasonWords("TRADING_HALTED")).toMatch(/^trading is halted/);
  });

  it("puts an error's field names into words and leaves the codes out", () => {
    const err = new ApiError(400, "legal_name is required (at most 200 characters)", "INVALID_KYC", { field: "legal_name" });
    expect(describeError(err)).toBe("Legal name is required (at most 200 characters)");
    expect(describeError(new ApiError(401, "bad", "INVALID_CREDENTIALS"))).toBe("Wrong email or password");
    expect(describeError(new ApiError(409, "this account already copies that master", "SESSION_EXISTS", { config_id: "cs_1" }))).toBe("This account already copies this master");
  });
});

describe("figures", () => {
  it("adds PnL curves up at every moment, each at its latest value", () => {
    const a = [{ time: "2026-01-01T00:01:00Z", value: 1 }, { time: "2026-01-01T00:03:00Z", value: 3 }];
    const b = [{ time: "2026-01-01T00:02:00Z", value: -2 }];
    expect(sumCurves([a, b]).map((p) => p.value)).toEqual([1, -1, 1]);
  });

  it("shows percent limits as percentages and saves them as fractions", () => {
    const { mask, body } = changedLimits({ maxDrawdown: "0.15", maxDailyLoss: "1000" }, { maxDrawdown: "20", maxDailyLoss: "1000" });
    expect(mask).toEqual(["maxDrawdown"]);
    expect(body).toEqual({ maxDrawdown: "0.2" });
    expect(changedLimits({ maxDrawdown: "0.15" }, { maxDrawdown: "15" }).mask).toEqual([]);
  });
});

describe("follower settings", () => {
  it("reads a symbol map a person types", () => {
    expect(parseSymbolMap("BTC/USDT => BTC/USDT:USDT\n ETH/USDT=ETH/USDT:USDT, junk")).toEqual([
      { masterSymbol: "BTC/USDT", followerSymbol: "BTC/USDT:USDT" },
      { masterSymbol: "ETH/USDT", followerSymbol: "ETH/USDT:USDT" },
    ]);
  });
});
