// The App Store in a real browser against a real `orrery serve`: a chart from the shared test
// data is uploaded into a workspace, submitted, rejected with a reason, resubmitted, approved
// and published through the pages; then deployed from the store with changed values into a
// project, and the release page shows its state, values and resources.
// Run: scripts/console.sh e2e (needs target/debug/orrery or $ORRERY_BIN, and /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiCall, changeAdminPassword, screenshots, startEnv, testdata } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;
// Installing grafana and waiting for its workloads takes longer than a page.
const RELEASE_WAIT = 180_000;
const TENANT = "/kapis/tenant.kubesphere.io/v1beta1";

let env;
let page;
let tmp;
let chart;
const problems = [];

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  tmp = mkdtempSync(join(tmpdir(), "orrery-e2e-chart-"));
  // A chart package as `helm package` lays it out: the chart's directory at the archive's root.
  chart = join(tmp, "grafana.tgz");
  execFileSync("tar", ["czf", chart, "-C", join(testdata(), "helm-charts"), "grafana"]);
  const token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  // A workspace on the host with a project to deploy into.
  let r = await apiCall(env.url, token, "POST", `${TENANT}/workspacetemplates`, {
    apiVersion: "tenant.kubesphere.io/v1beta1",
    kind: "WorkspaceTemplate",
    metadata: { name: "shop" },
    spec: { template: { spec: { manager: "admin" } }, placement: { clusters: [{ name: "host" }] } },
  });
  assert.ok(r.status < 300, `workspace: ${r.status} ${JSON.stringify(r.body)}`);
  // The workspace reaches the host's caches shortly after; retry (bounded) until the project is made.
  const deadline = Date.now() + WAIT;
  do {
    r = await apiCall(env.url, token, "POST", `${TENANT}/workspaces/shop/namespaces`, { metadata: { name: "web" } });
    if (r.status < 300) break;
    await new Promise((res) => setTimeout(res, 200));
  } while (Date.now() < deadline);
  assert.ok(r.status < 300, `project: ${r.status} ${JSON.stringify(r.body)}`);

  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
});

after(async () => {
  await env?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const shot = (name, fullPage = true) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage });
const visible = (locator, timeout = WAIT) => locator.first().waitFor({ state: "visible", timeout });
const row = (text) => page.getByRole("row").filter({ hasText: text });
const go = (path) => page.goto(`${env.url}/console${path}`);

test("a chart is uploaded into a workspace, rejected with a reason, resubmitted, approved and published", async () => {
  await go("/login");
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await visible(page.getByTestId("user"));

  // The workspace's app templates: upload the package.
  await go("/workspaces/shop/apps");
  await page.getByRole("button", { name: "Upload chart" }).click();
  await page.getByLabel("Chart package (.tgz)").setInputFiles(chart);
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await page.waitForURL(/\/workspaces\/shop\/apps\/grafana$/, { timeout: WAIT });
  await visible(row("12.11.1").locator('[data-state="draft"]'));
  await shot("appstore-template");
  await row("12.11.1").getByRole("button", { name: "Submit for review" }).click();
  await visible(row("12.11.1").locator('[data-state="submitted"]'));

  // The reviewer's queue: reject with a reason.
  await go("/store/reviews");
  await visible(row("grafana"));
  await shot("appstore-reviews");
  await row("grafana").getByRole("button", { name: "Reject" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Reason (the submitter sees it)").fill("Pin the image tag, please.");
  await dialog.getByRole("button", { name: "Reject" }).click();
  await page.getByRole("row").filter({ hasText: "grafana" }).first().waitFor({ state: "detached", timeout: WAIT });

  // The submitter sees the reason and submits again.
  await go("/workspaces/shop/apps/grafana");
  await visible(row("12.11.1").locator('[data-state="rejected"]'));
  await visible(row("12.11.1").getByText("Pin the image tag, please."));
  await row("12.11.1").getByRole("button", { name: "Submit for review" }).click();
  await visible(row("12.11.1").locator('[data-state="submitted"]'));

  // Approved, then published from the approved list.
  await go("/store/reviews");
  await row("grafana").getByRole("button", { name: "Approve" }).click();
  await page.getByRole("row").filter({ hasText: "grafana" }).first().waitFor({ state: "detached", timeout: WAIT });
  await page.getByLabel("Status").selectOption("passed");
  await row("grafana").getByRole("button", { name: "Publish" }).click();
  await page.getByRole("row").filter({ hasText: "grafana" }).first().waitFor({ state: "detached", timeout: WAIT });
  await go("/workspaces/shop/apps/grafana");
  await visible(row("12.11.1").locator('[data-state="active"]'));
});

test("the published app is found in the store and deployed with changed values", async () => {
  // Search (on the server) and open the app's page.
  await go("/store");
  await page.getByLabel("Search apps").fill("graf");
  const card = page.getByRole("link", { name: /grafana/i });
  await visible(card);
  await shot("appstore-store");
  await card.first().click();
  await page.waitForURL(/\/store\/apps\/grafana$/, { timeout: WAIT });
  // The README, rendered (its first heading), and the maintainers from the chart.
  await visible(page.getByTestId("readme").getByRole("heading", { name: "Grafana Helm Chart" }));
  await visible(page.getByTestId("maintainers").getByText("Jan-Otto Kröpke"));
  await shot("appstore-app", false);
  assert.equal(await page.title(), "grafana · Orrery");

  // The deploy form: the project, and the chart's defaults in the values editor.
  await page.getByRole("link", { name: "Deploy" }).click();
  await page.waitForURL(/\/store\/apps\/grafana\/deploy/, { timeout: WAIT });
  await page.getByLabel("Release name").fill("dash");
  await page.locator('select[name="workspace"]').selectOption("shop");
  await page.locator('select[name="cluster"]').selectOption("host");
  await page.locator('select[name="project"]').selectOption("web");
  const editor = page.getByTestId("yaml-editor").locator(".cm-content");
  await visible(editor);
  await visible(page.getByText("The values are valid for this chart."));
  // The chart's values.yaml (CodeMirror renders only the lines in view: its first ones).
  assert.match(await editor.innerText(), /imageRegistry: null/);

  // Invalid YAML is refused in place, before anything is made.
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText("replicas: [\n");
  await visible(page.locator('[data-check="error"]'));
  assert.equal(await page.getByRole("button", { name: "Deploy" }).isDisabled(), true);
  await shot("appstore-deploy-invalid");

  // Changed values: two replicas and another admin user name.
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText("replicas: 2\nadminUser: orrery\n");
  await visible(page.getByText("The values are valid for this chart."));
  await shot("appstore-deploy");
  await page.getByRole("button", { name: "Deploy" }).click();

  // The release page: its state reaches active (workloads available) and its values are shown.
  await page.waitForURL(/\/clusters\/host\/projects\/web\/apps\/dash$/, { timeout: WAIT });
  await visible(page.getByTestId("release-state").locator('[data-state="active"]'), RELEASE_WAIT);
  await visible(row("dash-grafana").getByText("2/2"));
  await shot("appstore-release");
  await page.getByRole("tab", { name: "Values" }).click();
  const values = page.getByTestId("release-values");
  await visible(values);
  assert.match(await values.innerText(), /replicas: 2/);
  assert.match(await values.innerText(), /adminUser: orrery/);
  await page.getByRole("tab", { name: "History" }).click();
  await visible(row("deployed"));
  await shot("appstore-release-history");

  assert.equal(await page.title(), "App: dash · Orrery");

  // The project's apps list shows it too.
  await go("/clusters/host/projects/web/apps");
  await visible(row("dash").locator('[data-state="active"]'));
  // An unknown address says so, with a way home.
  await go("/no/such/page");
  await page.getByRole("link", { name: "Go to the console's home page" }).click();
  await page.waitForURL(/\/console\/platform\/clusters$/, { timeout: WAIT });
  assert.deepEqual(problems, []);
});
