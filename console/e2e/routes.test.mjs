// Old console addresses lead to their pages: `create/deployment` (the Deployment form before the
// workload forms) redirects to `create/workload/deployments`, so links and bookmarks from before
// open the form instead of falling through to an object page.
// Run: cd console && ORRERY_BIN=… node --test e2e/routes.test.mjs (needs /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { changeAdminPassword, logIn, mustCall, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;

let env;
let page;
const problems = [];

before(async () => {
  env = await startEnv(INITIAL, { member: false });
  const token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await mustCall(env.url, token, "POST", "/api/v1/namespaces", { metadata: { name: "shop" } });
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (e) => problems.push(String(e)));
  await logIn(page, env.url, "admin", ADMIN_PW, WAIT);
});

after(async () => {
  await env?.stop();
});

test("an old create/deployment link opens the Deployment form at its new address", async () => {
  const P = "/console/clusters/host/projects/shop";
  await page.goto(`${env.url}${P}/create/deployment`);
  await page.waitForURL((u) => u.pathname === `${P}/create/workload/deployments`);
  await page.getByRole("heading", { name: "Create Deployment", exact: true }).waitFor();
  await page.locator('input[name="name"]').waitFor();
  assert.deepEqual(problems, []);
});
