import { lazy, Suspense, useCallback } from "react";
import { Link, Navigate, Route, Routes, useParams } from "react-router-dom";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { useCan } from "../api/hooks";
import { clusterPath, IAM, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { ResourceList } from "../components/ResourceList";
import { ResourceDetail } from "../components/ResourceDetail";
import { SecretDetail } from "../components/SecretDetail";
import { Members } from "../components/Members";
import { RolePages } from "../components/Roles";
import { ErrorBox } from "../components/ui";
import { YamlCreate } from "../components/YamlCreate";
import { hasForm } from "../state/resourceForms";
import { isWorkload } from "../workloads/model";

const WorkloadFormPage = lazy(() => import("../workloads/WorkloadForm"));
const WorkloadExtras = lazy(() => import("../workloads/WorkloadExtras"));
const Releases = lazy(() => import("./appstore").then((m) => ({ default: m.Releases })));
const ReleaseDetail = lazy(() => import("./appstore").then((m) => ({ default: m.ReleaseDetail })));
const ResourceForm = lazy(() => import("./resources"));
const ProjectSettings = lazy(() => import("./settings").then((m) => ({ default: m.ProjectSettings })));

function Release({ cluster, ns }: { cluster: string; ns: string }) {
  const { name = "" } = useParams();
  return <ReleaseDetail key={name} cluster={cluster} ns={ns} name={name} />;
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
  ingresses: "res.nav.ingresses",
  networkpolicies: "res.nav.networkpolicies",
  persistentvolumeclaims: "res.nav.pvcs",
  serviceaccounts: "res.nav.serviceaccounts",
};

function List({ cluster, ns }: { cluster: string; ns: string }) {
  const { t } = useI18n();
  const { resource = "deployments" } = useParams();
  const rt = resources[resource];
  const base = `/clusters/${cluster}/projects/${ns}`;
  const link = useCallback((o: K8sObject) => `${base}/${resource}/${o.metadata.name}`, [base, resource]);
  const canCreate = useCan(cluster, { verb: "create", group: rt?.group, resource, namespace: ns });
  if (!rt || !titles[resource]) return <ErrorBox error={new Error(t("error.notFound"))} />;
  return (
    <ResourceList key={resource} cluster={cluster} rt={rt} namespace={ns} title={t(titles[resource])} link={link}>
      {resource === "services" && canCreate && (
        <Link className="button primary" to={`${base}/create/service`}>
          {t("create.service")}
        </Link>
      )}
      {canCreate && isWorkload(resource) && (
        <Link className="button primary" to={`${base}/create/workload/${resource}`}>
          {t("wl.create", { kind: rt.kind })}
        </Link>
      )}
      {canCreate && hasForm(resource) && resource !== "services" && (
        <Link className="button primary" to={`${base}/create/form/${resource}`}>
          {t("action.create")}
        </Link>
      )}
      {canCreate && (
        <Link className="button" to={`${base}/create/yaml/${resource}`}>
          {t("action.create")} (YAML)
        </Link>
      )}
    </ResourceList>
  );
}

function Detail({ cluster, ns }: { cluster: string; ns: string }) {
  const { resource = "", name = "" } = useParams();
  const rt = resources[resource];
  const base = `/clusters/${cluster}/projects/${ns}`;
  const podLink = useCallback((o: K8sObject) => `${base}/pods/${o.metadata.name}`, [base]);
  if (!rt) return <Navigate to={`${base}/deployments`} replace />;
  // A Secret's page shows its keys; its values are fetched only when the user reveals them.
  if (resource === "secrets") return <SecretDetail key={name} cluster={cluster} namespace={ns} name={name} base={`${base}/secrets`} />;
  const extra = isWorkload(resource)
    ? (obj: K8sObject) => (
        <Suspense fallback={null}>
          <WorkloadExtras cluster={cluster} ns={ns} resource={resource} obj={obj} />
        </Suspense>
      )
    : undefined;
  return <ResourceDetail key={`${resource}/${name}`} cluster={cluster} rt={rt} namespace={ns} name={name} base={`${base}/${resource}`} podLink={podLink} extra={extra} />;
}

/** A workload's create (`/create/workload/:resource`) or edit (`/:resource/:name/edit`) form. */
function WorkloadFormRoute({ cluster, ns }: { cluster: string; ns: string }) {
  const { resource = "", name } = useParams();
  if (!isWorkload(resource)) return <Navigate to={`/clusters/${cluster}/projects/${ns}/deployments`} replace />;
  return <WorkloadFormPage key={`${resource}/${name ?? ""}`} cluster={cluster} ns={ns} resource={resource} name={name} />;
}

function CreateYaml({ cluster, ns }: { cluster: string; ns: string }) {
  const { resource = "" } = useParams();
  const rt = resources[resource];
  const base = `/clusters/${cluster}/projects/${ns}/${resource}`;
  if (!rt) return <Navigate to={`/clusters/${cluster}/projects/${ns}/deployments`} replace />;
  return <YamlCreate cluster={cluster} rt={rt} namespace={ns} done={(name) => `${base}/${name}`} />;
}

/** A Service, Ingress, NetworkPolicy, PVC, ServiceAccount, ConfigMap or Secret form (pages/resources.tsx). */
function FormRoute({ cluster, ns }: { cluster: string; ns: string }) {
  const { resource = "services", name } = useParams();
  const base = `/clusters/${cluster}/projects/${ns}/${resource}`;
  return <ResourceForm key={`${resource}/${name ?? ""}`} cluster={cluster} ns={ns} resource={resource} name={name} done={(n) => `${base}/${encodeURIComponent(n)}`} />;
}

/** Project-level pages. */
export default function Project() {
  const { cluster = "host", ns = "" } = useParams();
  const iam = clusterPath(cluster, IAM);
  return (
    <Routes>
      <Route path="create/service" element={<FormRoute cluster={cluster} ns={ns} />} />
      <Route path="create/form/:resource" element={<FormRoute cluster={cluster} ns={ns} />} />
      <Route path=":resource/:name/form" element={<FormRoute cluster={cluster} ns={ns} />} />
      <Route path="settings" element={<ProjectSettings cluster={cluster} ns={ns} />} />
      <Route path="create/yaml/:resource" element={<CreateYaml cluster={cluster} ns={ns} />} />
      {/* The Deployment form's old address (links and bookmarks from before the workload forms). */}
      <Route path="create/deployment" element={<Navigate to={`/clusters/${cluster}/projects/${ns}/create/workload/deployments`} replace />} />
      <Route path="create/workload/:resource" element={<WorkloadFormRoute cluster={cluster} ns={ns} />} />
      <Route path=":resource/:name/edit" element={<WorkloadFormRoute cluster={cluster} ns={ns} />} />
      <Route path="members" element={<Members path={`${iam}/namespaces/${ns}/namespacemembers`} level={{ scope: "namespace", cluster, ns }} />} />
      <Route path="roles/*" element={<RolePages level={{ scope: "namespace", cluster, ns }} base={`/clusters/${cluster}/projects/${ns}/roles`} />} />
      <Route path="apps" element={<Releases cluster={cluster} ns={ns} />} />
      <Route path="apps/:name" element={<Release cluster={cluster} ns={ns} />} />
      <Route path=":resource" element={<List cluster={cluster} ns={ns} />} />
      <Route path=":resource/:name" element={<Detail cluster={cluster} ns={ns} />} />
      <Route path="*" element={<Navigate to="deployments" replace />} />
    </Routes>
  );
}
