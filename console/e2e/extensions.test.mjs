// UI extensions in a real browser against a real `orrery serve` (docs/extensions.md "UI
// extensions"): an extension's JSBundle (from a ConfigMap) and ExtensionEntry appear while the
// console is open — its menu entry and page show up without a reload, in English and Chinese,
// with the console's own React, router and SDK through the import map under the strict CSP —
// and a bundle whose module throws shows its error in its own area only.
// Run: node --test e2e/extensions.test.mjs (after scripts/console.sh build and cargo build -p
// orrery; needs /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { apiCall, apiToken, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;
const EXT = "/apis/extensions.kubesphere.io/v1alpha1";
const NS = "extension-hello";

// The example's frontend as the build makes it: an ES module importing the shared libraries.
const HELLO = `
import { jsx, jsxs } from "react/jsx-runtime";
import { useState } from "react";
import { useParams } from "react-router-dom";
import { PageHead, ErrorBox, useLoad, useT, useExtension } from "@orrery/console";

function Hello() {
  const { t } = useT();
  const { name } = useExtension();
  const [clicks, setClicks] = useState(0);
  const version = useLoad("/version");
  return jsxs("div", { children: [
    jsx(PageHead, { title: t("hello.title") }),
    jsx(ErrorBox, { error: version.error }),
    jsx("p", { "data-testid": "hello-version", children: t("hello.version", { version: version.data ? version.data.gitVersion : "…", name }) }),
    jsx("button", { type: "button", onClick: () => setClicks(clicks + 1), children: t("hello.clicks", { n: clicks }) }),
  ] });
}

function ClusterHello() {
  const { cluster } = useParams();
  const { t } = useT();
  return jsx(PageHead, { title: t("hello.cluster", { cluster }) });
}

export default {
  sdk: 1,
  routes: [
    { path: "/ext/hello", title: "hello.title", component: Hello },
    { path: "/clusters/:cluster/ext/hello", title: "hello.menu", component: ClusterHello },
  ],
  locales: {
    en: { "hello.menu": "Hello", "hello.title": "Hello from an extension", "hello.version": "{name} runs on {version}", "hello.clicks": "Clicked {n} times", "hello.cluster": "Hello, cluster {cluster}" },
    "zh-CN": { "hello.menu": "你好", "hello.title": "来自扩展组件的问候", "hello.version": "{name} 运行于 {version}", "hello.clicks": "点击了 {n} 次", "hello.cluster": "你好，集群 {cluster}" },
  },
  menus: [{ name: "hello-cluster", parent: "cluster", title: "hello.menu", link: "/clusters/:cluster/ext/hello" }],
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
const problems = [];

const call = async (method, path, body) => {
  const r = await apiCall(env.url, token, method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

/** An extension's UI as its frontend chart makes it: the bundle in a ConfigMap, a JSBundle, an ExtensionEntry. */
async function installUi(name, source, entries) {
  const labels = { "kubesphere.io/extension-ref": name };
  await call("POST", `/api/v1/namespaces/${NS}/configmaps`, { metadata: { name: `${name}-frontend`, labels }, data: { "index.js": source } });
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
  token = await apiToken(env.url, "admin", INITIAL);
  const r = await apiCall(env.url, token, "PUT", "/kapis/iam.kubesphere.io/v1beta1/users/admin/password", { currentPassword: INITIAL, password: ADMIN_PW });
  assert.ok(r.status < 300, `password: ${r.status} ${JSON.stringify(r.body)}`);
  token = await apiToken(env.url, "admin", ADMIN_PW);
  await call("POST", "/api/v1/namespaces", { metadata: { name: NS } });

  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Invalid hook call/i.test(m.text())) problems.push(m.text());
  });
});

after(async () => {
  await env?.stop();
});

const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
const visible = (locator, timeout = WAIT) => locator.first().waitFor({ state: "visible", timeout });
const side = () => page.locator("nav.side");

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

test("an extension installed while the console is open shows its menu entry and page, in English and Chinese", async () => {
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
  assert.equal(await side().getByRole("link", { name: "Hello", exact: true }).count(), 0);

  await installUi("hello", HELLO, [{ name: "hello", parent: "platform", title: "hello.menu", link: "/ext/hello", order: 1 }]);

  // The entry appears (its title a key of the bundle's messages, so the bundle is in too).
  const link = side().getByRole("link", { name: "Hello", exact: true });
  await visible(link);
  await link.click();
  await page.waitForURL(/\/console\/ext\/hello$/, { timeout: WAIT });
  await visible(page.getByRole("heading", { name: "Hello from an extension" }));
  assert.equal(await page.title(), "Hello from an extension · Orrery");
  // The SDK's client reached the API with the session; hooks work (one React in the page).
  await visible(page.getByTestId("hello-version").getByText(/^hello runs on v1\.\d+/));
  await page.getByRole("button", { name: "Clicked 0 times" }).click();
  await visible(page.getByRole("button", { name: "Clicked 1 times" }));
  await shot("ext-hello");

  // A menu entry from the bundle itself, at the cluster level, with the cluster filled in.
  await page.getByLabel("Cluster", { exact: true }).selectOption("host");
  const clusterLink = side().getByRole("link", { name: "Hello", exact: true });
  await visible(clusterLink);
  await clusterLink.click();
  await page.waitForURL(/\/console\/clusters\/host\/ext\/hello$/, { timeout: WAIT });
  await visible(page.getByRole("heading", { name: "Hello, cluster host" }));

  // In Chinese: the console's words and the extension's.
  await page.getByLabel("Language").selectOption("zh-CN");
  await visible(page.getByRole("heading", { name: "你好，集群 host" }));
  await side().getByRole("link", { name: "← 平台" }).click();
  const zhLink = side().getByRole("link", { name: "你好", exact: true });
  await visible(zhLink);
  await zhLink.click();
  await visible(page.getByRole("heading", { name: "来自扩展组件的问候" }));
  await visible(page.getByTestId("hello-version").getByText(/^hello 运行于 v1\./));
  await shot("ext-hello-zh");
  await page.getByLabel("语言").selectOption("en");
  await visible(page.getByRole("heading", { name: "Hello from an extension" }));
  assert.equal(await page.evaluate(() => window.__orreryMark), "no reload");
  assert.deepEqual(problems, []);
});

test("a signed-in user without roles gets the extension's UI too, and not the marketplace", async () => {
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
  assert.equal((await apiCall(env.url, viewer, "DELETE", `${EXT}/jsbundles/hello`)).status, 403);
  assert.equal((await apiCall(env.url, viewer, "GET", "/apis/kubesphere.io/v1alpha1/installplans")).status, 403);
  assert.equal((await fetch(`${env.url}/dist/hello/index.js`)).status, 401);

  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  const p = await context.newPage();
  p.on("pageerror", (e) => problems.push(String(e)));
  await p.goto(`${env.url}/console/login`);
  await p.getByLabel("Username", { exact: true }).fill("viewer");
  await p.getByLabel("Password", { exact: true }).fill(VIEWER_PW);
  await p.getByRole("button", { name: "Log in" }).click();
  await p.getByTestId("user").waitFor({ state: "visible", timeout: WAIT });
  const link = p.locator("nav.side").getByRole("link", { name: "Hello", exact: true });
  await link.waitFor({ state: "visible", timeout: WAIT });
  await link.click();
  await p.getByRole("heading", { name: "Hello from an extension" }).waitFor({ state: "visible", timeout: WAIT });
  assert.equal(await p.locator("header.topbar").getByRole("link", { name: "Extensions", exact: true }).count(), 0);
  await context.close();
  assert.deepEqual(problems, []);
});

test("a bundle whose module throws shows its error in its own area only", async () => {
  await installUi("broken", BROKEN, [{ name: "broken", parent: "platform", title: { en: "Broken", "zh-CN": "损坏" }, link: "/ext/broken" }]);
  const link = side().getByRole("link", { name: "Broken", exact: true });
  await visible(link);
  await link.click();
  await page.waitForURL(/\/console\/ext\/broken$/, { timeout: WAIT });
  const area = page.locator('[data-extension-error="broken"]');
  await visible(area);
  await area.getByText("Details", { exact: true }).click();
  await visible(area.getByText("broken on purpose"));
  // The frame and the rest of the console keep working: the other extension, the console's pages.
  await visible(page.getByTestId("user"));
  await shot("ext-broken");
  await side().getByRole("link", { name: "Hello", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Hello from an extension" }));
  assert.equal(await page.locator("[data-extension-error]").count(), 0);
  await side().getByRole("link", { name: "Users" }).click();
  await visible(page.getByRole("heading", { name: "Users" }));

  // Removing the extension takes its entry away, again without a reload.
  await call("DELETE", `${EXT}/extensionentries/broken`);
  await call("DELETE", `${EXT}/jsbundles/broken`);
  await side().getByRole("link", { name: "Broken", exact: true }).waitFor({ state: "detached", timeout: WAIT });
  assert.equal(await page.evaluate(() => window.__orreryMark), "no reload");
  assert.deepEqual(problems, []);
});
