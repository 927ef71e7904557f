// Roles at the four levels and the role templates they are built from (pure, unit tested).
//
// A role names the templates it aggregates (`aggregationRoleTemplates.templateNames`); the
// platform adds each template's rules to the role's own `rules` and never removes one. So an
// editor that drops a template must send the role's own rules without the rules templates gave
// it: `ownRules` keeps only the rules no template of the level carries.

import { clusterPath, IAM } from "../api/paths";
import type { K8sObject } from "../api/watch";

/** The four levels roles live at (SPEC §3: global, cluster, workspace, namespace). */
export type RoleLevel =
  | { scope: "global" }
  | { scope: "cluster"; cluster: string }
  | { scope: "workspace"; ws: string }
  | { scope: "namespace"; cluster: string; ns: string };

/** The roles collection of a level (members' roles through the cluster proxy). */
export function rolesPath(level: RoleLevel): string {
  switch (level.scope) {
    case "global":
      return `${IAM}/globalroles`;
    case "cluster":
      return clusterPath(level.cluster, `${IAM}/clusterroles`);
    case "workspace":
      return `${IAM}/workspaces/${encodeURIComponent(level.ws)}/workspaceroles`;
    case "namespace":
      return clusterPath(level.cluster, `${IAM}/namespaces/${encodeURIComponent(level.ns)}/roles`);
  }
}

/** The kind of a level's roles. */
export function roleKind(level: RoleLevel): string {
  return { global: "GlobalRole", cluster: "ClusterRole", workspace: "WorkspaceRole", namespace: "Role" }[level.scope];
}

/** The resource a level's roles are authorized as (for SelfSubjectAccessReviews). */
export function roleResource(level: RoleLevel): string {
  return { global: "globalroles", cluster: "clusterroles", workspace: "workspaceroles", namespace: "roles" }[level.scope];
}

/** The attributes of an access review about `resource` at `level` (cluster, workspace, namespace). */
export function reviewAt(level: RoleLevel, verb: string, resource: string) {
  return {
    cluster: level.scope === "cluster" || level.scope === "namespace" ? level.cluster : undefined,
    attrs: {
      verb,
      group: "iam.kubesphere.io",
      resource,
      workspace: level.scope === "workspace" ? level.ws : undefined,
      namespace: level.scope === "namespace" ? level.ns : undefined,
    },
  };
}

export const DESCRIPTION = "kubesphere.io/description";
export const ALIAS = "kubesphere.io/alias-name";
export const BUILTIN = "iam.kubesphere.io/builtin";
const LEGACY_AGGREGATION = "iam.kubesphere.io/aggregation-roles";

/** Whether the platform installed `role` (it puts it back as it was; the console shows it read-only). */
export function isBuiltin(role: K8sObject): boolean {
  return role.metadata.annotations?.[BUILTIN] === "true" || role.metadata.labels?.[BUILTIN] === "true";
}

/** The templates a role names (KubeSphere 3's annotation when it has no aggregationRoleTemplates). */
export function templateNamesOf(role: K8sObject): string[] {
  const agg = role.aggregationRoleTemplates as { templateNames?: unknown } | undefined;
  if (agg && Array.isArray(agg.templateNames)) return agg.templateNames.filter((n): n is string => typeof n === "string");
  const legacy = role.metadata.annotations?.[LEGACY_AGGREGATION];
  if (legacy) {
    try {
      const names: unknown = JSON.parse(legacy);
      if (Array.isArray(names)) return names.filter((n): n is string => typeof n === "string");
    } catch {
      // Not JSON: the role names no templates.
    }
  }
  return [];
}

/** A template as the editor shows it. */
export interface TemplateChoice {
  name: string;
  label: string;
  description: string;
  category: string;
}

/** A locale map (`{en, zh}`) read for `lang`; English, then anything, when it has no entry. */
function localized(v: unknown, lang: string): string {
  if (typeof v === "string") return v;
  if (!v || typeof v !== "object") return "";
  const m = v as Record<string, unknown>;
  const want = lang.toLowerCase().startsWith("zh") ? ["zh", "zh-CN", "en"] : [lang, "en"];
  for (const k of want) if (typeof m[k] === "string" && m[k]) return m[k] as string;
  const any = Object.values(m).find((x) => typeof x === "string");
  return typeof any === "string" ? any : "";
}

export const SCOPE_LABEL = "iam.kubesphere.io/scope";
export const CATEGORY_LABEL = "iam.kubesphere.io/category";

/** Templates grouped by category (categories and templates by name), as the editor lists them. */
export function groupTemplates(templates: K8sObject[], lang: string): { category: string; templates: TemplateChoice[] }[] {
  const groups = new Map<string, TemplateChoice[]>();
  for (const t of templates) {
    const category = t.metadata.labels?.[CATEGORY_LABEL] || "other";
    const choice: TemplateChoice = {
      name: t.metadata.name,
      label: localized(t.spec?.displayName, lang) || t.metadata.name,
      description: localized(t.spec?.description, lang),
      category,
    };
    groups.set(category, [...(groups.get(category) ?? []), choice]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([category, list]) => ({ category, templates: list.sort((a, b) => a.name.localeCompare(b.name)) }));
}

/** Whether two JSON values are equal (key order aside). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** The rules of `role` that none of `templates` carries (its hand-written rules). */
export function ownRules(role: K8sObject | null, templates: K8sObject[]): unknown[] {
  const rules = (role?.rules as unknown[] | undefined) ?? [];
  const given = templates.flatMap((t) => (t.spec?.rules as unknown[] | undefined) ?? []);
  return rules.filter((r) => !given.some((g) => sameJson(r, g)));
}

/** What the editor collects. */
export interface RoleForm {
  name: string;
  alias: string;
  description: string;
  templates: string[];
}

/** The role to send: a new one (POST) or the changes to `current` (PUT), its own rules kept. */
export function roleBody(level: RoleLevel, form: RoleForm, current: K8sObject | null, templates: K8sObject[]): K8sObject {
  const annotations: Record<string, string> = { [DESCRIPTION]: form.description.trim(), [ALIAS]: form.alias.trim() };
  const agg = { ...((current?.aggregationRoleTemplates as object | undefined) ?? {}), templateNames: form.templates };
  return {
    apiVersion: "iam.kubesphere.io/v1beta1",
    kind: roleKind(level),
    metadata: { name: current?.metadata.name ?? form.name.trim(), annotations },
    aggregationRoleTemplates: agg,
    rules: ownRules(current, templates),
  };
}

/** A role's rules in short ("get, list deployments (apps)"), one per line, for people checking. */
export function describeRules(rules: unknown[]): string[] {
  return rules.map((r) => {
    const rule = r as { verbs?: string[]; resources?: string[]; apiGroups?: string[]; nonResourceURLs?: string[] };
    const verbs = (rule.verbs ?? []).join(", ");
    if (rule.nonResourceURLs?.length) return `${verbs} ${rule.nonResourceURLs.join(", ")}`;
    const groups = (rule.apiGroups ?? []).map((g) => g || "core").join(", ");
    return `${verbs} ${(rule.resources ?? []).join(", ")} (${groups})`;
  });
}
