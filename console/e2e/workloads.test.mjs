// The workload forms in a real browser against a real `orrery serve`: a StatefulSet with a
// PersistentVolumeClaim template (and env from a ConfigMap) created through the form, its image
// edited and rolled back through its ControllerRevisions; a CronJob created through its form; a
// Deployment's image edited twice through its edit form (fields the form does not show survive),
// rolled back to its first revision as `kubectl rollout undo` does, the image restored; a
// HorizontalPodAutoscaler created, edited and deleted on the Deployment's page; axe-core on the
// form and dialogs. A variable from a Secret's key picked from the keys offered, no value of the
// Secret in anything the page received; an existing Job's edit offering only what Kubernetes
// lets change (parallelism, backoff limit, deadline, time to live), saved against the server.
// Run: cd console && ORRERY_BIN=… node --test --test-concurrency=1 e2e/workloads.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { apiCall, changeAdminPassword, logIn, mustCall, screenshots, startEnv } from "./harness.mjs";

const INITIAL = "Initial0Pass";
const ADMIN_PW = "Changed0Pass";
const WAIT = 60_000;
const NS = "shop";
const P = `/clusters/host/projects/${NS}`;
/** db-creds' values: in no response the page gets, base64 or plain. */
const SECRET_VALUES = ["hunter2-db-pass", "db-admin-user"];
const b64 = (s) => Buffer.from(s).toString("base64");

let env;
let page;
let token;
const problems = [];
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

async function must(method, path, body) {
  return mustCall(env.url, token, method, path, body);
}

/** Polls `fn` (an API read) until `ok(value)`, bounded by WAIT. */
async function until(what, fn, ok) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: last seen ${JSON.stringify(last)?.slice(0, 400)}`);
}

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  env = await startEnv(INITIAL, { member: false });
  token = await changeAdminPassword(env.url, INITIAL, ADMIN_PW);
  await must("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  await must("POST", `/api/v1/namespaces/${NS}/configmaps`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings" }, data: { mode: "demo" } });
  // A Secret whose keys the env picker offers; its values must never reach the page.
  await must("POST", `/api/v1/namespaces/${NS}/secrets`, { apiVersion: "v1", kind: "Secret", metadata: { name: "db-creds" }, data: { password: b64(SECRET_VALUES[0]), username: b64(SECRET_VALUES[1]) } });
  // A Job running, whose pod template Kubernetes will not let change.
  await must("POST", `/apis/batch/v1/namespaces/${NS}/jobs`, {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "pi" },
    spec: { completions: 2, parallelism: 1, backoffLimit: 4, template: { spec: { restartPolicy: "Never", containers: [{ name: "pi", image: "busybox:1.36", command: ["sleep", "3600"] }] } } },
  });
  // Revision 1 of a Deployment, with fields the edit form does not show.
  await must("POST", `/apis/apps/v1/namespaces/${NS}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { app: "web" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { terminationGracePeriodSeconds: 7, containers: [{ name: "web", image: "nginx:1.25", imagePullPolicy: "Always" }] },
      },
    },
  });
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  await logIn(page, env.url, "admin", ADMIN_PW, WAIT);
});

after(async () => {
  await env?.stop();
});

const shot = (n) => page.screenshot({ path: join(screenshots, `${n}.png`), fullPage: true });
const visible = (locator) => locator.first().waitFor({ state: "visible", timeout: WAIT });
const go = (path) => page.goto(`${env.url}/console${path}`);
const group = (name, within = page) => within.getByRole("group", { name, exact: true });
const revisionRow = (text) => page.getByRole("table", { name: "Revisions" }).getByRole("row").filter({ hasText: text });

/** axe-core on the page as it is now: no serious or critical violation. */
async function accessible(what) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
  });
  assert.deepEqual(found, [], `axe on ${what}`);
}

/** A StatefulSet with a claim template mounted in its container and env from a ConfigMap. */
async function createStatefulSet() {
  await go(`${P}/statefulsets`);
  await page.getByRole("link", { name: "Create StatefulSet" }).click();
  await page.locator('input[name="name"]').fill("db");
  const c = group("Container 1");
  await c.getByLabel("Image", { exact: true }).fill("postgres:16");
  await page.getByRole("button", { name: "Add Claim template" }).click();
  const claim = group("Claim template 1");
  await claim.getByLabel("Name", { exact: true }).fill("data");
  await claim.getByLabel("Size", { exact: true }).fill("2Gi");
  await c.getByRole("button", { name: "Add Mount" }).click();
  await group("Mount 1", c).getByLabel("Volume", { exact: true }).selectOption("data");
  await group("Mount 1", c).getByLabel("Mount path", { exact: true }).fill("/var/lib/data");
  await c.getByRole("button", { name: "Add Variable" }).click();
  const v = group("Variable 1", c);
  await v.getByLabel("Variable name", { exact: true }).fill("MODE");
  await v.getByLabel("Taken from", { exact: true }).selectOption("configMap");
  await v.getByLabel("ConfigMap", { exact: true }).selectOption("settings");
  await v.getByLabel("Key", { exact: true }).selectOption("mode");
  await page.getByText("YAML that will be sent").click();
  const yaml = await page.getByTestId("workload-yaml").textContent();
  assert.match(yaml, /volumeClaimTemplates:/);
  assert.match(yaml, /configMapKeyRef:/);
  await shot("workload-form-statefulset");
  await accessible("the StatefulSet form with its rows open");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("heading", { name: "StatefulSet: db" }));
  const sts = await must("GET", `/apis/apps/v1/namespaces/${NS}/statefulsets/db`);
  assert.equal(sts.spec.serviceName, "db");
  assert.deepEqual(sts.spec.volumeClaimTemplates[0].spec.resources.requests, { storage: "2Gi" });
  const ctr = sts.spec.template.spec.containers[0];
  assert.deepEqual(ctr.volumeMounts, [{ name: "data", mountPath: "/var/lib/data" }]);
  assert.deepEqual(ctr.env, [{ name: "MODE", valueFrom: { configMapKeyRef: { name: "settings", key: "mode" } } }]);
  // The controller makes the pod's claim from the template.
  await until("PVC data-db-0", () => apiCall(env.url, token, "GET", `/api/v1/namespaces/${NS}/persistentvolumeclaims/data-db-0`), (r) => r.status === 200);
}

/** db's image edited, then rolled back to revision 1 through its ControllerRevision. */
async function rollBackStatefulSet() {
  await visible(revisionRow("#1 (current)").filter({ hasText: "postgres:16" }));
  await page.getByRole("link", { name: "Edit settings" }).click();
  await visible(page.getByRole("heading", { name: "Edit StatefulSet: db" }));
  await group("Container 1").getByLabel("Image", { exact: true }).fill("postgres:17");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await visible(revisionRow("#2 (current)").filter({ hasText: "postgres:17" }));
  await revisionRow("postgres:16").getByRole("button", { name: "Roll back to #1" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Roll back", exact: true }).click();
  await visible(revisionRow("#3 (current)").filter({ hasText: "postgres:16" }));
  const sts = await must("GET", `/apis/apps/v1/namespaces/${NS}/statefulsets/db`);
  assert.equal(sts.spec.template.spec.containers[0].image, "postgres:16");
  assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, "data");
}

async function createCronJob() {
  await go(`${P}/cronjobs`);
  await page.getByRole("link", { name: "Create CronJob" }).click();
  await page.locator('input[name="name"]').fill("report");
  await page.getByLabel("Schedule (cron)", { exact: true }).fill("*/10 * * * *");
  await page.getByLabel("When a run is still going", { exact: true }).selectOption("Forbid");
  await page.getByLabel("Retries before failing (backoff limit)", { exact: true }).fill("2");
  const c = group("Container 1");
  await c.getByLabel("Image", { exact: true }).fill("busybox:1.36");
  await c.getByLabel("Command (one argument a line)", { exact: true }).fill("sh\n-c");
  await c.getByLabel("Arguments (one a line)", { exact: true }).fill("date");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("heading", { name: "CronJob: report" }));
  const cj = await must("GET", `/apis/batch/v1/namespaces/${NS}/cronjobs/report`);
  assert.equal(cj.spec.schedule, "*/10 * * * *");
  assert.equal(cj.spec.concurrencyPolicy, "Forbid");
  assert.equal(cj.spec.jobTemplate.spec.backoffLimit, 2);
  assert.equal(cj.spec.jobTemplate.spec.template.spec.restartPolicy, "Never");
  assert.deepEqual(cj.spec.jobTemplate.spec.template.spec.containers[0].command, ["sh", "-c"]);
}

/** Edits web's image through the edit form, then waits for that revision to be the current one. */
async function editImage(image, revision) {
  await go(`${P}/deployments/web`);
  await page.getByRole("link", { name: "Edit settings" }).click();
  await visible(page.getByRole("heading", { name: "Edit Deployment: web" }));
  await group("Container 1").getByLabel("Image", { exact: true }).fill(image);
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Deployment: web" }));
  await visible(revisionRow(`#${revision} (current)`).filter({ hasText: image }));
}

/**
 * Everything the page receives from now on (HTTP bodies and WebSocket frames), for `stop()` to
 * say whether any carried one of `needles`.
 */
function recordReceived() {
  const bodies = [];
  const onResponse = (r) => bodies.push(r.text().then((t) => `${r.url()} ${t}`, () => ""));
  const onSocket = (ws) => ws.on("framereceived", (f) => bodies.push(Promise.resolve(`${ws.url()} ${String(f.payload)}`)));
  page.on("response", onResponse);
  page.on("websocket", onSocket);
  return async (needles) => {
    page.off("response", onResponse);
    page.off("websocket", onSocket);
    const all = await Promise.all(bodies);
    return { count: all.length, leaks: all.filter((b) => needles.some((n) => b.includes(n))).map((b) => b.slice(0, 200)) };
  };
}

/** Env from a Secret's key: the keys offered, the Secret's values never fetched. */
async function envFromSecretKey() {
  const stop = recordReceived();
  await go(`${P}/create/workload/deployments`);
  await page.locator('input[name="name"]').fill("api");
  const c = group("Container 1");
  await c.getByRole("button", { name: "Add Variable" }).click();
  const v = group("Variable 1", c);
  await v.getByLabel("Variable name", { exact: true }).fill("DB_PASSWORD");
  await v.getByLabel("Taken from", { exact: true }).selectOption("secret");
  await v.getByLabel("Secret", { exact: true }).selectOption("db-creds");
  const key = v.getByLabel("Key", { exact: true });
  await key.locator('option[value="password"]').waitFor({ state: "attached", timeout: WAIT });
  assert.deepEqual(await key.locator("option").allTextContents(), ["(choose)", "password", "username"]);
  await key.selectOption("password");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Deployment: api" }));
  const d = await must("GET", `/apis/apps/v1/namespaces/${NS}/deployments/api`);
  assert.deepEqual(d.spec.template.spec.containers[0].env, [{ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db-creds", key: "password" } } }]);
  const { count, leaks } = await stop([...SECRET_VALUES, ...SECRET_VALUES.map(b64)]);
  assert.ok(count > 0, "the page's responses were recorded");
  assert.deepEqual(leaks, [], "a Secret's value reached the page");
}

/** An existing Job's edit offers only what Kubernetes lets change, and saves it. */
async function editJob() {
  await go(`${P}/jobs/pi`);
  await page.getByRole("link", { name: "Edit settings" }).click();
  await visible(page.getByRole("heading", { name: "Edit Job: pi" }));
  await visible(page.getByText("A Job's containers, volumes, completions and restart policy cannot change once it exists"));
  for (const gone of ["Image", "Completions", "Restart policy"]) assert.equal(await page.getByLabel(gone, { exact: true }).count(), 0, `${gone} is not offered`);
  await page.getByLabel("Parallelism", { exact: true }).fill("2");
  await page.getByLabel("Retries before failing (backoff limit)", { exact: true }).fill("1");
  await page.getByLabel("Time limit in seconds (activeDeadlineSeconds)", { exact: true }).fill("900");
  await page.getByLabel("Deleted this many seconds after finishing (ttlSecondsAfterFinished)", { exact: true }).fill("3600");
  await accessible("a Job's edit form");
  const before = await must("GET", `/apis/batch/v1/namespaces/${NS}/jobs/pi`);
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await visible(page.getByRole("heading", { name: "Job: pi", exact: true }));
  const job = await must("GET", `/apis/batch/v1/namespaces/${NS}/jobs/pi`);
  assert.deepEqual([job.spec.parallelism, job.spec.backoffLimit, job.spec.activeDeadlineSeconds, job.spec.ttlSecondsAfterFinished], [2, 1, 900, 3600]);
  assert.deepEqual([job.spec.template, job.spec.selector, job.spec.completions], [before.spec.template, before.spec.selector, before.spec.completions]);
}

test("workloads: forms create a StatefulSet and a CronJob; a Deployment is edited, rolled back and autoscaled", async () => {
  await step("env from a secret key", envFromSecretKey);
  await step("job edit", editJob);
  await step("statefulset", createStatefulSet);
  await step("statefulset rollback", rollBackStatefulSet);
  await step("cronjob", createCronJob);
  await step("edits", editTwice);
  await step("rollback", rollBackToFirst);
  await step("autoscaler", autoscale);
  assert.deepEqual(problems, []);
});

/** Runs one step; on failure keeps a screenshot of the page for people to look at. */
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    await shot(`workloads-failed-${name}`).catch(() => undefined);
    throw e;
  }
}

async function editTwice() {
  await go(`${P}/deployments/web`);
  await visible(revisionRow("#1 (current)").filter({ hasText: "nginx:1.25" }));
  await editImage("nginx:1.26", 2);
  await editImage("nginx:1.27", 3);
  // What the form does not show went back unchanged.
  const d = await must("GET", `/apis/apps/v1/namespaces/${NS}/deployments/web`);
  assert.equal(d.spec.template.spec.terminationGracePeriodSeconds, 7);
  assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, "Always");
  await shot("workload-revisions");
  await accessible("a Deployment's page with its revisions");
}

async function rollBackToFirst() {
  await revisionRow("nginx:1.25").getByRole("button", { name: "Roll back to #1" }).click();
  const dialog = page.getByRole("dialog");
  await visible(dialog.getByText("Roll web back to revision 1 (nginx:1.25)?"));
  await accessible("the rollback dialog");
  await dialog.getByRole("button", { name: "Roll back", exact: true }).click();
  // The controller takes revision 1's ReplicaSet back as the newest revision.
  await visible(revisionRow("(current)").filter({ hasText: "nginx:1.25" }));
  const d = await must("GET", `/apis/apps/v1/namespaces/${NS}/deployments/web`);
  assert.equal(d.spec.template.spec.containers[0].image, "nginx:1.25");
  assert.equal(d.spec.template.metadata.labels["pod-template-hash"], undefined);
  await until(
    "web's pods run nginx:1.25 only",
    () => must("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dweb`),
    (l) => l.items.length > 0 && l.items.every((p) => p.spec.containers[0].image === "nginx:1.25" && !p.metadata.deletionTimestamp),
  );
}

/** Changes web's autoscaler as another user would: read, change, replace (again when its controller wrote it between). */
async function changeHpa(change) {
  const path = `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/web`;
  for (let i = 0; i < 5; i++) {
    const r = await apiCall(env.url, token, "PUT", path, change(await must("GET", path)));
    if (r.status < 300) return;
    assert.equal(r.status, 409, JSON.stringify(r.body));
  }
  assert.fail("web's autoscaler kept changing");
}

async function autoscale() {
  await page.getByRole("button", { name: "Scale automatically" }).click();
  let dialog = page.getByRole("dialog");
  await dialog.getByLabel("Minimum replicas", { exact: true }).fill("2");
  await dialog.getByLabel("Maximum replicas", { exact: true }).fill("5");
  await dialog.getByLabel("Target CPU use (%)", { exact: true }).fill("60");
  await accessible("the autoscaler dialog");
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  await visible(page.getByTestId("hpa").filter({ hasText: "web: 2 to 5 replicas, CPU target 60 %" }));
  const hpa = await must("GET", `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/web`);
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "web" });
  await page.getByRole("button", { name: "Edit autoscaler web" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByLabel("Maximum replicas", { exact: true }).fill("6");
  // The autoscaler changes while the dialog is open (its controller writes its status so, at any
  // moment): the edit goes onto it as it is now, and keeps what the dialog does not show.
  await changeHpa((h) => ({ ...h, metadata: { ...h.metadata, annotations: { ...h.metadata.annotations, "example.com/owner": "team-a" } } }));
  await dialog.getByRole("button", { name: "Save", exact: true }).click();
  await visible(page.getByTestId("hpa").filter({ hasText: "2 to 6 replicas" }));
  const edited = await must("GET", `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/web`);
  assert.equal(edited.spec.maxReplicas, 6);
  assert.equal(edited.metadata.annotations["example.com/owner"], "team-a");
  // What the dialog shows changes while it is open (another user sets the minimum): the save is
  // refused as a conflict, and their change stays.
  await page.getByRole("button", { name: "Edit autoscaler web" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByLabel("Maximum replicas", { exact: true }).fill("7");
  await changeHpa((h) => ({ ...h, spec: { ...h.spec, minReplicas: 3 } }));
  await dialog.getByRole("button", { name: "Save", exact: true }).click();
  await visible(dialog.getByRole("alert").filter({ hasText: "It changed meanwhile" }));
  const kept = await must("GET", `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/web`);
  assert.deepEqual([kept.spec.minReplicas, kept.spec.maxReplicas], [3, 6]);
  await dialog.getByRole("button", { name: "Cancel", exact: true }).click();
  await visible(page.getByTestId("hpa").filter({ hasText: "3 to 6 replicas" }));
  await shot("workload-autoscaler");
  await page.getByRole("button", { name: "Delete autoscaler web" }).click();
  await visible(page.getByText("This workload is not scaled automatically."));
}
