// Where resources live: the host's native /api and /apis, a member's under /clusters/{name}.

/** A kind of Kubernetes resource the console knows how to address. */
export interface ResourceType {
  plural: string;
  kind: string;
  group: string;
  version: string;
  namespaced: boolean;
}

let hostCluster = "host";

/** Remembers which cluster is the host (the one with `cluster-role.kubesphere.io/host`). */
export function setHostCluster(name: string) {
  hostCluster = name;
}
export function isHost(cluster: string | undefined): boolean {
  return !cluster || cluster === hostCluster;
}

/** Prefixes a native path for `cluster` (the host is reached directly). */
export function clusterPath(cluster: string | undefined, path: string): string {
  return isHost(cluster) ? path : `/clusters/${encodeURIComponent(cluster ?? "")}${path}`;
}

/** The path of a collection or an object of `rt` in `cluster`. */
export function resourcePath(cluster: string | undefined, rt: ResourceType, namespace?: string, name?: string): string {
  const base = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  const ns = rt.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const obj = name ? `/${encodeURIComponent(name)}` : "";
  return clusterPath(cluster, `${base}${ns}/${rt.plural}${obj}`);
}

export const IAM = "/kapis/iam.kubesphere.io/v1beta1";
export const TENANT = "/kapis/tenant.kubesphere.io/v1beta1";
export const CLUSTERS = "/kapis/cluster.kubesphere.io/v1alpha1/clusters";

const core = (plural: string, kind: string, namespaced = true): ResourceType => ({ plural, kind, group: "", version: "v1", namespaced });
const apps = (plural: string, kind: string): ResourceType => ({ plural, kind, group: "apps", version: "v1", namespaced: true });
const batch = (plural: string, kind: string): ResourceType => ({ plural, kind, group: "batch", version: "v1", namespaced: true });

/** The built-in kinds the console has pages for, by plural. */
export const resources: Record<string, ResourceType> = {
  nodes: core("nodes", "Node", false),
  namespaces: core("namespaces", "Namespace", false),
  pods: core("pods", "Pod"),
  services: core("services", "Service"),
  configmaps: core("configmaps", "ConfigMap"),
  secrets: core("secrets", "Secret"),
  events: core("events", "Event"),
  deployments: apps("deployments", "Deployment"),
  statefulsets: apps("statefulsets", "StatefulSet"),
  daemonsets: apps("daemonsets", "DaemonSet"),
  jobs: batch("jobs", "Job"),
  cronjobs: batch("cronjobs", "CronJob"),
  ingresses: { plural: "ingresses", kind: "Ingress", group: "networking.k8s.io", version: "v1", namespaced: true },
  networkpolicies: { plural: "networkpolicies", kind: "NetworkPolicy", group: "networking.k8s.io", version: "v1", namespaced: true },
  persistentvolumeclaims: core("persistentvolumeclaims", "PersistentVolumeClaim"),
  persistentvolumes: core("persistentvolumes", "PersistentVolume", false),
  storageclasses: { plural: "storageclasses", kind: "StorageClass", group: "storage.k8s.io", version: "v1", namespaced: false },
  serviceaccounts: core("serviceaccounts", "ServiceAccount"),
  resourcequotas: core("resourcequotas", "ResourceQuota"),
  limitranges: core("limitranges", "LimitRange"),
  ingressclasses: { plural: "ingressclasses", kind: "IngressClass", group: "networking.k8s.io", version: "v1", namespaced: false },
  customresourcedefinitions: { plural: "customresourcedefinitions", kind: "CustomResourceDefinition", group: "apiextensions.k8s.io", version: "v1", namespaced: false },
};

/** The resource type a CRD object serves (its storage version). */
export function crdType(crd: {
  spec: { group: string; names: { plural: string; kind: string }; scope: string; versions: { name: string; storage?: boolean; served?: boolean }[] };
}): ResourceType {
  const v = crd.spec.versions.find((x) => x.storage) ?? crd.spec.versions[0];
  return { plural: crd.spec.names.plural, kind: crd.spec.names.kind, group: crd.spec.group, version: v?.name ?? "v1", namespaced: crd.spec.scope === "Namespaced" };
}
