// The console in its eight languages, in a real browser against a real `orrery serve`: the login
// page follows the browser's language (zh-HK → 繁體中文, es-MX → Español…), and after login the
// language selector switches through all eight on the main pages. On every page, no message key
// shows raw and no English message shows where the language has its own words (visible text,
// labels, placeholders and titles). A screenshot of each page in each language is kept under
// e2e/screenshots/i18n-<lang>-<page>.png for people to look at.
// Run: node --test e2e/i18n.test.mjs (needs target/debug/orrery or $ORRERY_BIN, /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { apiCall, changeAdminPassword, screenshots, startEnv } from "./harness.mjs";
import { PAGES, setUpObjects } from "./pages.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 20_000;
/** How long a page may take to show everything in its language. */
const SETTLE = 8_000;
const i18nDir = new URL("../src/i18n/", import.meta.url).pathname;

/** The console's languages, their catalogue files, and a browser locale that should pick each. */
const LANGS = [
  { lang: "en", file: "en.ts", locale: "en-US" },
  { lang: "zh-CN", file: "zh.ts", locale: "zh-CN" },
  { lang: "zh-TW", file: "zhTW.ts", locale: "zh-HK" },
  { lang: "es", file: "es.ts", locale: "es-MX" },
  { lang: "fr", file: "fr.ts", locale: "fr-CA" },
  { lang: "de", file: "de.ts", locale: "de-DE" },
  { lang: "ja", file: "ja.ts", locale: "ja-JP" },
  { lang: "ko", file: "ko.ts", locale: "ko-KR" },
];

/** A catalogue file read as key → message (one `"key": "message",` a line, as they are written). */
function readCatalogue(file) {
  const out = new Map();
  for (const line of readFileSync(join(i18nDir, file), "utf8").split("\n")) {
    const m = /^\s+"([^"]+)":\s+("(?:[^"\\]|\\.)*"),?$/.exec(line);
    if (m) out.set(m[1], JSON.parse(m[2]));
  }
  return out;
}

const en = readCatalogue("en.ts");
const keys = new Set(en.keys());

/** English messages that must not show in `lang`: those its catalogue words differently. */
function englishOnly(lang, file) {
  if (lang === "en") return new Set();
  const own = readCatalogue(file);
  const words = new Set(own.values());
  const out = new Set();
  for (const [k, v] of en) {
    if (v.includes("{") || own.get(k) === v || words.has(v)) continue;
    out.add(v);
  }
  return out;
}

let env;
let token;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await setUpObjects(env.url, token);
});

after(async () => {
  await env?.stop();
});

/** Every text people see or hear on the page: text nodes, labels, placeholders, titles. */
function pageTexts(page) {
  return page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('script,style,textarea,.cm-editor,[translate="no"]')) continue;
      const s = n.textContent.trim();
      if (s && el.getClientRects().length > 0) out.push(s);
    }
    for (const el of document.querySelectorAll("[aria-label],[placeholder],[title]")) {
      for (const a of ["aria-label", "placeholder", "title"]) {
        const s = el.getAttribute(a)?.trim();
        if (s) out.push(s);
      }
    }
    if (document.title) out.push(document.title);
    return out;
  });
}

/** What is wrong with the page's texts in `lang`: raw keys and English fallbacks. */
function problemsIn(texts, english) {
  const bad = [];
  for (const s of texts) {
    if (keys.has(s)) bad.push(`raw key: ${s}`);
    else if (english.has(s)) bad.push(`English: ${s}`);
  }
  return [...new Set(bad)];
}

/** The page's problems in `lang` once its texts hold none, or at the deadline (pages fill in as
 * their data arrives); the screenshot is taken either way. */
async function checkPage(page, lang, english, what, shot) {
  const deadline = Date.now() + SETTLE;
  let bad = [];
  for (;;) {
    bad = problemsIn(await pageTexts(page), english);
    const shown = await page.evaluate(() => document.documentElement.lang);
    if (shown !== lang) bad.push(`page language ${shown}`);
    if (bad.length === 0 || Date.now() > deadline) break;
    await page.waitForTimeout(250);
  }
  await page.screenshot({ path: join(screenshots, shot) });
  return bad.map((b) => `${lang} ${what}: ${b}`);
}

test("the login page follows the browser's language", async () => {
  const problems = [];
  for (const { lang, file, locale } of LANGS) {
    const context = await env.browser.newContext({ locale });
    const page = await context.newPage();
    await page.goto(`${env.url}/console/login`);
    await page.locator('input[type="password"]').waitFor({ timeout: WAIT });
    problems.push(...(await checkPage(page, lang, englishOnly(lang, file), `login page (browser ${locale})`, `i18n-${lang}-login.png`)));
    await context.close();
  }
  assert.deepEqual(problems, []);
});

/** Logs in as admin in a fresh English page. */
async function adminPage() {
  const context = await env.browser.newContext({ locale: "en-US", viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${env.url}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("main#content").waitFor({ timeout: WAIT });
  return { context, page };
}

/** The admin's saved language (`spec.lang`). */
async function savedLang() {
  const r = await apiCall(env.url, token, "GET", "/kapis/iam.kubesphere.io/v1beta1/users/admin");
  return r.body?.spec?.lang;
}

/** Chooses `lang` in the top bar's language selector; waits for the page to be in it and for the
 * choice to be kept as the user's language (so the next page load starts in it). */
async function chooseLanguage(page, lang) {
  await page.locator('select:has(option[value="ko"])').first().selectOption(lang);
  await page.waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: WAIT });
  const deadline = Date.now() + WAIT;
  while ((await savedLang()) !== lang) {
    assert.ok(Date.now() < deadline, `the choice of ${lang} was not saved`);
    await page.waitForTimeout(100);
  }
}

test("every main page in every language: no raw key, no English fallback", async () => {
  const { context, page } = await adminPage();
  const problems = [];
  try {
    for (const { lang, file } of LANGS) {
      const english = englishOnly(lang, file);
      await chooseLanguage(page, lang);
      for (const [name, path] of PAGES) {
        await page.goto(`${env.url}/console${path}`);
        await page.locator("main#content h1").first().waitFor({ timeout: WAIT });
        // Lists and details arrive after the heading: check once the page has its data.
        await page.waitForLoadState("networkidle", { timeout: WAIT }).catch(() => undefined);
        problems.push(...(await checkPage(page, lang, english, `${name} (${path})`, `i18n-${lang}-${name}.png`)));
      }
    }
    assert.deepEqual(problems, []);
    // The choice is kept across page loads: the last one is still the user's language.
    assert.equal(await savedLang(), "ko");
  } finally {
    await chooseLanguage(page, "en").catch(() => undefined);
    await context.close();
  }
});
