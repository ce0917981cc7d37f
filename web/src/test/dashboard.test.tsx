import { act, cleanup, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../App";
import userEvent from "@testing-library/user-event";
import { USER_KEY } from "../session";
import { mockGateway } from "./fetch";

/** The browser's EventSource, driven by the test: what the gateway's SSE route would send. */
class FakeEventSource {
  static CLOSED = 2;
  static last: FakeEventSource | null = null;
  readyState = 1;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  listeners: Record<string, ((e: unknown) => void)[]> = {};
  constructor(public url: string) {
    FakeEventSource.last = this;
  }
  addEventListener(name: string, f: (e: unknown) => void) {
    (this.listeners[name] ??= []).push(f);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  send(event: object) {
    this.onmessage?.({ data: JSON.stringify({ event }) });
  }
}

/** The feed the page opened. React opens it in an effect that may run just after the first paint. */
async function openedFeed(): Promise<FakeEventSource> {
  return waitFor(() => {
    expect(FakeEventSource.last).not.toBeNull();
    return FakeEventSource.last!;
  });
}

const ALICE = { userId: "usr_alice", email: "alice@demo.example.com", roles: ["ROLE_FOLLOWER"] };
const SESSION = { configId: "cs_1", masterId: "usr_master", state: "SESSION_STATE_ACTIVE" };
const order = { orderId: "o1", configId: "cs_1", symbol: "BTC/USDT", side: "SIDE_BUY", quantity: "0.001", masterFillTime: "2026-01-01T00:00:00.000Z", ackTime: "2026-01-01T00:00:00.080Z" };

beforeEach(() => {
  FakeEventSource.last = null;
  window.localStorage.setItem(USER_KEY, JSON.stringify(ALICE));
  window.history.pushState(null, "", "/dashboard");
  vi.stubGlobal("EventSource", FakeEventSource);
  mockGateway({
    "GET /v1/users/usr_alice/dashboard": () => [200, { sessions: [SESSION], tradingState: { effectiveState: "TRADING_STATE_HALTED", state: { killSwitchActive: true } }, recentOrders: [] }],
    "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
    "GET /api/master-traders": () => [200, { traders: [{ traderId: "trd_1", userId: "usr_master", displayName: "Demo BTC Swing" }] }],
    "POST /api/error-recovery/reconcile-trade": () => [200, { result: { inSync: false, discrepancies: [{ symbol: "BTC/USDT", followerPosition: "0.001", targetPosition: "0.002", difference: "-0.001", cause: "DISCREPANCY_CAUSE_REFUSED_BY_RISK" }] } }],
    "GET /v1/follower-orders": () => [200, { orders: [] }],
    "GET /v1/copy-sessions/cs_1/performance": () => [200, { performance: { currency: "USDT", invested: "64", netPnl: "-0.5", roi: "-0.0078", fees: "0.064", fillCount: 1, positions: [{ symbol: "BTC/USDT", quantity: "0.001", entryPrice: "64000", markPrice: "63500", unrealizedPnl: "-0.5" }] } }],
  });
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("the live dashboard", () => {
  it("shows each copy with its latency and each refusal with its reason as they stream in", async () => {
    render(<App />);
    expect(await screen.findByText(/No copies yet/)).toBeInTheDocument();
    expect(await screen.findByText("Halted · kill switch on")).toBeInTheDocument();
    const source = await openedFeed();
    expect(source.url).toBe("/v1/copy-events:stream");
    act(() => {
      source.onopen?.();
      source.send({ eventId: "e1", occurTime: "2026-01-01T00:00:00.090Z", filled: { order: { ...order, filledQuantity: "0.001" }, price: "64000" } });
      source.send({ eventId: "e2", refused: { order: { ...order, orderId: "o2", quantity: "0" }, refusal: { reason: "TRADING_HALTED", message: "trading is halted" } } });
    });
    const feed = screen.getByRole("log", { name: "Copy feed" });
    const rows = within(feed).getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("Not copied");
    expect(rows[0]).toHaveTextContent(/Trading is halted on your account/);
    expect(rows[0]).not.toHaveTextContent("TRADING_HALTED");
    expect(rows[1]).toHaveTextContent("80 ms");
    expect(rows[1]).toHaveTextContent("Demo BTC Swing"); // the master, by name
    expect(rows[1]).toHaveTextContent("64"); // the copy's value in USDT
    expect(screen.getByTestId("feed-state")).toHaveTextContent("Live");

    // What the copy holds, from the venue's fills, and its difference from the master's, in words.
    const money = await screen.findByRole("article", { name: "What the copy of Demo BTC Swing holds" });
    expect(await within(money).findByTestId("pnl-after-fees")).toHaveTextContent("-0.5000");
    expect(within(money).getByRole("row", { name: /BTC\/USDT 0.001 64,000 63,500/ })).toBeInTheDocument();
    await userEvent.click(within(money).getByRole("button", { name: /Check against the master/ }));
    expect(await within(money).findByText(/you hold 0.001, the master's trades imply 0.002; -0.001 because of refused by your limits/)).toBeInTheDocument();
  });

  it("shows the latency the service measured for a copy, not one of its own", async () => {
    render(<App />);
    await screen.findByText(/No copies yet/);
    const source = await openedFeed();
    act(() => {
      source.onopen?.();
      // The order's timestamps say 80 ms; the service measured 35.2 ms and says so on the event.
      source.send({ eventId: "e1", copyLatencyMs: 35.2, filled: { order: { ...order, filledQuantity: "0.001" }, price: "64000" } });
    });
    const rows = within(screen.getByRole("log", { name: "Copy feed" })).getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("35 ms");
    expect(rows[0]).not.toHaveTextContent("80 ms");
  });

  it("says so in words when the feed stops", async () => {
    render(<App />);
    await screen.findByText(/No copies yet/);
    const source = await openedFeed();
    act(() => {
      source.readyState = FakeEventSource.CLOSED;
      source.listeners.error?.forEach((f) => f({}));
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("The live feed stopped");
  });
});
