// A Secret's values reach the browser only when someone asks to see them, checked on the wire:
// every answer and watch frame the page receives is recorded while the cluster's Secrets list
// (across namespaces, kept live) and a Secret's page (keys and sizes) show, and none holds the
// value — raw, base64 or in kubectl's last-applied annotation — until "Reveal values", which
// then shows it. axe-core finds no serious or critical violation on the Secret's page.
// Run: cd console && ORRERY_BIN=… node --test e2e/secrets.test.mjs (needs /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { apiCall, changeAdminPassword, logIn, mustCall, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;
const NS = "vault";
const VALUE = "tulip-hunter2";
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let env;
let token;
let page;
const problems = [];
/** What the page received: each answer's URL and body, and each watch frame. */
const received = [];

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await mustCall(env.url, token, "POST", "/api/v1/namespaces", { metadata: { name: NS } });
  const applied = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: NS }, stringData: { password: VALUE } });
  await mustCall(env.url, token, "POST", `/api/v1/namespaces/${NS}/secrets`, { metadata: { name: "db", annotations: { [LAST_APPLIED]: applied } }, stringData: { password: VALUE } });
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("response", (r) => {
    // Watches come over the socket (below); every other answer is read whole.
    if (["fetch", "xhr"].includes(r.request().resourceType())) received.push(r.text().then((body) => ({ url: r.url(), body }), () => ({ url: r.url(), body: "" })));
  });
  page.on("websocket", (ws) => ws.on("framereceived", (f) => received.push(Promise.resolve({ url: ws.url(), body: String(f.payload) }))));
  await logIn(page, env.url, "admin", ADMIN_PW, WAIT);
});

after(async () => {
  await env?.stop();
});

const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });
const go = (path) => page.goto(`${env.url}/console${path}`);

/** The answers and frames so far that hold the value in any form. */
async function leaks() {
  const forms = [VALUE, Buffer.from(VALUE).toString("base64")];
  return (await Promise.all(received)).filter((r) => forms.some((f) => r.body.includes(f))).map((r) => r.url);
}

/** The cluster's Secrets list: through the metadata-only list, live, without a value. */
async function clusterList() {
  const metadataList = (r) => r.url().includes("/kapis/resources.kubesphere.io/v1alpha3/secrets?") && r.status() === 200;
  const first = page.waitForResponse(metadataList);
  await go("/clusters/host/r/secrets");
  await first;
  const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "db", exact: true }) });
  await visible(row);
  await visible(row.getByText("Opaque", { exact: true }));
  await visible(page.getByText("Live", { exact: true }));
  // A change reaches the list by its metadata watch: the page is asked again.
  const again = page.waitForResponse(metadataList);
  const patch = await fetch(`${env.url}/api/v1/namespaces/${NS}/secrets/db`, {
    method: "PATCH",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/merge-patch+json" },
    body: JSON.stringify({ metadata: { labels: { tier: "db" } } }),
  });
  assert.equal(patch.status, 200, await patch.text());
  await again;
  assert.deepEqual(await leaks(), [], "the list's answers and watch frames hold no value");
  await row.getByRole("link", { name: "db", exact: true }).click();
}

/** The Secret's page: keys and sizes without a value; "Reveal values" fetches and shows it. */
async function secretPage() {
  await visible(page.getByRole("heading", { name: "Secret: db", exact: true }));
  const data = page.getByTestId("secret-data");
  await visible(data.getByText("password", { exact: true }));
  await visible(data.getByText(`Size: ${VALUE.length} bytes`, { exact: true }));
  await visible(data.getByText("••••••••"));
  await visible(page.getByText("tier=db"));
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => `${v.impact} ${v.id}`));
  assert.deepEqual(found.filter((v) => /^(serious|critical)/.test(v)), [], "axe on the Secret's page");
  assert.deepEqual(await leaks(), [], "the page's answers before the reveal hold no value");
  const fetched = page.waitForResponse((r) => r.url().endsWith(`/api/v1/namespaces/${NS}/secrets/db`) && r.status() === 200);
  await page.getByRole("button", { name: "Reveal values", exact: true }).click();
  await fetched;
  await visible(data.getByText(VALUE, { exact: true }));
  // The recording sees values where they are: in the answer the reveal asked for.
  assert.ok((await leaks()).some((u) => u.endsWith(`/secrets/db`)), "the reveal's answer was recorded");
  assert.equal(await page.getByRole("button", { name: "Hide values", exact: true }).getAttribute("aria-pressed"), "true");
  await page.screenshot({ path: join(screenshots, "secrets-revealed.png"), fullPage: true });
}

test("a Secret's values reach the page only when revealed: the cluster's list and the Secret's page answer without them", async () => {
  await clusterList();
  await secretPage();
  assert.deepEqual(problems, []);
});

test("a Secret is deleted from its page after a confirmation; a cancelled one stays", async () => {
  await mustCall(env.url, token, "POST", `/api/v1/namespaces/${NS}/secrets`, { metadata: { name: "old" }, stringData: { k: "v" } });
  await go(`/clusters/host/projects/${NS}/secrets/old`);
  await visible(page.getByRole("heading", { name: "Secret: old", exact: true }));
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  let dialog = page.getByRole("dialog");
  await visible(dialog.getByText('Delete Secret "old"? This cannot be undone.'));
  await dialog.getByRole("button", { name: "Cancel", exact: true }).click();
  await dialog.waitFor({ state: "hidden", timeout: WAIT });
  assert.equal((await apiCall(env.url, token, "GET", `/api/v1/namespaces/${NS}/secrets/old`)).status, 200);
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Delete", exact: true }).click();
  await page.waitForURL((u) => !u.pathname.endsWith("/secrets/old"), { timeout: WAIT });
  assert.equal((await apiCall(env.url, token, "GET", `/api/v1/namespaces/${NS}/secrets/old`)).status, 404);
  assert.deepEqual(problems, []);
});
