// Users and access in the browser (issue 17, second Build group): an administrator disables,
// unlocks and re-roles a user, reads their login records, downloads their kubeconfig and
// revokes its token, while the user, logged in in a second browser context, sees each change;
// a custom workspace role built from role templates, and its effect on another user, changed
// and taken back; roles and members at the project and cluster levels too; pages and actions
// shown only to those allowed.
// Run: cd console && node --test e2e/access.test.mjs (needs target/debug/orrery, /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { apiCall, apiToken, changeAdminPassword, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const BOB_PW = "Bob0Pass1234";
const CAROL_PW = "Carol0Pass12";
const WAIT = 60_000;
const IAM = "/kapis/iam.kubesphere.io/v1beta1";

let env;
let admin;
let token;
const problems = [];

const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });

/** A fresh browser context (its own cookies) with one page, script errors recorded. */
async function newPage() {
  const ctx = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US", acceptDownloads: true });
  const p = await ctx.newPage();
  p.on("pageerror", (e) => problems.push(String(e)));
  return p;
}

async function login(p, user, password) {
  await p.goto(`${env.url}/console/login`);
  await p.getByLabel("Username", { exact: true }).fill(user);
  await p.getByLabel("Password", { exact: true }).fill(password);
  await p.getByRole("button", { name: "Log in" }).click();
}

async function createUser(name, password) {
  const r = await apiCall(env.url, token, "POST", `${IAM}/users`, {
    apiVersion: "iam.kubesphere.io/v1beta1", kind: "User", metadata: { name, annotations: { "iam.kubesphere.io/globalrole": "platform-regular" } }, spec: { email: `${name}@example.com`, password },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** Polls `probe` until it holds, at most WAIT ms. */
async function eventually(what, probe) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await createUser("bob", BOB_PW);
  await createUser("carol", CAROL_PW);
  const ws = await apiCall(env.url, token, "POST", "/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates", {
    apiVersion: "tenant.kubesphere.io/v1beta1", kind: "WorkspaceTemplate", metadata: { name: "ws1" },
    spec: { template: { spec: { manager: "admin" } }, placement: { clusters: [{ name: "host" }] } },
  });
  assert.ok(ws.status < 300, JSON.stringify(ws.body));
  await eventually("ws1's built-in roles", async () => (await apiCall(env.url, token, "GET", `${IAM}/workspaces/ws1/workspaceroles/ws1-viewer`)).status === 200);
  admin = await newPage();
  await login(admin, "admin", ADMIN_PW);
  await visible(admin.getByRole("heading", { name: "Clusters" }));
});

after(async () => {
  await env?.stop();
});

test("an administrator disables, unlocks and re-roles a user, who sees each change", async () => {
  const bob = await newPage();
  await login(bob, "bob", BOB_PW);
  await visible(bob.getByRole("heading", { name: "Workspaces" }));
  const side = bob.getByRole("navigation", { name: "Platform" });
  assert.equal(await side.getByRole("link", { name: "Users", exact: true }).count(), 0, "a regular user is not offered Users");

  await admin.goto(`${env.url}/console/platform/users`);
  await admin.getByRole("link", { name: "bob", exact: true }).click();
  await visible(admin.getByRole("heading", { name: "User: bob" }));
  const state = admin.getByTestId("user-state");
  await visible(state.filter({ hasText: "Active" }));
  // Disable: bob's session ends at once and he cannot log in.
  await admin.getByRole("button", { name: "Disable" }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "Disable" }).click();
  await visible(state.filter({ hasText: "Disabled" }));
  await bob.reload();
  await visible(bob.getByRole("button", { name: "Log in" }));
  await login(bob, "bob", BOB_PW);
  await visible(bob.getByRole("alert"));
  assert.match(bob.url(), /\/console\/login/);
  await admin.getByRole("button", { name: "Enable" }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "Enable" }).click();
  await visible(state.filter({ hasText: "Active" }));

  // Ten wrong passwords lock bob (from this address); the page says so and offers Unlock.
  // Failures in the very second he was enabled count as before it (login records have whole
  // seconds), so they start after that second.
  const enabled = Date.parse((await apiCall(env.url, token, "GET", `${IAM}/users/bob`)).body.status.lastTransitionTime);
  await eventually("the second bob was enabled in has passed", async () => Date.now() >= enabled + 1000);
  for (let i = 0; i < 10; i++) {
    await fetch(`${env.url}/oauth/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", username: "bob", password: "Wrong0Pass1", client_id: "kubesphere", client_secret: "kubesphere" }) });
  }
  await admin.reload();
  await visible(state.filter({ hasText: "Locked" }));
  await login(bob, "bob", BOB_PW);
  await visible(bob.getByRole("alert").filter({ hasText: "locked" }));
  // The login records show the failures, newest first.
  await admin.getByRole("tab", { name: "Login records" }).click();
  const records = admin.getByRole("table", { name: "Login records" });
  await visible(records.getByRole("row").filter({ hasText: "Failed" }));
  assert.ok((await records.getByRole("row").filter({ hasText: "Failed" }).count()) >= 10);
  await admin.screenshot({ path: join(screenshots, "user-login-records.png"), fullPage: true });
  await admin.getByRole("tab", { name: "Overview" }).click();
  await admin.getByRole("button", { name: "Unlock" }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "Unlock" }).click();
  await visible(state.filter({ hasText: "Active" }));
  await login(bob, "bob", BOB_PW);
  await visible(bob.getByRole("heading", { name: "Workspaces" }));

  // Re-role: as a platform administrator bob is offered the platform's pages; back to
  // regular, he is not.
  await admin.getByRole("button", { name: "Change platform role" }).click();
  await admin.getByRole("dialog").getByLabel("Platform role", { exact: true }).selectOption("platform-admin");
  await admin.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await visible(admin.getByTestId("user-role").filter({ hasText: "platform-admin" }));
  await admin.screenshot({ path: join(screenshots, "user-detail.png"), fullPage: true });
  await bob.goto(`${env.url}/console/platform/workspaces`);
  await visible(side.getByRole("link", { name: "Users", exact: true }));
  await admin.getByRole("button", { name: "Change platform role" }).click();
  await admin.getByRole("dialog").getByLabel("Platform role", { exact: true }).selectOption("platform-regular");
  await admin.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await visible(admin.getByTestId("user-role").filter({ hasText: "platform-regular" }));
  await bob.goto(`${env.url}/console/platform/workspaces`);
  await visible(bob.getByRole("heading", { name: "Workspaces" }));
  await visible(side.getByRole("link", { name: "Workspaces", exact: true }));
  assert.equal(await side.getByRole("link", { name: "Users", exact: true }).count(), 0);
  // On his own page bob may edit his profile, but not his role or state.
  await bob.goto(`${env.url}/console/platform/users/bob`);
  await visible(bob.getByRole("heading", { name: "User: bob" }));
  await visible(bob.getByRole("button", { name: "Edit" }));
  for (const action of ["Disable", "Change platform role", "Delete"]) assert.equal(await bob.getByRole("button", { name: action }).count(), 0, action);
  await bob.context().close();
});

test("the user's kubeconfig: downloaded with its own token, listed, revoked", async () => {
  await admin.goto(`${env.url}/console/platform/users/bob`);
  await admin.getByRole("tab", { name: "Tokens" }).click();
  const [download] = await Promise.all([admin.waitForEvent("download", { timeout: WAIT }), admin.getByRole("button", { name: "Download kubeconfig" }).click()]);
  assert.equal(download.suggestedFilename(), "kubeconfig-bob.yaml");
  const yaml = readFileSync(await download.path(), "utf8");
  const bobToken = /token: (\S+)/.exec(yaml)?.[1];
  assert.ok(bobToken, yaml);
  assert.match(yaml, /current-context: bob@orrery/);
  assert.equal((await apiCall(env.url, bobToken, "GET", `${IAM}/users/bob`)).status, 200, "the kubeconfig's token works");
  const tokens = admin.getByRole("table", { name: "Tokens" });
  const kubeconfigRow = tokens.getByRole("row").filter({ hasText: "Kubeconfig" });
  await visible(kubeconfigRow);
  const id = (await kubeconfigRow.locator("code").first().textContent()).trim();
  await admin.screenshot({ path: join(screenshots, "user-tokens.png"), fullPage: true });
  await admin.getByRole("button", { name: `Revoke token ${id}` }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await admin.waitForFunction((gone) => !document.querySelector('[role="table"][aria-label="Tokens"]')?.textContent?.includes(gone), id, { timeout: WAIT });
  assert.equal((await apiCall(env.url, bobToken, "GET", `${IAM}/users/bob`)).status, 401, "the revoked token is refused");
});

test("a custom workspace role built from templates, and its effect on another user", async () => {
  await admin.goto(`${env.url}/console/workspaces/ws1/roles`);
  await visible(admin.getByRole("heading", { name: "Roles" }));
  await admin.getByRole("link", { name: "Create role" }).click();
  await admin.getByLabel("Name", { exact: true }).fill("project-maker");
  await admin.getByLabel("Display name", { exact: true }).fill("Project maker");
  // Templates are grouped by category, as KubeSphere's editor shows them.
  const projects = admin.getByRole("group", { name: "Projects", exact: true });
  await visible(projects.getByRole("checkbox", { name: "Project Creation", exact: true }));
  await admin.getByRole("group", { name: "Workspace settings", exact: true }).getByRole("checkbox", { name: "Workspace Settings Viewing", exact: true }).check();
  await projects.getByRole("checkbox", { name: "Project Viewing", exact: true }).check();
  await projects.getByRole("checkbox", { name: "Project Creation", exact: true }).check();
  await admin.screenshot({ path: join(screenshots, "role-editor.png"), fullPage: true });
  await admin.getByRole("button", { name: "Create", exact: true }).click();
  await visible(admin.getByRole("link", { name: "project-maker", exact: true }));
  const rules = async () => (await apiCall(env.url, token, "GET", `${IAM}/workspaces/ws1/workspaceroles/project-maker`)).body.rules;
  const createsProjects = (rs) => rs.some((r) => r.resources.includes("namespaces") && r.verbs.includes("create"));
  assert.ok(createsProjects(await rules()), "aggregated from the templates");

  await admin.goto(`${env.url}/console/workspaces/ws1/members`);
  await admin.getByLabel("Username", { exact: true }).fill("carol");
  await admin.getByLabel("Role", { exact: true }).selectOption("project-maker");
  await admin.getByRole("button", { name: "Add member" }).click();
  await visible(admin.getByLabel("Role of carol", { exact: true }));

  // Carol, in her own browser context, may create projects in ws1.
  const carol = await newPage();
  await login(carol, "carol", CAROL_PW);
  await visible(carol.getByRole("heading", { name: "Workspaces" }));
  await carol.goto(`${env.url}/console/workspaces/ws1/projects`);
  await carol.getByRole("button", { name: "Create project" }).click();
  await carol.getByLabel("Name", { exact: true }).fill("carols");
  await carol.getByRole("button", { name: "Create", exact: true }).click();
  await visible(carol.getByRole("link", { name: "carols" }));
  // She may not change the workspace's roles or members: those pages offer her nothing.
  await carol.goto(`${env.url}/console/workspaces/ws1/roles`);
  await visible(carol.getByRole("link", { name: "ws1-admin" }));
  assert.equal(await carol.getByRole("link", { name: "Create role" }).count(), 0);
  await carol.getByRole("link", { name: "ws1-admin" }).click();
  await visible(carol.getByRole("note"));
  assert.equal(await carol.getByRole("button", { name: "Save" }).count(), 0);

  // The administrator takes Project Creation out of the role: its rules go with it...
  await admin.goto(`${env.url}/console/workspaces/ws1/roles/project-maker`);
  const creation = admin.getByRole("group", { name: "Projects", exact: true }).getByRole("checkbox", { name: "Project Creation", exact: true });
  await visible(creation);
  assert.equal(await creation.isChecked(), true);
  await creation.uncheck();
  await admin.getByRole("button", { name: "Save" }).click();
  await visible(admin.getByRole("link", { name: "project-maker", exact: true }));
  assert.ok(!createsProjects(await rules()), "unticking a template takes its rules away");
  // ...and carol is no longer offered project creation, nor allowed it.
  const review = carol.waitForResponse((r) => r.url().includes("selfsubjectaccessreviews") && (r.request().postData() ?? "").includes('"resource":"namespaces"'), { timeout: WAIT });
  await carol.goto(`${env.url}/console/workspaces/ws1/projects`);
  assert.equal((await (await review).json()).status.allowed, false);
  await visible(carol.getByRole("link", { name: "carols" }));
  assert.equal(await carol.getByRole("button", { name: "Create project" }).count(), 0);
  const carolToken = await apiToken(env.url, "carol", CAROL_PW);
  const refused = await apiCall(env.url, carolToken, "POST", "/kapis/tenant.kubesphere.io/v1beta1/workspaces/ws1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "sneaky" } });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  await carol.screenshot({ path: join(screenshots, "role-effect-carol.png"), fullPage: true });

  // Her role is changed on the members page; the custom role, no longer held, is deleted.
  await admin.goto(`${env.url}/console/workspaces/ws1/members`);
  await admin.getByLabel("Role of carol", { exact: true }).selectOption("ws1-viewer");
  await eventually("carol's role changed", async () => (await apiCall(env.url, token, "GET", `${IAM}/workspaces/ws1/workspacemembers/carol`)).body?.metadata?.annotations?.["iam.kubesphere.io/workspacerole"] === "ws1-viewer");
  await admin.goto(`${env.url}/console/workspaces/ws1/roles`);
  await admin.getByRole("button", { name: "Delete role project-maker" }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await admin.waitForFunction(() => !document.querySelector('[role="table"]')?.textContent?.includes("project-maker"), null, { timeout: WAIT });
  assert.equal((await apiCall(env.url, token, "GET", `${IAM}/workspaces/ws1/workspaceroles/project-maker`)).status, 404);
  // Built-in roles are not offered for deletion.
  assert.equal(await admin.getByRole("button", { name: "Delete role ws1-admin" }).count(), 0);
  await carol.context().close();
});

test("platform roles: a custom global role from templates, in Chinese too", async () => {
  await admin.goto(`${env.url}/console/platform/roles`);
  await admin.getByRole("link", { name: "Create role" }).click();
  await admin.getByLabel("Name", { exact: true }).fill("user-auditor");
  await admin.getByRole("group", { name: "Access control", exact: true }).getByRole("checkbox", { name: "User Viewing", exact: true }).check();
  await admin.getByRole("button", { name: "Create", exact: true }).click();
  await visible(admin.getByRole("link", { name: "user-auditor", exact: true }));
  const role = (await apiCall(env.url, token, "GET", `${IAM}/globalroles/user-auditor`)).body;
  assert.deepEqual(role.aggregationRoleTemplates.templateNames, ["global-users-view"]);
  assert.ok(role.rules.some((r) => r.resources.includes("users")));
  // The editor in Chinese: categories and templates in the user's language.
  await admin.getByLabel("Language", { exact: true }).selectOption("zh-CN");
  await admin.getByRole("link", { name: "user-auditor", exact: true }).click();
  await visible(admin.getByRole("group", { name: "访问控制", exact: true }).getByRole("checkbox", { name: "用户查看", exact: true }));
  assert.equal(await admin.getByRole("checkbox", { name: "用户查看", exact: true }).isChecked(), true);
  await admin.screenshot({ path: join(screenshots, "zh-role-editor.png"), fullPage: true });
  // Back to English, saved as the user's spec.lang before the next test loads a page (a reload
  // while the save is in flight would come back in Chinese).
  await Promise.all([
    admin.waitForResponse((r) => r.request().method() === "PATCH" && r.url().includes("/users/") && r.ok()),
    admin.getByLabel("语言", { exact: true }).selectOption("en"),
  ]);
  await visible(admin.getByLabel("Language", { exact: true }));
});

test("roles and members at the project and cluster levels", async () => {
  // A project role from the project's templates, given to a project member, then changed.
  await admin.goto(`${env.url}/console/clusters/host/projects/carols/roles`);
  await admin.getByRole("link", { name: "Create role" }).click();
  await admin.getByLabel("Name", { exact: true }).fill("cm-editor");
  await admin.getByRole("group", { name: "Configuration", exact: true }).getByRole("checkbox", { name: "Configuration Management", exact: true }).check();
  await admin.getByRole("button", { name: "Create", exact: true }).click();
  await visible(admin.getByRole("link", { name: "cm-editor", exact: true }));
  const role = (await apiCall(env.url, token, "GET", `${IAM}/namespaces/carols/roles/cm-editor`)).body;
  assert.ok(role.rules.some((r) => r.resources.includes("configmaps") && r.verbs.includes("*")), JSON.stringify(role.rules));
  await admin.goto(`${env.url}/console/clusters/host/projects/carols/members`);
  await admin.getByLabel("Username", { exact: true }).fill("bob");
  await admin.getByLabel("Role", { exact: true }).selectOption("cm-editor");
  await admin.getByRole("button", { name: "Add member" }).click();
  const roleOfBob = admin.getByLabel("Role of bob", { exact: true });
  await visible(roleOfBob);
  assert.equal(await roleOfBob.inputValue(), "cm-editor");
  const bobToken = await apiToken(env.url, "bob", BOB_PW);
  const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "from-bob" }, data: { a: "b" } };
  await eventually("bob may write config maps in carols", async () => (await apiCall(env.url, bobToken, "POST", "/api/v1/namespaces/carols/configmaps", cm)).status === 201);
  await roleOfBob.selectOption("viewer");
  await eventually("bob is a viewer now", async () => (await apiCall(env.url, token, "GET", `${IAM}/namespaces/carols/namespacemembers/bob`)).body?.metadata?.annotations?.["iam.kubesphere.io/role"] === "viewer");
  await eventually("a viewer writes nothing", async () => (await apiCall(env.url, bobToken, "DELETE", "/api/v1/namespaces/carols/configmaps/from-bob")).status === 403);
  // A cluster role from the cluster's templates.
  await admin.goto(`${env.url}/console/clusters/host/roles`);
  await admin.getByRole("link", { name: "Create role" }).click();
  await admin.getByLabel("Name", { exact: true }).fill("node-reader");
  await admin.getByRole("group", { name: "Cluster resources", exact: true }).getByRole("checkbox", { name: "Node Viewing", exact: true }).check();
  await admin.getByRole("button", { name: "Create", exact: true }).click();
  await visible(admin.getByRole("link", { name: "node-reader", exact: true }));
  const nodeReader = (await apiCall(env.url, token, "GET", `${IAM}/clusterroles/node-reader`)).body;
  assert.deepEqual(nodeReader.aggregationRoleTemplates.templateNames, ["cluster-nodes-view"]);
  assert.ok(nodeReader.rules.some((r) => r.resources.includes("nodes")), JSON.stringify(nodeReader.rules));
  await visible(admin.getByRole("navigation", { name: "Cluster" }).getByRole("link", { name: "Cluster roles" }));
  // The navigation offers members and roles pages where the user may list them: bob, a
  // project viewer, sees his project's, not the cluster's.
  const bob = await newPage();
  await login(bob, "bob", BOB_PW);
  await visible(bob.getByRole("heading", { name: "Workspaces" }));
  await bob.goto(`${env.url}/console/clusters/host/projects/carols/configmaps`);
  const projectNav = bob.getByRole("navigation", { name: "Project" });
  await visible(projectNav.getByRole("link", { name: "Members", exact: true }));
  await visible(projectNav.getByRole("link", { name: "Roles", exact: true }));
  const answered = (resource) => bob.waitForResponse((r) => r.url().includes("selfsubjectaccessreviews") && (r.request().postData() ?? "").includes(`"resource":"${resource}"`), { timeout: WAIT });
  const reviews = Promise.all([answered("clustermembers"), answered("clusterroles")]);
  await bob.goto(`${env.url}/console/clusters/host/overview`);
  for (const r of await reviews) assert.equal((await r.json()).status.allowed, false);
  const clusterNav = bob.getByRole("navigation", { name: "Cluster" });
  await visible(clusterNav.getByRole("link", { name: "Overview", exact: true }));
  // The answers are in; two frames later the navigation shows what they decided.
  await bob.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.equal(await clusterNav.getByRole("link", { name: "Members", exact: true }).count(), 0);
  assert.equal(await clusterNav.getByRole("link", { name: "Cluster roles", exact: true }).count(), 0);
  await bob.context().close();
});

test("the access pages ran without script errors", () => {
  assert.deepEqual(problems, []);
});
