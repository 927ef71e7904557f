import { useCallback, useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { useCan, useLiveList, useLoad } from "../api/hooks";
import { clusterPath, resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Table } from "../components/Table";
import { ErrorBox, PageHead } from "../components/ui";
import { formatCpu, formatMemory, parseQuantity, relativeTime } from "../components/format";
import { columnsFor } from "./columns";

/** Whether a node reports Ready. */
export function nodeReady(n: K8sObject): boolean {
  return ((n.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === "Ready" && c.status === "True");
}

/** A node's roles, from its `node-role.kubernetes.io/<role>` labels. */
export function nodeRoles(n: K8sObject): string[] {
  return Object.keys(n.metadata.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length))
    .filter(Boolean);
}

/** A node's zone (topology label, or the older failure-domain one). */
export function nodeZone(n: K8sObject): string {
  const l = n.metadata.labels ?? {};
  return l["topology.kubernetes.io/zone"] ?? l["failure-domain.beta.kubernetes.io/zone"] ?? "";
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

/** What the pods on a node request and limit, summed over those still running or waiting. */
export function podTotals(pods: K8sObject[]): { requests: Record<string, number>; limits: Record<string, number> } {
  const requests: Record<string, number> = {};
  const limits: Record<string, number> = {};
  for (const p of pods) {
    if (p.status?.phase === "Succeeded" || p.status?.phase === "Failed") continue;
    for (const c of (p.spec?.containers ?? []) as { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[]) {
      for (const [k, v] of Object.entries(c.resources?.requests ?? {})) requests[k] = (requests[k] ?? 0) + (parseQuantity(v) || 0);
      for (const [k, v] of Object.entries(c.resources?.limits ?? {})) limits[k] = (limits[k] ?? 0) + (parseQuantity(v) || 0);
    }
  }
  return { requests, limits };
}

/** A health badge for a node condition: Ready should be True, the pressure ones False. */
function ConditionBadge({ type, status }: { type: string; status: string }) {
  const { t } = useI18n();
  const healthy = (type === "Ready") === (status === "True");
  return (
    <span className={`badge ${status === "Unknown" ? "warn" : healthy ? "ok" : "bad"}`} data-condition={type}>
      {status === "True" ? t("node.true") : status === "False" ? t("node.false") : t("cluster.unknown")}
    </span>
  );
}

const EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

function Taints({ node, path, canPatch }: { node: K8sObject; path: string; canPatch: boolean }) {
  const { t } = useI18n();
  const taints = (node.spec?.taints ?? []) as Taint[];
  const [form, setForm] = useState<Taint>({ key: "", value: "", effect: "NoSchedule" });
  const [error, setError] = useState<unknown>(null);
  const write = async (next: Taint[]) => {
    try {
      // A merge patch replaces the whole list: the node keeps exactly `next`.
      await api.patch(path, { spec: { taints: next.length ? next : null } });
      setError(null);
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const taint: Taint = { key: form.key.trim(), effect: form.effect, ...(form.value?.trim() ? { value: form.value.trim() } : {}) };
    if (await write([...taints.filter((x) => !(x.key === taint.key && x.effect === taint.effect)), taint])) setForm({ key: "", value: "", effect: "NoSchedule" });
  };
  return (
    <>
      <h2 className="section">{t("node.taints")}</h2>
      <Table<Taint>
        label={t("node.taints")}
        rows={taints}
        rowKey={(x) => `${x.key}:${x.effect}`}
        columns={[
          { title: "node.taintKey", render: (x) => x.key },
          { title: "node.taintValue", render: (x) => x.value ?? "" },
          { title: "node.taintEffect", render: (x) => x.effect },
          {
            title: "col.actions",
            render: (x) =>
              canPatch ? (
                <button type="button" className="danger" aria-label={t("node.removeTaint", { key: x.key })} onClick={() => void write(taints.filter((y) => y !== x))}>
                  {t("action.remove")}
                </button>
              ) : null,
          },
        ]}
      />
      {canPatch && (
        <form className="toolbar" onSubmit={add} aria-label={t("node.addTaint")} style={{ marginTop: 8 }}>
          <input name="taintKey" aria-label={t("node.taintKey")} placeholder={t("node.taintKey")} required value={form.key} onChange={(e) => setForm({ ...form, key: e.target.value })} />
          <input name="taintValue" aria-label={t("node.taintValue")} placeholder={t("node.taintValue")} value={form.value} onChange={(e) => setForm({ ...form, value: e.target.value })} />
          <select name="taintEffect" aria-label={t("node.taintEffect")} value={form.effect} onChange={(e) => setForm({ ...form, effect: e.target.value })}>
            {EFFECTS.map((x) => (
              <option key={x}>{x}</option>
            ))}
          </select>
          <button type="submit">{t("node.addTaint")}</button>
        </form>
      )}
      <ErrorBox error={error} />
    </>
  );
}

/** CPU, memory and pods first, then the rest by name. */
const rank = (resource: string) => {
  const i = ["cpu", "memory", "pods"].indexOf(resource);
  return i < 0 ? 3 : i;
};

interface CapacityRow {
  resource: string;
  capacity?: string;
  allocatable?: string;
  requests?: number;
  limits?: number;
  usage?: string;
}

/** A node's page: state and facts, conditions, capacity against what its pods ask, taints,
 * its pods; cordon and uncordon for those who may patch nodes. */
export function NodeDetail({ cluster, name }: { cluster: string; name: string }) {
  const i18n = useI18n();
  const { t, lang, date } = i18n;
  const path = resourcePath(cluster, resources.nodes, undefined, name);
  const live = useLiveList(resourcePath(cluster, resources.nodes), { fieldSelector: `metadata.name=${name}` });
  const once = useLoad<K8sObject>(live.loaded ? null : path);
  const node = live.items[0] ?? once.data ?? undefined;
  const pods = useLiveList(resourcePath(cluster, resources.pods), { fieldSelector: `spec.nodeName=${name}` });
  const usage = useLoad<{ usage?: Record<string, string> }>(clusterPath(cluster, `/apis/metrics.k8s.io/v1beta1/nodes/${encodeURIComponent(name)}`));
  const canPatch = useCan(cluster, { verb: "patch", resource: "nodes" }) === true;
  const [error, setError] = useState<unknown>(null);
  const podLink = useCallback((o: K8sObject) => `/clusters/${cluster}/projects/${o.metadata.namespace}/pods/${o.metadata.name}`, [cluster]);
  const podColumns = useMemo(() => columnsFor("pods", i18n, podLink, true), [i18n, podLink]);
  const totals = useMemo(() => podTotals(pods.items), [pods.items]);
  if (!node) return <ErrorBox error={once.error ?? live.error} />;
  const cordoned = node.spec?.unschedulable === true;
  const cordon = (on: boolean) =>
    api.patch(path, { spec: { unschedulable: on ? true : null } }).then(
      () => setError(null),
      (e) => setError(e),
    );
  const capacity = (node.status?.capacity ?? {}) as Record<string, string>;
  const allocatable = (node.status?.allocatable ?? {}) as Record<string, string>;
  const rows: CapacityRow[] = [...new Set([...Object.keys(capacity), ...Object.keys(allocatable)])]
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((r) => ({ resource: r, capacity: capacity[r], allocatable: allocatable[r], requests: totals.requests[r], limits: totals.limits[r], usage: usage.data?.usage?.[r] }));
  const show = (resource: string, q: string | number | undefined) => {
    if (q === undefined) return "—";
    const text = typeof q === "number" ? String(q) : q;
    if (resource === "cpu") return typeof q === "number" ? formatCpu(String(q), lang) : formatCpu(text, lang);
    if (resource === "memory" || resource.includes("storage") || resource.startsWith("hugepages")) return typeof q === "number" ? formatMemory(String(Math.round(q)), lang) : formatMemory(text, lang);
    return text;
  };
  const info = (node.status?.nodeInfo ?? {}) as Record<string, string>;
  const addresses = (node.status?.addresses ?? []) as { type: string; address: string }[];
  const conditions = (node.status?.conditions ?? []) as { type: string; status: string; reason?: string; message?: string; lastHeartbeatTime?: string; lastTransitionTime?: string }[];
  const ready = nodeReady(node);
  return (
    <>
      <PageHead title={`${t("node.title")}: ${name}`}>
        <Link className="button" to={`/clusters/${cluster}/nodes`}>
          {t("action.back")}
        </Link>
        {canPatch &&
          (cordoned ? (
            <button type="button" onClick={() => void cordon(false)}>
              {t("node.uncordon")}
            </button>
          ) : (
            <button type="button" onClick={() => void cordon(true)}>
              {t("node.cordon")}
            </button>
          ))}
      </PageHead>
      <ErrorBox error={error} />
      <div className="toolbar">
        <span className={`badge ${ready ? "ok" : "bad"}`} data-testid="node-ready">
          {ready ? t("cluster.ready") : t("cluster.notReady")}
        </span>
        <span className={`badge ${cordoned ? "warn" : "ok"}`} data-testid="node-schedulable">
          {cordoned ? t("node.cordoned") : t("node.schedulable")}
        </span>
      </div>
      <dl className="kv card">
        <dt>{t("node.roles")}</dt>
        <dd>{nodeRoles(node).join(", ") || "—"}</dd>
        <dt>{t("node.addresses")}</dt>
        <dd>{addresses.map((a) => `${a.type}: ${a.address}`).join(", ") || "—"}</dd>
        <dt>{t("node.zone")}</dt>
        <dd>{nodeZone(node) || "—"}</dd>
        <dt>{t("node.kubelet")}</dt>
        <dd>{info.kubeletVersion ?? "—"}</dd>
        <dt>{t("node.runtime")}</dt>
        <dd>{info.containerRuntimeVersion ?? "—"}</dd>
        <dt>{t("node.os")}</dt>
        <dd>{[info.osImage, info.kernelVersion, info.architecture].filter(Boolean).join(" · ") || "—"}</dd>
        <dt>{t("node.podCIDR")}</dt>
        <dd>{node.spec?.podCIDR ?? "—"}</dd>
        <dt>{t("col.created")}</dt>
        <dd>{date(node.metadata.creationTimestamp)}</dd>
        <dt>{t("detail.labels")}</dt>
        <dd>{Object.entries(node.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") || "—"}</dd>
      </dl>
      <h2 className="section">{t("node.conditions")}</h2>
      <Table<(typeof conditions)[number]>
        label={t("node.conditions")}
        rows={conditions}
        rowKey={(c) => c.type}
        columns={[
          { title: "col.type", render: (c) => <span translate="no">{c.type}</span> },
          { title: "col.status", render: (c) => <ConditionBadge type={c.type} status={c.status} /> },
          { title: "col.reason", render: (c) => c.reason ?? "" },
          { title: "col.message", render: (c) => <span title={c.message}>{c.message ?? ""}</span>, width: "minmax(0, 2fr)" },
          { title: "node.heartbeat", render: (c) => relativeTime(c.lastHeartbeatTime, lang) },
          { title: "node.transition", render: (c) => relativeTime(c.lastTransitionTime, lang) },
        ]}
      />
      <h2 className="section">{t("node.capacity")}</h2>
      <Table<CapacityRow>
        label={t("node.capacity")}
        rows={rows}
        rowKey={(r) => r.resource}
        columns={[
          { title: "node.resource", render: (r) => r.resource },
          { title: "cluster.capacity", render: (r) => show(r.resource, r.capacity) },
          { title: "node.allocatable", render: (r) => show(r.resource, r.allocatable) },
          { title: "node.requests", render: (r) => show(r.resource, r.requests) },
          { title: "node.limits", render: (r) => show(r.resource, r.limits) },
          { title: "cluster.usage", render: (r) => (r.resource === "pods" ? String(pods.items.length) : show(r.resource, r.usage)) },
        ]}
      />
      <Taints node={node} path={path} canPatch={canPatch} />
      <h2 className="section">{t("detail.pods")}</h2>
      <ErrorBox error={pods.error} />
      <Table<K8sObject> label={t("detail.pods")} rows={pods.items} rowKey={(p) => p.metadata.uid ?? `${p.metadata.namespace}/${p.metadata.name}`} columns={podColumns} />
    </>
  );
}
