// React hooks over the client: one-shot loads and live (list + watch) collections.

import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, withQuery } from "./client";
import { clusterPath } from "./paths";
import { applyEvent, ExpiredError, retryPause, watchStream, type K8sObject, type ListResult, type WatchEvent } from "./watch";
import { mux } from "./mux";

/**
 * Watches over the tab's shared socket, or a streamed fetch where the server has none. A
 * `metadata` watch (events with each object's kind and metadata only, for Secrets) needs the
 * socket, which cuts the objects: without it, it is refused as not watchable (405).
 */
export async function watchOnce(path: string, rv: string, query: Record<string, string | undefined>, onEvent: (ev: WatchEvent) => void, signal: AbortSignal, metadata = false): Promise<string> {
  if (mux.supported) {
    try {
      return await mux.watch(path, rv, query, onEvent, signal, metadata);
    } catch (e) {
      if (mux.supported || signal.aborted) throw e;
    }
  }
  if (metadata) throw new ApiError(405, "a metadata watch needs the watch socket");
  return watchStream(path, rv, query, onEvent, signal);
}

/** Kubernetes' metadata-only list (`PartialObjectMetadataList`). */
export const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/**
 * The revision a watch of `path` starts from. `empty` asks for it so that no object comes
 * along: metadata only, and a name no object has (a Secret's list answers no Secret).
 */
export async function collectionRevision(path: string, query: Record<string, string | undefined>, signal: AbortSignal, empty = false): Promise<string> {
  const q = empty ? { ...query, fieldSelector: [query.fieldSelector, "metadata.name="].filter(Boolean).join(",") } : query;
  const head = await api.get<ListResult>(withQuery(path, { ...q, limit: 1 }), { signal, accept: empty ? METADATA_LIST : undefined });
  return head.metadata.resourceVersion ?? "0";
}

/**
 * Calls `onChange` on each change to the objects of `path` that `fieldSelector` picks, told by
 * a metadata watch (no object's content reaches the page). Stops quietly where the user may
 * not watch.
 */
export function useMetadataChanges(path: string, fieldSelector: string, onChange: () => void) {
  const latest = useRef(onChange);
  useEffect(() => {
    latest.current = onChange;
  });
  useEffect(() => {
    const ctl = new AbortController();
    const query = { fieldSelector };
    const run = async () => {
      let backoff = 500;
      let first = true;
      while (!ctl.signal.aborted) {
        try {
          let rv = await collectionRevision(path, query, ctl.signal, true);
          // After a lost watch, what happened meanwhile is read again.
          if (!first) latest.current();
          first = false;
          for (;;) {
            rv = await watchOnce(
              path,
              rv,
              query,
              (ev) => {
                if (ev.type !== "BOOKMARK") latest.current();
              },
              ctl.signal,
              true,
            );
            backoff = 500;
          }
        } catch (e) {
          if (ctl.signal.aborted) return;
          if (e instanceof ApiError && [403, 404, 405].includes(e.status)) return;
          if (e instanceof ExpiredError) continue;
          await retryPause(backoff, ctl.signal);
          backoff = Math.min(backoff * 2, 10000);
        }
      }
    };
    void run();
    return () => ctl.abort();
  }, [path, fieldSelector]);
}

/** Loads `path` (JSON) and reloads when it changes or `reload` is called. */
export function useLoad<T>(path: string | null) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    setError(null);
    api
      .get<T>(path, { signal: ctl.signal })
      .then(setData)
      .catch((e: Error) => {
        if (!ctl.signal.aborted) setError(e);
      });
    return () => ctl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload, loading: !data && !error };
}

export interface LiveOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size for the list; "load more" fetches the next page with `continue`. */
  limit?: number;
}

/** A collection kept current by a watch from the list's revision (relisting when it expires). */
export function useLiveList(path: string | null, opts: LiveOptions = {}) {
  const [items, setItems] = useState<K8sObject[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [live, setLive] = useState(false);
  const [next, setNext] = useState<string | undefined>();
  const [remaining, setRemaining] = useState<number | undefined>();
  const { labelSelector, fieldSelector } = opts;
  const limit = opts.limit ?? 500;
  const ctlRef = useRef<AbortController | null>(null);

  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    ctlRef.current = ctl;
    const query = { labelSelector, fieldSelector };
    let backoff = 500;
    const run = async () => {
      while (!ctl.signal.aborted) {
        try {
          const list = await api.get<ListResult>(withQuery(path, { ...query, limit }), { signal: ctl.signal });
          setItems(list.items.slice().sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)));
          setNext(list.metadata.continue || undefined);
          setRemaining(list.metadata.remainingItemCount);
          setLoaded(true);
          setError(null);
          let rv = list.metadata.resourceVersion ?? "0";
          for (;;) {
            setLive(true);
            rv = await watchOnce(path, rv, query, (ev) => setItems((cur) => applyEvent(cur, ev)), ctl.signal);
            backoff = 500;
          }
        } catch (e) {
          setLive(false);
          if (ctl.signal.aborted) return;
          if (!(e instanceof ExpiredError)) setError(e as Error);
          // Not allowed (or no such collection): retrying changes nothing; the page says so.
          if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return;
          // Wait before relisting so a failing server is not hammered; aborting ends it at once.
          await new Promise((r) => {
            const t = setTimeout(r, backoff);
            ctl.signal.addEventListener("abort", () => { clearTimeout(t); r(null); }, { once: true });
          });
          backoff = Math.min(backoff * 2, 10000);
        }
      }
    };
    void run();
    return () => ctl.abort();
  }, [path, labelSelector, fieldSelector, limit]);

  const loadMore = useCallback(async () => {
    if (!path || !next) return;
    const list = await api.get<ListResult>(withQuery(path, { labelSelector, fieldSelector, limit, continue: next }));
    setItems((cur) => {
      let out = cur;
      for (const o of list.items) out = applyEvent(out, { type: "ADDED", object: o });
      return out;
    });
    setNext(list.metadata.continue || undefined);
    setRemaining(list.metadata.remainingItemCount);
  }, [path, next, labelSelector, fieldSelector, limit]);

  return { items, error, loaded, live, hasMore: !!next, remaining, loadMore };
}

/** Whether the caller may do `verb` on a resource (asked of the platform's own authorizer). */
/** `workspace` is the platform's extension of resourceAttributes (its authorizer answers it). */
export function useCan(cluster: string | undefined, attrs: { verb: string; group?: string; resource: string; subresource?: string; namespace?: string; workspace?: string }) {
  const [allowed, setAllowed] = useState<boolean | null>(null);
  const { verb, group, resource, subresource, namespace, workspace } = attrs;
  useEffect(() => {
    let gone = false;
    const path = clusterPath(cluster, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
    api
      .post<{ status?: { allowed?: boolean } }>(path, {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: { verb, group: group ?? "", resource, subresource, namespace, workspace } },
      })
      .then((r) => !gone && setAllowed(!!r.status?.allowed))
      .catch(() => !gone && setAllowed(false));
    return () => {
      gone = true;
    };
  }, [cluster, verb, group, resource, subresource, namespace, workspace]);
  return allowed;
}
