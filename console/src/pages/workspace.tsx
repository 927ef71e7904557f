import { lazy, useEffect, useState, type FormEvent } from "react";
import { Link, Navigate, Route, Routes, useParams } from "react-router-dom";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { useCan, useLoad } from "../api/hooks";
import { clusterPath, IAM, TENANT } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Table } from "../components/Table";
import { Dialog, ErrorBox, FormFooter, PageHead, Status } from "../components/ui";
import { Members } from "../components/Members";
import { RolePages } from "../components/Roles";
import { useApp } from "../state/context";

const WorkspaceApps = lazy(() => import("./appstore").then((m) => ({ default: m.WorkspaceApps })));
const WorkspaceApp = lazy(() => import("./appstore").then((m) => ({ default: m.WorkspaceApp })));
const Repos = lazy(() => import("./appstore").then((m) => ({ default: m.Repos })));
const WorkspaceSettings = lazy(() => import("./settings").then((m) => ({ default: m.WorkspaceSettings })));

function AppTemplate({ ws }: { ws: string }) {
  const { app = "" } = useParams();
  return <WorkspaceApp key={app} ws={ws} app={app} />;
}

interface List {
  items: K8sObject[];
  totalItems?: number;
}

function Overview({ ws }: { ws: string }) {
  const { t, number } = useI18n();
  const w = useLoad<K8sObject>(`${TENANT}/workspaces/${ws}`);
  // The description is the template's (those who may not read templates see the workspace's).
  const template = useLoad<K8sObject>(`${TENANT}/workspacetemplates/${ws}`);
  const projects = useLoad<List>(`${TENANT}/workspaces/${ws}/namespaces`);
  const members = useLoad<List>(`${IAM}/workspaces/${ws}/workspacemembers`);
  const clusters = useLoad<List>(`${TENANT}/workspaces/${ws}/clusters`);
  return (
    <>
      <PageHead title={`${t("nav.workspace")}: ${ws}`} />
      <ErrorBox error={w.error} />
      <div className="cards">
        <div className="card">
          <div className="muted">{t("col.manager")}</div>
          <div className="stat">{w.data?.spec?.manager ?? "—"}</div>
        </div>
        <div className="card">
          <div className="muted">{t("overview.projects")}</div>
          <div className="stat">{number(projects.data?.items.length ?? 0)}</div>
        </div>
        <div className="card">
          <div className="muted">{t("overview.members")}</div>
          <div className="stat">{members.data ? number(members.data.items.length) : "—"}</div>
        </div>
        <div className="card">
          <div className="muted">{t("form.description")}</div>
          <div data-testid="ws-description">{(template.data ?? w.data)?.metadata.annotations?.["kubesphere.io/description"] ?? "—"}</div>
        </div>
        <div className="card">
          <div className="muted">{t("overview.clusters")}</div>
          <div className="stat">{(clusters.data?.items ?? []).map((c) => c.metadata.name).join(", ") || "—"}</div>
        </div>
      </div>
    </>
  );
}

interface Placed {
  cluster: string;
  project: K8sObject;
}

/** The workspace's projects in every cluster it is placed on (one list; a cluster that cannot
 * answer is named in the error, the others still listed). */
function useAllProjects(ws: string, clusters: string[], tick: number) {
  const [rows, setRows] = useState<Placed[]>([]);
  const [error, setError] = useState<unknown>(null);
  const key = clusters.join(",");
  useEffect(() => {
    let gone = false;
    const asks = key.split(",").filter(Boolean).map((c) => api.get<List>(clusterPath(c, `${TENANT}/workspaces/${ws}/namespaces`)).then((l) => l.items.map((project) => ({ cluster: c, project }))));
    void Promise.allSettled(asks).then((rs) => {
      if (gone) return;
      setRows(rs.flatMap((r) => (r.status === "fulfilled" ? r.value : [])));
      setError(rs.map((r) => (r.status === "rejected" ? r.reason : null)).find(Boolean) ?? null);
    });
    return () => {
      gone = true;
    };
  }, [ws, key, tick]);
  return { rows, error };
}

function Projects({ ws }: { ws: string }) {
  const { t, date } = useI18n();
  const app = useApp();
  const placed = useLoad<List>(`${TENANT}/workspaces/${ws}/clusters`);
  const names = new Set((placed.data?.items ?? []).map((c) => c.metadata.name));
  // In the console's cluster order (host first); a workspace placed nowhere yet gets the host.
  const ordered = app.clusters.map((c) => c.name).filter((n) => names.has(n));
  const choices = ordered.length ? ordered : [app.clusters.find((c) => c.host)?.name ?? "host"];
  const [tick, setTick] = useState(0);
  const projects = useAllProjects(ws, placed.data ? choices : [], tick);
  const [cluster, setCluster] = useState("");
  const current = cluster || choices[0];
  const canCreate = useCan(undefined, { verb: "create", group: "tenant.kubesphere.io", resource: "namespaces", workspace: ws });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(clusterPath(current, `${TENANT}/workspaces/${ws}/namespaces`), { apiVersion: "v1", kind: "Namespace", metadata: { name } });
      setCreating(false);
      setName("");
      setTick((n) => n + 1);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <PageHead title={t("nav.projects")}>
        {canCreate && (
          <button className="primary" type="button" onClick={() => (setError(null), setCreating(true))}>
            {t("create.project")}
          </button>
        )}
      </PageHead>
      <ErrorBox error={projects.error} />
      <Table<Placed>
        label={t("nav.projects")}
        rows={projects.rows}
        rowKey={(r) => `${r.cluster}/${r.project.metadata.name}`}
        columns={[
          { title: "col.name", render: (r) => <Link to={`/clusters/${r.cluster}/projects/${r.project.metadata.name}/deployments`}>{r.project.metadata.name}</Link>, sort: (r) => r.project.metadata.name },
          { title: "top.cluster", render: (r) => r.cluster, sort: (r) => r.cluster },
          { title: "col.description", render: (r) => r.project.metadata.annotations?.["kubesphere.io/description"] ?? "" },
          { title: "col.status", render: (r) => <Status value={r.project.status?.phase} /> },
          { title: "col.created", render: (r) => date(r.project.metadata.creationTimestamp), sort: (r) => r.project.metadata.creationTimestamp ?? "" },
        ]}
      />
      <Dialog open={creating} onClose={() => setCreating(false)} title={t("create.project")}>
        <form className="form" onSubmit={submit}>
          <label>
            {t("top.cluster")}
            <select name="cluster" value={current} onChange={(e) => setCluster(e.target.value)}>
              {choices.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
          <label>
            {t("form.name")}
            <input name="name" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <FormFooter error={error} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
    </>
  );
}

/** Workspace-level pages. */
export default function Workspace() {
  const { ws = "" } = useParams();
  return (
    <Routes>
      <Route path="overview" element={<Overview ws={ws} />} />
      <Route path="projects" element={<Projects ws={ws} />} />
      <Route path="members" element={<Members path={`${IAM}/workspaces/${ws}/workspacemembers`} level={{ scope: "workspace", ws }} />} />
      <Route path="roles/*" element={<RolePages level={{ scope: "workspace", ws }} base={`/workspaces/${ws}/roles`} />} />
      <Route path="apps" element={<WorkspaceApps ws={ws} />} />
      <Route path="apps/:app" element={<AppTemplate ws={ws} />} />
      <Route path="repos" element={<Repos ws={ws} />} />
      <Route path="settings" element={<WorkspaceSettings ws={ws} />} />
      <Route path="*" element={<Navigate to="overview" replace />} />
    </Routes>
  );
}
