// Resource forms, project and workspace settings in a real browser against a real `orrery serve`
// with a member `orrery cluster`: a ConfigMap and a Secret through the key/value editors (the
// Secret's value hidden until revealed, in its YAML too, where an edit made while hidden keeps
// the hidden values), a Service and an Ingress to it, a StorageClass and a PV at
// cluster level, a PVC, a NetworkPolicy; a project quota and limit range, then a Deployment
// defaulted by the limit range and another refused by the quota (the error in the user's words,
// the server's detail a click away); a workspace's description, placement and quota edited, and a
// cluster that still holds its projects refused removal; a project viewer is offered none of these
// actions. axe-core finds no serious or critical violation on the forms.
// Run: cd console && ORRERY_BIN=… node --test e2e/resources.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { apiCall, changeAdminPassword, logIn, mustCall, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const VIEWER_PW = "Viewer0Pass";
const WAIT = 60_000;
const NS = "shop";
const P = `/clusters/host/projects/${NS}`;
const TENANT = "/kapis/tenant.kubesphere.io/v1beta1";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let env;
let page;
let token;
const problems = [];

async function must(method, path, body) {
  return mustCall(env.url, token, method, path, body);
}

async function mergePatch(path, body) {
  const r = await fetch(`${env.url}${path}`, { method: "PATCH", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/merge-patch+json" }, body: JSON.stringify(body) });
  assert.ok(r.ok, `PATCH ${path}: ${r.status} ${await r.text()}`);
}

/** Polls `fn` until it returns something truthy (bounded). */
async function until(what, fn) {
  const end = Date.now() + WAIT;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The member joined (direct connection) and ready; a workspace placed on the host with a project. */
async function setUp() {
  await must("POST", "/apis/cluster.kubesphere.io/v1alpha1/clusters", {
    apiVersion: "cluster.kubesphere.io/v1alpha1",
    kind: "Cluster",
    metadata: { name: "member" },
    spec: { provider: "orrery", enable: true, connection: { type: "direct", kubeconfig: Buffer.from(env.memberKubeconfig).toString("base64") } },
  });
  await until("the member to be ready", async () => {
    const c = await apiCall(env.url, token, "GET", "/apis/cluster.kubesphere.io/v1alpha1/clusters/member");
    return (c.body?.status?.conditions ?? []).some((x) => x.type === "Ready" && x.status === "True");
  });
  await must("POST", `${TENANT}/workspacetemplates`, {
    apiVersion: "tenant.kubesphere.io/v1beta1",
    kind: "WorkspaceTemplate",
    metadata: { name: "team", annotations: { "example.com/keep": "me" } },
    spec: { template: { spec: { manager: "admin" } }, placement: { clusters: [{ name: "host" }] } },
  });
  await must("POST", `${TENANT}/workspaces/team/namespaces`, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL);
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await setUp();
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  // Actions wait as long as the other waits here (the machine is shared with other builds).
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (e) => problems.push(String(e)));
  await logIn(page, env.url, "admin", ADMIN_PW, WAIT);
});

after(async () => {
  await env?.stop();
});

const shot = (n) => page.screenshot({ path: join(screenshots, `resources-${n}.png`), fullPage: true });
const visible = (locator, timeout = WAIT) => locator.first().waitFor({ state: "visible", timeout });
const go = (path) => page.goto(`${env.url}/console${path}`);
const heading = (name) => visible(page.getByRole("heading", { name, exact: true }));
const createLink = () => page.getByRole("link", { name: "Create", exact: true }).click();
const submit = (name = "Create") => page.getByRole("button", { name, exact: true }).click();

/** axe-core on the page: no serious or critical violation. */
async function axeClean(where) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`));
  const bad = found.filter((v) => /^(serious|critical)/.test(v));
  assert.deepEqual(bad, [], `${where}: ${bad.join("\n")}`);
}

async function configMapAndSecret() {
  await go(`${P}/configmaps`);
  await createLink();
  await heading("Create: ConfigMap");
  // By keyboard alone: the name, Tab to Add key, Enter adds a row, back to its key and on to its
  // value, then Tab on to Create and Enter.
  await page.getByLabel("Name", { exact: true }).fill("settings");
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute("aria-label") || document.activeElement?.textContent || "");
  const keys = async (...ks) => {
    for (const k of ks) await page.keyboard.press(k);
  };
  await keys("Tab");
  assert.equal(await focused(), "Add key");
  await keys("Enter", "Shift+Tab", "Shift+Tab", "Shift+Tab");
  assert.equal(await focused(), "Key 1");
  await page.keyboard.type("mode");
  await keys("Tab");
  assert.equal(await focused(), "Value 1");
  await page.keyboard.type("demo");
  await axeClean("ConfigMap form");
  await keys("Tab", "Tab", "Tab", "Tab");
  assert.equal(await focused(), "Create");
  await keys("Enter");
  await heading("ConfigMap: settings");
  await visible(page.getByTestId("configmap-data").getByText("demo"));

  await go(`${P}/secrets`);
  await createLink();
  await page.getByLabel("Name", { exact: true }).fill("db");
  await page.getByRole("button", { name: "Add key" }).click();
  await page.getByLabel("Key 1", { exact: true }).fill("password");
  const value = page.getByLabel("Value 1", { exact: true });
  assert.equal(await value.getAttribute("type"), "password", "a Secret's value is typed hidden");
  await value.fill("s3cret");
  await axeClean("Secret form");
  await submit();
  await heading("Secret: db");
  const data = page.getByTestId("secret-data");
  await visible(data.getByText("••••••••"));
  assert.equal(await data.getByText("s3cret").count(), 0, "hidden until revealed");
  await page.getByRole("button", { name: "Reveal values" }).click();
  await visible(data.getByText("s3cret"));
  const stored = await must("GET", `/api/v1/namespaces/${NS}/secrets/db`);
  assert.equal(stored.data.password, Buffer.from("s3cret").toString("base64"), "the console encoded the value");
  await shot("secret-revealed");
}

/** The Secret's YAML: its values hidden until revealed; an edit saved while hidden keeps them. */
async function secretYaml() {
  const b64 = (v) => Buffer.from(v).toString("base64");
  await page.getByRole("tab", { name: "YAML" }).click();
  const editor = page.getByTestId("yaml-editor").locator(".cm-content");
  await visible(editor);
  const text = () => editor.innerText();
  assert.match(await text(), /password: ••••••••/);
  assert.ok(!(await text()).includes(b64("s3cret")), "the YAML shows no value until asked");
  const reveal = page.getByRole("button", { name: "Reveal values" });
  assert.equal(await reveal.getAttribute("aria-pressed"), "false");
  // A key added while the others are hidden: the hidden ones are saved as they were.
  await editor.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.insertText("stringData:\n  extra: added\n");
  await submit("Save");
  await visible(page.getByRole("status").filter({ hasText: "Saved." }));
  const stored = await must("GET", `/api/v1/namespaces/${NS}/secrets/db`);
  assert.deepEqual(stored.data, { extra: b64("added"), password: b64("s3cret") });
  // The object as the server has it now, still hidden.
  await page.waitForFunction(() => /extra: ••••••••/.test(document.querySelector('[data-testid="yaml-editor"] .cm-content')?.textContent ?? ""), null, { timeout: WAIT });
  assert.ok(!(await text()).includes(b64("added")));
  await axeClean("Secret YAML");
  await reveal.click();
  await page.waitForFunction((v) => (document.querySelector('[data-testid="yaml-editor"] .cm-content')?.textContent ?? "").includes(v), b64("s3cret"), { timeout: WAIT });
  assert.equal(await page.getByRole("button", { name: "Hide values" }).getAttribute("aria-pressed"), "true");
  await shot("secret-yaml-revealed");
}

async function serviceAndIngress() {
  await go(`${P}/services`);
  await page.getByRole("link", { name: "Create Service" }).click();
  await page.getByLabel("Name", { exact: true }).fill("web");
  assert.equal(await page.getByLabel(/^Selector/).inputValue(), "app=web", "the selector follows the name");
  await page.getByLabel("Target port", { exact: true }).fill("8080");
  await submit();
  await heading("Service: web");
  await page.waitForFunction(() => /\d+\.\d+\.\d+\.\d+/.test(document.querySelector('[data-testid="cluster-ip"]')?.textContent ?? ""), null, { timeout: WAIT });

  await go(`${P}/ingresses`);
  await createLink();
  await page.getByLabel("Name", { exact: true }).fill("web");
  await page.getByLabel("Host", { exact: true }).fill("shop.example");
  await page.locator('select[name="service0-0"]').selectOption("web");
  // The backend's port comes from the chosen Service.
  assert.equal(await page.locator('input[name="servicePort0-0"]').inputValue(), "80");
  await axeClean("Ingress form");
  await shot("ingress-form");
  await submit();
  await heading("Ingress: web");
  await visible(page.getByRole("link", { name: "web", exact: true }));
  const ing = await must("GET", `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/web`);
  assert.deepEqual(ing.spec.rules, [{ host: "shop.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }]);
}

/** A StorageClass and a PersistentVolume of it at cluster level. */
async function storage() {
  await go("/clusters/host/r/storageclasses");
  await createLink();
  await page.getByLabel("Name", { exact: true }).fill("fast");
  await page.getByLabel("Provisioner", { exact: true }).fill("example.com/disk");
  await page.getByRole("button", { name: "Add key" }).click();
  await page.getByLabel("Key 1", { exact: true }).fill("type");
  await page.getByLabel("Value 1", { exact: true }).fill("ssd");
  await submit();
  await heading("StorageClass: fast");
  await go("/clusters/host/r/persistentvolumes");
  await createLink();
  await page.getByLabel("Name", { exact: true }).fill("pv-fast");
  await page.getByLabel("Capacity", { exact: true }).fill("2Gi");
  await page.getByLabel("Storage class", { exact: true }).fill("fast");
  await page.getByLabel("Host path", { exact: true }).fill("/data/pv-fast");
  await axeClean("PersistentVolume form");
  await submit();
  await heading("PersistentVolume: pv-fast");
  const pv = await must("GET", "/api/v1/persistentvolumes/pv-fast");
  assert.deepEqual([pv.spec.storageClassName, pv.spec.capacity.storage, pv.spec.hostPath.path], ["fast", "2Gi", "/data/pv-fast"]);
  const sc = await must("GET", "/apis/storage.k8s.io/v1/storageclasses/fast");
  assert.deepEqual(sc.parameters, { type: "ssd" });
}

async function pvcAndPolicy() {
  await go(`${P}/persistentvolumeclaims`);
  await createLink();
  await page.getByLabel("Name", { exact: true }).fill("data");
  await page.getByLabel("Size", { exact: true }).fill("1Gi");
  await submit();
  await heading("PersistentVolumeClaim: data");
  await visible(page.getByTestId("storage-phase"));
  const pvc = await must("GET", `/api/v1/namespaces/${NS}/persistentvolumeclaims/data`);
  assert.deepEqual([pvc.spec.accessModes, pvc.spec.resources.requests.storage], [["ReadWriteOnce"], "1Gi"]);

  await go(`${P}/networkpolicies`);
  await createLink();
  await page.getByLabel("Name", { exact: true }).fill("db-only");
  await page.getByLabel(/^Pods the policy applies to/).fill("app=db");
  await page.getByRole("button", { name: "Add peer" }).click();
  await page.getByLabel("Pod labels", { exact: true }).fill("app=web");
  await page.getByLabel(/^Ports \(TCP/).fill("TCP/5432");
  await axeClean("NetworkPolicy form");
  await shot("networkpolicy-form");
  await submit();
  await heading("NetworkPolicy: db-only");
  const np = await must("GET", `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/db-only`);
  assert.deepEqual(np.spec.ingress, [{ from: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ protocol: "TCP", port: 5432 }] }]);
  // Editing keeps what the form does not show: an annotation added meanwhile survives a save.
  await mergePatch(`/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/db-only`, { metadata: { annotations: { "example.com/keep": "me" } } });
  await page.getByRole("link", { name: "Edit", exact: true }).click();
  await heading("Edit: NetworkPolicy");
  await page.getByLabel(/^Ports \(TCP/).fill("TCP/5432, TCP/5433");
  await submit("Save");
  await heading("NetworkPolicy: db-only");
  const edited = await must("GET", `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/db-only`);
  assert.equal(edited.metadata.annotations["example.com/keep"], "me");
  assert.equal(edited.spec.ingress[0].ports.length, 2);
}

/** Quota: at most one Deployment; limit range: default limits. */
async function quotaAndLimits() {
  await go(`${P}/settings`);
  await heading(`Project settings: ${NS}`);
  const quota = page.getByRole("form", { name: "Project quota" });
  await quota.locator('input[name="quota-count/deployments.apps"]').fill("1");
  await quota.getByRole("button", { name: "Save" }).click();
  await visible(quota.getByRole("status"));
  const limits = page.getByRole("form", { name: "Default container resources" });
  await limits.getByLabel("Default CPU limit").fill("500m");
  await limits.getByLabel("Default memory limit").fill("256Mi");
  await limits.getByRole("button", { name: "Save" }).click();
  await visible(limits.getByRole("status"));
  await axeClean("project settings");
  await shot("project-settings");

  const deploy = async (name) => {
    await go(`${P}/create/workload/deployments`);
    await page.getByLabel("Name", { exact: true }).fill(name);
    await submit();
  };
  await deploy("one");
  await heading("Deployment: one");
  // The pod got the limit range's default limits.
  const pod = await until("a pod of one", async () => (await must("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Done`)).items[0]);
  assert.deepEqual(pod.spec.containers[0].resources.limits, { cpu: "500m", memory: "256Mi" });
  // A second Deployment is over the quota: said in the user's words, kube's message a click away.
  await deploy("two");
  const alert = page.getByRole("alert");
  await visible(alert.getByText("Refused: this would go over a quota."));
  await alert.getByText("Details from the server").click();
  await visible(alert.getByText(/exceeded quota/));
  await shot("quota-refused");
}

async function workspaceSettings() {
  await go("/workspaces/team/settings");
  await heading("Workspace settings: team");
  const form = page.getByRole("form", { name: "Basic information" });
  await form.getByLabel("Description", { exact: true }).fill("Shop team");
  await form.getByRole("checkbox", { name: "member" }).check();
  await form.getByRole("button", { name: "Save" }).click();
  await visible(form.getByRole("status"));
  const t = await must("GET", `${TENANT}/workspacetemplates/team`);
  assert.equal(t.metadata.annotations["kubesphere.io/description"], "Shop team");
  assert.equal(t.metadata.annotations["example.com/keep"], "me");
  assert.deepEqual(t.spec.placement.clusters.map((c) => c.name), ["host", "member"]);
  await axeClean("workspace settings");
  // The workspace's quota in the host cluster.
  const wsQuota = page.getByRole("form", { name: "Workspace quota" });
  await wsQuota.locator('input[name="wsquota-pods"]').fill("50");
  await wsQuota.getByRole("button", { name: "Save" }).click();
  await visible(wsQuota.getByRole("status"));
  const quotas = await must("GET", `${TENANT}/workspaces/team/resourcequotas`);
  assert.deepEqual(quotas.items.map((q) => q.spec.quota.hard), [{ pods: "50" }]);
  await go("/workspaces/team/overview");
  await visible(page.getByTestId("ws-description").getByText("Shop team"));
  // A project on the member: taking the member away is refused, naming it.
  await must("POST", `/clusters/member${TENANT}/workspaces/team/namespaces`, { apiVersion: "v1", kind: "Namespace", metadata: { name: "edge" } });
  await go("/workspaces/team/projects");
  await visible(page.getByRole("link", { name: "edge", exact: true }));
  await visible(page.getByRole("link", { name: NS, exact: true }));
  await go("/workspaces/team/settings");
  await form.getByRole("checkbox", { name: "member" }).uncheck();
  await form.getByRole("button", { name: "Save" }).click();
  await visible(form.getByRole("alert").getByText(/member\/edge/));
  const after = await must("GET", `${TENANT}/workspacetemplates/team`);
  assert.deepEqual(after.spec.placement.clusters.map((c) => c.name), ["host", "member"], "nothing moved");
  await shot("workspace-refused");
}

/** A project viewer is offered no Create, Edit or Save, and the settings are read-only. */
async function viewerSeesNoActions() {
  const IAM = "/kapis/iam.kubesphere.io/v1beta1";
  await must("POST", `${IAM}/users`, { apiVersion: "iam.kubesphere.io/v1beta1", kind: "User", metadata: { name: "vera", annotations: { "iam.kubesphere.io/globalrole": "platform-regular" } }, spec: { email: "vera@example.com", password: VIEWER_PW } });
  await must("POST", `${IAM}/namespaces/${NS}/namespacemembers`, [{ username: "vera", roleRef: "viewer" }]);
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  const v = await context.newPage();
  v.setDefaultTimeout(WAIT);
  try {
    await logIn(v, env.url, "vera", VIEWER_PW, WAIT);
    /** Opens `path` and waits for the access review of `verb` on `resource` to be answered (false). */
    const reviewed = async (path, verb, resource) => {
      const answer = v.waitForResponse((r) => r.url().includes("selfsubjectaccessreviews") && (r.request().postData() ?? "").includes(`"verb":"${verb}"`) && (r.request().postData() ?? "").includes(`"resource":"${resource}"`), { timeout: WAIT });
      await v.goto(`${env.url}/console${path}`);
      assert.equal((await (await answer).json()).status.allowed, false, `${verb} ${resource}`);
    };
    await reviewed(`${P}/configmaps`, "create", "configmaps");
    await visible(v.getByRole("link", { name: "settings", exact: true }));
    assert.equal(await v.getByRole("link", { name: "Create", exact: true }).count(), 0);
    await reviewed(`${P}/configmaps/settings`, "update", "configmaps");
    await visible(v.getByTestId("configmap-data").getByText("demo"));
    assert.equal(await v.getByRole("link", { name: "Edit", exact: true }).count(), 0);
    await reviewed(`${P}/settings`, "create", "resourcequotas");
    await visible(v.locator('input[name="quota-count/deployments.apps"][disabled]'));
    assert.equal(await v.getByRole("button", { name: "Save" }).count(), 0);
  } finally {
    await context.close();
  }
}

test("resources through forms, quotas and limit ranges, workspace settings", async () => {
  await configMapAndSecret();
  await secretYaml();
  await serviceAndIngress();
  try {
    await storage();
    await pvcAndPolicy();
    await quotaAndLimits();
    await workspaceSettings();
    await viewerSeesNoActions();
  } catch (e) {
    await shot("failed").catch(() => undefined);
    throw e;
  }
  assert.deepEqual(problems, []);
});
