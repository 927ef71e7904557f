// Live lists: a list at a revision, then a watch from that revision, events applied in order.
// The pure parts (line splitting, applying events) are unit tested; `watchStream` does the I/O.

import { api, withQuery } from "./client";

/** Any Kubernetes object, loosely typed (the console shows what the server sends). */
export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
  [k: string]: unknown;
}

/** A watch event as the API server streams it. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: K8sObject & { code?: number; message?: string };
}

/** A list answer. */
export interface ListResult {
  items: K8sObject[];
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
}

export function keyOf(o: K8sObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** Splits a byte stream's text into complete lines (watch streams are newline-delimited JSON). */
export class LineSplitter {
  private rest = "";
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const lines = text.split("\n");
    this.rest = lines.pop() ?? "";
    return lines.filter((l) => l.trim().length > 0);
  }
}

/** `items` with `obj` in place of the object at `i` — unless `obj` is an older revision arriving
 * late, which never replaces a newer one (then `items` itself). */
export function replaceAt(items: K8sObject[], i: number, obj: K8sObject): K8sObject[] {
  const have = Number(items[i].metadata.resourceVersion ?? 0);
  const got = Number(obj.metadata.resourceVersion ?? 0);
  if (have && got && got < have) return items;
  const next = items.slice();
  next[i] = obj;
  return next;
}

/** Applies one event to a list kept sorted by namespace/name; returns a new array if it changed. */
export function applyEvent(items: K8sObject[], ev: WatchEvent): K8sObject[] {
  if (ev.type === "BOOKMARK" || ev.type === "ERROR") return items;
  const key = keyOf(ev.object);
  const i = items.findIndex((o) => keyOf(o) === key);
  if (ev.type === "DELETED") return i < 0 ? items : items.filter((_, j) => j !== i);
  if (i >= 0) return replaceAt(items, i, ev.object);
  const next = [...items, ev.object];
  next.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return next;
}

/** Thrown when the server says the watched revision is gone (the caller relists). */
export class ExpiredError extends Error {}

/** Waits `ms` before a watch is tried again, or less if `signal` aborts meanwhile. */
export function retryPause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), r()), { once: true });
  });
}

/**
 * Streams a watch of `path` from `resourceVersion`, calling `onEvent` for each event, until the
 * server ends the stream or `signal` aborts. Returns the last revision seen.
 */
export async function watchStream(
  path: string,
  resourceVersion: string,
  query: Record<string, string | undefined>,
  onEvent: (ev: WatchEvent) => void,
  signal: AbortSignal,
): Promise<string> {
  let rv = resourceVersion;
  const resp = await api.raw("GET", withQuery(path, { ...query, watch: "1", resourceVersion: rv, allowWatchBookmarks: "true" }), { signal });
  if (resp.status === 410) throw new ExpiredError("expired");
  if (!resp.ok || !resp.body) throw new Error(`watch failed: HTTP ${resp.status}`);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  const lines = new LineSplitter();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return rv;
    for (const line of lines.push(value)) {
      const ev = JSON.parse(line) as WatchEvent;
      if (ev.type === "ERROR") {
        if (ev.object.code === 410) throw new ExpiredError(ev.object.message ?? "expired");
        throw new Error(ev.object.message ?? "watch error");
      }
      rv = ev.object.metadata?.resourceVersion ?? rv;
      onEvent(ev);
    }
  }
}
