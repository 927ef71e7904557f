// What people look for first on an object's page, by kind: a Service's ports, IPs and
// endpoints; a ConfigMap's data; a Pod's node, IPs, owner and conditions; a workload's
// conditions. Everything comes from the objects themselves (live lists where it changes). Nodes
// have their own page (nodes.tsx).

import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { useI18n, type I18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { useLiveList, useLoad } from "../api/hooks";
import { clusterPath } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Ago } from "../pages/columns";
import { Table } from "./Table";
import { EditAction, MoreEssentials } from "./MoreEssentials";
import { Status } from "./ui";

interface Props {
  cluster: string;
  /** The object's kind (list items do not carry it). */
  kind: string;
  obj: K8sObject;
  /** The page of a pod (as the lists link it). */
  podLink: (o: K8sObject) => string;
}

/** The console's page of a workload, node or pod, or null when it has none. */
export function objectLink(cluster: string, kind: string, name: string, namespace?: string): string | null {
  const plural: Record<string, string> = { Deployment: "deployments", StatefulSet: "statefulsets", DaemonSet: "daemonsets", Job: "jobs", CronJob: "cronjobs", Pod: "pods", Service: "services", ConfigMap: "configmaps", Secret: "secrets" };
  if (kind === "Node") return `/clusters/${cluster}/nodes/${encodeURIComponent(name)}`;
  const p = plural[kind];
  return p && namespace ? `/clusters/${cluster}/projects/${namespace}/${p}/${encodeURIComponent(name)}` : null;
}

function Field({ label, children, testId }: { label: MessageKey; children: ReactNode; testId?: string }) {
  const { t } = useI18n();
  return (
    <>
      <dt>{t(label)}</dt>
      <dd data-testid={testId}>{children}</dd>
    </>
  );
}

function Section({ title, children }: { title: MessageKey; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <section aria-label={t(title)}>
      <h2 className="section">{t(title)}</h2>
      {children}
    </section>
  );
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastHeartbeatTime?: string;
}

function Conditions({ conditions, i18n }: { conditions: Condition[]; i18n: I18n }) {
  const { t } = i18n;
  return (
    <Section title="detail.conditions">
      <Table<Condition>
        label={t("detail.conditions")}
        rows={conditions}
        rowKey={(c) => c.type}
        columns={[
          // Condition types and reasons are API identifiers; True/False in the user's language.
          { title: "col.type", render: (c) => <span translate="no">{c.type}</span> },
          { title: "col.status", render: (c) => <Status value={c.status} label={c.status === "True" ? t("node.true") : c.status === "False" ? t("node.false") : undefined} /> },
          { title: "col.reason", render: (c) => <span translate="no">{c.reason ?? "—"}</span> },
          { title: "col.message", render: (c) => <span title={c.message}>{c.message ?? "—"}</span>, width: "minmax(0, 3fr)" },
          { title: "col.lastTransition", render: (c) => <Ago iso={c.lastTransitionTime} i18n={i18n} /> },
        ]}
      />
    </Section>
  );
}

/** The essentials of `obj` by its kind (nothing for kinds without any), and its form's Edit button. */
export function Essentials(props: Props) {
  return (
    <>
      <EditAction cluster={props.cluster} kind={props.kind} obj={props.obj} />
      {kindEssentials(props)}
    </>
  );
}

function kindEssentials(props: Props) {
  switch (props.kind) {
    case "Service":
      return <ServiceEssentials {...props} />;
    case "ConfigMap":
      return <ConfigMapEssentials {...props} />;
    case "Pod":
      return <PodEssentials {...props} />;
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "Job":
      return <WorkloadEssentials {...props} />;
    default:
      return <MoreEssentials cluster={props.cluster} kind={props.kind} obj={props.obj} />;
  }
}

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  nodePort?: number;
}

interface SliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean };
  nodeName?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

function ServiceEssentials({ cluster, obj, podLink }: Props) {
  const i18n = useI18n();
  const { t } = i18n;
  const ns = obj.metadata.namespace;
  const name = obj.metadata.name;
  const slices = useLiveList(clusterPath(cluster, `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(ns ?? "")}/endpointslices`), {
    labelSelector: `kubernetes.io/service-name=${name}`,
  });
  const spec = obj.spec ?? {};
  const ips: string[] = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
  const external: string[] = [...(spec.externalIPs ?? []), ...((obj.status?.loadBalancer?.ingress ?? []) as { ip?: string; hostname?: string }[]).map((i) => i.ip ?? i.hostname ?? "")].filter(Boolean);
  const selector = Object.entries((spec.selector ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`);
  const endpoints = slices.items.flatMap((s) => ((s.endpoints ?? []) as SliceEndpoint[]).map((e) => ({ ...e, slicePorts: (s.ports ?? []) as { port?: number; protocol?: string }[] })));
  const endpointPorts = (e: (typeof endpoints)[number]) => e.slicePorts.map((p) => `${p.port ?? ""}/${p.protocol ?? "TCP"}`).join(", ");
  return (
    <>
      <dl className="kv card" aria-label={t("detail.service")}>
        <Field label="col.type">{spec.type ?? "ClusterIP"}</Field>
        <Field label="col.clusterIP" testId="cluster-ip">
          {ips.join(", ") || "—"}
        </Field>
        {external.length > 0 && <Field label="detail.externalIPs">{external.join(", ")}</Field>}
        <Field label="form.selector">{selector.join(", ") || "—"}</Field>
        {spec.sessionAffinity && <Field label="detail.sessionAffinity">{spec.sessionAffinity}</Field>}
      </dl>
      <Section title="col.ports">
        <Table<ServicePort>
          label={t("col.ports")}
          rows={(spec.ports ?? []) as ServicePort[]}
          rowKey={(p) => `${p.name ?? ""}/${p.port}/${p.protocol ?? "TCP"}`}
          columns={[
            { title: "col.name", render: (p) => p.name || "—" },
            { title: "col.port", render: (p) => String(p.port) },
            { title: "form.targetPort", render: (p) => String(p.targetPort ?? p.port) },
            { title: "col.protocol", render: (p) => p.protocol ?? "TCP" },
            { title: "col.nodePort", render: (p) => (p.nodePort ? String(p.nodePort) : "—") },
          ]}
        />
      </Section>
      <Section title="detail.endpoints">
        <Table<(typeof endpoints)[number]>
          label={t("detail.endpoints")}
          rows={endpoints}
          rowKey={(e) => `${e.addresses.join(",")}/${e.targetRef?.name ?? ""}`}
          columns={[
            { title: "col.address", render: (e) => e.addresses.join(", ") },
            { title: "col.ports", render: endpointPorts },
            { title: "col.ready", render: (e) => <Status value={e.conditions?.ready === false ? "False" : "True"} /> },
            {
              title: "col.object",
              render: (e) =>
                e.targetRef?.kind === "Pod" && e.targetRef.name ? (
                  <Link to={podLink({ metadata: { name: e.targetRef.name, namespace: e.targetRef.namespace ?? ns } })}>{e.targetRef.name}</Link>
                ) : (
                  (e.targetRef?.name ?? "—")
                ),
            },
            { title: "col.node", render: (e) => (e.nodeName ? <Link to={`/clusters/${cluster}/nodes/${encodeURIComponent(e.nodeName)}`}>{e.nodeName}</Link> : "—") },
          ]}
        />
      </Section>
    </>
  );
}

function ConfigMapEssentials({ obj }: Props) {
  const { t, number } = useI18n();
  const data = Object.entries((obj.data ?? {}) as Record<string, string>).sort(([a], [b]) => a.localeCompare(b));
  const binary = Object.entries((obj.binaryData ?? {}) as Record<string, string>).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Section title="detail.data">
      {data.length + binary.length === 0 && <p className="muted">{t("list.empty")}</p>}
      <dl className="data" data-testid="configmap-data">
        {data.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>
              <pre className="code">{v}</pre>
            </dd>
          </div>
        ))}
        {binary.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd className="muted">{t("detail.binary", { size: number(Math.floor((v.length * 3) / 4)) })}</dd>
          </div>
        ))}
      </dl>
    </Section>
  );
}

/** A workload's conditions (Available, Progressing, Complete…) with their reasons. */
function WorkloadEssentials({ obj }: Props) {
  const i18n = useI18n();
  const conditions = (obj.status?.conditions ?? []) as Condition[];
  return conditions.length ? <Conditions conditions={conditions} i18n={i18n} /> : null;
}

interface OwnerRef {
  kind: string;
  name: string;
  controller?: boolean;
}

/** A pod's owner as a link; a ReplicaSet is followed to its Deployment (its page is the one people open). */
function Owner({ cluster, namespace, owner }: { cluster: string; namespace?: string; owner: OwnerRef }) {
  const rs = useLoad<K8sObject>(owner.kind === "ReplicaSet" && namespace ? clusterPath(cluster, `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/replicasets/${encodeURIComponent(owner.name)}`) : null);
  const deployment = ((rs.data?.metadata.ownerReferences ?? []) as OwnerRef[]).find((o) => o.kind === "Deployment");
  const shown = deployment ?? owner;
  const to = objectLink(cluster, shown.kind, shown.name, namespace);
  const label = `${shown.kind}/${shown.name}`;
  return to ? <Link to={to}>{label}</Link> : <>{label}</>;
}

function PodEssentials({ cluster, obj }: Props) {
  const i18n = useI18n();
  const { t } = i18n;
  const ns = obj.metadata.namespace;
  const status = obj.status ?? {};
  const node: string | undefined = obj.spec?.nodeName;
  const ips: string[] = ((status.podIPs ?? []) as { ip: string }[]).map((p) => p.ip);
  if (!ips.length && status.podIP) ips.push(status.podIP);
  const owners = (obj.metadata.ownerReferences ?? []) as OwnerRef[];
  const restarts = ((status.containerStatuses ?? []) as { restartCount?: number }[]).reduce((a, c) => a + (c.restartCount ?? 0), 0);
  return (
    <>
      <dl className="kv card" aria-label={t("detail.pod")}>
        <Field label="col.node" testId="pod-node">
          {node ? <Link to={`/clusters/${cluster}/nodes/${encodeURIComponent(node)}`}>{node}</Link> : t("detail.unscheduled")}
        </Field>
        <Field label="detail.podIP" testId="pod-ip">
          {ips.join(", ") || "—"}
        </Field>
        <Field label="detail.hostIP">{status.hostIP ?? "—"}</Field>
        <Field label="detail.owner" testId="pod-owner">
          {owners.length
            ? owners.map((o, i) => (
                <span key={`${o.kind}/${o.name}`}>
                  {i > 0 && ", "}
                  <Owner cluster={cluster} namespace={ns} owner={o} />
                </span>
              ))
            : "—"}
        </Field>
        <Field label="detail.qos">{status.qosClass ?? "—"}</Field>
        <Field label="col.restarts">{i18n.number(restarts)}</Field>
        <Field label="detail.started">
          <Ago iso={status.startTime} i18n={i18n} />
        </Field>
        <Field label="detail.serviceAccount">{obj.spec?.serviceAccountName ?? "—"}</Field>
      </dl>
      <Conditions conditions={(status.conditions ?? []) as Condition[]} i18n={i18n} />
    </>
  );
}
