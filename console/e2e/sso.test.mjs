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
import { apiCall, apiToken, root, screenshots, startEnv } from "./harness.mjs";

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
  let token = await apiToken(env.url, "admin", INITIAL);
  let r = await apiCall(env.url, token, "PUT", "/kapis/iam.kubesphere.io/v1beta1/users/admin/password", { currentPassword: INITIAL, password: ADMIN_PW });
  assert.ok(r.status < 300, `password: ${r.status}`);
  token = await apiToken(env.url, "admin", ADMIN_PW);
  provider = await startProvider({
    clients: [{ client_id: "orrery", client_secret: "sso-secret", redirect_uris: [`${publicUrl}/oauth/callback/corp`], grant_types: ["authorization_code"], response_types: ["code"] }],
    accounts: { carol: { email: "carol@corp.test", name: "Carol", groups: ["devs"] } },
  });
  const configuration = [
    "name: corp",
    "type: OIDCIdentityProvider",
    "mappingMethod: manual",
    "displayName: Corp SSO",
    "provider:",
    `  issuer: ${provider.issuer}`,
    "  clientID: orrery",
    "  clientSecret: sso-secret",
    "  scopes: [openid, email, profile, groups]",
  ].join("\n");
  r = await apiCall(env.url, token, "POST", "/api/v1/namespaces/kubesphere-system/secrets", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "idp-corp", labels: { "config.kubesphere.io/type": "identityprovider" } },
    type: "config.kubesphere.io/identityprovider",
    data: { "configuration.yaml": Buffer.from(configuration).toString("base64") },
  });
  assert.ok(r.status < 300, `provider secret: ${r.status} ${JSON.stringify(r.body)}`);
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
