// Create and edit forms for Services, Ingresses, NetworkPolicies, PVCs, PVs, StorageClasses,
// ServiceAccounts, ConfigMaps and Secrets. Each kind's form is read from the object being edited
// and written back over it (state/resourceForms.ts), so an edit keeps what the form does not
// show. Loaded on demand by the project and cluster pages.

import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router-dom";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { api, sameForm } from "../api/client";
import { useLoad } from "../api/hooks";
import { pagedPath } from "../api/paged";
import { resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { KeyValues } from "../components/KeyValues";
import { ErrorBox, FormFooter, PageHead } from "../components/ui";
import * as rf from "../state/resourceForms";

/* eslint-disable @typescript-eslint/no-explicit-any -- each kind's form has its own shape. */
type Obj = Record<string, any>;

/** A mistake the form itself found (the builder's words are the detail). */
export class FormInvalid extends Error {}

/** An error in place: a form mistake summarised in the user's language, its detail a click away. */
export function FormError({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!(error instanceof FormInvalid)) return <ErrorBox error={error} />;
  return (
    <div className="error" role="alert">
      <div>{t("res.invalid")}</div>
      <details>
        <summary>{t("error.details")}</summary>
        <pre>{error.message}</pre>
      </details>
    </div>
  );
}

export function Text({ label, value, onChange, ...rest }: { label: string; value: string; onChange: (v: string) => void } & Omit<React.InputHTMLAttributes<HTMLInputElement>, "onChange" | "value">) {
  return (
    <label>
      {label}
      <input value={value} onChange={(e) => onChange(e.target.value)} {...rest} />
    </label>
  );
}

function Choice({ label, value, options, onChange, name }: { label: string; value: string; options: readonly string[]; onChange: (v: string) => void; name?: string }) {
  return (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

function AccessModes({ value, onChange }: { value: string[]; onChange: (v: string[]) => void }) {
  const { t } = useI18n();
  return (
    <fieldset className="choice">
      <legend>{t("res.accessModes")}</legend>
      {rf.ACCESS_MODES.map((m) => (
        <label className="inline" key={m}>
          <input type="checkbox" checked={value.includes(m)} onChange={(e) => onChange(e.target.checked ? [...value, m] : value.filter((x) => x !== m))} />
          <span translate="no">{m}</span>
        </label>
      ))}
    </fieldset>
  );
}

/** Names of `plural` in the namespace (or cluster) for a chooser; empty while unknown. */
function useNames(cluster: string, plural: string, ns?: string, keep: (o: K8sObject) => boolean = () => true): K8sObject[] {
  const rt = resources[plural];
  const list = useLoad<{ items: K8sObject[] }>(`${pagedPath(cluster, rt, ns)}?limit=500&sortBy=name&ascending=true`);
  return (list.data?.items ?? []).filter(keep);
}

function Options({ id, names }: { id: string; names: string[] }) {
  return (
    <datalist id={id}>
      {names.map((n) => (
        <option key={n} value={n} />
      ))}
    </datalist>
  );
}

/** A list of rows with an Add button and a Remove button each. */
function Rows<T>({ legend, rows, onChange, blank, add, children }: { legend: string; rows: T[]; onChange: (rows: T[]) => void; blank: () => T; add: MessageKey; children: (row: T, set: (r: T) => void, i: number) => ReactNode }) {
  const { t, number } = useI18n();
  return (
    <fieldset className="rows">
      <legend>{legend}</legend>
      {rows.map((r, i) => (
        <div className="rowitem" key={i}>
          {children(r, (nr) => onChange(rows.map((x, j) => (j === i ? nr : x))), i)}
          <button type="button" aria-label={t("res.removeN", { n: number(i + 1) })} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            {t("action.remove")}
          </button>
        </div>
      ))}
      <div>
        <button type="button" onClick={() => onChange([...rows, blank()])}>
          {t(add)}
        </button>
      </div>
    </fieldset>
  );
}

interface FieldsProps<F> {
  f: F;
  set: (f: F) => void;
  cluster: string;
  ns: string;
}

function ConfigMapFields({ f, set }: FieldsProps<rf.ConfigMapForm>) {
  const { t } = useI18n();
  return <KeyValues legend={t("res.data")} rows={f.data} onChange={(data) => set({ ...f, data })} />;
}

function SecretFields({ f, set }: FieldsProps<rf.SecretForm>) {
  const { t } = useI18n();
  const r = f.registry;
  return (
    <>
      <Choice label={t("col.type")} name="type" value={f.type} options={rf.SECRET_TYPES.includes(f.type as never) ? rf.SECRET_TYPES : [...rf.SECRET_TYPES, f.type]} onChange={(type) => set({ ...f, type })} />
      {f.type === "kubernetes.io/dockerconfigjson" && (
        <div className="row2">
          <Text label={t("res.registry")} name="registry" required value={r.server} placeholder="registry.example.com" onChange={(server) => set({ ...f, registry: { ...r, server } })} />
          <Text label={t("form.username")} name="registryUser" value={r.username} onChange={(username) => set({ ...f, registry: { ...r, username } })} />
          <Text label={t("form.password")} name="registryPassword" type="password" autoComplete="off" value={r.password} onChange={(password) => set({ ...f, registry: { ...r, password } })} />
          <Text label={t("form.email")} name="registryEmail" type="email" value={r.email} onChange={(email) => set({ ...f, registry: { ...r, email } })} />
        </div>
      )}
      {f.type === "kubernetes.io/tls" && (
        <>
          <label>
            {t("res.cert")}
            <textarea name="cert" required value={f.cert} onChange={(e) => set({ ...f, cert: e.target.value })} />
          </label>
          <label>
            {t("res.privateKey")}
            <textarea name="key" required value={f.key} onChange={(e) => set({ ...f, key: e.target.value })} />
          </label>
        </>
      )}
      {f.type !== "kubernetes.io/dockerconfigjson" && f.type !== "kubernetes.io/tls" && <KeyValues legend={t("res.data")} rows={f.data} secret onChange={(data) => set({ ...f, data })} />}
    </>
  );
}

function ServiceFields({ f, set }: FieldsProps<rf.ServiceForm>) {
  const { t } = useI18n();
  return (
    <>
      <Choice label={t("col.type")} name="type" value={f.type} options={rf.SERVICE_TYPES} onChange={(type) => set({ ...f, type })} />
      <Text label={t("res.selector")} name="selector" value={f.selector} placeholder="app=web" onChange={(selector) => set({ ...f, selector })} />
      <Rows legend={t("col.ports")} rows={f.ports} onChange={(ports) => set({ ...f, ports })} add="res.addPort" blank={() => ({ name: "", protocol: "TCP", port: "", targetPort: "", nodePort: "" })}>
        {(p, setP, i) => (
          <div className="rf5">
            <Text label={t("res.portName")} name={`portName${i}`} value={p.name} onChange={(name) => setP({ ...p, name })} />
            <Choice label={t("col.protocol")} value={p.protocol} options={["TCP", "UDP", "SCTP"]} onChange={(protocol) => setP({ ...p, protocol })} />
            <Text label={t("col.port")} name={`port${i}`} required inputMode="numeric" pattern="[0-9]+" value={p.port} onChange={(port) => setP({ ...p, port })} />
            <Text label={t("form.targetPort")} name={`targetPort${i}`} value={p.targetPort} onChange={(targetPort) => setP({ ...p, targetPort })} />
            {f.type !== "ClusterIP" && <Text label={t("col.nodePort")} name={`nodePort${i}`} inputMode="numeric" pattern="[0-9]*" value={p.nodePort} onChange={(nodePort) => setP({ ...p, nodePort })} />}
          </div>
        )}
      </Rows>
    </>
  );
}

function IngressPaths({ rule, setRule, services, r }: { rule: rf.IngressRule; setRule: (r: rf.IngressRule) => void; services: K8sObject[]; r: number }) {
  const { t } = useI18n();
  const portsOf = (svc: string) => ((services.find((s) => s.metadata.name === svc)?.spec?.ports ?? []) as { port: number; name?: string }[]).map((p) => String(p.port));
  return (
    <Rows legend={t("res.paths")} rows={rule.paths} onChange={(paths) => setRule({ ...rule, paths })} add="res.addPath" blank={() => ({ path: "/", pathType: "Prefix", service: "", port: "" })}>
      {(p, setP, i) => (
        <div className="rf4">
          <Text label={t("res.path")} name={`path${r}-${i}`} value={p.path} onChange={(path) => setP({ ...p, path })} />
          <Choice label={t("res.pathType")} value={p.pathType} options={["Prefix", "Exact", "ImplementationSpecific"]} onChange={(pathType) => setP({ ...p, pathType })} />
          <label>
            {t("res.service")}
            <select name={`service${r}-${i}`} required value={p.service} onChange={(e) => setP({ ...p, service: e.target.value, port: portsOf(e.target.value)[0] ?? p.port })}>
              <option value="">—</option>
              {services.map((s) => (
                <option key={s.metadata.name}>{s.metadata.name}</option>
              ))}
              {p.service && !services.some((s) => s.metadata.name === p.service) && <option>{p.service}</option>}
            </select>
          </label>
          <Text label={t("col.port")} name={`servicePort${r}-${i}`} required list={`ports${r}-${i}`} value={p.port} onChange={(port) => setP({ ...p, port })} />
          <Options id={`ports${r}-${i}`} names={portsOf(p.service)} />
        </div>
      )}
    </Rows>
  );
}

function IngressFields({ f, set, cluster, ns }: FieldsProps<rf.IngressForm>) {
  const { t } = useI18n();
  const services = useNames(cluster, "services", ns);
  const tlsSecrets = useNames(cluster, "secrets", ns, (s) => s.type === "kubernetes.io/tls").map((s) => s.metadata.name);
  const classes = useNames(cluster, "ingressclasses").map((c) => c.metadata.name);
  return (
    <>
      <Text label={t("res.ingressClass")} name="ingressClassName" list="ingress-classes" value={f.ingressClassName} onChange={(ingressClassName) => set({ ...f, ingressClassName })} />
      <Options id="ingress-classes" names={classes} />
      <Rows legend={t("res.rules")} rows={f.rules} onChange={(rules) => set({ ...f, rules })} add="res.addRule" blank={() => ({ host: "", paths: [{ path: "/", pathType: "Prefix", service: "", port: "" }] })}>
        {(rule, setRule, r) => (
          <div className="stack">
            <Text label={t("res.host")} name={`host${r}`} value={rule.host} placeholder="app.example.com" onChange={(host) => setRule({ ...rule, host })} />
            <IngressPaths rule={rule} setRule={setRule} services={services} r={r} />
          </div>
        )}
      </Rows>
      <Rows legend={t("res.tls")} rows={f.tls} onChange={(tls) => set({ ...f, tls })} add="res.addTls" blank={() => ({ hosts: "", secretName: "" })}>
        {(e, setE, i) => (
          <div className="row2">
            <Text label={t("res.tlsHosts")} name={`tlsHosts${i}`} value={e.hosts} onChange={(hosts) => setE({ ...e, hosts })} />
            <Text label={t("res.tlsSecret")} name={`tlsSecret${i}`} list={`tls-secrets`} value={e.secretName} onChange={(secretName) => setE({ ...e, secretName })} />
          </div>
        )}
      </Rows>
      <Options id="tls-secrets" names={tlsSecrets} />
    </>
  );
}

const PEER_KINDS: rf.PeerKind[] = ["pods", "namespaces", "podsInNamespaces", "ipBlock"];

function PolicyRules({ legend, rules, onChange, side }: { legend: string; rules: rf.PolicyRule[]; onChange: (r: rf.PolicyRule[]) => void; side: string }) {
  const { t } = useI18n();
  const peerLabel: Record<rf.PeerKind, MessageKey> = { pods: "res.peerPods", namespaces: "res.peerNamespaces", podsInNamespaces: "res.peerPodsInNamespaces", ipBlock: "res.peerIpBlock" };
  return (
    <Rows legend={legend} rows={rules} onChange={onChange} add="res.addRule" blank={() => ({ peers: [], ports: "" })}>
      {(rule, setRule, r) => (
        <div className="stack">
          <Rows legend={t("res.peers")} rows={rule.peers} onChange={(peers) => setRule({ ...rule, peers })} add="res.addPeer" blank={(): rf.PeerRow => ({ kind: "pods", pods: "", namespaces: "", cidr: "", except: "" })}>
            {(p, setP, i) => (
              <div className="rf3">
                <label>
                  {t("res.peer")}
                  <select name={`${side}${r}-peer${i}`} value={p.kind} onChange={(e) => setP({ ...p, kind: e.target.value as rf.PeerKind })}>
                    {PEER_KINDS.map((k) => (
                      <option key={k} value={k}>
                        {t(peerLabel[k])}
                      </option>
                    ))}
                  </select>
                </label>
                {p.kind === "ipBlock" ? (
                  <>
                    <Text label={t("res.cidr")} name={`${side}${r}-cidr${i}`} required placeholder="10.0.0.0/8" value={p.cidr} onChange={(cidr) => setP({ ...p, cidr })} />
                    <Text label={t("res.except")} value={p.except} onChange={(except) => setP({ ...p, except })} />
                  </>
                ) : (
                  <>
                    {p.kind !== "namespaces" && <Text label={t("res.podLabels")} name={`${side}${r}-pods${i}`} placeholder="app=web" value={p.pods} onChange={(pods) => setP({ ...p, pods })} />}
                    {p.kind !== "pods" && <Text label={t("res.namespaceLabels")} name={`${side}${r}-ns${i}`} placeholder="team=a" value={p.namespaces} onChange={(namespaces) => setP({ ...p, namespaces })} />}
                  </>
                )}
              </div>
            )}
          </Rows>
          <Text label={t("res.policyPorts")} name={`${side}${r}-ports`} placeholder="TCP/80, UDP/53" value={rule.ports} onChange={(ports) => setRule({ ...rule, ports })} />
        </div>
      )}
    </Rows>
  );
}

function NetworkPolicyFields({ f, set }: FieldsProps<rf.NetworkPolicyForm>) {
  const { t } = useI18n();
  return (
    <>
      <Text label={t("res.podSelector")} name="podSelector" placeholder="app=db" value={f.podSelector} onChange={(podSelector) => set({ ...f, podSelector })} />
      <fieldset className="choice">
        <legend>{t("res.policyTypes")}</legend>
        <label className="inline">
          <input type="checkbox" name="ingressOn" checked={f.ingressOn} onChange={(e) => set({ ...f, ingressOn: e.target.checked })} />
          {t("res.ingress")}
        </label>
        <label className="inline">
          <input type="checkbox" name="egressOn" checked={f.egressOn} onChange={(e) => set({ ...f, egressOn: e.target.checked })} />
          {t("res.egress")}
        </label>
      </fieldset>
      {f.ingressOn && <PolicyRules legend={t("res.ingressRules")} side="in" rules={f.ingress} onChange={(ingress) => set({ ...f, ingress })} />}
      {f.egressOn && <PolicyRules legend={t("res.egressRules")} side="out" rules={f.egress} onChange={(egress) => set({ ...f, egress })} />}
    </>
  );
}

function PvcFields({ f, set, cluster }: FieldsProps<rf.PvcForm>) {
  const { t } = useI18n();
  const classes = useNames(cluster, "storageclasses").map((c) => c.metadata.name);
  return (
    <>
      <div className="row2">
        <Text label={t("res.storageClass")} name="storageClassName" list="storage-classes" value={f.storageClassName} onChange={(storageClassName) => set({ ...f, storageClassName })} />
        <Text label={t("res.size")} name="size" required placeholder="10Gi" value={f.size} onChange={(size) => set({ ...f, size })} />
      </div>
      <Options id="storage-classes" names={classes} />
      <AccessModes value={f.accessModes} onChange={(accessModes) => set({ ...f, accessModes })} />
    </>
  );
}

function PvFields({ f, set, cluster }: FieldsProps<rf.PvForm>) {
  const { t } = useI18n();
  const classes = useNames(cluster, "storageclasses").map((c) => c.metadata.name);
  return (
    <>
      <div className="row2">
        <Text label={t("res.capacity")} name="capacity" required placeholder="10Gi" value={f.capacity} onChange={(capacity) => set({ ...f, capacity })} />
        <Text label={t("res.storageClass")} name="storageClassName" list="storage-classes" value={f.storageClassName} onChange={(storageClassName) => set({ ...f, storageClassName })} />
        <Choice label={t("res.reclaimPolicy")} value={f.reclaimPolicy} options={["Retain", "Delete", "Recycle"]} onChange={(reclaimPolicy) => set({ ...f, reclaimPolicy })} />
        <Text label={t("res.hostPath")} name="hostPath" placeholder="/data/volume" value={f.hostPath} onChange={(hostPath) => set({ ...f, hostPath })} />
      </div>
      <Options id="storage-classes" names={classes} />
      <AccessModes value={f.accessModes} onChange={(accessModes) => set({ ...f, accessModes })} />
    </>
  );
}

function StorageClassFields({ f, set }: FieldsProps<rf.StorageClassForm>) {
  const { t } = useI18n();
  return (
    <>
      <Text label={t("res.provisioner")} name="provisioner" required placeholder="example.com/disk" value={f.provisioner} onChange={(provisioner) => set({ ...f, provisioner })} />
      <div className="row2">
        <Choice label={t("res.reclaimPolicy")} value={f.reclaimPolicy} options={["Delete", "Retain"]} onChange={(reclaimPolicy) => set({ ...f, reclaimPolicy })} />
        <Choice label={t("res.bindingMode")} value={f.volumeBindingMode} options={["Immediate", "WaitForFirstConsumer"]} onChange={(volumeBindingMode) => set({ ...f, volumeBindingMode })} />
      </div>
      <label className="inline">
        <input type="checkbox" checked={f.allowVolumeExpansion} onChange={(e) => set({ ...f, allowVolumeExpansion: e.target.checked })} />
        {t("res.expansion")}
      </label>
      <KeyValues legend={t("res.parameters")} rows={f.parameters} multiline={false} onChange={(parameters) => set({ ...f, parameters })} />
    </>
  );
}

function ServiceAccountFields({ f, set }: FieldsProps<rf.ServiceAccountForm>) {
  const { t } = useI18n();
  return (
    <>
      <Text label={t("res.pullSecrets")} name="imagePullSecrets" value={f.imagePullSecrets} onChange={(imagePullSecrets) => set({ ...f, imagePullSecrets })} />
      <label className="inline">
        <input type="checkbox" checked={f.automount} onChange={(e) => set({ ...f, automount: e.target.checked })} />
        {t("res.automount")}
      </label>
    </>
  );
}

interface KindForm {
  read: (o: Obj) => any;
  build: (f: any, ns: string, base?: Obj) => Obj;
  Fields: (p: FieldsProps<any>) => ReactNode;
  /** DNS-1035 label names (Services) rather than subdomains. */
  label?: boolean;
}

const none: Obj = { metadata: { name: "" } };

/** The kinds with a form, by plural. */
export const kindForms: Record<string, KindForm> = {
  configmaps: { read: rf.configMapForm, build: rf.buildConfigMap, Fields: ConfigMapFields },
  secrets: { read: (o) => rf.secretForm({ type: "Opaque", ...o }), build: rf.buildSecret, Fields: SecretFields },
  services: { read: (o) => (o.spec ? rf.serviceForm(o) : { ...rf.serviceForm(o), ports: [{ name: "", protocol: "TCP", port: "80", targetPort: "", nodePort: "" }] }), build: rf.buildService, Fields: ServiceFields, label: true },
  ingresses: { read: (o) => (o.spec ? rf.ingressForm(o) : { ...rf.ingressForm(o), rules: [{ host: "", paths: [{ path: "/", pathType: "Prefix", service: "", port: "" }] }] }), build: rf.buildIngress, Fields: IngressFields },
  networkpolicies: { read: (o) => (o.spec ? rf.networkPolicyForm(o) : { ...rf.networkPolicyForm(o), ingress: [{ peers: [], ports: "" }] }), build: rf.buildNetworkPolicy, Fields: NetworkPolicyFields },
  persistentvolumeclaims: { read: (o) => (o.spec ? rf.pvcForm(o) : { ...rf.pvcForm(o), accessModes: ["ReadWriteOnce"] }), build: rf.buildPvc, Fields: PvcFields },
  persistentvolumes: { read: (o) => (o.spec ? rf.pvForm(o) : { ...rf.pvForm(o), accessModes: ["ReadWriteOnce"] }), build: (f, _ns, base) => rf.buildPv(f, base), Fields: PvFields },
  storageclasses: { read: rf.storageClassForm, build: (f, _ns, base) => rf.buildStorageClass(f, base), Fields: StorageClassFields },
  serviceaccounts: { read: rf.serviceAccountForm, build: rf.buildServiceAccount, Fields: ServiceAccountFields },
};

/** The form with a new name; a Service's selector follows it (app=<name>) until changed. */
function followName(resource: string, f: any, name: string): any {
  if (resource === "services" && (f.selector === "" || f.selector === `app=${f.name}`)) return { ...f, name, selector: name ? `app=${name}` : "" };
  return { ...f, name };
}

/**
 * The form of `resource` in `cluster` (and project `ns`): a new object, or `name` edited.
 * `done(name)` is where to go after saving.
 */
export default function ResourceForm({ cluster, ns, resource, name, done }: { cluster: string; ns?: string; resource: string; name?: string; done: (name: string) => string }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const rt = resources[resource];
  const kf = kindForms[resource];
  const path = name ? resourcePath(cluster, rt, ns, name) : null;
  const existing = useLoad<Obj>(path);
  const [f, setF] = useState<any>(() => (name ? null : kf?.read(none)));
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (existing.data && kf) setF(kf.read(existing.data));
  }, [existing.data, kf]);
  if (!rt || !kf) return <ErrorBox error={new Error(t("error.notFound"))} />;
  const title = `${name ? t("action.edit") : t("action.create")}: ${rt.kind}`;
  if (!f) return (
    <>
      <PageHead title={title} />
      <ErrorBox error={existing.error} />
    </>
  );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let body: Obj;
    try {
      body = kf.build(f, ns ?? "", existing.data ?? undefined);
    } catch (err) {
      setError(new FormInvalid((err as Error).message));
      return;
    }
    try {
      // A controller may have written the object (a Service's, a claim's status) since the form read it:
      // the form goes onto the object as it is now.
      if (path) await api.update(path, (latest: Obj) => kf.build(f, ns ?? "", latest), (latest) => sameForm(kf.read(latest), kf.read(existing.data ?? latest)));
      else await api.post(resourcePath(cluster, rt, ns), body);
      navigate(done(f.name));
    } catch (err) {
      setError(err);
    }
  };
  const Fields = kf.Fields;
  return (
    <>
      <PageHead title={title} />
      <form className="form card wide" onSubmit={submit} aria-label={title}>
        <Text label={t("form.name")} name="name" required maxLength={kf.label ? 63 : 253} pattern={kf.label ? "[a-z]([\\-a-z0-9]*[a-z0-9])?" : "[a-z0-9]([\\-a-z0-9.]*[a-z0-9])?"} disabled={!!name} value={f.name} onChange={(v) => setF(followName(resource, f, v))} />
        <Fields f={f} set={setF} cluster={cluster} ns={ns ?? ""} />
        <FormError error={error} />
        <FormFooter error={null} onCancel={() => navigate(-1)} submit={name ? t("action.save") : undefined} />
      </form>
    </>
  );
}
