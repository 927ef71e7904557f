import { lazy, Suspense, useCallback, useState, type FormEvent } from "react";
import { Link, Navigate, Route, Routes, useNavigate, useParams } from "react-router-dom";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { api } from "../api/client";
import { useCan } from "../api/hooks";
import { clusterPath, IAM, resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { ResourceList } from "../components/ResourceList";
import { ResourceDetail } from "../components/ResourceDetail";
import { Members } from "../components/Members";
import { RolePages } from "../components/Roles";
import { ErrorBox, FormFooter, PageHead } from "../components/ui";
import { YamlCreate } from "../components/YamlCreate";
import { buildDeployment, type DeploymentForm } from "../state/forms";
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
  const form = resource === "deployments" ? "deployment" : resource === "services" ? "service" : null;
  return (
    <ResourceList key={resource} cluster={cluster} rt={rt} namespace={ns} title={t(titles[resource])} link={link}>
      {form && canCreate && (
        <Link className="button primary" to={`${base}/create/${form}`}>
          {t(form === "deployment" ? "create.deployment" : "create.service")}
        </Link>
      )}
      {canCreate && isWorkload(resource) && (
        <Link className={form ? "button" : "button primary"} to={`${base}/create/workload/${resource}`}>
          {form ? t("wl.createFull") : t("wl.create", { kind: rt.kind })}
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

function Field({ label, children }: { label: MessageKey; children: React.ReactNode }) {
  const { t } = useI18n();
  return (
    <label>
      {t(label)}
      {children}
    </label>
  );
}

function CreateDeployment({ cluster, ns }: { cluster: string; ns: string }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [f, setF] = useState<DeploymentForm>({ name: "", image: "nginx:1.27", replicas: 1, ports: "80", env: "", cpuRequest: "100m", memoryRequest: "128Mi", cpuLimit: "", memoryLimit: "" });
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof DeploymentForm) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => setF({ ...f, [k]: k === "replicas" ? Number(e.target.value) : e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(resourcePath(cluster, resources.deployments, ns), buildDeployment(f, ns));
      navigate(`/clusters/${cluster}/projects/${ns}/deployments/${f.name}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <PageHead title={t("create.deployment")} />
      <form className="form card" onSubmit={submit}>
        <Field label="form.name">
          <input name="name" required maxLength={63} pattern="[a-z0-9]([\-a-z0-9.]*[a-z0-9])?" value={f.name} onChange={set("name")} />
        </Field>
        <Field label="form.image">
          <input name="image" required value={f.image} onChange={set("image")} />
        </Field>
        <div className="row2">
          <Field label="form.replicas">
            <input name="replicas" type="number" min={0} value={f.replicas} onChange={set("replicas")} />
          </Field>
          <Field label="form.ports">
            <input name="ports" value={f.ports} onChange={set("ports")} />
          </Field>
        </div>
        <Field label="form.env">
          <textarea name="env" value={f.env} onChange={set("env")} />
        </Field>
        <div className="row2">
          <Field label="form.cpuRequest">
            <input name="cpuRequest" value={f.cpuRequest} onChange={set("cpuRequest")} />
          </Field>
          <Field label="form.memoryRequest">
            <input name="memoryRequest" value={f.memoryRequest} onChange={set("memoryRequest")} />
          </Field>
          <Field label="form.cpuLimit">
            <input name="cpuLimit" value={f.cpuLimit} onChange={set("cpuLimit")} />
          </Field>
          <Field label="form.memoryLimit">
            <input name="memoryLimit" value={f.memoryLimit} onChange={set("memoryLimit")} />
          </Field>
        </div>
        <FormFooter error={error} onCancel={() => navigate(-1)} />
      </form>
    </>
  );
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
      <Route path="create/deployment" element={<CreateDeployment cluster={cluster} ns={ns} />} />
      <Route path="create/service" element={<FormRoute cluster={cluster} ns={ns} />} />
      <Route path="create/form/:resource" element={<FormRoute cluster={cluster} ns={ns} />} />
      <Route path=":resource/:name/form" element={<FormRoute cluster={cluster} ns={ns} />} />
      <Route path="settings" element={<ProjectSettings cluster={cluster} ns={ns} />} />
      <Route path="create/yaml/:resource" element={<CreateYaml cluster={cluster} ns={ns} />} />
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
