// The extension marketplace (`/marketplace/…`, platform administrators): extensions by category
// and search, an extension's page (README, screenshots, versions, provider) with the install
// dialog (version, config, cluster placement and per-cluster overrides for Multicluster
// agents), the installed extensions with their live state, history and failure reason, and the
// extension repositories. Everything is kubesphere.io/v1alpha1 objects on the host, read live
// (list + watch); installing is creating an InstallPlan. One chunk, loaded on first visit.

import { lazy, Suspense, useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, Navigate, Route, Routes, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { api } from "../api/client";
import { useLiveList, useLoad } from "../api/hooks";
import type { K8sObject } from "../api/watch";
import {
  categoryOf,
  EXTENSION_REF,
  FAILED,
  failureReason,
  installPlan,
  localized,
  marketPath,
  matchesSearch,
  newestVersions,
  providerOf,
  RETRY_ANNOTATION,
  SYNC_ANNOTATION,
  stateClass,
  yamlProblem,
} from "../api/extensions";
import { decodeFiles } from "../api/appstore";
import { Table } from "../components/Table";
import { Confirm, DeleteConfirm, ErrorBox, FormFooter, PageHead, tabKeys, useTitle } from "../components/ui";
import { AppIcon } from "../components/appstore";
import { useApp } from "../state/context";

const Markdown = lazy(() => import("../components/Markdown"));
const YamlEditor = lazy(() => import("../components/YamlEditor"));

/** The chart files of an ExtensionVersion (README.md, values.yaml…), base64 by name. */
const FILES = (version: string) => `/kapis/package.kubesphere.io/v1alpha1/extensionversions/${encodeURIComponent(version)}/files`;

function Loading() {
  const { t } = useI18n();
  return <p className="muted">{t("app.loading")}</p>;
}

/** An InstallPlan state as a coloured, translated word. */
function PlanState({ state, testid }: { state: string | undefined; testid?: string }) {
  const { t } = useI18n();
  const v = state || "Preparing";
  const key = `extstate.${v}` as MessageKey;
  return (
    <span className={`badge ${stateClass(v)}`} data-state={v} data-testid={testid}>
      {key in KNOWN_STATES ? t(key) : v}
    </span>
  );
}
const KNOWN_STATES: Record<string, true> = Object.fromEntries(
  ["Preparing", "Installing", "Installed", "InstallFailed", "Upgrading", "Upgraded", "UpgradeFailed", "Uninstalling", "Uninstalled", "UninstallFailed"].map((s) => [`extstate.${s}`, true]),
);

/** The InstallPlans, live, by extension name. */
function usePlans() {
  const plans = useLiveList(marketPath("installplans"));
  const byExt = useMemo(() => {
    const m = new Map<string, K8sObject>();
    for (const p of plans.items) m.set(String(p.spec?.extension?.name ?? p.metadata.name), p);
    return m;
  }, [plans.items]);
  return { ...plans, byExt };
}

// ---------------------------------------------------------------------------------------------
// Browsing

function Browse() {
  const { t, lang, number } = useI18n();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const category = params.get("category") ?? "";
  const set = (k: string, v: string) =>
    setParams(
      (p) => {
        const n = new URLSearchParams(p);
        if (v) n.set(k, v);
        else n.delete(k);
        return n;
      },
      { replace: true },
    );
  const exts = useLiveList(marketPath("extensions"));
  const cats = useLiveList(marketPath("categories"));
  const plans = usePlans();
  const categories = useMemo(() => {
    const named = new Map<string, string>();
    for (const c of cats.items) named.set(c.metadata.name, localized(c.spec?.displayName, lang, c.metadata.name));
    for (const e of exts.items) {
      const c = categoryOf(e);
      if (c && !named.has(c)) named.set(c, c);
    }
    return [...named.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  }, [cats.items, exts.items, lang]);
  const shown = exts.items.filter((e) => matchesSearch(e, q) && (!category || categoryOf(e) === category));
  return (
    <>
      <PageHead title={t("nav.marketplace")}>
        <input type="search" aria-label={t("ext.search")} placeholder={t("ext.search")} value={q} onChange={(e) => set("q", e.target.value)} />
      </PageHead>
      <div className="store">
        <nav className="categories" aria-label={t("store.categories")}>
          {[["", t("store.allCategories")], ...categories].map(([name, label]) => (
            <button key={name || "all"} type="button" aria-pressed={name === category} onClick={() => set("category", name)}>
              {label}
            </button>
          ))}
        </nav>
        <section aria-label={t("nav.extensions")}>
          <ErrorBox error={exts.error} />
          <p className="muted" aria-live="polite">
            {exts.loaded ? t("list.total", { count: number(shown.length) }) : t("app.loading")}
          </p>
          <ul className="app-grid">
            {shown.map((e) => {
              const name = localized(e.spec?.displayName, lang, e.metadata.name);
              const plan = plans.byExt.get(e.metadata.name);
              return (
                <li key={e.metadata.name}>
                  <Link className="app-card card" to={`/marketplace/extensions/${e.metadata.name}`} data-extension={e.metadata.name}>
                    <AppIcon src={e.spec?.icon} name={name} />
                    <span>
                      <strong>{name}</strong>
                      <span className="muted clamp">{localized(e.spec?.description, lang, "—")}</span>
                      <span className="muted">{providerOf(e, lang)?.name ?? ""}</span>
                      {plan && <PlanState state={plan.status?.state} />}
                    </span>
                  </Link>
                </li>
              );
            })}
          </ul>
          {exts.loaded && shown.length === 0 && <p className="muted">{exts.items.length ? t("ext.noMatch") : t("ext.empty")}</p>}
        </section>
      </div>
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// One extension

function useVersions(name: string) {
  const v = useLiveList(marketPath("extensionversions"), { labelSelector: `${EXTENSION_REF}=${name}` });
  return { ...v, newest: useMemo(() => newestVersions(v.items), [v.items]) };
}

function useFiles(version: string | undefined) {
  const f = useLoad<Record<string, string>>(version ? FILES(version) : null);
  return { ...f, files: useMemo(() => decodeFiles(f.data), [f.data]) };
}

function ExtensionDetail() {
  const { name = "" } = useParams();
  const { t, lang } = useI18n();
  const exts = useLiveList(marketPath("extensions"), { fieldSelector: `metadata.name=${name}` });
  const ext = exts.items[0];
  const versions = useVersions(name);
  const plans = usePlans();
  const plan = plans.byExt.get(name);
  const [chosen, setChosen] = useState("");
  const recommended = ext?.status?.recommendedVersion as string | undefined;
  const version = versions.newest.find((v) => v.spec?.version === chosen) ?? versions.newest.find((v) => v.spec?.version === recommended) ?? versions.newest[0];
  const { files } = useFiles(version?.metadata.name);
  const [tab, setTab] = useState<"overview" | "versions">("overview");
  const [installing, setInstalling] = useState(false);
  const display = ext ? localized(ext.spec?.displayName, lang, name) : name;
  useTitle(display);
  if (exts.error) return <ErrorBox error={exts.error} />;
  if (!exts.loaded) return <Loading />;
  if (!ext) return <ErrorBox error={new Error(t("ext.noSuch", { name }))} />;
  const provider = providerOf(version ?? ext, lang);
  const screenshots: string[] = (version?.spec?.screenshots ?? []).filter((s: unknown) => typeof s === "string" && /^(https:|data:image\/|\/)/.test(s));
  const readme = files["README.md"];
  return (
    <>
      <div className="app-head">
        <AppIcon src={ext.spec?.icon} name={display} size={64} />
        <div>
          <h1>{display}</h1>
          <p className="muted">{localized(ext.spec?.description, lang)}</p>
        </div>
        <span className="spacer" />
        {!plan && version && (
          <button type="button" className="primary" onClick={() => setInstalling(true)}>
            {t("ext.install")}
          </button>
        )}
      </div>
      {plan && <Installation plan={plan} versions={versions.newest} />}
      <div className="app-body">
        <section>
          <div className="tabs" role="tablist" onKeyDown={tabKeys}>
            {(["overview", "versions"] as const).map((k) => (
              <button key={k} type="button" role="tab" aria-selected={tab === k} tabIndex={tab === k ? 0 : -1} onClick={() => setTab(k)}>
                {t(k === "overview" ? "store.tab.readme" : "store.tab.versions")}
              </button>
            ))}
          </div>
          {tab === "overview" && (
            <>
              {readme ? (
                <Suspense fallback={<Loading />}>
                  <Markdown text={readme} />
                </Suspense>
              ) : (
                <p className="muted">{localized(version?.spec?.description ?? ext.spec?.description, lang, t("store.noReadme"))}</p>
              )}
              {screenshots.length > 0 && (
                <div className="screenshots" aria-label={t("ext.screenshots")}>
                  {screenshots.map((s) => (
                    <a key={s} href={s} target="_blank" rel="noopener noreferrer">
                      <img src={s} alt="" loading="lazy" />
                    </a>
                  ))}
                </div>
              )}
            </>
          )}
          {tab === "versions" && (
            <Table<K8sObject>
              label={t("store.versions")}
              rows={versions.newest}
              rowKey={(v) => v.metadata.name}
              columns={[
                { title: "col.version", render: (v) => v.spec?.version },
                { title: "ext.mode", render: (v) => v.spec?.installationMode ?? "HostOnly" },
                { title: "ext.kubeVersion", render: (v) => v.spec?.kubeVersion ?? "—" },
                { title: "ext.ksVersion", render: (v) => v.spec?.ksVersion ?? "—" },
              ]}
            />
          )}
        </section>
        <aside className="card" aria-label={t("ext.about")}>
          <label>
            {t("col.version")}
            <select value={version?.spec?.version ?? ""} onChange={(e) => setChosen(e.target.value)}>
              {versions.newest.map((v) => (
                <option key={v.metadata.name} value={v.spec?.version}>
                  {v.spec?.version}
                </option>
              ))}
            </select>
          </label>
          <dl className="kv">
            <dt>{t("ext.provider")}</dt>
            <dd data-testid="provider">
              {provider?.url ? (
                <a href={provider.url} target="_blank" rel="noopener noreferrer">
                  {provider.name ?? provider.url}
                </a>
              ) : (
                (provider?.name ?? "—")
              )}
              {provider?.email ? ` <${provider.email}>` : ""}
            </dd>
            <dt>{t("store.category")}</dt>
            <dd>{categoryOf(ext) || "—"}</dd>
            <dt>{t("ext.mode")}</dt>
            <dd>{version?.spec?.installationMode ?? "HostOnly"}</dd>
            <dt>{t("store.repository")}</dt>
            <dd>{version?.spec?.repository ?? ext.metadata.labels?.["kubesphere.io/repository-ref"] ?? "—"}</dd>
            <dt>{t("store.home")}</dt>
            <dd>{version?.spec?.home ? <a href={version.spec.home} target="_blank" rel="noopener noreferrer">{version.spec.home}</a> : "—"}</dd>
            <dt>{t("ext.docs")}</dt>
            <dd>{version?.spec?.docs ? <a href={version.spec.docs} target="_blank" rel="noopener noreferrer">{version.spec.docs}</a> : "—"}</dd>
            <dt>{t("ext.keywords")}</dt>
            <dd>{(version?.spec?.keywords ?? []).join(", ") || "—"}</dd>
          </dl>
        </aside>
      </div>
      {installing && version && <InstallDialog ext={name} versions={versions.newest} initial={version} onClose={() => setInstalling(false)} />}
    </>
  );
}

/** A modal dialog wide enough for an editor (native <dialog>: focus trapped, Escape closes). */
function WideDialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog wide" onClose={onClose} aria-label={title}>
      <h2 className="section">{title}</h2>
      {children}
    </dialog>
  );
}

/** Values as YAML text, checked as typed. */
function ConfigEditor({ value, onChange, label }: { value: string; onChange: (v: string) => void; label: string }) {
  const { t } = useI18n();
  const problem = yamlProblem(value);
  return (
    <div className="values-editor">
      <Suspense fallback={<Loading />}>
        <YamlEditor value={value} onChange={onChange} label={label} />
      </Suspense>
      <div className="check" role="status" aria-live="polite" data-check={problem ? "error" : "ok"}>
        {problem && <div className="error">{t("ext.yamlInvalid", { message: problem })}</div>}
      </div>
    </div>
  );
}

function InstallDialog({ ext, versions, initial, onClose }: { ext: string; versions: K8sObject[]; initial: K8sObject; onClose: () => void }) {
  const { t } = useI18n();
  const app = useApp();
  const [versionName, setVersionName] = useState(initial.metadata.name);
  const version = versions.find((v) => v.metadata.name === versionName) ?? initial;
  const { files } = useFiles(version.metadata.name);
  const [config, setConfig] = useState<string | null>(null);
  const text = config ?? files["values.yaml"] ?? "";
  const multicluster = version.spec?.installationMode === "Multicluster";
  const [clusters, setClusters] = useState<string[]>([]);
  const [overrides, setOverrides] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const invalid = !!yamlProblem(text) || Object.values(overrides).some((o) => !!yamlProblem(o));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.post(marketPath("installplans"), installPlan({ extension: ext, version: String(version.spec?.version ?? ""), config: text, multicluster, clusters, overrides }));
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <WideDialog title={t("ext.installTitle", { name: ext })} onClose={onClose}>
      <form className="form wide" onSubmit={submit} aria-label={t("ext.installTitle", { name: ext })}>
        <label>
          {t("col.version")}
          <select name="version" value={version.metadata.name} onChange={(e) => (setVersionName(e.target.value), setConfig(null))}>
            {versions.map((v) => (
              <option key={v.metadata.name} value={v.metadata.name}>
                {v.spec?.version}
              </option>
            ))}
          </select>
        </label>
        <h3>{t("ext.config")}</h3>
        <ConfigEditor value={text} onChange={setConfig} label={t("ext.config")} />
        {multicluster && (
          <fieldset className="placement">
            <legend>{t("ext.placement")}</legend>
            <p className="muted">{t("ext.placementHint")}</p>
            {app.clusters.map((c) => (
              <div key={c.name}>
                <label className="inline">
                  <input
                    type="checkbox"
                    name="cluster"
                    value={c.name}
                    checked={clusters.includes(c.name)}
                    onChange={(e) => setClusters((cur) => (e.target.checked ? [...cur, c.name] : cur.filter((x) => x !== c.name)))}
                  />
                  {c.name}
                </label>
                {clusters.includes(c.name) && (
                  <label>
                    {t("ext.overrides", { cluster: c.name })}
                    <textarea name={`override-${c.name}`} value={overrides[c.name] ?? ""} onChange={(e) => setOverrides((cur) => ({ ...cur, [c.name]: e.target.value }))} />
                    {yamlProblem(overrides[c.name] ?? "") && <span className="error">{t("ext.yamlInvalid", { message: yamlProblem(overrides[c.name] ?? "") })}</span>}
                  </label>
                )}
              </div>
            ))}
          </fieldset>
        )}
        <FormFooter error={error} onCancel={onClose} submit={t("ext.install")} disabled={busy || invalid} />
      </form>
    </WideDialog>
  );
}

// ---------------------------------------------------------------------------------------------
// An installed extension

interface HistoryItem {
  state?: string;
  lastTransitionTime?: string;
}

function Installation({ plan, versions }: { plan: K8sObject; versions: K8sObject[] }) {
  const { t, date } = useI18n();
  const navigate = useNavigate();
  const name = plan.metadata.name;
  const path = marketPath("installplans", name);
  const state = plan.status?.state as string | undefined;
  const reason = failureReason(plan.status);
  const enabled = plan.spec?.enabled !== false;
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<"upgrade" | "config" | null>(null);
  const [removing, setRemoving] = useState(false);
  const patch = async (body: unknown) => {
    try {
      await api.patch(path, body);
      setError(null);
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  // Newest first: the installer appends each state (times have only seconds to order them by).
  const all = (plan.status?.stateHistory ?? []) as HistoryItem[];
  const history = all.map((h, i) => ({ ...h, i })).reverse();
  const clusters = Object.entries((plan.status?.clusterSchedulingStatuses ?? {}) as Record<string, { state?: string; version?: string; conditions?: unknown[] }>);
  const installed = String(plan.status?.version ?? plan.spec?.extension?.version ?? "");
  return (
    <section className="card" aria-label={t("ext.installation")} data-testid="installation">
      <div className="toolbar">
        <h2 className="section">{t("ext.installation")}</h2>
        <PlanState state={state} testid="install-state" />
        {!enabled && <span className="badge warn">{t("ext.disabled")}</span>}
        <span className="spacer" />
        {state && FAILED.has(state) && state !== "UninstallFailed" && (
          <button type="button" className="primary" onClick={() => void patch({ metadata: { annotations: { [RETRY_ANNOTATION]: new Date().toISOString() } } })}>
            {t("ext.retry")}
          </button>
        )}
        <button type="button" onClick={() => void patch({ spec: { enabled: !enabled } })}>
          {enabled ? t("ext.disable") : t("ext.enable")}
        </button>
        <button type="button" onClick={() => setEditing(editing === "upgrade" ? null : "upgrade")} aria-expanded={editing === "upgrade"}>
          {t("ext.upgrade")}
        </button>
        <button type="button" onClick={() => setEditing(editing === "config" ? null : "config")} aria-expanded={editing === "config"}>
          {t("ext.reconfigure")}
        </button>
        <button type="button" className="danger" onClick={() => setRemoving(true)}>
          {t("ext.uninstall")}
        </button>
      </div>
      {reason && (
        <div className="error" role="alert" data-testid="install-failure">
          {reason}
        </div>
      )}
      <ErrorBox error={error} />
      <dl className="kv">
        <dt>{t("col.version")}</dt>
        <dd data-testid="install-version">{installed || "—"}</dd>
        <dt>{t("ext.namespace")}</dt>
        <dd>{plan.status?.targetNamespace ?? `extension-${plan.spec?.extension?.name ?? name}`}</dd>
        {plan.spec?.clusterScheduling?.placement?.clusters && (
          <>
            <dt>{t("ext.placement")}</dt>
            <dd>{(plan.spec.clusterScheduling.placement.clusters as string[]).join(", ") || "—"}</dd>
          </>
        )}
      </dl>
      {editing === "upgrade" && <Upgrade plan={plan} versions={versions} onDone={() => setEditing(null)} />}
      {editing === "config" && <Reconfigure plan={plan} onDone={() => setEditing(null)} />}
      <h3>{t("ext.history")}</h3>
      <Table<HistoryItem & { i: number }>
        label={t("ext.history")}
        rows={history}
        rowKey={(h) => String(h.i)}
        columns={[
          { title: "col.status", render: (h) => <PlanState state={h.state} /> },
          { title: "ext.changed", render: (h) => date(h.lastTransitionTime) },
        ]}
      />
      {clusters.length > 0 && (
        <>
          <h3>{t("col.clusters")}</h3>
          <Table<[string, { state?: string; version?: string; conditions?: unknown[] }]>
            label={t("col.clusters")}
            rows={clusters}
            rowKey={([c]) => c}
            columns={[
              { title: "top.cluster", render: ([c]) => c },
              { title: "col.status", render: ([, s]) => <PlanState state={s.state} /> },
              { title: "col.version", render: ([, s]) => s.version ?? "—" },
              { title: "col.message", render: ([, s]) => failureReason(s as { state?: string }) || "—" },
            ]}
          />
        </>
      )}
      {(plan.status?.conditions ?? []).length > 0 && (
        <details>
          <summary>{t("ext.conditions")}</summary>
          <Table<{ type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: string }>
            label={t("ext.conditions")}
            rows={plan.status.conditions}
            rowKey={(c) => `${c.type}`}
            columns={[
              { title: "col.type", render: (c) => c.type },
              { title: "col.status", render: (c) => c.status },
              { title: "col.reason", render: (c) => c.reason ?? "" },
              { title: "col.message", render: (c) => <span title={c.message}>{c.message ?? ""}</span> },
              { title: "ext.changed", render: (c) => date(c.lastTransitionTime) },
            ]}
          />
        </details>
      )}
      <Confirm
        open={removing}
        message={t("ext.uninstallConfirm", { name })}
        error={error}
        onCancel={() => setRemoving(false)}
        onConfirm={async () => {
          try {
            await api.delete(path);
            setRemoving(false);
            navigate("/marketplace/installed");
          } catch (e) {
            setError(e);
          }
        }}
      />
    </section>
  );
}

function Upgrade({ plan, versions, onDone }: { plan: K8sObject; versions: K8sObject[]; onDone: () => void }) {
  const { t } = useI18n();
  const [version, setVersion] = useState(String(plan.spec?.extension?.version ?? ""));
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.patch(marketPath("installplans", plan.metadata.name), { spec: { extension: { version } } });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="form card" onSubmit={submit} aria-label={t("ext.upgrade")}>
      <label>
        {t("col.version")}
        <select name="version" value={version} onChange={(e) => setVersion(e.target.value)}>
          {versions.map((v) => (
            <option key={v.metadata.name} value={v.spec?.version}>
              {v.spec?.version}
            </option>
          ))}
        </select>
      </label>
      <FormFooter error={error} onCancel={onDone} submit={t("ext.upgrade")} disabled={version === plan.spec?.extension?.version} />
    </form>
  );
}

function Reconfigure({ plan, onDone }: { plan: K8sObject; onDone: () => void }) {
  const { t } = useI18n();
  const [config, setConfig] = useState(String(plan.spec?.config ?? ""));
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.patch(marketPath("installplans", plan.metadata.name), { spec: { config } });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="form wide card" onSubmit={submit} aria-label={t("ext.reconfigure")}>
      <ConfigEditor value={config} onChange={setConfig} label={t("ext.config")} />
      <FormFooter error={error} onCancel={onDone} submit={t("action.save")} disabled={!!yamlProblem(config)} />
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Installed extensions and repositories

function Installed() {
  const { t, date, lang } = useI18n();
  const plans = usePlans();
  const exts = useLiveList(marketPath("extensions"));
  const names = useMemo(() => new Map(exts.items.map((e) => [e.metadata.name, localized(e.spec?.displayName, lang, e.metadata.name)])), [exts.items, lang]);
  return (
    <>
      <PageHead title={t("nav.installedExtensions")} />
      <ErrorBox error={plans.error} />
      <Table<K8sObject>
        label={t("nav.installedExtensions")}
        rows={plans.items}
        rowKey={(p) => p.metadata.name}
        columns={[
          {
            title: "col.name",
            render: (p) => {
              const ext = String(p.spec?.extension?.name ?? p.metadata.name);
              return <Link to={`/marketplace/extensions/${ext}`}>{names.get(ext) ?? ext}</Link>;
            },
            sort: (p) => p.metadata.name,
          },
          { title: "col.version", render: (p) => p.status?.version ?? p.spec?.extension?.version },
          { title: "col.status", render: (p) => <PlanState state={p.status?.state} /> },
          { title: "ext.enabled", render: (p) => (p.spec?.enabled === false ? t("ext.no") : t("ext.yes")) },
          { title: "col.message", render: (p) => <span title={failureReason(p.status)}>{failureReason(p.status) || "—"}</span> },
          { title: "store.updated", render: (p) => date(lastChange(p) ?? p.metadata.creationTimestamp) },
        ]}
      />
      {plans.loaded && plans.items.length === 0 && <p className="muted">{t("ext.noneInstalled")}</p>}
    </>
  );
}

const REPO_STATES = new Set(["Syncing", "Synced", "PartiallySynced", "Failed"]);

function lastChange(p: K8sObject): string | undefined {
  const h: HistoryItem[] = p.status?.stateHistory ?? [];
  return h.map((x) => x.lastTransitionTime ?? "").sort().pop() || undefined;
}

function Repos() {
  const { t, date } = useI18n();
  const repos = useLiveList(marketPath("repositories"));
  const [adding, setAdding] = useState(false);
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [removing, setRemoving] = useState("");
  const syncNow = async (repo: string) => {
    try {
      await api.patch(marketPath("repositories", repo), { metadata: { annotations: { [SYNC_ANNOTATION]: new Date().toISOString() } } });
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(marketPath("repositories"), { apiVersion: "kubesphere.io/v1alpha1", kind: "Repository", metadata: { name }, spec: { url } });
      setAdding(false);
      setName("");
      setUrl("");
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <PageHead title={t("nav.extensionRepos")}>
        <button type="button" className="primary" onClick={() => setAdding(!adding)} aria-expanded={adding}>
          {t("action.add")}
        </button>
      </PageHead>
      {adding && (
        <form className="form card" onSubmit={add} aria-label={t("ext.addRepo")}>
          <label>
            {t("col.name")}
            <input name="name" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            URL
            <input name="url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} />
          </label>
          <FormFooter error={error} onCancel={() => setAdding(false)} submit={t("action.add")} />
        </form>
      )}
      <ErrorBox error={repos.error ?? (adding ? null : error)} />
      <Table<K8sObject>
        label={t("nav.extensionRepos")}
        rows={repos.items}
        rowKey={(r) => r.metadata.name}
        columns={[
          { title: "col.name", render: (r) => r.metadata.name, sort: (r) => r.metadata.name },
          { title: "ext.url", render: (r) => r.spec?.url ?? "—" },
          {
            title: "col.status",
            render: (r) => {
              const st = String(r.status?.state ?? "");
              return st ? <span className={`badge ${st === "Synced" ? "ok" : st === "Failed" ? "bad" : "warn"}`} data-state={st}>{REPO_STATES.has(st) ? t(`extrepo.${st}` as MessageKey) : st}</span> : "—";
            },
          },
          { title: "ext.lastSync", render: (r) => date(r.status?.lastSyncTime) },
          { title: "col.message", render: (r) => <span title={r.status?.message}>{r.status?.message || "—"}</span> },
          {
            title: "col.actions",
            render: (r) => (
              <>
                <button type="button" onClick={() => void syncNow(r.metadata.name)}>
                  {t("ext.syncNow")}
                </button>{" "}
                <button type="button" className="danger" onClick={() => setRemoving(r.metadata.name)}>
                  {t("action.delete")}
                </button>
              </>
            ),
          },
        ]}
      />
      <DeleteConfirm open={!!removing} kind={t("ext.repo")} name={removing} path={marketPath("repositories", removing)} onCancel={() => setRemoving("")} onDeleted={() => setRemoving("")} />
    </>
  );
}

/** `/marketplace/…` */
export default function Marketplace() {
  return (
    <Routes>
      <Route index element={<Browse />} />
      <Route path="extensions/:name" element={<ExtensionDetail />} />
      <Route path="installed" element={<Installed />} />
      <Route path="repos" element={<Repos />} />
      <Route path="*" element={<Navigate to="/marketplace" replace />} />
    </Routes>
  );
}
