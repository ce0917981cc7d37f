import { describe, expect, it } from "vitest";
import { eventRow } from "../feed";
import { computePnl } from "../pnl";
import { parseSymbolMap } from "../pages/Following";

const order = { orderId: "o1", configId: "cs_1", symbol: "BTC/USDT", side: "SIDE_BUY", quantity: "0.001", masterFillTime: "2026-01-01T00:00:00.000Z", sendTime: "2026-01-01T00:00:00.050Z", ackTime: "2026-01-01T00:00:00.080Z" };

describe("the copy feed", () => {
  it("shows each copy with its latency from the master's fill to the venue's ack", () => {
    const row = eventRow({ eventId: "e1", placed: { order } })!;
    expect(row.kind).toBe("copied");
    expect(row.latencyMs).toBe(80);
  });

  it("shows each refusal with its reason in words", () => {
    const row = eventRow({ eventId: "e2", refused: { order, refusal: { reason: "TRADING_HALTED", message: "trading is halted" } } })!;
    expect(row.kind).toBe("refused");
    expect(row.reason).toBe("TRADING_HALTED: trading is halted");
    expect(row.latencyMs).toBeNull();
  });

  it("shows a canceled resting copy with why it was canceled", () => {
    const row = eventRow({ eventId: "e3", canceled: { order: { ...order, masterOrderId: "acc:42" }, reason: "the master canceled its order" } })!;
    expect(row.kind).toBe("canceled");
    expect(row.reason).toBe("the master canceled its order");
  });
});

describe("follower settings and PnL", () => {
  it("reads a symbol map a person types", () => {
    expect(parseSymbolMap("BTC/USDT => BTC/USDT:USDT\n ETH/USDT=ETH/USDT:USDT, junk")).toEqual([
      { masterSymbol: "BTC/USDT", followerSymbol: "BTC/USDT:USDT" },
      { masterSymbol: "ETH/USDT", followerSymbol: "ETH/USDT:USDT" },
    ]);
  });

  it("realizes PnL at average cost when a position is reduced", () => {
    const fill = (side: string, qty: string, price: string, t: number) => ({ ...order, orderId: `o${t}`, side, filledQuantity: qty, averageFillPrice: price, ackTime: `2026-01-01T00:00:0${t}Z` });
    const { perSession, total } = computePnl([fill("SIDE_BUY", "1", "100", 1), fill("SIDE_BUY", "1", "110", 2), fill("SIDE_SELL", "1", "120", 3)]);
    const s = perSession.get("cs_1")!;
    expect(s.realized).toBeCloseTo(15); // sold 1 at 120 against an average cost of 105
    expect(s.position).toBeCloseTo(1);
    expect(s.unrealized).toBeCloseTo(15); // the one left, at the last price 120
    expect(total.map((p) => p.value)).toEqual([0, 0, 15]);
  });
});
