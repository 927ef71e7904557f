// A Secret's page without its values. What it shows comes from the platform's metadata-only
// answer (`…/v1alpha3/namespaces/{ns}/secrets/{name}`: type, keys and their sizes), kept current
// by a metadata watch; the Secret itself, values included, is fetched only when the user reveals
// them (and offered only to those who may read it). The YAML tab shows placeholders until then,
// and a save made without revealing sends a merge patch of what changed (state/secretYaml.ts).

import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { load } from "js-yaml";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { useCan, useLiveList, useLoad, useMetadataChanges } from "../api/hooks";
import { GENERIC } from "../api/paged";
import { clusterPath, resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { columnsFor, lastSeen } from "../pages/columns";
import { fromBase64 } from "../state/resourceForms";
import { HiddenValueError, hiddenPatch, MASK, maskedFromMetadata, present, revealEdited, toYaml, unmaskSecret, type Hidden } from "../state/secretYaml";
import { EditAction } from "./MoreEssentials";
import { editable } from "./ResourceDetail";
import { Table } from "./Table";
import { DeleteConfirm, ErrorBox, PageHead, tabKeys } from "./ui";

const YamlEditor = lazy(() => import("./YamlEditor"));

type Meta = K8sObject & { keys?: string[]; sizes?: Record<string, number> };

/** The keys with their sizes, and each value once revealed. */
function SecretData({ meta, full, canRead, reveal, hide }: { meta: Meta; full: K8sObject | null; canRead: boolean; reveal: () => void; hide: () => void }) {
  const { t, number } = useI18n();
  const keys = meta.keys ?? [];
  const values = (full?.data ?? {}) as Record<string, string>;
  return (
    <section aria-label={t("res.data")}>
      <h2 className="section">{t("res.data")}</h2>
      {canRead && keys.length > 0 && (
        <div className="toolbar">
          <button type="button" className="reveal" aria-pressed={!!full} onClick={full ? hide : reveal}>
            {full ? t("res.hideValues") : t("res.revealValues")}
          </button>
        </div>
      )}
      {keys.length === 0 && <p className="muted">{t("list.empty")}</p>}
      <dl className="data" data-testid="secret-data">
        {keys.map((k) => {
          const v = full ? values[k] : undefined;
          const text = v === undefined ? null : fromBase64(v);
          return (
            <div key={k}>
              <dt>
                <span translate="no">{k}</span> <span className="muted">{t("secret.size", { size: number(meta.sizes?.[k] ?? 0) })}</span>
              </dt>
              <dd>{v === undefined ? <span className="muted" data-hidden="true">{MASK}</span> : text === null ? <span className="muted">{t("detail.binary", { size: number(meta.sizes?.[k] ?? 0) })}</span> : <pre className="code">{text}</pre>}</dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}

interface View {
  revealed: boolean;
  text: string;
  /** Values hidden again after a reveal (a save puts them back); null while none was fetched. */
  hidden: Hidden | null;
}

/** The YAML tab: placeholders until revealed; saved by a merge patch, or a PUT once revealed. */
function SecretYaml({ meta, path, reveal, onSaved, canRead, canSave }: { meta: Meta; path: string; reveal: () => Promise<K8sObject | null>; onSaved: () => void; canRead: boolean; canSave: boolean }) {
  const { t } = useI18n();
  const base = useMemo(() => maskedFromMetadata(meta), [meta]);
  const [view, setView] = useState<View>(() => ({ revealed: false, text: toYaml(base), hidden: null }));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  // The Secret changed on the server: its YAML as it is now, hidden (a revealed view is kept).
  useEffect(() => setView((v) => (v.revealed ? v : { revealed: false, text: toYaml(base), hidden: null })), [base]);
  const parsed = (): { body: unknown } | null => {
    try {
      return { body: load(view.text) };
    } catch (e) {
      setError(new Error(t("yaml.invalid", { message: (e as Error).message })));
      return null;
    }
  };
  const shown = (e: unknown) => setError(e instanceof HiddenValueError ? new Error(t("yaml.hiddenValue", { field: e.field })) : e);
  const toggle = async () => {
    const p = parsed();
    if (!p) return;
    setError(null);
    try {
      if (view.revealed) {
        setView({ revealed: false, ...present(p.body, true, false) });
        return;
      }
      const full = await reveal();
      if (!full) return;
      const body = view.hidden ? unmaskSecret(p.body, view.hidden) : view.text === toYaml(base) ? editable(full) : revealEdited(p.body, full);
      setView({ revealed: true, text: toYaml(body), hidden: null });
    } catch (e) {
      shown(e);
    }
  };
  const save = async () => {
    setSaved(false);
    const p = parsed();
    if (!p) return;
    try {
      if (view.revealed || view.hidden) await api.put(path, view.hidden ? unmaskSecret(p.body, view.hidden) : p.body);
      else await api.patch(path, hiddenPatch(base, p.body));
      setError(null);
      setSaved(true);
      onSaved();
      // Shown as the server has it now (its new revision, for the next save).
      if (view.revealed) {
        const full = await reveal();
        if (full) setView({ revealed: true, text: toYaml(editable(full)), hidden: null });
      }
    } catch (e) {
      shown(e);
    }
  };
  return (
    <>
      {canRead && (
        <div className="toolbar">
          <button type="button" className="reveal" aria-pressed={view.revealed} onClick={() => void toggle()}>
            {view.revealed ? t("res.hideValues") : t("res.revealValues")}
          </button>
        </div>
      )}
      <Suspense fallback={<p className="muted">{t("app.loading")}</p>}>
        <YamlEditor value={view.text} onChange={(text) => setView((v) => ({ ...v, text }))} label={t("detail.yaml")} />
      </Suspense>
      {canSave && !view.revealed && !view.hidden && <p className="muted">{t("secret.hiddenSave")}</p>}
      <ErrorBox error={error} />
      {saved && <p className="notice" role="status">{t("yaml.saved")}</p>}
      {canSave && (
        <div className="toolbar">
          <button className="primary" type="button" onClick={() => void save()}>
            {t("action.save")}
          </button>
        </div>
      )}
    </>
  );
}

/** A Secret's page in a project: overview (keys and sizes, values on request), YAML, events; delete. */
export function SecretDetail({ cluster, namespace, name, base }: { cluster: string; namespace: string; name: string; base: string }) {
  const i18n = useI18n();
  const { t } = i18n;
  const navigate = useNavigate();
  const rt = resources.secrets;
  const path = resourcePath(cluster, rt, namespace, name);
  const meta = useLoad<Meta>(clusterPath(cluster, `${GENERIC}/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`));
  // The Secret with its values: fetched only when the user reveals them.
  const [full, setFull] = useState<K8sObject | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Only what the user may do is offered.
  const canRead = useCan(cluster, { verb: "get", resource: "secrets", namespace }) === true;
  const canUpdate = useCan(cluster, { verb: "update", resource: "secrets", namespace }) === true;
  const canDelete = useCan(cluster, { verb: "delete", resource: "secrets", namespace }) === true;
  const [tab, setTab] = useState<"overview" | "yaml" | "events">("overview");
  const [deleting, setDeleting] = useState(false);
  const reveal = useCallback(async () => {
    try {
      const obj = await api.get<K8sObject>(path);
      setFull(obj);
      setError(null);
      return obj;
    } catch (e) {
      setError(e);
      return null;
    }
  }, [path]);
  const { reload } = meta;
  const revealed = full !== null;
  // A change on the server: the metadata again, and the values if the user is looking at them.
  useMetadataChanges(resourcePath(cluster, rt, namespace), `metadata.name=${name}`, () => {
    reload();
    if (revealed) void reveal();
  });
  const events = useLiveList(tab === "events" ? resourcePath(cluster, resources.events, namespace) : null, { fieldSelector: `involvedObject.name=${name}` });
  const eventColumns = useMemo(() => columnsFor("events", i18n, () => null, false), [i18n]);
  const eventRows = useMemo(() => events.items.slice().sort((a, b) => lastSeen(b).localeCompare(lastSeen(a))), [events.items]);
  if (!meta.data) return <ErrorBox error={meta.error} />;
  const obj = meta.data;
  const tabLabel = { overview: t("detail.overview"), yaml: t("detail.yaml"), events: t("detail.events") };
  return (
    <>
      <PageHead title={`${rt.kind}: ${name}`}>
        <Link className="button" to={base}>
          {t("action.back")}
        </Link>
        {canDelete && (
          <button type="button" className="danger" onClick={() => setDeleting(true)}>
            {t("action.delete")}
          </button>
        )}
      </PageHead>
      <div className="tabs" role="tablist" onKeyDown={tabKeys}>
        {(["overview", "yaml", "events"] as const).map((k) => (
          <button key={k} type="button" role="tab" aria-selected={tab === k} tabIndex={tab === k ? 0 : -1} onClick={() => setTab(k)}>
            {tabLabel[k]}
          </button>
        ))}
      </div>
      <ErrorBox error={error} />
      {tab === "overview" && (
        <>
          <dl className="kv card">
            <dt>{t("col.namespace")}</dt>
            <dd>{obj.metadata.namespace ?? "—"}</dd>
            <dt>{t("col.created")}</dt>
            <dd>{i18n.date(obj.metadata.creationTimestamp)}</dd>
            <dt>{t("detail.labels")}</dt>
            <dd>{Object.entries(obj.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") || "—"}</dd>
            <dt>{t("col.type")}</dt>
            <dd translate="no">{String(obj.type ?? "Opaque")}</dd>
          </dl>
          <SecretData meta={obj} full={full} canRead={canRead} reveal={() => void reveal()} hide={() => setFull(null)} />
          <EditAction cluster={cluster} kind="Secret" obj={obj} />
        </>
      )}
      {tab === "yaml" && <SecretYaml meta={obj} path={path} reveal={reveal} onSaved={reload} canRead={canRead} canSave={canUpdate} />}
      {tab === "events" && <Table<K8sObject> label={t("detail.events")} rows={eventRows} rowKey={(e) => e.metadata.uid ?? e.metadata.name} columns={eventColumns} />}
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
