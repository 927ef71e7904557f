// The console's main pages, one list for the browser passes that walk every page (the language
// pass, e2e/i18n.test.mjs, and the accessibility pass, e2e/a11y.test.mjs): a page added to the
// console is added here once and both check it. The accessibility pass also follows every side
// navigation link it meets, so a menu entry missing here is still checked.
import assert from "node:assert/strict";
import { apiCall } from "./harness.mjs";

const C = "/clusters/host";
const P = `${C}/projects/p1`;
/** The main pages, by a short name (for screenshots), with what `setUpObjects` made to fill them. */
export const PAGES = [
  ["clusters", "/platform/clusters"],
  ["users", "/platform/users"],
  ["roles", "/platform/roles"],
  ["workspaces", "/platform/workspaces"],
  ["settings", "/platform/settings"],
  ["idps", "/platform/identity-providers"],
  ["join", "/platform/join-cluster"],
  ["cluster", `${C}/overview`],
  ["nodes", `${C}/nodes`],
  ["namespaces", `${C}/namespaces`],
  ["pods", `${C}/r/pods`],
  ["events", `${C}/r/events`],
  ["crds", `${C}/crds`],
  ["node", `${C}/nodes/orrery-node-0`],
  ["user", "/platform/users/admin"],
  ["workspace", "/workspaces/ws1/overview"],
  ["ws-projects", "/workspaces/ws1/projects"],
  ["ws-members", "/workspaces/ws1/members"],
  ["ws-roles", "/workspaces/ws1/roles"],
  ["deployments", `${P}/deployments`],
  ["deployment", `${P}/deployments/web`],
  ["create-deployment", `${P}/create/workload/deployments`],
  ["create-statefulset", `${P}/create/workload/statefulsets`],
  ["edit-deployment", `${P}/deployments/web/edit`],
  ["services", `${P}/services`],
  ["configmaps", `${P}/configmaps`],
  ["create-secret", `${P}/create/form/secrets`],
  ["create-ingress", `${P}/create/form/ingresses`],
  ["create-networkpolicy", `${P}/create/form/networkpolicies`],
  ["project-settings", `${P}/settings`],
  ["ws-settings", "/workspaces/ws1/settings"],
  ["project-members", `${P}/members`],
  ["store", "/store"],
  ["marketplace", "/marketplace"],
  ["observe", "/observe"],
];

/** A workspace ws1 with a project p1 holding a Deployment web, for the workspace, project and
 * object pages of `PAGES`. */
export async function setUpObjects(url, token) {
  const must = async (path, body) => {
    const r = await apiCall(url, token, "POST", path, body);
    assert.ok(r.status < 300, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  await must("/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates", {
    apiVersion: "tenant.kubesphere.io/v1beta1", kind: "WorkspaceTemplate", metadata: { name: "ws1" },
    spec: { template: { spec: { manager: "admin" } }, placement: { clusters: [{ name: "host" }] } },
  });
  await must("/kapis/tenant.kubesphere.io/v1beta1/workspaces/ws1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "p1" } });
  await must("/apis/apps/v1/namespaces/p1/deployments", {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "nginx:1.27" }] } },
    },
  });
}
