// The extension marketplace's API (`kubesphere.io/v1alpha1`: Repository, Extension,
// ExtensionVersion, Category, InstallPlan, read and written natively on the host) and the pure
// helpers its pages share (unit tested).

import { load } from "js-yaml";
import type { K8sObject } from "./watch";
import { localize, normalizeLocale } from "../extensions/registry";

export const MARKET = "/apis/kubesphere.io/v1alpha1";
export const EXTENSION_REF = "kubesphere.io/extension-ref";
export const CATEGORY_LABEL = "kubesphere.io/category";
/** Set by the console to ask the installer to try a failed step again. */
export const RETRY_ANNOTATION = "extensions.orrery.io/retry";
/** Set by the console to have a Repository synced now. */
export const SYNC_ANNOTATION = "orrery.io/sync-requested";
/** Where the marketplace's Extension objects live, one by name. */
export function marketPath(plural: "repositories" | "extensions" | "extensionversions" | "categories" | "installplans", name?: string): string {
  return name ? `${MARKET}/${plural}/${encodeURIComponent(name)}` : `${MARKET}/${plural}`;
}

/** A field that is a map by locale (`displayName`, `description`) in `lang`, else `fallback`. */
export function localized(v: unknown, lang: string, fallback = ""): string {
  if (typeof v === "string") return v;
  if (v && typeof v === "object") return localize(v as Record<string, string>, lang, undefined) || fallback;
  return fallback;
}

/** A provider in `lang` (`spec.provider` is a map by locale of `{name, email, url}`). */
export function providerOf(o: K8sObject | undefined, lang: string): { name?: string; email?: string; url?: string } | undefined {
  const p = o?.spec?.provider as Record<string, { name?: string; email?: string; url?: string }> | undefined;
  if (!p || typeof p !== "object") return undefined;
  const byLang: Record<string, { name?: string; email?: string; url?: string }> = {};
  for (const [k, v] of Object.entries(p)) byLang[normalizeLocale(k)] = v;
  return byLang[lang] ?? byLang.en ?? Object.values(byLang)[0];
}

/** Semantic versions compared (pre-releases before their release); -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre = ""] = v.replace(/^v/, "").split("+")[0].split(/-(.*)/s);
    return { nums: core.split(".").map((n) => Number(n) || 0), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  if (x.pre === y.pre) return 0;
  if (!x.pre) return 1;
  if (!y.pre) return -1;
  return x.pre.localeCompare(y.pre, undefined, { numeric: true }) < 0 ? -1 : 1;
}

/** ExtensionVersions newest first. */
export function newestVersions(versions: K8sObject[]): K8sObject[] {
  return versions.slice().sort((a, b) => compareVersions(String(b.spec?.version ?? ""), String(a.spec?.version ?? "")));
}

/** Whether an extension matches a search (name, display name and description in any language, keywords). */
export function matchesSearch(ext: K8sObject, q: string): boolean {
  const needle = q.trim().toLowerCase();
  if (!needle) return true;
  const texts = [ext.metadata.name];
  for (const f of ["displayName", "description"]) {
    const v = ext.spec?.[f];
    if (typeof v === "string") texts.push(v);
    else if (v && typeof v === "object") texts.push(...Object.values(v as Record<string, string>).map(String));
  }
  const kw = ext.spec?.keywords;
  if (Array.isArray(kw)) texts.push(...kw.map(String));
  return texts.some((t) => t.toLowerCase().includes(needle));
}

/** The category of an extension (its label). */
export function categoryOf(ext: K8sObject): string {
  return ext.metadata.labels?.[CATEGORY_LABEL] ?? "";
}

/** States an InstallPlan passes through (the page follows them live). */
export const SETTLING = new Set(["Preparing", "Installing", "Upgrading", "Uninstalling"]);
export const FAILED = new Set(["InstallFailed", "UpgradeFailed", "UninstallFailed"]);

/** The colour of a state badge. */
export function stateClass(state: string | undefined): "ok" | "warn" | "bad" {
  if (!state) return "warn";
  if (FAILED.has(state)) return "bad";
  return state === "Installed" || state === "Upgraded" ? "ok" : "warn";
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** Why a failed InstallPlan (or one of its clusters) failed: its newest condition that says so. */
export function failureReason(status: { state?: string; conditions?: Condition[] } | undefined): string {
  if (!status?.state || !FAILED.has(status.state)) return "";
  const conds = (status.conditions ?? []).slice().sort((a, b) => String(b.lastTransitionTime ?? "").localeCompare(String(a.lastTransitionTime ?? "")));
  const c = conds.find((x) => x.status === "False" && x.message) ?? conds.find((x) => x.message);
  if (!c) return "";
  return c.reason ? `${c.reason}: ${c.message}` : (c.message ?? "");
}

/** Checks YAML text as values (empty, or a map); the parse error otherwise. */
export function yamlProblem(text: string): string {
  if (!text.trim()) return "";
  try {
    const v = load(text);
    if (v === null || v === undefined) return "";
    return typeof v === "object" && !Array.isArray(v) ? "" : "values must be a map (key: value)";
  } catch (e) {
    return (e as Error).message;
  }
}

export interface InstallChoice {
  extension: string;
  version: string;
  config: string;
  multicluster: boolean;
  clusters: string[];
  overrides: Record<string, string>;
}

/** The InstallPlan for an install (named after the extension, as KubeSphere names them). */
export function installPlan(c: InstallChoice): K8sObject {
  const spec: Record<string, unknown> = {
    extension: { name: c.extension, version: c.version },
    enabled: true,
    upgradeStrategy: "Manual",
  };
  if (c.config.trim()) spec.config = c.config;
  if (c.multicluster) {
    const overrides: Record<string, string> = {};
    for (const cl of c.clusters) if (c.overrides[cl]?.trim()) overrides[cl] = c.overrides[cl];
    spec.clusterScheduling = { placement: { clusters: c.clusters }, ...(Object.keys(overrides).length ? { overrides } : {}) };
  }
  return { apiVersion: "kubesphere.io/v1alpha1", kind: "InstallPlan", metadata: { name: c.extension }, spec };
}
