// Settings of a project (description and alias, its ResourceQuota and LimitRange defaults) and of
// a workspace (description, manager, cluster placement, its quota in each cluster). Nothing moves
// silently: a cluster that still holds the workspace's projects cannot be taken out of its
// placement — the page names the projects and refuses.

import { useEffect, useState, type FormEvent } from "react";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { api, sameForm } from "../api/client";
import { useCan, useLoad } from "../api/hooks";
import { clusterPath, IAM, resourcePath, resources, TENANT } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { ErrorBox, PageHead } from "../components/ui";
import { useApp } from "../state/context";
import * as q from "../state/quotaForms";
import { FormError, FormInvalid, Text } from "./resources";

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are open JSON. */
type Obj = Record<string, any>;

const QUOTA_LABELS: Record<(typeof q.QUOTA_RESOURCES)[number], MessageKey> = {
  "requests.cpu": "res.q.requestsCpu",
  "limits.cpu": "res.q.limitsCpu",
  "requests.memory": "res.q.requestsMemory",
  "limits.memory": "res.q.limitsMemory",
  pods: "res.q.pods",
  "count/deployments.apps": "res.q.deployments",
  "count/statefulsets.apps": "res.q.statefulsets",
  services: "res.q.services",
  persistentvolumeclaims: "res.q.pvcs",
  "requests.storage": "res.q.storage",
  configmaps: "res.q.configmaps",
  secrets: "res.q.secrets",
};

const LIMIT_LABELS: [keyof q.LimitForm, MessageKey][] = [
  ["defaultCpu", "res.l.defaultCpu"],
  ["defaultMemory", "res.l.defaultMemory"],
  ["requestCpu", "res.l.requestCpu"],
  ["requestMemory", "res.l.requestMemory"],
  ["maxCpu", "res.l.maxCpu"],
  ["maxMemory", "res.l.maxMemory"],
];

/** Saves with `save`, showing the error or "Saved". */
function useSaver(save: () => Promise<void>) {
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    try {
      await save();
      setError(null);
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  return { error, saved, submit };
}

function SaveBar({ error, saved, allowed }: { error: unknown; saved: boolean; allowed: boolean }) {
  const { t } = useI18n();
  return (
    <>
      <FormError error={error} />
      {saved && (
        <p className="notice" role="status">
          {t("yaml.saved")}
        </p>
      )}
      {allowed && (
        <div className="toolbar">
          <span className="spacer" />
          <button className="primary" type="submit">
            {t("action.save")}
          </button>
        </div>
      )}
    </>
  );
}

/** Builds with `build`, turning its complaint into a form mistake. */
function built<T>(build: () => T): T {
  try {
    return build();
  } catch (e) {
    throw new FormInvalid((e as Error).message);
  }
}

/** The quota limits as inputs, with what is used beside each. */
function QuotaFields({ f, set, used, disabled, prefix }: { f: q.QuotaForm; set: (f: q.QuotaForm) => void; used: Record<string, string>; disabled: boolean; prefix: string }) {
  const { t } = useI18n();
  return (
    <div className="row2">
      {q.QUOTA_RESOURCES.map((r) => (
        <label key={r}>
          <span>
            {t(QUOTA_LABELS[r])} <code translate="no">{r}</code>
            {used[r] !== undefined && <span className="muted"> · {t("res.used", { used: used[r] })}</span>}
          </span>
          <input name={`${prefix}${r}`} disabled={disabled} placeholder={t("res.noLimit")} value={f[r] ?? ""} onChange={(e) => set({ ...f, [r]: e.target.value })} />
        </label>
      ))}
    </div>
  );
}

function ProjectInfo({ cluster, ns }: { cluster: string; ns: string }) {
  const { t } = useI18n();
  const path = resourcePath(cluster, resources.namespaces, undefined, ns);
  const obj = useLoad<Obj>(path);
  const allowed = useCan(cluster, { verb: "patch", resource: "namespaces", namespace: ns }) === true;
  const [description, setDescription] = useState("");
  const [alias, setAlias] = useState("");
  useEffect(() => {
    setDescription(obj.data?.metadata?.annotations?.[q.DESCRIPTION] ?? "");
    setAlias(obj.data?.metadata?.annotations?.[q.ALIAS] ?? "");
  }, [obj.data]);
  const s = useSaver(async () => {
    await api.patch(path, { metadata: { annotations: q.projectAnnotations(description, alias) } });
  });
  return (
    <form className="form card wide" onSubmit={s.submit} aria-label={t("res.basic")}>
      <h2 className="section">{t("res.basic")}</h2>
      <ErrorBox error={obj.error} />
      <Text label={t("res.alias")} name="alias" disabled={!allowed} value={alias} onChange={setAlias} />
      <Text label={t("form.description")} name="description" disabled={!allowed} value={description} onChange={setDescription} />
      <SaveBar error={s.error} saved={s.saved} allowed={allowed} />
    </form>
  );
}

/** The first object of a namespaced list (a project has one quota and one limit range here). */
function useFirst(cluster: string, plural: string, ns: string) {
  const list = useLoad<{ items: Obj[] }>(resourcePath(cluster, resources[plural], ns));
  return { obj: list.data?.items[0], loaded: !!list.data, error: list.error, reload: list.reload };
}

function ProjectQuota({ cluster, ns }: { cluster: string; ns: string }) {
  const { t } = useI18n();
  const cur = useFirst(cluster, "resourcequotas", ns);
  const allowed = useCan(cluster, { verb: "create", resource: "resourcequotas", namespace: ns }) === true;
  const [f, setF] = useState<q.QuotaForm>(() => q.projectQuotaForm(undefined));
  useEffect(() => setF(q.projectQuotaForm(cur.obj)), [cur.obj]);
  const s = useSaver(async () => {
    // The quota controller writes status.used as pods come and go: the form goes onto the quota as it is now.
    if (cur.obj) await api.update(resourcePath(cluster, resources.resourcequotas, ns, cur.obj.metadata.name), (latest: K8sObject) => built(() => q.buildProjectQuota(f, ns, latest)), (latest) => sameForm(q.projectQuotaForm(latest), q.projectQuotaForm(cur.obj)));
    else await api.post(resourcePath(cluster, resources.resourcequotas, ns), built(() => q.buildProjectQuota(f, ns, undefined)));
    cur.reload();
  });
  return (
    <form className="form card wide" onSubmit={s.submit} aria-label={t("res.quota")}>
      <h2 className="section">{t("res.quota")}</h2>
      <ErrorBox error={cur.error} />
      <QuotaFields f={f} set={setF} used={cur.obj?.status?.used ?? {}} disabled={!allowed} prefix="quota-" />
      <SaveBar error={s.error} saved={s.saved} allowed={allowed} />
    </form>
  );
}

function ProjectLimits({ cluster, ns }: { cluster: string; ns: string }) {
  const { t } = useI18n();
  const cur = useFirst(cluster, "limitranges", ns);
  const allowed = useCan(cluster, { verb: "create", resource: "limitranges", namespace: ns }) === true;
  const [f, setF] = useState<q.LimitForm>(() => q.limitForm(undefined));
  useEffect(() => setF(q.limitForm(cur.obj)), [cur.obj]);
  const s = useSaver(async () => {
    if (cur.obj) await api.update(resourcePath(cluster, resources.limitranges, ns, cur.obj.metadata.name), (latest: K8sObject) => built(() => q.buildLimitRange(f, ns, latest)), (latest) => sameForm(q.limitForm(latest), q.limitForm(cur.obj)));
    else await api.post(resourcePath(cluster, resources.limitranges, ns), built(() => q.buildLimitRange(f, ns, undefined)));
    cur.reload();
  });
  return (
    <form className="form card wide" onSubmit={s.submit} aria-label={t("res.limits")}>
      <h2 className="section">{t("res.limits")}</h2>
      <p className="muted">{t("res.limitsHint")}</p>
      <ErrorBox error={cur.error} />
      <div className="row2">
        {LIMIT_LABELS.map(([k, label]) => (
          <Text key={k} label={t(label)} name={`limit-${k}`} disabled={!allowed} placeholder={t("res.noLimit")} value={f[k]} onChange={(v) => setF({ ...f, [k]: v })} />
        ))}
      </div>
      <SaveBar error={s.error} saved={s.saved} allowed={allowed} />
    </form>
  );
}

/** A project's settings page. */
export function ProjectSettings({ cluster, ns }: { cluster: string; ns: string }) {
  const { t } = useI18n();
  return (
    <>
      <PageHead title={`${t("res.projectSettings")}: ${ns}`} />
      <ProjectInfo cluster={cluster} ns={ns} />
      <ProjectQuota cluster={cluster} ns={ns} />
      <ProjectLimits cluster={cluster} ns={ns} />
    </>
  );
}

/** The workspace's projects in each cluster `clusters` names that it leaves. */
async function projectsLeft(ws: string, clusters: string[]): Promise<string[]> {
  const found = await Promise.all(
    clusters.map((c) =>
      api
        .get<{ items: K8sObject[] }>(clusterPath(c, `${TENANT}/workspaces/${ws}/namespaces`))
        .then((l) => l.items.map((p) => `${c}/${p.metadata.name}`)),
    ),
  );
  return found.flat();
}

function WorkspaceInfo({ ws, template, reload, allowed }: { ws: string; template: Obj; reload: () => void; allowed: boolean }) {
  const { t } = useI18n();
  const app = useApp();
  const [f, setF] = useState<q.WorkspaceForm>(() => q.workspaceForm(template));
  useEffect(() => setF(q.workspaceForm(template)), [template]);
  const host = app.clusters.find((c) => c.host)?.name ?? "host";
  // The users to choose a manager from (for those who may list them).
  const users = useLoad<{ items: K8sObject[] }>(allowed ? `${IAM}/users?limit=500` : null);
  const before = q.workspaceForm(template).clusters;
  const s = useSaver(async () => {
    const removed = q.removedClusters(before, f.clusters);
    const left = await projectsLeft(ws, removed);
    if (left.length) throw new Error(t("res.placementRefused", { clusters: removed.join(", "), projects: left.join(", ") }));
    // The platform writes the template too (its finalizer, its clusters' state): the form goes onto it as it is
    // now, unless what it shows changed meanwhile (the placement checked above is the one it was read with).
    await api.update(`${TENANT}/workspacetemplates/${ws}`, (latest: Obj) => q.buildWorkspace(f, latest), (latest) => sameForm(q.workspaceForm(latest), q.workspaceForm(template)));
    reload();
  });
  const toggle = (c: string, on: boolean) => setF({ ...f, clusters: on ? [...f.clusters, c] : f.clusters.filter((x) => x !== c) });
  return (
    <form className="form card wide" onSubmit={s.submit} aria-label={t("res.basic")}>
      <h2 className="section">{t("res.basic")}</h2>
      <Text label={t("form.description")} name="description" disabled={!allowed} value={f.description} onChange={(description) => setF({ ...f, description })} />
      <Text label={t("form.manager")} name="manager" disabled={!allowed} list="ws-users" value={f.manager} onChange={(manager) => setF({ ...f, manager })} />
      <datalist id="ws-users">
        {(users.data?.items ?? []).map((u) => (
          <option key={u.metadata.name} value={u.metadata.name} />
        ))}
      </datalist>
      <fieldset className="placement">
        <legend>{t("form.placement")}</legend>
        <p className="muted">{t("res.placementHint")}</p>
        {app.clusters.map((c) => (
          <label className="inline" key={c.name}>
            <input type="checkbox" name={`cluster-${c.name}`} disabled={!allowed || c.name === host} checked={c.name === host || f.clusters.includes(c.name)} onChange={(e) => toggle(c.name, e.target.checked)} />
            {c.name}
          </label>
        ))}
      </fieldset>
      {/* A placement named in the template but not known to the console stays as it is. */}
      <SaveBar error={s.error} saved={s.saved} allowed={allowed} />
    </form>
  );
}

function WorkspaceQuota({ ws, clusters, allowed }: { ws: string; clusters: string[]; allowed: boolean }) {
  const { t } = useI18n();
  const [cluster, setCluster] = useState(clusters[0] ?? "");
  const base = clusterPath(cluster, `${TENANT}/workspaces/${ws}/resourcequotas`);
  const list = useLoad<{ items: Obj[] }>(cluster ? base : null);
  const cur = list.data?.items[0];
  const [f, setF] = useState<q.QuotaForm>(() => q.workspaceQuotaForm(undefined));
  useEffect(() => setF(q.workspaceQuotaForm(cur)), [cur]);
  const s = useSaver(async () => {
    // Its controller writes status.total as the clusters' quotas change: the form goes onto the quota as it is now.
    if (cur) await api.update(`${base}/${encodeURIComponent(cur.metadata.name)}`, (latest: Obj) => built(() => q.buildWorkspaceQuota(f, ws, latest)), (latest) => sameForm(q.workspaceQuotaForm(latest), q.workspaceQuotaForm(cur)));
    else await api.post(base, built(() => q.buildWorkspaceQuota(f, ws, undefined)));
    list.reload();
  });
  return (
    <form className="form card wide" onSubmit={s.submit} aria-label={t("res.wsQuota")}>
      <h2 className="section">{t("res.wsQuota")}</h2>
      <label>
        {t("top.cluster")}
        <select name="quotaCluster" value={cluster} onChange={(e) => setCluster(e.target.value)}>
          {clusters.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>
      <ErrorBox error={list.error} />
      <QuotaFields f={f} set={setF} used={cur?.status?.total?.used ?? cur?.status?.used ?? {}} disabled={!allowed} prefix="wsquota-" />
      <SaveBar error={s.error} saved={s.saved} allowed={allowed} />
    </form>
  );
}

/** A workspace's settings page. */
export function WorkspaceSettings({ ws }: { ws: string }) {
  const { t } = useI18n();
  const template = useLoad<Obj>(`${TENANT}/workspacetemplates/${ws}`);
  const allowed = useCan(undefined, { verb: "update", group: "tenant.kubesphere.io", resource: "workspacetemplates" }) === true;
  const quotaAllowed = useCan(undefined, { verb: "create", group: "quota.kubesphere.io", resource: "resourcequotas", workspace: ws }) === true;
  const placed = template.data ? q.workspaceForm(template.data).clusters : [];
  return (
    <>
      <PageHead title={`${t("res.wsSettings")}: ${ws}`} />
      <ErrorBox error={template.error} />
      {template.data && <WorkspaceInfo ws={ws} template={template.data} reload={template.reload} allowed={allowed} />}
      {placed.length > 0 && <WorkspaceQuota key={placed.join(",")} ws={ws} clusters={placed} allowed={quotaAllowed} />}
    </>
  );
}
