// Starts what the browser test drives: `orrery serve` (embedded host + platform + console), an
// `orrery cluster` to be the member, and Debian's headless chromium through playwright-core.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const here = new URL(".", import.meta.url).pathname;
export const root = resolve(here, "../..");
export const screenshots = join(here, "screenshots");

/** The orrery binary: $ORRERY_BIN or the workspace's debug build. */
export function orreryBin() {
  return process.env.ORRERY_BIN ?? join(root, "target/debug/orrery");
}

/** Runs `args` and resolves with the URL of its `ready <what> <url>` line (bounded wait). */
export function startReady(args, what, timeoutMs = 180_000) {
  const child = spawn(orreryBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      fail(new Error(`no "ready ${what}" line within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = new RegExp(`^ready ${what} (\\S+)$`, "m").exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ child, url: m[1] });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`orrery ${args[0]} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}

/** The shared public test data (`$ORRERY_TESTDATA`, else `shared/testdata` beside the repository). */
export function testdata() {
  return process.env.ORRERY_TESTDATA ?? resolve(root, "../shared/testdata");
}

/**
 * The environment: host platform, member cluster (unless `member: false`), browser. `stop()`
 * ends all of it. `serveArgs` are more flags for `orrery serve`.
 */
export async function startEnv(adminPassword, { member: withMember = true, serveArgs = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "orrery-e2e-"));
  const host = await startReady(
    ["serve", "--data-dir", join(dir, "host"), "--listen", "127.0.0.1:0", "--kube-listen", "127.0.0.1:0", "--admin-password", adminPassword, ...serveArgs],
    "platform",
  );
  const member = withMember ? await startReady(["cluster", "--data-dir", join(dir, "member"), "--listen", "127.0.0.1:0"], "kubernetes-api") : null;
  const memberKubeconfig = member ? readFileSync(join(dir, "member", "kubeconfig.yaml"), "utf8") : null;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const stop = async () => {
    await browser.close().catch(() => undefined);
    for (const c of [host.child, member?.child]) c?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: host.url, memberKubeconfig, browser, stop };
}

/** A small JSON client for setting up what the browser then looks at. */
export async function apiToken(url, username, password) {
  const body = new URLSearchParams({ grant_type: "password", username, password, client_id: "kubesphere", client_secret: "kubesphere" });
  const r = await fetch(`${url}/oauth/token`, { method: "POST", body });
  if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
  return (await r.json()).access_token;
}

export async function apiCall(url, token, method, path, body) {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** `apiCall` that must succeed (a status below 300): the answer's body. */
export async function mustCall(url, token, method, path, body) {
  const r = await apiCall(url, token, method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Logs `username` in through the console's login page; returns once the page shows who is signed in. */
export async function logIn(page, url, username, password, timeout) {
  await page.goto(`${url}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("user").waitFor({ timeout });
}

/**
 * The admin's first password (`initial`, which the platform makes them change) changed to
 * `password` through the API — the console's own forced change is tested by console.test.mjs —
 * and a token under the new one.
 */
export async function changeAdminPassword(url, initial, password) {
  const first = await apiToken(url, "admin", initial);
  const r = await apiCall(url, first, "PUT", "/kapis/iam.kubesphere.io/v1beta1/users/admin/password", { currentPassword: initial, password });
  assert.equal(r.status, 200, `admin password: ${r.status} ${JSON.stringify(r.body)}`);
  return apiToken(url, "admin", password);
}
