// Create and edit forms for Deployments, StatefulSets, DaemonSets, Jobs and CronJobs. Editing
// reads the object into the form and merges the form back into it (model.ts), so what the form
// does not show is sent back unchanged; the YAML of what will be sent is one click away.

import { useMemo, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { dump } from "js-yaml";
import { useI18n } from "../i18n";
import { api, sameForm } from "../api/client";
import { useLoad } from "../api/hooks";
import { pagedPath } from "../api/paged";
import { resourcePath, resources, type ResourceType } from "../api/paths";
import type { K8sObject, ListResult } from "../api/watch";
import { editable } from "../components/ResourceDetail";
import { ErrorBox, FormFooter, PageHead } from "../components/ui";
import { Choice, Container, NamePick, Rows, Text, type Sources } from "./fields";
import { applyEdit, buildWorkload, emptyContainer, emptyForm, FormError, toForm, workloadKinds, type ClaimTemplateRow, type ContainerForm, type VolumeRow, type WorkloadForm, type WorkloadResource } from "./model";

const claims: ResourceType = { plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim", group: "", version: "v1", namespaced: true };

/**
 * The names (and keys) of the project's ConfigMaps, Secrets and PersistentVolumeClaims. Secrets
 * come from the platform's metadata-only list (names, types and `keys`, never values), so
 * offering a Secret's keys brings none of its values to the browser.
 */
function useSources(cluster: string, ns: string | null): Sources {
  const cms = useLoad<ListResult>(ns === null ? null : resourcePath(cluster, resources.configmaps, ns));
  const secrets = useLoad<ListResult>(ns === null ? null : `${pagedPath(cluster, resources.secrets, ns)}?sortBy=name&ascending=true`);
  const pvcs = useLoad<ListResult>(ns === null ? null : resourcePath(cluster, claims, ns));
  return useMemo(() => {
    const keys = (l: ListResult | null) => Object.fromEntries((l?.items ?? []).map((o) => [o.metadata.name, Object.keys({ ...((o.data as object) ?? {}), ...((o.binaryData as object) ?? {}) })]));
    const secretKeys = Object.fromEntries((secrets.data?.items ?? []).map((o) => [o.metadata.name, Array.isArray(o.keys) ? (o.keys as string[]) : []]));
    return { configMaps: keys(cms.data), secrets: secretKeys, claims: (pvcs.data?.items ?? []).map((o) => o.metadata.name) };
  }, [cms.data, secrets.data, pvcs.data]);
}

function Volumes({ rows, onChange, sources }: { rows: VolumeRow[]; onChange: (r: VolumeRow[]) => void; sources: Sources }) {
  const { t } = useI18n();
  const options: [VolumeRow["source"], string][] = [
    ["emptyDir", t("wl.vol.emptyDir")],
    ["configMap", t("wl.env.configMap")],
    ["secret", t("wl.env.secret")],
    ["pvc", t("wl.vol.pvc")],
  ];
  const names = { configMap: Object.keys(sources.configMaps), secret: Object.keys(sources.secrets), pvc: sources.claims };
  const label = { configMap: "wl.configMap", secret: "wl.secret", pvc: "wl.vol.pvc" } as const;
  return (
    <Rows<VolumeRow> title={t("wl.volumes")} item={t("wl.volumeItem")} rows={rows} onChange={onChange} make={() => ({ name: "", source: "emptyDir", ref: "" })}>
      {(v, set) => (
        <div className="row3">
          <Text label="form.name" value={v.name} onChange={(name) => set({ name })} required />
          {v.source === "other" ? (
            <p className="muted">{t("wl.kept")}</p>
          ) : (
            <>
              <Choice label="wl.vol.source" value={v.source} options={options} onChange={(source) => set({ source, ref: "" })} />
              {v.source !== "emptyDir" && <NamePick label={label[v.source]} value={v.ref} names={names[v.source]} onChange={(ref) => set({ ref })} />}
            </>
          )}
        </div>
      )}
    </Rows>
  );
}

function ClaimTemplates({ rows, onChange, locked }: { rows: ClaimTemplateRow[]; onChange: (r: ClaimTemplateRow[]) => void; locked: boolean }) {
  const { t } = useI18n();
  const modes: [string, string][] = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"].map((m) => [m, m]);
  return (
    <Rows<ClaimTemplateRow> title={t("wl.claimTemplates")} item={t("wl.claimTemplate")} rows={rows} onChange={onChange} make={() => ({ name: "", storageClass: "", size: "1Gi", accessMode: "ReadWriteOnce" })}>
      {(c, set) => (
        <div className="row3">
          <Text label="form.name" value={c.name} onChange={(name) => set({ name })} required disabled={locked && c.from !== undefined} />
          <Text label="wl.size" value={c.size} onChange={(size) => set({ size })} required disabled={locked && c.from !== undefined} />
          <Text label="wl.storageClass" value={c.storageClass} onChange={(storageClass) => set({ storageClass })} disabled={locked && c.from !== undefined} />
          <Choice label="wl.accessMode" value={c.accessMode} options={modes} onChange={(accessMode) => set({ accessMode })} />
        </div>
      )}
    </Rows>
  );
}

/** A Job's (or a CronJob's jobs') settings; an existing Job shows only those it may change. */
function JobFields({ f, set, jobEdit }: { f: WorkloadForm; set: (p: Partial<WorkloadForm>) => void; jobEdit: boolean }) {
  const { t } = useI18n();
  return (
    <>
      <div className="row2">
        {!jobEdit && <Text label="wl.completions" type="number" value={f.completions} onChange={(completions) => set({ completions })} />}
        <Text label="wl.parallelism" name="parallelism" type="number" value={f.parallelism} onChange={(parallelism) => set({ parallelism })} />
        <Text label="wl.backoffLimit" type="number" value={f.backoffLimit} onChange={(backoffLimit) => set({ backoffLimit })} />
        <Text label="wl.activeDeadline" type="number" value={f.activeDeadlineSeconds} onChange={(activeDeadlineSeconds) => set({ activeDeadlineSeconds })} />
        <Text label="wl.ttlAfterFinished" type="number" value={f.ttlSecondsAfterFinished} onChange={(ttlSecondsAfterFinished) => set({ ttlSecondsAfterFinished })} />
        {!jobEdit && <Choice label="wl.restartPolicy" value={f.restartPolicy} options={[["Never", t("wl.restart.Never")], ["OnFailure", t("wl.restart.OnFailure")]]} onChange={(restartPolicy) => set({ restartPolicy })} />}
      </div>
      {f.resource === "jobs" && (
        <label className="inline">
          <input type="checkbox" checked={f.suspend} onChange={(e) => set({ suspend: e.target.checked })} />
          {t("wl.jobSuspend")}
        </label>
      )}
    </>
  );
}

/** Replicas, service name, job and schedule settings, as the kind has them. */
function KindFields({ f, set, editing }: { f: WorkloadForm; set: (p: Partial<WorkloadForm>) => void; editing: boolean }) {
  const { t } = useI18n();
  const r = f.resource;
  return (
    <>
      <div className="row2">
        {(r === "deployments" || r === "statefulsets") && <Text label="form.replicas" name="replicas" type="number" value={f.replicas} onChange={(replicas) => set({ replicas })} />}
        {r === "statefulsets" && <Text label="wl.serviceName" value={f.serviceName} onChange={(serviceName) => set({ serviceName })} disabled={editing} placeholder={f.name} />}
        {r === "cronjobs" && <Text label="wl.schedule" value={f.schedule} onChange={(schedule) => set({ schedule })} required />}
        {r === "cronjobs" && (
          <Choice label="wl.concurrency" value={f.concurrencyPolicy} options={[["Allow", t("wl.conc.Allow")], ["Forbid", t("wl.conc.Forbid")], ["Replace", t("wl.conc.Replace")]]} onChange={(concurrencyPolicy) => set({ concurrencyPolicy })} />
        )}
      </div>
      {r === "cronjobs" && (
        <label className="inline">
          <input type="checkbox" checked={f.suspend} onChange={(e) => set({ suspend: e.target.checked })} />
          {t("wl.suspend")}
        </label>
      )}
      {(r === "jobs" || r === "cronjobs") && <JobFields f={f} set={set} jobEdit={editing && r === "jobs"} />}
    </>
  );
}

/** What will be sent, or the form's problem in the user's language. */
function result(f: WorkloadForm, original: K8sObject | null, ns: string, t: ReturnType<typeof useI18n>["t"]): { obj: K8sObject | null; error: Error | null } {
  try {
    return { obj: original ? applyEdit(original, f) : buildWorkload(f, ns), error: null };
  } catch (e) {
    if (e instanceof FormError) return { obj: null, error: new Error(t(e.key, { field: e.field })) };
    throw e;
  }
}

function Editor({ cluster, ns, resource, original }: { cluster: string; ns: string; resource: WorkloadResource; original: K8sObject | null }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [f, setF] = useState<WorkloadForm>(() => (original ? toForm(resource, original) : emptyForm(resource)));
  const [error, setError] = useState<unknown>(null);
  // A Job's pod template cannot change once it exists: its edit offers only what may.
  const jobEdit = !!original && resource === "jobs";
  const sources = useSources(cluster, jobEdit ? null : ns);
  const set = (p: Partial<WorkloadForm>) => setF((cur) => ({ ...cur, ...p }));
  const { kind } = workloadKinds[resource];
  const rt = resources[resource];
  const out = result(f, original, ns, t);
  const volumeNames = [...f.volumes.map((v) => v.name), ...(resource === "statefulsets" ? f.claimTemplates.map((c) => c.name) : [])].filter(Boolean);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!out.obj) return setError(out.error);
    try {
      if (original) await api.update(resourcePath(cluster, rt, ns, original.metadata.name), (latest: K8sObject) => applyEdit(latest, f), (latest) => sameForm(toForm(resource, latest), toForm(resource, original)));
      else await api.post(resourcePath(cluster, rt, ns), out.obj);
      navigate(`/clusters/${cluster}/projects/${ns}/${resource}/${encodeURIComponent(out.obj.metadata.name)}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <PageHead title={original ? t("wl.editTitle", { kind, name: original.metadata.name }) : t("wl.create", { kind })} />
      <form className="form wide card" onSubmit={submit} aria-label={original ? t("wl.editTitle", { kind, name: original.metadata.name }) : t("wl.create", { kind })}>
        <Text label="form.name" name="name" value={f.name} onChange={(name) => set({ name })} required pattern="[a-z0-9]([\-a-z0-9.]*[a-z0-9])?" disabled={!!original} />
        <KindFields f={f} set={set} editing={!!original} />
        {jobEdit ? (
          <p className="muted">{t("wl.jobImmutable")}</p>
        ) : (
          <>
            <Rows<ContainerForm> title={t("wl.containers")} item={t("wl.container")} rows={f.containers} onChange={(containers) => set({ containers })} make={() => emptyContainer(`c${f.containers.length + 1}`)}>
              {(c, setC) => <Container c={c} set={setC} sources={sources} volumes={volumeNames} />}
            </Rows>
            <Volumes rows={f.volumes} onChange={(volumes) => set({ volumes })} sources={sources} />
          </>
        )}
        {resource === "statefulsets" && <ClaimTemplates rows={f.claimTemplates} onChange={(claimTemplates) => set({ claimTemplates })} locked={!!original} />}
        <details className="wl-yaml">
          <summary>{t("wl.yaml")}</summary>
          {out.obj ? <pre data-testid="workload-yaml" tabIndex={0}>{dump(editable(out.obj), { noRefs: true, lineWidth: 120 })}</pre> : <ErrorBox error={out.error} />}
        </details>
        <FormFooter error={error} onCancel={() => navigate(-1)} submit={original ? t("action.save") : undefined} />
      </form>
    </>
  );
}

/** The create form (`name` absent) or the edit form of a workload. */
export default function WorkloadFormPage({ cluster, ns, resource, name }: { cluster: string; ns: string; resource: WorkloadResource; name?: string }) {
  const { t } = useI18n();
  const loaded = useLoad<K8sObject>(name ? resourcePath(cluster, resources[resource], ns, name) : null);
  if (!name) return <Editor cluster={cluster} ns={ns} resource={resource} original={null} />;
  if (loaded.error) return <ErrorBox error={loaded.error} />;
  if (!loaded.data) return <p className="muted">{t("app.loading")}</p>;
  return <Editor key={loaded.data.metadata.resourceVersion} cluster={cluster} ns={ns} resource={resource} original={loaded.data} />;
}
