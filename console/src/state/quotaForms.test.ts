import { describe, expect, it } from "vitest";
import {
  buildLimitRange,
  buildProjectQuota,
  buildWorkspace,
  buildWorkspaceQuota,
  limitForm,
  projectAnnotations,
  projectQuotaForm,
  removedClusters,
  workspaceForm,
  workspaceQuotaForm,
} from "./quotaForms";

describe("quotas", () => {
  it("builds a project's ResourceQuota, keeping limits the form does not offer", () => {
    const q = buildProjectQuota({ ...projectQuotaForm(undefined), "limits.cpu": "2", "count/deployments.apps": "1" }, "demo");
    expect(q).toEqual({ apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "demo", namespace: "demo" }, spec: { hard: { "limits.cpu": "2", "count/deployments.apps": "1" } } });
    const existing = { ...q, metadata: { ...q.metadata, uid: "u" }, spec: { hard: { ...q.spec.hard, "count/jobs.batch": "3" }, scopes: ["NotTerminating"] }, status: { used: {} } };
    const edited = buildProjectQuota({ ...projectQuotaForm(existing), "limits.cpu": "" }, "demo", existing);
    expect(edited.spec).toEqual({ hard: { "count/deployments.apps": "1", "count/jobs.batch": "3" }, scopes: ["NotTerminating"] });
    expect(edited.status).toBeUndefined();
    expect(() => buildProjectQuota({ ...projectQuotaForm(undefined), pods: "many" }, "demo")).toThrow(/quantity/);
  });
  it("builds a workspace's quota selecting its projects", () => {
    const q = buildWorkspaceQuota({ ...workspaceQuotaForm(undefined), "requests.memory": "8Gi" }, "team");
    expect(q).toEqual({ apiVersion: "quota.kubesphere.io/v1alpha2", kind: "ResourceQuota", metadata: { name: "team", labels: { "kubesphere.io/workspace": "team" } }, spec: { selector: { "kubesphere.io/workspace": "team" }, quota: { hard: { "requests.memory": "8Gi" } } } });
    expect(workspaceQuotaForm(q)["requests.memory"]).toBe("8Gi");
    expect(buildWorkspaceQuota(workspaceQuotaForm(q), "team", q)).toEqual(q);
  });
});

describe("limit ranges", () => {
  it("sets the Container item's defaults and keeps other items and fields", () => {
    const lr = buildLimitRange({ defaultCpu: "500m", defaultMemory: "256Mi", requestCpu: "100m", requestMemory: "", maxCpu: "", maxMemory: "" }, "demo");
    expect(lr.spec).toEqual({ limits: [{ type: "Container", default: { cpu: "500m", memory: "256Mi" }, defaultRequest: { cpu: "100m" } }] });
    const existing = { ...lr, spec: { limits: [{ type: "Pod", max: { cpu: "4" } }, { type: "Container", default: { cpu: "1", "ephemeral-storage": "1Gi" }, min: { cpu: "10m" } }] } };
    expect(limitForm(existing).defaultCpu).toBe("1");
    expect(buildLimitRange(limitForm(existing), "demo", existing)).toEqual(existing);
    const edited = buildLimitRange({ ...limitForm(existing), defaultCpu: "" }, "demo", existing);
    expect(edited.spec.limits[1]).toEqual({ type: "Container", default: { "ephemeral-storage": "1Gi" }, min: { cpu: "10m" } });
    expect(() => buildLimitRange({ ...limitForm(existing), maxMemory: "big" }, "demo")).toThrow(/quantity/);
  });
});

describe("workspace settings", () => {
  const template = {
    apiVersion: "tenant.kubesphere.io/v1beta1",
    kind: "WorkspaceTemplate",
    metadata: { name: "team", annotations: { "kubesphere.io/creator": "admin" }, labels: { x: "y" } },
    spec: { template: { metadata: { labels: { a: "b" } }, spec: { manager: "alice", networkIsolation: true } }, placement: { clusters: [{ name: "host" }, { name: "member", extra: 1 }] }, overrides: [] },
  };
  it("round-trips a WorkspaceTemplate and changes only what the form shows", () => {
    expect(buildWorkspace(workspaceForm(template), template)).toEqual(template);
    const edited = buildWorkspace({ description: "Team A", manager: "bob", clusters: ["member", "edge"] }, template);
    expect(edited.metadata.annotations).toEqual({ "kubesphere.io/creator": "admin", "kubesphere.io/description": "Team A" });
    expect(edited.spec.template.spec).toEqual({ manager: "bob", networkIsolation: true });
    expect(edited.spec.placement.clusters).toEqual([{ name: "member", extra: 1 }, { name: "edge" }]);
    expect(edited.spec.overrides).toEqual([]);
  });
  it("names the clusters a placement change removes", () => {
    expect(removedClusters(["host", "member"], ["host", "edge"])).toEqual(["member"]);
    expect(removedClusters(["host"], ["host", "member"])).toEqual([]);
  });
  it("clears an emptied description or alias", () => {
    expect(projectAnnotations(" Shop ", "")).toEqual({ "kubesphere.io/description": "Shop", "kubesphere.io/alias-name": null });
  });
});
