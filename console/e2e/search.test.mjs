// The global search in a real browser against `orrery serve` with a member `orrery cluster`:
// objects of several kinds in both clusters, the `/` and Ctrl+K shortcuts, hits grouped by kind
// with their cluster and namespace, a Secret and a member's ConfigMap found by name and opened
// in their pages; the Secret's data never in an answer; a user without access finds nothing.
// Run: cd console && ORRERY_BIN=… node --test e2e/search.test.mjs (needs /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { apiCall, changeAdminPassword, logIn, mustCall, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const BOB_PW = "Bob0Pass1234";
const WAIT = 60_000;
const IAM = "/kapis/iam.kubesphere.io/v1beta1";
const SEARCH = "/kapis/search.orrery.io/v1alpha1/resources";
const SECRET_VALUE = "orchid-hunter2";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let env;
let token;
const problems = [];
/** Every search answer the pages received (to check no Secret data is in any). */
const answers = [];

async function must(method, path, body) {
  return mustCall(env.url, token, method, path, body);
}

async function eventually(what, fn, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Joins the member and fills both clusters: host (shop-a) and member1 (shop-b). */
async function objects() {
  const kubeconfig = Buffer.from(env.memberKubeconfig).toString("base64");
  await must("POST", "/apis/cluster.kubesphere.io/v1alpha1/clusters", {
    apiVersion: "cluster.kubesphere.io/v1alpha1",
    kind: "Cluster",
    metadata: { name: "member1" },
    spec: { enable: true, connection: { type: "direct", kubeconfig } },
  });
  await eventually("member1 answers", async () => (await apiCall(env.url, token, "GET", "/clusters/member1/version")).status === 200);
  const host = "/api/v1/namespaces";
  const member = "/clusters/member1/api/v1/namespaces";
  await must("POST", host, { metadata: { name: "shop-a" } });
  await must("POST", member, { metadata: { name: "shop-b" } });
  await must("POST", `${host}/shop-a/configmaps`, { metadata: { name: "orchid-settings" }, data: { mode: "demo" } });
  await must("POST", `${host}/shop-a/secrets`, { metadata: { name: "orchid-password" }, stringData: { password: SECRET_VALUE } });
  await must("POST", `${host}/shop-a/serviceaccounts`, { metadata: { name: "orchid-robot" } });
  await must("POST", `${member}/shop-b/configmaps`, { metadata: { name: "orchid-remote" }, data: { region: "north" } });
  await must("POST", `${member}/shop-b/persistentvolumeclaims`, {
    metadata: { name: "orchid-data" },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await must("POST", "/clusters/member1/apis/networking.k8s.io/v1/namespaces/shop-b/ingresses", {
    metadata: { name: "orchid-web" },
    spec: { rules: [{ host: "orchid.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }] },
  });
  // The indexes are fed by watches: wait until all six are searchable.
  await eventually("six objects indexed", async () => (await must("GET", `${SEARCH}?name=orchid-&excludeKind=events`)).totalItems === 6);
}

async function newPage(user, password) {
  const ctx = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  const p = await ctx.newPage();
  p.on("pageerror", (e) => problems.push(String(e)));
  p.on("response", async (r) => {
    if (!r.url().includes(SEARCH)) return;
    answers.push(await r.text().catch(() => ""));
  });
  await logIn(p, env.url, user, password, WAIT);
  return p;
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL);
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await must("POST", `${IAM}/users`, {
    apiVersion: "iam.kubesphere.io/v1beta1",
    kind: "User",
    metadata: { name: "bob", annotations: { "iam.kubesphere.io/globalrole": "platform-regular" } },
    spec: { email: "bob@example.com", password: BOB_PW },
  });
  await objects();
});

after(async () => {
  await env?.stop();
});

const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });

/** axe-core's serious and critical findings on the page as it is. */
async function axeSerious(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () =>
    (await window.axe.run(document, { resultTypes: ["violations"] })).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
  );
}

test("global search: a shortcut, hits of several kinds in two clusters, a Secret and a member's ConfigMap opened; none for a user without access", async () => {
  const page = await newPage("admin", ADMIN_PW);
  const dialog = page.getByRole("dialog", { name: "Search all clusters" });
  const box = dialog.getByRole("searchbox", { name: "Name to search for" });
  // `/` opens it from anywhere but a text field; the header button says so.
  await visible(page.getByRole("button", { name: "Search /" }));
  await page.locator("main").click();
  await page.keyboard.press("/");
  await visible(box);
  await box.fill("orchid-");
  await visible(dialog.getByTestId("search-count").filter({ hasText: "6 found" }));
  const groups = await dialog.locator(".search-hits h3").allTextContents();
  assert.deepEqual(groups, ["ConfigMap", "Ingress", "PersistentVolumeClaim", "Secret", "ServiceAccount"]);
  const configMaps = dialog.getByRole("region", { name: "ConfigMap" }).getByRole("listitem");
  assert.deepEqual(await configMaps.allInnerTexts(), ["orchid-remote member1 / shop-b", "orchid-settings host / shop-a"]);
  await page.screenshot({ path: join(screenshots, "search-results.png") });
  assert.deepEqual(await axeSerious(page), [], "the open search dialog passes axe");

  // The Secret by its name, opened from the keyboard.
  await box.fill("orchid-password");
  await visible(dialog.getByTestId("search-count").filter({ hasText: "1 found" }));
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await visible(page.getByRole("heading", { name: "Secret: orchid-password" }));
  assert.match(page.url(), /\/console\/clusters\/host\/projects\/shop-a\/secrets\/orchid-password$/);
  assert.equal(await dialog.count(), 0, "the dialog closed");

  // Ctrl+K, the member's ConfigMap, opened by Enter in the box (the first hit).
  await page.keyboard.press("Control+k");
  await box.fill("orchid-remote");
  await visible(dialog.getByRole("link", { name: "orchid-remote" }));
  await box.press("Enter");
  await visible(page.getByRole("heading", { name: "ConfigMap: orchid-remote" }));
  assert.match(page.url(), /\/console\/clusters\/member1\/projects\/shop-b\/configmaps\/orchid-remote$/);
  await visible(page.getByText("north"));
  // Opened by its button, closed by Escape: the focus goes back to the button.
  const opener = page.getByRole("button", { name: "Search /" });
  await opener.click();
  await visible(box);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden", timeout: WAIT });
  assert.ok(await opener.evaluate((el) => el === document.activeElement), "focus back on the search button");

  // A platform-regular user in no workspace may list none of them: nothing found.
  const bob = await newPage("bob", BOB_PW);
  await bob.keyboard.press("Control+k");
  await bob.getByRole("searchbox", { name: "Name to search for" }).fill("orchid-");
  await visible(bob.getByTestId("search-count").filter({ hasText: "Nothing found" }));
  assert.equal(await bob.locator(".search-hits a").count(), 0);

  assert.ok(answers.length > 0, "the pages asked the search API");
  for (const a of answers) assert.ok(!a.includes(SECRET_VALUE) && !a.includes(Buffer.from(SECRET_VALUE).toString("base64")), `Secret data in a search answer: ${a}`);
  assert.deepEqual(problems, []);
});
