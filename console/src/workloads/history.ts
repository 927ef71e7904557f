// Revisions, rollback and autoscalers of workloads (pure, unit tested).
//
// A Deployment's revisions are its ReplicaSets (`deployment.kubernetes.io/revision`); rolling
// back is what `kubectl rollout undo` does: a JSON patch replacing the Deployment's pod template
// by the ReplicaSet's (without its `pod-template-hash` label) and its annotations by the
// ReplicaSet's, keeping the Deployment's own bookkeeping annotations. StatefulSets and DaemonSets
// keep ControllerRevisions; rolling back sends the revision's `data` as a strategic merge patch.

import type { K8sObject } from "../api/watch";
import type { ResourceType } from "../api/paths";

export const REVISION = "deployment.kubernetes.io/revision";
const HASH = "pod-template-hash";

export const replicaSets: ResourceType = { plural: "replicasets", kind: "ReplicaSet", group: "apps", version: "v1", namespaced: true };
export const controllerRevisions: ResourceType = { plural: "controllerrevisions", kind: "ControllerRevision", group: "apps", version: "v1", namespaced: true };
export const autoscalers: ResourceType = { plural: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", group: "autoscaling", version: "v2", namespaced: true };

/** The Deployment annotations kubectl keeps through a rollback (not taken from the ReplicaSet). */
const KEEP = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "deprecated.deployment.rollback.to",
]);

export interface Revision {
  revision: number;
  name: string;
  created?: string;
  images: string[];
  /** The object holding it (ReplicaSet or ControllerRevision). */
  source: K8sObject;
}

const ownedBy = (o: K8sObject, uid: string | undefined) => !!uid && ((o.metadata.ownerReferences ?? []) as { uid?: string }[]).some((r) => r.uid === uid);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const imagesOf = (podSpec: any): string[] => ((podSpec?.containers ?? []) as { image?: string }[]).map((c) => c.image ?? "");

/** The Deployment's revisions, newest first (its ReplicaSets carrying a revision). */
export function deploymentRevisions(deploy: K8sObject, sets: K8sObject[]): Revision[] {
  return sets
    .filter((rs) => ownedBy(rs, deploy.metadata.uid))
    .map((rs) => ({ rs, n: Number(rs.metadata.annotations?.[REVISION]) }))
    .filter(({ n }) => Number.isInteger(n) && n > 0)
    .map(({ rs, n }) => ({ revision: n, name: rs.metadata.name, created: rs.metadata.creationTimestamp, images: imagesOf(rs.spec?.template?.spec), source: rs }))
    .sort((a, b) => b.revision - a.revision);
}

/** A StatefulSet's or DaemonSet's revisions, newest first. */
export function controllerRevisionsOf(owner: K8sObject, revs: K8sObject[]): Revision[] {
  return revs
    .filter((r) => ownedBy(r, owner.metadata.uid) && Number(r.revision) > 0)
    .map((r) => ({
      revision: Number(r.revision),
      name: r.metadata.name,
      created: r.metadata.creationTimestamp,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      images: imagesOf((r.data as any)?.spec?.template?.spec),
      source: r,
    }))
    .sort((a, b) => b.revision - a.revision);
}

/** The revision a workload runs now. */
export function currentRevision(owner: K8sObject, history: Revision[]): number | undefined {
  const d = Number(owner.metadata.annotations?.[REVISION]);
  if (Number.isInteger(d) && d > 0) return d;
  const cur = owner.status?.currentRevision ?? owner.status?.updateRevision;
  return history.find((h) => h.name === cur)?.revision ?? history[0]?.revision;
}

/** The JSON patch `kubectl rollout undo` sends to roll `deploy` back to ReplicaSet `rs`. */
export function deploymentRollbackPatch(deploy: K8sObject, rs: K8sObject): { op: string; path: string; value: unknown }[] {
  const template = structuredClone(rs.spec?.template ?? {});
  if (template.metadata?.labels) {
    delete template.metadata.labels[HASH];
    if (!Object.keys(template.metadata.labels).length) delete template.metadata.labels;
  }
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(deploy.metadata.annotations ?? {})) if (KEEP.has(k)) annotations[k] = v;
  for (const [k, v] of Object.entries(rs.metadata.annotations ?? {})) if (!KEEP.has(k)) annotations[k] = v;
  return [
    { op: "replace", path: "/spec/template", value: template },
    { op: "replace", path: "/metadata/annotations", value: annotations },
  ];
}

// ---- HorizontalPodAutoscalers (autoscaling/v2) ----------------------------------------------

export interface HpaForm {
  name: string;
  minReplicas: string;
  maxReplicas: string;
  /** Target average utilisation in percent (blank: no such metric). */
  cpu: string;
  memory: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Whether `hpa` scales the workload `kind`/`name`. */
export function targets(hpa: K8sObject, kind: string, name: string): boolean {
  const r = hpa.spec?.scaleTargetRef;
  return r?.kind === kind && r?.name === name;
}

const utilisation = (hpa: K8sObject, resource: string): string => {
  const m = ((hpa.spec?.metrics ?? []) as Any[]).find((x) => x.type === "Resource" && x.resource?.name === resource && x.resource?.target?.type === "Utilization");
  return m ? String(m.resource.target.averageUtilization ?? "") : "";
};

export function hpaToForm(hpa: K8sObject): HpaForm {
  return {
    name: hpa.metadata.name,
    minReplicas: String(hpa.spec?.minReplicas ?? 1),
    maxReplicas: String(hpa.spec?.maxReplicas ?? ""),
    cpu: utilisation(hpa, "cpu"),
    memory: utilisation(hpa, "memory"),
  };
}

/** The problem with the form, as a message key, or null. */
export function hpaProblem(f: HpaForm): "hpa.err.range" | "hpa.err.metric" | "hpa.err.percent" | null {
  const min = Number(f.minReplicas);
  const max = Number(f.maxReplicas);
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) return "hpa.err.range";
  if (!f.cpu.trim() && !f.memory.trim()) return "hpa.err.metric";
  for (const p of [f.cpu, f.memory]) if (p.trim() && !(Number.isInteger(Number(p)) && Number(p) > 0)) return "hpa.err.percent";
  return null;
}

/** The form merged into `base` (an existing autoscaler, or a new one for `target`). */
export function applyHpa(base: K8sObject | null, f: HpaForm, target: { apiVersion: string; kind: string; name: string }, namespace: string): K8sObject {
  const out: Any = base ? structuredClone(base) : { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: f.name.trim(), namespace }, spec: {} };
  out.spec ??= {};
  out.spec.scaleTargetRef ??= target;
  out.spec.minReplicas = Number(f.minReplicas);
  out.spec.maxReplicas = Number(f.maxReplicas);
  // Other metrics (pods, object, external, resources by value) are kept as they are.
  const keep = ((out.spec.metrics ?? []) as Any[]).filter((m) => !(m.type === "Resource" && ["cpu", "memory"].includes(m.resource?.name) && m.resource?.target?.type === "Utilization"));
  const ours = (["cpu", "memory"] as const)
    .filter((r) => f[r].trim())
    .map((r) => ({ type: "Resource", resource: { name: r, target: { type: "Utilization", averageUtilization: Number(f[r]) } } }));
  out.spec.metrics = [...ours, ...keep];
  return out;
}
