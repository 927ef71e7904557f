import { describe, expect, it } from "vitest";
import { groupByKind, hitLink, searchPath, type Hit } from "./search";

const hit = (kind: string, apiVersion: string, resource: string, name: string, namespace?: string, extra: Partial<Hit> = {}): Hit => ({
  cluster: "m1",
  apiVersion,
  kind,
  resource,
  metadata: { name, namespace },
  ...extra,
});

describe("global search", () => {
  it("asks for a name, sorted by name, without events", () => {
    const p = new URL(searchPath(" shop "), "http://x");
    expect(p.pathname).toBe("/kapis/search.orrery.io/v1alpha1/resources");
    expect(p.searchParams.get("name")).toBe("shop");
    expect(p.searchParams.get("sortBy")).toBe("name");
    expect(p.searchParams.get("excludeKind")).toContain("events");
  });

  it("groups hits by kind in alphabetical order", () => {
    const g = groupByKind([hit("Secret", "v1", "secrets", "b", "x"), hit("ConfigMap", "v1", "configmaps", "a", "x"), hit("Secret", "v1", "secrets", "c", "y")]);
    expect(g.map((x) => [x.kind, x.hits.map((h) => h.metadata.name)])).toEqual([
      ["ConfigMap", ["a"]],
      ["Secret", ["b", "c"]],
    ]);
  });

  it("opens each kind in its page", () => {
    expect(hitLink(hit("ConfigMap", "v1", "configmaps", "shop", "a-m1"))).toBe("/clusters/m1/projects/a-m1/configmaps/shop");
    expect(hitLink(hit("Ingress", "networking.k8s.io/v1", "ingresses", "web", "a-m1"))).toBe("/clusters/m1/projects/a-m1/ingresses/web");
    expect(hitLink(hit("Namespace", "v1", "namespaces", "a-m1"))).toBe("/clusters/m1/projects/a-m1/deployments");
    expect(hitLink(hit("Node", "v1", "nodes", "n1"))).toBe("/clusters/m1/nodes/n1");
    expect(hitLink(hit("StorageClass", "storage.k8s.io/v1", "storageclasses", "fast"))).toBe("/clusters/m1/r/storageclasses?name=fast");
    expect(hitLink(hit("Gadget", "example.com/v1", "gadgets", "g", "a-m1", { custom: true, group: "example.com" }))).toBe("/clusters/m1/crds/gadgets.example.com/o/a-m1/g");
    expect(hitLink(hit("Thing", "example.com/v1", "things", "t", undefined, { custom: true }))).toBe("/clusters/m1/crds/things.example.com/o/-/t");
    expect(hitLink(hit("GlobalRole", "iam.kubesphere.io/v1beta1", "globalroles", "ops", undefined, { custom: true }))).toBe("/platform/roles/ops");
    expect(hitLink(hit("Role", "iam.kubesphere.io/v1beta1", "roles", "viewer", "a-m1", { custom: true }))).toBe("/clusters/m1/projects/a-m1/roles/viewer");
    const wsRole = hit("WorkspaceRole", "iam.kubesphere.io/v1beta1", "workspaceroles", "a-viewer", undefined, { custom: true });
    wsRole.metadata.labels = { "kubesphere.io/workspace": "a" };
    expect(hitLink(wsRole)).toBe("/workspaces/a/roles/a-viewer");
    expect(hitLink(hit("User", "iam.kubesphere.io/v1beta1", "users", "alice", undefined, { custom: true }))).toBe("/platform/users/alice");
    expect(hitLink(hit("Workspace", "tenant.kubesphere.io/v1beta1", "workspaces", "a", undefined, { custom: true }))).toBe("/workspaces/a/overview");
  });
});
