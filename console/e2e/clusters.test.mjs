// Clusters in the browser (issue 17, first Build group): joining a member through the wizard,
// its detail page (conditions with reasons, versions, nodes, labels), a node's page (conditions,
// capacity, pods, cordon/uncordon, taints), replacing the kubeconfig, cluster members with a
// role change, a member going down, and removing it. Against `orrery serve` and a member
// `orrery cluster` this test starts (and stops) itself.
// Run: cd console && node --test e2e/clusters.test.mjs (needs target/debug/orrery, /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiCall, apiToken, changeAdminPassword, screenshots, startEnv, startReady } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const OPS_PW = "Ops0Pass1234";
const WAIT = 60_000;

let env;
let member;
let memberDir;
let memberKubeconfig;
let page;
let token;
const problems = [];

const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });
const row = (text) => page.getByRole("row").filter({ hasText: text });
const go = (path) => page.goto(`${env.url}/console${path}`);

/** Polls `probe` (an async predicate) until it holds, at most WAIT ms. */
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
  // The member is this test's own, so that it can be stopped to show a cluster going down.
  memberDir = mkdtempSync(join(tmpdir(), "orrery-e2e-member-"));
  member = await startReady(["cluster", "--data-dir", memberDir, "--listen", "127.0.0.1:0"], "kubernetes-api");
  memberKubeconfig = readFileSync(join(memberDir, "kubeconfig.yaml"), "utf8");
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US", acceptDownloads: true });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${env.url}/console/login`);
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(ADMIN_PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await visible(page.getByRole("heading", { name: "Clusters" }));
});

after(async () => {
  member?.child.kill("SIGTERM");
  await env?.stop();
  if (memberDir) rmSync(memberDir, { recursive: true, force: true });
});

test("join a cluster through the wizard: an exec plugin explained and refused, then the real kubeconfig", async () => {
  await go("/platform/clusters");
  await page.getByRole("link", { name: "Join cluster" }).click();
  await visible(page.getByRole("heading", { name: "Join cluster" }));
  // The name is checked in the browser before anything is sent.
  await page.getByLabel("Name", { exact: true }).fill("Member_1");
  assert.equal(await page.getByRole("button", { name: "Next" }).isDisabled(), true);
  await page.getByLabel("Name", { exact: true }).fill("member1");
  await page.getByLabel("Provider", { exact: true }).fill("Orrery");
  await page.getByRole("button", { name: "Next" }).click();
  // A kubeconfig whose token comes from a command this platform does not allow: the page
  // explains the allow-list at once, and the server's own words say why it is refused.
  const server = /server: (\S+)/.exec(memberKubeconfig)[1];
  const withExec = `apiVersion: v1
kind: Config
current-context: eks
clusters:
- name: eks
  cluster: {server: "${server}", insecure-skip-tls-verify: true}
contexts:
- name: eks
  context: {cluster: eks, user: eks}
users:
- name: eks
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: evil-auth, args: [token]}
`;
  await page.getByLabel("Kubeconfig (paste it here)").fill(withExec);
  const explained = page.getByTestId("exec-explained");
  await visible(explained.getByText("kubelogin"));
  await visible(explained.getByRole("alert").filter({ hasText: "runs evil-auth, which this platform does not allow" }));
  await page.getByRole("button", { name: "Validate and continue" }).click();
  const refusal = page.getByTestId("refusal");
  await visible(refusal.filter({ hasText: 'exec plugin command "evil-auth" is not allowed on this platform' }));
  assert.match(await refusal.textContent(), /--exec-plugin-allow/);
  await shot("cluster-join-exec-refused");
  // The member's real kubeconfig, uploaded as a file.
  await page.getByLabel("…or upload a kubeconfig file").setInputFiles({ name: "member.yaml", mimeType: "application/yaml", buffer: Buffer.from(memberKubeconfig) });
  await visible(page.getByTestId("kubeconfig-summary").getByText(server));
  assert.equal(await page.getByTestId("refusal").count(), 0, "a new kubeconfig clears the last refusal");
  await page.getByRole("button", { name: "Validate and continue" }).click();
  await visible(page.getByText("The platform reached the cluster: it can be joined."));
  assert.match(await page.getByTestId("validated-version").textContent(), /^v1\.33/);
  await shot("cluster-join-review");
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Cluster: member1" }));
  // The platform checks the member's health and the page follows its status live.
  await visible(page.getByTestId("cluster-ready").filter({ hasText: /^Ready$/ }));
  await visible(row("Ready").filter({ hasText: "the cluster answers" }));
  assert.match(await page.getByTestId("cluster-version").textContent(), /^v1\.33/);
  assert.match(await page.getByTestId("cluster-facts").textContent(), /No client certificate/);
  await visible(page.getByRole("table", { name: "Nodes" }).getByRole("link"));
  await shot("cluster-detail");
  // The kubeconfig went into a Secret: the Cluster object carries none.
  const c = await apiCall(env.url, token, "GET", "/apis/cluster.kubesphere.io/v1alpha1/clusters/member1");
  assert.equal(c.body.spec.connection.kubeconfig, undefined);
  assert.ok(c.body.spec.connection.kubeconfigSecretRef?.name, JSON.stringify(c.body.spec));
  // The list links to it and shows it Ready.
  await go("/platform/clusters");
  await visible(row("member1").locator(".badge.ok", { hasText: "Ready" }));
});

test("cluster labels are added and removed on the detail page", async () => {
  await go("/platform/clusters/member1");
  await page.getByLabel("Label key", { exact: true }).fill("env");
  await page.getByLabel("Label value", { exact: true }).fill("prod");
  await page.getByRole("button", { name: "Add label" }).click();
  const chips = page.getByRole("list", { name: "Cluster labels" });
  await visible(chips.getByText("env=prod"));
  // The platform puts the Label's key on the Cluster, so selectors can pick clusters by it.
  const labelled = await eventually("the cluster carries the label", async () => {
    const r = await apiCall(env.url, token, "GET", "/apis/cluster.kubesphere.io/v1alpha1/clusters/member1");
    return Object.keys(r.body.metadata.labels ?? {}).find((k) => k.startsWith("label.cluster.kubesphere.io/"));
  });
  assert.ok(labelled);
  await page.getByRole("button", { name: "Remove label env=prod" }).click();
  await page.waitForFunction(() => !document.querySelector('[aria-label="Cluster labels"]')?.textContent?.includes("env=prod"), null, { timeout: WAIT });
  await eventually("the label left the cluster", async () => {
    const r = await apiCall(env.url, token, "GET", "/apis/cluster.kubesphere.io/v1alpha1/clusters/member1");
    return !Object.keys(r.body.metadata.labels ?? {}).some((k) => k.startsWith("label.cluster.kubesphere.io/"));
  });
});

test("a node's page: conditions, capacity, its pods; cordon, uncordon and taints", async () => {
  const nodes = await apiCall(env.url, token, "GET", "/clusters/member1/api/v1/nodes");
  const node = nodes.body.items[0].metadata.name;
  // A pod bound to this node, so the node's page has one to show.
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "pinned", namespace: "default" }, spec: { nodeName: node, containers: [{ name: "c", image: "nginx:1.27", resources: { requests: { cpu: "250m", memory: "64Mi" } } }] } };
  const made = await apiCall(env.url, token, "POST", "/clusters/member1/api/v1/namespaces/default/pods", pod);
  assert.ok(made.status < 300, JSON.stringify(made.body));
  await go("/platform/clusters/member1");
  await page.getByRole("table", { name: "Nodes" }).getByRole("link", { name: node, exact: true }).click();
  await visible(page.getByRole("heading", { name: `Node: ${node}` }));
  await visible(page.getByRole("table", { name: "Conditions" }).getByRole("row").filter({ hasText: "Ready" }).locator(".badge.ok"));
  // Memory in binary units, and what the pods request against what the node offers.
  const capacity = page.getByRole("table", { name: "Capacity and allocation" });
  await visible(capacity.getByRole("row").filter({ hasText: "memory" }).filter({ hasText: /GiB/ }));
  await visible(page.getByRole("table", { name: "Pods" }).getByRole("link", { name: "pinned" }));
  // The CPU the node's pods request, as the API tells it, is what the page sums.
  const onNode = await apiCall(env.url, token, "GET", `/clusters/member1/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`);
  const cores = (q) => (q ? (q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q)) : 0);
  const requested = onNode.body.items
    .filter((p) => !["Succeeded", "Failed"].includes(p.status?.phase))
    .flatMap((p) => p.spec.containers)
    .reduce((a, c) => a + cores(c.resources?.requests?.cpu), 0);
  assert.ok(requested >= 0.25, `requested ${requested}`);
  const cpuRow = capacity.getByRole("row").filter({ hasText: /^cpu/ });
  await visible(cpuRow.getByRole("cell").nth(3).filter({ hasText: new RegExp(`^${String(Math.round(requested * 1000) / 1000).replace(".", "\\.")}$`) }));
  assert.equal(await page.getByTestId("node-schedulable").textContent(), "Schedulable");
  await page.getByRole("button", { name: "Cordon" }).click();
  await visible(page.getByTestId("node-schedulable").filter({ hasText: "Cordoned" }));
  let n = await apiCall(env.url, token, "GET", `/clusters/member1/api/v1/nodes/${node}`);
  assert.equal(n.body.spec.unschedulable, true);
  await page.getByRole("button", { name: "Uncordon" }).click();
  await visible(page.getByTestId("node-schedulable").filter({ hasText: /^Schedulable$/ }));
  n = await apiCall(env.url, token, "GET", `/clusters/member1/api/v1/nodes/${node}`);
  assert.notEqual(n.body.spec.unschedulable, true);
  // A taint, added and removed.
  await page.getByLabel("Taint key", { exact: true }).fill("dedicated");
  await page.getByLabel("Taint value", { exact: true }).fill("gpu");
  await page.getByLabel("Effect", { exact: true }).selectOption("NoSchedule");
  await page.getByRole("button", { name: "Add taint" }).click();
  await visible(page.getByRole("table", { name: "Taints" }).getByRole("row").filter({ hasText: "dedicated" }).filter({ hasText: "NoSchedule" }));
  n = await apiCall(env.url, token, "GET", `/clusters/member1/api/v1/nodes/${node}`);
  assert.deepEqual(n.body.spec.taints, [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }]);
  await shot("node-detail");
  await page.getByRole("button", { name: "Remove taint dedicated" }).click();
  await page.waitForFunction(() => !document.querySelector('[role="table"][aria-label="Taints"]')?.textContent?.includes("dedicated"), null, { timeout: WAIT });
  n = await apiCall(env.url, token, "GET", `/clusters/member1/api/v1/nodes/${node}`);
  assert.equal((n.body.spec.taints ?? []).length, 0);
});

test("cluster members: add a user, change their role, remove them", async () => {
  const made = await apiCall(env.url, token, "POST", "/kapis/iam.kubesphere.io/v1beta1/users", {
    apiVersion: "iam.kubesphere.io/v1beta1", kind: "User", metadata: { name: "ops" }, spec: { email: "ops@example.com", password: OPS_PW },
  });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  await go("/platform/clusters/member1");
  await page.getByRole("link", { name: "Members" }).first().click();
  await visible(page.getByRole("heading", { name: "Members" }));
  await page.getByLabel("Username", { exact: true }).fill("ops");
  await page.getByLabel("Role", { exact: true }).selectOption("cluster-viewer");
  await page.getByRole("button", { name: "Add member" }).click();
  const roleOf = page.getByLabel("Role of ops", { exact: true });
  await visible(roleOf);
  assert.equal(await roleOf.inputValue(), "cluster-viewer");
  const member = () => apiCall(env.url, token, "GET", "/clusters/member1/kapis/iam.kubesphere.io/v1beta1/clustermembers/ops");
  assert.equal((await member()).body.metadata.annotations["iam.kubesphere.io/clusterrole"], "cluster-viewer");
  // The member's rights follow: ops may read the member's nodes, not change them.
  const ops = await apiToken(env.url, "ops", OPS_PW);
  await eventually("ops reads the member's nodes", async () => (await apiCall(env.url, ops, "GET", "/clusters/member1/api/v1/nodes")).status === 200);
  assert.equal((await apiCall(env.url, ops, "DELETE", "/clusters/member1/api/v1/nodes/none")).status, 403, "a viewer changes nothing");
  await roleOf.selectOption("cluster-admin");
  await eventually("the role changed", async () => (await member()).body?.metadata?.annotations?.["iam.kubesphere.io/clusterrole"] === "cluster-admin");
  await shot("cluster-members");
  await page.getByRole("button", { name: "Remove member ops" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove", exact: true }).click();
  await page.waitForFunction(() => !document.querySelector('[role="table"][aria-label="Members"]')?.textContent?.includes("ops"), null, { timeout: WAIT });
  assert.equal((await member()).status, 404);
});

test("replacing the kubeconfig: the same cluster is accepted, an unreachable one refused in the server's words", async () => {
  await go("/platform/clusters/member1");
  await page.getByRole("button", { name: "Replace kubeconfig" }).click();
  const dialog = page.getByRole("dialog", { name: "Replace kubeconfig" });
  const unreachable = memberKubeconfig.replace(/server: \S+/, "server: https://127.0.0.1:9");
  await dialog.getByLabel("Kubeconfig (paste it here)").fill(unreachable);
  await dialog.getByRole("button", { name: "Replace", exact: true }).click();
  await visible(dialog.getByTestId("refusal").filter({ hasText: "cluster unreachable" }));
  await dialog.getByLabel("Kubeconfig (paste it here)").fill(memberKubeconfig);
  await dialog.getByRole("button", { name: "Replace", exact: true }).click();
  await visible(dialog.getByRole("status").filter({ hasText: "The kubeconfig was replaced." }));
  await dialog.getByRole("button", { name: "Close" }).click();
  // The platform reconnects with the new kubeconfig; the member answers through it again.
  await eventually("the member answers after the replacement", async () => (await apiCall(env.url, token, "GET", "/clusters/member1/version")).status === 200);
});

test("a member that stops shows why on its page; removing it from the platform", async () => {
  await go("/platform/clusters/member1");
  await visible(page.getByTestId("cluster-ready").filter({ hasText: /^Ready$/ }));
  member.child.kill("SIGTERM");
  // The health check notices; the page, fed by a watch, shows the reason without a reload.
  await visible(page.getByTestId("cluster-ready").filter({ hasText: "Not ready" }));
  await visible(page.getByRole("table", { name: "Conditions" }).getByRole("row").filter({ hasText: /Unreachable|Timeout/ }));
  await shot("cluster-down");
  await page.getByRole("button", { name: "Remove cluster" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove cluster" }).click();
  await visible(page.getByRole("heading", { name: "Clusters" }));
  await eventually("the Cluster is gone", async () => (await apiCall(env.url, token, "GET", "/apis/cluster.kubesphere.io/v1alpha1/clusters/member1")).status === 404);
  await go("/platform/clusters");
  await visible(row("host"));
  assert.equal(await row("member1").count(), 0);
});

test("the cluster pages ran without script errors", () => {
  assert.deepEqual(problems, []);
});
