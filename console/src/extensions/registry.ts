// UI extensions, the pure part (unit tested): which JSBundles are extension entry points, which
// extension an object or a console path belongs to, checking a bundle's default export, menu
// entries for a level, and messages by locale. The contract is docs/extensions.md "UI extensions".

import type { ComponentType } from "react";
import type { K8sObject } from "../api/watch";
import { normalizeLang } from "../i18n";

/** The API of the routing kinds the console reads. */
export const EXT_API = "/apis/extensions.kubesphere.io/v1alpha1";
export const EXTENSION_REF = "kubesphere.io/extension-ref";
/** The `@orrery/console` major version this console provides. */
export const SDK_VERSION = 1;

/** Text by locale (`{en, "zh-CN"}`), or a key of the extension's messages, or plain text. */
export type LocaleText = string | Record<string, string>;

export interface ExtRoute {
  path: string;
  title?: LocaleText;
  component: ComponentType;
}

export interface ExtMenu {
  name?: string;
  parent: string;
  title: LocaleText;
  link: string;
  order?: number;
}

/** A bundle's default export, checked. */
export interface ExtModule {
  sdk?: number;
  routes: ExtRoute[];
  locales: Record<string, Record<string, string>>;
  menus: ExtMenu[];
}

/** The extension an object belongs to: its extension-ref label, else its own name. */
export function extensionOf(o: K8sObject): string {
  return o.metadata.labels?.[EXTENSION_REF] || o.metadata.name;
}

/** Where a JSBundle is served (as the platform does: `status.link` under /dist/, else the default). */
export function bundleLink(o: K8sObject): string {
  const link = o.status?.link;
  return typeof link === "string" && link.startsWith("/dist/") ? link : `/dist/${o.metadata.name}/index.js`;
}

/** Whether the console imports a JSBundle (its link is an `index.js`). */
export function isEntryBundle(o: K8sObject): boolean {
  return bundleLink(o).endsWith("/index.js");
}

/**
 * What makes a bundle a new module: its identity (`uid`), `generation` (its spec) and
 * annotations (e.g. a checksum of the bundle a chart writes, for bundles read from a ConfigMap),
 * but not its status, which the platform updates when it serves the bundle.
 */
export function bundleVersion(o: K8sObject): string {
  const m = o.metadata;
  const annotations = Object.entries(m.annotations ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const text = JSON.stringify([m.uid ?? "", m.generation ?? "", annotations]);
  // FNV-1a, 32 bits: a short, stable query value.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/** The URL a bundle is imported from: its link, with its version (a new version is a new module). */
export function bundleUrl(o: K8sObject): string {
  return `${bundleLink(o)}?v=${bundleVersion(o)}`;
}

/** The entry bundles to import, one per extension (the first by name when there are several). */
export function entryBundles(items: K8sObject[]): Map<string, K8sObject> {
  const out = new Map<string, K8sObject>();
  for (const b of items.slice().sort((x, y) => x.metadata.name.localeCompare(y.metadata.name))) {
    if (b.metadata.deletionTimestamp || !isEntryBundle(b)) continue;
    const ext = extensionOf(b);
    if (!out.has(ext)) out.set(ext, b);
  }
  return out;
}

/** The segments of a path (no empty ones). */
function segments(path: string): string[] {
  return path.split("/").filter(Boolean);
}

/**
 * Where the `ext/<name>` space starts in a path's segments at each level: platform
 * `/ext/…`, cluster `/clusters/:cluster/ext/…`, workspace `/workspaces/:workspace/ext/…`,
 * project `/clusters/:cluster/projects/:namespace/ext/…`.
 */
function extIndex(p: string[]): number {
  if (p[0] === "ext") return 0;
  if (p[0] === "clusters" && p[2] === "ext") return 2;
  if (p[0] === "workspaces" && p[2] === "ext") return 2;
  if (p[0] === "clusters" && p[2] === "projects" && p[4] === "ext") return 4;
  return -1;
}

/** The extension whose space a console path is in (`/clusters/c/ext/hello/x` → hello), or "". */
export function extensionOfPath(pathname: string): string {
  const p = segments(pathname);
  const i = extIndex(p);
  if (i < 0 || !p[i + 1]) return "";
  try {
    return decodeURIComponent(p[i + 1]);
  } catch {
    return p[i + 1];
  }
}

const LEVEL_PARAMS: Record<number, string[]> = { 0: [], 2: [":cluster"], 4: [":cluster", ":namespace"] };

/** Why a route path of extension `ext` is refused, or "" when it is fine. */
export function routeProblem(ext: string, path: unknown): string {
  if (typeof path !== "string" || !path.startsWith("/")) return `route path ${JSON.stringify(path)} must be a string starting with /`;
  const p = segments(path);
  const i = extIndex(p);
  if (i < 0 || p[i + 1] !== ext) return `route path ${path} is outside the extension's space (/ext/${ext}, /clusters/:cluster/ext/${ext}, /workspaces/:workspace/ext/${ext}, /clusters/:cluster/projects/:namespace/ext/${ext})`;
  const params = p[0] === "workspaces" ? [":workspace"] : (LEVEL_PARAMS[i] ?? []);
  const got = p[0] === "clusters" && i === 4 ? [p[1], p[3]] : i === 2 ? [p[1]] : [];
  if (got.join("/") !== params.join("/")) return `route path ${path} must name its level's parameters ${params.join(", ")}`;
  if (p.slice(0, -1).includes("*")) return `route path ${path} may have * only at its end`;
  return "";
}

/** A locale tag as the console's language it stands for (`zh` → zh-CN, `zh-Hant` → zh-TW, `fr-FR` →
 * fr, `en-US` → en); a tag of no shipped language stays as it is. */
export function normalizeLocale(tag: string): string {
  const lang = normalizeLang(tag);
  return lang !== "en" || tag.toLowerCase().startsWith("en") ? lang : tag;
}

function isText(v: unknown): v is LocaleText {
  return typeof v === "string" || (!!v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string"));
}

/** Reads one menu entry (of an ExtensionEntry or a bundle), or says why not. */
export function readMenu(v: unknown): ExtMenu | string {
  if (!v || typeof v !== "object") return "a menu entry must be an object";
  const m = v as Record<string, unknown>;
  if (typeof m.link !== "string" || !m.link.startsWith("/")) return `menu entry ${String(m.name ?? "")}: link must be a console path starting with /`;
  if (!isText(m.title) && !isText(m.name)) return `menu entry ${String(m.name ?? m.link)}: title must be text or a map by locale`;
  return {
    name: typeof m.name === "string" ? m.name : undefined,
    parent: typeof m.parent === "string" ? (m.parent === "global" ? "topbar" : m.parent) : "platform",
    title: isText(m.title) ? m.title : (m.name as string),
    link: m.link,
    order: typeof m.order === "number" ? m.order : 0,
  };
}

/**
 * Whether a failed import() could not fetch the module (worth trying again: the platform may
 * not serve a bundle yet, or its endpoint may be starting), as opposed to a module that threw.
 * The browsers' words: Chromium, Firefox, WebKit.
 */
export function isFetchFailure(e: unknown): boolean {
  return e instanceof TypeError && /dynamically imported module|error loading dynamically imported module|importing a module script failed/i.test(e.message);
}

/** Pauses before importing a bundle again after a fetch failure (then it is reported). */
export const IMPORT_RETRIES_MS = [500, 1000, 2000, 4000, 8000];

/** Thrown when a bundle's default export is not an extension. */
export class BundleError extends Error {}

/**
 * Checks a bundle's module namespace for extension `ext`. Routes outside the extension's space
 * are left out and reported in `problems` (the rest of the extension still works); a module that
 * is no extension at all throws BundleError.
 */
export function readModule(ext: string, ns: unknown): { module: ExtModule; problems: string[] } {
  const d = (ns as { default?: unknown } | null)?.default;
  if (!d || typeof d !== "object") throw new BundleError("the bundle has no default export describing the extension");
  const def = d as Record<string, unknown>;
  if (typeof def.sdk === "number" && def.sdk > SDK_VERSION) throw new BundleError(`the bundle needs @orrery/console ${def.sdk}; this console provides ${SDK_VERSION}`);
  if (!Array.isArray(def.routes)) throw new BundleError("the default export has no routes array");
  const problems: string[] = [];
  const routes: ExtRoute[] = [];
  for (const r of def.routes as Record<string, unknown>[]) {
    const why = routeProblem(ext, r?.path);
    if (why) {
      problems.push(why);
      continue;
    }
    if (typeof r.component !== "function" && !(r.component && typeof r.component === "object")) {
      problems.push(`route ${String(r.path)} has no component`);
      continue;
    }
    routes.push({ path: r.path as string, title: isText(r.title) ? r.title : undefined, component: r.component as ComponentType });
  }
  const locales: Record<string, Record<string, string>> = {};
  if (def.locales && typeof def.locales === "object") {
    for (const [tag, msgs] of Object.entries(def.locales as Record<string, unknown>)) {
      if (!msgs || typeof msgs !== "object") continue;
      const lang = normalizeLocale(tag);
      locales[lang] = { ...locales[lang] };
      for (const [k, v] of Object.entries(msgs as Record<string, unknown>)) if (typeof v === "string") locales[lang][k] = v;
    }
  }
  const menus: ExtMenu[] = [];
  for (const m of Array.isArray(def.menus) ? def.menus : []) {
    const r = readMenu(m);
    if (typeof r === "string") problems.push(r);
    else menus.push(r);
  }
  return { module: { sdk: typeof def.sdk === "number" ? def.sdk : undefined, routes, locales, menus }, problems };
}

/** The menu entries of ExtensionEntry objects, with the extension each belongs to. */
export function entriesOf(objects: K8sObject[]): { ext: string; menu: ExtMenu }[] {
  const out: { ext: string; menu: ExtMenu }[] = [];
  for (const o of objects) {
    if (o.metadata.deletionTimestamp) continue;
    const list: unknown[] = Array.isArray(o.spec?.entries) ? o.spec.entries : [];
    for (const e of list) {
      const m = readMenu(e);
      if (typeof m !== "string") out.push({ ext: extensionOf(o), menu: m });
    }
  }
  return out;
}

/** The level a console page is at, with what a menu link may fill in. */
export type MenuLevel =
  | { kind: "platform" }
  | { kind: "store" }
  | { kind: "marketplace" }
  | { kind: "cluster"; cluster: string }
  | { kind: "workspace"; ws: string }
  | { kind: "project"; cluster: string; ns: string };

/** Fills `:cluster`, `:workspace`, `:namespace` in `link` from `level`; null when one cannot be. */
export function fillLink(link: string, level: MenuLevel): string | null {
  const values: Record<string, string | undefined> = {
    cluster: level.kind === "cluster" || level.kind === "project" ? level.cluster : undefined,
    workspace: level.kind === "workspace" ? level.ws : undefined,
    namespace: level.kind === "project" ? level.ns : undefined,
  };
  let missing = false;
  const out = link.replace(/:(cluster|workspace|namespace)\b/g, (_, k: string) => {
    const v = values[k];
    if (!v) missing = true;
    return encodeURIComponent(v ?? "");
  });
  return missing ? null : out;
}

/** The entries for a place (`topbar`, or the level's side navigation), links filled, in order. */
export function menusFor<T extends { menu: ExtMenu }>(all: T[], place: "topbar" | MenuLevel["kind"], level: MenuLevel, title: (e: T) => string): (T & { to: string; label: string })[] {
  const out: (T & { to: string; label: string })[] = [];
  const seen = new Set<string>();
  for (const e of all) {
    if (e.menu.parent !== place) continue;
    const to = fillLink(e.menu.link, level);
    if (to === null || seen.has(to)) continue;
    seen.add(to);
    out.push({ ...e, to, label: title(e) });
  }
  return out.sort((a, b) => (a.menu.order ?? 0) - (b.menu.order ?? 0) || a.label.localeCompare(b.label));
}

/**
 * Text in `lang`: a map by locale picks the language (then en, then any); a string is a key of
 * `messages` (the language's, then en's), then of the console's (`fallback`), else itself.
 * `{name}` placeholders are filled from `vars`.
 */
export function localize(
  text: LocaleText | undefined,
  lang: string,
  messages: Record<string, Record<string, string>> | undefined,
  fallback?: (key: string) => string | undefined,
  vars?: Record<string, string | number>,
): string {
  let s: string;
  if (text === undefined) s = "";
  else if (typeof text === "string") s = messages?.[lang]?.[text] ?? messages?.en?.[text] ?? fallback?.(text) ?? text;
  else {
    const byLang: Record<string, string> = {};
    for (const [k, v] of Object.entries(text)) byLang[normalizeLocale(k)] = v;
    s = byLang[lang] ?? byLang.en ?? Object.values(byLang)[0] ?? "";
  }
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}
