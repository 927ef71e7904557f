import { describe, expect, it } from "vitest";
import type { K8sObject } from "../api/watch";
import { describeRules, groupTemplates, isBuiltin, ownRules, roleBody, rolesPath, reviewAt, sameJson, templateNamesOf } from "./roles";

const tpl = (name: string, category: string, rules: unknown[], displayName = { en: `${name} en`, zh: `${name} 中` }): K8sObject => ({
  metadata: { name, labels: { "iam.kubesphere.io/scope": "workspace", "iam.kubesphere.io/category": category } },
  spec: { displayName, description: { en: "d" }, rules },
});
const view = { apiGroups: ["tenant.kubesphere.io"], resources: ["workspaces"], verbs: ["get", "list", "watch"] };
const create = { apiGroups: ["", "tenant.kubesphere.io"], resources: ["namespaces"], verbs: ["create"] };
const templates = [tpl("workspace-projects-create", "projects", [create]), tpl("workspace-view", "workspace-settings", [view]), tpl("workspace-projects-view", "projects", [])];

describe("roles at four levels", () => {
  it("addresses each level's roles (members' through the proxy)", () => {
    expect(rolesPath({ scope: "global" })).toBe("/kapis/iam.kubesphere.io/v1beta1/globalroles");
    expect(rolesPath({ scope: "workspace", ws: "w1" })).toBe("/kapis/iam.kubesphere.io/v1beta1/workspaces/w1/workspaceroles");
    expect(rolesPath({ scope: "namespace", cluster: "host", ns: "p" })).toBe("/kapis/iam.kubesphere.io/v1beta1/namespaces/p/roles");
    expect(rolesPath({ scope: "namespace", cluster: "m1", ns: "p" })).toBe("/clusters/m1/kapis/iam.kubesphere.io/v1beta1/namespaces/p/roles");
    expect(rolesPath({ scope: "cluster", cluster: "m1" })).toBe("/clusters/m1/kapis/iam.kubesphere.io/v1beta1/clusterroles");
    expect(reviewAt({ scope: "workspace", ws: "w1" }, "create", "workspaceroles")).toEqual({
      cluster: undefined,
      attrs: { verb: "create", group: "iam.kubesphere.io", resource: "workspaceroles", workspace: "w1", namespace: undefined },
    });
    expect(reviewAt({ scope: "namespace", cluster: "m1", ns: "p" }, "update", "namespacemembers").cluster).toBe("m1");
  });

  it("groups templates by category, labelled in the user's language", () => {
    const g = groupTemplates(templates, "zh-CN");
    expect(g.map((x) => x.category)).toEqual(["projects", "workspace-settings"]);
    expect(g[0].templates.map((x) => x.name)).toEqual(["workspace-projects-create", "workspace-projects-view"]);
    expect(g[0].templates[0].label).toBe("workspace-projects-create 中");
    expect(groupTemplates(templates, "en")[1].templates[0].label).toBe("workspace-view en");
    // No label in any language: the template's name.
    expect(groupTemplates([tpl("x", "c", [], {} as never)], "en")[0].templates[0].label).toBe("x");
  });

  it("reads the templates a role names, in either form", () => {
    expect(templateNamesOf({ metadata: { name: "r" }, aggregationRoleTemplates: { templateNames: ["a", "b"] } })).toEqual(["a", "b"]);
    expect(templateNamesOf({ metadata: { name: "r", annotations: { "iam.kubesphere.io/aggregation-roles": '["c"]' } } })).toEqual(["c"]);
    expect(templateNamesOf({ metadata: { name: "r", annotations: { "iam.kubesphere.io/aggregation-roles": "nope" } } })).toEqual([]);
    expect(isBuiltin({ metadata: { name: "w-admin", annotations: { "iam.kubesphere.io/builtin": "true" } } })).toBe(true);
    expect(isBuiltin({ metadata: { name: "mine" } })).toBe(false);
  });

  it("keeps a role's own rules and drops those its templates gave it", () => {
    const own = { apiGroups: [""], resources: ["configmaps"], verbs: ["get"] };
    // The same rule with keys in another order still counts as the template's.
    const reordered = { verbs: ["create"], resources: ["namespaces"], apiGroups: ["", "tenant.kubesphere.io"] };
    const role: K8sObject = { metadata: { name: "maker" }, rules: [own, view, reordered], aggregationRoleTemplates: { templateNames: ["workspace-view", "workspace-projects-create"], roleSelector: { matchLabels: { a: "b" } } } };
    expect(ownRules(role, templates)).toEqual([own]);
    expect(ownRules(null, templates)).toEqual([]);
    // Unticking a template: its rules are not sent back, the selector is kept.
    const body = roleBody({ scope: "workspace", ws: "w1" }, { name: "ignored", alias: " Maker ", description: "", templates: ["workspace-view"] }, role, templates);
    expect(body.metadata.name).toBe("maker");
    expect(body.kind).toBe("WorkspaceRole");
    expect(body.rules).toEqual([own]);
    expect(body.aggregationRoleTemplates).toEqual({ templateNames: ["workspace-view"], roleSelector: { matchLabels: { a: "b" } } });
    expect(body.metadata.annotations?.["kubesphere.io/alias-name"]).toBe("Maker");
    const fresh = roleBody({ scope: "global" }, { name: " new-role ", alias: "", description: "d", templates: ["t"] }, null, templates);
    expect(fresh).toMatchObject({ kind: "GlobalRole", metadata: { name: "new-role" }, rules: [], aggregationRoleTemplates: { templateNames: ["t"] } });
  });

  it("compares JSON by value and words rules for people", () => {
    expect(sameJson({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(describeRules([view, { nonResourceURLs: ["/healthz"], verbs: ["get"] }, create])).toEqual([
      "get, list, watch workspaces (tenant.kubesphere.io)",
      "get /healthz",
      "create namespaces (core, tenant.kubesphere.io)",
    ]);
  });
});
