// The observability pages in a real browser against a real `orrery serve` (embedded cluster with
// its simulated data plane, in-process metrics store, auditing, alerting): dashboards draw
// series, an alert is listed, audit rows are filtered by user, events by type, and a
// workload's pods' logs are merged. Screenshots land in e2e/screenshots/ for people to look at.
// Run: npm run build && ORRERY_BIN=…/target/debug/orrery node --test e2e/observability.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { apiCall, apiToken, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const USER_PW = "Alice0Pass12";
const WAIT = 90_000;

let env;
let page;
let admin;
const problems = [];

const shot = (name) => page.screenshot({ path: join(screenshots, `obs-${name}.png`), fullPage: true });
const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });
const go = (path) => page.goto(`${env.url}/console${path}`);

async function ok(token, method, path, body) {
  const r = await apiCall(env.url, token, method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  // A sample every 2 s instead of every minute: a rate (CPU usage) needs two samples, and the
  // test is not to wait two minutes for them.
  env = await startEnv(INITIAL, { member: false, serveArgs: ["--monitoring-interval", "2s"] });
  admin = await apiToken(env.url, "admin", INITIAL);
  // alice manages workspace w1 and, as herself, creates project p1 and a Deployment of two pods
  // there (so the audit trail has her actions, and the simulation writes events and logs).
  await ok(admin, "POST", "/kapis/iam.kubesphere.io/v1beta1/users", {
    apiVersion: "iam.kubesphere.io/v1beta1",
    kind: "User",
    metadata: { name: "alice" },
    spec: { email: "alice@example.com", password: USER_PW },
  });
  await ok(admin, "POST", "/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates", {
    apiVersion: "tenant.kubesphere.io/v1beta1",
    kind: "WorkspaceTemplate",
    metadata: { name: "w1" },
    spec: { template: { spec: { manager: "alice" } }, placement: { clusters: [{ name: "host" }] } },
  });
  const alice = await apiToken(env.url, "alice", USER_PW);
  await ok(alice, "POST", "/kapis/tenant.kubesphere.io/v1beta1/workspaces/w1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "p1" } });
  await ok(alice, "POST", "/apis/apps/v1/namespaces/p1/deployments", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "nginx:1.27" }] } },
    },
  });
  // A Warning event the events page is filtered down to.
  await ok(admin, "POST", "/api/v1/namespaces/p1/events", {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "e2e-warning" },
    involvedObject: { kind: "Deployment", name: "web", namespace: "p1", apiVersion: "apps/v1" },
    reason: "E2EWarning",
    message: "a warning written by the browser test",
    type: "Warning",
    count: 1,
    firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    source: { component: "e2e" },
  });
  // A platform-level rule group whose rule always fires.
  await ok(admin, "POST", "/apis/alerting.kubesphere.io/v2beta1/globalrulegroups", {
    apiVersion: "alerting.kubesphere.io/v2beta1",
    kind: "GlobalRuleGroup",
    metadata: { name: "e2e-always" },
    spec: { interval: "1s", rules: [{ alert: "E2EAlwaysFiring", expr: "vector(1)", severity: "warning", annotations: { summary: "always firing" } }] },
  });
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: "en-US" });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${env.url}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(INITIAL);
  await page.getByRole("button", { name: "Log in" }).click();
  await visible(page.getByRole("heading", { name: "Change your password" }));
  await page.getByLabel("New password", { exact: true }).fill(ADMIN_PW);
  await page.getByLabel("Confirm new password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Change password" }).click();
  await visible(page.getByRole("heading", { name: "Clusters" }));
});

after(async () => {
  await env?.stop();
});

/** Waits until a metric's chart is drawn: a canvas with coloured pixels and at least one point. */
async function chartDrawn(metric) {
  const section = page.locator(`section[data-metric="${metric}"]`);
  await visible(section.locator("figure canvas"));
  await page.waitForFunction(
    (m) => {
      const fig = document.querySelector(`section[data-metric="${m}"] figure`);
      const canvas = fig?.querySelector("canvas");
      if (!fig || !canvas || Number(fig.getAttribute("data-points")) < 1) return false;
      const ctx = canvas.getContext("2d");
      const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) return true;
      return false;
    },
    metric,
    { timeout: WAIT },
  );
  return (await section.getByTestId("latest").innerText()).trim();
}

test("cluster and project dashboards draw their series and show values", async () => {
  await go("/observe/monitoring?level=cluster&range=1h&refresh=10");
  await visible(page.getByRole("heading", { name: "Monitoring" }));
  const pods = await chartDrawn("cluster_pod_count");
  assert.match(pods, /\d/, `a pod count is shown: ${pods}`);
  const cpu = await chartDrawn("cluster_cpu_usage");
  assert.match(cpu, /cores/, cpu);
  await shot("monitoring-cluster");
  await go("/observe/monitoring?level=project&ns=p1&range=1h&refresh=10");
  const nsPods = await chartDrawn("namespace_pod_count");
  assert.match(nsPods, /\d/, nsPods);
  await shot("monitoring-project");
});

test("the events page filtered by type shows only warnings, the test's among them", async () => {
  await go("/observe/events?type=Warning");
  await visible(page.getByTestId("events").getByRole("row").filter({ hasText: "E2EWarning" }));
  // When it happened, relative to now in the user's language; the exact time on hover.
  const when = page.getByTestId("events").getByRole("row").filter({ hasText: "E2EWarning" }).locator("time");
  assert.match(await when.textContent(), /ago|now/);
  assert.ok((await when.getAttribute("title")).length > 0);
  const types = await page.getByTestId("events").locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-type")));
  assert.ok(types.length > 0);
  assert.deepEqual([...new Set(types)], ["Warning"]);
  await shot("events-warning");
  // Normal events (the simulation's scheduling and pulls) are there without the filter.
  await go("/observe/events?type=Normal&ns=p1");
  await visible(page.getByTestId("events").locator('tbody tr[data-type="Normal"]'));
  assert.equal(await page.getByTestId("events").getByRole("row").filter({ hasText: "E2EWarning" }).count(), 0);
});

test("audit rows filtered by user are that user's", async () => {
  await go("/observe/audit?user=alice");
  await visible(page.getByTestId("audit").getByRole("row").filter({ hasText: "deployments" }));
  const users = await page.getByTestId("audit").locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-user")));
  assert.ok(users.length > 0);
  assert.deepEqual([...new Set(users)], ["alice"]);
  await shot("audit-alice");
});

test("the alerts page lists the firing alert and its rule group", async () => {
  await go("/observe/alerts");
  await visible(page.getByTestId("rulegroups").getByRole("row").filter({ hasText: "e2e-always" }));
  // The leader evaluates every second; the page reloads alerts every 15 s.
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    if ((await page.getByTestId("alerts").getByRole("row").filter({ hasText: "E2EAlwaysFiring" }).count()) > 0) break;
    await page.waitForTimeout(1000);
    if ((await page.getByTestId("alerts").getByRole("row").filter({ hasText: "E2EAlwaysFiring" }).count()) === 0) await page.reload();
  }
  const alertRow = page.getByTestId("alerts").getByRole("row").filter({ hasText: "E2EAlwaysFiring" });
  await visible(alertRow);
  assert.match(await alertRow.first().innerText(), /firing|pending/);
  await shot("alerts");
});

test("a deployment's logs show both pods merged, searchable", async () => {
  await go("/observe/logs/host/p1/deployments/web?follow=false");
  await page.waitForFunction(
    () => {
      const lines = [...document.querySelectorAll('[data-testid="logs"] > div')].map((d) => d.textContent ?? "");
      return new Set(lines.map((l) => l.split("/")[0])).size >= 2;
    },
    null,
    { timeout: WAIT },
  );
  const pods = await page.getByTestId("logs").locator("div").evaluateAll((ds) => [...new Set(ds.map((d) => (d.textContent ?? "").split("/")[0]))]);
  assert.ok(pods.every((p) => p.startsWith("web-")), pods.join(","));
  await page.getByLabel("Search in the fetched lines").fill(pods[0]);
  await visible(page.getByTestId("logs").locator("mark"));
  const shown = await page.getByTestId("logs").locator("div").evaluateAll((ds) => ds.map((d) => d.textContent ?? ""));
  assert.ok(shown.length > 0 && shown.every((l) => l.includes(pods[0])));
  await shot("logs");
});

test("the pages ran without script errors", () => {
  assert.deepEqual(problems, []);
});
