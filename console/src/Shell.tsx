import { lazy, Suspense, useCallback, useEffect, useState, type ReactNode } from "react";
import { NavLink, useLocation, useNavigate } from "react-router-dom";
import { useI18n, languages, type Lang } from "./i18n";
import type { MessageKey } from "./i18n/en";
import { useApp } from "./state/context";
import { logout } from "./state/session";
import { useCan, useLoad } from "./api/hooks";
import { TENANT } from "./api/paths";
import type { K8sObject } from "./api/watch";
import { useExtensionMenus } from "./extensions/loader";
import { useHiddenAccessLinks } from "./state/accessLinks";

const GlobalSearch = lazy(() => import("./components/GlobalSearch"));

/** Opens the global search on `/` (outside text fields) or Ctrl+K / ⌘K (outside the terminal and
 * the YAML editor, which have their own Ctrl+K). */
function useSearchShortcut(open: () => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = e.target instanceof HTMLElement ? e.target : null;
      const editor = !!el?.closest(".xterm, .cm-editor");
      const typing = editor || !!el?.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el?.tagName ?? "");
      const ctrlK = e.key.toLowerCase() === "k" && (e.ctrlKey || e.metaKey) && !e.altKey && !editor;
      const slash = e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing;
      if (ctrlK || slash) {
        e.preventDefault();
        open();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);
}

type Level = { kind: "platform" } | { kind: "store" } | { kind: "marketplace" } | { kind: "cluster"; cluster: string } | { kind: "workspace"; ws: string } | { kind: "project"; cluster: string; ns: string };

/** Which level a console path is at. */
export function levelOf(path: string): Level {
  const p = path.split("/").filter(Boolean);
  if (p[0] === "clusters" && p[1]) {
    if (p[2] === "projects" && p[3]) return { kind: "project", cluster: p[1], ns: p[3] };
    return { kind: "cluster", cluster: p[1] };
  }
  if (p[0] === "workspaces" && p[1]) return { kind: "workspace", ws: p[1] };
  if (p[0] === "store") return { kind: "store" };
  if (p[0] === "marketplace") return { kind: "marketplace" };
  return { kind: "platform" };
}

function navOf(level: Level): { title: MessageKey; links: [MessageKey, string][] } {
  switch (level.kind) {
    case "platform":
      return {
        title: "nav.platform",
        links: [
          ["nav.clusters", "/platform/clusters"],
          ["nav.users", "/platform/users"],
          ["nav.roles", "/platform/roles"],
          ["nav.workspaces", "/platform/workspaces"],
          ["nav.idps", "/platform/identity-providers"],
          ["nav.settings", "/platform/settings"],
          ["obs.monitoring", "/observe/monitoring"],
          ["obs.events", "/observe/events"],
          ["obs.alerts", "/observe/alerts"],
          ["obs.audit", "/observe/audit"],
        ],
      };
    case "marketplace":
      return {
        title: "nav.extensions",
        links: [
          ["nav.marketplace", "/marketplace"],
          ["nav.installedExtensions", "/marketplace/installed"],
          ["nav.extensionRepos", "/marketplace/repos"],
        ],
      };
    case "store":
      return {
        title: "nav.store",
        links: [
          ["nav.store", "/store"],
          ["nav.reviews", "/store/reviews"],
          ["nav.manageApps", "/store/manage"],
          ["nav.repos", "/store/repos"],
        ],
      };
    case "cluster": {
      const c = `/clusters/${level.cluster}`;
      return {
        title: "nav.cluster",
        links: [
          ["nav.overview", `${c}/overview`],
          ["nav.nodes", `${c}/nodes`],
          ["nav.namespaces", `${c}/namespaces`],
          ["nav.workloads", `${c}/r/deployments`],
          ["nav.pods", `${c}/r/pods`],
          ["nav.services", `${c}/r/services`],
          ["nav.configmaps", `${c}/r/configmaps`],
          ["nav.secrets", `${c}/r/secrets`],
          ["res.nav.ingresses", `${c}/r/ingresses`],
          ["res.nav.pvcs", `${c}/r/persistentvolumeclaims`],
          ["res.nav.pvs", `${c}/r/persistentvolumes`],
          ["res.nav.storageclasses", `${c}/r/storageclasses`],
          ["nav.crds", `${c}/crds`],
          ["nav.events", `${c}/r/events`],
          ["nav.members", `${c}/members`],
          ["nav.clusterRoles", `${c}/roles`],
          ["obs.monitoring", `/observe/monitoring?cluster=${level.cluster}`],
          ["obs.alerts", `/observe/alerts?scope=cluster&cluster=${level.cluster}`],
        ],
      };
    }
    case "workspace": {
      const w = `/workspaces/${level.ws}`;
      return {
        title: "nav.workspace",
        links: [
          ["nav.overview", `${w}/overview`],
          ["nav.projects", `${w}/projects`],
          ["nav.members", `${w}/members`],
          ["nav.wsroles", `${w}/roles`],
          ["nav.appTemplates", `${w}/apps`],
          ["nav.appRepos", `${w}/repos`],
          ["res.nav.settings", `${w}/settings`],
          ["obs.monitoring", `/observe/monitoring?level=workspace&ws=${level.ws}`],
          ["obs.audit", `/observe/audit?ws=${level.ws}`],
        ],
      };
    }
    case "project": {
      const p = `/clusters/${level.cluster}/projects/${level.ns}`;
      return {
        title: "nav.project",
        links: [
          ["nav.deployments", `${p}/deployments`],
          ["nav.statefulsets", `${p}/statefulsets`],
          ["nav.daemonsets", `${p}/daemonsets`],
          ["nav.jobs", `${p}/jobs`],
          ["nav.cronjobs", `${p}/cronjobs`],
          ["nav.pods", `${p}/pods`],
          ["nav.services", `${p}/services`],
          ["nav.configmaps", `${p}/configmaps`],
          ["nav.secrets", `${p}/secrets`],
          ["res.nav.ingresses", `${p}/ingresses`],
          ["res.nav.networkpolicies", `${p}/networkpolicies`],
          ["res.nav.pvcs", `${p}/persistentvolumeclaims`],
          ["res.nav.serviceaccounts", `${p}/serviceaccounts`],
          ["nav.apps", `${p}/apps`],
          ["nav.members", `${p}/members`],
          ["nav.wsroles", `${p}/roles`],
          ["res.nav.settings", `${p}/settings`],
          ["obs.monitoring", `/observe/monitoring?cluster=${level.cluster}&level=project&ns=${level.ns}`],
          ["obs.events", `/observe/events?cluster=${level.cluster}&ns=${level.ns}`],
          ["obs.alerts", `/observe/alerts?scope=project&cluster=${level.cluster}&ns=${level.ns}`],
        ],
      };
    }
  }
}

/** The platform- and store-level pages the user may use (others are not offered). */
function useHiddenLinks(): Set<string> {
  const rights: [string, boolean | null][] = [
    ["/platform/clusters", useCan(undefined, { verb: "list", group: "cluster.kubesphere.io", resource: "clusters" })],
    ["/platform/users", useCan(undefined, { verb: "list", group: "iam.kubesphere.io", resource: "users" })],
    ["/platform/roles", useCan(undefined, { verb: "list", group: "iam.kubesphere.io", resource: "globalroles" })],
    ["/platform/identity-providers", useCan(undefined, { verb: "list", resource: "secrets", namespace: "kubesphere-system" })],
    ["/store/reviews", useCan(undefined, { verb: "update", group: "application.kubesphere.io", resource: "reviews" })],
    ["/store/manage", useCan(undefined, { verb: "update", group: "application.kubesphere.io", resource: "apps" })],
    ["/store/repos", useCan(undefined, { verb: "create", group: "application.kubesphere.io", resource: "repos" })],
    ["/marketplace", useCan(undefined, { verb: "list", group: "kubesphere.io", resource: "installplans" })],
  ];
  return new Set(rights.filter(([, ok]) => ok !== true).map(([to]) => to));
}

/** Top bar (switchers, language, theme, user menu) and the level's navigation. */
export function Shell({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const app = useApp();
  const loc = useLocation();
  const navigate = useNavigate();
  const level = levelOf(loc.pathname);
  const hidden = useHiddenLinks();
  // UI extensions' menu entries: the top bar's, and the side navigation's at this level.
  const extTop = useExtensionMenus("topbar", level);
  const extSide = useExtensionMenus(level.kind, level);
  const full = navOf(level);
  // A cluster's, workspace's or project's members and roles pages, for those who may list them.
  const hiddenHere = useHiddenAccessLinks(
    level.kind === "cluster" || level.kind === "project" ? level.cluster : undefined,
    level.kind === "workspace" ? level.ws : undefined,
    level.kind === "project" ? level.ns : undefined,
  );
  const nav = { ...full, links: full.links.filter(([, to]) => !hidden.has(to) && !hiddenHere.has(to)) };
  const workspaces = useLoad<{ items: K8sObject[] }>(`${TENANT}/workspaces`);
  // Workspaces come and go on other pages; the switcher catches up on each navigation.
  const reloadWorkspaces = workspaces.reload;
  useEffect(() => reloadWorkspaces(), [loc.pathname, reloadWorkspaces]);
  const currentCluster = level.kind === "cluster" || level.kind === "project" ? level.cluster : "";
  const currentWs = level.kind === "workspace" ? level.ws : "";
  // On narrow windows the navigation is folded away behind a Menu button; it folds again on
  // each navigation.
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => setNavOpen(false), [loc.pathname]);
  const [searching, setSearching] = useState(false);
  useSearchShortcut(useCallback(() => setSearching(true), []));
  return (
    <>
      <a className="skip" href="#content">
        {t("app.skip")}
      </a>
      <header className="topbar">
        <button type="button" className="menu-toggle" aria-expanded={navOpen} aria-controls="side-nav" onClick={() => setNavOpen(!navOpen)}>
          ☰ {t("nav.menu")}
        </button>
        <NavLink to="/" end className="brand">
          {t("app.name")}
        </NavLink>
        <NavLink to="/store">{t("nav.store")}</NavLink>
        {!hidden.has("/marketplace") && <NavLink to="/marketplace">{t("nav.extensions")}</NavLink>}
        {extTop.map((e) => (
          <NavLink key={e.to} to={e.to} data-extension={e.ext}>
            {e.label}
          </NavLink>
        ))}
        <label>
          {t("top.cluster")}
          <select aria-label={t("top.cluster")} value={currentCluster} onChange={(e) => e.target.value && navigate(`/clusters/${e.target.value}/overview`)}>
            <option value="">—</option>
            {app.clusters.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("top.workspace")}
          <select aria-label={t("top.workspace")} value={currentWs} onChange={(e) => e.target.value && navigate(`/workspaces/${e.target.value}/overview`)}>
            <option value="">—</option>
            {(workspaces.data?.items ?? []).map((w) => (
              <option key={w.metadata.name} value={w.metadata.name}>
                {w.metadata.name}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <button type="button" className="search-open" aria-keyshortcuts="/ Control+K" title={t("search.shortcut")} onClick={() => setSearching(true)}>
          {t("search.open")} <kbd>/</kbd>
        </button>
        <label>
          {t("top.language")}
          <select aria-label={t("top.language")} value={app.lang} onChange={(e) => app.setLang(e.target.value as Lang)}>
            {languages.map((l) => (
              <option key={l.lang} value={l.lang}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => app.setTheme(app.theme === "dark" ? "light" : "dark")}>
          {t("top.theme")}: {app.theme === "dark" ? t("top.theme.dark") : t("top.theme.light")}
        </button>
        <span aria-label={t("top.user")} data-testid="user">
          {app.user?.name}
        </span>
        <NavLink to="/password">{t("top.changePassword")}</NavLink>
        <button
          type="button"
          onClick={async () => {
            await logout();
            app.setUser(null);
            navigate("/login");
          }}
        >
          {t("top.logout")}
        </button>
      </header>
      {searching && (
        <Suspense fallback={null}>
          <GlobalSearch onClose={() => setSearching(false)} />
        </Suspense>
      )}
      <div className="shell">
        <nav id="side-nav" className={navOpen ? "side open" : "side"} aria-label={t(nav.title)}>
          {level.kind !== "platform" && (
            <NavLink to="/" end>← {t("nav.platform")}</NavLink>
          )}
          <h2>
            {t(nav.title)}
            {level.kind === "cluster" || level.kind === "project" ? `: ${level.cluster}` : ""}
            {level.kind === "workspace" ? `: ${level.ws}` : ""}
          </h2>
          {level.kind === "project" && <div className="muted" style={{ padding: "0 16px" }}>{level.ns}</div>}
          {nav.links.map(([key, to]) => (
            <NavLink key={to} to={to}>
              {t(key)}
            </NavLink>
          ))}
          {extSide.map((e) => (
            <NavLink key={e.to} to={e.to} data-extension={e.ext}>
              {e.label}
            </NavLink>
          ))}
        </nav>
        <main id="content" tabIndex={-1}>
          {children}
        </main>
      </div>
    </>
  );
}
