import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useI18n } from "../i18n";
import { api, ApiError } from "../api/client";
import { useCan, useLiveList, useLoad } from "../api/hooks";
import { resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Table } from "../components/Table";
import { Dialog, ErrorBox, PageHead, describeError } from "../components/ui";
import { Ask } from "../components/Ask";
import { formatCpu, formatMemory, relativeTime } from "../components/format";
import { useApp } from "../state/context";
import { HOST_LABEL } from "../state/clusters";
import { certExpiry, clusterToJoin, conditionOf, inspectKubeconfig, type KubeconfigSummary } from "../state/kubeconfig";
import { nodeReady, nodeRoles, nodeZone } from "./nodes";

const CLUSTERS_API = "/apis/cluster.kubesphere.io/v1alpha1/clusters";
const LABELS_API = "/apis/cluster.kubesphere.io/v1alpha1/labels";
const KAPIS = "/kapis/cluster.kubesphere.io/v1alpha1/clusters";
const CONFIGZ = "/kapis/config.kubesphere.io/v1alpha2/configs/configz";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The exec plugin commands this platform lets member kubeconfigs run. */
function useExecAllowList(): string[] | null {
  const configz = useLoad<{ multicluster?: { execPluginAllow?: string[] } }>(CONFIGZ);
  return configz.data ? (configz.data.multicluster?.execPluginAllow ?? []) : null;
}

/** A refusal by the server, its own words shown (they say what to fix), summarised first. */
function Refusal({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const { summary, causes } = describeError(t, error);
  return (
    <div className="error" role="alert" data-testid="refusal">
      <strong>{error instanceof ApiError ? t("cl.refused") : summary}</strong>
      {error instanceof ApiError && <p>{error.message}</p>}
      {causes.length > 0 && (
        <ul className="causes">
          {causes.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The exec allow-list explained, and what the browser already sees wrong in the kubeconfig. */
function ExecExplained({ allowed, summary }: { allowed: string[] | null; summary?: KubeconfigSummary }) {
  const { t } = useI18n();
  return (
    <div className="card" data-testid="exec-explained">
      <h3 style={{ marginTop: 0 }}>{t("cl.exec.title")}</h3>
      <p className="muted">{t("cl.exec.explain")}</p>
      <p>
        {t("cl.exec.allowed")}{" "}
        {allowed === null ? "…" : allowed.length ? allowed.map((c) => <code key={c} style={{ marginRight: 6 }}>{c}</code>) : t("cl.exec.none")}
      </p>
      {summary && summary.refusedExec.length > 0 && (
        <p className="error" role="alert">
          {t("cl.exec.refused", { command: summary.refusedExec.join(", ") })}
        </p>
      )}
      {summary && summary.localFiles.length > 0 && (
        <p className="error" role="alert">
          {t("cl.localFiles", { fields: summary.localFiles.join(", ") })}
        </p>
      )}
    </div>
  );
}

/** Kubeconfig text, pasted or read from a file. */
function KubeconfigInput({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  const { t } = useI18n();
  return (
    <>
      <label>
        {t("cl.kubeconfig")}
        <textarea name="kubeconfig" rows={12} spellCheck={false} value={value} onChange={(e) => onChange(e.target.value)} placeholder={"apiVersion: v1\nkind: Config\nclusters: …"} />
      </label>
      <label>
        {t("cl.upload")}
        <input
          type="file"
          name="kubeconfigFile"
          accept=".yaml,.yml,.conf,.config,.kubeconfig,text/plain,application/yaml"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) onChange(await file.text());
          }}
        />
      </label>
    </>
  );
}

function SummaryList({ summary }: { summary: KubeconfigSummary }) {
  const { t } = useI18n();
  return (
    <dl className="kv" data-testid="kubeconfig-summary">
      <dt>{t("cl.context")}</dt>
      <dd>{summary.context || "—"}</dd>
      <dt>{t("cl.server")}</dt>
      <dd>{summary.server || "—"}</dd>
      <dt>{t("cl.auth")}</dt>
      <dd>{t(`cl.auth.${summary.auth}`)}</dd>
    </dl>
  );
}

interface Validated {
  kubernetesVersion?: string;
  nodeCount?: number;
  message?: string;
}

const STEPS = ["cl.step.basics", "cl.step.connection", "cl.step.review"] as const;

/** Joining a cluster: its name, then its kubeconfig (checked by the platform), then a review. */
export function JoinCluster() {
  const { t, number } = useI18n();
  const navigate = useNavigate();
  const { reloadClusters } = useApp();
  const allowed = useExecAllowList();
  const [step, setStep] = useState(0);
  const [f, setF] = useState({ name: "", provider: "", description: "", kubeconfig: "" });
  const [validated, setValidated] = useState<Validated | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const inspected = useMemo(() => inspectKubeconfig(f.kubeconfig, allowed ?? []), [f.kubeconfig, allowed]);
  const nameOk = DNS_LABEL.test(f.name) && f.name.length <= 63;
  const setKubeconfig = (kubeconfig: string) => {
    setF({ ...f, kubeconfig });
    setValidated(null);
    setError(null);
  };
  const validate = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const v = await api.post<Validated>(`${KAPIS}/validation`, clusterToJoin(f));
      setValidated(v);
      setStep(2);
    } catch (err) {
      setValidated(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const join = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.post(CLUSTERS_API, clusterToJoin(f));
      reloadClusters();
      navigate(`/platform/clusters/${f.name}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <PageHead title={t("cl.join")}>
        <Link className="button" to="/platform/clusters">
          {t("action.cancel")}
        </Link>
      </PageHead>
      <ol className="steps" aria-label={t("cl.steps")}>
        {STEPS.map((s, i) => (
          <li key={s} aria-current={i === step ? "step" : undefined} className={i === step ? "current" : i < step ? "done" : ""}>
            {t(s)}
          </li>
        ))}
      </ol>
      {step === 0 && (
        <form
          className="form card"
          aria-label={t("cl.step.basics")}
          onSubmit={(e) => {
            e.preventDefault();
            if (nameOk) setStep(1);
          }}
        >
          <label>
            {t("form.name")}
            <input name="name" required autoFocus value={f.name} aria-invalid={!!f.name && !nameOk} aria-describedby="cluster-name-hint" onChange={(e) => setF({ ...f, name: e.target.value })} />
          </label>
          <span id="cluster-name-hint" className={f.name && !nameOk ? "error" : "muted"}>
            {t("cl.nameHint")}
          </span>
          <label>
            {t("cl.provider")}
            <input name="provider" list="cluster-providers" value={f.provider} onChange={(e) => setF({ ...f, provider: e.target.value })} />
            <datalist id="cluster-providers">
              {["Amazon EKS", "Azure AKS", "Google GKE", "DigitalOcean", "QingCloud QKE", "Orrery", "Other"].map((p) => (
                <option key={p} value={p} />
              ))}
            </datalist>
          </label>
          <label>
            {t("form.description")}
            <input name="description" value={f.description} onChange={(e) => setF({ ...f, description: e.target.value })} />
          </label>
          <div className="toolbar">
            <span className="spacer" />
            <button type="submit" className="primary" disabled={!nameOk}>
              {t("cl.next")}
            </button>
          </div>
        </form>
      )}
      {step === 1 && (
        <form className="form wide card" aria-label={t("cl.step.connection")} onSubmit={validate}>
          <KubeconfigInput value={f.kubeconfig} onChange={setKubeconfig} />
          {inspected.summary && <SummaryList summary={inspected.summary} />}
          {f.kubeconfig.trim() && inspected.problem && (
            <p className="error" role="alert">
              {t("cl.unreadable", { problem: inspected.problem })}
            </p>
          )}
          <ExecExplained allowed={allowed} summary={inspected.summary} />
          <Refusal error={error} />
          <div className="toolbar">
            <button type="button" onClick={() => setStep(0)}>
              {t("cl.back")}
            </button>
            <span className="spacer" />
            <button type="submit" className="primary" disabled={busy || !f.kubeconfig.trim()}>
              {busy ? t("cl.validating") : t("cl.validate")}
            </button>
          </div>
        </form>
      )}
      {step === 2 && validated && (
        <div className="card form wide" aria-label={t("cl.step.review")} role="group">
          <p className="notice" role="status">
            {t("cl.validated")}
          </p>
          <dl className="kv">
            <dt>{t("form.name")}</dt>
            <dd>{f.name}</dd>
            <dt>{t("cl.provider")}</dt>
            <dd>{f.provider || "—"}</dd>
            <dt>{t("col.version")}</dt>
            <dd data-testid="validated-version">{validated.kubernetesVersion ?? "—"}</dd>
            <dt>{t("col.nodes")}</dt>
            <dd>{validated.nodeCount === undefined ? "—" : number(validated.nodeCount)}</dd>
            <dt>{t("cl.server")}</dt>
            <dd>{inspected.summary?.server ?? "—"}</dd>
          </dl>
          <p className="muted">{t("cl.secretNote")}</p>
          <Refusal error={error} />
          <div className="toolbar">
            <button type="button" onClick={() => setStep(1)}>
              {t("cl.back")}
            </button>
            <span className="spacer" />
            <button type="button" className="primary" disabled={busy} onClick={() => void join()}>
              {t("cl.joinNow")}
            </button>
          </div>
        </div>
      )}
    </>
  );
}

/** The Labels (`cluster.kubesphere.io` Label objects) that list `cluster`, with add and remove. */
function ClusterLabels({ cluster, canEdit }: { cluster: string; canEdit: boolean }) {
  const { t } = useI18n();
  const labels = useLiveList(LABELS_API);
  const mine = labels.items.filter((l) => ((l.spec?.clusters ?? []) as string[]).includes(cluster));
  const [form, setForm] = useState({ key: "", value: "" });
  const [error, setError] = useState<unknown>(null);
  const setClusters = (l: K8sObject, clusters: string[]) => api.patch(`${LABELS_API}/${encodeURIComponent(l.metadata.name)}`, { spec: { clusters } });
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const key = form.key.trim();
    const value = form.value.trim();
    try {
      const same = labels.items.find((l) => l.spec?.key === key && (l.spec?.value ?? "") === value);
      if (same) {
        const list = (same.spec?.clusters ?? []) as string[];
        if (!list.includes(cluster)) await setClusters(same, [...list, cluster]);
      } else {
        await api.post(LABELS_API, { apiVersion: "cluster.kubesphere.io/v1alpha1", kind: "Label", metadata: { generateName: "label-" }, spec: { key, value, clusters: [cluster] } });
      }
      setForm({ key: "", value: "" });
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <h2 className="section">{t("cl.labels")}</h2>
      <ErrorBox error={labels.error} />
      <ul className="chips" aria-label={t("cl.labels")}>
        {mine.length === 0 && <li className="muted">{t("cl.noLabels")}</li>}
        {mine.map((l) => (
          <li key={l.metadata.name} className="chip">
            {l.spec?.key}={l.spec?.value ?? ""}
            {canEdit && (
              <button
                type="button"
                aria-label={t("cl.removeLabel", { label: `${l.spec?.key}=${l.spec?.value ?? ""}` })}
                onClick={() =>
                  setClusters(
                    l,
                    ((l.spec?.clusters ?? []) as string[]).filter((c) => c !== cluster),
                  ).then(() => setError(null), setError)
                }
              >
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      {canEdit && (
        <form className="toolbar" onSubmit={add} aria-label={t("cl.addLabel")}>
          <input name="labelKey" aria-label={t("cl.labelKey")} placeholder={t("cl.labelKey")} required value={form.key} onChange={(e) => setForm({ ...form, key: e.target.value })} />
          <input name="labelValue" aria-label={t("cl.labelValue")} placeholder={t("cl.labelValue")} value={form.value} onChange={(e) => setForm({ ...form, value: e.target.value })} />
          <button type="submit">{t("cl.addLabel")}</button>
        </form>
      )}
      <ErrorBox error={error} />
    </>
  );
}

/** Replacing a member's kubeconfig: it must reach the same cluster (the platform checks). */
function ReplaceKubeconfig({ cluster, open, onClose }: { cluster: string; open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const allowed = useExecAllowList();
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const inspected = useMemo(() => inspectKubeconfig(text, allowed ?? []), [text, allowed]);
  useEffect(() => {
    if (open) {
      setText("");
      setError(null);
      setDone(false);
    }
  }, [open]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.put(`${KAPIS}/${encodeURIComponent(cluster)}/kubeconfig`, { kubeconfig: text });
      setError(null);
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title={t("cl.replaceKubeconfig")}>
      <form className="form" onSubmit={submit}>
        <p className="muted">{t("cl.replaceHint")}</p>
        <KubeconfigInput value={text} onChange={(v) => (setText(v), setDone(false), setError(null))} />
        {inspected.summary && <SummaryList summary={inspected.summary} />}
        {inspected.summary && inspected.summary.refusedExec.length > 0 && (
          <p className="error" role="alert">
            {t("cl.exec.refused", { command: inspected.summary.refusedExec.join(", ") })}
          </p>
        )}
        <Refusal error={error} />
        {done && (
          <p className="notice" role="status">
            {t("cl.replaced")}
          </p>
        )}
        <div className="toolbar">
          <span className="spacer" />
          <button type="button" onClick={onClose}>
            {done ? t("cl.close") : t("action.cancel")}
          </button>
          <button type="submit" className="primary" disabled={busy || !text.trim()}>
            {t("cl.replace")}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
}

/** A cluster's page for the platform: health with reasons, versions, nodes, zones, labels,
 * certificate expiry; replacing its kubeconfig and removing it, for those allowed. */
export function ClusterDetail({ name }: { name: string }) {
  const i18n = useI18n();
  const { t, lang, date, number } = i18n;
  const navigate = useNavigate();
  const { reloadClusters } = useApp();
  const live = useLiveList(CLUSTERS_API, { fieldSelector: `metadata.name=${name}` });
  const once = useLoad<K8sObject>(live.loaded ? null : `${CLUSTERS_API}/${encodeURIComponent(name)}`);
  const c = live.items[0] ?? once.data ?? undefined;
  const host = c?.metadata.labels?.[HOST_LABEL] !== undefined;
  const ready = conditionOf(c, "Ready");
  const nodes = useLiveList(ready?.status === "True" || host ? resourcePath(name, resources.nodes) : null);
  const version = useLoad<{ gitVersion?: string }>(host ? "/version" : null);
  const canUpdate = useCan(undefined, { verb: "update", group: "cluster.kubesphere.io", resource: "clusters" }) === true;
  const canDelete = useCan(undefined, { verb: "delete", group: "cluster.kubesphere.io", resource: "clusters" }) === true;
  const canLabel = useCan(undefined, { verb: "create", group: "cluster.kubesphere.io", resource: "labels" }) === true;
  const [replacing, setReplacing] = useState(false);
  const [removing, setRemoving] = useState(false);
  if (!c) return <ErrorBox error={once.error ?? live.error} />;
  const conditions = (c.status?.conditions ?? []) as Condition[];
  const expiry = certExpiry(c);
  const zones = (c.status?.zones ?? []) as string[];
  const nodeZones = [...new Set(nodes.items.map(nodeZone).filter(Boolean))];
  return (
    <>
      <PageHead title={`${t("nav.cluster")}: ${name}`}>
        <Link className="button" to="/platform/clusters">
          {t("action.back")}
        </Link>
        <Link className="button" to={`/clusters/${name}/overview`}>
          {t("cl.open")}
        </Link>
        <Link className="button" to={`/clusters/${name}/members`}>
          {t("nav.members")}
        </Link>
        {canUpdate && !host && (
          <button type="button" onClick={() => setReplacing(true)}>
            {t("cl.replaceKubeconfig")}
          </button>
        )}
        {canDelete && !host && (
          <button type="button" className="danger" onClick={() => setRemoving(true)}>
            {t("cl.remove")}
          </button>
        )}
      </PageHead>
      <div className="toolbar">
        <span className={`badge ${ready?.status === "True" ? "ok" : ready ? "bad" : "warn"}`} data-testid="cluster-ready">
          {ready?.status === "True" ? t("cluster.ready") : ready ? t("cluster.notReady") : t("cluster.unknown")}
        </span>
        {c.metadata.deletionTimestamp && <span className="badge warn">{t("cl.removing")}</span>}
        {ready?.status !== "True" && ready?.message && <span className="muted">{ready.message}</span>}
      </div>
      <dl className="kv card" data-testid="cluster-facts">
        <dt>{t("col.role")}</dt>
        <dd>{host ? t("cluster.host") : t("cluster.member")}</dd>
        <dt>{t("cl.provider")}</dt>
        <dd>{c.spec?.provider || "—"}</dd>
        <dt>{t("cl.connection")}</dt>
        <dd>{c.spec?.connection?.type === "proxy" ? t("cl.connection.proxy") : t("cl.connection.direct")}</dd>
        <dt>{t("cl.kubernetesVersion")}</dt>
        <dd data-testid="cluster-version">{c.status?.kubernetesVersion ?? version.data?.gitVersion ?? "—"}</dd>
        <dt>{t("col.nodes")}</dt>
        <dd>{c.status?.nodeCount !== undefined ? number(c.status.nodeCount) : nodes.loaded ? number(nodes.items.length) : "—"}</dd>
        <dt>{t("cl.zones")}</dt>
        <dd>{(zones.length ? zones : nodeZones).join(", ") || "—"}</dd>
        <dt>{t("cl.region")}</dt>
        <dd>{c.status?.region || "—"}</dd>
        <dt>{t("cl.certExpiry")}</dt>
        <dd data-testid="cert-expiry">{host ? t("cl.cert.host") : expiry ? `${date(expiry)} (${relativeTime(expiry, lang)})` : t("cl.cert.none")}</dd>
        <dt>{t("cl.uid")}</dt>
        <dd>{c.status?.uid ?? "—"}</dd>
        <dt>{t("form.description")}</dt>
        <dd>{c.metadata.annotations?.["kubesphere.io/description"] || "—"}</dd>
        <dt>{t("col.created")}</dt>
        <dd>
          {date(c.metadata.creationTimestamp)}
          {c.metadata.annotations?.["kubesphere.io/creator"] ? ` · ${c.metadata.annotations["kubesphere.io/creator"]}` : ""}
        </dd>
      </dl>
      <h2 className="section">{t("node.conditions")}</h2>
      <Table<Condition>
        label={t("node.conditions")}
        rows={conditions}
        rowKey={(x) => x.type}
        columns={[
          { title: "col.type", render: (x) => x.type },
          {
            title: "col.status",
            render: (x) => {
              // KubeConfigCertExpiresInSevenDays is good when False.
              const healthy = (x.type === "KubeConfigCertExpiresInSevenDays") === (x.status === "False");
              return <span className={`badge ${healthy ? "ok" : "bad"}`}>{x.status === "True" ? t("node.true") : t("node.false")}</span>;
            },
          },
          { title: "col.reason", render: (x) => x.reason ?? "" },
          { title: "col.message", render: (x) => <span title={x.message}>{x.message ?? ""}</span>, width: "minmax(0, 2fr)" },
          { title: "node.transition", render: (x) => relativeTime(x.lastTransitionTime, lang) },
        ]}
      />
      <ClusterLabels cluster={name} canEdit={canLabel} />
      <h2 className="section">{t("nav.nodes")}</h2>
      <ErrorBox error={nodes.error} />
      <Table<K8sObject>
        label={t("nav.nodes")}
        rows={nodes.items}
        rowKey={(n) => n.metadata.name}
        columns={[
          { title: "col.name", render: (n) => <Link to={`/clusters/${name}/nodes/${n.metadata.name}`}>{n.metadata.name}</Link>, sort: (n) => n.metadata.name },
          { title: "col.status", render: (n) => <span className={`badge ${nodeReady(n) ? "ok" : "bad"}`}>{nodeReady(n) ? t("cluster.ready") : t("cluster.notReady")}</span> },
          { title: "node.scheduling", render: (n) => (n.spec?.unschedulable ? t("node.cordoned") : t("node.schedulable")) },
          { title: "node.roles", render: (n) => nodeRoles(n).join(", ") || "—" },
          { title: "node.zone", render: (n) => nodeZone(n) || "—" },
          { title: "col.cpu", render: (n) => formatCpu(n.status?.capacity?.cpu, lang) },
          { title: "col.memory", render: (n) => formatMemory(n.status?.capacity?.memory, lang) },
        ]}
      />
      <ReplaceKubeconfig cluster={name} open={replacing} onClose={() => setReplacing(false)} />
      <Ask
        open={removing}
        title={t("cl.remove")}
        message={t("cl.removeConfirm", { name })}
        action={t("cl.remove")}
        onCancel={() => setRemoving(false)}
        onConfirm={async () => {
          await api.delete(`${CLUSTERS_API}/${encodeURIComponent(name)}`);
          setRemoving(false);
          reloadClusters();
          navigate("/platform/clusters");
        }}
      />
    </>
  );
}

/** `/platform/clusters/{name}`. */
export function ClusterDetailRoute() {
  const { name = "" } = useParams();
  return <ClusterDetail key={name} name={name} />;
}
