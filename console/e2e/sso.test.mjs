// Single sign-on in a real browser: the console's login page offers an OpenID provider (the
// npm package `oidc-provider`, started by the test on loopback), the person signs in there, is
// sent back to Orrery, chooses a username on the first-login page (mapping method `manual`)
// and lands in the console as that user.
// Run: scripts/console.sh e2e (needs target/debug/orrery or $ORRERY_BIN, and /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { changeAdminPassword, root, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;

let env;
let provider;
let page;
let publicUrl;
const problems = [];

/** Starts scripts/oidc/provider.mjs; resolves with its issuer once it says `ready`. */
function startProvider(config) {
  const child = spawn("node", [join(root, "scripts/oidc/provider.mjs"), JSON.stringify(config)], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("the OpenID provider did not start")), WAIT);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^ready (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ child, issuer: m[1] });
      }
    });
    child.on("exit", (code) => fail(new Error(`the OpenID provider exited with ${code}`)));
  });
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  // The platform serves HTTPS with its own certificate on the same port; its public URL (where
  // the provider sends people back, and where its Secure cookies live) is the https one.
  publicUrl = env.url.replace(/^http:/, "https:");
  await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  provider = await startProvider({
    clients: [{ client_id: "orrery", client_secret: "sso-secret", redirect_uris: [`${publicUrl}/oauth/callback/corp`], grant_types: ["authorization_code"], response_types: ["code"] }],
    accounts: { carol: { email: "carol@corp.test", name: "Carol", groups: ["devs"] } },
  });
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", ignoreHTTPSErrors: true });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
});

after(async () => {
  provider?.child.kill("SIGTERM");
  await env?.stop();
});

const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });
const row = (text) => page.getByRole("row").filter({ hasText: text });

test("an administrator adds the OpenID provider, tests it, disables and enables it", async () => {
  await page.goto(`${publicUrl}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await visible(page.getByTestId("user"));
  await page.goto(`${publicUrl}/console/platform/identity-providers`);
  await page.getByRole("button", { name: "Add identity provider" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name", { exact: true }).fill("corp");
  await dialog.getByLabel("Display name").fill("Corp SSO");
  await dialog.locator('select[name="type"]').selectOption("OIDCIdentityProvider");
  await dialog.locator('select[name="mappingMethod"]').selectOption("manual");
  const editor = dialog.getByTestId("yaml-editor").locator(".cm-content");
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(`issuer: ${provider.issuer}\nclientID: orrery\nclientSecret: sso-secret\nscopes: [openid, email, profile, groups]\n`);
  await dialog.getByRole("button", { name: "Test" }).click();
  await visible(dialog.getByTestId("idp-check").getByText(/The provider answers/));
  await shot("sso-admin-add");
  await dialog.getByRole("button", { name: "Create" }).click();
  await visible(row("Corp SSO").locator('[data-state="enabled"]'));
  // Disabled, it leaves the login page; enabled, it comes back (no restart either way).
  await row("Corp SSO").getByRole("button", { name: "Disable" }).click();
  await visible(row("Corp SSO").locator('[data-state="disabled"]'));
  const r = await fetch(`${env.url}/kapis/config.kubesphere.io/v1alpha2/configs/oauth`).then((x) => x.json());
  assert.deepEqual(r.identityProviders, []);
  await row("Corp SSO").getByRole("button", { name: "Enable" }).click();
  await visible(row("Corp SSO").locator('[data-state="enabled"]'));
  await row("Corp SSO").getByRole("button", { name: "Test" }).click();
  await visible(row("Corp SSO").getByText(/signing key/));
  await shot("sso-admin-list");
  await page.getByRole("button", { name: "Log out" }).click();
  await visible(page.getByRole("button", { name: "Log in" }));
});

test("an OIDC login goes from the login page through the provider and the first-login page into the console", async () => {
  await page.goto(`${publicUrl}/console/login`);
  const button = page.getByRole("link", { name: "Log in with Corp SSO" });
  await visible(button);
  await shot("sso-login");
  await button.click();

  // The provider's own sign-in page.
  await visible(page.getByRole("heading", { name: "Test provider" }));
  assert.ok(page.url().startsWith(provider.issuer), page.url());
  await page.getByLabel("Account").fill("carol");
  await shot("sso-provider");
  await page.getByRole("button", { name: "Sign in" }).click();

  // Back at Orrery: the first login asks for a username, suggesting the provider's.
  await visible(page.getByRole("heading", { name: "Choose your username" }));
  assert.ok(page.url().startsWith(`${publicUrl}/console/first-login`), page.url());
  await visible(page.getByText("carol@corp.test"));
  const name = page.getByLabel("Username");
  assert.equal(await name.inputValue(), "carol");
  await name.fill("carol-sso");
  await shot("sso-first-login");
  await page.getByRole("button", { name: "Continue" }).click();

  // In the console, as the chosen user.
  await visible(page.getByTestId("user").getByText("carol-sso"));
  await shot("sso-console");
  assert.deepEqual(problems, []);
});

test("a refused login comes back to the login page with the reason", async () => {
  await page.context().clearCookies();
  // A callback this browser never started.
  await page.goto(`${publicUrl}/oauth/callback/corp?code=x&state=y`);
  await visible(page.getByRole("alert"));
  assert.match(await page.getByRole("alert").innerText(), /start again/);
  await shot("sso-refused");
});
