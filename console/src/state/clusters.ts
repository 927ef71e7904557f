// The clusters the console can switch between: the platform's Cluster objects, or just the host
// when the multi-cluster API is not there (404) or the caller may not list clusters (403).

import { api, ApiError, type Client } from "../api/client";
import { CLUSTERS } from "../api/paths";
import type { K8sObject } from "../api/watch";

export interface ClusterInfo {
  name: string;
  host: boolean;
  ready: boolean | null;
  version?: string;
  nodeCount?: number;
  provider?: string;
  object?: K8sObject;
}

export const HOST_LABEL = "cluster-role.kubesphere.io/host";

export function toClusterInfo(c: K8sObject): ClusterInfo {
  const ready = (c.status?.conditions as { type: string; status: string }[] | undefined)?.find((x) => x.type === "Ready");
  return {
    name: c.metadata.name,
    host: c.metadata.labels?.[HOST_LABEL] !== undefined,
    ready: ready ? ready.status === "True" : null,
    version: c.status?.kubernetesVersion,
    nodeCount: c.status?.nodeCount,
    provider: c.spec?.provider,
    object: c,
  };
}

/** Host first, then members by name; a synthetic host when no Cluster object carries the label. */
export function arrangeClusters(objects: K8sObject[]): ClusterInfo[] {
  const list = objects.map(toClusterInfo);
  if (!list.some((c) => c.host)) {
    const named = list.find((c) => c.name === "host");
    if (named) named.host = true;
    else list.push({ name: "host", host: true, ready: true });
  }
  return list.sort((a, b) => (a.host === b.host ? a.name.localeCompare(b.name) : a.host ? -1 : 1));
}

const gone = (e: unknown) => e instanceof ApiError && (e.status === 404 || e.status === 403);

/** Lists clusters, degrading to the host alone. */
export async function loadClusters(client: Client = api): Promise<ClusterInfo[]> {
  for (const path of [CLUSTERS, "/apis/cluster.kubesphere.io/v1alpha1/clusters"]) {
    try {
      const r = await client.get<{ items: K8sObject[] }>(path);
      return arrangeClusters(r.items ?? []);
    } catch (e) {
      if (!gone(e)) throw e;
    }
  }
  return arrangeClusters([]);
}
