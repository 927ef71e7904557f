import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from "react";
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { api } from "./api/client";
import { useCan } from "./api/hooks";
import { setHostCluster } from "./api/paths";
import { I18nProvider, loadCatalogue, normalizeLang, translate, useI18n, type Lang } from "./i18n";
import { useTitle } from "./components/ui";
import { AppContext, type AppState, type Theme } from "./state/context";
import { loadSession, saveLang, type SessionUser } from "./state/session";
import { loadClusters, type ClusterInfo } from "./state/clusters";
import { Login, ChangePassword, FirstLoginPage } from "./pages/Login";
import { Shell } from "./Shell";
import { ExtensionsProvider, extensionRoutes, useExtensions } from "./extensions/loader";

// Each level's pages are their own chunk, fetched when first visited.
const Platform = lazy(() => import("./pages/platform"));
const Cluster = lazy(() => import("./pages/cluster"));
const Workspace = lazy(() => import("./pages/workspace"));
const Project = lazy(() => import("./pages/project"));
const AppStore = lazy(() => import("./pages/appstore"));
const Observability = lazy(() => import("./pages/observability"));
const Marketplace = lazy(() => import("./pages/marketplace"));

function initialTheme(): Theme {
  const saved = localStorage.getItem("orrery-theme");
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function Guard({ user, children }: { user: SessionUser | null; children: React.ReactNode }) {
  const loc = useLocation();
  if (!user) return <Navigate to="/login" replace state={{ from: loc.pathname }} />;
  if (user.mustChangePassword) return <Navigate to="/password" replace />;
  return <>{children}</>;
}

/** The console's home: the clusters for those who may see them, else the workspaces. */
function Home() {
  const { t } = useI18n();
  const clusters = useCan(undefined, { verb: "list", group: "cluster.kubesphere.io", resource: "clusters" });
  if (clusters === null) return <p className="muted">{t("app.loading")}</p>;
  return <Navigate to={clusters ? "/platform/clusters" : "/platform/workspaces"} replace />;
}

/** An unknown console address: says so, with a way home. */
function NotFound() {
  const { t } = useI18n();
  useTitle(t("notFound.title"));
  return (
    <>
      <h1>{t("notFound.title")}</h1>
      <p>
        <Link to="/">{t("notFound.home")}</Link>
      </p>
    </>
  );
}

/** The pages inside the console's frame: its own, then the UI extensions' (docs/extensions.md). */
function Pages() {
  const extensions = useExtensions();
  return (
    <Routes>
      <Route index element={<Home />} />
      <Route path="platform/*" element={<Platform />} />
      <Route path="store/*" element={<AppStore />} />
      <Route path="marketplace/*" element={<Marketplace />} />
      <Route path="observe/*" element={<Observability />} />
      <Route path="clusters/:cluster/projects/:ns/*" element={<Project />} />
      <Route path="clusters/:cluster/*" element={<Cluster />} />
      <Route path="workspaces/:ws/*" element={<Workspace />} />
      {extensionRoutes(extensions)}
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}

function Routed({ state }: { state: AppState }) {
  const navigate = useNavigate();
  useEffect(() => {
    api.onUnauthorized = () => {
      state.setUser(null);
      navigate("/login", { replace: true });
    };
  }, [navigate, state]);
  const { user } = state;
  const loading = <p className="muted">{translate(state.lang, "app.loading")}</p>;
  return (
    <Suspense fallback={loading}>
      <Routes>
        <Route path="/login" element={<Login />} />
        <Route path="/first-login" element={<FirstLoginPage />} />
        <Route path="/password" element={user ? <ChangePassword /> : <Navigate to="/login" replace />} />
        <Route
          path="/*"
          element={
            <Guard user={user}>
              <ExtensionsProvider>
                <Shell>
                  <Suspense fallback={loading}>
                    <Pages />
                  </Suspense>
                </Shell>
              </ExtensionsProvider>
            </Guard>
          }
        />
      </Routes>
    </Suspense>
  );
}

/** The console: session bootstrap, providers and routes. */
export function App() {
  const [user, setUserState] = useState<SessionUser | null>(null);
  const [booted, setBooted] = useState(false);
  const [bootError, setBootError] = useState<string | null>(null);
  const [lang, setLangState] = useState<Lang>(normalizeLang(navigator.language));
  const [theme, setThemeState] = useState<Theme>(initialTheme);
  const [clusters, setClusters] = useState<ClusterInfo[]>([{ name: "host", host: true, ready: null }]);
  const [clusterTick, setClusterTick] = useState(0);

  const reloadClusters = useCallback(() => setClusterTick((t) => t + 1), []);
  const setUser = useCallback((u: SessionUser | null) => {
    setUserState(u);
    if (u?.lang) setLangState(normalizeLang(u.lang));
  }, []);
  useEffect(() => {
    loadSession()
      // The user's language is fetched before the first page shows, so nothing flashes in English.
      .then((u) => loadCatalogue(normalizeLang(u?.lang || navigator.language)).then(() => setUser(u), () => setUser(u)))
      .catch((e: Error) => setBootError(e.message))
      .finally(() => setBooted(true));
  }, [setUser]);
  useEffect(() => {
    if (!user || user.mustChangePassword) return;
    loadClusters()
      .then((cs) => {
        const host = cs.find((c) => c.host);
        if (host) setHostCluster(host.name);
        setClusters(cs);
      })
      .catch(() => undefined);
  }, [user, clusterTick]);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("orrery-theme", theme);
  }, [theme]);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  const state = useMemo<AppState>(
    () => ({
      user,
      setUser,
      lang,
      setLang: (l) => {
        // The page stays in the current language until the chosen one's catalogue is here.
        void loadCatalogue(l).then(() => setLangState(l), () => setLangState(l));
        if (user) void saveLang(user.name, l).catch(() => undefined);
      },
      theme,
      setTheme: setThemeState,
      clusters,
      reloadClusters,
    }),
    [user, setUser, lang, theme, clusters, reloadClusters],
  );

  if (!booted) return <p className="muted">{translate(lang, "app.loading")}</p>;
  return (
    <AppContext.Provider value={state}>
      <I18nProvider lang={lang}>
        {bootError && <div className="error">{bootError}</div>}
        <BrowserRouter basename="/console">
          <Routed state={state} />
        </BrowserRouter>
      </I18nProvider>
    </AppContext.Provider>
  );
}
