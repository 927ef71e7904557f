// Lists and object pages in a real browser against a real `orrery serve`: one ConfigMap found
// among 10,000 by name and by sort order without loading the rest (the server searches, sorts,
// counts and pages; at most 100 rows in the DOM), live updates on a paged list, the essentials
// of Service, ConfigMap and Pod pages, events with relative times, node memory for people, the
// workspace dialog's placement and name check, and the navigation folding on narrow windows.
// Run: scripts/console.sh e2e (needs target/debug/orrery or $ORRERY_BIN, and /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { changeAdminPassword, logIn, mustCall, screenshots, startEnv } from "./harness.mjs";
import { frameSummary, startFrames, stopFrames, wheelThrough } from "./frames.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;
const COUNT = 10_000;
const CONCURRENCY = 32;

let env;
let page;
let token;
const problems = [];
/** Every list answer about ConfigMaps the page received: its address and how many items it held. */
const lists = [];

const name = (i) => `cm-${String(i).padStart(5, "0")}`;

/** Runs `fn(i)` for i in [0, n) with `CONCURRENCY` requests in flight. */
async function parallel(n, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function must(method, path, body) {
  return mustCall(env.url, token, method, path, body);
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  for (const ns of ["big", "app"]) await must("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  // 10,000 ConfigMaps, created in an order unlike their names' (i·7919 mod 10,000 visits each once).
  const started = Date.now();
  await parallel(COUNT, async (k) => {
    const i = (k * 7919) % COUNT;
    await must("POST", "/api/v1/namespaces/big/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: name(i), labels: { tens: String(Math.floor(i / 10)) } }, data: { n: String(i) } });
  });
  console.log(`created ${COUNT} ConfigMaps through the platform in ${Date.now() - started} ms`);
  // A Deployment behind a Service, and a ConfigMap with data, for the object pages.
  await must("POST", "/apis/apps/v1/namespaces/app/deployments", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { app: "web" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 8080 }] }] } },
    },
  });
  await must("POST", "/api/v1/namespaces/app/services", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web" },
    spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] },
  });
  await must("POST", "/api/v1/namespaces/app/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings" }, data: { mode: "demo", "app.yaml": "replicas: 2\nlog: debug\n" } });

  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on("response", async (r) => {
    const u = new URL(r.url());
    if (r.request().method() !== "GET" || !/\/configmaps$/.test(u.pathname)) return;
    try {
      const body = await r.json();
      if (Array.isArray(body?.items)) lists.push({ url: u.pathname + u.search, items: body.items.length });
    } catch {
      // Not a JSON list (a stream): not what is counted here.
    }
  });
  await logIn(page, env.url, "admin", ADMIN_PW, WAIT);
});

after(async () => {
  await env?.stop();
});

const shot = (n) => page.screenshot({ path: join(screenshots, `${n}.png`), fullPage: true });
const visible = (locator, timeout = WAIT) => locator.first().waitFor({ state: "visible", timeout });
const go = (path) => page.goto(`${env.url}/console${path}`);
/** The names in the rendered rows of the table labelled `label`, top to bottom. */
const rowNames = (label) =>
  page.evaluate((l) => {
    const t = document.querySelector(`[role="table"][aria-label="${l}"]`);
    return [...(t?.querySelectorAll('[role="row"][data-index]') ?? [])].map((r) => r.querySelector('[role="cell"]')?.textContent ?? "");
  }, label);
const firstRowIs = (label, want) =>
  page.waitForFunction(
    ([l, w]) => document.querySelector(`[role="table"][aria-label="${l}"] [role="row"][data-index="0"] [role="cell"]`)?.textContent === w,
    [label, want],
    { timeout: WAIT },
  );
const totalIs = (text) => page.waitForFunction((t) => document.querySelector('[data-testid="total"]')?.textContent === t, text, { timeout: WAIT });

test("one ConfigMap among 10,000: found by name and by sort order without loading the rest", async () => {
  await go("/clusters/host/projects/big/configmaps");
  await totalIs("10,000 items");
  assert.equal(await page.title(), "Config maps · Orrery");
  // By name, ascending, first page.
  await firstRowIs("Config maps", "cm-00000");
  await visible(page.getByText("Page 1 of 200"));
  const rendered = (await rowNames("Config maps")).length;
  assert.ok(rendered > 0 && rendered <= 100, `${rendered} rows in the DOM`);
  const domRows = await page.locator('[role="row"]').count();
  assert.ok(domRows <= 100, `${domRows} rows in the page`);
  await shot("configmaps-10000");
  // Sort order: the server sorts all 10,000, so the last name comes first when descending.
  await page.getByRole("columnheader", { name: "Name" }).getByRole("button").click();
  await firstRowIs("Config maps", "cm-09999");
  assert.equal(await page.getByRole("columnheader", { name: /Name/ }).getAttribute("aria-sort"), "descending");
  // The last page of the descending order starts at cm-00049.
  await page.getByRole("button", { name: "Last page" }).click();
  await visible(page.getByText("Page 200 of 200"));
  await firstRowIs("Config maps", "cm-00049");
  assert.match(page.url(), /page=200/);
  // By name: one of them, and a handful sharing a prefix; the count follows the search.
  await page.getByRole("searchbox", { name: "Filter by name" }).fill("cm-04321");
  await totalIs("1 item");
  assert.deepEqual(await rowNames("Config maps"), ["cm-04321"]);
  await visible(page.getByText("Page 1 of 1"));
  await page.getByRole("searchbox", { name: "Filter by name" }).fill("cm-0999");
  await totalIs("10 items");
  assert.deepEqual(await rowNames("Config maps"), Array.from({ length: 10 }, (_, i) => name(9999 - i)));
  // A label selector is the server's too.
  await page.getByRole("searchbox", { name: "Filter by name" }).fill("");
  await page.getByLabel("Label selector", { exact: true }).fill("tens=432");
  await firstRowIs("Config maps", "cm-04329");
  await totalIs("10 items");
  assert.deepEqual(await rowNames("Config maps"), Array.from({ length: 10 }, (_, i) => name(4329 - i)));
  await page.getByLabel("Label selector", { exact: true }).fill("");
  await totalIs("10,000 items");
  // Nothing ever loaded the rest: every list answer held at most one page.
  assert.ok(lists.length >= 5, JSON.stringify(lists));
  const big = lists.filter((l) => l.items > 100);
  assert.deepEqual(big, [], "a list answer with more than 100 items");
  for (const l of lists) assert.match(l.url, /[?&]limit=\d+/, `a list without a limit: ${l.url}`);
  // Opening one goes to its page.
  await page.getByRole("searchbox", { name: "Filter by name" }).fill("cm-04321");
  await page.getByRole("link", { name: "cm-04321" }).click();
  await visible(page.getByRole("heading", { name: "ConfigMap: cm-04321" }));
  await visible(page.getByTestId("configmap-data").getByText("4321", { exact: true }));
  // Back returns to the search as it was (it lives in the address).
  await page.goBack();
  await firstRowIs("Config maps", "cm-04321");
});

/** Scrolls the list's rows down with the mouse wheel, checking after every step that at most 100
 * rows are in the page; ends on the page's last row. */
async function scrollRows(label, last) {
  const max = { rows: 0 };
  await wheelThrough(page, `[role="table"][aria-label="${label}"] .scroll`, 24, 100, async () => {
    max.rows = Math.max(max.rows, await page.locator('[role="row"]').count());
  });
  assert.ok(max.rows <= 100, `${max.rows} rows in the page while scrolling`);
  const names = await rowNames(label);
  assert.equal(names.at(-1), last, "scrolled to the page's last row");
}

test("scrolling the 10,000 ConfigMaps: at most 100 rows in the DOM throughout (frame times printed)", async () => {
  await go("/clusters/host/projects/big/configmaps");
  await totalIs("10,000 items");
  await firstRowIs("Config maps", "cm-00000");
  // Frame times are printed for people (bench/scroll.mjs measures them for BENCHMARKS.md); the
  // test asserts only what the DOM holds.
  await startFrames(page);
  await scrollRows("Config maps", "cm-00049");
  await page.getByRole("button", { name: "Next page" }).click();
  await firstRowIs("Config maps", "cm-00050");
  // Another page starts at its top.
  assert.equal(await page.locator('[role="table"][aria-label="Config maps"] .scroll').evaluate((e) => e.scrollTop), 0);
  await scrollRows("Config maps", "cm-00099");
  console.log(`# scrolling the 10,000-ConfigMap list (2 pages of 50): ${frameSummary(await stopFrames(page))}`);
});

test("a paged list stays live: an object made or removed elsewhere shows up and goes, with the count", async () => {
  await go("/clusters/host/projects/big/configmaps?name=cm-live");
  await totalIs("0 items");
  await visible(page.getByText("Live", { exact: true }));
  await must("POST", "/api/v1/namespaces/big/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm-live-1" }, data: { a: "1" } });
  await firstRowIs("Config maps", "cm-live-1");
  await totalIs("1 item");
  // A change to a row on the page shows without a reload (its key count).
  await must("PUT", "/api/v1/namespaces/big/configmaps/cm-live-1", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm-live-1" }, data: { a: "1", b: "2" } });
  await page.waitForFunction(() => document.querySelectorAll('[role="row"][data-index="0"] [role="cell"]')[1]?.textContent === "2", null, { timeout: WAIT });
  await must("DELETE", "/api/v1/namespaces/big/configmaps/cm-live-1");
  await totalIs("0 items");
  await visible(page.getByText("Nothing here yet."));
});

test("object pages show what people look for first", async () => {
  // Wait (bounded) until both pods serve the Service.
  const deadline = Date.now() + WAIT;
  let ready = 0;
  do {
    const slices = await must("GET", "/apis/discovery.k8s.io/v1/namespaces/app/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb");
    ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).length;
    if (ready === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  assert.equal(ready, 2, "two ready endpoints");
  // A Service: type, cluster IP, ports, endpoints (its pods, linked).
  await go("/clusters/host/projects/app/services/web");
  await visible(page.getByRole("heading", { name: "Service: web" }));
  assert.equal(await page.title(), "Service: web · Orrery");
  await page.waitForFunction(() => /^\d+\.\d+\.\d+\.\d+$/.test(document.querySelector('[data-testid="cluster-ip"]')?.textContent ?? ""), null, { timeout: WAIT });
  const ports = page.getByRole("table", { name: "Ports" }).first();
  await visible(ports.getByRole("row").filter({ hasText: "http" }).filter({ hasText: "8080" }).filter({ hasText: "TCP" }));
  const endpoints = page.getByRole("table", { name: "Endpoints" });
  await page.waitForFunction(() => document.querySelectorAll('[role="table"][aria-label="Endpoints"] [role="row"][data-index]').length === 2, null, { timeout: WAIT });
  await visible(endpoints.getByRole("row").filter({ hasText: "8080/TCP" }));
  await shot("service-detail");
  // A pod from the endpoints: its node, IP and owner (the Deployment, past its ReplicaSet).
  await endpoints.getByRole("link", { name: /^web-/ }).first().click();
  await visible(page.getByRole("heading", { name: /^Pod: web-/ }));
  await page.waitForFunction(() => /^\d+\.\d+\.\d+\.\d+$/.test(document.querySelector('[data-testid="pod-ip"]')?.textContent ?? ""), null, { timeout: WAIT });
  const node = page.getByTestId("pod-node").getByRole("link");
  await visible(node);
  assert.ok((await node.textContent()).length > 0);
  await visible(page.getByTestId("pod-owner").getByRole("link", { name: "Deployment/web" }));
  await visible(page.getByRole("table", { name: "Conditions" }).getByRole("row").filter({ hasText: "Ready" }));
  await shot("pod-detail");
  // Its events, newest first, with relative times in the user's language and the exact time on hover.
  await page.getByRole("tab", { name: "Events" }).click();
  const when = page.getByRole("table", { name: "Events" }).locator("time");
  await visible(when);
  assert.match(await when.first().textContent(), /ago|now/);
  assert.ok((await when.first().getAttribute("title")).length > 0);
  await page.getByRole("tab", { name: "Overview" }).click();
  await page.getByTestId("pod-owner").getByRole("link", { name: "Deployment/web" }).click();
  await visible(page.getByRole("heading", { name: "Deployment: web" }));
  await visible(page.getByRole("table", { name: "Conditions" }).getByRole("row").filter({ hasText: "Available" }).locator(".badge.ok"));
  // A ConfigMap: its data.
  await go("/clusters/host/projects/app/configmaps/settings");
  const data = page.getByTestId("configmap-data");
  await visible(data.getByText("mode", { exact: true }));
  await visible(data.getByText("demo", { exact: true }));
  await visible(data.locator("pre", { hasText: "log: debug" }));
  await shot("configmap-detail");
  // Nodes: memory for people, never as kubelets report it.
  await go("/clusters/host/nodes");
  await page.waitForFunction(() => /\d+(\.\d)? [KMGT]iB/.test(document.querySelector('[role="table"]')?.textContent ?? ""), null, { timeout: WAIT });
  assert.doesNotMatch(await page.getByRole("table").first().textContent(), /\d+Ki\b/);
});

test("the workspace dialog shows the host as holding it; names are checked in the browser", async () => {
  await go("/platform/workspaces");
  await page.getByRole("button", { name: "Create workspace" }).click();
  const host = page.getByLabel("host", { exact: true });
  assert.equal(await host.isChecked(), true);
  assert.equal(await host.isDisabled(), true);
  const nameBox = page.getByRole("dialog").getByLabel("Name", { exact: true });
  // The pattern compiles in the browser (an invalid one is ignored and checks nothing).
  await nameBox.fill("Bad_Name");
  assert.equal(await nameBox.evaluate((el) => el.validity.patternMismatch), true);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  assert.equal(await page.getByRole("dialog").isVisible(), true, "the browser refused the bad name");
  await nameBox.fill("ws-a");
  assert.equal(await nameBox.evaluate((el) => el.validity.valid), true);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("row").filter({ hasText: "ws-a" }).filter({ hasText: "host" }));
  const t = await must("GET", "/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates/ws-a");
  assert.deepEqual(t.spec.placement.clusters, [{ name: "host" }]);
  // The create forms check names too: a Deployment's as a DNS subdomain, a Service's as a DNS label.
  for (const [form, bad, good] of [
    ["workload/deployments", "Bad_Name", "web.v2"],
    ["service", "9web", "web-2"],
  ]) {
    await go(`/clusters/host/projects/app/create/${form}`);
    const box = page.getByLabel("Name", { exact: true });
    await box.fill(bad);
    assert.equal(await box.evaluate((el) => el.validity.patternMismatch), true, `${form}: ${bad}`);
    await box.fill(good);
    assert.equal(await box.evaluate((el) => el.validity.valid), true, `${form}: ${good}`);
  }
});

test("on a narrow window the navigation folds behind a Menu button", async () => {
  await page.setViewportSize({ width: 600, height: 900 });
  await go("/clusters/host/overview");
  const menu = page.getByRole("button", { name: /Menu/ });
  await visible(menu);
  const side = page.locator("#side-nav");
  assert.equal(await side.isVisible(), false);
  assert.equal(await menu.getAttribute("aria-expanded"), "false");
  await menu.click();
  assert.equal(await menu.getAttribute("aria-expanded"), "true");
  await visible(side);
  await shot("narrow-menu-open");
  await side.getByRole("link", { name: "Nodes" }).click();
  await visible(page.getByRole("heading", { name: "Nodes" }));
  assert.equal(await side.isVisible(), false, "the menu folds after a choice");
  // The content uses the whole width.
  const width = await page.locator("main").evaluate((m) => m.getBoundingClientRect().width);
  assert.ok(width >= 580, `main is ${width}px wide`);
  await page.setViewportSize({ width: 1400, height: 900 });
  await visible(side);
  assert.equal(await menu.isVisible(), false);
});

test("a user without platform rights: a home of their own, no platform pages, refusals said plainly", async () => {
  await must("POST", "/kapis/iam.kubesphere.io/v1beta1/users", {
    apiVersion: "iam.kubesphere.io/v1beta1",
    kind: "User",
    metadata: { name: "nobody", annotations: { "iam.kubesphere.io/globalrole": "platform-regular" } },
    spec: { email: "nobody@example.com", password: "Nobody0Pass1" },
  });
  const ctx = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  const p = await ctx.newPage();
  p.on("pageerror", (e) => problems.push(String(e)));
  await p.goto(`${env.url}/console/login`);
  await p.getByLabel("Username", { exact: true }).fill("nobody");
  await p.getByLabel("Password", { exact: true }).fill("Nobody0Pass1");
  await p.getByRole("button", { name: "Log in" }).click();
  // Home is their workspaces; the platform's pages they may not use are not offered.
  await visible(p.getByRole("heading", { name: "Workspaces" }));
  const side = p.getByRole("navigation", { name: "Platform" });
  for (const hidden of ["Clusters", "Users", "Platform roles", "Identity providers"]) {
    assert.equal(await side.getByRole("link", { name: hidden, exact: true }).count(), 0, hidden);
  }
  await p.goto(`${env.url}/console/platform/users`);
  await visible(p.getByRole("heading", { name: "Users" }));
  assert.equal(await p.getByRole("button", { name: "Create user" }).count(), 0);
  // A paged list they may not read says so, in their words, with the server's detail a click away.
  await p.goto(`${env.url}/console/clusters/host/projects/big/configmaps`);
  const refusal = p.getByRole("alert").filter({ hasText: "You are not allowed to do this." });
  await visible(refusal);
  assert.equal(await p.getByText("Reconnecting…").count(), 0);
  assert.equal(await p.getByRole("table").count(), 0);
  await refusal.getByText("Details from the server").click();
  await visible(refusal.locator("pre", { hasText: /forbidden|not allowed|cannot/i }));
  // An unknown address says so, titled, with a way home.
  await p.goto(`${env.url}/console/no/such/page`);
  await visible(p.getByRole("heading", { name: "Page not found" }));
  assert.equal(await p.title(), "Page not found · Orrery");
  await p.getByRole("link", { name: "Go to the console's home page" }).click();
  await visible(p.getByRole("heading", { name: "Workspaces" }));
  await p.screenshot({ path: join(screenshots, "nobody-home.png"), fullPage: true });
  await ctx.close();
});

test("the pages ran without script errors or Content-Security-Policy violations", () => {
  assert.deepEqual(problems, []);
});
