// The App Store's API (`/kapis/application.kubesphere.io/v2`) and the pure helpers its pages
// share: paths, base64 of UTF-8 text, chart values, JSON Schema properties (unit tested).

import { clusterPath } from "./paths";
import type { K8sObject } from "./watch";

export const APPSTORE = "/kapis/application.kubesphere.io/v2";
export const APP_LABEL = "application.kubesphere.io/app-id";
export const CATEGORY_LABEL = "application.kubesphere.io/app-category-name";
export const REPO_LABEL = "application.kubesphere.io/repo-name";
export const UNCATEGORIZED = "kubesphere-app-uncategorized";
export const DISPLAY_NAME = "kubesphere.io/display-name";
export const APP_VERSION_ANNOTATION = "application.kubesphere.io/app-version";

/** A `{items, totalItems}` page, KubeSphere's list shape. */
export interface Page<T = K8sObject> {
  items: T[];
  totalItems: number;
}

/** Where apps live: the platform's (no workspace) or a workspace's. */
export function appsBase(ws?: string): string {
  return ws ? `${APPSTORE}/workspaces/${encodeURIComponent(ws)}` : APPSTORE;
}

/** A project's releases (`…/namespaces/{ns}/applications`) in `cluster`. */
export function releasesPath(cluster: string, ns: string, name?: string): string {
  const base = `${APPSTORE}/namespaces/${encodeURIComponent(ns)}/applications`;
  return clusterPath(cluster, name ? `${base}/${encodeURIComponent(name)}` : base);
}

/** The path of an app version, and of what hangs under it (`files`, `package`, `action`). */
export function versionPath(app: string, version: string, sub = "", ws?: string): string {
  const p = `${appsBase(ws)}/apps/${encodeURIComponent(app)}/versions/${encodeURIComponent(version)}`;
  return sub ? `${p}/${sub}` : p;
}

/** Base64 of `text`'s UTF-8 bytes (what `spec.values` holds). */
export function encodeText(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** The UTF-8 text of base64 `b64` ("" for none). */
export function decodeText(b64: string | undefined | null): string {
  if (!b64) return "";
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** Base64 of a file's bytes (an uploaded chart package). */
export async function fileBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** The name people see: the display-name annotation, else the object's name. */
export function displayName(o: K8sObject | undefined): string {
  return o?.metadata.annotations?.[DISPLAY_NAME] || o?.metadata.name || "";
}

/** Review or release state (`status.state`), "draft" when the controller has not said yet. */
export function stateOf(o: K8sObject | undefined): string {
  return (o?.status?.state as string | undefined) || "draft";
}

/** Versions newest first (by `spec.created`, then name). */
export function newestFirst(versions: K8sObject[]): K8sObject[] {
  return versions.slice().sort((a, b) => {
    const x = String(a.spec?.created ?? a.metadata.creationTimestamp ?? "");
    const y = String(b.spec?.created ?? b.metadata.creationTimestamp ?? "");
    return y.localeCompare(x) || b.metadata.name.localeCompare(a.metadata.name);
  });
}

/** A values text for the release API: "" stays empty (the chart's defaults), else base64. */
export function valuesField(text: string): string | undefined {
  return text.trim() ? encodeText(text) : undefined;
}

/** One property of a chart's values schema, flattened to a dotted path. */
export interface SchemaField {
  path: string;
  type: string;
  description: string;
  default?: string;
  required: boolean;
  enum?: string[];
}

type Schema = {
  type?: string | string[];
  description?: string;
  title?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
};

/** The properties of a `values.schema.json`, depth first, down to `maxDepth` levels. */
export function schemaFields(schemaText: string, maxDepth = 4): SchemaField[] {
  let root: Schema;
  try {
    root = JSON.parse(schemaText) as Schema;
  } catch {
    return [];
  }
  const out: SchemaField[] = [];
  const walk = (s: Schema, prefix: string, depth: number) => {
    if (!s || typeof s !== "object" || !s.properties || depth > maxDepth) return;
    const required = new Set(Array.isArray(s.required) ? s.required : []);
    for (const [name, p] of Object.entries(s.properties).sort(([a], [b]) => a.localeCompare(b))) {
      if (!p || typeof p !== "object") continue;
      const path = prefix ? `${prefix}.${name}` : name;
      const type = Array.isArray(p.type) ? p.type.join(" | ") : (p.type ?? (p.properties ? "object" : ""));
      out.push({
        path,
        type,
        description: String(p.description ?? p.title ?? ""),
        default: p.default === undefined ? undefined : JSON.stringify(p.default),
        required: required.has(name),
        enum: Array.isArray(p.enum) ? p.enum.map((e) => JSON.stringify(e)) : undefined,
      });
      walk(p, path, depth + 1);
    }
  };
  walk(root, "", 1);
  return out;
}

/** The files of a version as text, by name (`README.md`, `values.yaml`, …). */
export function decodeFiles(files: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, b64] of Object.entries(files ?? {})) {
    try {
      out[name] = decodeText(b64);
    } catch {
      // A file that is not base64 is left out rather than shown garbled.
    }
  }
  return out;
}

/** The transitions a reviewer or publisher may offer from a version's state (SPEC §3). */
export function reviewActions(state: string): ("passed" | "rejected" | "active" | "suspended")[] {
  switch (state) {
    case "submitted":
      return ["passed", "rejected"];
    case "passed":
      return ["active"];
    case "active":
      return ["suspended"];
    case "suspended":
      return ["active"];
    default:
      return [];
  }
}

/** Whether a release is between states (the page keeps polling it). */
export function releaseSettling(state: string | undefined): boolean {
  return !state || ["creating", "created", "upgrading", "upgraded", "deleting"].includes(state);
}
