// UI extensions, the live part: the JSBundles and ExtensionEntries the user may read, kept
// current by watches; each extension's entry bundle imported with a dynamic import() (again when
// its JSBundle changes), checked, and its routes, menus and messages offered to the console.
// A bundle that fails is recorded with its reason and shown in its own area only.

import { Component, createContext, Suspense, useContext, useEffect, useMemo, useRef, useState, type ErrorInfo, type ReactNode } from "react";
import { Route, useLocation } from "react-router-dom";
import { useLiveList } from "../api/hooks";
import { useI18n } from "../i18n";
import { useTitle } from "../components/ui";
import { ExtensionScope } from "./context";
import { BundleError, bundleUrl, entriesOf, entryBundles, EXT_API, extensionOfPath, IMPORT_RETRIES_MS, isFetchFailure, localize, menusFor, readModule, type ExtMenu, type ExtModule, type ExtRoute, type MenuLevel } from "./registry";

export interface LoadedExtension {
  name: string;
  /** The JSBundle object's name. */
  bundle: string;
  url: string;
  state: "loading" | "ready" | "failed";
  error?: string;
  /** Parts of the module left out (routes outside the extension's space, bad menus). */
  problems: string[];
  module?: ExtModule;
}

export interface ExtensionsValue {
  extensions: Record<string, LoadedExtension>;
  /** Menu entries of ExtensionEntry objects and of loaded bundles. */
  entries: { ext: string; menu: ExtMenu }[];
  /** Whether the JSBundles have been listed (until then a page in an extension's space waits). */
  listed: boolean;
}

/** The extensions (the provider below fills it; tests may give their own value). */
export const ExtensionsContext = createContext<ExtensionsValue>({ extensions: {}, entries: [], listed: false });
const Ctx = ExtensionsContext;

export function useExtensions(): ExtensionsValue {
  return useContext(Ctx);
}

export type Importer = (url: string) => Promise<unknown>;
const importModule: Importer = (url) => import(/* @vite-ignore */ url);

function message(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** Lists, watches and imports the extensions for everything below it. */
export function ExtensionsProvider({ children, importer = importModule }: { children: ReactNode; importer?: Importer }) {
  const bundles = useLiveList(`${EXT_API}/jsbundles`);
  const entryObjects = useLiveList(`${EXT_API}/extensionentries`);
  const [extensions, setExtensions] = useState<Record<string, LoadedExtension>>({});
  const wanted = useMemo(() => entryBundles(bundles.items), [bundles.items]);
  // The URL each extension's import was started for (a newer one makes older answers stale).
  const started = useRef(new Map<string, string>());

  useEffect(() => {
    for (const ext of [...started.current.keys()]) if (!wanted.has(ext)) started.current.delete(ext);
    setExtensions((cur) => {
      const gone = Object.keys(cur).filter((k) => !wanted.has(k));
      if (!gone.length) return cur;
      const next = { ...cur };
      for (const k of gone) delete next[k];
      return next;
    });
    for (const [ext, b] of wanted) {
      const url = bundleUrl(b);
      if (started.current.get(ext) === url) continue;
      started.current.set(ext, url);
      const settle = (patch: Partial<LoadedExtension>) => {
        if (started.current.get(ext) !== url) return;
        setExtensions((cur) => (cur[ext] ? { ...cur, [ext]: { ...cur[ext], ...patch } } : cur));
      };
      // Until the new module is in, the previous one (if any) keeps serving its pages.
      setExtensions((cur) => ({ ...cur, [ext]: { name: ext, bundle: b.metadata.name, url, state: "loading", problems: [], module: cur[ext]?.module } }));
      // A bundle that cannot be fetched is asked for again a few times (under a new URL: a
      // browser may remember a failed module); one that throws or is no extension is reported.
      const attempt = (n: number) =>
        importer(n ? `${url}&try=${n}` : url).then(
          (ns) => {
            try {
              const { module, problems } = readModule(ext, ns);
              if (problems.length) console.warn(`extension ${ext}:`, problems.join("; "));
              settle({ state: "ready", module, problems, error: undefined });
            } catch (e) {
              settle({ state: "failed", module: undefined, error: e instanceof BundleError ? e.message : message(e) });
            }
          },
          (e: unknown) => {
            if (started.current.get(ext) !== url) return;
            if (isFetchFailure(e) && n < IMPORT_RETRIES_MS.length) {
              setTimeout(() => void attempt(n + 1), IMPORT_RETRIES_MS[n]);
              return;
            }
            console.error(`extension ${ext}: its bundle ${url} failed to load`, e);
            settle({ state: "failed", module: undefined, error: message(e) });
          },
        );
      void attempt(0);
    }
  }, [wanted, importer]);

  const entries = useMemo(() => {
    const all = entriesOf(entryObjects.items);
    for (const e of Object.values(extensions)) for (const m of e.module?.menus ?? []) all.push({ ext: e.name, menu: m });
    return all;
  }, [entryObjects.items, extensions]);
  const listed = bundles.loaded || !!bundles.error;
  const value = useMemo(() => ({ extensions, entries, listed }), [extensions, entries, listed]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

/** The extension menu entries for `place` at `level`, labelled in the console's language. */
export function useExtensionMenus(place: "topbar" | MenuLevel["kind"], level: MenuLevel) {
  const { entries, extensions } = useExtensions();
  const { lang } = useI18n();
  return useMemo(
    () => menusFor(entries, place, level, (e) => localize(e.menu.title, lang, extensions[e.ext]?.module?.locales)),
    // `level` is a fresh object each render; its fields decide.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [entries, extensions, lang, place, JSON.stringify(level)],
  );
}

/** An extension's failure, in its own area. */
export function ExtensionError({ name, error }: { name: string; error: string }) {
  const { t } = useI18n();
  return (
    <div className="error" role="alert" data-extension-error={name}>
      <div>{t("ext.failed", { name })}</div>
      <details>
        <summary>{t("ext.details")}</summary>
        <pre>{error}</pre>
      </details>
    </div>
  );
}

/** Keeps a page's render errors inside the page (`resetKey` changing tries again). */
class Boundary extends Component<{ name: string; resetKey: string; children: ReactNode }, { error: Error | null; key: string }> {
  state: { error: Error | null; key: string } = { error: null, key: this.props.resetKey };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  static getDerivedStateFromProps(props: { resetKey: string }, state: { error: Error | null; key: string }) {
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }
  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error(`extension ${this.props.name} failed while rendering`, error, info.componentStack);
  }
  render() {
    if (this.state.error) return <ExtensionError name={this.props.name} error={message(this.state.error)} />;
    return this.props.children;
  }
}

function Loading() {
  const { t } = useI18n();
  return <p className="muted">{t("app.loading")}</p>;
}

/** One route of an extension: its scope (name, messages), title, and error boundary. */
function ExtensionPage({ ext, route }: { ext: LoadedExtension; route: ExtRoute }) {
  const { lang } = useI18n();
  const locales = ext.module?.locales ?? {};
  useTitle(localize(route.title, lang, locales) || undefined);
  const Page = route.component;
  return (
    <ExtensionScope name={ext.name} locales={locales}>
      <Boundary name={ext.name} resetKey={`${ext.url} ${route.path}`}>
        <Suspense fallback={<Loading />}>
          <section data-extension={ext.name}>
            <Page />
          </section>
        </Suspense>
      </Boundary>
    </ExtensionScope>
  );
}

/** A path in an extension's space that none of its routes serves: loading, failed or unknown. */
function ExtensionSpace() {
  const { t } = useI18n();
  const loc = useLocation();
  const name = extensionOfPath(loc.pathname);
  const { extensions, listed } = useExtensions();
  const ext = extensions[name];
  useTitle(name);
  if (!ext) return listed ? <ExtensionError name={name} error={t("ext.notInstalled", { name })} /> : <Loading />;
  if (ext.state === "failed") return <ExtensionError name={name} error={ext.error ?? ""} />;
  if (ext.state === "loading" && !ext.module) return <Loading />;
  return <ExtensionError name={name} error={[t("ext.noPage", { path: loc.pathname }), ...ext.problems].join("\n")} />;
}

/** The extensions' routes (their own, then each level's extension space), for the console's <Routes>. */
export function extensionRoutes(value: ExtensionsValue): ReactNode[] {
  const out: ReactNode[] = [];
  for (const ext of Object.values(value.extensions).sort((a, b) => a.name.localeCompare(b.name))) {
    for (const r of ext.module?.routes ?? []) {
      out.push(<Route key={`${ext.name} ${r.path}`} path={r.path.slice(1)} element={<ExtensionPage ext={ext} route={r} />} />);
    }
  }
  for (const p of ["ext/:ext/*", "clusters/:cluster/ext/:ext/*", "workspaces/:workspace/ext/:ext/*", "clusters/:cluster/projects/:namespace/ext/:ext/*"]) {
    out.push(<Route key={p} path={p} element={<ExtensionSpace />} />);
  }
  return out;
}
