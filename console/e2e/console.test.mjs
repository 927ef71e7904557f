// The console in a real browser against a real `orrery serve` with a member cluster.
// Run: scripts/console.sh e2e (needs target/debug/orrery or $ORRERY_BIN, and /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiCall, apiToken, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const VIEWER_PW = "Viewer0Pass1";
const WAIT = 60_000;

let env;
let page;
const timings = {};
/** Script errors and policy violations seen in the page (the last test wants none). */
const problems = [];
/** WebSockets the page opened, with how many watches each carried. */
const sockets = [];

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL);
  // Join the member: a Cluster object with its kubeconfig (the platform moves it into a Secret).
  const token = await apiToken(env.url, "admin", INITIAL);
  const cluster = {
    apiVersion: "cluster.kubesphere.io/v1alpha1",
    kind: "Cluster",
    metadata: { name: "member1" },
    spec: { provider: "orrery", connection: { type: "direct", kubeconfig: Buffer.from(env.memberKubeconfig).toString("base64") } },
  };
  let r = await apiCall(env.url, token, "POST", "/kapis/cluster.kubesphere.io/v1alpha1/clusters", cluster);
  if (r.status === 404 || r.status === 405) r = await apiCall(env.url, token, "POST", "/apis/cluster.kubesphere.io/v1alpha1/clusters", cluster);
  assert.ok(r.status < 300, `joining the member: ${r.status} ${JSON.stringify(r.body)}`);
  // The platform checks the member's health; wait (bounded) until it reports Ready, so the
  // clusters page, which loads the list once per visit, shows the member's real state.
  const deadline = Date.now() + WAIT;
  const ready = (c) => (c?.status?.conditions ?? []).some((x) => x.type === "Ready" && x.status === "True");
  let member;
  do {
    member = await apiCall(env.url, token, "GET", "/apis/cluster.kubesphere.io/v1alpha1/clusters/member1");
    if (ready(member.body)) break;
    await new Promise((res) => setTimeout(res, 200));
  } while (Date.now() < deadline);
  assert.ok(ready(member.body), `member1 Ready: ${JSON.stringify(member.body?.status)}`);
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  // A new document (page.goto) ends the sockets of the one before, whether or not the browser
  // reports their closing.
  page.on("request", (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) for (const s of sockets) s.open = false;
  });
  page.on("websocket", (ws) => {
    const rec = { url: ws.url(), watches: 0, open: true };
    sockets.push(rec);
    ws.on("framesent", (f) => {
      if (String(f.payload).includes('"path"')) rec.watches++;
    });
    ws.on("close", () => (rec.open = false));
  });
});

after(async () => {
  writeFileSync(join(screenshots, "timing.json"), JSON.stringify(timings, null, 2));
  console.log(`page load: ${JSON.stringify(timings)}`);
  await env?.stop();
});

const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });
const row = (text) => page.getByRole("row").filter({ hasText: text });
const go = (path) => page.goto(`${env.url}/console${path}`);

async function login(user, password) {
  await page.getByLabel("Username", { exact: true }).fill(user);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

test("admin logs in, changes the initial password, and sees host and member", async () => {
  const started = Date.now();
  await page.goto(`${env.url}/`);
  await visible(page.getByRole("button", { name: "Log in" }));
  timings.loginPageVisibleMs = Date.now() - started;
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    return { domContentLoadedMs: Math.round(n.domContentLoadedEventEnd), loadMs: Math.round(n.loadEventEnd) };
  });
  Object.assign(timings, nav);
  assert.match(page.url(), /\/console\/login$/);
  // The session cookie is not readable by script.
  await shot("login");
  await login("admin", INITIAL);
  await visible(page.getByRole("heading", { name: "Change your password" }));
  await shot("password-change");
  // The password just typed is not asked for again.
  assert.equal(await page.getByLabel("Current password", { exact: true }).count(), 0);
  await page.getByLabel("New password", { exact: true }).fill(ADMIN_PW);
  await page.getByLabel("Confirm new password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Change password" }).click();
  await visible(page.getByRole("heading", { name: "Clusters" }));
  // The member joined through the platform turns Ready (its health is checked by the platform).
  await visible(row("member1").locator(".badge.ok", { hasText: "Ready" }));
  await visible(row("host").filter({ hasText: "v1.33" }));
  const cookies = await page.evaluate(() => document.cookie);
  assert.ok(!cookies.includes("orrery_token"), "the token cookie must be HttpOnly");
  assert.ok(cookies.includes("orrery_csrf"));
  const stored = await page.evaluate(() => JSON.stringify(localStorage));
  assert.ok(!/eyJ/.test(stored), "no token in localStorage");
  await shot("clusters");
});

test("a locked account gets a clear message", async () => {
  const ctx = await env.browser.newContext();
  const p = await ctx.newPage();
  await p.goto(`${env.url}/console/login`);
  // Lock a throwaway user through the API, then try in the browser.
  const token = await apiToken(env.url, "admin", ADMIN_PW);
  await apiCall(env.url, token, "POST", "/kapis/iam.kubesphere.io/v1beta1/users", {
    apiVersion: "iam.kubesphere.io/v1beta1", kind: "User", metadata: { name: "locky" }, spec: { email: "l@example.com", password: "Locky0Pass1" },
  });
  for (let i = 0; i < 10; i++) {
    await fetch(`${env.url}/oauth/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", username: "locky", password: "Wrong0Pass1" }) });
  }
  // Keyboard only: the username field has focus, Tab moves on, Enter submits.
  await p.getByLabel("Username", { exact: true }).waitFor({ timeout: WAIT });
  assert.equal(await p.evaluate(() => document.activeElement?.getAttribute("name")), "username");
  await p.keyboard.type("locky");
  await p.keyboard.press("Tab");
  await p.keyboard.type("Locky0Pass1");
  await p.keyboard.press("Enter");
  await visible(p.getByRole("alert").filter({ hasText: "locked" }));
  await p.screenshot({ path: join(screenshots, "locked.png") });
  await ctx.close();
});

test("create a workspace placed on both clusters, and a project", async () => {
  await go("/platform/workspaces");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByLabel("Name", { exact: true }).fill("ws1");
  // The host always holds every workspace: its box is ticked and cannot be unticked.
  assert.equal(await page.getByLabel("host", { exact: true }).isChecked(), true);
  await page.getByLabel("member1", { exact: true }).check();
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(row("ws1").filter({ hasText: "host, member1" }));
  // The placement made the Workspace in the member cluster too (seen through the cluster proxy).
  const token = await apiToken(env.url, "admin", ADMIN_PW);
  const deadline = Date.now() + WAIT;
  let inMember;
  do {
    inMember = await apiCall(env.url, token, "GET", "/clusters/member1/apis/tenant.kubesphere.io/v1beta1/workspaces/ws1");
    if (inMember.status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  assert.equal(inMember.status, 200, `ws1 in member1: ${JSON.stringify(inMember.body)}`);
  await shot("workspaces");
  await go("/workspaces/ws1/projects");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByLabel("Name", { exact: true }).fill("proj1");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("link", { name: "proj1" }));
  await shot("projects");
});

test("deploy an image, watch its pods turn Running, open logs, scale", async () => {
  await page.getByRole("link", { name: "proj1" }).click();
  await visible(page.getByRole("heading", { name: "Deployments" }));
  await page.getByRole("link", { name: "Create Deployment" }).click();
  await page.getByLabel("Name", { exact: true }).fill("web");
  await page.getByLabel("Image", { exact: true }).fill("nginx:1.27");
  await page.getByLabel("Replicas", { exact: true }).fill("2");
  await page.getByRole("button", { name: "Add Variable" }).click();
  await page.getByLabel("Variable name", { exact: true }).fill("MODE");
  await page.getByLabel("Value", { exact: true }).fill("demo");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Deployment: web" }));
  // The pods table is fed by a watch: both pods must show Running without a reload.
  const pods = page.getByRole("table", { name: "Pods" });
  await page.waitForFunction(() => {
    const t = document.querySelector('[role="table"][aria-label="Pods"]');
    return t && [...t.querySelectorAll('[role="row"]')].filter((r) => r.textContent.includes("Running")).length === 2;
  }, null, { timeout: WAIT });
  await shot("deployment");
  // Every live list of the tab (the Deployment itself, its pods) shares one socket.
  const open = sockets.filter((s) => s.open);
  assert.equal(open.length, 1, JSON.stringify(sockets));
  assert.match(open[0].url, /\/console\/watch$/);
  assert.ok(open[0].watches >= 2, JSON.stringify(open));
  await pods.getByRole("link").first().click();
  await page.getByRole("tab", { name: "Logs" }).click();
  await page.waitForFunction(() => (document.querySelector('[data-testid="logs"]')?.textContent ?? "").trim().length > 0, null, { timeout: WAIT });
  await shot("pod-logs");
  await page.goBack();
  await visible(page.getByRole("heading", { name: "Deployment: web" }));
  await page.getByLabel("Replicas", { exact: true }).fill("3");
  await page.getByRole("button", { name: "Scale", exact: true }).click();
  await page.waitForFunction(() => {
    const t = document.querySelector('[role="table"][aria-label="Pods"]');
    return t && [...t.querySelectorAll('[role="row"]')].filter((r) => r.textContent.includes("Running")).length === 3;
  }, null, { timeout: WAIT });
});

test("a YAML edit the server rejects shows its error in place; then delete", async () => {
  await page.getByRole("tab", { name: "YAML" }).click();
  const line = page.locator(".cm-line", { hasText: /^\s*replicas: 3$/ }).first();
  await visible(line);
  await line.click();
  await page.keyboard.press("End");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("-1");
  await page.getByRole("button", { name: "Save" }).click();
  const err = page.getByRole("alert").filter({ hasText: /replicas/ });
  await visible(err);
  await shot("yaml-error");
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await visible(page.getByRole("heading", { name: "Deployments" }));
  await page.waitForFunction(() => ![...document.querySelectorAll('[role="row"]')].some((r) => r.textContent.includes("web")), null, { timeout: WAIT });
});

test("create a Service from its form and a ConfigMap from YAML", async () => {
  await go("/clusters/host/projects/proj1/services");
  await page.getByRole("link", { name: "Create Service" }).click();
  await page.getByLabel("Name", { exact: true }).fill("web");
  await page.getByLabel("Target port", { exact: true }).fill("8080");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Service: web" }));
  await go("/clusters/host/projects/proj1/services");
  // The cluster allocated an IP; the live list shows it.
  await page.waitForFunction(() => /\d+\.\d+\.\d+\.\d+/.test(document.querySelector('[role="table"]')?.textContent ?? ""), null, { timeout: WAIT });
  await shot("services");
  await go("/clusters/host/projects/proj1/configmaps");
  await page.getByRole("link", { name: "Create (YAML)" }).click();
  const name = page.locator(".cm-line", { hasText: 'name: ""' }).first();
  await visible(name);
  await name.click();
  await page.keyboard.press("End");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("settings\"");
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Home");
  await page.keyboard.press("Shift+Home");
  await page.keyboard.type("data:\n  mode: demo");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("heading", { name: "ConfigMap: settings" }));
});

test("a workspace viewer sees only that workspace and cannot create there", async () => {
  await go("/platform/users");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByLabel("Username", { exact: true }).fill("viewer1");
  await page.getByLabel("Email", { exact: true }).fill("viewer1@example.com");
  await page.getByLabel("Password", { exact: true }).fill(VIEWER_PW);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(row("viewer1"));
  await shot("users");
  await go("/workspaces/ws1/members");
  await page.getByLabel("Username", { exact: true }).fill("viewer1");
  await page.getByLabel("Role", { exact: true }).selectOption("ws1-viewer");
  await page.getByRole("button", { name: "Add member" }).click();
  await visible(row("viewer1").filter({ hasText: "ws1-viewer" }));
  await page.getByRole("button", { name: "Log out" }).click();
  await visible(page.getByRole("button", { name: "Log in" }));
  await login("viewer1", VIEWER_PW);
  // Home for someone who may not see the clusters is their workspaces; the platform pages they
  // may not use are not offered.
  await visible(page.getByRole("heading", { name: "Workspaces" }));
  const side = page.getByRole("navigation", { name: "Platform" });
  await visible(side.getByRole("link", { name: "Workspaces" }));
  for (const hidden of ["Clusters", "Users", "Platform roles", "Identity providers"]) {
    assert.equal(await side.getByRole("link", { name: hidden, exact: true }).count(), 0, hidden);
  }
  // A list they may not read says so, instead of reconnecting forever.
  await go("/clusters/host/r/secrets");
  await visible(page.getByRole("alert").getByText("You are not allowed to do this."));
  assert.equal(await page.getByText("Reconnecting…").count(), 0);
  await go("/platform/workspaces");
  await visible(row("ws1"));
  const names = await page.getByRole("table", { name: "Workspaces" }).getByRole("link").allTextContents();
  assert.deepEqual(names, ["ws1"]);
  assert.equal(await page.getByRole("button", { name: "Create workspace" }).count(), 0);
  const options = await page.getByLabel("Workspace", { exact: true }).locator("option").allTextContents();
  assert.deepEqual(options.filter((o) => o !== "—"), ["ws1"]);
  // The console asks the platform's authorizer and offers no create action...
  const review = () => page.waitForResponse((r) => r.url().includes("selfsubjectaccessreviews"), { timeout: WAIT });
  let answered = review();
  await go("/workspaces/ws1/projects");
  assert.equal((await (await answered).json()).status.allowed, false);
  await visible(page.getByRole("link", { name: "proj1" }));
  assert.equal(await page.getByRole("button", { name: "Create project" }).count(), 0);
  answered = review();
  await go("/clusters/host/projects/proj1/deployments");
  assert.equal((await (await answered).json()).status.allowed, false);
  await visible(page.getByRole("heading", { name: "Deployments" }));
  assert.equal(await page.getByRole("link", { name: "Create Deployment" }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "Create (YAML)" }).count(), 0);
  await shot("viewer-project");
  // ...and the server refuses when the form is reached anyway.
  await go("/clusters/host/projects/proj1/create/workload/deployments");
  await page.getByLabel("Name", { exact: true }).fill("sneaky");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("alert").filter({ hasText: "not allowed" }));
  await shot("viewer-forbidden");
});

test("switching to 中文 translates the UI", async () => {
  await page.getByRole("button", { name: "Log out" }).click();
  await visible(page.getByRole("button", { name: "Log in" }));
  await login("admin", ADMIN_PW);
  await visible(page.getByRole("heading", { name: "Clusters" }));
  await go("/platform/workspaces");
  await page.getByLabel("Language", { exact: true }).selectOption("zh-CN");
  await visible(page.getByRole("heading", { name: "企业空间" }));
  await visible(page.getByRole("button", { name: "退出登录" }));
  assert.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
  await shot("zh-workspaces");
  await go("/clusters/host/overview");
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="node-count"]')?.textContent ?? 0) > 0, null, { timeout: WAIT });
  await page.getByRole("button", { name: "主题" }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await shot("zh-cluster-overview-dark");
  await go("/clusters/host/crds");
  // The table renders only the rows in view; narrow it by name, as a person would.
  await page.getByRole("searchbox", { name: "按名称筛选" }).fill("workspacetemplates");
  await visible(row("workspacetemplates.tenant.kubesphere.io"));
  await shot("zh-crds-dark");
  // The generic browser: a CRD's objects, then one object's page.
  await page.getByRole("link", { name: "workspacetemplates.tenant.kubesphere.io" }).click();
  await page.getByRole("link", { name: "ws1", exact: true }).click();
  await visible(page.getByRole("heading", { name: "WorkspaceTemplate: ws1" }));
  await page.getByRole("tab", { name: "YAML" }).click();
  await visible(page.locator(".cm-line", { hasText: "kind: WorkspaceTemplate" }));
  await shot("zh-crd-object-yaml-dark");
  // The editor follows the dark theme: its text (keys and values) stands out from its
  // background by at least WCAG's 4.5:1.
  const ratios = await page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const contrast = (a, b) => {
      const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
      return (x + 0.05) / (y + 0.05);
    };
    const bg = getComputedStyle(document.querySelector(".cm-editor")).backgroundColor;
    const line = document.querySelector(".cm-line");
    const spans = [line, ...line.querySelectorAll("span")];
    return spans.map((el) => contrast(getComputedStyle(el).color, bg));
  });
  assert.ok(ratios.length > 1 && ratios.every((r) => r >= 4.5), `contrast in dark mode: ${ratios}`);
});

test("the pages ran without script errors or Content-Security-Policy violations", () => {
  assert.deepEqual(problems, []);
});
