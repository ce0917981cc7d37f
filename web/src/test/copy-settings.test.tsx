import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App } from "../App";
import { hasSlippage } from "../pages/Following";
import { USER_KEY } from "../session";
import { mockGateway } from "./fetch";

const ALICE = { userId: "usr_alice", email: "alice@demo.example.com", roles: ["ROLE_FOLLOWER"] };
const ACCOUNT = { accountId: "acc_f1", role: "ACCOUNT_ROLE_FOLLOWER", label: "My Binance", venue: { id: "binance", marketType: "MARKET_TYPE_SPOT" } };
const LIMIT_LABEL = /Never fill worse than my maximum slippage/;

beforeEach(() => {
  window.localStorage.clear();
  window.localStorage.setItem(USER_KEY, JSON.stringify(ALICE));
  window.history.pushState(null, "", "/copies");
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function copies(settings: object) {
  return mockGateway({
    "GET /v1/users/usr_alice": () => [200, { user: ALICE }],
    "GET /v1/copy-sessions/cs_1/performance": () => [200, { performance: { currency: "USDT" } }],
    "GET /v1/copy-sessions/cs_1": () => [200, { session: { configId: "cs_1" }, stats: {} }],
    "GET /v1/copy-sessions": () => [200, { sessions: [{ configId: "cs_1", masterId: "usr_master", followerAccountId: "acc_f1", state: "SESSION_STATE_ACTIVE", settings }] }],
    "GET /v1/venue-accounts": () => [200, { accounts: [ACCOUNT] }],
    "GET /v1/supported-venues": () => [200, { venues: [] }],
    "GET /api/master-traders": () => [200, { traders: [] }],
    "PATCH /v1/copy-sessions/cs_1/settings": (call) => [200, { session: { configId: "cs_1", settings: call.body } }],
  });
}

async function openSettings() {
  render(<App />);
  const card = await screen.findByRole("article", { name: /Copy of/ });
  await userEvent.click(within(card).getByRole("button", { name: "Settings" }));
  return within(card).getByRole("form", { name: "Copy settings" });
}

describe("copying at the slippage tolerance", () => {
  it("is offered only once a maximum slippage is set, and is sent with it", async () => {
    const calls = copies({ sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "1" });
    const form = await openSettings();
    const limit = within(form).getByRole("checkbox", { name: LIMIT_LABEL });
    expect(limit).toBeDisabled(); // no maximum slippage: no price to send the limit at
    expect(limit).toHaveAccessibleDescription(/Set a maximum slippage above/);

    await userEvent.type(within(form).getByLabelText("Maximum slippage (0.01 = 1%)"), "0.005");
    expect(limit).toBeEnabled();
    expect(limit).toHaveAccessibleDescription(/limit order at the master's price moved by your maximum slippage/);
    await userEvent.click(limit);
    await userEvent.click(within(form).getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(calls.some((c) => c.method === "PATCH")).toBe(true));
    const patch = calls.find((c) => c.method === "PATCH")!;
    expect(patch.body).toMatchObject({ maxSlippage: "0.005", limitAtTolerance: true });
    expect(new URL(patch.path, "http://x").searchParams.get("updateMask")?.split(",")).toEqual(
      expect.arrayContaining(["maxSlippage", "limitAtTolerance"]));
  });

  it("is turned off, not sent on, when the maximum slippage is cleared", async () => {
    const calls = copies({ sizingMode: "SIZING_MODE_MULTIPLIER", multiplier: "1", maxSlippage: "0.01", limitAtTolerance: true });
    const form = await openSettings();
    const limit = within(form).getByRole("checkbox", { name: LIMIT_LABEL });
    expect(limit).toBeChecked();
    await userEvent.clear(within(form).getByLabelText("Maximum slippage (0.01 = 1%)"));
    expect(limit).toBeDisabled();
    expect(limit).not.toBeChecked();
    await userEvent.click(within(form).getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(calls.some((c) => c.method === "PATCH")).toBe(true));
    expect(calls.find((c) => c.method === "PATCH")!.body).toMatchObject({ maxSlippage: "", limitAtTolerance: false });
  });

  it("reads a maximum slippage as set only when it is a positive decimal", () => {
    expect([undefined, "", " ", "0", "0.0", "-0.01", "abc", "1e-2"].map(hasSlippage)).toEqual(Array(8).fill(false));
    expect(["0.01", ".5", " 0.005 ", "1"].map(hasSlippage)).toEqual([true, true, true, true]);
  });
});
