// Accessibility in a real browser against a real `orrery serve`. (1) axe-core (the npm package,
// injected into the page) on every main page — the list e2e/pages.mjs shares with the language
// pass, plus every side-navigation and top-bar link met on the way, so a new menu entry is
// checked without being listed — in the light and in the dark theme: no serious or critical
// violation; a summary of everything axe reported is printed. (2) A keyboard-only walk: log in,
// reach a project through the workspace switcher and the side navigation, open the Create
// Deployment form, fill and submit it with Tab/Enter/arrow keys only, with a visible focus
// indicator (outline or box-shadow) on every control focus lands on; the Deployment exists, and
// its page's tabs follow the arrow keys.
// Run: node --test e2e/a11y.test.mjs (needs target/debug/orrery or $ORRERY_BIN, /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { apiCall, changeAdminPassword, startEnv } from "./harness.mjs";
import { PAGES, setUpObjects } from "./pages.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 20_000;
/** How long a page may take to fill in its data before axe looks at it. */
const SETTLE = 5_000;
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let env;
let token;

before(async () => {
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await setUpObjects(env.url, token);
});

after(async () => {
  await env?.stop();
});

/** Runs axe on the page (injecting it first if this document has none yet): its violations. */
async function axe(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + contrast(n)) }));
    function contrast(n) {
      const d = n.any?.[0]?.data;
      return d?.contrastRatio ? ` (${d.fgColor} on ${d.bgColor}: ${d.contrastRatio})` : "";
    }
  });
}

/** Waits (bounded) until the page has its heading and is no longer loading. */
async function settle(page) {
  await page.locator("main h1").first().waitFor({ timeout: WAIT });
  await page
    .waitForFunction(() => !/Loading…|Reconnecting…/.test(document.querySelector("main")?.textContent ?? ""), null, { timeout: SETTLE })
    .catch(() => undefined);
}

/** The console pages linked from the navigation and the top bar (path and query). */
function navLinks(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("nav#side-nav a[href], header a[href]")]
      .map((a) => new URL(a.href))
      .filter((u) => u.origin === location.origin && u.pathname.startsWith("/console/"))
      .map((u) => u.pathname.slice("/console".length) + u.search),
  );
}

/** Goes to `path` inside the running console (as a link does: no reload). */
async function open(page, path) {
  await page.evaluate((p) => {
    window.history.pushState({}, "", `/console${p}`);
    window.dispatchEvent(new PopStateEvent("popstate"));
  }, path);
  // React renders the new route on the next frames (a lazy page shows "Loading…" first).
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await settle(page);
}

/** Logs in as admin with the keyboard only; returns the page. */
async function login(context) {
  const page = await context.newPage();
  await page.goto(`${env.url}/console/login`);
  const user = page.getByLabel("Username", { exact: true });
  await user.waitFor({ timeout: WAIT });
  await user.focus();
  await page.keyboard.type("admin");
  await page.keyboard.press("Tab");
  await page.keyboard.type(ADMIN_PW);
  await page.keyboard.press("Enter");
  await page.locator("main#content").waitFor({ timeout: WAIT });
  return page;
}

/** Prints what axe found, by rule, and returns the serious and critical findings as lines. */
function summarise(found, pagesChecked) {
  const byRule = new Map();
  for (const f of found) {
    const e = byRule.get(f.id) ?? { impact: f.impact, help: f.help, where: [] };
    e.where.push(`${f.theme} ${f.path}: ${f.targets.join(", ")}`);
    byRule.set(f.id, e);
  }
  console.log(`# axe: ${pagesChecked} pages and opened states in the light and dark themes (the narrow window in one), ${found.length} violations of ${byRule.size} rules`);
  for (const [id, e] of byRule) console.log(`#   ${e.impact} ${id} (${e.help}) on ${e.where.length}: ${e.where.slice(0, 4).join(" | ")}`);
  return found.filter((f) => f.impact === "serious" || f.impact === "critical").map((f) => `${f.theme} ${f.path}: ${f.impact} ${f.id} at ${f.targets.join(", ")}`);
}

test("axe-core on every page, light and dark: no serious or critical violations", async () => {
  const context = await env.browser.newContext({ locale: "en-US", viewport: { width: 1400, height: 900 }, colorScheme: "light" });
  const page = await login(context);
  await canary(page);
  // The login page first, in both themes (the theme follows the saved choice).
  const found = [];
  const queue = ["/login", ...PAGES.map(([, p]) => p)];
  const seen = new Set(queue.map((p) => p.split("?")[0]));
  let checked = 0;
  try {
    for (let i = 0; i < queue.length; i++) {
      const path = queue[i];
      if (path === "/login") {
        await checkLogin(found);
        checked++;
        continue;
      }
      await open(page, path);
      for (const more of await navLinks(page)) {
        const key = more.split("?")[0];
        if (seen.has(key)) continue;
        seen.add(key);
        queue.push(more);
      }
      for (let pass = 0; pass < 2; pass++) {
        const theme = await page.evaluate(() => document.documentElement.dataset.theme);
        for (const v of await axe(page)) found.push({ ...v, path, theme });
        await switchTheme(page, theme === "dark" ? "light" : "dark");
      }
      checked++;
    }
    checked += await checkOpened(page, found);
    checked += await checkNarrow(page, found);
  } finally {
    await context.close();
  }
  const bad = summarise(found, checked);
  assert.ok(checked >= PAGES.length, `${checked} pages checked`);
  assert.deepEqual(bad, []);
});

/** axe finds what it should here: an unlabelled text box put into the page is a critical
 * violation (so a pass below means something). */
async function canary(page) {
  await open(page, "/platform/clusters");
  await page.evaluate(() => {
    const i = document.createElement("input");
    i.id = "a11y-canary";
    document.querySelector("main").append(i);
  });
  const seen = (await axe(page)).filter((v) => v.impact === "critical" && v.targets.includes("#a11y-canary"));
  assert.equal(seen.length, 1, "axe reports an unlabelled input");
  await page.evaluate(() => document.getElementById("a11y-canary").remove());
}

/** What a page shows only after a click: dialogs and the YAML editor. */
const OPENED = [
  ["/platform/workspaces", "button", "Create workspace"],
  ["/platform/users", "button", "Create user"],
  ["/workspaces/ws1/projects", "button", "Create project"],
  ["/clusters/host/projects/p1/deployments/web", "tab", "YAML"],
];

/** axe on each of `OPENED` in both themes; a dialog then closes on Escape and gives the focus back
 * to the button that opened it. Returns how many were checked. */
async function checkOpened(page, found) {
  for (const [path, role, name] of OPENED) {
    await open(page, path);
    const opener = page.getByRole(role, { name, exact: true });
    await opener.click();
    const dialog = page.getByRole("dialog", { name });
    if (role === "button") {
      await dialog.waitFor({ timeout: WAIT });
      await focusStaysIn(page, name);
    } else await page.locator(".cm-editor").waitFor({ timeout: WAIT });
    for (let pass = 0; pass < 2; pass++) {
      const theme = await page.evaluate(() => document.documentElement.dataset.theme);
      for (const v of await axe(page)) found.push({ ...v, path: `${path} (${name})`, theme });
      if (role === "button") {
        // Escape closes the dialog and the focus goes back to what opened it; the theme button
        // is outside the modal dialog, so the theme changes while it is closed.
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "hidden", timeout: WAIT });
        assert.ok(await opener.evaluate((el) => el === document.activeElement), `${name}: focus back on its button`);
      }
      await switchTheme(page, theme === "dark" ? "light" : "dark");
      if (role === "button" && pass === 0) {
        await opener.click();
        await dialog.waitFor({ timeout: WAIT });
      }
    }
  }
  return OPENED.length;
}

/** A narrow window: the navigation folded behind the Menu button, then unfolded — in the current
 * theme (the other one is the same markup). */
async function checkNarrow(page, found) {
  await page.setViewportSize({ width: 600, height: 900 });
  try {
    await open(page, "/clusters/host/overview");
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    for (const v of await axe(page)) found.push({ ...v, path: "narrow /clusters/host/overview", theme });
    await page.getByRole("button", { name: /Menu/ }).click();
    await page.locator("#side-nav").waitFor({ timeout: WAIT });
    for (const v of await axe(page)) found.push({ ...v, path: "narrow /clusters/host/overview (menu open)", theme });
  } finally {
    await page.setViewportSize({ width: 1400, height: 900 });
  }
  return 1;
}

/** Tab and Shift+Tab through the open dialog never reach the page behind it (the focus may
 * leave for the browser's own controls, seen as <body>). */
async function focusStaysIn(page, name) {
  for (const key of ["Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
    await page.keyboard.press(key);
    const inside = await page.evaluate(() => document.activeElement === document.body || !!document.activeElement?.closest("dialog[open]"));
    assert.ok(inside, `${name}: ${key} left the dialog for the page behind it`);
  }
}

/** Switches to `theme` with the top bar's button, or, on a page outside the console's frame (the
 * password change), as the saved choice read at the next load. */
async function switchTheme(page, theme) {
  const button = page.getByRole("button", { name: /^Theme: / });
  if (await button.count()) await button.click();
  else {
    await page.evaluate((t) => localStorage.setItem("orrery-theme", t), theme);
    await page.reload();
    await settle(page);
  }
  await page.waitForFunction((t) => document.documentElement.dataset.theme === t, theme);
}

/** The login page in both themes (a fresh context each: the theme is the browser's preference). */
async function checkLogin(found) {
  for (const theme of ["light", "dark"]) {
    const context = await env.browser.newContext({ locale: "en-US", colorScheme: theme });
    const page = await context.newPage();
    await page.goto(`${env.url}/console/login`);
    await page.getByLabel("Username", { exact: true }).waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
    for (const v of await axe(page)) found.push({ ...v, path: "/login", theme });
    await context.close();
  }
}

/** The focused element, and whether a focus indicator shows on it (an outline or a box-shadow
 * from :focus-visible). */
function focusState(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { what: "body", shown: false };
    const cs = getComputedStyle(el);
    const outline = cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0;
    const shadow = cs.boxShadow !== "none" && cs.boxShadow !== "";
    const name = (el.getAttribute("aria-label") ?? el.getAttribute("name") ?? el.textContent ?? "").trim().slice(0, 40);
    return { what: `${el.tagName.toLowerCase()} "${name}"`, shown: el.matches(":focus-visible") && (outline || shadow) };
  });
}

/** Presses Tab (Shift+Tab with `back`) until the focus is on `selector`, checking on each control
 * on the way that its focus shows; `hidden` collects those where it does not. */
async function tabTo(page, selector, hidden, { back = false, max = 80 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    const f = await focusState(page);
    if (!f.shown) hidden.push(f.what);
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  assert.fail(`no ${selector} within ${max} presses of ${back ? "Shift+Tab" : "Tab"}`);
}

/** Logs in, then reaches project p1: the workspace switcher (arrow keys), the side navigation's
 * Projects, the project's link. */
async function keyboardToProject(page, hidden) {
  await page.goto(`${env.url}/console/login`);
  await page.locator('input[name="username"]:focus').waitFor({ timeout: WAIT });
  await page.keyboard.type("admin");
  await tabTo(page, 'input[name="password"]', hidden);
  await page.keyboard.type(ADMIN_PW);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Clusters", level: 1 }).waitFor({ timeout: WAIT });
  await tabTo(page, 'header select[aria-label="Workspace"]', hidden);
  for (let i = 0; i < 10 && !page.url().includes("/workspaces/ws1/"); i++) {
    await page.keyboard.press("ArrowDown");
    await page.waitForURL(/\/workspaces\//, { timeout: WAIT });
  }
  await page.getByRole("heading", { name: "Workspace: ws1", level: 1 }).waitFor({ timeout: WAIT });
  await tabTo(page, 'nav#side-nav a[href$="/workspaces/ws1/projects"]', hidden);
  await page.keyboard.press("Enter");
  await page.getByRole("link", { name: "p1", exact: true }).waitFor({ timeout: WAIT });
  await tabTo(page, 'main a[href*="/projects/p1"]', hidden);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Deployments", level: 1 }).waitFor({ timeout: WAIT });
}

test("keyboard only: log in, reach a project through the navigation, create a Deployment", async () => {
  const context = await env.browser.newContext({ locale: "en-US", viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const hidden = [];
  try {
    await keyboardToProject(page, hidden);
    await tabTo(page, 'main a[href$="/create/workload/deployments"]', hidden);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Create deployment" }).waitFor({ timeout: WAIT });
    // The form (the full workload form, its simple path first): a name typed, two replicas by
    // the arrow key, the container's image typed over, back up with Shift+Tab to check the name,
    // then on to Create, pressed with Space.
    await tabTo(page, 'main input[name="name"]', hidden);
    await page.keyboard.type("kbd-web");
    await tabTo(page, 'main input[name="replicas"]', hidden);
    await page.keyboard.press("ArrowUp");
    assert.equal(await page.locator('main input[name="replicas"]').inputValue(), "2");
    await tabTo(page, 'main input[name="image"]', hidden, { max: 3 });
    await page.keyboard.press("Control+A");
    await page.keyboard.type("nginx:1.26");
    await tabTo(page, 'main input[name="name"]', hidden, { back: true });
    assert.equal(await page.locator('main input[name="name"]').inputValue(), "kbd-web");
    await tabTo(page, 'main form button[type="submit"]', hidden);
    await page.keyboard.press("Space");
    await page.getByRole("heading", { name: "Deployment: kbd-web" }).waitFor({ timeout: WAIT });
    // Its tabs: the selected one is the tab stop, the right arrow selects the next (YAML).
    await tabTo(page, 'main [role="tab"][aria-selected="true"]', hidden);
    await page.keyboard.press("ArrowRight");
    await page.locator('main [role="tab"][aria-selected="true"]:focus', { hasText: "YAML" }).waitFor({ timeout: WAIT });
    await page.locator("main .cm-editor").waitFor({ timeout: WAIT });
  } finally {
    await context.close();
  }
  const d = await apiCall(env.url, token, "GET", "/apis/apps/v1/namespaces/p1/deployments/kbd-web");
  assert.equal(d.status, 200);
  assert.equal(d.body.spec.replicas, 2);
  assert.equal(d.body.spec.template.spec.containers[0].image, "nginx:1.26");
  assert.deepEqual([...new Set(hidden)], [], "controls whose focus does not show");
});
