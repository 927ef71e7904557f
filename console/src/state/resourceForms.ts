// The resource forms' builders (pure, unit tested): each kind has a form shape, `xForm(obj)`
// reading an existing object into it, and `buildX(form, namespace, base)` writing it back over a
// copy of `base` — only the fields the form knows change, so editing round-trips everything else
// (annotations, matchExpressions, appProtocol, a PV's source…). List items are merged by position:
// the n-th port or rule keeps the fields of the n-th one it replaces that the form does not show.

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are open JSON. */
type Obj = Record<string, any>;

/** A key/value row of an editor (ConfigMap and Secret data, StorageClass parameters). */
export interface KV {
  key: string;
  value: string;
  /** A Secret value that is not UTF-8 text: kept as this base64, not editable. */
  binary?: string;
}

/** Keys Kubernetes allows in ConfigMap and Secret data. */
export const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

function clone(o: Obj | undefined): Obj {
  return o ? structuredClone(o) : {};
}

/** `base` (or a new object of `apiVersion`/`kind`) with its name and namespace set. */
function start(base: Obj | undefined, apiVersion: string, kind: string, name: string, namespace?: string): Obj {
  const o = clone(base);
  o.apiVersion = o.apiVersion ?? apiVersion;
  o.kind = o.kind ?? kind;
  o.metadata = { ...(o.metadata ?? {}), name };
  if (namespace) o.metadata.namespace = namespace;
  return o;
}

/** Sets `o[k]` to `v`, or removes it when `v` is empty (undefined, "", [] or {}). */
function put(o: Obj, k: string, v: unknown) {
  const empty = v === undefined || v === "" || (Array.isArray(v) && v.length === 0) || (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);
  if (empty) delete o[k];
  else o[k] = v;
}

/** The n-th new item over the n-th old one (the old one's other fields kept). */
function mergeByIndex(old: Obj[] | undefined, items: Obj[]): Obj[] {
  return items.map((it, i) => {
    const merged = { ...(old?.[i] ?? {}), ...it };
    for (const [k, v] of Object.entries(it)) if (v === undefined) delete merged[k];
    return merged;
  });
}

/** Rows to a map (rows without a key skipped; a repeated key is an error). */
export function kvToMap(rows: KV[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const k = r.key.trim();
    if (!k) continue;
    if (k in out) throw new Error(`key "${k}" appears twice`);
    out[k] = r.value;
  }
  return out;
}

export function mapToKv(m: Record<string, string> | undefined): KV[] {
  return Object.entries(m ?? {}).map(([key, value]) => ({ key, value: String(value) }));
}

/** "app=web, tier=db" to labels (spaces trimmed; "" is none). */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf("=");
    if (i <= 0) throw new Error(`"${part}" is not key=value`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function labelsText(m: Record<string, string> | undefined): string {
  return Object.entries(m ?? {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

function list(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

/** UTF-8 text to base64 (a Secret's data). */
export function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** base64 to UTF-8 text, or null when the bytes are not text. */
export function fromBase64(b64: string): string | null {
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** The kinds (by plural) that have a form. */
export const FORM_KINDS = ["configmaps", "secrets", "services", "ingresses", "networkpolicies", "persistentvolumeclaims", "serviceaccounts", "persistentvolumes", "storageclasses"];

export function hasForm(plural: string): boolean {
  return FORM_KINDS.includes(plural);
}

// ConfigMaps ------------------------------------------------------------------------------

export interface ConfigMapForm {
  name: string;
  data: KV[];
}

export function configMapForm(o: Obj): ConfigMapForm {
  return { name: o.metadata?.name ?? "", data: mapToKv(o.data) };
}

/** `binaryData` is kept as it was. */
export function buildConfigMap(f: ConfigMapForm, namespace: string, base?: Obj): Obj {
  const o = start(base, "v1", "ConfigMap", f.name, namespace);
  put(o, "data", kvToMap(f.data));
  return o;
}

// Secrets ---------------------------------------------------------------------------------

export const SECRET_TYPES = ["Opaque", "kubernetes.io/dockerconfigjson", "kubernetes.io/tls"] as const;

export interface Registry {
  server: string;
  username: string;
  password: string;
  email: string;
}

export interface SecretForm {
  name: string;
  type: string;
  /** Opaque (and any other type's) data, as text. */
  data: KV[];
  registry: Registry;
  cert: string;
  key: string;
}

function dockerConfig(r: Registry): string {
  const entry: Obj = { username: r.username, password: r.password, auth: toBase64(`${r.username}:${r.password}`) };
  if (r.email) entry.email = r.email;
  return JSON.stringify({ auths: { [r.server]: entry } });
}

function registryOf(json: string | null): Registry {
  const empty = { server: "", username: "", password: "", email: "" };
  if (!json) return empty;
  try {
    const auths = (JSON.parse(json) as Obj).auths ?? {};
    const [server, e] = Object.entries(auths as Record<string, Obj>)[0] ?? [];
    if (!server) return empty;
    let { username = "", password = "" } = e;
    if (!username && e.auth) {
      const pair = fromBase64(e.auth) ?? "";
      username = pair.slice(0, pair.indexOf(":"));
      password = pair.slice(pair.indexOf(":") + 1);
    }
    return { server, username, password, email: e.email ?? "" };
  } catch {
    return empty;
  }
}

export function secretForm(o: Obj): SecretForm {
  const raw: Record<string, string> = o.data ?? {};
  const text = (k: string) => (raw[k] === undefined ? "" : (fromBase64(raw[k]) ?? ""));
  const type = o.type ?? "Opaque";
  const data: KV[] = Object.entries(raw).map(([key, b64]) => {
    const v = fromBase64(b64);
    return v === null ? { key, value: "", binary: b64 } : { key, value: v };
  });
  for (const [key, value] of Object.entries((o.stringData ?? {}) as Record<string, string>)) data.push({ key, value });
  return { name: o.metadata?.name ?? "", type, data, registry: registryOf(raw[".dockerconfigjson"] ? text(".dockerconfigjson") : null), cert: text("tls.crt"), key: text("tls.key") };
}

/** The Secret with its values base64-encoded (`stringData` folded into `data`). */
export function buildSecret(f: SecretForm, namespace: string, base?: Obj): Obj {
  const o = start(base, "v1", "Secret", f.name, namespace);
  o.type = f.type;
  delete o.stringData;
  const data: Record<string, string> = { ...(o.data ?? {}) };
  if (f.type === "kubernetes.io/dockerconfigjson") {
    if (!f.registry.server.trim()) throw new Error("the registry address is required");
    data[".dockerconfigjson"] = toBase64(dockerConfig({ ...f.registry, server: f.registry.server.trim() }));
  } else if (f.type === "kubernetes.io/tls") {
    data["tls.crt"] = toBase64(f.cert);
    data["tls.key"] = toBase64(f.key);
  } else {
    const seen = new Set<string>();
    for (const k of Object.keys(data)) delete data[k];
    for (const r of f.data) {
      const k = r.key.trim();
      if (!k) continue;
      if (seen.has(k)) throw new Error(`key "${k}" appears twice`);
      seen.add(k);
      data[k] = r.binary ?? toBase64(r.value);
    }
  }
  put(o, "data", data);
  return o;
}

// Services --------------------------------------------------------------------------------

export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;

export interface PortRow {
  name: string;
  protocol: string;
  port: string;
  targetPort: string;
  nodePort: string;
}

export interface ServiceForm {
  name: string;
  type: string;
  selector: string;
  ports: PortRow[];
}

export function serviceForm(o: Obj): ServiceForm {
  const s = o.spec ?? {};
  const ports: PortRow[] = (s.ports ?? []).map((p: Obj) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP", port: String(p.port ?? ""), targetPort: p.targetPort === undefined ? "" : String(p.targetPort), nodePort: p.nodePort ? String(p.nodePort) : "" }));
  return { name: o.metadata?.name ?? "", type: s.type ?? "ClusterIP", selector: labelsText(s.selector), ports };
}

function portNumber(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${what} "${text}" is not a number from 1 to 65535`);
  return n;
}

/** A port number, or a named port (`http`). */
function numberOrName(text: string): number | string {
  return /^\d+$/.test(text.trim()) ? portNumber(text.trim(), "port") : text.trim();
}

export function buildService(f: ServiceForm, namespace: string, base?: Obj): Obj {
  const o = start(base, "v1", "Service", f.name, namespace);
  const spec = clone(o.spec);
  spec.type = f.type;
  put(spec, "selector", parseLabels(f.selector));
  const rows = f.ports.filter((p) => p.port.trim());
  const ports = rows.map((p) => ({
    name: p.name.trim() || (rows.length > 1 ? `${p.protocol.toLowerCase()}-${p.port.trim()}` : undefined),
    protocol: p.protocol || "TCP",
    port: portNumber(p.port, "port"),
    targetPort: p.targetPort.trim() ? numberOrName(p.targetPort) : undefined,
    // A ClusterIP Service has no node ports.
    nodePort: f.type !== "ClusterIP" && p.nodePort.trim() ? portNumber(p.nodePort, "node port") : undefined,
  }));
  put(spec, "ports", mergeByIndex(spec.ports, ports));
  if (f.type === "ClusterIP") for (const p of spec.ports ?? []) delete p.nodePort;
  o.spec = spec;
  return o;
}

// Ingresses -------------------------------------------------------------------------------

export interface IngressPath {
  path: string;
  pathType: string;
  service: string;
  port: string;
}

export interface IngressRule {
  host: string;
  paths: IngressPath[];
}

export interface IngressTls {
  hosts: string;
  secretName: string;
}

export interface IngressForm {
  name: string;
  ingressClassName: string;
  rules: IngressRule[];
  tls: IngressTls[];
}

export function ingressForm(o: Obj): IngressForm {
  const s = o.spec ?? {};
  const rules: IngressRule[] = (s.rules ?? []).map((r: Obj) => ({
    host: r.host ?? "",
    paths: (r.http?.paths ?? []).map((p: Obj) => ({ path: p.path ?? "", pathType: p.pathType ?? "Prefix", service: p.backend?.service?.name ?? "", port: String(p.backend?.service?.port?.number ?? p.backend?.service?.port?.name ?? "") })),
  }));
  const tls: IngressTls[] = (s.tls ?? []).map((t: Obj) => ({ hosts: (t.hosts ?? []).join(", "), secretName: t.secretName ?? "" }));
  return { name: o.metadata?.name ?? "", ingressClassName: s.ingressClassName ?? "", rules, tls };
}

function backendPort(text: string): Obj {
  const v = numberOrName(text);
  return typeof v === "number" ? { number: v } : { name: v };
}

export function buildIngress(f: IngressForm, namespace: string, base?: Obj): Obj {
  const o = start(base, "networking.k8s.io/v1", "Ingress", f.name, namespace);
  const spec = clone(o.spec);
  put(spec, "ingressClassName", f.ingressClassName.trim());
  const rules = f.rules.map((r, i) => {
    const oldPaths: Obj[] | undefined = spec.rules?.[i]?.http?.paths;
    const paths = r.paths
      .filter((p) => p.service.trim())
      .map((p, j) => {
        if (!p.port.trim()) throw new Error(`the port of the backend ${p.service} is required`);
        const oldBackend = oldPaths?.[j]?.backend ?? {};
        return { path: p.path.trim() || "/", pathType: p.pathType || "Prefix", backend: { ...oldBackend, service: { ...(oldBackend.service ?? {}), name: p.service.trim(), port: backendPort(p.port) } } };
      });
    return { host: r.host.trim() || undefined, http: { ...(spec.rules?.[i]?.http ?? {}), paths: mergeByIndex(oldPaths, paths) } };
  });
  put(spec, "rules", mergeByIndex(spec.rules, rules));
  put(spec, "tls", mergeByIndex(spec.tls, f.tls.filter((t) => t.secretName.trim() || t.hosts.trim()).map((t) => ({ hosts: list(t.hosts), secretName: t.secretName.trim() || undefined }))));
  o.spec = spec;
  return o;
}

// NetworkPolicies -------------------------------------------------------------------------

export type PeerKind = "pods" | "namespaces" | "podsInNamespaces" | "ipBlock";

export interface PeerRow {
  kind: PeerKind;
  /** Pod labels ("" selects all pods). */
  pods: string;
  /** Namespace labels ("" selects all namespaces). */
  namespaces: string;
  cidr: string;
  except: string;
}

export interface PolicyRule {
  peers: PeerRow[];
  /** "TCP/80, UDP/53, 8080" ("" is every port). */
  ports: string;
}

export interface NetworkPolicyForm {
  name: string;
  podSelector: string;
  ingressOn: boolean;
  egressOn: boolean;
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

function peerRow(p: Obj): PeerRow {
  const kind: PeerKind = p.ipBlock ? "ipBlock" : p.podSelector && p.namespaceSelector ? "podsInNamespaces" : p.namespaceSelector ? "namespaces" : "pods";
  return { kind, pods: labelsText(p.podSelector?.matchLabels), namespaces: labelsText(p.namespaceSelector?.matchLabels), cidr: p.ipBlock?.cidr ?? "", except: (p.ipBlock?.except ?? []).join(", ") };
}

function ruleRow(r: Obj, side: "from" | "to"): PolicyRule {
  return { peers: (r[side] ?? []).map(peerRow), ports: (r.ports ?? []).map((p: Obj) => (p.port === undefined ? (p.protocol ?? "TCP") : `${p.protocol ?? "TCP"}/${p.port}`)).join(", ") };
}

export function networkPolicyForm(o: Obj): NetworkPolicyForm {
  const s = o.spec ?? {};
  const types: string[] = s.policyTypes ?? (s.egress ? ["Ingress", "Egress"] : ["Ingress"]);
  return {
    name: o.metadata?.name ?? "",
    podSelector: labelsText(s.podSelector?.matchLabels),
    ingressOn: types.includes("Ingress"),
    egressOn: types.includes("Egress"),
    ingress: (s.ingress ?? []).map((r: Obj) => ruleRow(r, "from")),
    egress: (s.egress ?? []).map((r: Obj) => ruleRow(r, "to")),
  };
}

/** A label selector with its matchLabels from `text`, its other fields (matchExpressions) kept. */
function selector(old: Obj | undefined, text: string): Obj {
  const s = { ...(old ?? {}) };
  put(s, "matchLabels", parseLabels(text));
  return s;
}

function buildPeer(p: PeerRow, old: Obj | undefined): Obj {
  if (p.kind === "ipBlock") {
    if (!p.cidr.trim()) throw new Error("an IP block needs a CIDR");
    const ipBlock: Obj = { ...(old?.ipBlock ?? {}), cidr: p.cidr.trim() };
    put(ipBlock, "except", list(p.except));
    return { ipBlock };
  }
  const out: Obj = {};
  if (p.kind !== "namespaces") out.podSelector = selector(old?.podSelector, p.pods);
  if (p.kind !== "pods") out.namespaceSelector = selector(old?.namespaceSelector, p.namespaces);
  return out;
}

/** "TCP/80, 53, UDP/53" to NetworkPolicy ports. */
export function parsePolicyPorts(text: string): Obj[] {
  return list(text).map((p) => {
    const [a, b] = p.split("/").map((s) => s.trim());
    const protocol = b === undefined ? (/^\d+$/.test(a) || !/^(TCP|UDP|SCTP)$/i.test(a) ? "TCP" : a.toUpperCase()) : a.toUpperCase();
    const port = b === undefined ? (/^(TCP|UDP|SCTP)$/i.test(a) ? undefined : a) : b;
    if (!/^(TCP|UDP|SCTP)$/.test(protocol)) throw new Error(`"${p}": the protocol is TCP, UDP or SCTP`);
    return port === undefined ? { protocol } : { protocol, port: numberOrName(port) };
  });
}

function buildRules(rules: PolicyRule[], old: Obj[] | undefined, side: "from" | "to"): Obj[] {
  return mergeByIndex(
    old,
    rules.map((r, i) => {
      const peers = r.peers.map((p, j) => buildPeer(p, old?.[i]?.[side]?.[j]));
      const ports = parsePolicyPorts(r.ports);
      return { [side]: peers.length ? peers : undefined, ports: ports.length ? mergeByIndex(old?.[i]?.ports, ports) : undefined };
    }),
  );
}

export function buildNetworkPolicy(f: NetworkPolicyForm, namespace: string, base?: Obj): Obj {
  const o = start(base, "networking.k8s.io/v1", "NetworkPolicy", f.name, namespace);
  const spec = clone(o.spec);
  spec.podSelector = selector(spec.podSelector, f.podSelector);
  spec.policyTypes = [...(f.ingressOn ? ["Ingress"] : []), ...(f.egressOn ? ["Egress"] : [])];
  if (!spec.policyTypes.length) throw new Error("choose ingress, egress or both");
  if (f.ingressOn) put(spec, "ingress", buildRules(f.ingress, spec.ingress, "from"));
  else delete spec.ingress;
  if (f.egressOn) put(spec, "egress", buildRules(f.egress, spec.egress, "to"));
  else delete spec.egress;
  o.spec = spec;
  return o;
}

// Storage ---------------------------------------------------------------------------------

export const ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"] as const;

/** A storage size such as 10Gi or 500M. */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

function quantityOf(text: string, what: string): string {
  const q = text.trim();
  if (!QUANTITY.test(q)) throw new Error(`${what} "${text}" is not a quantity (such as 10Gi)`);
  return q;
}

export interface PvcForm {
  name: string;
  storageClassName: string;
  size: string;
  accessModes: string[];
}

export function pvcForm(o: Obj): PvcForm {
  const s = o.spec ?? {};
  return { name: o.metadata?.name ?? "", storageClassName: s.storageClassName ?? "", size: s.resources?.requests?.storage ?? "", accessModes: s.accessModes ?? [] };
}

export function buildPvc(f: PvcForm, namespace: string, base?: Obj): Obj {
  const o = start(base, "v1", "PersistentVolumeClaim", f.name, namespace);
  const spec = clone(o.spec);
  if (!f.accessModes.length) throw new Error("choose at least one access mode");
  spec.accessModes = f.accessModes;
  put(spec, "storageClassName", f.storageClassName.trim());
  spec.resources = { ...(spec.resources ?? {}), requests: { ...(spec.resources?.requests ?? {}), storage: quantityOf(f.size, "size") } };
  o.spec = spec;
  return o;
}

export interface PvForm {
  name: string;
  capacity: string;
  accessModes: string[];
  storageClassName: string;
  reclaimPolicy: string;
  /** The hostPath source of a new volume (an existing one keeps whatever source it has). */
  hostPath: string;
}

export function pvForm(o: Obj): PvForm {
  const s = o.spec ?? {};
  return { name: o.metadata?.name ?? "", capacity: s.capacity?.storage ?? "", accessModes: s.accessModes ?? [], storageClassName: s.storageClassName ?? "", reclaimPolicy: s.persistentVolumeReclaimPolicy ?? "Retain", hostPath: s.hostPath?.path ?? "" };
}

export function buildPv(f: PvForm, base?: Obj): Obj {
  const o = start(base, "v1", "PersistentVolume", f.name);
  const spec = clone(o.spec);
  if (!f.accessModes.length) throw new Error("choose at least one access mode");
  spec.capacity = { ...(spec.capacity ?? {}), storage: quantityOf(f.capacity, "capacity") };
  spec.accessModes = f.accessModes;
  put(spec, "storageClassName", f.storageClassName.trim());
  spec.persistentVolumeReclaimPolicy = f.reclaimPolicy;
  if (f.hostPath.trim()) spec.hostPath = { ...(spec.hostPath ?? {}), path: f.hostPath.trim() };
  else delete spec.hostPath;
  o.spec = spec;
  return o;
}

export interface StorageClassForm {
  name: string;
  provisioner: string;
  reclaimPolicy: string;
  volumeBindingMode: string;
  allowVolumeExpansion: boolean;
  parameters: KV[];
}

export function storageClassForm(o: Obj): StorageClassForm {
  return { name: o.metadata?.name ?? "", provisioner: o.provisioner ?? "", reclaimPolicy: o.reclaimPolicy ?? "Delete", volumeBindingMode: o.volumeBindingMode ?? "Immediate", allowVolumeExpansion: o.allowVolumeExpansion === true, parameters: mapToKv(o.parameters) };
}

export function buildStorageClass(f: StorageClassForm, base?: Obj): Obj {
  const o = start(base, "storage.k8s.io/v1", "StorageClass", f.name);
  if (!f.provisioner.trim()) throw new Error("the provisioner is required");
  o.provisioner = f.provisioner.trim();
  o.reclaimPolicy = f.reclaimPolicy;
  o.volumeBindingMode = f.volumeBindingMode;
  o.allowVolumeExpansion = f.allowVolumeExpansion;
  put(o, "parameters", kvToMap(f.parameters));
  return o;
}

// ServiceAccounts -------------------------------------------------------------------------

export interface ServiceAccountForm {
  name: string;
  imagePullSecrets: string;
  automount: boolean;
}

export function serviceAccountForm(o: Obj): ServiceAccountForm {
  return { name: o.metadata?.name ?? "", imagePullSecrets: (o.imagePullSecrets ?? []).map((s: Obj) => s.name).join(", "), automount: o.automountServiceAccountToken !== false };
}

export function buildServiceAccount(f: ServiceAccountForm, namespace: string, base?: Obj): Obj {
  const o = start(base, "v1", "ServiceAccount", f.name, namespace);
  put(o, "imagePullSecrets", mergeByIndex(o.imagePullSecrets, list(f.imagePullSecrets).map((name) => ({ name }))));
  // Unset means true: only a change from the default is written.
  if (f.automount) {
    if (o.automountServiceAccountToken === false) o.automountServiceAccountToken = true;
  } else o.automountServiceAccountToken = false;
  return o;
}
