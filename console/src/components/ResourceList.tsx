import { useEffect, useMemo, useState, type ReactNode } from "react";
import { useSearchParams } from "react-router-dom";
import { useI18n } from "../i18n";
import { pageCount, usePagedList } from "../api/paged";
import type { ResourceType } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { columnsFor } from "../pages/columns";
import { Table, type Order } from "./Table";
import { ErrorBox, Filter, PageHead } from "./ui";

/** Rows per page of a server-paged list. */
export const PAGE_SIZE = 50;
/** How long the name box waits for more typing before it asks the server. */
const TYPING_MS = 250;

interface ListProps {
  cluster: string;
  rt: ResourceType;
  namespace?: string;
  title: string;
  link: (o: K8sObject) => string | null;
  children?: ReactNode;
  labelSelector?: string;
}

/** The order a list starts in: events newest first, everything else by name. */
export function defaultOrder(plural: string): Order {
  return plural === "events" ? { sortBy: "lastTimestamp", ascending: false } : { sortBy: "name", ascending: true };
}

/** `value`, once it has stopped changing for `ms`. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/**
 * A list of `rt` in `cluster` (optionally one namespace), searched by name, sorted, counted and
 * paged on the server (the resources API), kept current by a watch. The name, order and page are
 * in the address, so going back returns to the same page.
 */
export function ResourceList(props: ListProps) {
  return <PagedList {...props} />;
}

function Pager({ page, pages, total, setPage }: { page: number; pages: number; total: number; setPage: (p: number) => void }) {
  const { t, number } = useI18n();
  return (
    <nav className="toolbar pager" aria-label={t("list.pages")}>
      <span className="muted" data-testid="total">
        {total === 1 ? t("list.one") : t("list.total", { count: number(total) })}
      </span>
      <span className="spacer" />
      <button type="button" disabled={page <= 1} onClick={() => setPage(1)} aria-label={t("list.first")}>
        «
      </button>
      <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)} aria-label={t("list.prev")}>
        ‹
      </button>
      <span aria-live="polite">{t("list.page", { page: number(page), pages: number(pages) })}</span>
      <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)} aria-label={t("list.next")}>
        ›
      </button>
      <button type="button" disabled={page >= pages} onClick={() => setPage(pages)} aria-label={t("list.last")}>
        »
      </button>
    </nav>
  );
}

function PagedList({ cluster, rt, namespace, title, link, children, labelSelector }: ListProps) {
  const i18n = useI18n();
  const { t } = i18n;
  const [params, setParams] = useSearchParams();
  const def = defaultOrder(rt.plural);
  const name = params.get("name") ?? "";
  const selector = params.get("labels") ?? "";
  const order: Order = { sortBy: params.get("sortBy") ?? def.sortBy, ascending: (params.get("ascending") ?? String(def.ascending)) === "true" };
  const page = Math.max(1, Number(params.get("page")) || 1);
  // What the boxes show now; the server is asked once typing settles.
  const [nameBox, setNameBox] = useState(name);
  const [selectorBox, setSelectorBox] = useState(selector);
  const settledName = useSettled(nameBox, TYPING_MS);
  const settledSelector = useSettled(selectorBox, TYPING_MS);
  const set = (changes: Record<string, string | null>) =>
    setParams(
      (cur) => {
        const next = new URLSearchParams(cur);
        for (const [k, v] of Object.entries(changes)) if (v === null || v === "") next.delete(k);
        else next.set(k, v);
        return next;
      },
      { replace: true },
    );
  useEffect(() => {
    if (settledName !== name || settledSelector !== selector) set({ name: settledName, labels: settledSelector, page: null });
    // Only typing moves the address; `set` is rebuilt each render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [settledName, settledSelector]);
  const list = usePagedList(cluster, rt, namespace, {
    name,
    labelSelector: labelSelector ?? (selector || undefined),
    sortBy: order.sortBy,
    ascending: order.ascending,
    page,
    limit: PAGE_SIZE,
  });
  const pages = pageCount(list.total, PAGE_SIZE);
  // A page past the end (the list shrank) moves to the last one.
  useEffect(() => {
    if (list.loaded && !list.error && page > pages) set({ page: String(pages) });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list.loaded, list.error, page, pages]);
  const columns = useMemo(() => columnsFor(rt.plural, i18n, link, !namespace && rt.namespaced), [rt.plural, i18n, link, namespace, rt.namespaced]);
  return (
    <>
      <PageHead title={title}>
        <Filter value={nameBox} onChange={setNameBox} />
        {!labelSelector && <input aria-label={t("list.labelSelector")} placeholder="app=web" value={selectorBox} onChange={(e) => setSelectorBox(e.target.value)} />}
        {!list.refused && !list.unwatchable && (
          <span className={`badge ${list.live ? "ok" : "warn"}`} aria-live="polite">
            {list.live ? t("list.live") : t("list.reconnecting")}
          </span>
        )}
        {children}
      </PageHead>
      {/* A list the user may not read says so (here) instead of "reconnecting". */}
      <ErrorBox error={list.error} />
      {!list.refused && (
        <>
          <Table<K8sObject>
            label={title}
            rows={list.items}
            total={list.total}
            offset={(page - 1) * PAGE_SIZE}
            order={order}
            onOrder={(o) => set({ sortBy: o.sortBy, ascending: String(o.ascending), page: null })}
            rowKey={(o) => o.metadata.uid ?? `${o.metadata.namespace}/${o.metadata.name}`}
            columns={columns}
          />
          <Pager page={page} pages={pages} total={list.total} setPage={(p) => set({ page: p === 1 ? null : String(p) })} />
        </>
      )}
    </>
  );
}
