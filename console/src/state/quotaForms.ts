// Quotas and limit ranges as forms (pure, unit tested): a project's ResourceQuota and
// LimitRange (core/v1), a workspace's quota (quota.kubesphere.io/v1alpha2 ResourceQuota, its
// `hard` under `spec.quota`), and a workspace's settings (description, manager, placement).
// Only the fields a form shows change; everything else in the object is kept.

import { QUANTITY } from "./resourceForms";

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are open JSON. */
type Obj = Record<string, any>;

/** The quota resources the forms offer, in the order shown. */
export const QUOTA_RESOURCES = [
  "requests.cpu",
  "limits.cpu",
  "requests.memory",
  "limits.memory",
  "pods",
  "count/deployments.apps",
  "count/statefulsets.apps",
  "services",
  "persistentvolumeclaims",
  "requests.storage",
  "configmaps",
  "secrets",
] as const;

/** Quota resource name → the limit typed ("" is no limit). */
export type QuotaForm = Record<string, string>;

export const DESCRIPTION = "kubesphere.io/description";
export const ALIAS = "kubesphere.io/alias-name";
export const WORKSPACE_LABEL = "kubesphere.io/workspace";

function hardOf(hard: Obj | undefined): QuotaForm {
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, hard?.[r] === undefined ? "" : String(hard[r])]));
}

/** The form's limits over `hard` (the resources the form does not offer are kept). */
function setHard(hard: Obj | undefined, f: QuotaForm): Obj {
  const out: Obj = { ...(hard ?? {}) };
  for (const r of QUOTA_RESOURCES) {
    const v = (f[r] ?? "").trim();
    if (!v) delete out[r];
    else if (!QUANTITY.test(v)) throw new Error(`${r}: "${v}" is not a quantity`);
    else out[r] = v;
  }
  return out;
}

export function projectQuotaForm(o: Obj | undefined): QuotaForm {
  return hardOf(o?.spec?.hard);
}

/** A project's ResourceQuota (named after the project when new). */
export function buildProjectQuota(f: QuotaForm, namespace: string, base?: Obj): Obj {
  const o: Obj = base ? structuredClone(base) : { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: namespace, namespace } };
  // Items of a list come without their kind.
  o.apiVersion = "v1";
  o.kind = "ResourceQuota";
  o.spec = { ...(o.spec ?? {}), hard: setHard(o.spec?.hard, f) };
  delete o.status;
  return o;
}

export function workspaceQuotaForm(o: Obj | undefined): QuotaForm {
  return hardOf(o?.spec?.quota?.hard);
}

/** A workspace's quota (named after the workspace when new, selecting its projects). */
export function buildWorkspaceQuota(f: QuotaForm, ws: string, base?: Obj): Obj {
  const o: Obj = base ? structuredClone(base) : { apiVersion: "quota.kubesphere.io/v1alpha2", kind: "ResourceQuota", metadata: { name: ws, labels: { [WORKSPACE_LABEL]: ws } }, spec: { selector: { [WORKSPACE_LABEL]: ws } } };
  o.apiVersion = "quota.kubesphere.io/v1alpha2";
  o.kind = "ResourceQuota";
  o.spec = { ...(o.spec ?? {}), quota: { ...(o.spec?.quota ?? {}), hard: setHard(o.spec?.quota?.hard, f) } };
  delete o.status;
  return o;
}

/** A LimitRange's container defaults and bounds ("" is none). */
export interface LimitForm {
  defaultCpu: string;
  defaultMemory: string;
  requestCpu: string;
  requestMemory: string;
  maxCpu: string;
  maxMemory: string;
}

const LIMIT_FIELDS: [keyof LimitForm, "default" | "defaultRequest" | "max", "cpu" | "memory"][] = [
  ["defaultCpu", "default", "cpu"],
  ["defaultMemory", "default", "memory"],
  ["requestCpu", "defaultRequest", "cpu"],
  ["requestMemory", "defaultRequest", "memory"],
  ["maxCpu", "max", "cpu"],
  ["maxMemory", "max", "memory"],
];

function containerItem(o: Obj | undefined): Obj | undefined {
  return (o?.spec?.limits ?? []).find((l: Obj) => l.type === "Container");
}

export function limitForm(o: Obj | undefined): LimitForm {
  const item = containerItem(o);
  const f = {} as LimitForm;
  for (const [k, section, res] of LIMIT_FIELDS) f[k] = item?.[section]?.[res] ?? "";
  return f;
}

/** A project's LimitRange (its Container item set from the form, other items kept). */
export function buildLimitRange(f: LimitForm, namespace: string, base?: Obj): Obj {
  const o: Obj = base ? structuredClone(base) : { apiVersion: "v1", kind: "LimitRange", metadata: { name: namespace, namespace } };
  o.apiVersion = "v1";
  o.kind = "LimitRange";
  const limits: Obj[] = o.spec?.limits ?? [];
  let item = limits.find((l) => l.type === "Container");
  if (!item) {
    item = { type: "Container" };
    limits.push(item);
  }
  for (const [k, section, res] of LIMIT_FIELDS) {
    const v = f[k].trim();
    if (v && !QUANTITY.test(v)) throw new Error(`"${v}" is not a quantity`);
    const part: Obj = { ...(item[section] ?? {}) };
    if (v) part[res] = v;
    else delete part[res];
    if (Object.keys(part).length) item[section] = part;
    else delete item[section];
  }
  o.spec = { ...(o.spec ?? {}), limits };
  return o;
}

/** A workspace's settings, from its WorkspaceTemplate. */
export interface WorkspaceForm {
  description: string;
  manager: string;
  clusters: string[];
}

export function workspaceForm(t: Obj): WorkspaceForm {
  return {
    description: t.metadata?.annotations?.[DESCRIPTION] ?? "",
    manager: t.spec?.template?.spec?.manager ?? "",
    clusters: (t.spec?.placement?.clusters ?? []).map((c: Obj) => c.name),
  };
}

/** The WorkspaceTemplate with the form's settings (a removed cluster's entry goes, the kept
 * ones keep their other fields). */
export function buildWorkspace(f: WorkspaceForm, base: Obj): Obj {
  const o = structuredClone(base);
  o.metadata = { ...o.metadata, annotations: { ...(o.metadata?.annotations ?? {}) } };
  if (f.description.trim()) o.metadata.annotations[DESCRIPTION] = f.description.trim();
  else delete o.metadata.annotations[DESCRIPTION];
  o.spec = { ...(o.spec ?? {}) };
  o.spec.template = { ...(o.spec.template ?? {}), spec: { ...(o.spec.template?.spec ?? {}) } };
  if (f.manager.trim()) o.spec.template.spec.manager = f.manager.trim();
  else delete o.spec.template.spec.manager;
  const old: Obj[] = o.spec.placement?.clusters ?? [];
  o.spec.placement = { ...(o.spec.placement ?? {}), clusters: f.clusters.map((name) => old.find((c) => c.name === name) ?? { name }) };
  return o;
}

/** The clusters a placement change takes away. */
export function removedClusters(before: string[], after: string[]): string[] {
  return before.filter((c) => !after.includes(c));
}

/** A project's description and alias over its Namespace (as a merge patch's metadata). */
export function projectAnnotations(description: string, alias: string): Record<string, string | null> {
  return { [DESCRIPTION]: description.trim() || null, [ALIAS]: alias.trim() || null };
}
