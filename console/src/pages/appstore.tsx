// The App Store: browse and search, an app's page, deploying, the reviewers' queue, app
// management, categories and repositories (`/store/…`); the workspace's app templates and a
// project's releases are exported for those levels' routes. One chunk, loaded on first visit.

import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, Navigate, Route, Routes, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { useI18n } from "../i18n";
import { api, withQuery } from "../api/client";
import { useCan, useLoad } from "../api/hooks";
import { clusterPath, TENANT } from "../api/paths";
import type { K8sObject } from "../api/watch";
import {
  APP_LABEL,
  APP_VERSION_ANNOTATION,
  APPSTORE,
  appsBase,
  CATEGORY_LABEL,
  decodeFiles,
  decodeText,
  displayName,
  encodeText,
  fileBase64,
  newestFirst,
  REPO_LABEL,
  releasesPath,
  releaseSettling,
  reviewActions,
  stateOf,
  UNCATEGORIZED,
  valuesField,
  versionPath,
  type Page,
} from "../api/appstore";
import { Table } from "../components/Table";
import { Confirm, DeleteConfirm, Dialog, ErrorBox, FormFooter, PageHead, tabKeys, useTitle } from "../components/ui";
import { AppIcon, StateBadge, useServerCheck, ValuesEditor } from "../components/appstore";
import { useApp } from "../state/context";

const Markdown = lazy(() => import("../components/Markdown"));

const WS_LABEL = "kubesphere.io/workspace";
const PAGE_SIZE = 24;

/** Reloads `reload` every `ms` while `active` (a release between states, a sync running). */
function usePoll(active: boolean, reload: () => void, ms = 1500) {
  useEffect(() => {
    if (!active) return;
    const t = setInterval(reload, ms);
    return () => clearInterval(t);
  }, [active, reload, ms]);
}

/** A value that follows `value` once it has stopped changing for `ms`. */
function useDebounced<T>(value: T, ms = 300): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

function Loading() {
  const { t } = useI18n();
  return <p className="muted">{t("app.loading")}</p>;
}

// ---------------------------------------------------------------------------------------------
// Browsing

function Store() {
  const { t, number } = useI18n();
  const [params, setParams] = useSearchParams();
  const category = params.get("category") ?? "";
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const [text, setText] = useState(params.get("q") ?? "");
  const q = useDebounced(text.trim().toLowerCase());
  const set = useCallback(
    (k: string, v: string) =>
      setParams(
        (p) => {
          const n = new URLSearchParams(p);
          if (v) n.set(k, v);
          else n.delete(k);
          if (k !== "page") n.delete("page");
          return n;
        },
        { replace: true },
      ),
    [setParams],
  );
  useEffect(() => {
    if (q !== (params.get("q") ?? "")) set("q", q);
  }, [q, params, set]);
  const categories = useLoad<Page>(`${APPSTORE}/categories`);
  const path = withQuery(`${APPSTORE}/apps`, {
    status: "active",
    name: q,
    labelSelector: category ? `${CATEGORY_LABEL}=${category}` : undefined,
    sortBy: "name",
    ascending: true,
    limit: PAGE_SIZE,
    page,
  });
  const apps = useLoad<Page>(path);
  const total = apps.data?.totalItems ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const cats = [{ name: "", label: t("store.allCategories") }, ...(categories.data?.items ?? []).map((c) => ({ name: c.metadata.name, label: displayName(c) }))];
  if (!cats.some((c) => c.name === UNCATEGORIZED)) cats.push({ name: UNCATEGORIZED, label: t("store.uncategorized") });
  return (
    <>
      <PageHead title={t("nav.store")}>
        <input type="search" aria-label={t("store.search")} placeholder={t("store.search")} value={text} onChange={(e) => setText(e.target.value)} />
      </PageHead>
      <div className="store">
        <nav className="categories" aria-label={t("store.categories")}>
          {cats.map((c) => (
            <button key={c.name || "all"} type="button" aria-pressed={c.name === category} onClick={() => set("category", c.name)}>
              {c.name === UNCATEGORIZED ? t("store.uncategorized") : c.label}
            </button>
          ))}
        </nav>
        <section aria-label={t("store.results")}>
          <ErrorBox error={apps.error} />
          <p className="muted" aria-live="polite">
            {apps.data ? t("list.total", { count: number(total) }) : t("app.loading")}
          </p>
          <ul className="app-grid">
            {(apps.data?.items ?? []).map((a) => (
              <li key={a.metadata.name}>
                <Link className="app-card card" to={`/store/apps/${a.metadata.name}`}>
                  <AppIcon src={a.spec?.icon} name={displayName(a)} />
                  <span>
                    <strong>{displayName(a)}</strong>
                    <span className="muted clamp">{a.spec?.abstraction || "—"}</span>
                  </span>
                </Link>
              </li>
            ))}
          </ul>
          {apps.data && total === 0 && <p className="muted">{t("store.noApps")}</p>}
          {pages > 1 && (
            <div className="toolbar">
              <button type="button" disabled={page <= 1} onClick={() => set("page", String(page - 1))}>
                {t("list.prev")}
              </button>
              <span>{t("store.pageOf", { page, pages })}</span>
              <button type="button" disabled={page >= pages} onClick={() => set("page", String(page + 1))}>
                {t("list.next")}
              </button>
            </div>
          )}
        </section>
      </div>
    </>
  );
}

/** The versions of `app` that may be deployed from the store (published), newest first. */
function useVersions(app: string, ws?: string) {
  const v = useLoad<Page>(`${appsBase(ws)}/apps/${encodeURIComponent(app)}/versions`);
  const all = useMemo(() => newestFirst(v.data?.items ?? []), [v.data]);
  return { ...v, all, published: all.filter((x) => stateOf(x) === "active") };
}

function useFiles(app: string, version: string | undefined, ws?: string) {
  const f = useLoad<Record<string, string>>(version ? versionPath(app, version, "files", ws) : null);
  const files = useMemo(() => decodeFiles(f.data), [f.data]);
  return { ...f, files };
}

function AppPage() {
  const { app = "" } = useParams();
  const { t, date } = useI18n();
  const a = useLoad<K8sObject>(`${APPSTORE}/apps/${encodeURIComponent(app)}`);
  const versions = useVersions(app);
  const [chosen, setChosen] = useState("");
  const version = versions.published.find((v) => v.metadata.name === chosen) ?? versions.published[0];
  const { files } = useFiles(app, version?.metadata.name);
  const [tab, setTab] = useState<"readme" | "values" | "versions">("readme");
  useTitle(a.data ? displayName(a.data) : undefined);
  if (a.error) return <ErrorBox error={a.error} />;
  if (!a.data) return <Loading />;
  const name = displayName(a.data);
  const maintainers: { name?: string; email?: string; url?: string }[] = version?.spec?.maintainer ?? [];
  return (
    <>
      <div className="app-head">
        <AppIcon src={a.data.spec?.icon} name={name} size={64} />
        <div>
          <h1>{name}</h1>
          <p className="muted">{a.data.spec?.abstraction}</p>
        </div>
        <span className="spacer" />
        {version && (
          <Link className="button primary" to={`/store/apps/${app}/deploy?version=${encodeURIComponent(version.metadata.name)}`}>
            {t("store.deploy")}
          </Link>
        )}
      </div>
      <div className="app-body">
        <section>
          <div className="tabs" role="tablist" onKeyDown={tabKeys}>
            {(["readme", "values", "versions"] as const).map((k) => (
              <button key={k} type="button" role="tab" aria-selected={tab === k} tabIndex={tab === k ? 0 : -1} onClick={() => setTab(k)}>
                {k === "values" && a.data?.spec?.appType === "yaml" ? t("store.tab.manifests") : t(`store.tab.${k}` as const)}
              </button>
            ))}
          </div>
          {tab === "readme" &&
            (files["README.md"] ? (
              <Suspense fallback={<Loading />}>
                <Markdown text={files["README.md"]} />
              </Suspense>
            ) : (
              <p className="muted">{t("store.noReadme")}</p>
            ))}
          {tab === "values" && <pre className="code">{files["values.yaml"] ?? files["manifests.yaml"] ?? ""}</pre>}
          {tab === "versions" && (
            <Table<K8sObject>
              label={t("store.versions")}
              rows={versions.published}
              rowKey={(v) => v.metadata.name}
              columns={[
                { title: "col.version", render: (v) => v.spec?.versionName },
                { title: "store.appVersion", render: (v) => v.metadata.annotations?.[APP_VERSION_ANNOTATION] ?? "" },
                { title: "col.created", render: (v) => date(v.spec?.created) },
              ]}
            />
          )}
        </section>
        <aside className="card" aria-label={t("store.about")}>
          <label>
            {t("col.version")}
            <select value={version?.metadata.name ?? ""} onChange={(e) => setChosen(e.target.value)}>
              {versions.published.map((v) => (
                <option key={v.metadata.name} value={v.metadata.name}>
                  {v.spec?.versionName}
                </option>
              ))}
            </select>
          </label>
          <dl className="kv">
            <dt>{t("store.appVersion")}</dt>
            <dd>{version?.metadata.annotations?.[APP_VERSION_ANNOTATION] || "—"}</dd>
            <dt>{t("store.category")}</dt>
            <dd>{a.data.metadata.labels?.[CATEGORY_LABEL] === UNCATEGORIZED ? t("store.uncategorized") : (a.data.metadata.labels?.[CATEGORY_LABEL] ?? "—")}</dd>
            <dt>{t("store.repository")}</dt>
            <dd>{a.data.metadata.labels?.[REPO_LABEL] ?? t("store.uploaded")}</dd>
            <dt>{t("store.home")}</dt>
            <dd>
              {a.data.spec?.appHome ? (
                <a href={a.data.spec.appHome} target="_blank" rel="noopener noreferrer">
                  {a.data.spec.appHome}
                </a>
              ) : (
                "—"
              )}
            </dd>
            <dt>{t("store.maintainers")}</dt>
            <dd data-testid="maintainers">
              {maintainers.length
                ? maintainers.map((m, i) => (
                    <div key={i}>
                      {m.url ? (
                        <a href={m.url} target="_blank" rel="noopener noreferrer">
                          {m.name}
                        </a>
                      ) : (
                        m.name
                      )}
                      {m.email ? ` <${m.email}>` : ""}
                    </div>
                  ))
                : "—"}
            </dd>
          </dl>
        </aside>
      </div>
    </>
  );
}

/** A labelled choice among names. */
function Choice({ label, name, value, options, onChange }: { label: string; name: string; value: string; options: string[]; onChange: (v: string) => void }) {
  return (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </label>
  );
}

/** A DNS label from `s` (a release name must be one, at most 53 characters). */
function releaseName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 53);
}

function Deploy() {
  const { app = "" } = useParams();
  const [params] = useSearchParams();
  const { t } = useI18n();
  const navigate = useNavigate();
  const appState = useApp();
  const versions = useVersions(app);
  const appObj = useLoad<K8sObject>(`${APPSTORE}/apps/${encodeURIComponent(app)}`);
  const plain = appObj.data?.spec?.appType === "yaml";
  const [versionName, setVersionName] = useState(params.get("version") ?? "");
  const version = versions.published.find((v) => v.metadata.name === versionName) ?? versions.published[0];
  const { files } = useFiles(app, version?.metadata.name);
  const defaults = files["values.yaml"];
  const [values, setValues] = useState<string | null>(null);
  // Until people edit them, the values follow the chosen version's defaults.
  const text = values ?? defaults ?? "";
  const [name, setName] = useState(releaseName(app));
  const workspaces = useLoad<Page>(`${TENANT}/workspaces`);
  const [ws, setWs] = useState("");
  const wsName = ws || workspaces.data?.items[0]?.metadata.name || "";
  const placed = useLoad<Page>(wsName ? `${TENANT}/workspaces/${wsName}/clusters` : null);
  const placedNames = new Set((placed.data?.items ?? []).map((c) => c.metadata.name));
  const clusters = appState.clusters.map((c) => c.name).filter((n) => placedNames.has(n));
  const [cluster, setCluster] = useState("");
  const clusterName = clusters.includes(cluster) ? cluster : (clusters[0] ?? "");
  const projects = useLoad<Page>(wsName && clusterName ? clusterPath(clusterName, `${TENANT}/workspaces/${wsName}/namespaces`) : null);
  const [ns, setNs] = useState("");
  const projectNames = (projects.data?.items ?? []).map((p) => p.metadata.name);
  const nsName = projectNames.includes(ns) ? ns : (projectNames[0] ?? "");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const body = () => ({
    metadata: { name },
    spec: { appID: app, appVersionID: version?.metadata.name, values: valuesField(text) },
  });
  const ready = !!(version && clusterName && nsName && name);
  const check = useServerCheck(ready ? () => api.post(withQuery(releasesPath(clusterName, nsName), { dryRun: "All" }), body()) : null, [ready, clusterName, nsName, name, version?.metadata.name, text]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.post(releasesPath(clusterName, nsName), body());
      navigate(`/clusters/${clusterName}/projects/${nsName}/apps/${name}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <>
      <PageHead title={t("store.deployTitle", { app })} />
      <form className="form wide" onSubmit={submit}>
        <div className="row2">
          <label>
            {t("store.releaseName")}
            <input name="name" required maxLength={53} pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            {t("col.version")}
            <select name="version" value={version?.metadata.name ?? ""} onChange={(e) => (setVersionName(e.target.value), setValues(null))}>
              {versions.published.map((v) => (
                <option key={v.metadata.name} value={v.metadata.name}>
                  {v.spec?.versionName}
                </option>
              ))}
            </select>
          </label>
          <Choice label={t("top.workspace")} name="workspace" value={wsName} options={(workspaces.data?.items ?? []).map((w) => w.metadata.name)} onChange={setWs} />
          <Choice label={t("top.cluster")} name="cluster" value={clusterName} options={clusters} onChange={setCluster} />
          <Choice label={t("nav.project")} name="project" value={nsName} options={projectNames} onChange={setNs} />
        </div>
        {projects.data && projectNames.length === 0 && <p className="muted">{t("store.noProjects")}</p>}
        {plain ? (
          <>
            <p className="muted">{t("store.yamlNoValues")}</p>
            <div className="check" role="status" data-check={check.state}>
              {check.state === "error" && <div className="error">{check.message}</div>}
            </div>
          </>
        ) : (
          <ValuesEditor value={text} onChange={setValues} schema={files["values.schema.json"]} defaults={defaults} check={check} />
        )}
        <FormFooter error={error} onCancel={() => navigate(-1)} submit={t("store.deploy")} disabled={!ready || busy || check.state === "error"} />
      </form>
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// Reviewing and managing

/** Moves a version along the review path; a rejection asks for its reason first. */
function ReviewButtons({ version, onDone }: { version: K8sObject; onDone: () => void }) {
  const { t } = useI18n();
  const [rejecting, setRejecting] = useState(false);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<unknown>(null);
  const app = version.metadata.labels?.[APP_LABEL] ?? "";
  const act = async (state: string, msg = "") => {
    try {
      await api.post(versionPath(app, version.metadata.name, "action"), { state, message: msg });
      setError(null);
      setRejecting(false);
      setMessage("");
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  const label = { passed: "review.approve", rejected: "review.reject", active: "review.publish", suspended: "review.suspend" } as const;
  return (
    <>
      {reviewActions(stateOf(version)).map((s) => (
        <button key={s} type="button" className={s === "rejected" || s === "suspended" ? "danger" : "primary"} onClick={() => (s === "rejected" ? setRejecting(true) : void act(s))}>
          {t(label[s])}
        </button>
      ))}
      {error ? <ErrorBox error={error} /> : null}
      <Dialog open={rejecting} onClose={() => setRejecting(false)} title={t("review.rejectTitle", { version: version.metadata.name })}>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void act("rejected", message);
          }}
        >
          <label>
            {t("review.reason")}
            <textarea name="message" required value={message} onChange={(e) => setMessage(e.target.value)} />
          </label>
          <ErrorBox error={error} />
          <div className="toolbar">
            <span className="spacer" />
            <button type="button" onClick={() => setRejecting(false)}>
              {t("action.cancel")}
            </button>
            <button type="submit" className="danger">
              {t("review.reject")}
            </button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

function Reviews() {
  const { t, date } = useI18n();
  const [filter, setFilter] = useState("submitted");
  const list = useLoad<Page>(withQuery(`${APPSTORE}/reviews`, { status: filter === "submitted" ? undefined : filter, sortBy: "createTime" }));
  return (
    <>
      <PageHead title={t("nav.reviews")}>
        <label>
          {t("col.status")}{" "}
          <select value={filter} onChange={(e) => setFilter(e.target.value)}>
            {["submitted", "passed", "active", "suspended", "rejected"].map((s) => (
              <option key={s} value={s}>
                {t(`appstate.${s}` as "appstate.active")}
              </option>
            ))}
          </select>
        </label>
      </PageHead>
      <ErrorBox error={list.error} />
      <Table<K8sObject>
        label={t("nav.reviews")}
        rows={list.data?.items ?? []}
        rowKey={(v) => v.metadata.name}
        columns={[
          { title: "store.app", render: (v) => v.metadata.labels?.[APP_LABEL], sort: (v) => v.metadata.labels?.[APP_LABEL] ?? "" },
          { title: "col.version", render: (v) => v.spec?.versionName },
          { title: "col.workspace", render: (v) => v.metadata.labels?.["kubesphere.io/workspace"] ?? "—" },
          { title: "review.by", render: (v) => v.status?.userName ?? "" },
          { title: "col.status", render: (v) => <StateBadge value={stateOf(v)} /> },
          { title: "store.updated", render: (v) => date(v.status?.updated ?? v.metadata.creationTimestamp) },
          { title: "col.actions", width: "minmax(0, 1.6fr)", render: (v) => <ReviewButtons version={v} onDone={list.reload} /> },
        ]}
      />
    </>
  );
}

function ManageApps() {
  const { t } = useI18n();
  const apps = useLoad<Page>(withQuery(`${APPSTORE}/apps`, { sortBy: "name", ascending: true }));
  const categories = useLoad<Page>(`${APPSTORE}/categories`);
  const [error, setError] = useState<unknown>(null);
  const [newCat, setNewCat] = useState("");
  const catNames = [UNCATEGORIZED, ...(categories.data?.items ?? []).map((c) => c.metadata.name).filter((n) => n !== UNCATEGORIZED)];
  const run = async (f: () => Promise<unknown>) => {
    try {
      await f();
      setError(null);
      apps.reload();
      categories.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHead title={t("nav.manageApps")} />
      <ErrorBox error={apps.error ?? error} />
      <Table<K8sObject>
        label={t("nav.manageApps")}
        rows={apps.data?.items ?? []}
        rowKey={(a) => a.metadata.name}
        columns={[
          { title: "col.name", render: (a) => <Link to={`/store/apps/${a.metadata.name}`}>{displayName(a)}</Link>, sort: (a) => a.metadata.name },
          { title: "col.workspace", render: (a) => a.metadata.labels?.[WS_LABEL] ?? "—" },
          { title: "store.repository", render: (a) => a.metadata.labels?.[REPO_LABEL] ?? t("store.uploaded") },
          { title: "col.status", render: (a) => <StateBadge value={stateOf(a)} /> },
          {
            title: "store.category",
            render: (a) => (
              <select
                aria-label={t("store.categoryOf", { app: a.metadata.name })}
                value={a.metadata.labels?.[CATEGORY_LABEL] ?? UNCATEGORIZED}
                onChange={(e) => void run(() => api.patch(`${APPSTORE}/apps/${a.metadata.name}`, { metadata: { labels: { [CATEGORY_LABEL]: e.target.value } } }))}
              >
                {catNames.map((c) => (
                  <option key={c} value={c}>
                    {c === UNCATEGORIZED ? t("store.uncategorized") : c}
                  </option>
                ))}
              </select>
            ),
          },
          {
            title: "col.actions",
            render: (a) =>
              stateOf(a) === "active" ? (
                <button type="button" className="danger" onClick={() => void run(() => api.post(`${APPSTORE}/apps/${a.metadata.name}/action`, { state: "suspended" }))}>
                  {t("review.suspend")}
                </button>
              ) : stateOf(a) === "suspended" ? (
                <button type="button" onClick={() => void run(() => api.post(`${APPSTORE}/apps/${a.metadata.name}/action`, { state: "active" }))}>
                  {t("review.publish")}
                </button>
              ) : null,
          },
        ]}
      />
      <h2 className="section">{t("store.categories")}</h2>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => api.post(`${APPSTORE}/categories`, { metadata: { name: newCat }, spec: {} })).then(() => setNewCat(""));
        }}
      >
        <input aria-label={t("store.newCategory")} placeholder={t("store.newCategory")} required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={newCat} onChange={(e) => setNewCat(e.target.value)} />
        <button type="submit" className="primary">
          {t("action.add")}
        </button>
      </form>
      <Table<K8sObject>
        label={t("store.categories")}
        rows={categories.data?.items ?? []}
        rowKey={(c) => c.metadata.name}
        columns={[
          { title: "col.name", render: (c) => displayName(c), sort: (c) => c.metadata.name },
          { title: "store.apps", render: (c) => String(c.status?.total ?? (apps.data?.items ?? []).filter((a) => a.metadata.labels?.[CATEGORY_LABEL] === c.metadata.name).length) },
          {
            title: "col.actions",
            render: (c) => (
              <button type="button" className="danger" onClick={() => void run(() => api.delete(`${APPSTORE}/categories/${c.metadata.name}`))}>
                {t("action.delete")}
              </button>
            ),
          },
        ]}
      />
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// Repositories (the platform's, or a workspace's)

/** Helm repositories: add (with credentials), sync now, status, delete. */
export function Repos({ ws }: { ws?: string }) {
  const { t, date } = useI18n();
  const base = `${appsBase(ws)}/repos`;
  const repos = useLoad<Page>(base);
  const syncing = (repos.data?.items ?? []).some((r) => stateOf(r) === "syncing");
  usePoll(syncing, repos.reload);
  const [adding, setAdding] = useState(false);
  const [f, setF] = useState({ name: "", url: "", username: "", password: "", caData: "", insecure: false, syncPeriod: 0, description: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const credential: Record<string, unknown> = {};
    if (f.username) credential.username = f.username;
    if (f.password) credential.password = f.password;
    if (f.caData.trim()) credential.caData = f.caData.trim();
    if (f.insecure) credential.insecureSkipTLSVerify = true;
    try {
      await api.post(base, { metadata: { name: f.name }, spec: { url: f.url, credential, syncPeriod: f.syncPeriod, description: f.description } });
      setAdding(false);
      repos.reload();
      // The first sync runs now, so the repository's apps appear without waiting for a period.
      setBusy(f.name);
      await api.post(`${base}/${f.name}/action`, {}).catch(() => undefined);
      setBusy(null);
      repos.reload();
    } catch (err) {
      setError(err);
    }
  };
  const sync = async (name: string) => {
    setBusy(name);
    try {
      await api.post(`${base}/${name}/action`, {});
      setError(null);
    } catch (e) {
      setError(e);
    }
    setBusy(null);
    repos.reload();
  };
  const set = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    setF({ ...f, [k]: k === "insecure" ? (e.target as HTMLInputElement).checked : k === "syncPeriod" ? Number(e.target.value) : e.target.value });
  return (
    <>
      <PageHead title={t("nav.repos")}>
        <button type="button" className="primary" onClick={() => (setError(null), setAdding(true))}>
          {t("repo.add")}
        </button>
      </PageHead>
      <ErrorBox error={repos.error ?? (adding ? null : error)} />
      <Table<K8sObject>
        label={t("nav.repos")}
        rows={repos.data?.items ?? []}
        rowKey={(r) => r.metadata.name}
        columns={[
          { title: "col.name", render: (r) => r.metadata.name, sort: (r) => r.metadata.name },
          { title: "repo.url", render: (r) => r.spec?.url },
          { title: "col.status", render: (r) => <StateBadge value={busy === r.metadata.name ? "syncing" : (r.status?.state ?? "")} /> },
          { title: "col.message", render: (r) => <span title={r.status?.message}>{r.status?.message ?? ""}</span> },
          { title: "store.updated", render: (r) => date(r.status?.lastUpdateTime) },
          {
            title: "col.actions",
            render: (r) => (
              <>
                <button type="button" disabled={busy === r.metadata.name} onClick={() => void sync(r.metadata.name)}>
                  {t("repo.sync")}
                </button>{" "}
                <button type="button" className="danger" onClick={() => setRemoving(r.metadata.name)}>
                  {t("action.delete")}
                </button>
              </>
            ),
          },
        ]}
      />
      <Dialog open={adding} onClose={() => setAdding(false)} title={t("repo.add")}>
        <form className="form" onSubmit={add}>
          <label>
            {t("form.name")}
            <input name="name" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={f.name} onChange={set("name")} />
          </label>
          <label>
            {t("repo.url")}
            <input name="url" required type="url" placeholder="https://charts.example.com or oci://registry/charts" pattern="(https?|oci)://.+" value={f.url} onChange={set("url")} />
          </label>
          <div className="row2">
            <label>
              {t("form.username")}
              <input name="username" autoComplete="off" value={f.username} onChange={set("username")} />
            </label>
            <label>
              {t("form.password")}
              <input name="password" type="password" autoComplete="new-password" value={f.password} onChange={set("password")} />
            </label>
          </div>
          <label>
            {t("repo.ca")}
            <textarea name="caData" placeholder="-----BEGIN CERTIFICATE-----" value={f.caData} onChange={set("caData")} />
          </label>
          <label className="inline">
            <input name="insecure" type="checkbox" checked={f.insecure} onChange={set("insecure")} /> {t("repo.insecure")}
          </label>
          <label>
            {t("repo.syncPeriod")}
            <input name="syncPeriod" type="number" min={0} value={f.syncPeriod} onChange={set("syncPeriod")} />
          </label>
          <label>
            {t("form.description")}
            <input name="description" value={f.description} onChange={set("description")} />
          </label>
          <FormFooter error={error} onCancel={() => setAdding(false)} />
        </form>
      </Dialog>
      <DeleteConfirm
        open={!!removing}
        kind={t("nav.repos")}
        name={removing ?? ""}
        path={`${base}/${removing}`}
        onCancel={() => setRemoving(null)}
        onDeleted={() => {
          setRemoving(null);
          repos.reload();
        }}
      />
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// A workspace's app templates

/** Uploads a chart package: a new app, or (with `app`) a new version of one. */
function UploadDialog({ ws, app, appType, open, onClose, onDone }: { ws: string; app?: string; appType?: "helm" | "yaml"; open: boolean; onClose: () => void; onDone: (app: string) => void }) {
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"helm" | "yaml">(appType ?? "helm");
  const [versionName, setVersionName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const yaml = (appType ?? kind) === "yaml";
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    try {
      // A chart goes as its archive's bytes, manifests as their text (both base64).
      const pkg = yaml ? encodeText(await file.text()) : await fileBase64(file);
      const body = { appType: yaml ? "yaml" : "helm", package: pkg, versionName: yaml ? versionName : undefined };
      const base = `${appsBase(ws)}/apps`;
      if (app) {
        await api.post(`${base}/${app}/versions`, body);
        onDone(app);
      } else {
        const made = await api.post<{ appName: string }>(base, { ...body, appName: name || undefined });
        onDone(made.appName);
      }
      setFile(null);
      setName("");
      setVersionName("");
      setError(null);
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };
  return (
    <Dialog open={open} onClose={onClose} title={app ? t("templates.newVersion") : t("templates.upload")}>
      <form className="form" onSubmit={submit}>
        {!appType && (
          <fieldset className="choice">
            <legend>{t("templates.type")}</legend>
            <label className="inline">
              <input type="radio" name="appType" checked={kind === "helm"} onChange={() => setKind("helm")} /> {t("templates.type.helm")}
            </label>
            <label className="inline">
              <input type="radio" name="appType" checked={kind === "yaml"} onChange={() => setKind("yaml")} /> {t("templates.type.yaml")}
            </label>
          </fieldset>
        )}
        <label>
          {yaml ? t("templates.manifests") : t("templates.package")}
          <input
            key={yaml ? "yaml" : "helm"}
            name="package"
            type="file"
            required
            accept={yaml ? ".yaml,.yml,application/yaml,text/yaml" : ".tgz,.tar.gz,application/gzip"}
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </label>
        {!app && (
          <label>
            {t("templates.appName")}
            <input name="appName" required={yaml} pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
        )}
        {yaml && (
          <label>
            {t("templates.versionName")}
            <input name="versionName" required placeholder="1.0.0" value={versionName} onChange={(e) => setVersionName(e.target.value)} />
          </label>
        )}
        <FormFooter error={error} onCancel={onClose} submit={t("templates.uploadAction")} disabled={!file || busy} />
      </form>
    </Dialog>
  );
}

/** The workspace's apps (uploaded charts and its repositories' apps). */
export function WorkspaceApps({ ws }: { ws: string }) {
  const { t, date } = useI18n();
  const navigate = useNavigate();
  const apps = useLoad<Page>(withQuery(`${appsBase(ws)}/apps`, { sortBy: "name", ascending: true }));
  const canUpload = useCan(undefined, { verb: "create", group: "application.kubesphere.io", resource: "apps", workspace: ws });
  const [uploading, setUploading] = useState(false);
  return (
    <>
      <PageHead title={t("nav.appTemplates")}>
        {canUpload && (
          <button type="button" className="primary" onClick={() => setUploading(true)}>
            {t("templates.upload")}
          </button>
        )}
      </PageHead>
      <ErrorBox error={apps.error} />
      <Table<K8sObject>
        label={t("nav.appTemplates")}
        rows={apps.data?.items ?? []}
        rowKey={(a) => a.metadata.name}
        columns={[
          {
            title: "col.name",
            render: (a) => (
              <Link to={`/workspaces/${ws}/apps/${a.metadata.name}`}>
                <AppIcon src={a.spec?.icon} name={displayName(a)} size={20} /> {displayName(a)}
              </Link>
            ),
            sort: (a) => a.metadata.name,
          },
          { title: "store.repository", render: (a) => a.metadata.labels?.[REPO_LABEL] ?? t("store.uploaded") },
          { title: "col.status", render: (a) => <StateBadge value={stateOf(a)} /> },
          { title: "col.created", render: (a) => date(a.metadata.creationTimestamp) },
        ]}
      />
      <UploadDialog ws={ws} open={uploading} onClose={() => setUploading(false)} onDone={(a) => (setUploading(false), navigate(`/workspaces/${ws}/apps/${a}`))} />
    </>
  );
}

/** One app template: its versions, their review state and messages, submit and new versions. */
export function WorkspaceApp({ ws, app }: { ws: string; app: string }) {
  const { t, date } = useI18n();
  const navigate = useNavigate();
  const a = useLoad<K8sObject>(`${appsBase(ws)}/apps/${encodeURIComponent(app)}`);
  const versions = useVersions(app, ws);
  const [uploading, setUploading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [removing, setRemoving] = useState<"app" | string | null>(null);
  const act = async (v: K8sObject, state: string) => {
    try {
      await api.post(versionPath(app, v.metadata.name, "action", ws), { state });
      setError(null);
      versions.reload();
      a.reload();
    } catch (e) {
      setError(e);
    }
  };
  const remove = async () => {
    try {
      if (removing === "app") {
        await api.delete(`${appsBase(ws)}/apps/${app}`);
        navigate(`/workspaces/${ws}/apps`);
      } else if (removing) {
        await api.delete(versionPath(app, removing, "", ws));
        versions.reload();
      }
      setRemoving(null);
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  if (a.error) return <ErrorBox error={a.error} />;
  if (!a.data) return <Loading />;
  const fromRepo = !!a.data.metadata.labels?.[REPO_LABEL];
  return (
    <>
      <div className="app-head">
        <AppIcon src={a.data.spec?.icon} name={displayName(a.data)} size={48} />
        <h1>{displayName(a.data)}</h1>
        <StateBadge value={stateOf(a.data)} />
        <span className="spacer" />
        {!fromRepo && (
          <button type="button" className="primary" onClick={() => setUploading(true)}>
            {t("templates.newVersion")}
          </button>
        )}
        <button type="button" className="danger" onClick={() => setRemoving("app")}>
          {t("action.delete")}
        </button>
      </div>
      <p className="muted">{a.data.spec?.abstraction}</p>
      <ErrorBox error={error} />
      <Table<K8sObject>
        label={t("store.versions")}
        rows={versions.all}
        rowKey={(v) => v.metadata.name}
        columns={[
          { title: "col.version", render: (v) => v.spec?.versionName },
          { title: "col.status", render: (v) => <StateBadge value={stateOf(v)} /> },
          { title: "col.message", render: (v) => <span title={v.status?.message}>{v.status?.message ?? ""}</span> },
          { title: "store.updated", render: (v) => date(v.status?.updated ?? v.spec?.created) },
          {
            title: "col.actions",
            render: (v) => {
              const s = stateOf(v);
              return (
                <>
                  {(s === "draft" || s === "rejected") && (
                    <button type="button" className="primary" onClick={() => void act(v, "submitted")}>
                      {t("templates.submit")}
                    </button>
                  )}
                  {s === "submitted" && (
                    <button type="button" onClick={() => void act(v, "draft")}>
                      {t("templates.withdraw")}
                    </button>
                  )}{" "}
                  {s !== "active" && (
                    <button type="button" className="danger" onClick={() => setRemoving(v.metadata.name)}>
                      {t("action.delete")}
                    </button>
                  )}
                </>
              );
            },
          },
        ]}
      />
      <UploadDialog ws={ws} app={app} appType={a.data.spec?.appType === "yaml" ? "yaml" : "helm"} open={uploading} onClose={() => setUploading(false)} onDone={() => (setUploading(false), versions.reload())} />
      <Confirm
        open={!!removing}
        message={t("confirm.delete", { kind: removing === "app" ? t("store.app") : t("col.version"), name: removing === "app" ? app : (removing ?? "") })}
        error={error}
        onCancel={() => setRemoving(null)}
        onConfirm={() => void remove()}
      />
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// A project's releases

/** The releases of a project. */
export function Releases({ cluster, ns }: { cluster: string; ns: string }) {
  const { t, date } = useI18n();
  const list = useLoad<Page>(withQuery(releasesPath(cluster, ns), { sortBy: "createTime" }));
  usePoll((list.data?.items ?? []).some((r) => releaseSettling(r.status?.state)), list.reload, 2000);
  const base = `/clusters/${cluster}/projects/${ns}/apps`;
  return (
    <>
      <PageHead title={t("nav.apps")}>
        <Link className="button primary" to="/store">
          {t("release.fromStore")}
        </Link>
      </PageHead>
      <ErrorBox error={list.error} />
      <Table<K8sObject>
        label={t("nav.apps")}
        rows={list.data?.items ?? []}
        rowKey={(r) => r.metadata.name}
        columns={[
          { title: "col.name", render: (r) => <Link to={`${base}/${r.metadata.name}`}>{r.metadata.name}</Link>, sort: (r) => r.metadata.name },
          { title: "store.app", render: (r) => r.spec?.appID },
          { title: "col.version", render: (r) => r.spec?.appVersionID },
          { title: "col.status", render: (r) => <StateBadge release value={r.status?.state ?? "creating"} /> },
          { title: "store.updated", render: (r) => date(r.status?.lastUpdate ?? r.metadata.creationTimestamp) },
        ]}
      />
    </>
  );
}

const KIND_PAGES: Record<string, string> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  DaemonSet: "daemonsets",
  Job: "jobs",
  CronJob: "cronjobs",
  Service: "services",
  ConfigMap: "configmaps",
  Secret: "secrets",
  Pod: "pods",
};

interface Revision {
  revision: number;
  status: string;
  chart: string;
  version: string;
  updated: string;
  description: string;
}

interface ReleaseResource {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  exists: boolean;
  ready: string | null;
}

/** A release: state, values, resources, history; upgrade, roll back, delete. */
export function ReleaseDetail({ cluster, ns, name }: { cluster: string; ns: string; name: string }) {
  const { t, date } = useI18n();
  const navigate = useNavigate();
  const path = releasesPath(cluster, ns, name);
  const rel = useLoad<K8sObject>(path);
  const state = rel.data?.status?.state as string | undefined;
  usePoll(!!rel.data && releaseSettling(state), rel.reload);
  const resources = useLoad<Page<ReleaseResource>>(`${path}/resources`);
  const history = useLoad<Page<Revision>>(`${path}/history`);
  // Whatever the release did, its revisions and objects follow.
  const reloadResources = resources.reload;
  const reloadHistory = history.reload;
  useEffect(() => {
    reloadResources();
    reloadHistory();
  }, [state, rel.data?.metadata.resourceVersion, reloadResources, reloadHistory]);
  const [tab, setTab] = useState<"resources" | "values" | "history">("resources");
  const [upgrading, setUpgrading] = useState(false);
  const [removing, setRemoving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const rollback = async (revision: number) => {
    try {
      await api.post(`${path}/action`, { action: "rollback", revision });
      setError(null);
      rel.reload();
    } catch (e) {
      setError(e);
    }
  };
  if (rel.error) return <ErrorBox error={rel.error} />;
  if (!rel.data) return <Loading />;
  const r = rel.data;
  const values = decodeText(r.spec?.values);
  const current = history.data?.items[0]?.revision;
  const project = `/clusters/${cluster}/projects/${ns}`;
  return (
    <>
      <PageHead title={`${t("release.title")}: ${name}`}>
        <button type="button" className="primary" onClick={() => setUpgrading(!upgrading)} aria-expanded={upgrading}>
          {t("release.upgrade")}
        </button>
        <button type="button" className="danger" onClick={() => setRemoving(true)}>
          {t("action.delete")}
        </button>
      </PageHead>
      <div className="card">
        <dl className="kv">
          <dt>{t("col.status")}</dt>
          <dd data-testid="release-state">
            <StateBadge release value={state ?? "creating"} />
          </dd>
          <dt>{t("col.message")}</dt>
          <dd data-testid="release-message">{r.status?.message || "—"}</dd>
          <dt>{t("store.app")}</dt>
          <dd>
            <Link to={`/store/apps/${r.spec?.appID}`}>{r.spec?.appID}</Link>
          </dd>
          <dt>{t("col.version")}</dt>
          <dd data-testid="release-version">{r.spec?.appVersionID}</dd>
          <dt>{t("top.cluster")}</dt>
          <dd>{cluster}</dd>
          <dt>{t("store.updated")}</dt>
          <dd>{date(r.status?.lastUpdate ?? r.metadata.creationTimestamp)}</dd>
        </dl>
      </div>
      <ErrorBox error={error} />
      {upgrading && <Upgrade cluster={cluster} ns={ns} release={r} onDone={() => (setUpgrading(false), rel.reload())} />}
      <div className="tabs" role="tablist" onKeyDown={tabKeys}>
        {(["resources", "values", "history"] as const).map((k) => (
          <button key={k} type="button" role="tab" aria-selected={tab === k} tabIndex={tab === k ? 0 : -1} onClick={() => setTab(k)}>
            {t(`release.tab.${k}` as const)}
          </button>
        ))}
      </div>
      {tab === "resources" && (
        <>
          <ErrorBox error={resources.error} />
          <Table<ReleaseResource>
            label={t("release.tab.resources")}
            rows={resources.data?.items ?? []}
            rowKey={(o) => `${o.kind}/${o.namespace}/${o.name}`}
            columns={[
              { title: "col.kind", render: (o) => o.kind, sort: (o) => o.kind },
              {
                title: "col.name",
                render: (o) => (KIND_PAGES[o.kind] && o.namespace === ns && o.exists ? <Link to={`${project}/${KIND_PAGES[o.kind]}/${o.name}`}>{o.name}</Link> : o.name),
                sort: (o) => o.name,
              },
              { title: "col.namespace", render: (o) => o.namespace || "—" },
              { title: "col.ready", render: (o) => (o.exists ? (o.ready ?? "✓") : <span className="badge bad">{t("release.missing")}</span>) },
            ]}
          />
        </>
      )}
      {tab === "values" && (values ? <pre className="code" data-testid="release-values">{values}</pre> : <p className="muted" data-testid="release-values">{t("release.defaults")}</p>)}
      {tab === "history" && (
        <>
          <ErrorBox error={history.error} />
          <Table<Revision>
            label={t("release.tab.history")}
            rows={history.data?.items ?? []}
            rowKey={(h) => String(h.revision)}
            columns={[
              { title: "release.revision", render: (h) => h.revision },
              { title: "col.status", render: (h) => h.status },
              { title: "col.version", render: (h) => h.version },
              { title: "store.updated", render: (h) => date(h.updated) },
              { title: "col.description", render: (h) => h.description },
              {
                title: "col.actions",
                render: (h) =>
                  h.revision !== current && (
                    <button type="button" onClick={() => void rollback(h.revision)}>
                      {t("release.rollback")}
                    </button>
                  ),
              },
            ]}
          />
        </>
      )}
      <Confirm
        open={removing}
        message={t("confirm.delete", { kind: t("release.title"), name })}
        error={error}
        onCancel={() => setRemoving(false)}
        onConfirm={async () => {
          try {
            await api.delete(path);
            navigate(`${project}/apps`);
          } catch (e) {
            setError(e);
          }
        }}
      />
    </>
  );
}

/** Upgrading a release: another version, or new values (checked by the server as typed). */
function Upgrade({ cluster, ns, release, onDone }: { cluster: string; ns: string; release: K8sObject; onDone: () => void }) {
  const { t } = useI18n();
  const app = release.spec?.appID as string;
  const ws = release.metadata.labels?.[WS_LABEL];
  const store = useVersions(app);
  const own = useVersions(app, ws || undefined);
  // The store's published versions, or the workspace's own templates.
  const choices = store.published.length ? store.published : own.all;
  const [versionName, setVersionName] = useState(release.spec?.appVersionID as string);
  const [values, setValues] = useState(decodeText(release.spec?.values));
  const { files } = useFiles(app, versionName, store.published.length ? undefined : ws);
  const [error, setError] = useState<unknown>(null);
  const path = releasesPath(cluster, ns, release.metadata.name);
  const body = { spec: { appVersionID: versionName, values: valuesField(values) ?? "" } };
  const check = useServerCheck(() => api.patch(withQuery(path, { dryRun: "All" }), body), [versionName, values]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.patch(path, body);
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="form wide card" onSubmit={submit} aria-label={t("release.upgrade")}>
      <label>
        {t("col.version")}
        <select name="version" value={versionName} onChange={(e) => setVersionName(e.target.value)}>
          {choices.map((v) => (
            <option key={v.metadata.name} value={v.metadata.name}>
              {v.spec?.versionName}
            </option>
          ))}
        </select>
      </label>
      {release.spec?.appType === "yaml" ? (
        <p className="muted">{t("store.yamlNoValues")}</p>
      ) : (
        <ValuesEditor value={values} onChange={setValues} schema={files["values.schema.json"]} defaults={files["values.yaml"]} check={check} />
      )}
      {release.spec?.appType === "yaml" && check.state === "error" && <div className="error">{check.message}</div>}
      <FormFooter error={error} onCancel={onDone} submit={t("release.upgrade")} disabled={check.state === "error"} />
    </form>
  );
}

/** `/store/…` */
export default function AppStore() {
  return (
    <Routes>
      <Route index element={<Store />} />
      <Route path="apps/:app" element={<AppPage />} />
      <Route path="apps/:app/deploy" element={<Deploy />} />
      <Route path="reviews" element={<Reviews />} />
      <Route path="manage" element={<ManageApps />} />
      <Route path="repos" element={<Repos />} />
      <Route path="*" element={<Navigate to="/store" replace />} />
    </Routes>
  );
}
