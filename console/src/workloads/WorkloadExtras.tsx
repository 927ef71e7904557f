// What a workload's page adds for the forms: Edit, its revisions with rollback, and its
// HorizontalPodAutoscaler (autoscaling/v2) created, edited and deleted in place. Actions show
// only to those allowed to take them.

import { useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useI18n } from "../i18n";
import { api, sameForm } from "../api/client";
import { useCan, useLiveList } from "../api/hooks";
import { resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Ago } from "../pages/columns";
import { Table } from "../components/Table";
import { Dialog, ErrorBox, FormFooter } from "../components/ui";
import { Text } from "./fields";
import { applyHpa, autoscalers, controllerRevisions, controllerRevisionsOf, currentRevision, deploymentRevisions, deploymentRollbackPatch, hpaProblem, hpaToForm, replicaSets, targets, type HpaForm, type Revision } from "./history";
import { workloadKinds, type WorkloadResource } from "./model";

interface Props {
  cluster: string;
  ns: string;
  resource: WorkloadResource;
  obj: K8sObject;
}

const selectorOf = (o: K8sObject) =>
  Object.entries((o.spec?.selector?.matchLabels ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

function Revisions({ cluster, ns, resource, obj }: Props) {
  const i18n = useI18n();
  const { t } = i18n;
  const rt = resource === "deployments" ? replicaSets : controllerRevisions;
  const selector = selectorOf(obj);
  const list = useLiveList(selector ? resourcePath(cluster, rt, ns) : null, { labelSelector: selector });
  const history = useMemo(() => (resource === "deployments" ? deploymentRevisions(obj, list.items) : controllerRevisionsOf(obj, list.items)), [resource, obj, list.items]);
  const current = currentRevision(obj, history);
  const canUpdate = useCan(cluster, { verb: "patch", group: resources[resource].group, resource, namespace: ns });
  const [target, setTarget] = useState<Revision | null>(null);
  const [error, setError] = useState<unknown>(null);
  const rollback = async (r: Revision) => {
    const path = resourcePath(cluster, resources[resource], ns, obj.metadata.name);
    try {
      if (resource === "deployments") {
        if (obj.spec?.paused) throw new Error(t("wl.rev.paused"));
        await api.patch(path, deploymentRollbackPatch(obj, r.source), "application/json-patch+json");
      } else {
        await api.patch(path, r.source.data, "application/strategic-merge-patch+json");
      }
      setTarget(null);
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <h2 className="section">{t("wl.revisions")}</h2>
      {list.loaded && history.length === 0 && <p className="muted">{t("wl.rev.none")}</p>}
      {history.length > 0 && (
        <Table<Revision>
          label={t("wl.revisions")}
          rows={history}
          rowKey={(r) => r.name}
          columns={[
            { title: "wl.rev.number", render: (r) => (r.revision === current ? t("wl.rev.current", { n: r.revision }) : `#${r.revision}`) },
            { title: "col.images", render: (r) => r.images.join(", ") },
            { title: "col.created", render: (r) => <Ago iso={r.created} i18n={i18n} /> },
            {
              title: "col.actions",
              render: (r) =>
                canUpdate && r.revision !== current ? (
                  <button type="button" onClick={() => setTarget(r)}>
                    {t("wl.rev.rollbackTo", { n: r.revision })}
                  </button>
                ) : null,
            },
          ]}
        />
      )}
      <Dialog open={!!target} onClose={() => setTarget(null)} title={t("wl.rev.confirmTitle")}>
        <p>{target && t("wl.rev.confirm", { name: obj.metadata.name, n: target.revision, images: target.images.join(", ") })}</p>
        <ErrorBox error={error} />
        <div className="toolbar">
          <span className="spacer" />
          <button type="button" onClick={() => setTarget(null)}>
            {t("action.cancel")}
          </button>
          <button type="button" className="primary" onClick={() => target && rollback(target)} autoFocus>
            {t("wl.rev.rollback")}
          </button>
        </div>
      </Dialog>
    </>
  );
}

function HpaDialog({ cluster, ns, resource, obj, hpa, onClose }: Props & { hpa: K8sObject | null; onClose: () => void }) {
  const { t } = useI18n();
  const [f, setF] = useState<HpaForm>(() => (hpa ? hpaToForm(hpa) : { name: obj.metadata.name, minReplicas: "1", maxReplicas: "3", cpu: "80", memory: "" }));
  const [error, setError] = useState<unknown>(null);
  const set = (p: Partial<HpaForm>) => setF((cur) => ({ ...cur, ...p }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problem = hpaProblem(f);
    if (problem) return setError(new Error(t(problem)));
    const target = { apiVersion: workloadKinds[resource].apiVersion, kind: workloadKinds[resource].kind, name: obj.metadata.name };
    try {
      // Its controller writes the autoscaler's status while the dialog is open: the form goes onto the copy as it is now.
      if (hpa) await api.update(resourcePath(cluster, autoscalers, ns, hpa.metadata.name), (latest: K8sObject) => applyHpa(latest, f, target, ns), (latest) => sameForm(hpaToForm(latest), hpaToForm(hpa)));
      else await api.post(resourcePath(cluster, autoscalers, ns), applyHpa(null, f, target, ns));
      onClose();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="form" onSubmit={submit}>
      <Text label="form.name" value={f.name} onChange={(name) => set({ name })} required disabled={!!hpa} pattern="[a-z0-9]([\-a-z0-9.]*[a-z0-9])?" />
      <div className="row2">
        <Text label="hpa.min" type="number" value={f.minReplicas} onChange={(minReplicas) => set({ minReplicas })} required />
        <Text label="hpa.max" type="number" value={f.maxReplicas} onChange={(maxReplicas) => set({ maxReplicas })} required />
        <Text label="hpa.cpu" type="number" value={f.cpu} onChange={(cpu) => set({ cpu })} />
        <Text label="hpa.memory" type="number" value={f.memory} onChange={(memory) => set({ memory })} />
      </div>
      <FormFooter error={error} onCancel={onClose} submit={hpa ? t("action.save") : undefined} />
    </form>
  );
}

function Autoscaler(props: Props) {
  const { cluster, ns, resource, obj } = props;
  const { t } = useI18n();
  const list = useLiveList(resourcePath(cluster, autoscalers, ns));
  const mine = list.items.filter((h) => targets(h, workloadKinds[resource].kind, obj.metadata.name));
  const canWrite = useCan(cluster, { verb: "create", group: "autoscaling", resource: "horizontalpodautoscalers", namespace: ns });
  const [editing, setEditing] = useState<K8sObject | "new" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const remove = (h: K8sObject) => api.delete(resourcePath(cluster, autoscalers, ns, h.metadata.name)).then(() => setError(null), setError);
  return (
    <>
      <h2 className="section">{t("hpa.title")}</h2>
      {list.loaded && mine.length === 0 && <p className="muted">{t("hpa.none")}</p>}
      {mine.map((h) => {
        const f = hpaToForm(h);
        return (
          <div className="toolbar card" key={h.metadata.name} data-testid="hpa">
            <span>{t("hpa.summary", { name: h.metadata.name, min: f.minReplicas, max: f.maxReplicas, cpu: f.cpu || "—", memory: f.memory || "—" })}</span>
            <span className="spacer" />
            {canWrite && (
              <>
                <button type="button" onClick={() => setEditing(h)}>
                  {t("hpa.edit", { name: h.metadata.name })}
                </button>
                <button type="button" className="danger" onClick={() => remove(h)}>
                  {t("hpa.delete", { name: h.metadata.name })}
                </button>
              </>
            )}
          </div>
        );
      })}
      <ErrorBox error={error ?? list.error} />
      {canWrite && mine.length === 0 && (
        <button type="button" onClick={() => setEditing("new")}>
          {t("hpa.add")}
        </button>
      )}
      <Dialog open={editing !== null} onClose={() => setEditing(null)} title={t("hpa.title")}>
        <HpaDialog {...props} hpa={editing === "new" ? null : editing} onClose={() => setEditing(null)} />
      </Dialog>
    </>
  );
}

/** Edit, revisions and (for scalable kinds) the autoscaler of a workload. */
export default function WorkloadExtras(props: Props) {
  const { cluster, ns, resource, obj } = props;
  const { t } = useI18n();
  const canUpdate = useCan(cluster, { verb: "update", group: resources[resource].group, resource, namespace: ns });
  return (
    <>
      {canUpdate && (
        <div className="toolbar">
          <Link className="button" to={`/clusters/${cluster}/projects/${ns}/${resource}/${encodeURIComponent(obj.metadata.name)}/edit`}>
            {t("wl.edit")}
          </Link>
        </div>
      )}
      {["deployments", "statefulsets", "daemonsets"].includes(resource) && <Revisions {...props} />}
      {(resource === "deployments" || resource === "statefulsets") && <Autoscaler {...props} />}
    </>
  );
}
