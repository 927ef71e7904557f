// The container terminal in a real browser against `orrery serve`: a pod's Terminal tab, a
// container chosen, the exec WebSocket opened through the platform's proxy with the channel
// protocols. The embedded cluster simulates its workloads and runs no containers, so it refuses
// exec: the page says a terminal cannot be opened there, with the cluster's reason one click
// away (the protocol itself — stdin, output, resize, exit status — is tested in
// src/api/exec.test.ts). Run: cd console && ORRERY_BIN=… node --test e2e/terminal.test.mjs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { apiCall, apiToken, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let env;
let token;

async function must(method, path, body) {
  const r = await apiCall(env.url, token, method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await apiToken(env.url, "admin", INITIAL);
  await must("PUT", "/kapis/iam.kubesphere.io/v1beta1/users/admin/password", { currentPassword: INITIAL, password: ADMIN_PW });
  token = await apiToken(env.url, "admin", ADMIN_PW);
  await must("POST", "/api/v1/namespaces", { metadata: { name: "term" } });
  await must("POST", "/apis/apps/v1/namespaces/term/deployments", {
    metadata: { name: "shell", labels: { app: "shell" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "shell" } },
      template: { metadata: { labels: { app: "shell" } }, spec: { containers: [{ name: "app", image: "busybox:1.36" }, { name: "sidecar", image: "busybox:1.36" }] } },
    },
  });
});

after(async () => {
  await env?.stop();
});

const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });

test("a pod's terminal: container chosen, exec through the platform, a clear message where the cluster runs no containers", async () => {
  const ctx = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  const page = await ctx.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.goto(`${env.url}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("user").waitFor({ timeout: WAIT });

  await page.goto(`${env.url}/console/clusters/host/projects/term/pods`);
  const pod = page.getByRole("link", { name: /^shell-/ });
  await visible(pod);
  await pod.first().click();
  await page.getByRole("tab", { name: "Terminal" }).click();
  await page.getByRole("combobox", { name: /^Container/ }).selectOption("sidecar");
  const refused = page.getByTestId("terminal-unavailable");
  await visible(refused.filter({ hasText: "A terminal cannot be opened in this container." }));
  await refused.getByText("Details from the server").click();
  await visible(refused.getByText(/pods\/exec is not available: the embedded cluster simulates its workloads and runs no containers/));
  const exec = sockets.filter((u) => u.includes("/exec?"));
  assert.ok(
    exec.some((u) => /^ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/term\/pods\/shell-[^/]+\/exec\?container=sidecar&command=/.test(u) && u.includes("tty=true")),
    `the exec socket: ${JSON.stringify(sockets)}`,
  );
  // Connect asks again (a new socket), with the same answer.
  const [again] = await Promise.all([page.waitForEvent("websocket", { timeout: WAIT }), page.getByRole("button", { name: "Connect" }).click()]);
  assert.match(again.url(), /\/exec\?container=sidecar&/);
  await visible(refused.filter({ hasText: "A terminal cannot be opened in this container." }));
  await page.screenshot({ path: join(screenshots, "terminal-unavailable.png") });
  await page.evaluate(axeSource);
  const serious = await page.evaluate(async () =>
    (await window.axe.run(document, { resultTypes: ["violations"] })).violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id),
  );
  assert.deepEqual(serious, [], "the Terminal tab passes axe");
  assert.deepEqual(problems, []);
});
