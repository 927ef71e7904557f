// Benchmark: frame times while scrolling lists of 10,000 objects in the console (issue 17, must
// show 4), against a real `orrery serve` in Debian's headless Chromium. 10,000 Secrets in one
// namespace make two lists: the project's Secrets (paged on the server, 50 rows a page) and the
// cluster's Secrets (a native list, all 10,000 loaded with "Load more" into the virtualised
// table). Each is scrolled with the mouse wheel, one step a frame, while the page records its
// requestAnimationFrame deltas and long tasks (e2e/frames.mjs).
// Chromium paces frames at the display's 60 Hz, so a frame on time is 16.7 ms (± timer jitter) from
// the one before, and a longer delta is a dropped frame. Those deltas cannot be under 16.7 ms, so
// the same scrolls are also traced (bench/trace.mjs): the main thread's work per frame, which can
// be compared with the 16.7 ms budget.
// Run (from the repository): cargo build -p orrery && scripts/console.sh build &&
//   node console/bench/scroll.mjs        (ORRERY_BIN to use another binary)
// bench/compare.mjs runs the 10,000-row scrolls against several console builds, interleaved.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { apiCall, changeAdminPassword, startEnv } from "../e2e/harness.mjs";
import { frameSummary, startFrames, stopFrames, wheelThrough } from "../e2e/frames.mjs";
import { costSummary, startTrace, stopTrace } from "./trace.mjs";

const INITIAL = "Initial0Pass";
const PW = "Changed0Pass";
const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const WAIT = 120_000;

async function must(env, token, method, path, body) {
  const r = await apiCall(env.url, token, method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** The platform with 10,000 Secrets in namespace `big` (the environment, see e2e/harness.mjs). */
export async function setUp() {
  const env = await startEnv(INITIAL, { member: false });
  const token = await changeAdminPassword(env.url, INITIAL, PW);
  await must(env, token, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "big" } });
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < COUNT) {
      const i = next++;
      const name = `s-${String(i).padStart(5, "0")}`;
      await must(env, token, "POST", "/api/v1/namespaces/big/secrets", { apiVersion: "v1", kind: "Secret", metadata: { name }, type: "Opaque", stringData: { n: String(i) } });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  console.log(`created ${COUNT} Secrets in ${Date.now() - started} ms`);
  return env;
}

/** A signed-in page (1400×900); `prepare(context)` runs before the first request. */
export async function login(browser, url, prepare = async () => undefined) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  await prepare(context);
  const page = await context.newPage();
  await page.goto(`${url}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("user").waitFor({ timeout: WAIT });
  return { context, page };
}

const firstRow = (page) => page.evaluate(() => document.querySelector('[role="table"] [role="row"][data-index="0"] [role="cell"]')?.textContent);
const domRows = (page) => page.locator('[role="row"]').count();

/** Rows in the DOM, and whether the rendered rows cover the table's whole view (no gap where a
 * row in view is not rendered yet), as the page is when the next frame begins. */
const viewState = (page) =>
  page.evaluate(() => {
    const s = document.querySelector('[role="table"] .scroll');
    const top = s.getBoundingClientRect().top + s.clientTop;
    const bottom = top + s.clientHeight;
    const rects = [...s.querySelectorAll('[role="row"]')].map((r) => r.getBoundingClientRect()).filter((r) => r.bottom > top && r.top < bottom);
    let y = top;
    for (const r of rects.sort((a, b) => a.top - b.top)) {
      if (r.top > y + 0.5) break;
      y = Math.max(y, r.bottom);
    }
    return { rows: document.querySelectorAll('[role="row"]').length, covered: y >= bottom - 0.5 };
  });

/** The project's Secrets, paged: five pages, each scrolled top to bottom. */
async function paged(page, url) {
  await page.goto(`${url}/console/clusters/host/projects/big/secrets`);
  await page.waitForFunction((t) => document.querySelector('[data-testid="total"]')?.textContent === t, `${COUNT.toLocaleString("en-US")} items`, { timeout: WAIT });
  await page.waitForFunction(() => document.querySelector('[role="row"][data-index="0"]'), null, { timeout: WAIT });
  let most = 0;
  const browser = page.context().browser();
  await startTrace(browser, page);
  await startFrames(page);
  for (let p = 0; p < 5; p++) {
    const before = await firstRow(page);
    if (p > 0) {
      await page.getByRole("button", { name: "Next page" }).click();
      await page.waitForFunction((b) => document.querySelector('[role="row"][data-index="0"] [role="cell"]')?.textContent !== b, before, { timeout: WAIT });
    }
    await wheelThrough(page, '[role="table"] .scroll', 24, 100, async () => void (most = Math.max(most, await domRows(page))));
  }
  const frames = await stopFrames(page);
  return { frames, costs: await stopTrace(browser), most };
}

/** The cluster's Secrets, all loaded ("Load more" until there is no more), scrolled at two speeds;
 * with `sorted`, first sorted in the browser by name, descending (two clicks on the heading). */
export async function loadedAll(page, url, { sorted = false } = {}) {
  await page.goto(`${url}/console/clusters/host/r/secrets`);
  const more = page.getByRole("button", { name: "Load more" });
  // The rows loaded so far (the table's aria-rowcount counts them and its heading).
  const loadedRows = () => Number(document.querySelector('[role="table"]')?.getAttribute("aria-rowcount") ?? 1) - 1;
  await more.waitFor({ timeout: WAIT });
  while (await more.count()) {
    const before = await page.evaluate(loadedRows);
    await more.click();
    await page.waitForFunction(
      (b) =>
        Number(document.querySelector('[role="table"]')?.getAttribute("aria-rowcount") ?? 1) - 1 > b ||
        ![...document.querySelectorAll("main button")].some((x) => x.textContent === "Load more"),
      before,
      { timeout: WAIT },
    );
  }
  const loaded = await page.evaluate(loadedRows);
  assert.ok(loaded >= COUNT, `${loaded} Secrets loaded`);
  if (sorted) {
    const name = page.locator('[role="table"] [role="columnheader"] button').first();
    await name.click();
    await name.click();
    await page.waitForFunction(() => document.querySelector('[role="columnheader"][aria-sort="descending"]'), null, { timeout: WAIT });
  }
  const out = {};
  for (const [name, steps, dy] of [["wheel 120 px a frame", 300, 120], ["flick 1,200 px a frame", 120, 1200]]) {
    let most = 0;
    let gaps = 0;
    const browser = page.context().browser();
    await startTrace(browser, page);
    await startFrames(page);
    await wheelThrough(page, '[role="table"] .scroll', steps, dy, async () => {
      const v = await viewState(page);
      most = Math.max(most, v.rows);
      if (!v.covered) gaps++;
    });
    const frames = await stopFrames(page);
    out[name] = { frames, costs: await stopTrace(browser), most, gaps };
  }
  return out;
}

async function run(label, browser, url) {
  const { context, page } = await login(browser, url);
  const p = await paged(page, url);
  console.log(`${label} | project Secrets, paged (5 pages × 24 wheel steps of 100 px) | ${frameSummary(p.frames)} | ≤ ${p.most} rows in the DOM`);
  console.log(`${label} | project Secrets, paged | ${costSummary(p.costs)}`);
  for (const [name, r] of Object.entries(await loadedAll(page, url))) {
    console.log(`${label} | cluster Secrets, ${COUNT.toLocaleString("en-US")} loaded, ${name} | ${frameSummary(r.frames)} | ≤ ${r.most} rows in the DOM, ${r.gaps} steps with rows in view not rendered`);
    console.log(`${label} | cluster Secrets, ${name} | ${costSummary(r.costs)}`);
  }
  await context.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const env = await setUp();
  try {
    await run("Chromium", env.browser, env.url);
  } finally {
    await env.stop();
  }
}
