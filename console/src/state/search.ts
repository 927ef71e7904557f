// The global search: the platform's cross-cluster search API, its hits grouped by kind, and the
// console page that opens each hit.

import { withQuery } from "../api/client";

export const SEARCH = "/kapis/search.orrery.io/v1alpha1/resources";

/** One hit as the search API answers it. */
export interface Hit {
  cluster: string;
  apiVersion: string;
  kind: string;
  resource: string;
  group?: string;
  custom?: boolean;
  workspace?: string | null;
  metadata: { name: string; namespace?: string | null; labels?: Record<string, string> };
}

export interface SearchAnswer {
  totalItems: number;
  items: Hit[];
}

/** How many hits a search shows. */
export const SHOWN = 50;

/** The API address for a name typed in the search box (events are left out: their names repeat
 * their objects'). */
export function searchPath(text: string): string {
  return withQuery(SEARCH, { name: text.trim(), limit: SHOWN, sortBy: "name", ascending: "true", excludeKind: "events,loginrecords.iam.kubesphere.io" });
}

/** Hits grouped by kind, the groups in alphabetical order, each group's hits as answered. */
export function groupByKind(items: Hit[]): { kind: string; hits: Hit[] }[] {
  const groups = new Map<string, Hit[]>();
  for (const h of items) {
    const key = h.kind;
    const g = groups.get(key);
    if (g) g.push(h);
    else groups.set(key, [h]);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([kind, hits]) => ({ kind, hits }));
}

function groupOf(h: Hit): string {
  if (h.group !== undefined) return h.group;
  const slash = h.apiVersion.indexOf("/");
  return slash < 0 ? "" : h.apiVersion.slice(0, slash);
}

const enc = encodeURIComponent;

/** The console page of a hit. */
export function hitLink(h: Hit): string {
  const c = `/clusters/${enc(h.cluster)}`;
  const { name, namespace } = h.metadata;
  const group = groupOf(h);
  const project = namespace ? `${c}/projects/${enc(namespace)}` : "";
  if (group === "") {
    if (h.resource === "namespaces") return `${c}/projects/${enc(name)}/deployments`;
    if (h.resource === "nodes") return `${c}/nodes/${enc(name)}`;
  }
  if (group === "iam.kubesphere.io") {
    const ws = h.metadata.labels?.["kubesphere.io/workspace"];
    if (h.resource === "users") return `/platform/users/${enc(name)}`;
    if (h.resource === "globalroles") return `/platform/roles/${enc(name)}`;
    if (h.resource === "workspaceroles" && ws) return `/workspaces/${enc(ws)}/roles/${enc(name)}`;
    if (h.resource === "clusterroles") return `${c}/roles/${enc(name)}`;
    if (h.resource === "roles" && project) return `${project}/roles/${enc(name)}`;
  }
  if (group === "tenant.kubesphere.io" && (h.resource === "workspaces" || h.resource === "workspacetemplates")) return `/workspaces/${enc(name)}/overview`;
  if (group === "cluster.kubesphere.io" && h.resource === "clusters") return `/platform/clusters/${enc(name)}`;
  if (h.custom) return `${c}/crds/${enc(`${h.resource}.${group}`)}/o/${enc(namespace ?? "-")}/${enc(name)}`;
  if (project) return `${project}/${enc(h.resource)}/${enc(name)}`;
  // A cluster-scoped kind without a page of its own: its list, filtered to the name.
  return `${c}/r/${enc(h.resource)}?name=${enc(name)}`;
}
