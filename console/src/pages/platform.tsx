import { lazy, useEffect, useState, type FormEvent } from "react";
import { Link, Navigate, Route, Routes } from "react-router-dom";
import { useI18n, languages, type Lang } from "../i18n";
import { useApp } from "../state/context";
import { api } from "../api/client";
import { useCan, useLoad } from "../api/hooks";
import { IAM, TENANT } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Table } from "../components/Table";
import { Confirm, Dialog, ErrorBox, Filter, FormFooter, PageHead, Status } from "../components/ui";
import type { ClusterInfo } from "../state/clusters";
import { RolePages } from "../components/Roles";

interface Paged {
  items: K8sObject[];
  totalItems: number;
}

const IdentityProviders = lazy(() => import("./identity"));
const JoinCluster = lazy(() => import("./clusters").then((m) => ({ default: m.JoinCluster })));
const ClusterDetail = lazy(() => import("./clusters").then((m) => ({ default: m.ClusterDetailRoute })));
const UserDetail = lazy(() => import("./users").then((m) => ({ default: m.UserDetailRoute })));

function Clusters() {
  const { t, number } = useI18n();
  const { clusters, reloadClusters } = useApp();
  // Clusters join and change health while the console is open: fetch afresh on each visit.
  useEffect(() => reloadClusters(), [reloadClusters]);
  // The host is reached directly: where its Cluster object reports nothing, ask it.
  const hostVersion = useLoad<{ gitVersion?: string }>("/version");
  const hostNodes = useLoad<{ items: unknown[] }>("/api/v1/nodes");
  const version = (c: ClusterInfo) => c.version ?? (c.host ? hostVersion.data?.gitVersion : undefined);
  const nodes = (c: ClusterInfo) => c.nodeCount ?? (c.host ? hostNodes.data?.items.length : undefined);
  const canJoin = useCan(undefined, { verb: "create", group: "cluster.kubesphere.io", resource: "clusters" });
  return (
    <>
      <PageHead title={t("nav.clusters")}>
        {canJoin && (
          <Link className="button primary" to="/platform/join-cluster">
            {t("cl.join")}
          </Link>
        )}
      </PageHead>
      <Table<ClusterInfo>
        label={t("nav.clusters")}
        rows={clusters}
        rowKey={(c) => c.name}
        columns={[
          { title: "col.name", render: (c) => <Link to={`/platform/clusters/${c.name}`}>{c.name}</Link>, sort: (c) => c.name },
          { title: "col.role", render: (c) => (c.host ? t("cluster.host") : t("cluster.member")) },
          { title: "col.status", render: (c) => (c.ready === null ? <span className="badge warn">{t("cluster.unknown")}</span> : <span className={`badge ${c.ready ? "ok" : "bad"}`}>{c.ready ? t("cluster.ready") : t("cluster.notReady")}</span>) },
          { title: "col.version", render: (c) => version(c) ?? "—" },
          { title: "col.nodes", render: (c) => (nodes(c) === undefined ? "—" : number(nodes(c) ?? 0)) },
        ]}
      />
    </>
  );
}

/** A KubeSphere-convention list (`page`, `limit`, `name`, `sortBy`: filtered, sorted and paged on the server). */
function usePaged(path: string, name: string, page: number, sortBy = "createTime") {
  const q = new URLSearchParams({ page: String(page), limit: "50", sortBy, ascending: "false" });
  if (name) q.set("name", name);
  return useLoad<Paged>(`${path}?${q}`);
}

function Pager({ page, total, setPage }: { page: number; total: number; setPage: (p: number) => void }) {
  const { t } = useI18n();
  const pages = Math.max(1, Math.ceil(total / 50));
  return (
    <div className="toolbar">
      <span className="muted">{t("list.total", { count: total })}</span>
      <span className="spacer" />
      <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)} aria-label={t("list.prev")}>
        ‹
      </button>
      <span>
        {page} / {pages}
      </span>
      <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)} aria-label={t("list.next")}>
        ›
      </button>
    </div>
  );
}

function Users() {
  const { t, date } = useI18n();
  const canCreate = useCan(undefined, { verb: "create", group: "iam.kubesphere.io", resource: "users" });
  const [name, setName] = useState("");
  const [page, setPage] = useState(1);
  const users = usePaged(`${IAM}/users`, name, page);
  const [creating, setCreating] = useState(false);
  const [form, setForm] = useState({ name: "", email: "", password: "", role: "platform-regular" });
  const [error, setError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(`${IAM}/users`, {
        apiVersion: "iam.kubesphere.io/v1beta1",
        kind: "User",
        metadata: { name: form.name, annotations: { "iam.kubesphere.io/globalrole": form.role } },
        spec: { email: form.email, password: form.password },
      });
      setCreating(false);
      users.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <PageHead title={t("nav.users")}>
        <Filter value={name} onChange={(v) => (setName(v), setPage(1))} />
        {canCreate && (
          <button className="primary" type="button" onClick={() => (setError(null), setCreating(true))}>
            {t("create.user")}
          </button>
        )}
      </PageHead>
      <ErrorBox error={users.error} />
      <Table<K8sObject>
        label={t("nav.users")}
        rows={users.data?.items ?? []}
        rowKey={(u) => u.metadata.name}
        columns={[
          { title: "col.name", render: (u) => <Link to={`/platform/users/${u.metadata.name}`}>{u.metadata.name}</Link>, sort: (u) => u.metadata.name },
          { title: "col.email", render: (u) => u.spec?.email ?? "" },
          { title: "col.role", render: (u) => u.metadata.annotations?.["iam.kubesphere.io/globalrole"] ?? "—" },
          { title: "col.status", render: (u) => <Status value={u.status?.state} /> },
          { title: "col.created", render: (u) => date(u.metadata.creationTimestamp) },
          { title: "col.actions", render: (u) => (u.metadata.name === "admin" ? null : <button type="button" className="danger" onClick={() => setDeleting(u.metadata.name)}>{t("action.delete")}</button>) },
        ]}
      />
      <Pager page={page} total={users.data?.totalItems ?? 0} setPage={setPage} />
      <Dialog open={creating} onClose={() => setCreating(false)} title={t("create.user")}>
        <form className="form" onSubmit={submit}>
          <label>
            {t("form.username")}
            <input name="name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          </label>
          <label>
            {t("form.email")}
            <input name="email" type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
          </label>
          <label>
            {t("form.password")}
            <input name="password" type="password" autoComplete="new-password" required value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
          </label>
          <label>
            {t("form.globalRole")}
            <select name="role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
              {["platform-regular", "platform-self-provisioner", "platform-admin"].map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <FormFooter error={error} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
      <Confirm
        open={!!deleting}
        message={t("confirm.delete", { kind: "User", name: deleting ?? "" })}
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          await api.delete(`${IAM}/users/${deleting}`).catch(setError);
          setDeleting(null);
          users.reload();
        }}
      />
    </>
  );
}

/** The clusters a new workspace is placed on: the host (which always holds it), then those chosen. */
export function placedOn(clusters: ClusterInfo[], chosen: string[]): string[] {
  const host = clusters.filter((c) => c.host).map((c) => c.name);
  return [...host, ...chosen.filter((c) => !host.includes(c))];
}

function Workspaces() {
  const { t, date } = useI18n();
  const { clusters, user } = useApp();
  const [name, setName] = useState("");
  const [page, setPage] = useState(1);
  // Platform admins manage templates (with placement); everyone else sees the workspaces they
  // belong to, as the server filters them.
  const admin = user?.globalRole === "platform-admin";
  const list = usePaged(`${TENANT}/${admin ? "workspacetemplates" : "workspaces"}`, name, page);
  const [creating, setCreating] = useState(false);
  const [form, setForm] = useState({ name: "", manager: user?.name ?? "admin", description: "", clusters: [] as string[] });
  const [error, setError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(`${TENANT}/workspacetemplates`, {
        apiVersion: "tenant.kubesphere.io/v1beta1",
        kind: "WorkspaceTemplate",
        metadata: { name: form.name, annotations: form.description ? { "kubesphere.io/description": form.description } : {} },
        // The host always holds the workspace: the placement says so, as the dialog shows it.
        spec: { template: { spec: { manager: form.manager } }, placement: { clusters: placedOn(clusters, form.clusters).map((name) => ({ name })) } },
      });
      setCreating(false);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const toggle = (c: string) => setForm({ ...form, clusters: form.clusters.includes(c) ? form.clusters.filter((x) => x !== c) : [...form.clusters, c] });
  return (
    <>
      <PageHead title={t("nav.workspaces")}>
        <Filter value={name} onChange={(v) => (setName(v), setPage(1))} />
        {admin && (
          <button className="primary" type="button" onClick={() => (setError(null), setCreating(true))}>
            {t("create.workspace")}
          </button>
        )}
      </PageHead>
      <ErrorBox error={list.error} />
      <Table<K8sObject>
        label={t("nav.workspaces")}
        rows={list.data?.items ?? []}
        rowKey={(w) => w.metadata.name}
        columns={[
          { title: "col.name", render: (w) => <Link to={`/workspaces/${w.metadata.name}/overview`}>{w.metadata.name}</Link>, sort: (w) => w.metadata.name },
          { title: "col.manager", render: (w) => w.spec?.template?.spec?.manager ?? "" },
          { title: "col.clusters", render: (w) => ((w.spec?.placement?.clusters ?? []) as { name: string }[]).map((c) => c.name).join(", ") },
          { title: "col.created", render: (w) => date(w.metadata.creationTimestamp) },
          { title: "col.actions", render: (w) => (admin && w.metadata.name !== "system-workspace" ? <button type="button" className="danger" onClick={() => setDeleting(w.metadata.name)}>{t("action.delete")}</button> : null) },
        ]}
      />
      <Pager page={page} total={list.data?.totalItems ?? 0} setPage={setPage} />
      <Dialog open={creating} onClose={() => setCreating(false)} title={t("create.workspace")}>
        <form className="form" onSubmit={submit}>
          <label>
            {t("form.name")}
            <input name="name" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          </label>
          <label>
            {t("form.manager")}
            <input name="manager" required value={form.manager} onChange={(e) => setForm({ ...form, manager: e.target.value })} />
          </label>
          <label>
            {t("form.description")}
            <input name="description" value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
          </label>
          <fieldset>
            <legend>{t("form.placement")}</legend>
            {clusters.map((c) => (
              <label key={c.name} style={{ display: "flex", gap: 6 }}>
                <input type="checkbox" name={`cluster-${c.name}`} checked={c.host || form.clusters.includes(c.name)} disabled={c.host} aria-describedby={c.host ? "host-always" : undefined} onChange={() => toggle(c.name)} />
                {c.name}
              </label>
            ))}
            <p className="muted" id="host-always">
              {t("form.hostAlways")}
            </p>
          </fieldset>
          <FormFooter error={error} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
      <Confirm
        open={!!deleting}
        message={t("confirm.delete", { kind: "Workspace", name: deleting ?? "" })}
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          await api.delete(`${TENANT}/workspacetemplates/${deleting}`).catch(setError);
          setDeleting(null);
          list.reload();
        }}
      />
    </>
  );
}

function Settings() {
  const { t } = useI18n();
  const app = useApp();
  const version = useLoad<{ platform?: { gitVersion?: string } }>("/version");
  return (
    <>
      <PageHead title={t("nav.settings")} />
      <div className="card form">
        <label>
          {t("settings.language")}
          <select value={app.lang} onChange={(e) => app.setLang(e.target.value as Lang)}>
            {languages.map((l) => (
              <option key={l.lang} value={l.lang}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("settings.theme")}
          <select value={app.theme} onChange={(e) => app.setTheme(e.target.value as "light" | "dark")}>
            <option value="light">{t("top.theme.light")}</option>
            <option value="dark">{t("top.theme.dark")}</option>
          </select>
        </label>
        <p className="muted">{t("settings.version", { version: version.data?.platform?.gitVersion ?? "…" })}</p>
      </div>
    </>
  );
}

/** Platform-level pages. */
export default function Platform() {
  return (
    <Routes>
      <Route path="clusters" element={<Clusters />} />
      <Route path="clusters/:name" element={<ClusterDetail />} />
      <Route path="join-cluster" element={<JoinCluster />} />
      <Route path="users" element={<Users />} />
      <Route path="users/:name" element={<UserDetail />} />
      <Route path="roles/*" element={<RolePages level={{ scope: "global" }} base="/platform/roles" />} />
      <Route path="workspaces" element={<Workspaces />} />
      <Route path="settings" element={<Settings />} />
      <Route path="identity-providers" element={<IdentityProviders />} />
      <Route path="*" element={<Navigate to="clusters" replace />} />
    </Routes>
  );
}
