// The container terminal in a real browser against `orrery serve`: a pod's Terminal tab, a
// container chosen, the exec WebSocket opened through the platform's proxy with the channel
// protocols. The embedded cluster simulates its workloads and runs no containers, so it refuses
// exec: the page says a terminal cannot be opened there, with the cluster's reason one click
// away. Then the browser's side of a session (xterm.js and src/api/exec.ts) against a scripted
// shell answering the page's socket (Playwright's routeWebSocket): typed keys sent on stdin,
// output on the screen, the terminal's size sent, the exit status shown. The framing itself is
// unit-tested in src/api/exec.test.ts. Run: cd console && ORRERY_BIN=… node --test
// e2e/terminal.test.mjs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { changeAdminPassword, logIn, mustCall, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let env;
let token;

async function must(method, path, body) {
  return mustCall(env.url, token, method, path, body);
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
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

/** axe-core finds no serious or critical violation on the page as it is. */
async function axeClean(page, what) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const serious = await page.evaluate(async () =>
    (await window.axe.run(document, { resultTypes: ["violations"] })).violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id),
  );
  assert.deepEqual(serious, [], `${what} passes axe`);
}

/** Answers the page's exec sockets with a scripted shell (the browser's side of the protocol,
 * where the embedded cluster has no container to run one): typed bytes (channel 0) come back
 * as a terminal echoes them (channel 1), Enter answers the line, `exit` ends with a Success
 * Status (channel 3); resize messages (channel 4) are recorded. */
async function scriptedShell(page) {
  const seen = { resizes: [], lines: [] };
  await page.routeWebSocket(/\/exec\?/, (ws) => {
    let line = "";
    const out = (channel, text) => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(text)]));
    out(1, "$ ");
    ws.onMessage((m) => {
      const b = Buffer.isBuffer(m) ? m : Buffer.from(m);
      const body = b.subarray(1).toString();
      if (b[0] === 4) seen.resizes.push(JSON.parse(body));
      if (b[0] !== 0) return;
      for (const ch of body) {
        if (ch !== "\r") {
          line += ch;
          out(1, ch);
          continue;
        }
        seen.lines.push(line);
        if (line === "exit") {
          out(3, JSON.stringify({ status: "Success" }));
          ws.close();
          return;
        }
        out(1, `\r\nyou typed: ${line}\r\n$ `);
        line = "";
      }
    });
  });
  return seen;
}

test("a pod's terminal: container chosen, exec through the platform, a clear message where the cluster runs no containers; a session's typing, output, resize and exit", async () => {
  const ctx = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  const page = await ctx.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await logIn(page, env.url, "admin", ADMIN_PW, WAIT);

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
  await axeClean(page, "the Terminal tab's message");

  // The browser's side of a session, against a scripted shell: typing, output, resize, exit.
  const shell = await scriptedShell(page);
  await page.getByRole("button", { name: "Connect" }).click();
  await visible(page.getByTestId("terminal-state").filter({ hasText: "Connected" }));
  await page.keyboard.type("echo hi");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector(".xterm-rows")?.textContent.includes("you typed: echo hi"), null, { timeout: WAIT });
  assert.deepEqual(shell.lines, ["echo hi"]);
  assert.ok(shell.resizes.some((r) => r.Width > 20 && r.Height > 5), `resize messages: ${JSON.stringify(shell.resizes)}`);
  await page.screenshot({ path: join(screenshots, "terminal-session.png") });
  await axeClean(page, "an open terminal");
  await page.keyboard.type("exit");
  await page.keyboard.press("Enter");
  await visible(page.getByTestId("terminal-state").filter({ hasText: "The shell exited with code 0" }));

  assert.deepEqual(problems, []);
});
