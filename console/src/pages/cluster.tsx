import { lazy, useCallback } from "react";
import { Link, Route, Routes, useParams } from "react-router-dom";
import { useI18n } from "../i18n";
import { useCan, useLiveList, useLoad } from "../api/hooks";
import { clusterPath, crdType, resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { ResourceList } from "../components/ResourceList";
import { ResourceDetail } from "../components/ResourceDetail";
import { ErrorBox, PageHead } from "../components/ui";
import type { MessageKey } from "../i18n/en";
import { Members } from "../components/Members";
import { RolePages } from "../components/Roles";
import { IAM } from "../api/paths";
import { NodeDetail as NodePage } from "./nodes";
import { hasForm } from "../state/resourceForms";

const ResourceForm = lazy(() => import("./resources"));

/** Parses a Kubernetes quantity into base units (cores, bytes). */
export function quantity(q: string | undefined): number {
  if (!q) return 0;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const unit: Record<string, number> = { "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return n * (unit[m[2]] ?? 1);
}

function Overview({ cluster }: { cluster: string }) {
  const { t, number } = useI18n();
  const nodes = useLiveList(resourcePath(cluster, resources.nodes));
  const metrics = useLoad<{ items: { usage: { cpu: string; memory: string } }[] }>(clusterPath(cluster, "/apis/metrics.k8s.io/v1beta1/nodes"));
  const version = useLoad<{ gitVersion: string }>(clusterPath(cluster, "/version"));
  const cap = nodes.items.reduce((a, n) => ({ cpu: a.cpu + quantity(n.status?.capacity?.cpu), mem: a.mem + quantity(n.status?.capacity?.memory), pods: a.pods + quantity(n.status?.capacity?.pods) }), { cpu: 0, mem: 0, pods: 0 });
  const use = (metrics.data?.items ?? []).reduce((a, m) => ({ cpu: a.cpu + quantity(m.usage.cpu), mem: a.mem + quantity(m.usage.memory) }), { cpu: 0, mem: 0 });
  const gib = (b: number) => `${number(Math.round((b / 1024 ** 3) * 10) / 10)} GiB`;
  return (
    <>
      <PageHead title={`${t("nav.overview")}: ${cluster}`} />
      <ErrorBox error={nodes.error} />
      <div className="cards">
        <div className="card">
          <div className="muted">{t("col.version")}</div>
          <div className="stat">{version.data?.gitVersion ?? "—"}</div>
        </div>
        <div className="card">
          <div className="muted">{t("nav.nodes")}</div>
          <div className="stat" data-testid="node-count">{number(nodes.items.length)}</div>
        </div>
        <div className="card">
          <div className="muted">{t("col.cpu")}: {t("cluster.usage")} / {t("cluster.capacity")}</div>
          <div className="stat">
            {number(Math.round(use.cpu * 100) / 100)} / {number(cap.cpu)}
          </div>
        </div>
        <div className="card">
          <div className="muted">{t("col.memory")}: {t("cluster.usage")} / {t("cluster.capacity")}</div>
          <div className="stat">
            {gib(use.mem)} / {gib(cap.mem)}
          </div>
        </div>
        <div className="card">
          <div className="muted">{t("col.pods")}: {t("cluster.capacity")}</div>
          <div className="stat">{number(cap.pods)}</div>
        </div>
      </div>
    </>
  );
}

const titles: Record<string, MessageKey> = {
  deployments: "nav.deployments",
  statefulsets: "nav.statefulsets",
  daemonsets: "nav.daemonsets",
  jobs: "nav.jobs",
  cronjobs: "nav.cronjobs",
  pods: "nav.pods",
  services: "nav.services",
  configmaps: "nav.configmaps",
  secrets: "nav.secrets",
  events: "nav.events",
  nodes: "nav.nodes",
  namespaces: "nav.namespaces",
  ingresses: "res.nav.ingresses",
  networkpolicies: "res.nav.networkpolicies",
  persistentvolumeclaims: "res.nav.pvcs",
  serviceaccounts: "res.nav.serviceaccounts",
  persistentvolumes: "res.nav.pvs",
  storageclasses: "res.nav.storageclasses",
};

function ClusterResources({ cluster }: { cluster: string }) {
  const { t } = useI18n();
  const { resource = "pods" } = useParams();
  const rt = resources[resource];
  // Cluster-scoped objects (PVs, StorageClasses) have their pages under /cr.
  const link = useCallback((o: K8sObject) => (resource === "events" ? null : o.metadata.namespace ? `/clusters/${cluster}/projects/${o.metadata.namespace}/${resource}/${o.metadata.name}` : `/clusters/${cluster}/cr/${resource}/${o.metadata.name}`), [cluster, resource]);
  const canCreate = useCan(cluster, { verb: "create", group: rt?.group, resource });
  if (!rt) return <ErrorBox error={new Error(t("error.notFound"))} />;
  return (
    <ResourceList key={resource} cluster={cluster} rt={rt} title={t(titles[resource] ?? "nav.crds")} link={link}>
      {canCreate && !rt.namespaced && hasForm(resource) && (
        <Link className="button primary" to={`/clusters/${cluster}/create/form/${resource}`}>
          {t("action.create")}
        </Link>
      )}
    </ResourceList>
  );
}

/** A cluster-scoped object's page (PersistentVolumes, StorageClasses). */
function ClusterObject({ cluster }: { cluster: string }) {
  const { resource = "", name = "" } = useParams();
  const rt = resources[resource];
  const podLink = useCallback((o: K8sObject) => `/clusters/${cluster}/projects/${o.metadata.namespace}/pods/${o.metadata.name}`, [cluster]);
  if (!rt) return <ErrorBox error={null} />;
  return <ResourceDetail key={`${resource}/${name}`} cluster={cluster} rt={rt} name={name} base={`/clusters/${cluster}/r/${resource}`} podLink={podLink} />;
}

/** A cluster-scoped object's form, new or edited. */
function ClusterForm({ cluster }: { cluster: string }) {
  const { resource = "", name } = useParams();
  return <ResourceForm key={`${resource}/${name ?? ""}`} cluster={cluster} resource={resource} name={name} done={(n) => `/clusters/${cluster}/cr/${resource}/${encodeURIComponent(n)}`} />;
}

function Crds({ cluster }: { cluster: string }) {
  const { t } = useI18n();
  const link = useCallback((o: K8sObject) => `/clusters/${cluster}/crds/${o.metadata.name}`, [cluster]);
  return <ResourceList cluster={cluster} rt={resources.customresourcedefinitions} title={t("nav.crds")} link={link} />;
}

/** The resource type a CRD serves, loaded by the CRD's name. */
function useCrdType(cluster: string, crd: string) {
  const def = useLoad<K8sObject>(resourcePath(cluster, resources.customresourcedefinitions, undefined, crd));
  return { rt: def.data ? crdType(def.data as Parameters<typeof crdType>[0]) : null, error: def.error };
}

function CrdObjects({ cluster }: { cluster: string }) {
  const { crd = "" } = useParams();
  const { rt, error } = useCrdType(cluster, crd);
  // Cluster-scoped objects get "-" for a namespace in their address.
  const link = useCallback((o: K8sObject) => `/clusters/${cluster}/crds/${crd}/o/${o.metadata.namespace ?? "-"}/${o.metadata.name}`, [cluster, crd]);
  if (!rt) return <ErrorBox error={error} />;
  return <ResourceList cluster={cluster} rt={rt} title={rt.kind} link={link} />;
}

function CrdObject({ cluster }: { cluster: string }) {
  const { crd = "", ns = "-", name = "" } = useParams();
  const { rt, error } = useCrdType(cluster, crd);
  const podLink = useCallback((o: K8sObject) => `/clusters/${cluster}/projects/${o.metadata.namespace}/pods/${o.metadata.name}`, [cluster]);
  if (!rt) return <ErrorBox error={error} />;
  return <ResourceDetail cluster={cluster} rt={rt} namespace={ns === "-" ? undefined : ns} name={name} base={`/clusters/${cluster}/crds/${crd}`} podLink={podLink} />;
}

function Nodes({ cluster }: { cluster: string }) {
  const { t } = useI18n();
  const link = useCallback((o: K8sObject) => `/clusters/${cluster}/nodes/${o.metadata.name}`, [cluster]);
  return <ResourceList cluster={cluster} rt={resources.nodes} title={t("nav.nodes")} link={link} />;
}

function NodeDetail({ cluster }: { cluster: string }) {
  const { name = "" } = useParams();
  return <NodePage key={name} cluster={cluster} name={name} />;
}

function Namespaces({ cluster }: { cluster: string }) {
  const { t } = useI18n();
  const link = useCallback((o: K8sObject) => `/clusters/${cluster}/projects/${o.metadata.name}/deployments`, [cluster]);
  return <ResourceList cluster={cluster} rt={resources.namespaces} title={t("nav.namespaces")} link={link} />;
}

/** Cluster-level pages. */
export default function Cluster() {
  const { cluster = "host" } = useParams();
  return (
    <Routes>
      <Route path="overview" element={<Overview cluster={cluster} />} />
      <Route path="nodes" element={<Nodes cluster={cluster} />} />
      <Route path="nodes/:name" element={<NodeDetail cluster={cluster} />} />
      <Route path="namespaces" element={<Namespaces cluster={cluster} />} />
      <Route path="crds" element={<Crds cluster={cluster} />} />
      <Route path="crds/:crd" element={<CrdObjects cluster={cluster} />} />
      <Route path="crds/:crd/o/:ns/:name" element={<CrdObject cluster={cluster} />} />
      <Route path="r/:resource" element={<ClusterResources cluster={cluster} />} />
      <Route path="cr/:resource/:name" element={<ClusterObject cluster={cluster} />} />
      <Route path="cr/:resource/:name/form" element={<ClusterForm cluster={cluster} />} />
      <Route path="create/form/:resource" element={<ClusterForm cluster={cluster} />} />
      <Route path="members" element={<Members path={clusterPath(cluster, `${IAM}/clustermembers`)} level={{ scope: "cluster", cluster }} />} />
      <Route path="roles/*" element={<RolePages level={{ scope: "cluster", cluster }} base={`/clusters/${cluster}/roles`} />} />
      <Route path="*" element={<Link to="overview">overview</Link>} />
    </Routes>
  );
}
