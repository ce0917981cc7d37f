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
  stats: { roi: "0.1234", capturableRoi: "0.1000", maxDrawdown: "0.05", winRate: "0.6", followerCount: 3, trackRecordDays: 12, assetsUnderCopy: "7500", copiersPnl: "321.5" },
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
    expect(describeError(err)).toBe("The copy is over your limit");
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
      "POST /v1/auth:login": () => [401, { code: 16, message: "invalid credentials", details: [{ reason: "INVALID_CREDENTIALS" }] }],
    });
    render(<App />);
    await userEvent.type(screen.getByLabelText("Email"), ALICE.email);
    await userEvent.type(screen.getByLabelText("Password"), "nope nope nope");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong email or password");
    expect(screen.getByRole("alert")).not.toHaveTextContent("INVALID_CREDENTIALS");
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
    expect(within(row).getByText("+12.34%")).toBeInTheDocument(); // return over the period
    expect(within(row).getByText("+321.50")).toBeInTheDocument(); // copiers' PnL
    expect(within(row).getByText("7,500.00")).toBeInTheDocument(); // AUM
    expect(await within(row).findByRole("img", { name: /Equity of a 1× copy of Demo BTC Swing/ })).toBeInTheDocument();
    expect(within(row).getByRole("button", { name: "Copy Demo BTC Swing" })).toBeInTheDocument();
    expect(calls.some((c) => c.path.includes("orderBy=capturable_roi+desc"))).toBe(true);

    await userEvent.selectOptions(screen.getByLabelText("Sort by"), "Max drawdown");
    await userEvent.selectOptions(screen.getByLabelText("Order"), "Lowest first");
    await waitFor(() => expect(calls.some((c) => c.path.includes("orderBy=max_drawdown+asc"))).toBe(true));

    await userEvent.click(screen.getByRole("button", { name: "Next page" }));
    await waitFor(() => expect(calls.some((c) => c.path.includes("pageToken=p2"))).toBe(true));
    expect(screen.getByText(/Page 2/)).toBeInTheDocument();
  });
});

describe("the Copy button", () => {
  it("opens the master's profile at its follow form", async () => {
    loggedIn("/discover");
    mockGateway({
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
      "GET /api/master-traders/trd_1": () => [200, { profile: TRADER }],
      "GET /api/master-traders": () => [200, { traders: [TRADER], totalSize: 1 }],
      "POST /v1/master-profiles/trd_1:previewCopy": () => [200, PREVIEW],
      "GET /v1/master-profiles/trd_1": () => [200, { stats: TRADER.stats, positions: [], trades: [] }],
      "GET /v1/venue-accounts": () => [200, { accounts: [] }],
      "GET /v1/copy-sessions": () => [200, { sessions: [] }],
      "GET /v1/supported-venues": () => [200, { venues: [] }],
    });
    render(<App />);
    await userEvent.click(await screen.findByRole("button", { name: "Copy Demo BTC Swing" }));
    expect(await screen.findByRole("heading", { name: "Demo BTC Swing", level: 1 })).toBeInTheDocument();
    expect(window.location.pathname + window.location.hash).toBe("/masters/trd_1#follow");
    expect(await screen.findByRole("heading", { name: "Copy Demo BTC Swing", level: 2 })).toBeInTheDocument();
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

  it("saves only the limits that changed, and shows an error at its field in words", async () => {
    loggedIn("/risk");
    const calls = mockGateway({
      "GET /v1/users/usr_alice/risk-limits": () => [200, { limits: { maxDailyLoss: "1000", maxPositionSize: "5000", maxLatencyMs: 3000, circuitBreakerEnabled: true } }],
      "GET /v1/users/usr_alice/circuit-breakers": () => [200, { breakers: [] }],
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
      "GET /v1/trading-state": () => [200, { effectiveState: "TRADING_STATE_ACTIVE" }],
      "PATCH /v1/users/usr_alice/risk-limits": () => [400, { code: 3, message: "max_position_size must be positive", details: [{ reason: "INVALID_LIMIT", metadata: { field: "max_position_size" } }] }],
    });
    render(<App />);
    const size = await screen.findByLabelText("Maximum position (USDT)");
    await userEvent.clear(size);
    await userEvent.type(size, "-5");
    await userEvent.click(screen.getByLabelText(/Circuit breakers/));
    await userEvent.click(screen.getByRole("button", { name: "Save limits" }));
    const saved = await waitFor(() => calls.find((c) => c.method === "PATCH")!);
    expect(saved.path).toContain("updateMask=maxPositionSize,circuitBreakerEnabled");
    expect(saved.body).toEqual({ maxPositionSize: "-5", circuitBreakerEnabled: false });
    await waitFor(() => expect(size).toHaveAttribute("aria-invalid", "true"));
    expect(size).toHaveAccessibleDescription(/Max position size must be positive/);
  });

  it("asks before resetting trading", async () => {
    loggedIn("/risk");
    const calls = mockGateway({
      "GET /v1/users/usr_alice/risk-limits": () => [200, { limits: {} }],
      "GET /v1/users/usr_alice/circuit-breakers": () => [200, { breakers: [] }],
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
      "GET /v1/trading-state": () => [200, { state: { state: "TRADING_STATE_HALTED", killSwitchActive: true }, effectiveState: "TRADING_STATE_HALTED" }],
      "POST /v1/trading-state:reset": () => [200, {}],
    });
    render(<App />);
    await userEvent.click(await screen.findByRole("button", { name: "Reset to active" }));
    expect(calls.some((c) => c.path === "/v1/trading-state:reset")).toBe(false);
    const dialog = screen.getByRole("alertdialog", { name: "Start copying again?" });
    await userEvent.click(within(dialog).getByRole("button", { name: "Reset to active" }));
    await waitFor(() => expect(calls.some((c) => c.path === "/v1/trading-state:reset")).toBe(true));
  });
});

describe("getting started", () => {
  it("signs up, then sends the identity details and shows that they are being reviewed", async () => {
    window.history.pushState(null, "", "/signup");
    let kyc: object = { status: "KYC_STATUS_NOT_SUBMITTED" };
    const calls = mockGateway({
      "POST /v1/users": () => [200, { user: { userId: "usr_new", email: "new@example.com" } }],
      "POST /v1/auth:login": () => [200, { user: { userId: "usr_new", email: "new@example.com", displayName: "Nia" } }],
      "GET /v1/users/usr_new/kyc": () => [200, { kyc }],
      "POST /v1/users/usr_new/kyc": (c) => {
        kyc = { status: "KYC_STATUS_PENDING", submitTime: "2026-01-01T10:00:00Z", ...(c.body as object) };
        return [200, { kyc }];
      },
      "GET /v1/users/usr_new/copy-eligibility": () => [200, { eligible: false, refusal: { reason: "KYC_NOT_APPROVED" } }],
      "GET /v1/venue-accounts": () => [200, { accounts: [] }],
      "GET /v1/users/usr_new/credentials": () => [200, { credentials: [] }],
      "GET /v1/supported-venues": () => [200, { venues: [{ id: "binance", displayName: "Binance", kind: "VENUE_KIND_CCXT", marketTypes: ["MARKET_TYPE_SPOT"] }] }],
    });
    render(<App />);
    await userEvent.type(screen.getByLabelText("Your name"), "Nia");
    await userEvent.type(screen.getByLabelText("Email"), "new@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "a long enough password");
    await userEvent.type(screen.getByLabelText("Password again"), "a long enough password");
    await userEvent.click(screen.getByRole("button", { name: "Create account" }));
    await screen.findByRole("heading", { name: "Your account", level: 1 });
    expect(document.title).toBe("Your account · copytrade");
    expect(calls.find((c) => c.path === "/v1/users")?.body).toEqual({ email: "new@example.com", password: "a long enough password", displayName: "Nia" });

    const form = await screen.findByRole("form", { name: "Verify your identity" });
    await userEvent.type(within(form).getByLabelText(/Legal name/), "Nia Newcomer");
    await userEvent.selectOptions(within(form).getByLabelText("Country of residence"), "DE");
    await userEvent.type(within(form).getByLabelText("Document number"), "X123");
    await userEvent.click(within(form).getByRole("button", { name: "Send for verification" }));
    expect(await screen.findByTestId("kyc-status")).toHaveTextContent("Being reviewed");
    expect(calls.find((c) => c.method === "POST" && c.path === "/v1/users/usr_new/kyc")?.body).toEqual({ legalName: "Nia Newcomer", country: "DE", documentType: "passport", documentNumber: "X123" });
    // The disclosure waits for the identity; the venue list is the supported one.
    expect(screen.getByText(/once your identity is verified/)).toBeInTheDocument();
    expect(within(screen.getByRole("form", { name: "Connect a venue" })).getByLabelText("Venue")).toHaveDisplayValue("Binance");
  });

  it("accepts the risk disclosure with the version the service asks for", async () => {
    loggedIn("/account");
    const calls = mockGateway({
      "GET /v1/users/usr_alice/kyc": () => [200, { kyc: { status: "KYC_STATUS_APPROVED" } }],
      "GET /v1/users/usr_alice/copy-eligibility": () => [200, { eligible: false, refusal: { reason: "CONSENT_MISSING", metadata: { document: "risk_disclosure", version: "2026-01" } } }],
      "POST /v1/users/usr_alice/consents": () => [200, {}],
      "GET /v1/users/usr_alice/credentials": () => [200, { credentials: [] }],
      "GET /v1/venue-accounts": () => [200, { accounts: [] }],
      "GET /v1/supported-venues": () => [200, { venues: [] }],
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
    });
    render(<App />);
    const accept = await screen.findByRole("button", { name: "Accept version 2026-01" });
    expect(accept).toBeDisabled(); // read it first
    expect(screen.getByRole("article", { name: "Risk disclosure, version 2026-01" })).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/I have read the risk disclosure/));
    await userEvent.click(accept);
    await waitFor(() => expect(calls.find((c) => c.path === "/v1/users/usr_alice/consents")?.body).toEqual({ document: "risk_disclosure", version: "2026-01" }));
  });
});

const ACCOUNT = { accountId: "acc_f1", role: "ACCOUNT_ROLE_FOLLOWER", label: "My Binance", venue: { id: "binance", marketType: "MARKET_TYPE_SPOT" } };

describe("following a master", () => {
  function profileRoutes(sessions: object[] = []) {
    return {
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }] as [number, unknown],
      "GET /api/master-traders/trd_1": () => [200, { profile: { ...TRADER, masterAccountIds: ["acc_m1"] } }] as [number, unknown],
      "GET /api/master-traders": () => [200, { traders: [TRADER] }] as [number, unknown],
      "POST /v1/master-profiles/trd_1:previewCopy": () => [200, PREVIEW] as [number, unknown],
      "GET /v1/master-profiles/trd_1/stats": () => [200, { stats: TRADER.stats }] as [number, unknown],
      "GET /v1/master-profiles/trd_1/activity": () => [200, { positions: [{ symbol: "BTC/USDT", quantity: "0.002", entryPrice: "64000", openTime: "2026-01-01T00:00:00Z" }], trades: [{ tradeId: "t1", symbol: "BTC/USDT", side: "SIDE_BUY", quantity: "0.002", price: "64000", time: "2026-01-01T00:00:00Z" }], totalTrades: "1" }] as [number, unknown],
      "GET /v1/venue-accounts": () => [200, { accounts: [ACCOUNT] }] as [number, unknown],
      "GET /v1/copy-sessions": () => [200, { sessions }] as [number, unknown],
      "GET /v1/supported-venues": () => [200, { venues: [{ id: "binance", displayName: "Binance" }] }] as [number, unknown],
    };
  }

  it("reviews the copy and needs the risk agreement before it starts", async () => {
    loggedIn("/masters/trd_1");
    const calls = mockGateway({ ...profileRoutes(), "POST /api/master-traders/follow": () => [200, { session: { configId: "cs_9", state: "SESSION_STATE_ACTIVE" } }] });
    render(<App />);
    await screen.findByRole("heading", { name: "Demo BTC Swing", level: 1 });
    expect(await screen.findByRole("region", { name: "The master's open positions" })).toHaveTextContent("Long");
    const form = await screen.findByRole("form", { name: "Copy this master" });
    const multiplier = within(form).getByLabelText("Multiplier");
    await userEvent.clear(multiplier);
    await userEvent.type(multiplier, "0.25");
    await userEvent.click(within(form).getByRole("button", { name: "Review" }));
    const review = screen.getByRole("group", { name: "Review your copy" });
    expect(review).toHaveTextContent("0.25 × the master's quantity");
    expect(review).toHaveTextContent("My Binance (Binance spot)");
    const start = within(review).getByRole("button", { name: "Start copying" });
    expect(start).toBeDisabled();
    expect(calls.some((c) => c.path === "/api/master-traders/follow")).toBe(false);
    await userEvent.click(within(review).getByLabelText(/I understand the risks/));
    await userEvent.click(start);
    expect(await screen.findByText(/You are copying Demo BTC Swing now/)).toBeInTheDocument();
    expect(calls.find((c) => c.path === "/api/master-traders/follow")?.body).toMatchObject({ traderId: "trd_1", followerAccountId: "acc_f1", settings: { sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "0.25" } });
    expect(screen.queryByRole("form", { name: "Copy this master" })).toBeNull(); // not armed again
  });

  it("joins the master's open positions only when asked, and says so in the review", async () => {
    loggedIn("/masters/trd_1");
    const calls = mockGateway({ ...profileRoutes(), "POST /api/master-traders/follow": () => [200, { session: { configId: "cs_9", state: "SESSION_STATE_ACTIVE" } }] });
    render(<App />);
    const form = await screen.findByRole("form", { name: "Copy this master" });
    const join = within(form).getByLabelText("Join the master's open positions now");
    expect(join).not.toBeChecked();
    expect(join).toHaveAccessibleDescription(/your share of what the master holds today/);
    await userEvent.click(join);
    await userEvent.click(within(form).getByRole("button", { name: "Review" }));
    const review = screen.getByRole("group", { name: "Review your copy" });
    expect(review).toHaveTextContent("First your share of the master's open positions is opened at market");
    await userEvent.click(within(review).getByLabelText(/I understand the risks/));
    await userEvent.click(within(review).getByRole("button", { name: "Start copying" }));
    await screen.findByText(/You are copying Demo BTC Swing now/);
    expect(calls.find((c) => c.path === "/api/master-traders/follow")?.body).toMatchObject({ settings: { copyOpenPositions: true } });
  });

  it("says not enough history instead of a blank, and how the copy return was measured", async () => {
    loggedIn("/masters/trd_1");
    const short = { ...TRADER.stats, sharpeRatio: "", notEnoughHistory: [{ field: "sharpe_ratio", observation: "daily returns", required: 7, observed: 4 }],
      capturableBasis: "CAPTURABLE_BASIS_MEASURED", capturableCopyCount: "8", capturableDelayMs: "2500", capturableSlippageBps: "40.00" };
    mockGateway({ ...profileRoutes(), "GET /v1/master-profiles/trd_1/stats": () => [200, { stats: short }] as [number, unknown] });
    render(<App />);
    const table = await screen.findByRole("region", { name: "Results by period, table" });
    const sharpe = within(table).getByRole("row", { name: /Sharpe/ });
    expect(within(sharpe).getAllByText("not enough history")[0]).toHaveAttribute("title", "needs 7 daily returns, has 4");
    expect(within(table).getAllByTitle("measured on 8 copies: 2500 ms delay, 40.00 bp slippage").length).toBe(4);
  });

  it("says so when the account already copies the master, instead of failing later", async () => {
    loggedIn("/masters/trd_1");
    mockGateway(profileRoutes([{ configId: "cs_1", masterAccountId: "acc_m1", followerAccountId: "acc_f1", state: "SESSION_STATE_ACTIVE" }]));
    render(<App />);
    expect(await screen.findByText(/This account already copies Demo BTC Swing/)).toBeInTheDocument();
    expect(within(screen.getByRole("form", { name: "Copy this master" })).getByRole("button", { name: "Review" })).toBeDisabled();
  });
});

describe("stopping a copy", () => {
  it("asks whether to close or keep the positions, and sends the choice", async () => {
    loggedIn("/copies");
    const calls = mockGateway({
      "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
      "GET /v1/copy-sessions/cs_1/performance": () => [200, { performance: { currency: "USDT", invested: "128", netPnl: "1.25", roi: "0.0098", fees: "0.128", fillCount: 2 } }],
      "GET /v1/copy-sessions/cs_1": () => [200, { session: { configId: "cs_1" }, stats: {} }],
      "GET /v1/copy-sessions": () => [200, { sessions: [{ configId: "cs_1", masterId: "usr_master", followerAccountId: "acc_f1", state: "SESSION_STATE_ACTIVE", settings: { sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "0.5" } }] }],
      "GET /v1/venue-accounts": () => [200, { accounts: [ACCOUNT] }],
      "GET /v1/supported-venues": () => [200, { venues: [] }],
      "GET /api/master-traders": () => [200, { traders: [TRADER] }],
      "POST /v1/copy-sessions/cs_1:stop": () => [200, { session: { configId: "cs_1", state: "SESSION_STATE_STOPPED" }, closeResolution: "flattened" }],
    });
    render(<App />);
    const card = await screen.findByRole("article", { name: "Copy of Demo BTC Swing" });
    expect(await within(card).findByTestId("pnl-after-fees")).toHaveTextContent("+1.2500");
    expect(card).not.toHaveTextContent("cs_1");
    await userEvent.click(within(card).getByRole("button", { name: "Stop" }));
    const dialog = screen.getByRole("alertdialog", { name: "Stop copying Demo BTC Swing?" });
    const confirm = within(dialog).getByRole("button", { name: "Stop copying" });
    expect(confirm).toBeDisabled(); // a choice first
    await userEvent.click(within(dialog).getByLabelText(/Close positions now/));
    await userEvent.click(confirm);
    await waitFor(() => expect(calls.find((c) => c.path === "/v1/copy-sessions/cs_1:stop")?.body).toEqual({ reason: "stopped by the follower", closePositions: true }));
    expect(await screen.findByText("You stopped copying Demo BTC Swing, and its positions are closed.")).toBeInTheDocument();
  });
});

describe("pages", () => {
  it("an unknown address says so and names itself in the tab", async () => {
    loggedIn("/no/such/page");
    mockGateway({ "GET /v1/users/usr_alice": () => [200, { user: ALICE }] });
    render(<App />);
    expect(await screen.findByRole("heading", { name: "This page does not exist" })).toBeInTheDocument();
    // The tab's title is set by an effect after the page renders (on a loaded machine, a moment after).
    await waitFor(() => expect(document.title).toBe("Page not found · copytrade"));
  });
});
