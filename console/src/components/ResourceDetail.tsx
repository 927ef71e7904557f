import { lazy, Suspense, useEffect, useMemo, useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router-dom";
import { load } from "js-yaml";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { useCan, useLiveList, useLoad } from "../api/hooks";
import { resourcePath, resources, type ResourceType } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { columnsFor, lastSeen } from "../pages/columns";
import { Essentials } from "./Essentials";
import { Table } from "./Table";
import { DeleteConfirm, ErrorBox, PageHead, Status, tabKeys } from "./ui";
import { PodLogs } from "./PodLogs";
import { HiddenValueError, present, unmaskSecret } from "../state/secretYaml";

const YamlEditor = lazy(() => import("./YamlEditor"));
const PodTerminal = lazy(() => import("./Terminal"));

/** The object as the editor shows it (without server-managed bookkeeping). */
export function editable(o: K8sObject): K8sObject {
  const copy = structuredClone(o);
  delete copy.metadata.managedFields;
  return copy;
}

function selectorOf(o: K8sObject): string | undefined {
  const m = o.spec?.selector?.matchLabels as Record<string, string> | undefined;
  return m ? Object.entries(m).map(([k, v]) => `${k}=${v}`).join(",") : undefined;
}

/**
 * The YAML tab: the object as an editor shows it, saved by a PUT. A Secret's values (and
 * kubectl's last-applied copy of them) show as a placeholder until the user reveals them; a save
 * while hidden puts the hidden values back (state/secretYaml.ts).
 */
function Yaml({ obj, path, secret, onSaved }: { obj: K8sObject; path: string; secret: boolean; onSaved: () => void }) {
  const { t } = useI18n();
  const [view, setView] = useState(() => ({ revealed: !secret, ...present(editable(obj), secret, !secret) }));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  // The object changed on the server: its YAML as it is now, hidden or shown as it was.
  useEffect(() => setView((v) => ({ revealed: v.revealed, ...present(editable(obj), secret, v.revealed) })), [obj, secret]);
  const setText = (text: string) => setView((v) => ({ ...v, text }));
  /** The text parsed, with hidden values put back; null (and the problem shown) when it cannot be. */
  const parsed = (): { body: unknown } | null => {
    try {
      const body = load(view.text);
      return { body: view.revealed ? body : unmaskSecret(body, view.hidden) };
    } catch (e) {
      setError(e instanceof HiddenValueError ? new Error(t("yaml.hiddenValue", { field: e.field })) : new Error(t("yaml.invalid", { message: (e as Error).message })));
      return null;
    }
  };
  const toggle = () => {
    const p = parsed();
    if (!p) return;
    setError(null);
    setView({ revealed: !view.revealed, ...present(p.body, true, !view.revealed) });
  };
  const save = async () => {
    setSaved(false);
    const p = parsed();
    if (!p) return;
    try {
      await api.put(path, p.body);
      setError(null);
      setSaved(true);
      onSaved();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      {secret && (
        <div className="toolbar">
          <button type="button" className="reveal" aria-pressed={view.revealed} onClick={toggle}>
            {view.revealed ? t("res.hideValues") : t("res.revealValues")}
          </button>
        </div>
      )}
      <Suspense fallback={<p className="muted">{t("app.loading")}</p>}>
        <YamlEditor value={view.text} onChange={setText} label={t("detail.yaml")} />
      </Suspense>
      <ErrorBox error={error} />
      {saved && <p className="notice" role="status">{t("yaml.saved")}</p>}
      <div className="toolbar">
        <button className="primary" type="button" onClick={save}>
          {t("action.save")}
        </button>
      </div>
    </>
  );
}

function Scale({ obj, path }: { obj: K8sObject; path: string }) {
  const { t } = useI18n();
  const [n, setN] = useState<number>(obj.spec?.replicas ?? 1);
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="toolbar">
      <label>
        {t("form.replicas")}{" "}
        <input type="number" min={0} name="replicas" value={n} onChange={(e) => setN(Number(e.target.value))} style={{ width: 80 }} />
      </label>
      <button type="button" onClick={() => api.patch(path, { spec: { replicas: n } }).then(() => setError(null), setError)}>
        {t("action.scale")}
      </button>
      <ErrorBox error={error} />
    </div>
  );
}

/** An object's page: overview (with its pods, containers, logs), YAML, events; scale, delete. */
export function ResourceDetail({ cluster, rt, namespace, name, base, podLink, extra }: {
  cluster: string;
  rt: ResourceType;
  namespace?: string;
  name: string;
  base: string;
  podLink: (o: K8sObject) => string;
  /** More of the overview, given the live object (a workload's revisions and autoscaler). */
  extra?: (obj: K8sObject) => ReactNode;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const navigate = useNavigate();
  const path = resourcePath(cluster, rt, namespace, name);
  // The object itself, live: a watch on the one name.
  const live = useLiveList(resourcePath(cluster, rt, namespace), { fieldSelector: `metadata.name=${name}` });
  const once = useLoad<K8sObject>(live.loaded ? null : path);
  const obj = live.items[0] ?? once.data;
  const [tab, setTab] = useState<"overview" | "yaml" | "events" | "logs" | "terminal">("overview");
  const [deleting, setDeleting] = useState(false);
  // The terminal is offered to those who may open one (exec is `create` on pods/exec).
  const canExec = useCan(cluster, { verb: "create", resource: "pods", subresource: "exec", namespace });
  const selector = obj && ["deployments", "statefulsets", "daemonsets", "jobs"].includes(rt.plural) ? selectorOf(obj) : undefined;
  const pods = useLiveList(selector ? resourcePath(cluster, resources.pods, namespace) : null, { labelSelector: selector });
  const events = useLiveList(tab === "events" ? resourcePath(cluster, resources.events, namespace) : null, { fieldSelector: `involvedObject.name=${name}` });
  const podColumns = useMemo(() => columnsFor("pods", i18n, podLink, false), [i18n, podLink]);
  const eventColumns = useMemo(() => columnsFor("events", i18n, () => null, false), [i18n]);
  // The newest first.
  const eventRows = useMemo(() => events.items.slice().sort((a, b) => lastSeen(b).localeCompare(lastSeen(a))), [events.items]);
  if (!obj) return <ErrorBox error={once.error ?? live.error} />;
  const tabs: ("overview" | "yaml" | "events" | "logs" | "terminal")[] = rt.plural === "pods" ? ["overview", "logs", ...(canExec ? ["terminal" as const] : []), "yaml", "events"] : ["overview", "yaml", "events"];
  const tabLabel = { overview: t("detail.overview"), yaml: t("detail.yaml"), events: t("detail.events"), logs: t("detail.logs"), terminal: t("term.tab") };
  return (
    <>
      <PageHead title={`${rt.kind}: ${name}`}>
        <Link className="button" to={base}>
          {t("action.back")}
        </Link>
        {selector && namespace && (
          <Link className="button" to={`/observe/logs/${cluster}/${namespace}/${rt.plural}/${name}`}>
            {t("obs.workloadLogs")}
          </Link>
        )}
        <button type="button" className="danger" onClick={() => setDeleting(true)}>
          {t("action.delete")}
        </button>
      </PageHead>
      <div className="tabs" role="tablist" onKeyDown={tabKeys}>
        {tabs.map((k) => (
          <button key={k} type="button" role="tab" aria-selected={tab === k} tabIndex={tab === k ? 0 : -1} onClick={() => setTab(k)}>
            {tabLabel[k]}
          </button>
        ))}
      </div>
      {tab === "overview" && (
        <>
          <dl className="kv card">
            <dt>{t("col.namespace")}</dt>
            <dd>{obj.metadata.namespace ?? "—"}</dd>
            <dt>{t("col.created")}</dt>
            <dd>{i18n.date(obj.metadata.creationTimestamp)}</dd>
            <dt>{t("detail.labels")}</dt>
            <dd>{Object.entries(obj.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") || "—"}</dd>
            {obj.status?.phase && (
              <>
                <dt>{t("col.status")}</dt>
                <dd>
                  <Status value={obj.status.phase} />
                </dd>
              </>
            )}
          </dl>
          <Essentials cluster={cluster} kind={rt.kind} obj={obj} podLink={podLink} />
          {["deployments", "statefulsets"].includes(rt.plural) && <Scale obj={obj} path={path} />}
          {extra?.(obj)}
          {selector && (
            <>
              <h2 className="section">{t("detail.pods")}</h2>
              <Table<K8sObject> label={t("detail.pods")} rows={pods.items} rowKey={(p) => p.metadata.uid ?? p.metadata.name} columns={podColumns} />
            </>
          )}
          {rt.plural === "pods" && (
            <>
              <h2 className="section">{t("detail.containers")}</h2>
              <Table<{ name: string; image: string; state: string }>
                label={t("detail.containers")}
                rows={((obj.spec?.containers ?? []) as { name: string; image: string }[]).map((c) => {
                  const st = ((obj.status?.containerStatuses ?? []) as { name: string; state?: Record<string, unknown> }[]).find((s) => s.name === c.name);
                  return { name: c.name, image: c.image, state: Object.keys(st?.state ?? {})[0] ?? "waiting" };
                })}
                rowKey={(c) => c.name}
                columns={[
                  { title: "col.name", render: (c) => c.name },
                  { title: "col.images", render: (c) => c.image },
                  { title: "col.status", render: (c) => c.state },
                ]}
              />
            </>
          )}
        </>
      )}
      {tab === "yaml" && <Yaml obj={obj} path={path} secret={rt.plural === "secrets"} onSaved={() => undefined} />}
      {tab === "events" && <Table<K8sObject> label={t("detail.events")} rows={eventRows} rowKey={(e) => e.metadata.uid ?? e.metadata.name} columns={eventColumns} />}
      {tab === "logs" && <PodLogs cluster={cluster} pod={obj} />}
      {tab === "terminal" && (
        <Suspense fallback={<p className="muted">{t("app.loading")}</p>}>
          <PodTerminal cluster={cluster} pod={obj} />
        </Suspense>
      )}
      <DeleteConfirm
        open={deleting}
        kind={rt.kind}
        name={name}
        path={path}
        onCancel={() => setDeleting(false)}
        onDeleted={() => {
          setDeleting(false);
          navigate(base);
        }}
      />
    </>
  );
}
