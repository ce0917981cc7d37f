// End to end in a real browser (Debian's chromium through playwright-core) against a running
// `copytrade up --demo`: a follower logs in, finds the master on the leaderboard, follows with a
// multiplier, sees a copy of the next trade on the live dashboard, pulls the kill switch and sees
// the next copy refused with its reason; an operator verifies the audit chain. A screenshot of
// every page goes to E2E_SCREENSHOTS.
//
//   E2E_URL=http://127.0.0.1:15056 E2E_PASSWORD=... node e2e/run.mjs
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.E2E_URL ?? "http://127.0.0.1:15056";
const password = process.env.E2E_PASSWORD;
const follower = process.env.E2E_FOLLOWER ?? "alice@demo.example.com";
const operator = process.env.E2E_OPERATOR ?? "ops@demo.example.com";
const shots = process.env.E2E_SCREENSHOTS ?? new URL("./screenshots", import.meta.url).pathname;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const COPY_TIMEOUT_MS = 20_000; // the demo's master trades every ~2 s
if (!password) throw new Error("E2E_PASSWORD is required (the demo's password, from data/demo.json)");
mkdirSync(shots, { recursive: true });

const started = Date.now();
const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
let page;
const nav = (name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
const shot = async (name) => {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  step(`screenshot ${name}.png`);
};

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));

  // Log in with the keyboard alone.
  await page.goto(url + "/");
  await page.getByLabel("Email").focus();
  await page.keyboard.type(follower);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await shot("01-login");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Discover masters" }).waitFor();
  step(`logged in as ${follower}`);

  // The token is in an httpOnly cookie: the browser has it, scripts on the page do not.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "copytrade_session");
  if (!session || !session.httpOnly || session.sameSite !== "Strict") throw new Error(`no httpOnly SameSite=Strict session cookie: ${JSON.stringify(cookies)}`);
  const visible = await page.evaluate(() => document.cookie + JSON.stringify(window.localStorage));
  if (visible.includes(session.value)) throw new Error("the session token is readable by scripts");

  // Following: the demo's session for this follower, and the venue key shown masked. Stop it, so
  // the follow below starts a session of our own on the same account.
  await nav("Following").click();
  const card = page.getByRole("article", { name: /Session copying Demo BTC Swing/ });
  await page.getByText(/master fills ·|You are not copying anyone/).first().waitFor(); // a rerun finds it stopped
  await page.getByText("••••").first().waitFor();
  await shot("03-following");
  while ((await card.count()) > 0) {
    await card.first().getByRole("button", { name: "Stop" }).click();
    await page.waitForTimeout(300);
    await page.getByText(/Loading your copy sessions/).waitFor({ state: "detached" });
  }
  step("stopped the demo's copy session");

  // Discover: the master on the leaderboard, ranked by capturable return, with its sparkline.
  await nav("Discover").click();
  const master = page.getByRole("link", { name: "Demo BTC Swing" });
  await master.waitFor();
  await page.locator("svg.sparkline").first().waitFor();
  await shot("02-discover");
  await master.click();

  // Master profile: equity and drawdown charts, statistics by window, the copy preview.
  await page.getByRole("heading", { name: "Demo BTC Swing", exact: true, level: 1 }).waitFor();
  await page.locator("figure.chart canvas").first().waitFor();
  await page.getByRole("heading", { name: "Statistics by window" }).waitFor();
  await page.getByText("Capturable return").first().waitFor();
  await page.getByRole("form", { name: "Copy preview" }).getByLabel("Multiplier", { exact: true }).fill("0.25");
  await page.getByRole("button", { name: "Preview" }).click();
  await page.getByRole("heading", { name: "Refused trades" }).waitFor();
  await page.getByText("Your return").waitFor();

  // Follow with a multiplier.
  const follow = page.getByRole("form", { name: "Follow this master" });
  await follow.getByLabel("Multiplier", { exact: true }).fill("0.25");
  await follow.getByRole("button", { name: "Follow" }).click();
  const notice = page.getByText(/Following: session (cs_\w+)/);
  await notice.waitFor();
  const configId = (await notice.textContent()).match(/session (cs_\w+)/)[1];
  const followedAt = Date.now();
  await shot("04-master-profile");
  step(`following with multiplier 0.25: session ${configId}`);

  // Live dashboard: a copy of the master's next trade for the new session, with its latency.
  await nav("Live").click();
  await page.getByTestId("feed-state").filter({ hasText: "live" }).waitFor();
  const copied = page.locator(`table.feed tr[data-config="${configId}"]:is([data-kind="copied"], [data-kind="filled"])`);
  await copied.first().waitFor({ timeout: COPY_TIMEOUT_MS });
  const latency = await copied.first().locator("td").nth(3).textContent();
  if (!/\d+ ms/.test(latency)) throw new Error(`a copy without its latency: ${latency}`);
  step(`copy on the dashboard ${((Date.now() - followedAt) / 1000).toFixed(1)}s after following (latency ${latency})`);
  await page.getByText(/Demo BTC Swing/).first().waitFor();
  await shot("05-dashboard");

  // Risk: the kill switch, behind a confirmation.
  await nav("Risk").click();
  await page.getByTestId("trading-state").waitFor();
  await page.getByRole("form", { name: "Risk limits" }).waitFor();
  await page.getByRole("button", { name: /Kill switch/ }).click();
  const dialog = page.getByRole("alertdialog", { name: "Pull the kill switch?" });
  await dialog.getByLabel(/Reason/).fill("e2e: lunch");
  await shot("06-risk-confirm");
  await dialog.getByRole("button", { name: "Stop all copying" }).click();
  await page.getByTestId("trading-state").filter({ hasText: /halted/ }).waitFor();
  const killedAt = Date.now();
  await shot("07-risk-halted");
  step("kill switch on");

  // The next copy arrives refused, with its reason in words.
  await nav("Live").click();
  const refused = page.locator(`table.feed tr[data-config="${configId}"][data-kind="refused"]`).filter({ hasText: "TRADING_HALTED" });
  await refused.first().waitFor({ timeout: COPY_TIMEOUT_MS });
  step(`refusal on the dashboard ${((Date.now() - killedAt) / 1000).toFixed(1)}s after the kill switch: ${await refused.first().locator("td").nth(4).textContent()}`);
  await shot("08-dashboard-refused");

  // Analytics: PnL over time and per master.
  await nav("Analytics").click();
  await page.getByRole("heading", { name: "Per master" }).waitFor();
  await page.locator("figure.chart canvas").first().waitFor();
  await shot("09-analytics");

  // A phone-width screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await nav("Live").click();
  await page.locator("table.feed").waitFor();
  await shot("10-phone-dashboard");
  await nav("Discover").click();
  await page.locator("svg.sparkline").first().waitFor();
  await shot("12-phone-discover");
  await nav("Risk").click();
  await page.getByTestId("trading-state").waitFor();
  await page.getByRole("button", { name: "Reset to active" }).click();
  await page.getByTestId("trading-state").filter({ hasText: /active/ }).waitFor();
  step("trading reset to active");
  await page.setViewportSize({ width: 1280, height: 900 });

  // Logout clears the session: the API refuses the old cookie-less browser.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("button", { name: "Log in" }).waitFor();
  if ((await context.cookies()).some((c) => c.name === "copytrade_session" && c.value)) throw new Error("logout left the session cookie");
  step("logged out");

  // Someone new registers and submits KYC (through the API, as a sign-up page would) ...
  const newcomer = `e2e-${Date.now()}@example.com`;
  const rest = async (path, body, token) => {
    const reply = await fetch(url + path, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) } });
    if (!reply.ok) throw new Error(`${path}: ${reply.status} ${await reply.text()}`);
    return reply.json();
  };
  const registered = await rest("/v1/users", { email: newcomer, password: "e2e password long enough", displayName: "E2E Newcomer" });
  const { accessToken } = await rest("/v1/auth:login", { email: newcomer, password: "e2e password long enough" });
  await rest(`/v1/users/${registered.user.userId}/kyc`, { legalName: "Erin Newcomer", country: "DE", documentType: "passport", documentNumber: "E2E000001" }, accessToken);

  // ... and the operator decides it: retries, reconciliation, the audit chain verified, KYC.
  await page.getByLabel("Email").fill(operator);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await nav("Operator").click();
  await page.getByRole("heading", { name: "Failed copies waiting" }).waitFor();
  await page.getByRole("button", { name: "Verify the audit chain" }).click();
  await page.getByTestId("audit-result").filter({ hasText: /Intact: \d+ records/ }).waitFor();
  await page.getByRole("article", { name: /Reconciliation of cs_/ }).first().waitFor();
  const kyc = page.getByRole("article", { name: `KYC of ${newcomer}` });
  await kyc.getByText("Erin Newcomer").waitFor();
  await shot("11-operator");
  await kyc.getByLabel("Comment").fill("documents checked");
  await kyc.getByRole("button", { name: "Approve" }).click();
  await page.getByText("No KYC submission waits for a decision.").waitFor();
  step("operator: audit chain intact, the newcomer's KYC approved");
} catch (err) {
  if (page) await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`e2e failed: ${err.stack ?? err}`);
  for (const p of problems) console.error(p);
  await browser.close();
  process.exit(1);
}
await browser.close();
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
step("e2e passed");
