import { useMemo, useState, type ReactNode } from "react";
import { useI18n } from "../i18n";
import { useLiveList } from "../api/hooks";
import { ApiError } from "../api/client";
import { resourcePath, type ResourceType } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { columnsFor } from "../pages/columns";
import { Table } from "./Table";
import { ErrorBox, Filter, PageHead } from "./ui";

/**
 * A live list of `rt` in `cluster` (optionally one namespace): the server pages it
 * (`limit`/`continue`) and filters it by label selector; the name box narrows the loaded rows.
 */
export function ResourceList({ cluster, rt, namespace, title, link, children, labelSelector }: {
  cluster: string;
  rt: ResourceType;
  namespace?: string;
  title: string;
  link: (o: K8sObject) => string | null;
  children?: ReactNode;
  labelSelector?: string;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const [name, setName] = useState("");
  const [selector, setSelector] = useState("");
  const list = useLiveList(resourcePath(cluster, rt, namespace), { labelSelector: labelSelector ?? (selector || undefined), limit: 500 });
  const rows = useMemo(() => (name ? list.items.filter((o) => o.metadata.name.includes(name)) : list.items), [list.items, name]);
  // A list the user may not read says so (the error below) instead of "reconnecting".
  const refused = list.error instanceof ApiError && (list.error.status === 403 || list.error.status === 404);
  const columns = useMemo(() => columnsFor(rt.plural, i18n, link, !namespace && rt.namespaced), [rt.plural, i18n, link, namespace, rt.namespaced]);
  return (
    <>
      <PageHead title={title}>
        <Filter value={name} onChange={setName} />
        {!labelSelector && <input aria-label={t("list.labelSelector")} placeholder="app=web" value={selector} onChange={(e) => setSelector(e.target.value)} />}
        {!refused && (
          <span className={`badge ${list.live ? "ok" : "warn"}`} aria-live="polite">
            {list.live ? t("list.live") : t("list.reconnecting")}
          </span>
        )}
        {children}
      </PageHead>
      <ErrorBox error={list.error} />
      <Table<K8sObject> label={title} rows={rows} rowKey={(o) => o.metadata.uid ?? `${o.metadata.namespace}/${o.metadata.name}`} columns={columns} />
      <div className="toolbar">
        <span className="muted">{t("list.total", { count: rows.length + (list.remaining ?? 0) })}</span>
        {list.hasMore && (
          <button type="button" onClick={() => void list.loadMore()}>
            {t("list.more")}
          </button>
        )}
      </div>
    </>
  );
}
