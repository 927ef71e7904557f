// The workload forms' model (pure, unit tested): an object read into a form, and a form merged
// back into the object it came from — fields the form does not know are kept, list entries are
// matched by where they came from (`from`, their index in the object's list) so removing or
// reordering rows keeps each entry's unknown fields with it.

import type { K8sObject } from "../api/watch";

export type WorkloadResource = "deployments" | "statefulsets" | "daemonsets" | "jobs" | "cronjobs";

export const workloadKinds: Record<WorkloadResource, { kind: string; apiVersion: string }> = {
  deployments: { kind: "Deployment", apiVersion: "apps/v1" },
  statefulsets: { kind: "StatefulSet", apiVersion: "apps/v1" },
  daemonsets: { kind: "DaemonSet", apiVersion: "apps/v1" },
  jobs: { kind: "Job", apiVersion: "batch/v1" },
  cronjobs: { kind: "CronJob", apiVersion: "batch/v1" },
};

export function isWorkload(resource: string): resource is WorkloadResource {
  return resource in workloadKinds;
}

/** A row taken from the object's list at index `from` (absent for a new row). */
interface Row {
  from?: number;
}

export type Protocol = "TCP" | "UDP" | "SCTP";
export interface PortRow extends Row {
  name: string;
  containerPort: string;
  protocol: Protocol;
}
/** `other`: an entry the form cannot show (a fieldRef, resourceFieldRef…), kept as it is. */
export type EnvSource = "value" | "configMap" | "secret" | "other";
export interface EnvRow extends Row {
  name: string;
  source: EnvSource;
  value: string;
  ref: string;
  key: string;
}
export interface EnvFromRow extends Row {
  source: "configMap" | "secret";
  ref: string;
  prefix: string;
}
export type ProbeKind = "none" | "http" | "tcp" | "exec" | "other";
export interface ProbeForm {
  kind: ProbeKind;
  path: string;
  port: string;
  command: string;
  initialDelaySeconds: string;
  periodSeconds: string;
}
export interface MountRow extends Row {
  volume: string;
  mountPath: string;
  subPath: string;
  readOnly: boolean;
}
export interface ContainerForm extends Row {
  name: string;
  image: string;
  /** One argument a line. */
  command: string;
  args: string;
  ports: PortRow[];
  env: EnvRow[];
  envFrom: EnvFromRow[];
  cpuRequest: string;
  memoryRequest: string;
  cpuLimit: string;
  memoryLimit: string;
  liveness: ProbeForm;
  readiness: ProbeForm;
  mounts: MountRow[];
}
/** `other`: hostPath, projected… kept as it is. */
export type VolumeSource = "configMap" | "secret" | "pvc" | "emptyDir" | "other";
export interface VolumeRow extends Row {
  name: string;
  source: VolumeSource;
  ref: string;
}
export interface ClaimTemplateRow extends Row {
  name: string;
  storageClass: string;
  size: string;
  accessMode: string;
}
export interface WorkloadForm {
  resource: WorkloadResource;
  name: string;
  replicas: string;
  containers: ContainerForm[];
  volumes: VolumeRow[];
  /** StatefulSet. */
  serviceName: string;
  claimTemplates: ClaimTemplateRow[];
  /** Job and CronJob. */
  completions: string;
  parallelism: string;
  backoffLimit: string;
  activeDeadlineSeconds: string;
  ttlSecondsAfterFinished: string;
  restartPolicy: "Never" | "OnFailure";
  /** CronJob. */
  schedule: string;
  concurrencyPolicy: "Allow" | "Forbid" | "Replace";
  /** A CronJob's (no new runs) or a Job's (no pods). */
  suspend: boolean;
}

type Obj = Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export const emptyProbe = (): ProbeForm => ({ kind: "none", path: "/", port: "", command: "", initialDelaySeconds: "", periodSeconds: "" });

export function emptyContainer(name = ""): ContainerForm {
  return {
    name,
    image: "",
    command: "",
    args: "",
    ports: [],
    env: [],
    envFrom: [],
    cpuRequest: "",
    memoryRequest: "",
    cpuLimit: "",
    memoryLimit: "",
    liveness: emptyProbe(),
    readiness: emptyProbe(),
    mounts: [],
  };
}

export function emptyForm(resource: WorkloadResource): WorkloadForm {
  return {
    resource,
    name: "",
    replicas: "1",
    containers: [{ ...emptyContainer("main"), image: "nginx:1.27" }],
    volumes: [],
    serviceName: "",
    claimTemplates: [],
    completions: "",
    parallelism: "",
    backoffLimit: "",
    activeDeadlineSeconds: "",
    ttlSecondsAfterFinished: "",
    restartPolicy: "Never",
    schedule: "*/5 * * * *",
    concurrencyPolicy: "Allow",
    suspend: false,
  };
}

/** A form problem: a message key and the field it concerns (shown in the user's language). */
export class FormError extends Error {
  constructor(
    public key: "wl.err.number" | "wl.err.port" | "wl.err.required",
    public field: string,
  ) {
    super(`${key}: ${field}`);
  }
}

// ---- reading -------------------------------------------------------------------------------

const str = (v: unknown): string => (v === undefined || v === null ? "" : String(v));
const lines = (v: unknown): string => (Array.isArray(v) ? v.map(str).join("\n") : "");

/** Where the pod template lives for `resource`. */
export function templatePath(resource: WorkloadResource): string[] {
  return resource === "cronjobs" ? ["spec", "jobTemplate", "spec", "template"] : ["spec", "template"];
}

function at(o: Any, path: string[]): Any {
  return path.reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), o);
}

/** The object at `path`, created (as {}) where missing. */
function ensure(o: Any, path: string[]): Any {
  let cur = o;
  for (const k of path) {
    if (!cur[k] || typeof cur[k] !== "object") cur[k] = {};
    cur = cur[k];
  }
  return cur;
}

function readProbe(p: Any): ProbeForm {
  if (!p) return emptyProbe();
  const timing = { initialDelaySeconds: str(p.initialDelaySeconds), periodSeconds: str(p.periodSeconds) };
  if (p.httpGet) return { ...emptyProbe(), ...timing, kind: "http", path: str(p.httpGet.path), port: str(p.httpGet.port) };
  if (p.tcpSocket) return { ...emptyProbe(), ...timing, kind: "tcp", port: str(p.tcpSocket.port) };
  if (p.exec) return { ...emptyProbe(), ...timing, kind: "exec", command: lines(p.exec.command) };
  return { ...emptyProbe(), ...timing, kind: "other" };
}

function readEnv(e: Any, i: number): EnvRow {
  const row = { from: i, name: str(e.name), value: "", ref: "", key: "" };
  if (e.valueFrom?.configMapKeyRef) return { ...row, source: "configMap", ref: str(e.valueFrom.configMapKeyRef.name), key: str(e.valueFrom.configMapKeyRef.key) };
  if (e.valueFrom?.secretKeyRef) return { ...row, source: "secret", ref: str(e.valueFrom.secretKeyRef.name), key: str(e.valueFrom.secretKeyRef.key) };
  if (e.valueFrom) return { ...row, source: "other" };
  return { ...row, source: "value", value: str(e.value) };
}

function readContainer(c: Any, i: number): ContainerForm {
  const res = c.resources ?? {};
  return {
    from: i,
    name: str(c.name),
    image: str(c.image),
    command: lines(c.command),
    args: lines(c.args),
    ports: (c.ports ?? []).map((p: Any, j: number) => ({ from: j, name: str(p.name), containerPort: str(p.containerPort), protocol: (p.protocol ?? "TCP") as Protocol })),
    env: (c.env ?? []).map(readEnv),
    envFrom: (c.envFrom ?? []).map((e: Any, j: number): EnvFromRow => ({ from: j, source: e.secretRef ? "secret" : "configMap", ref: str((e.secretRef ?? e.configMapRef)?.name), prefix: str(e.prefix) })),
    cpuRequest: str(res.requests?.cpu),
    memoryRequest: str(res.requests?.memory),
    cpuLimit: str(res.limits?.cpu),
    memoryLimit: str(res.limits?.memory),
    liveness: readProbe(c.livenessProbe),
    readiness: readProbe(c.readinessProbe),
    mounts: (c.volumeMounts ?? []).map((m: Any, j: number) => ({ from: j, volume: str(m.name), mountPath: str(m.mountPath), subPath: str(m.subPath), readOnly: !!m.readOnly })),
  };
}

function readVolume(v: Any, i: number): VolumeRow {
  const row = { from: i, name: str(v.name) };
  if (v.configMap) return { ...row, source: "configMap", ref: str(v.configMap.name) };
  if (v.secret) return { ...row, source: "secret", ref: str(v.secret.secretName) };
  if (v.persistentVolumeClaim) return { ...row, source: "pvc", ref: str(v.persistentVolumeClaim.claimName) };
  if (v.emptyDir) return { ...row, source: "emptyDir", ref: "" };
  return { ...row, source: "other", ref: "" };
}

/** The form of an existing workload. */
export function toForm(resource: WorkloadResource, o: K8sObject): WorkloadForm {
  const pod = at(o, [...templatePath(resource), "spec"]) ?? {};
  const job = resource === "cronjobs" ? (o.spec?.jobTemplate?.spec ?? {}) : (o.spec ?? {});
  const base = emptyForm(resource);
  return {
    ...base,
    name: o.metadata.name,
    replicas: str(o.spec?.replicas ?? (resource === "deployments" || resource === "statefulsets" ? 1 : "")),
    containers: (pod.containers ?? []).map(readContainer),
    volumes: (pod.volumes ?? []).map(readVolume),
    serviceName: str(o.spec?.serviceName),
    claimTemplates: (o.spec?.volumeClaimTemplates ?? []).map((c: Any, i: number) => ({
      from: i,
      name: str(c.metadata?.name),
      storageClass: str(c.spec?.storageClassName),
      size: str(c.spec?.resources?.requests?.storage),
      accessMode: str(c.spec?.accessModes?.[0] ?? "ReadWriteOnce"),
    })),
    completions: str(job.completions),
    parallelism: str(job.parallelism),
    backoffLimit: str(job.backoffLimit),
    activeDeadlineSeconds: str(job.activeDeadlineSeconds),
    ttlSecondsAfterFinished: str(job.ttlSecondsAfterFinished),
    restartPolicy: pod.restartPolicy === "OnFailure" ? "OnFailure" : "Never",
    schedule: str(o.spec?.schedule ?? base.schedule),
    concurrencyPolicy: o.spec?.concurrencyPolicy ?? "Allow",
    suspend: !!o.spec?.suspend,
  };
}

// ---- writing -------------------------------------------------------------------------------

/** A whole number ≥ 0 from `s`, or undefined when blank. */
export function count(s: string, field: string): number | undefined {
  const t = s.trim();
  if (!t) return undefined;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 0) throw new FormError("wl.err.number", field);
  return n;
}

/** A port: a number 1–65535, or a named port (letters, digits, dashes). */
function port(s: string, field: string): number | string {
  const t = s.trim();
  if (!t) throw new FormError("wl.err.required", field);
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > 65535) throw new FormError("wl.err.port", field);
    return n;
  }
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(t)) throw new FormError("wl.err.port", field);
  return t;
}

/** Sets `o[k]` to `v`, or deletes it when `v` is undefined, empty text or an empty list. */
function put(o: Obj, k: string, v: unknown) {
  if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) delete o[k];
  else o[k] = v;
}

/** Rows merged over the entries they came from (new rows over {}). */
function mergeList<R extends Row>(orig: unknown, rows: R[], apply: (base: Any, row: R, i: number) => Any): Any[] {
  const list = Array.isArray(orig) ? orig : [];
  return rows.map((r, i) => apply(r.from !== undefined && list[r.from] ? structuredClone(list[r.from]) : {}, r, i));
}

const split = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean);

function writeProbe(base: Any, p: ProbeForm, field: string): Any {
  if (p.kind === "none") return undefined;
  if (p.kind === "other") return base;
  const out: Any = base ?? {};
  // The handler's other options (scheme, host, headers) stay when its kind does not change.
  const handler = { http: "httpGet", tcp: "tcpSocket", exec: "exec" }[p.kind];
  const before = out[handler] ?? {};
  for (const k of ["httpGet", "tcpSocket", "exec", "grpc"]) delete out[k];
  if (p.kind === "http") out.httpGet = { ...before, path: p.path || "/", port: port(p.port, `${field}.port`) };
  if (p.kind === "tcp") out.tcpSocket = { ...before, port: port(p.port, `${field}.port`) };
  if (p.kind === "exec") out.exec = { ...before, command: split(p.command) };
  put(out, "initialDelaySeconds", count(p.initialDelaySeconds, `${field}.initialDelaySeconds`));
  put(out, "periodSeconds", count(p.periodSeconds, `${field}.periodSeconds`));
  return out;
}

function writeQuantities(base: Any, cpu: string, memory: string): Any {
  const out: Any = base && typeof base === "object" ? base : {};
  put(out, "cpu", cpu.trim());
  put(out, "memory", memory.trim());
  return Object.keys(out).length ? out : undefined;
}

function writeEnv(base: Any, e: EnvRow): Any {
  if (e.source === "other") return { ...base, name: e.name };
  const out: Any = { ...base, name: e.name };
  delete out.value;
  delete out.valueFrom;
  if (e.source === "value") out.value = e.value;
  else {
    const ref = e.source === "configMap" ? "configMapKeyRef" : "secretKeyRef";
    const before = base.valueFrom?.[ref] ?? {};
    out.valueFrom = { [ref]: { ...before, name: e.ref, key: e.key } };
  }
  return out;
}

function writeContainer(base: Any, c: ContainerForm, i: number): Any {
  const f = `containers[${i}]`;
  if (!c.name.trim()) throw new FormError("wl.err.required", `${f}.name`);
  if (!c.image.trim()) throw new FormError("wl.err.required", `${f}.image`);
  base.name = c.name.trim();
  base.image = c.image.trim();
  put(base, "command", split(c.command));
  put(base, "args", split(c.args));
  put(
    base,
    "ports",
    mergeList(base.ports, c.ports, (p, r, j) => {
      p.containerPort = port(r.containerPort, `${f}.ports[${j}]`);
      put(p, "name", r.name.trim());
      p.protocol = r.protocol;
      return p;
    }),
  );
  put(base, "env", mergeList(base.env, c.env, (e, r) => writeEnv(e, r)));
  put(
    base,
    "envFrom",
    mergeList(base.envFrom, c.envFrom, (e, r) => {
      const out: Any = { ...e };
      delete out.configMapRef;
      delete out.secretRef;
      const key = r.source === "secret" ? "secretRef" : "configMapRef";
      out[key] = { ...(e[key] ?? {}), name: r.ref };
      put(out, "prefix", r.prefix.trim());
      return out;
    }),
  );
  const res: Any = base.resources ?? {};
  put(res, "requests", writeQuantities(res.requests, c.cpuRequest, c.memoryRequest));
  put(res, "limits", writeQuantities(res.limits, c.cpuLimit, c.memoryLimit));
  put(base, "resources", Object.keys(res).length ? res : undefined);
  put(base, "livenessProbe", writeProbe(base.livenessProbe, c.liveness, `${f}.livenessProbe`));
  put(base, "readinessProbe", writeProbe(base.readinessProbe, c.readiness, `${f}.readinessProbe`));
  put(
    base,
    "volumeMounts",
    mergeList(base.volumeMounts, c.mounts, (m, r) => {
      m.name = r.volume;
      m.mountPath = r.mountPath.trim();
      put(m, "subPath", r.subPath.trim());
      put(m, "readOnly", r.readOnly || undefined);
      return m;
    }),
  );
  return base;
}

function writeVolume(base: Any, v: VolumeRow): Any {
  if (v.source === "other") return { ...base, name: v.name };
  const out: Any = { name: v.name };
  // Keep the options of a source that did not change (items, defaultMode, sizeLimit…).
  if (v.source === "configMap") out.configMap = { ...(base.configMap ?? {}), name: v.ref };
  if (v.source === "secret") out.secret = { ...(base.secret ?? {}), secretName: v.ref };
  if (v.source === "pvc") out.persistentVolumeClaim = { ...(base.persistentVolumeClaim ?? {}), claimName: v.ref };
  if (v.source === "emptyDir") out.emptyDir = base.emptyDir ?? {};
  return out;
}

function writeClaim(base: Any, c: ClaimTemplateRow, i: number): Any {
  if (!c.name.trim()) throw new FormError("wl.err.required", `volumeClaimTemplates[${i}].name`);
  if (!c.size.trim()) throw new FormError("wl.err.required", `volumeClaimTemplates[${i}].size`);
  ensure(base, ["metadata"]).name = c.name.trim();
  const spec = ensure(base, ["spec"]);
  spec.accessModes = [c.accessMode || "ReadWriteOnce"];
  put(spec, "storageClassName", c.storageClass.trim());
  ensure(spec, ["resources", "requests"]).storage = c.size.trim();
  return base;
}

/**
 * The settings of a Job that Kubernetes lets change once it exists (its pod template, selector,
 * completions and completion mode are immutable): parallelism, the backoff limit, the active
 * deadline, the time to live after finishing, and (for a Job itself) suspend.
 */
function writeMutableJobFields(job: Any, f: WorkloadForm) {
  put(job, "parallelism", count(f.parallelism, "parallelism"));
  put(job, "backoffLimit", count(f.backoffLimit, "backoffLimit"));
  put(job, "activeDeadlineSeconds", count(f.activeDeadlineSeconds, "activeDeadlineSeconds"));
  put(job, "ttlSecondsAfterFinished", count(f.ttlSecondsAfterFinished, "ttlSecondsAfterFinished"));
  if (f.resource === "jobs" && (f.suspend || job.suspend !== undefined)) job.suspend = f.suspend;
}

function writeKindFields(out: Any, f: WorkloadForm) {
  const spec = ensure(out, ["spec"]);
  if (f.resource === "deployments" || f.resource === "statefulsets") put(spec, "replicas", count(f.replicas, "replicas"));
  if (f.resource === "statefulsets") {
    put(spec, "serviceName", f.serviceName.trim());
    put(spec, "volumeClaimTemplates", mergeList(spec.volumeClaimTemplates, f.claimTemplates, writeClaim));
  }
  if (f.resource === "jobs" || f.resource === "cronjobs") {
    const job = f.resource === "cronjobs" ? ensure(spec, ["jobTemplate", "spec"]) : spec;
    put(job, "completions", count(f.completions, "completions"));
    writeMutableJobFields(job, f);
    ensure(out, [...templatePath(f.resource), "spec"]).restartPolicy = f.restartPolicy;
  }
  if (f.resource === "cronjobs") {
    if (!f.schedule.trim()) throw new FormError("wl.err.required", "schedule");
    spec.schedule = f.schedule.trim();
    spec.concurrencyPolicy = f.concurrencyPolicy;
    spec.suspend = f.suspend;
  }
}

/** The form merged into `obj` (a copy; everything the form does not show is kept). */
export function applyForm(obj: K8sObject, f: WorkloadForm): K8sObject {
  const out: Any = structuredClone(obj);
  if (!f.containers.length) throw new FormError("wl.err.required", "containers");
  const pod = ensure(out, [...templatePath(f.resource), "spec"]);
  pod.containers = mergeList(pod.containers, f.containers, writeContainer);
  put(pod, "volumes", mergeList(pod.volumes, f.volumes, writeVolume));
  writeKindFields(out, f);
  return out;
}

/**
 * An edit merged into `obj`. An existing Job takes only its mutable settings
 * (`writeMutableJobFields`); every other kind takes the whole form (`applyForm`).
 */
export function applyEdit(obj: K8sObject, f: WorkloadForm): K8sObject {
  if (f.resource !== "jobs") return applyForm(obj, f);
  const out: Any = structuredClone(obj);
  writeMutableJobFields(ensure(out, ["spec"]), f);
  return out;
}

/** A new workload from the form: labelled `app=<name>`, selecting that label. */
export function buildWorkload(f: WorkloadForm, namespace: string): K8sObject {
  const { kind, apiVersion } = workloadKinds[f.resource];
  const name = f.name.trim();
  if (!name) throw new FormError("wl.err.required", "name");
  const labels = { app: name };
  // Replicas, then the selector, then the template, as kubectl and the API show a workload's
  // spec (the form writes replicas last; an unset count is removed).
  const spec: Any = f.resource === "deployments" || f.resource === "statefulsets" ? { replicas: undefined } : {};
  if (f.resource !== "jobs" && f.resource !== "cronjobs") spec.selector = { matchLabels: { ...labels } };
  const base: Any = { apiVersion, kind, metadata: { name, namespace, labels }, spec };
  ensure(base, [...templatePath(f.resource), "metadata"]).labels = { ...labels };
  if (f.resource === "statefulsets" && !f.serviceName.trim()) f = { ...f, serviceName: name };
  return applyForm(base, f);
}
