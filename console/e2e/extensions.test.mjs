// UI extensions and the extension marketplace in a real browser against a real `orrery serve`
// (docs/extensions.md "UI extensions"). A hand-made extension's JSBundle (from a ConfigMap) and
// ExtensionEntry appear while the console is open: its menu entries and pages show up without a
// reload, in English and Chinese, with the console's React, router and SDK through the import
// map under the strict CSP. The example extension (examples/extensions/hello), packaged and served
// as a Helm repository by the test, is installed from the marketplace: repository, extension
// page, install dialog (placement and overrides), live state, its menu entry and page in both
// languages with its backend reached through its APIService, uninstall. A bundle whose module
// throws shows its error in its own area only.
// Run: node --test e2e/extensions.test.mjs (after scripts/console.sh build and cargo build -p
// orrery; needs /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiCall, apiToken, changeAdminPassword, orreryBin, root, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;
const EXT = "/apis/extensions.kubesphere.io/v1alpha1";
const NS = "extension-handmade";
// Installing takes the installer a few steps (fetch, check, render, release, agents).
const INSTALL_WAIT = 180_000;

// A hand-made frontend as the build makes it: an ES module importing the shared libraries.
const GREETER = `
import { jsx, jsxs } from "react/jsx-runtime";
import { useState } from "react";
import { useParams } from "react-router-dom";
import { PageHead, ErrorBox, useLoad, useT, useExtension } from "@orrery/console";

function Greeter() {
  const { t } = useT();
  const { name } = useExtension();
  const [clicks, setClicks] = useState(0);
  const version = useLoad("/version");
  return jsxs("div", { children: [
    jsx(PageHead, { title: t("greeter.title") }),
    jsx(ErrorBox, { error: version.error }),
    jsx("p", { "data-testid": "greeter-version", children: t("greeter.version", { version: version.data ? version.data.gitVersion : "…", name }) }),
    jsx("button", { type: "button", onClick: () => setClicks(clicks + 1), children: t("greeter.clicks", { n: clicks }) }),
  ] });
}

function ClusterGreeter() {
  const { cluster } = useParams();
  const { t } = useT();
  return jsx(PageHead, { title: t("greeter.cluster", { cluster }) });
}

export default {
  sdk: 1,
  routes: [
    { path: "/ext/greeter", title: "greeter.title", component: Greeter },
    { path: "/clusters/:cluster/ext/greeter", title: "greeter.menu", component: ClusterGreeter },
  ],
  locales: {
    en: { "greeter.menu": "Greeter", "greeter.title": "Greetings from an extension", "greeter.version": "{name} runs on {version}", "greeter.clicks": "Clicked {n} times", "greeter.cluster": "Greetings, cluster {cluster}" },
    "zh-CN": { "greeter.menu": "问候", "greeter.title": "来自扩展组件的问候", "greeter.version": "{name} 运行于 {version}", "greeter.clicks": "点击了 {n} 次", "greeter.cluster": "你好，集群 {cluster}" },
  },
  menus: [{ name: "greeter-cluster", parent: "cluster", title: "greeter.menu", link: "/clusters/:cluster/ext/greeter" }],
};
`;

const BROKEN = `
import { jsx } from "react/jsx-runtime";
throw new Error("broken on purpose");
export default { routes: [{ path: "/ext/broken", component: () => jsx("p", { children: "never" }) }] };
`;

let env;
let token;
let page;
let repoDir;
let repo;
let backend;
const problems = [];

/** Polls `probe` until it answers truthy (bounded by INSTALL_WAIT). */
async function eventually(what, probe) {
  const deadline = Date.now() + INSTALL_WAIT;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** An HTTP server on 127.0.0.1 (a free port): `{server, url}`. */
function listen(handler) {
  const server = createServer(handler);
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

const call = async (method, path, body) => {
  const r = await apiCall(env.url, token, method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

/** An extension's UI as its frontend chart makes it: the bundle in a ConfigMap, a JSBundle, an ExtensionEntry. */
async function installUi(name, source, entries, assets = {}) {
  const labels = { "kubesphere.io/extension-ref": name };
  await call("POST", `/api/v1/namespaces/${NS}/configmaps`, { metadata: { name: `${name}-frontend`, labels }, data: { "index.js": source, ...assets } });
  await call("POST", `${EXT}/jsbundles`, {
    apiVersion: "extensions.kubesphere.io/v1alpha1",
    kind: "JSBundle",
    metadata: { name, labels },
    spec: { rawFrom: { configMapKeyRef: { namespace: NS, name: `${name}-frontend`, key: "index.js" } } },
  });
  await call("POST", `${EXT}/extensionentries`, { apiVersion: "extensions.kubesphere.io/v1alpha1", kind: "ExtensionEntry", metadata: { name, labels }, spec: { entries } });
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await call("POST", "/api/v1/namespaces", { metadata: { name: NS } });

  // The example extension packaged at two versions, served as a Helm repository.
  repoDir = mkdtempSync(join(tmpdir(), "orrery-e2e-extrepo-"));
  const example = join(root, "examples/extensions/hello");
  const files = new Map();
  let index = "apiVersion: v1\nentries:\n  hello:\n";
  for (const version of ["0.1.0", "0.2.0"]) {
    execFileSync(orreryBin(), ["extension", "package", example, "--no-build", "--version", version, "-d", repoDir]);
    const bytes = readFileSync(join(repoDir, `hello-${version}.tgz`));
    files.set(`/hello-${version}.tgz`, bytes);
    index += `  - name: hello\n    version: ${version}\n    urls: [hello-${version}.tgz]\n    digest: ${createHash("sha256").update(bytes).digest("hex")}\n`;
  }
  files.set("/index.yaml", Buffer.from(index));
  repo = await listen((req, res) => {
    const body = files.get(req.url ?? "");
    res.writeHead(body ? 200 : 404).end(body ?? "not found");
  });
  // The example's backend, as the platform reaches it through the APIService (with the caller's
  // identity in X-Remote-User).
  backend = await listen((req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    const user = String(req.headers["x-remote-user"] ?? "");
    res.end(JSON.stringify({ message: `Hello, ${user}`, user, version: "test", cluster: "host" }));
  });

  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Invalid hook call/i.test(m.text())) problems.push(m.text());
  });
});

after(async () => {
  await env?.stop();
  repo?.server.close();
  backend?.server.close();
  if (repoDir) rmSync(repoDir, { recursive: true, force: true });
});

const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
const visible = (locator, timeout = WAIT) => locator.first().waitFor({ state: "visible", timeout });
const side = () => page.locator("nav.side");
const row = (text) => page.getByRole("row").filter({ hasText: text });
/** To the platform level (the console's home) without reloading the page. */
const home = async () => {
  await page.locator("header.topbar").getByRole("link", { name: "Orrery", exact: true }).click();
  await page.waitForURL(/\/console\/platform\/clusters$/, { timeout: WAIT });
};

test("the console serves its shared libraries and allows only its import map", async () => {
  const r = await fetch(`${env.url}/console/`);
  const csp = r.headers.get("content-security-policy") ?? "";
  const scripts = csp.split(";").find((d) => d.trim().startsWith("script-src")) ?? "";
  assert.match(scripts, /^ ?script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'$/, csp);
  const html = await r.text();
  const map = JSON.parse(/<script type="importmap">([^<]*)<\/script>/.exec(html)?.[1] ?? "{}");
  assert.deepEqual(Object.keys(map.imports).sort(), ["@orrery/console", "react", "react-dom", "react-router-dom", "react/jsx-runtime"]);
  for (const url of Object.values(map.imports)) {
    const m = await fetch(`${env.url}${url}`);
    assert.equal(m.status, 200, url);
    assert.match(m.headers.get("content-type") ?? "", /javascript/, url);
  }
});

test("an extension whose objects appear while the console is open shows its menu entries and pages, in English and Chinese", async () => {
  await page.goto(`${env.url}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await visible(page.getByTestId("user"));
  await page.waitForURL(/\/console\/platform\/clusters$/, { timeout: WAIT });
  // Marks this document: were the page reloaded, the mark would be gone.
  await page.evaluate(() => {
    window.__orreryMark = "no reload";
  });
  assert.equal(await side().getByRole("link", { name: "Greeter", exact: true }).count(), 0);

  await installUi("greeter", GREETER, [{ name: "greeter", parent: "platform", title: "greeter.menu", link: "/ext/greeter", order: 1 }], { "greeter.css": "section { color: inherit; }" });

  // The entry appears (its title a key of the bundle's messages, so the bundle is in too).
  const link = side().getByRole("link", { name: "Greeter", exact: true });
  await visible(link);
  await link.click();
  await page.waitForURL(/\/console\/ext\/greeter$/, { timeout: WAIT });
  await visible(page.getByRole("heading", { name: "Greetings from an extension" }));
  assert.equal(await page.title(), "Greetings from an extension · Orrery");
  // The SDK's client reached the API with the session; hooks work (one React in the page).
  await visible(page.getByTestId("greeter-version").getByText(/^greeter runs on v1\.\d+/));
  await page.getByRole("button", { name: "Clicked 0 times" }).click();
  await visible(page.getByRole("button", { name: "Clicked 1 times" }));
  await shot("ext-greeter");

  // A menu entry from the bundle itself, at the cluster level, with the cluster filled in.
  await page.getByLabel("Cluster", { exact: true }).selectOption("host");
  const clusterLink = side().getByRole("link", { name: "Greeter", exact: true });
  await visible(clusterLink);
  await clusterLink.click();
  await page.waitForURL(/\/console\/clusters\/host\/ext\/greeter$/, { timeout: WAIT });
  await visible(page.getByRole("heading", { name: "Greetings, cluster host" }));

  // In Chinese: the console's words and the extension's.
  await page.getByLabel("Language").selectOption("zh-CN");
  await visible(page.getByRole("heading", { name: "你好，集群 host" }));
  await side().getByRole("link", { name: "← 平台" }).click();
  const zhLink = side().getByRole("link", { name: "问候", exact: true });
  await visible(zhLink);
  await zhLink.click();
  await visible(page.getByRole("heading", { name: "来自扩展组件的问候" }));
  await visible(page.getByTestId("greeter-version").getByText(/^greeter 运行于 v1\./));
  await shot("ext-greeter-zh");
  await page.getByLabel("语言").selectOption("en");
  await visible(page.getByRole("heading", { name: "Greetings from an extension" }));
  assert.equal(await page.evaluate(() => window.__orreryMark), "no reload");
  assert.deepEqual(problems, []);
});

test("the example extension installed from the marketplace brings its menu entry and page, in English and Chinese", async () => {
  // The marketplace is empty until a repository is added.
  await page.locator("header.topbar").getByRole("link", { name: "Extensions", exact: true }).click();
  await page.waitForURL(/\/console\/marketplace$/, { timeout: WAIT });
  await visible(page.getByText("The marketplace is empty: add an extension repository."));
  await side().getByRole("link", { name: "Extension repositories" }).click();
  await page.getByRole("button", { name: "Add", exact: true }).click();
  const form = page.getByRole("form", { name: "Add an extension repository" });
  await form.getByLabel("Name").fill("local");
  await form.getByLabel("URL").fill(repo.url);
  await form.getByRole("button", { name: "Add", exact: true }).click();
  await visible(row("local").locator('[data-state="Synced"]'));
  await shot("ext-repos");

  // The extension in the marketplace: search, its page (README, provider, versions).
  await side().getByRole("link", { name: "Marketplace", exact: true }).click();
  await page.getByLabel("Search extensions").fill("greeting");
  const card = page.locator('a[data-extension="hello"]');
  await visible(card);
  await shot("ext-marketplace");
  await card.click();
  await page.waitForURL(/\/console\/marketplace\/extensions\/hello$/, { timeout: WAIT });
  await visible(page.getByRole("heading", { name: "Hello", level: 1 }));
  await visible(page.getByTestId("readme").getByText(/adds Hello/));
  await visible(page.getByTestId("provider").getByText("The Orrery authors"));
  assert.deepEqual(await page.getByRole("complementary").getByRole("combobox").locator("option").allTextContents(), ["0.2.0", "0.1.0"]);

  // The install dialog: version 0.1.0, the agent placed on the host with an override that
  // points the APIService at the test's backend.
  await page.getByRole("button", { name: "Install", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.locator('select[name="version"]').selectOption({ label: "0.1.0" });
  await visible(dialog.getByTestId("yaml-editor").locator(".cm-content"));
  await visible(dialog.locator('[data-check="ok"]'));
  await dialog.getByRole("checkbox", { name: "host" }).check();
  await dialog.getByLabel("Overrides for host (YAML)").fill(`backend:\n  apiService:\n    url: ${backend.url}\n`);
  await shot("ext-install");
  await dialog.getByRole("button", { name: "Install", exact: true }).click();
  await dialog.waitFor({ state: "hidden", timeout: WAIT });

  // The state follows the InstallPlan live until it is installed; its history is kept.
  const state = page.getByTestId("install-state");
  await visible(page.locator('[data-testid="install-state"][data-state="Installed"]'), INSTALL_WAIT);
  assert.equal(await state.getAttribute("data-state"), "Installed");
  await visible(page.getByTestId("install-version").getByText("0.1.0"));
  await visible(page.getByTestId("installation").getByRole("row").filter({ hasText: "Installing" }));
  await shot("ext-installed");

  // Its menu entry (at the platform level) and page, without a reload; the page reaches its
  // backend as the user.
  await home();
  const link = side().getByRole("link", { name: "Hello", exact: true });
  await visible(link, INSTALL_WAIT);
  await link.click();
  await page.waitForURL(/\/console\/ext\/hello$/, { timeout: WAIT });
  await visible(page.getByTestId("hello-intro").getByText("This page comes from the hello extension."));
  await visible(page.getByTestId("hello-answer").getByText("Hello, admin"));
  await shot("ext-hello");
  await page.getByLabel("Language").selectOption("zh-CN");
  await visible(page.getByTestId("hello-intro").getByText("此页面来自 hello 扩展。"));
  await visible(side().getByRole("link", { name: "你好", exact: true }));
  await visible(page.getByRole("heading", { name: "你好", level: 1 }));
  await shot("ext-hello-zh");
  await page.getByLabel("语言").selectOption("en");
  await page.locator("header.topbar").getByRole("link", { name: "Extensions", exact: true }).click();
  await side().getByRole("link", { name: "Installed extensions" }).click();
  await visible(row("Hello").locator('[data-state="Installed"]'));
  assert.equal(await page.evaluate(() => window.__orreryMark), "no reload");
  assert.deepEqual(problems, []);
});

test("a signed-in user without roles gets the extensions' UI too, and not the marketplace", async () => {
  const VIEWER_PW = "Viewer0Pass";
  await call("POST", "/kapis/iam.kubesphere.io/v1beta1/users", {
    apiVersion: "iam.kubesphere.io/v1beta1",
    kind: "User",
    metadata: { name: "viewer" },
    spec: { email: "viewer@example.com", password: VIEWER_PW },
  });
  const viewer = await apiToken(env.url, "viewer", VIEWER_PW);
  assert.equal((await apiCall(env.url, viewer, "GET", `${EXT}/jsbundles`)).status, 200);
  assert.equal((await apiCall(env.url, viewer, "GET", `${EXT}/extensionentries/hello`)).status, 200);
  const js = await fetch(`${env.url}/dist/hello/index.js`, { headers: { Authorization: `Bearer ${viewer}` } });
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type") ?? "", /^application\/javascript/);
  // Reading is all: no writes, no other extension kinds, no marketplace.
  assert.equal((await apiCall(env.url, viewer, "DELETE", `${EXT}/jsbundles/greeter`)).status, 403);
  assert.equal((await apiCall(env.url, viewer, "GET", "/apis/kubesphere.io/v1alpha1/installplans")).status, 403);
  assert.equal((await fetch(`${env.url}/dist/greeter/index.js`)).status, 401);
  // A bundle's assets are served beside it, from the same ConfigMap.
  const css = await fetch(`${env.url}/dist/greeter/greeter.css`, { headers: { Authorization: `Bearer ${viewer}` } });
  assert.equal(css.status, 200);
  assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
  assert.equal(await css.text(), "section { color: inherit; }");
  assert.equal((await fetch(`${env.url}/dist/greeter/none.js`, { headers: { Authorization: `Bearer ${viewer}` } })).status, 404);

  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  const p = await context.newPage();
  p.on("pageerror", (e) => problems.push(String(e)));
  await p.goto(`${env.url}/console/login`);
  await p.getByLabel("Username", { exact: true }).fill("viewer");
  await p.getByLabel("Password", { exact: true }).fill(VIEWER_PW);
  await p.getByRole("button", { name: "Log in" }).click();
  await p.getByTestId("user").waitFor({ state: "visible", timeout: WAIT });
  const link = p.locator("nav.side").getByRole("link", { name: "Greeter", exact: true });
  await link.waitFor({ state: "visible", timeout: WAIT });
  await p.locator("nav.side").getByRole("link", { name: "Hello", exact: true }).waitFor({ state: "visible", timeout: WAIT });
  await link.click();
  await p.getByRole("heading", { name: "Greetings from an extension" }).waitFor({ state: "visible", timeout: WAIT });
  assert.equal(await p.locator("header.topbar").getByRole("link", { name: "Extensions", exact: true }).count(), 0);
  await context.close();
  assert.deepEqual(problems, []);
});

test("a bundle whose module throws shows its error in its own area only", async () => {
  await home();
  await installUi("broken", BROKEN, [{ name: "broken", parent: "platform", title: { en: "Broken", "zh-CN": "损坏" }, link: "/ext/broken" }]);
  const link = side().getByRole("link", { name: "Broken", exact: true });
  await visible(link);
  await link.click();
  await page.waitForURL(/\/console\/ext\/broken$/, { timeout: WAIT });
  const area = page.locator('[data-extension-error="broken"]');
  await visible(area);
  await area.getByText("Details", { exact: true }).click();
  await visible(area.getByText("broken on purpose"));
  // The frame and the rest of the console keep working: the other extensions, the console's pages.
  await visible(page.getByTestId("user"));
  await shot("ext-broken");
  await side().getByRole("link", { name: "Greeter", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Greetings from an extension" }));
  await side().getByRole("link", { name: "Hello", exact: true }).click();
  await visible(page.getByTestId("hello-intro"));
  assert.equal(await page.locator("[data-extension-error]").count(), 0);
  await side().getByRole("link", { name: "Users" }).click();
  await page.waitForURL(/\/console\/platform\/users$/, { timeout: WAIT });
  await visible(page.locator("main h1"));

  // Removing the extension takes its entry away, again without a reload.
  await call("DELETE", `${EXT}/extensionentries/broken`);
  await call("DELETE", `${EXT}/jsbundles/broken`);
  await side().getByRole("link", { name: "Broken", exact: true }).waitFor({ state: "detached", timeout: WAIT });
  assert.equal(await page.evaluate(() => window.__orreryMark), "no reload");
  assert.deepEqual(problems, []);
});

test("uninstalling the example from the marketplace takes its menu entry away", async () => {
  await page.locator("header.topbar").getByRole("link", { name: "Extensions", exact: true }).click();
  await page.locator('a[data-extension="hello"]').click();
  await page.getByTestId("installation").getByRole("button", { name: "Uninstall" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.waitForURL(/\/console\/marketplace\/installed$/, { timeout: WAIT });
  await row("Hello").first().waitFor({ state: "detached", timeout: INSTALL_WAIT });
  // The plan goes once everything it installed is removed.
  await eventually("the InstallPlan is gone", async () => (await apiCall(env.url, token, "GET", "/apis/kubesphere.io/v1alpha1/installplans/hello")).status === 404);
  await home();
  await visible(side().getByRole("link", { name: "Greeter", exact: true }));
  await side().getByRole("link", { name: "Hello", exact: true }).waitFor({ state: "detached", timeout: WAIT });
  assert.equal(await page.evaluate(() => window.__orreryMark), "no reload");
  assert.deepEqual(problems, []);
});

test("a failed install shows why and recovers on another version; disabled, the UI goes, enabled, it returns", async () => {
  // A plan naming a version no repository has (as a stale or mistyped plan would).
  await call("POST", "/apis/kubesphere.io/v1alpha1/installplans", {
    apiVersion: "kubesphere.io/v1alpha1",
    kind: "InstallPlan",
    metadata: { name: "hello" },
    spec: { extension: { name: "hello", version: "9.9.9" }, enabled: true, upgradeStrategy: "Manual" },
  });
  await page.locator("header.topbar").getByRole("link", { name: "Extensions", exact: true }).click();
  await page.locator('a[data-extension="hello"]').click();
  await visible(page.locator('[data-testid="install-state"][data-state="InstallFailed"]'), INSTALL_WAIT);
  await visible(page.getByTestId("install-failure").getByText(/9\.9\.9/));
  await visible(page.getByTestId("installation").getByRole("button", { name: "Retry" }));
  await shot("ext-failed");

  // Upgrading to a version that exists installs it.
  await page.getByTestId("installation").getByRole("button", { name: "Upgrade" }).click();
  const form = page.getByRole("form", { name: "Upgrade" });
  await form.locator('select[name="version"]').selectOption("0.2.0");
  await form.getByRole("button", { name: "Upgrade" }).click();
  await visible(page.locator('[data-testid="install-state"][data-state="Installed"], [data-testid="install-state"][data-state="Upgraded"]'), INSTALL_WAIT);
  await visible(page.getByTestId("install-version").getByText("0.2.0"));
  assert.equal(await page.getByTestId("install-failure").count(), 0);
  await home();
  await visible(side().getByRole("link", { name: "Hello", exact: true }), INSTALL_WAIT);

  // Disabled, the extension's UI goes (the installer removes its frontend); enabled, it returns.
  const extensionPage = async () => {
    await page.locator("header.topbar").getByRole("link", { name: "Extensions", exact: true }).click();
    await page.locator('a[data-extension="hello"]').click();
    await visible(page.getByTestId("installation"));
  };
  await extensionPage();
  await page.getByTestId("installation").getByRole("button", { name: "Disable" }).click();
  await visible(page.getByTestId("installation").getByText("Disabled", { exact: true }));
  await home();
  await side().getByRole("link", { name: "Hello", exact: true }).waitFor({ state: "detached", timeout: INSTALL_WAIT });
  await extensionPage();
  await page.getByTestId("installation").getByRole("button", { name: "Enable" }).click();
  await home();
  await visible(side().getByRole("link", { name: "Hello", exact: true }), INSTALL_WAIT);
  assert.equal(await page.evaluate(() => window.__orreryMark), "no reload");
  assert.deepEqual(problems, []);
});
