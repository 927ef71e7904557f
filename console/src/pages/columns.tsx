import { useSyncExternalStore } from "react";
import { Link } from "react-router-dom";
import type { Column } from "../components/Table";
import { Status } from "../components/ui";
import type { K8sObject } from "../api/watch";
import type { I18n } from "../i18n";
import { formatCpu, formatMemory, relativeTime } from "../components/format";

// One clock for every relative time on the page: it ticks every 30 s while any is shown.
const listeners = new Set<() => void>();
let clock: ReturnType<typeof setInterval> | null = null;
let now = Date.now();
function subscribe(f: () => void) {
  listeners.add(f);
  if (!clock) {
    now = Date.now();
    clock = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, 30_000);
  }
  return () => {
    listeners.delete(f);
    if (!listeners.size && clock) {
      clearInterval(clock);
      clock = null;
    }
  };
}

/** A time as "3 minutes ago" in the user's language (kept current), the exact time on hover. */
export function Ago({ iso, i18n }: { iso: string | undefined; i18n: I18n }) {
  // Re-rendered by the clock's tick; the time is read afresh.
  useSyncExternalStore(subscribe, () => now);
  if (!iso) return <>—</>;
  return (
    <time dateTime={iso} title={i18n.date(iso)}>
      {relativeTime(iso, i18n.lang)}
    </time>
  );
}

/** A pod's phase as kubectl words it (Terminating while being deleted). */
export function podPhase(p: K8sObject): string {
  if (p.metadata.deletionTimestamp) return "Terminating";
  const waiting = (p.status?.containerStatuses ?? []).map((c: { state?: { waiting?: { reason?: string } } }) => c.state?.waiting?.reason).find(Boolean);
  return waiting ?? p.status?.phase ?? "Pending";
}

function readyCount(p: K8sObject): string {
  const cs = (p.status?.containerStatuses ?? []) as { ready?: boolean }[];
  const total = (p.spec?.containers ?? []).length;
  return `${cs.filter((c) => c.ready).length}/${total}`;
}

/** The columns a list of `plural` shows; `link` gives a row's detail page. */
/** When an event last happened: `lastTimestamp`, else `eventTime` (events.k8s.io), else when
 * it was recorded. */
export function lastSeen(e: K8sObject): string {
  return String(e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp || "");
}

export function columnsFor(plural: string, i18n: I18n, link: (o: K8sObject) => string | null, showNamespace: boolean): Column<K8sObject>[] {
  const name: Column<K8sObject> = {
    title: "col.name",
    render: (o) => {
      const to = link(o);
      return to ? <Link to={to}>{o.metadata.name}</Link> : o.metadata.name;
    },
    sort: (o) => o.metadata.name,
    sortBy: "name",
    width: "minmax(0, 2fr)",
  };
  const ns: Column<K8sObject>[] = showNamespace ? [{ title: "col.namespace", render: (o) => o.metadata.namespace ?? "", sort: (o) => o.metadata.namespace ?? "", sortBy: "metadata.namespace" }] : [];
  const created: Column<K8sObject> = { title: "col.created", render: (o) => i18n.date(o.metadata.creationTimestamp), sort: (o) => o.metadata.creationTimestamp ?? "", sortBy: "createTime" };
  const replicas: Column<K8sObject> = { title: "col.replicas", render: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, sortBy: "spec.replicas" };
  const images: Column<K8sObject> = { title: "col.images", render: (o) => ((o.spec?.template?.spec?.containers ?? []) as { image: string }[]).map((c) => c.image).join(", ") };
  switch (plural) {
    case "pods":
      return [
        name,
        ...ns,
        { title: "col.status", render: (o) => <Status value={podPhase(o)} />, sort: podPhase, sortBy: "status.phase" },
        { title: "col.ready", render: readyCount },
        { title: "col.restarts", render: (o) => String(((o.status?.containerStatuses ?? []) as { restartCount?: number }[]).reduce((a, c) => a + (c.restartCount ?? 0), 0)) },
        { title: "col.node", render: (o) => o.spec?.nodeName ?? "", sortBy: "spec.nodeName" },
        created,
      ];
    case "deployments":
    case "statefulsets":
      return [name, ...ns, replicas, images, created];
    case "daemonsets":
      return [name, ...ns, { title: "col.ready", render: (o) => `${o.status?.numberReady ?? 0}/${o.status?.desiredNumberScheduled ?? 0}` }, images, created];
    case "jobs":
      return [name, ...ns, { title: "col.status", render: (o) => <Status value={o.status?.succeeded ? "Complete" : o.status?.failed ? "Failed" : "Running"} /> }, created];
    case "cronjobs":
      return [name, ...ns, { title: "col.type", render: (o) => o.spec?.schedule ?? "" }, created];
    case "services":
      return [
        name,
        ...ns,
        { title: "col.type", render: (o) => o.spec?.type ?? "", sortBy: "spec.type" },
        { title: "col.clusterIP", render: (o) => o.spec?.clusterIP ?? "", sortBy: "spec.clusterIP" },
        { title: "col.ports", render: (o) => ((o.spec?.ports ?? []) as { port: number; protocol?: string }[]).map((p) => `${p.port}/${p.protocol ?? "TCP"}`).join(", ") },
        created,
      ];
    case "configmaps":
    case "secrets": {
      // Secrets listed through the platform come without values, their keys named in `keys`.
      const keys: Column<K8sObject> = { title: "col.keys", render: (o) => String(Array.isArray(o.keys) ? o.keys.length : Object.keys({ ...((o.data as object) ?? {}), ...((o.binaryData as object) ?? {}) }).length) };
      const type: Column<K8sObject>[] = plural === "secrets" ? [{ title: "col.type", render: (o) => <span translate="no">{String(o.type ?? "Opaque")}</span> }] : [];
      return [name, ...ns, ...type, keys, created];
    }
    case "events":
      return [
        { title: "col.type", render: (o) => (o.type === "Warning" ? i18n.t("obs.warning") : o.type === "Normal" ? i18n.t("obs.normal") : String(o.type ?? "")), width: "90px", sortBy: "type" },
        ...ns,
        // A reason is an identifier the component chose (Started, Pulled…): shown as it is.
        { title: "col.reason", render: (o) => <span translate="no">{String(o.reason ?? "")}</span>, sort: (o) => String(o.reason ?? ""), sortBy: "reason" },
        { title: "col.object", render: (o) => `${(o.involvedObject as { kind?: string })?.kind ?? ""}/${(o.involvedObject as { name?: string })?.name ?? ""}` },
        { title: "col.message", render: (o) => String(o.message ?? ""), width: "minmax(0, 3fr)" },
        { title: "col.count", render: (o) => String(o.count ?? 1), width: "70px", sortBy: "count" },
        { title: "col.lastSeen", render: (o) => <Ago iso={lastSeen(o)} i18n={i18n} />, sort: lastSeen, sortBy: "lastTimestamp", width: "minmax(0, 1.2fr)" },
      ];
    case "nodes":
      return [
        name,
        { title: "col.status", render: (o) => <Status value={((o.status?.conditions ?? []) as { type: string; status: string }[]).find((c) => c.type === "Ready")?.status === "True" ? "Ready" : "NotReady"} /> },
        { title: "col.version", render: (o) => o.status?.nodeInfo?.kubeletVersion ?? "", sortBy: "status.nodeInfo.kubeletVersion" },
        { title: "col.cpu", render: (o) => formatCpu(o.status?.capacity?.cpu, i18n.lang) },
        { title: "col.memory", render: (o) => formatMemory(o.status?.capacity?.memory, i18n.lang) },
        { title: "col.pods", render: (o) => o.status?.capacity?.pods ?? "" },
        created,
      ];
    case "namespaces":
      return [
        name,
        { title: "col.workspace", render: (o) => o.metadata.labels?.["kubesphere.io/workspace"] ?? "—", sort: (o) => o.metadata.labels?.["kubesphere.io/workspace"] ?? "" },
        { title: "col.status", render: (o) => <Status value={o.status?.phase} /> },
        created,
      ];
    case "customresourcedefinitions":
      // Group and kind are identifiers (translate="no"); the scope is said in the user's language.
      return [
        name,
        { title: "col.group", render: (o) => <span translate="no">{o.spec?.group ?? ""}</span>, sortBy: "spec.group" },
        { title: "col.kind", render: (o) => <span translate="no">{o.spec?.names?.kind ?? ""}</span>, sortBy: "spec.names.kind" },
        { title: "col.scope", render: (o) => (o.spec?.scope === "Cluster" ? i18n.t("scope.Cluster") : o.spec?.scope === "Namespaced" ? i18n.t("scope.Namespaced") : (o.spec?.scope ?? "")), sortBy: "spec.scope" },
        created,
      ];
    case "ingresses":
      return [
        name,
        ...ns,
        { title: "res.ingressClass", render: (o) => o.spec?.ingressClassName ?? "—", sortBy: "spec.ingressClassName" },
        { title: "res.host", render: (o) => ((o.spec?.rules ?? []) as { host?: string }[]).map((r) => r.host ?? "*").join(", ") },
        created,
      ];
    case "persistentvolumeclaims":
    case "persistentvolumes":
      return [
        name,
        ...ns,
        { title: "col.status", render: (o) => <Status value={o.status?.phase} />, sortBy: "status.phase" },
        { title: "res.capacity", render: (o) => o.status?.capacity?.storage ?? o.spec?.capacity?.storage ?? o.spec?.resources?.requests?.storage ?? "" },
        { title: "res.storageClass", render: (o) => o.spec?.storageClassName ?? "—", sortBy: "spec.storageClassName" },
        { title: "res.accessModes", render: (o) => ((o.spec?.accessModes ?? []) as string[]).join(", ") },
        created,
      ];
    case "storageclasses":
      return [name, { title: "res.provisioner", render: (o) => String(o.provisioner ?? ""), sortBy: "provisioner" }, { title: "res.reclaimPolicy", render: (o) => String(o.reclaimPolicy ?? "Delete") }, created];
    case "networkpolicies":
      return [name, ...ns, { title: "res.podSelector", render: (o) => Object.entries((o.spec?.podSelector?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(", ") || "*" }, created];
    default:
      return [name, ...ns, created];
  }
}
