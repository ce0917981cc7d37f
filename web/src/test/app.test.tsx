import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App } from "../App";
import { ApiError, CSRF_HEADER, describeError, get, post } from "../api";
import { USER_KEY } from "../session";
import { mockGateway } from "./fetch";

const ALICE = { userId: "usr_alice", email: "alice@demo.example.com", roles: ["ROLE_FOLLOWER"] };
const TRADER = {
  traderId: "trd_1",
  userId: "usr_master",
  displayName: "Demo BTC Swing",
  strategyType: "STRATEGY_TYPE_SWING",
  riskLevel: "RISK_LEVEL_MODERATE",
  venues: [{ id: "binance", marketType: "MARKET_TYPE_SPOT" }],
  stats: { roi: "0.1234", capturableRoi: "0.1000", maxDrawdown: "0.05", winRate: "0.6", followerCount: 3, trackRecordDays: 12 },
};
const PREVIEW = { followerEquity: [{ time: "2026-01-01T00:00:00Z", equity: "10000" }, { time: "2026-01-01T00:01:00Z", equity: "10100" }] };

beforeEach(() => {
  window.localStorage.clear();
  window.history.pushState(null, "", "/");
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("the API client", () => {
  it("says a gateway error in words, with its reason and numbers", async () => {
    mockGateway({
      "GET /v1/x": () => [400, { code: 9, message: "the copy is over your limit", details: [{ reason: "RISK_LIMIT_EXCEEDED", domain: "risk.copytrade", metadata: { limit: "50" } }] }],
    });
    const err = await get("/v1/x").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(describeError(err)).toBe("the copy is over your limit (RISK_LIMIT_EXCEEDED; limit: 50)");
  });

  it("sends the CSRF header on writes only (the session cookie does the rest)", async () => {
    const calls = mockGateway({ "GET /v1/r": () => [200, {}], "POST /v1/w": () => [200, {}] });
    await get("/v1/r");
    await post("/v1/w", { a: 1 });
    expect(calls[0].headers[CSRF_HEADER]).toBeUndefined();
    expect(calls[1].headers[CSRF_HEADER]).toBe("1");
    expect(calls[1].body).toEqual({ a: 1 });
  });
});

describe("logging in", () => {
  it("asks the gateway for a cookie session and keeps no token in the page", async () => {
    const calls = mockGateway({
      "POST /v1/auth:login": () => [200, { user: ALICE, expireTime: "2030-01-01T00:00:00Z" }],
      "GET /api/master-traders": () => [200, { traders: [], totalSize: 0 }],
    });
    render(<App />);
    await userEvent.type(screen.getByLabelText("Email"), ALICE.email);
    await userEvent.type(screen.getByLabelText("Password"), "secret password{Enter}");
    await screen.findByRole("heading", { name: "Discover masters" });
    const login = calls.find((c) => c.path === "/v1/auth:login")!;
    expect(login.headers["X-Copytrade-Session"]).toBe("cookie");
    expect(window.localStorage.getItem(USER_KEY)).not.toContain("accessToken");
    expect(await screen.findByText("No master matches these filters.")).toBeInTheDocument();
  });

  it("shows a wrong password as the gateway words it", async () => {
    mockGateway({
      "POST /v1/auth:login": () => [401, { code: 16, message: "wrong email or password", details: [{ reason: "BAD_CREDENTIALS" }] }],
    });
    render(<App />);
    await userEvent.type(screen.getByLabelText("Email"), ALICE.email);
    await userEvent.type(screen.getByLabelText("Password"), "nope nope nope");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("wrong email or password (BAD_CREDENTIALS)");
  });
});

function loggedIn(path: string) {
  window.localStorage.setItem(USER_KEY, JSON.stringify(ALICE));
  window.history.pushState(null, "", path);
}

describe("the leaderboard", () => {
  it("ranks by the chosen metric and pages with the gateway's token", async () => {
    loggedIn("/discover");
    const calls = mockGateway({
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
      "GET /api/master-traders": (c) => [200, { traders: [TRADER], totalSize: 11, nextPageToken: c.path.includes("pageToken=p2") ? "" : "p2" }],
      "POST /v1/master-profiles/trd_1:previewCopy": () => [200, PREVIEW],
    });
    render(<App />);
    const row = await screen.findByRole("row", { name: /Demo BTC Swing/ });
    expect(within(row).getByText("10.00%")).toBeInTheDocument(); // capturable return
    expect(await within(row).findByRole("img", { name: /equity curve of Demo BTC Swing/ })).toBeInTheDocument();
    expect(calls.some((c) => c.path.includes("orderBy=capturable_roi+desc"))).toBe(true);

    await userEvent.selectOptions(screen.getByLabelText("Sort by"), "Max drawdown");
    await userEvent.selectOptions(screen.getByLabelText("Order"), "lowest first");
    await waitFor(() => expect(calls.some((c) => c.path.includes("orderBy=max_drawdown+asc"))).toBe(true));

    await userEvent.click(screen.getByRole("button", { name: "Next page" }));
    await waitFor(() => expect(calls.some((c) => c.path.includes("pageToken=p2"))).toBe(true));
    expect(screen.getByText(/Page 2/)).toBeInTheDocument();
  });
});

describe("the kill switch", () => {
  it("asks for confirmation first, and a cancel sends nothing", async () => {
    loggedIn("/risk");
    const calls = mockGateway({
      "GET /v1/users/usr_alice/risk-limits": () => [200, { limits: { maxDailyLoss: "1000", maxLatencyMs: 3000 }, isDefault: true }],
      "GET /v1/users/usr_alice/circuit-breakers": () => [200, { breakers: [{ kind: "BREAKER_KIND_DAILY_LOSS", tripped: false }] }],
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
      "GET /v1/trading-state": () => [200, { state: { state: "TRADING_STATE_ACTIVE" }, effectiveState: "TRADING_STATE_ACTIVE" }],
      "POST /v1/kill-switch:activate": () => [200, { state: { state: "TRADING_STATE_HALTED", killSwitchActive: true } }],
    });
    render(<App />);
    await userEvent.click(await screen.findByRole("button", { name: /Kill switch/ }));
    const dialog = screen.getByRole("alertdialog", { name: "Pull the kill switch?" });
    expect(within(dialog).getByRole("button", { name: "Cancel" })).toHaveFocus(); // the safe choice first
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(screen.getByRole("button", { name: /Kill switch/ })).toHaveFocus(); // back where it was
    expect(calls.some((c) => c.path === "/v1/kill-switch:activate")).toBe(false);

    await userEvent.click(screen.getByRole("button", { name: /Kill switch/ }));
    await userEvent.type(screen.getByLabelText(/Reason/), "lunch");
    await userEvent.click(screen.getByRole("button", { name: "Stop all copying" }));
    await waitFor(() => expect(calls.find((c) => c.path === "/v1/kill-switch:activate")?.body).toEqual({ scope: { userId: "usr_alice" }, reason: "lunch" }));
  });

  it("saves only the limits that changed, with their update mask", async () => {
    loggedIn("/risk");
    const calls = mockGateway({
      "GET /v1/users/usr_alice/risk-limits": () => [200, { limits: { maxDailyLoss: "1000", maxPositionSize: "5000", maxLatencyMs: 3000, circuitBreakerEnabled: true } }],
      "GET /v1/users/usr_alice/circuit-breakers": () => [200, { breakers: [] }],
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
      "GET /v1/trading-state": () => [200, { effectiveState: "TRADING_STATE_ACTIVE" }],
      "PATCH /v1/users/usr_alice/risk-limits": () => [400, { code: 3, message: "max_position_size must be positive", details: [{ reason: "INVALID_LIMIT" }] }],
    });
    render(<App />);
    const size = await screen.findByLabelText(/Max position size/);
    await userEvent.clear(size);
    await userEvent.type(size, "-5");
    await userEvent.click(screen.getByLabelText("Circuit breakers on"));
    await userEvent.click(screen.getByRole("button", { name: "Save limits" }));
    const saved = await waitFor(() => calls.find((c) => c.method === "PATCH")!);
    expect(saved.path).toContain("updateMask=maxPositionSize,circuitBreakerEnabled");
    expect(saved.body).toEqual({ maxPositionSize: "-5", circuitBreakerEnabled: false });
    expect(await screen.findByText(/max_position_size must be positive \(INVALID_LIMIT\)/)).toBeInTheDocument();
  });
});
