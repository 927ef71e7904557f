// Observability pages (their own lazy chunk, with the charting library): events across
// clusters, a workload's merged logs, the audit trail, monitoring dashboards, alert rules and
// active alerts. Filters live in the URL so that a view can be shared and reloaded.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { Link, Route, Routes, useParams, useSearchParams } from "react-router-dom";
import { api, sameForm, withQuery } from "../api/client";
import { useLoad } from "../api/hooks";
import { clusterPath } from "../api/paths";
import { useI18n, type I18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { useApp } from "../state/context";
import { Chart } from "../components/Chart";
import { highlight, type ChartSeries } from "../components/series";
import { ErrorBox, PageHead } from "../components/ui";
import { Ago } from "./columns";

const PAGE = 20;
const TENANT2 = "/kapis/tenant.kubesphere.io/v1alpha2";
const MONITORING = "/kapis/monitoring.kubesphere.io/v1alpha3";
const ALERTING = "/kapis/alerting.kubesphere.io/v2beta1";
const RULES = "/apis/alerting.kubesphere.io/v2beta1";

type Obj = Record<string, unknown> & { metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; uid?: string; resourceVersion?: string } };

/** The URL's query as a record, and a setter that keeps the other keys. */
function useQuery(): [Record<string, string>, (patch: Record<string, string | undefined>) => void] {
  const [params, setParams] = useSearchParams();
  const q = useMemo(() => Object.fromEntries(params.entries()), [params]);
  const set = useCallback(
    (patch: Record<string, string | undefined>) => {
      const next = new URLSearchParams(params);
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined || v === "") next.delete(k);
        else next.set(k, v);
      }
      setParams(next, { replace: true });
    },
    [params, setParams],
  );
  return [q, set];
}

/** A filter field bound to one URL key (applied when the form is submitted). */
function Field({ name, label, value, options }: { name: string; label: string; value: string; options?: [string, string][] }) {
  return (
    <label>
      {label}{" "}
      {options ? (
        <select name={name} defaultValue={value} aria-label={label}>
          {options.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
      ) : (
        <input name={name} defaultValue={value} aria-label={label} size={12} />
      )}
    </label>
  );
}

/** Filters form: every named input becomes a URL key; the page goes back to 1. */
function Filters({ q, set, children }: { q: Record<string, string>; set: (p: Record<string, string | undefined>) => void; children: React.ReactNode }) {
  const { t } = useI18n();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const patch: Record<string, string | undefined> = { page: undefined };
    for (const [k, v] of data.entries()) patch[k] = String(v).trim() || undefined;
    set(patch);
  };
  return (
    <form className="toolbar filters" onSubmit={submit} key={JSON.stringify(q)}>
      {children}
      <button type="submit" className="primary">
        {t("obs.apply")}
      </button>
    </form>
  );
}

function Pager({ page, total, set }: { page: number; total: number; set: (p: Record<string, string | undefined>) => void }) {
  const { t } = useI18n();
  const pages = Math.max(1, Math.ceil(total / PAGE));
  return (
    <div className="toolbar">
      <span data-testid="total">{t("list.total", { count: total })}</span>
      <span className="spacer" />
      <button type="button" disabled={page <= 1} onClick={() => set({ page: String(page - 1) })}>
        {t("list.prev")}
      </button>
      <span>
        {page} / {pages}
      </span>
      <button type="button" disabled={page >= pages} onClick={() => set({ page: String(page + 1) })}>
        {t("list.next")}
      </button>
    </div>
  );
}

function unixOf(since: string | undefined): number | undefined {
  const hours: Record<string, number> = { "1h": 1, "6h": 6, "24h": 24, "7d": 168 };
  return since && hours[since] ? Math.floor(Date.now() / 1000) - hours[since] * 3600 : undefined;
}

// ---------------------------------------------------------------- events

interface EventRecord extends Obj {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { kind?: string; name?: string };
}

/** Events across clusters (or one cluster / project), filtered and paged by the server. */
export function EventsPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const app = useApp();
  const [q, set] = useQuery();
  const page = Number(q.page ?? "1") || 1;
  const path = withQuery(`${TENANT2}/events`, {
    cluster: q.cluster,
    namespace_filter: q.ns,
    workspace_filter: q.ws,
    type_filter: q.type,
    reason_filter: q.reason,
    involved_object_kind_filter: q.kind,
    involved_object_name_filter: q.name,
    start_time: unixOf(q.since),
    from: (page - 1) * PAGE,
    size: PAGE,
  });
  const { data, error } = useLoad<{ query: { total: number; records: EventRecord[] }; unavailable?: { cluster: string }[] }>(path);
  return (
    <>
      <PageHead title={t("obs.events")} />
      <Filters q={q} set={set}>
        <Field name="cluster" label={t("top.cluster")} value={q.cluster ?? ""} options={[["", t("obs.all")], ...app.clusters.map((c): [string, string] => [c.name, c.name])]} />
        <Field name="ns" label={t("obs.namespace")} value={q.ns ?? ""} />
        <Field name="ws" label={t("top.workspace")} value={q.ws ?? ""} />
        <Field name="type" label={t("obs.type")} value={q.type ?? ""} options={[["", t("obs.all")], ["Normal", t("obs.normal")], ["Warning", t("obs.warning")]]} />
        <Field name="reason" label={t("obs.reason")} value={q.reason ?? ""} />
        <Field name="kind" label={t("obs.objectKind")} value={q.kind ?? ""} />
        <Field name="name" label={t("obs.objectName")} value={q.name ?? ""} />
        <Field name="since" label={t("obs.since")} value={q.since ?? ""} options={[["", t("obs.all")], ["1h", t("obs.last1h")], ["6h", t("obs.last6h")], ["24h", t("obs.last24h")], ["7d", t("obs.last7d")]]} />
      </Filters>
      <ErrorBox error={error} />
      {data?.unavailable?.length ? <div className="error">{t("obs.unavailable", { clusters: data.unavailable.map((u) => u.cluster).join(", ") })}</div> : null}
      <table data-testid="events">
        <thead>
          <tr>
            <th>{t("obs.lastSeen")}</th>
            <th>{t("obs.type")}</th>
            <th>{t("obs.reason")}</th>
            <th>{t("obs.object")}</th>
            <th>{t("obs.namespace")}</th>
            <th>{t("top.cluster")}</th>
            <th>{t("obs.message")}</th>
            <th>{t("obs.count")}</th>
          </tr>
        </thead>
        <tbody>
          {(data?.query.records ?? []).map((e) => (
            <tr key={`${e.metadata?.annotations?.["kubesphere.io/cluster"]}/${e.metadata?.uid ?? e.metadata?.name}`} data-type={e.type}>
              <td>
                <Ago iso={e.lastTimestamp ?? e.eventTime} i18n={i18n} />
              </td>
              <td>
                <span className={`badge ${e.type === "Warning" ? "bad" : "ok"}`}>{e.type === "Warning" ? t("obs.warning") : t("obs.normal")}</span>
              </td>
              <td>{e.reason}</td>
              <td>
                {e.involvedObject?.kind}/{e.involvedObject?.name}
              </td>
              <td>{e.metadata?.namespace}</td>
              <td>{e.metadata?.annotations?.["kubesphere.io/cluster"]}</td>
              <td>{e.message}</td>
              <td>{e.count ?? 1}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.query.records.length === 0 && <p className="muted">{t("list.empty")}</p>}
      <Pager page={page} total={data?.query.total ?? 0} set={set} />
    </>
  );
}

// ---------------------------------------------------------------- logs

/** A workload's pods' logs, merged by the platform in time order; follow, previous, search, download. */
export function WorkloadLogs() {
  const { t } = useI18n();
  const { cluster = "host", ns = "", kind = "", name = "" } = useParams();
  const [q, set] = useQuery();
  const follow = q.follow !== "false";
  const previous = q.previous === "true";
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [search, setSearch] = useState("");
  const box = useRef<HTMLPreElement>(null);
  const path = clusterPath(cluster, `${TENANT2}/namespaces/${encodeURIComponent(ns)}/workloads/${encodeURIComponent(kind)}/${encodeURIComponent(name)}/logs`);
  useEffect(() => {
    const ctl = new AbortController();
    setText("");
    setError(null);
    (async () => {
      const query = { tailLines: q.tail ?? "200", follow: follow && !previous ? "true" : undefined, previous: previous ? "true" : undefined, container: q.container };
      const resp = await api.raw("GET", withQuery(path, query), { signal: ctl.signal });
      if (!resp.ok || !resp.body) throw new Error(`${resp.status} ${await resp.text()}`);
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        setText((cur) => (cur + value).slice(-500_000));
      }
    })().catch((e: Error) => {
      if (!ctl.signal.aborted) setError(e);
    });
    return () => ctl.abort();
  }, [path, follow, previous, q.tail, q.container]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [text, follow]);
  const lines = useMemo(() => text.split("\n").filter((l) => l && (!search || l.toLowerCase().includes(search.toLowerCase()))), [text, search]);
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${ns}-${kind}-${name}.log`;
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <>
      <PageHead title={t("obs.logsOf", { name })}>
        <button type="button" onClick={download} disabled={!text}>
          {t("obs.download")}
        </button>
      </PageHead>
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={follow && !previous} disabled={previous} onChange={(e) => set({ follow: e.target.checked ? undefined : "false" })} /> {t("detail.follow")}
        </label>
        <label>
          <input type="checkbox" checked={previous} onChange={(e) => set({ previous: e.target.checked ? "true" : undefined })} /> {t("obs.previous")}
        </label>
        <label>
          {t("obs.tail")}{" "}
          <select value={q.tail ?? "200"} onChange={(e) => set({ tail: e.target.value })}>
            {["100", "200", "1000", "5000"].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <input type="search" aria-label={t("obs.search")} placeholder={t("obs.search")} value={search} onChange={(e) => setSearch(e.target.value)} />
        <span className="muted" data-testid="matches">
          {t("obs.lines", { count: lines.length })}
        </span>
      </div>
      <ErrorBox error={error} />
      <pre className="logs" ref={box} tabIndex={0} aria-label={t("detail.logs")} data-testid="logs">
        {lines.map((l, i) => (
          <div key={i}>
            {highlight(l, search).map((p, j) => (p.hit ? <mark key={j}>{p.text}</mark> : <span key={j}>{p.text}</span>))}
          </div>
        ))}
      </pre>
    </>
  );
}

// ---------------------------------------------------------------- audit

interface AuditRecord {
  auditID?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  sourceIPs?: string[];
  annotations?: Record<string, string>;
}

/** The audit trail: the platform's (administrators) or one workspace's. */
export function AuditPage() {
  const { t, date } = useI18n();
  const [q, set] = useQuery();
  const page = Number(q.page ?? "1") || 1;
  const base = q.ws ? `${TENANT2}/workspaces/${encodeURIComponent(q.ws)}/auditing/events` : `${TENANT2}/auditing/events`;
  const path = withQuery(base, {
    user_filter: q.user,
    verb_filter: q.verb,
    objectref_resource_filter: q.resource,
    objectref_namespace_filter: q.ns,
    objectref_name_filter: q.name,
    response_code_filter: q.code,
    start_time: unixOf(q.since),
    from: (page - 1) * PAGE,
    size: PAGE,
    sort: "desc",
  });
  const { data, error } = useLoad<{ query: { total: number; records: AuditRecord[] } }>(path);
  return (
    <>
      <PageHead title={t("obs.audit")} />
      <Filters q={q} set={set}>
        <Field name="ws" label={t("top.workspace")} value={q.ws ?? ""} />
        <Field name="user" label={t("obs.user")} value={q.user ?? ""} />
        <Field name="verb" label={t("obs.verb")} value={q.verb ?? ""} />
        <Field name="resource" label={t("obs.resource")} value={q.resource ?? ""} />
        <Field name="ns" label={t("obs.namespace")} value={q.ns ?? ""} />
        <Field name="name" label={t("obs.objectName")} value={q.name ?? ""} />
        <Field name="code" label={t("obs.code")} value={q.code ?? ""} />
        <Field name="since" label={t("obs.since")} value={q.since ?? ""} options={[["", t("obs.all")], ["1h", t("obs.last1h")], ["6h", t("obs.last6h")], ["24h", t("obs.last24h")], ["7d", t("obs.last7d")]]} />
      </Filters>
      <ErrorBox error={error} />
      <table data-testid="audit">
        <thead>
          <tr>
            <th>{t("obs.time")}</th>
            <th>{t("obs.user")}</th>
            <th>{t("obs.verb")}</th>
            <th>{t("obs.resource")}</th>
            <th>{t("obs.namespace")}</th>
            <th>{t("obs.objectName")}</th>
            <th>{t("top.workspace")}</th>
            <th>{t("top.cluster")}</th>
            <th>{t("obs.code")}</th>
          </tr>
        </thead>
        <tbody>
          {(data?.query.records ?? []).map((r, i) => (
            <tr key={r.auditID ?? i} data-user={r.user?.username}>
              <td>{date(r.requestReceivedTimestamp ?? r.stageTimestamp)}</td>
              <td>{r.user?.username}</td>
              <td>{r.verb}</td>
              <td>{r.objectRef?.resource}</td>
              <td>{r.objectRef?.namespace}</td>
              <td>{r.objectRef?.name}</td>
              <td>{r.annotations?.["kubesphere.io/workspace"]}</td>
              <td>{r.annotations?.["kubesphere.io/cluster"]}</td>
              <td>
                <span className={`badge ${(r.responseStatus?.code ?? 0) < 400 ? "ok" : "bad"}`}>{r.responseStatus?.code}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.query.records.length === 0 && <p className="muted">{t("list.empty")}</p>}
      <Pager page={page} total={data?.query.total ?? 0} set={set} />
    </>
  );
}

// ---------------------------------------------------------------- monitoring

type Level = "cluster" | "node" | "workspace" | "project" | "workload" | "pod";
const LEVELS: Level[] = ["cluster", "node", "workspace", "project", "workload", "pod"];

/** Each level's API path (under the cluster) and metrics: [name, title, kind of value]. */
function levelOf(q: Record<string, string>): { path: string; metrics: [string, MessageKey, "cpu" | "mem" | "count"][] } | null {
  const e = encodeURIComponent;
  const level = (q.level ?? "cluster") as Level;
  const common = (p: string, path: string, extra: [string, MessageKey, "cpu" | "mem" | "count"][] = []) => ({
    path,
    metrics: [[`${p}_cpu_usage`, "obs.cpu", "cpu"], [`${p}_memory_usage_wo_cache`, "obs.memory", "mem"], ...extra] as [string, MessageKey, "cpu" | "mem" | "count"][],
  });
  switch (level) {
    case "cluster":
      return common("cluster", "/cluster", [["cluster_pod_running_count", "obs.podsRunning", "count"], ["cluster_pod_count", "obs.pods", "count"]]);
    case "node":
      return q.node ? common("node", `/nodes/${e(q.node)}`, [["node_pod_count", "obs.pods", "count"]]) : null;
    case "workspace":
      return q.ws ? common("workspace", `/workspaces/${e(q.ws)}`, [["workspace_pod_count", "obs.pods", "count"]]) : null;
    case "project":
      return q.ns ? common("namespace", `/namespaces/${e(q.ns)}`, [["namespace_pod_count", "obs.pods", "count"], ["namespace_pod_restarts", "obs.restarts", "count"]]) : null;
    case "workload":
      return q.ns && q.kind && q.name ? common("workload", `/namespaces/${e(q.ns)}/workloads/${e(q.kind)}/${e(q.name)}`, [["workload_pod_count", "obs.pods", "count"]]) : null;
    case "pod":
      return q.ns && q.pod ? common("pod", `/namespaces/${e(q.ns)}/pods/${e(q.pod)}`, [["pod_restarts", "obs.restarts", "count"]]) : null;
  }
  return null;
}

interface MetricResult {
  metric_name: string;
  error?: string;
  data?: { result?: { metric?: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] };
}

const RANGES: Record<string, [number, number]> = { "1h": [3600, 60], "6h": [21600, 300], "24h": [86400, 900] };

function formatter(kind: "cpu" | "mem" | "count", { number, t }: Pick<I18n, "number" | "t">): (v: number) => string {
  if (kind === "cpu") return (v) => t("unit.cores", { n: number(Math.round(v * 1000) / 1000) });
  if (kind === "mem") return (v) => (v >= 2 ** 30 ? `${number(Math.round((v / 2 ** 30) * 100) / 100)} GiB` : `${number(Math.round((v / 2 ** 20) * 10) / 10)} MiB`);
  return (v) => number(Math.round(v * 100) / 100);
}

/** Dashboards at every level: one chart per metric, a time range and auto-refresh. */
export function MonitoringPage() {
  const { t, number } = useI18n();
  const app = useApp();
  const [q, set] = useQuery();
  const cluster = q.cluster ?? "host";
  const range = RANGES[q.range ?? "1h"] ? (q.range ?? "1h") : "1h";
  const refresh = Number(q.refresh ?? "30");
  const [tick, setTick] = useState(0);
  const [results, setResults] = useState<MetricResult[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [span, setSpan] = useState<[number, number] | undefined>();
  const level = levelOf(q);
  useEffect(() => {
    if (!refresh) return;
    const id = setInterval(() => setTick((n) => n + 1), refresh * 1000);
    return () => clearInterval(id);
  }, [refresh]);
  useEffect(() => {
    if (!level) return;
    const ctl = new AbortController();
    const [width, step] = RANGES[range];
    const end = Math.floor(Date.now() / 1000);
    const path = withQuery(clusterPath(cluster, `${MONITORING}${level.path}`), {
      metrics_filter: level.metrics.map((m) => m[0]).join("|"),
      start: end - width,
      end,
      step: `${step}s`,
    });
    api
      .get<{ results: MetricResult[] }>(path, { signal: ctl.signal })
      .then((r) => {
        setSpan([end - width, end]);
        setResults(r.results ?? []);
        setError(null);
      })
      .catch((e: Error) => {
        if (!ctl.signal.aborted) setError(e);
      });
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [level?.path, cluster, range, tick]);
  const charts = useMemo(
    () =>
      (level?.metrics ?? []).map(([name, title, kind]) => {
        const r = results?.find((x) => x.metric_name === name);
        const found = r?.data?.result ?? [];
        const series: ChartSeries[] = found.map((s, i) => ({
          label:
            Object.entries(s.metric ?? {})
              .filter(([k]) => k !== "__name__")
              .map(([k, v]) => `${k}=${v}`)
              .join(",") || (found.length > 1 ? `${name} #${i + 1}` : name),
          points: (s.values ?? (s.value ? [s.value] : [])).map(([ts, v]) => [Number(ts), Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)),
        }));
        return { name, title, kind, series, error: r?.error };
      }),
    [level, results],
  );
  const scopeFields: Record<Level, [string, MessageKey][]> = {
    cluster: [],
    node: [["node", "obs.node"]],
    workspace: [["ws", "top.workspace"]],
    project: [["ns", "obs.namespace"]],
    workload: [["ns", "obs.namespace"], ["kind", "obs.objectKind"], ["name", "obs.objectName"]],
    pod: [["ns", "obs.namespace"], ["pod", "obs.pod"]],
  };
  const current = (q.level ?? "cluster") as Level;
  return (
    <>
      <PageHead title={t("obs.monitoring")}>
        <label>
          {t("obs.range")}{" "}
          <select aria-label={t("obs.range")} value={range} onChange={(e) => set({ range: e.target.value })}>
            <option value="1h">{t("obs.last1h")}</option>
            <option value="6h">{t("obs.last6h")}</option>
            <option value="24h">{t("obs.last24h")}</option>
          </select>
        </label>
        <label>
          {t("obs.refresh")}{" "}
          <select aria-label={t("obs.refresh")} value={String(refresh)} onChange={(e) => set({ refresh: e.target.value })}>
            <option value="0">{t("obs.off")}</option>
            <option value="10">10 s</option>
            <option value="30">30 s</option>
            <option value="60">60 s</option>
          </select>
        </label>
        <button type="button" onClick={() => setTick((n) => n + 1)}>
          {t("obs.refreshNow")}
        </button>
      </PageHead>
      <Filters q={q} set={set}>
        <Field name="cluster" label={t("top.cluster")} value={cluster} options={app.clusters.map((c): [string, string] => [c.name, c.name])} />
        <Field name="level" label={t("obs.level")} value={current} options={LEVELS.map((l): [string, string] => [l, t(`obs.level.${l}` as MessageKey)])} />
        {scopeFields[current]?.map(([k, label]) => <Field key={k} name={k} label={t(label)} value={q[k] ?? ""} />)}
      </Filters>
      {!level && <p className="muted">{t("obs.chooseScope")}</p>}
      <ErrorBox error={error} />
      <div className="charts">
        {charts.map((c) => (
          <section key={c.name} data-metric={c.name}>
            {c.error ? (
              <div className="error">{c.error}</div>
            ) : c.series.length === 0 ? (
              <p className="muted">
                {t(c.title)}: {t("obs.noData")}
              </p>
            ) : (
              <>
                <Chart title={t(c.title)} series={c.series} format={formatter(c.kind, { number, t })} span={span} />
                <ul className="latest" data-testid="latest">
                  {c.series.map((s) => (
                    <li key={s.label}>
                      {s.label}: <strong>{s.points.length ? formatter(c.kind, { number, t })(s.points[s.points.length - 1][1]) : "—"}</strong>
                    </li>
                  ))}
                </ul>
              </>
            )}
          </section>
        ))}
      </div>
    </>
  );
}

// ---------------------------------------------------------------- alerting

interface Alert {
  ruleGroup?: string;
  ruleName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  state?: string;
  activeAt?: string;
  value?: string;
  cluster?: string;
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  severity?: string;
  annotations?: { summary?: string; description?: string };
  disable?: boolean;
}

/** Where rule groups of a scope live, and which alerts list goes with it. */
function ruleScope(q: Record<string, string>): { list: string; alerts: string; kind: string } {
  const c = q.cluster ?? "host";
  if (q.scope === "project" && q.ns) {
    const ns = encodeURIComponent(q.ns);
    return { list: clusterPath(c, `${RULES}/namespaces/${ns}/rulegroups`), alerts: clusterPath(c, `${ALERTING}/namespaces/${ns}/alerts`), kind: "RuleGroup" };
  }
  if (q.scope === "cluster") return { list: clusterPath(c, `${RULES}/clusterrulegroups`), alerts: clusterPath(c, `${ALERTING}/alerts`), kind: "ClusterRuleGroup" };
  return { list: `${RULES}/globalrulegroups`, alerts: `${ALERTING}/globalalerts`, kind: "GlobalRuleGroup" };
}

/** Rule groups of one scope (list, create, edit) and the alerts they raised. */
export function AlertsPage() {
  const { t, date } = useI18n();
  const app = useApp();
  const [q, set] = useQuery();
  const scope = ruleScope(q);
  const alerts = useLoad<{ total: number; items: Alert[] }>(withQuery(scope.alerts, { state: q.state }));
  const groups = useLoad<{ items: Obj[] }>(scope.list);
  const [editing, setEditing] = useState<Obj | null>(null);
  useEffect(() => {
    const id = setInterval(alerts.reload, 15000);
    return () => clearInterval(id);
  }, [alerts.reload]);
  return (
    <>
      <PageHead title={t("obs.alerts")} />
      <Filters q={q} set={set}>
        <Field name="scope" label={t("obs.level")} value={q.scope ?? "platform"} options={[["platform", t("obs.level.platform")], ["cluster", t("obs.level.cluster")], ["project", t("obs.level.project")]]} />
        <Field name="cluster" label={t("top.cluster")} value={q.cluster ?? "host"} options={app.clusters.map((c): [string, string] => [c.name, c.name])} />
        <Field name="ns" label={t("obs.namespace")} value={q.ns ?? ""} />
        <Field name="state" label={t("obs.state")} value={q.state ?? ""} options={[["", t("obs.all")], ["firing", "firing"], ["pending", "pending"], ["inactive", "inactive"]]} />
      </Filters>
      <h2 className="section">{t("obs.activeAlerts")}</h2>
      <ErrorBox error={alerts.error} />
      <table data-testid="alerts">
        <thead>
          <tr>
            <th>{t("obs.alert")}</th>
            <th>{t("obs.state")}</th>
            <th>{t("obs.severity")}</th>
            <th>{t("obs.summary")}</th>
            <th>{t("obs.group")}</th>
            <th>{t("top.cluster")}</th>
            <th>{t("obs.activeAt")}</th>
            <th>{t("obs.value")}</th>
          </tr>
        </thead>
        <tbody>
          {(alerts.data?.items ?? []).map((a, i) => (
            <tr key={i} data-state={a.state}>
              <td>{a.ruleName}</td>
              <td>
                <span className={`badge ${a.state === "firing" ? "bad" : "warn"}`}>{a.state}</span>
              </td>
              <td>{a.labels?.severity}</td>
              <td>{a.annotations?.summary}</td>
              <td>{a.ruleGroup}</td>
              <td>{a.cluster}</td>
              <td>{date(a.activeAt)}</td>
              <td>{a.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {alerts.data && alerts.data.items.length === 0 && <p className="muted">{t("obs.noAlerts")}</p>}
      <div className="toolbar">
        <h2 className="section">{t("obs.ruleGroups")}</h2>
        <span className="spacer" />
        <button type="button" className="primary" onClick={() => setEditing({ metadata: { name: "" }, spec: { interval: "1m", rules: [{ alert: "", expr: "", for: "1m", severity: "warning" }] } })}>
          {t("action.create")}
        </button>
      </div>
      <ErrorBox error={groups.error} />
      <table data-testid="rulegroups">
        <thead>
          <tr>
            <th>{t("obs.group")}</th>
            <th>{t("obs.interval")}</th>
            <th>{t("obs.rules")}</th>
            <th>{t("col.actions")}</th>
          </tr>
        </thead>
        <tbody>
          {(groups.data?.items ?? []).map((g) => {
            const spec = (g.spec ?? {}) as { interval?: string; rules?: Rule[] };
            return (
              <tr key={g.metadata?.name}>
                <td>{g.metadata?.name}</td>
                <td>{spec.interval}</td>
                <td>{(spec.rules ?? []).map((r) => r.alert).join(", ")}</td>
                <td>
                  <button type="button" onClick={() => setEditing(g)}>
                    {t("action.edit")}
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {editing && (
        <RuleGroupForm
          group={editing}
          scope={scope}
          namespace={q.scope === "project" ? q.ns : undefined}
          onDone={() => {
            setEditing(null);
            groups.reload();
          }}
        />
      )}
    </>
  );
}

/** What the rule group form shows of a group. */
const ruleForm = (g: Obj) => {
  const spec = (g.spec ?? {}) as { interval?: string; rules?: unknown[] };
  return { interval: spec.interval, rules: spec.rules };
};

/** Creates or edits a rule group through the ordinary resource API. */
function RuleGroupForm({ group, scope, namespace, onDone }: { group: Obj; scope: { list: string; kind: string }; namespace?: string; onDone: () => void }) {
  const { t } = useI18n();
  const existing = !!group.metadata?.resourceVersion;
  const spec = (group.spec ?? {}) as { interval?: string; rules?: Rule[] };
  const [name, setName] = useState(group.metadata?.name ?? "");
  const [interval, setInterval_] = useState(spec.interval ?? "1m");
  const [rules, setRules] = useState<Rule[]>(spec.rules?.length ? spec.rules : [{ alert: "", expr: "", for: "1m", severity: "warning" }]);
  const [error, setError] = useState<unknown>(null);
  const edit = (i: number, patch: Partial<Rule>) => setRules((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = (base: Obj) => ({
      ...base,
      apiVersion: "alerting.kubesphere.io/v2beta1",
      kind: scope.kind,
      metadata: { ...base.metadata, name, ...(namespace ? { namespace } : {}) },
      spec: { ...(base.spec ?? {}), interval, rules },
    });
    try {
      if (existing) await api.update(`${scope.list}/${encodeURIComponent(name)}`, body, (latest: Obj) => sameForm(ruleForm(latest), ruleForm(group)));
      else await api.post(scope.list, body(group));
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-label={t("obs.ruleGroup")}>
      <h2 className="section">{existing ? t("action.edit") : t("action.create")}</h2>
      <label>
        {t("obs.group")} <input required value={name} disabled={existing} onChange={(e) => setName(e.target.value)} aria-label={t("obs.group")} />
      </label>{" "}
      <label>
        {t("obs.interval")} <input value={interval} onChange={(e) => setInterval_(e.target.value)} aria-label={t("obs.interval")} size={6} />
      </label>
      {rules.map((r, i) => (
        <fieldset key={i}>
          <legend>{t("obs.rule", { n: i + 1 })}</legend>
          <label>
            {t("obs.alert")} <input required value={r.alert} onChange={(e) => edit(i, { alert: e.target.value })} aria-label={t("obs.alert")} />
          </label>{" "}
          <label>
            {t("obs.expr")} <input required value={r.expr} onChange={(e) => edit(i, { expr: e.target.value })} aria-label={t("obs.expr")} size={50} />
          </label>{" "}
          <label>
            {t("obs.for")} <input value={r.for ?? ""} onChange={(e) => edit(i, { for: e.target.value || undefined })} size={5} aria-label={t("obs.for")} />
          </label>{" "}
          <label>
            {t("obs.severity")}{" "}
            <select value={r.severity ?? "warning"} onChange={(e) => edit(i, { severity: e.target.value })} aria-label={t("obs.severity")}>
              {["info", "warning", "error", "critical"].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>{" "}
          <label>
            {t("obs.summary")} <input value={r.annotations?.summary ?? ""} onChange={(e) => edit(i, { annotations: { ...r.annotations, summary: e.target.value } })} aria-label={t("obs.summary")} />
          </label>{" "}
          <button type="button" onClick={() => setRules((rs) => rs.filter((_, j) => j !== i))} disabled={rules.length === 1}>
            {t("action.remove")}
          </button>
        </fieldset>
      ))}
      <button type="button" onClick={() => setRules((rs) => [...rs, { alert: "", expr: "", for: "1m", severity: "warning" }])}>
        {t("obs.addRule")}
      </button>
      <ErrorBox error={error} />
      <div className="toolbar">
        <span className="spacer" />
        <button type="button" onClick={onDone}>
          {t("action.cancel")}
        </button>
        <button className="primary" type="submit">
          {existing ? t("action.save") : t("action.create")}
        </button>
      </div>
    </form>
  );
}

/** The observability section's own navigation. */
function ObsNav() {
  const { t } = useI18n();
  return (
    <nav className="toolbar tabs" aria-label={t("obs.title")}>
      <Link to="/observe/monitoring">{t("obs.monitoring")}</Link>
      <Link to="/observe/events">{t("obs.events")}</Link>
      <Link to="/observe/alerts">{t("obs.alerts")}</Link>
      <Link to="/observe/audit">{t("obs.audit")}</Link>
    </nav>
  );
}

export default function Observability() {
  return (
    <>
      <ObsNav />
      <Routes>
        <Route path="events" element={<EventsPage />} />
        <Route path="audit" element={<AuditPage />} />
        <Route path="alerts" element={<AlertsPage />} />
        <Route path="monitoring" element={<MonitoringPage />} />
        <Route path="logs/:cluster/:ns/:kind/:name" element={<WorkloadLogs />} />
        <Route path="*" element={<MonitoringPage />} />
      </Routes>
    </>
  );
}
