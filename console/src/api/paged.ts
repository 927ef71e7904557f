// Lists paged, sorted and searched on the server, kept current by a watch.
//
// A page comes from KubeSphere's generic resources API
// (`[/clusters/{c}]/kapis/resources.kubesphere.io/v1alpha3/[namespaces/{ns}/]{plural}` with
// `page`, `limit`, `sortBy`, `ascending`, `name`, `labelSelector`, `fieldSelector` →
// `{items, totalItems}`), so finding one object among 10,000 loads one page, never the rest.
// Live updates: the native collection's revision is read with `limit=1`, then watched from it
// (over the tab's shared socket); a change to an object on the page replaces its row at once,
// and any change asks for the page again (at most every `REFRESH_MS`) so the count, the order
// and the page stay right.

import { useEffect, useState } from "react";
import { api, ApiError } from "./client";
import { clusterPath, resourcePath, type ResourceType } from "./paths";
import { ExpiredError, keyOf, retryPause, replaceAt, type K8sObject, type WatchEvent } from "./watch";
import { collectionRevision, watchOnce } from "./hooks";

export const GENERIC = "/kapis/resources.kubesphere.io/v1alpha3";
/** How often at most a page is asked for again while its collection changes. */
export const REFRESH_MS = 400;

/** What the list shows: filters, order and page. */
export interface PageQuery {
  /** Substring of the name (the server's `name`). */
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** `name`, `createTime` or a dotted JSON path (the server's `sortBy`). */
  sortBy: string;
  ascending: boolean;
  /** 1-based. */
  page: number;
  limit: number;
}

/**
 * Whether `rt`'s lists come without values: Secrets. The platform answers their pages itself
 * (names, types, keys and sizes, in a namespace or across all), and their watch is a metadata
 * watch that only tells the page to ask again — so no value reaches the browser.
 */
export function metadataOnly(rt: ResourceType): boolean {
  return rt.plural === "secrets" && !rt.group;
}

/** The resources-API path of `rt`'s collection in `cluster` (optionally one namespace). */
export function pagedPath(cluster: string | undefined, rt: ResourceType, namespace?: string): string {
  const ns = rt.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return clusterPath(cluster, `${GENERIC}${ns}/${rt.plural}`);
}

/** The query string of a page, as the server reads it. */
export function pageQuery(q: PageQuery): Record<string, string | number | undefined> {
  return {
    name: q.name || undefined,
    labelSelector: q.labelSelector || undefined,
    fieldSelector: q.fieldSelector || undefined,
    sortBy: q.sortBy,
    ascending: String(q.ascending),
    page: q.page,
    limit: q.limit,
  };
}

/** How many pages `total` items make at `limit` per page (at least one). */
export function pageCount(total: number, limit: number): number {
  return Math.max(1, Math.ceil(total / limit));
}

/** A watch event applied to a page: a changed row is replaced in place; a row of a newer
 * revision is never replaced by an older one. Added and deleted objects wait for the refetch. */
export function patchPage(items: K8sObject[], ev: WatchEvent): K8sObject[] {
  if (ev.type !== "MODIFIED") return items;
  const key = keyOf(ev.object);
  const i = items.findIndex((o) => keyOf(o) === key);
  return i < 0 ? items : replaceAt(items, i, ev.object);
}

interface Paged {
  items: K8sObject[];
  totalItems: number;
}

/** A page of `rt` in `cluster`, kept current. `refused` is set when the user may not read it. */
export function usePagedList(cluster: string | undefined, rt: ResourceType, namespace: string | undefined, q: PageQuery) {
  const [items, setItems] = useState<K8sObject[]>([]);
  const [total, setTotal] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [live, setLive] = useState(false);
  const [unwatchable, setUnwatchable] = useState(false);
  const [changes, setChanges] = useState(0);
  const path = pagedPath(cluster, rt, namespace);
  const native = resourcePath(cluster, rt, namespace);
  const { name, labelSelector, fieldSelector, sortBy, ascending, page, limit } = q;
  const metadata = metadataOnly(rt);

  // The page itself, asked again whenever the collection changed.
  useEffect(() => {
    const ctl = new AbortController();
    api
      .get<Paged>(path, { query: pageQuery({ name, labelSelector, fieldSelector, sortBy, ascending, page, limit }), signal: ctl.signal })
      .then((r) => {
        setItems(r.items ?? []);
        setTotal(r.totalItems ?? 0);
        setLoaded(true);
        setError(null);
      })
      .catch((e: Error) => {
        if (!ctl.signal.aborted) {
          setError(e);
          setLoaded(true);
        }
      });
    return () => ctl.abort();
  }, [path, name, labelSelector, fieldSelector, sortBy, ascending, page, limit, changes]);

  // The watch: from the collection's current revision; any event asks for the page again.
  useEffect(() => {
    const ctl = new AbortController();
    const query = { labelSelector, fieldSelector };
    let timer: ReturnType<typeof setTimeout> | null = null;
    const bump = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (!ctl.signal.aborted) setChanges((n) => n + 1);
      }, REFRESH_MS);
    };
    let backoff = 500;
    setUnwatchable(false);
    const run = async () => {
      let first = true;
      while (!ctl.signal.aborted) {
        try {
          let rv = await collectionRevision(native, query, ctl.signal, metadata);
          // After a lost watch, what happened meanwhile is in the page asked again.
          if (!first) bump();
          first = false;
          for (;;) {
            setLive(true);
            rv = await watchOnce(
              native,
              rv,
              query,
              (ev) => {
                if (ev.type === "BOOKMARK") return;
                // A row changed in place shows at once (not from a metadata event, which lacks
                // the row's type and keys); the page asked again follows.
                if (ev.type === "MODIFIED" && !metadata) setItems((cur) => patchPage(cur, ev));
                bump();
              },
              ctl.signal,
              metadata,
            );
            backoff = 500;
          }
        } catch (e) {
          setLive(false);
          if (ctl.signal.aborted) return;
          // Not allowed to watch (or nothing to watch): the page stays, without live updates.
          if (e instanceof ApiError && (e.status === 403 || e.status === 404 || e.status === 405)) {
            setUnwatchable(true);
            return;
          }
          if (e instanceof ExpiredError) continue;
          await retryPause(backoff, ctl.signal);
          backoff = Math.min(backoff * 2, 10000);
        }
      }
    };
    void run();
    return () => {
      ctl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [native, labelSelector, fieldSelector, metadata]);

  const refused = error instanceof ApiError && (error.status === 403 || error.status === 404);
  return { items, total, loaded, error, live, unwatchable, refused, path };
}
