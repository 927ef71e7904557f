// What people look for first on the pages of Ingresses (hosts, paths, backends, TLS, address),
// NetworkPolicies, PVCs, PVs, StorageClasses and ServiceAccounts. Used by Essentials for these
// kinds (a Secret has its own page, components/SecretDetail.tsx, which brings no value unasked).

import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import type { K8sObject } from "../api/watch";
import { useCan } from "../api/hooks";
import { resources } from "../api/paths";
import { hasForm, labelsText } from "../state/resourceForms";
import { Table } from "./Table";
import { Status } from "./ui";

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are open JSON. */
type Obj = Record<string, any>;

function Field({ label, children, testId }: { label: MessageKey; children: ReactNode; testId?: string }) {
  const { t } = useI18n();
  return (
    <>
      <dt>{t(label)}</dt>
      <dd data-testid={testId}>{children}</dd>
    </>
  );
}

interface IngressRow {
  host: string;
  path: string;
  service: string;
  port: string;
}

function IngressEssentials({ obj, cluster }: { obj: K8sObject; cluster: string }) {
  const { t } = useI18n();
  const spec: Obj = obj.spec ?? {};
  const ns = obj.metadata.namespace ?? "";
  const rows: IngressRow[] = (spec.rules ?? []).flatMap((r: Obj) => (r.http?.paths ?? []).map((p: Obj) => ({ host: r.host ?? "*", path: p.path ?? "/", service: p.backend?.service?.name ?? "", port: String(p.backend?.service?.port?.number ?? p.backend?.service?.port?.name ?? "") })));
  const address = ((obj.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip ?? i.hostname).filter(Boolean);
  return (
    <>
      <dl className="kv card">
        <Field label="res.ingressClass">{spec.ingressClassName ?? "—"}</Field>
        <Field label="col.address">{address.join(", ") || "—"}</Field>
        <Field label="res.tls">{((spec.tls ?? []) as Obj[]).map((x) => `${(x.hosts ?? []).join(", ")} → ${x.secretName ?? ""}`).join("; ") || "—"}</Field>
      </dl>
      <h2 className="section">{t("res.rules")}</h2>
      <Table<IngressRow>
        label={t("res.rules")}
        rows={rows}
        rowKey={(r) => `${r.host}${r.path}`}
        columns={[
          { title: "res.host", render: (r) => r.host },
          { title: "res.path", render: (r) => r.path },
          { title: "res.service", render: (r) => (r.service ? <Link to={`/clusters/${cluster}/projects/${ns}/services/${encodeURIComponent(r.service)}`}>{r.service}</Link> : "—") },
          { title: "col.port", render: (r) => r.port },
        ]}
      />
    </>
  );
}

function peerText(p: Obj): string {
  if (p.ipBlock) return `${p.ipBlock.cidr}${p.ipBlock.except?.length ? ` (− ${p.ipBlock.except.join(", ")})` : ""}`;
  const pods = p.podSelector ? `pods{${labelsText(p.podSelector.matchLabels)}}` : "";
  const nss = p.namespaceSelector ? `namespaces{${labelsText(p.namespaceSelector.matchLabels)}}` : "";
  return [nss, pods].filter(Boolean).join(" / ");
}

function NetworkPolicyEssentials({ obj }: { obj: K8sObject }) {
  const spec: Obj = obj.spec ?? {};
  const rules = (side: "ingress" | "egress", peers: "from" | "to") =>
    ((spec[side] ?? []) as Obj[]).map((r, i) => (
      <li key={i}>
        {((r[peers] ?? []) as Obj[]).map(peerText).join("; ") || "*"} · {((r.ports ?? []) as Obj[]).map((p) => `${p.protocol ?? "TCP"}/${p.port ?? "*"}`).join(", ") || "*"}
      </li>
    ));
  return (
    <dl className="kv card">
      <Field label="res.podSelector">{labelsText(spec.podSelector?.matchLabels) || "*"}</Field>
      <Field label="res.policyTypes">{(spec.policyTypes ?? ["Ingress"]).join(", ")}</Field>
      <Field label="res.ingressRules">{spec.ingress?.length ? <ul>{rules("ingress", "from")}</ul> : "—"}</Field>
      <Field label="res.egressRules">{spec.egress?.length ? <ul>{rules("egress", "to")}</ul> : "—"}</Field>
    </dl>
  );
}

function StorageEssentials({ obj, kind }: { obj: K8sObject; kind: string }) {
  const spec: Obj = obj.spec ?? {};
  const status: Obj = obj.status ?? {};
  return (
    <dl className="kv card">
      {kind === "PersistentVolumeClaim" && <Field label="res.volume">{spec.volumeName ?? "—"}</Field>}
      {kind === "PersistentVolume" && <Field label="res.claim">{spec.claimRef ? `${spec.claimRef.namespace}/${spec.claimRef.name}` : "—"}</Field>}
      <Field label="col.status" testId="storage-phase">
        <Status value={status.phase} />
      </Field>
      <Field label="res.capacity">{status.capacity?.storage ?? spec.capacity?.storage ?? spec.resources?.requests?.storage ?? "—"}</Field>
      <Field label="res.storageClass">{spec.storageClassName ?? "—"}</Field>
      <Field label="res.accessModes">{(spec.accessModes ?? []).join(", ") || "—"}</Field>
      {kind === "PersistentVolume" && <Field label="res.reclaimPolicy">{spec.persistentVolumeReclaimPolicy ?? "—"}</Field>}
    </dl>
  );
}

function StorageClassEssentials({ obj }: { obj: K8sObject }) {
  const o = obj as Obj;
  return (
    <dl className="kv card">
      <Field label="res.provisioner">{o.provisioner ?? "—"}</Field>
      <Field label="res.reclaimPolicy">{o.reclaimPolicy ?? "Delete"}</Field>
      <Field label="res.bindingMode">{o.volumeBindingMode ?? "Immediate"}</Field>
      <Field label="res.expansion">{o.allowVolumeExpansion ? "✓" : "—"}</Field>
      <Field label="res.parameters">{labelsText(o.parameters) || "—"}</Field>
    </dl>
  );
}

function ServiceAccountEssentials({ obj }: { obj: K8sObject }) {
  const o = obj as Obj;
  return (
    <dl className="kv card">
      <Field label="res.pullSecrets">{((o.imagePullSecrets ?? []) as Obj[]).map((s) => s.name).join(", ") || "—"}</Field>
      <Field label="res.tokens">{((o.secrets ?? []) as Obj[]).map((s) => s.name).join(", ") || "—"}</Field>
      <Field label="res.automount">{o.automountServiceAccountToken === false ? "—" : "✓"}</Field>
    </dl>
  );
}

/** The page of an object's form (cluster-scoped kinds live under `/clusters/{c}/cr`). */
export function formLink(cluster: string, plural: string, name: string, namespace?: string): string {
  const n = encodeURIComponent(name);
  return namespace ? `/clusters/${cluster}/projects/${namespace}/${plural}/${n}/form` : `/clusters/${cluster}/cr/${plural}/${n}/form`;
}

function EditLink({ cluster, plural, obj }: { cluster: string; plural: string; obj: K8sObject }) {
  const { t } = useI18n();
  const rt = resources[plural];
  const allowed = useCan(cluster, { verb: "update", group: rt.group, resource: plural, namespace: obj.metadata.namespace });
  if (!allowed) return null;
  return (
    <div className="toolbar">
      <Link className="button" to={formLink(cluster, plural, obj.metadata.name, obj.metadata.namespace)}>
        {t("action.edit")}
      </Link>
    </div>
  );
}

/** An Edit button for the kinds with a form, to those who may update the object. */
export function EditAction({ cluster, kind, obj }: { cluster: string; kind: string; obj: K8sObject }) {
  const plural = Object.values(resources).find((r) => r.kind === kind)?.plural;
  return plural && hasForm(plural) ? <EditLink cluster={cluster} plural={plural} obj={obj} /> : null;
}

/** The essentials of these kinds (null for others). */
export function MoreEssentials({ kind, obj, cluster }: { kind: string; obj: K8sObject; cluster: string }) {
  switch (kind) {
    case "Ingress":
      return <IngressEssentials obj={obj} cluster={cluster} />;
    case "NetworkPolicy":
      return <NetworkPolicyEssentials obj={obj} />;
    case "PersistentVolumeClaim":
    case "PersistentVolume":
      return <StorageEssentials obj={obj} kind={kind} />;
    case "StorageClass":
      return <StorageClassEssentials obj={obj} />;
    case "ServiceAccount":
      return <ServiceAccountEssentials obj={obj} />;
    default:
      return null;
  }
}
