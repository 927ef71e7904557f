import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { useCan, useLoad } from "../api/hooks";
import { IAM } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Table } from "./Table";
import { Ask } from "./Ask";
import { ErrorBox, PageHead, Status } from "./ui";
import { ALIAS, reviewAt, rolesPath, type RoleLevel } from "../state/roles";

/** The members resource of a level (cluster, workspace or project). */
function membersResource(level: RoleLevel): string {
  return level.scope === "cluster" ? "clustermembers" : level.scope === "workspace" ? "workspacemembers" : "namespacemembers";
}

/** The role annotation the platform puts on a member as it lists them. */
function roleAnnotation(level: RoleLevel): string {
  return level.scope === "cluster" ? "iam.kubesphere.io/clusterrole" : level.scope === "workspace" ? "iam.kubesphere.io/workspacerole" : "iam.kubesphere.io/role";
}

/**
 * Members of a cluster, workspace or project: list, add (`[{username, roleRef}]`), change a
 * member's role (`PUT …/{member}`), remove — each offered only to those the platform allows.
 */
export function Members({ path, level }: { path: string; level: RoleLevel }) {
  const { t } = useI18n();
  const members = useLoad<{ items: K8sObject[] }>(`${path}?sortBy=name&ascending=true`);
  const roles = useLoad<{ items: K8sObject[] }>(`${rolesPath(level)}?sortBy=name&ascending=true`);
  const resource = membersResource(level);
  const can = (verb: string) => reviewAt(level, verb, resource);
  const create = can("create");
  const update = can("update");
  const remove = can("delete");
  const canCreate = useCan(create.cluster, create.attrs) === true;
  const canUpdate = useCan(update.cluster, update.attrs) === true;
  const canDelete = useCan(remove.cluster, remove.attrs) === true;
  const canReadUsers = useCan(undefined, { verb: "list", group: "iam.kubesphere.io", resource: "users" }) === true;
  const users = useLoad<{ items: K8sObject[] }>(canReadUsers && canCreate ? `${IAM}/users?sortBy=name&ascending=true&limit=500` : null);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const annotation = roleAnnotation(level);
  const roleList = roles.data?.items ?? [];
  const roleLabel = (name: string) => {
    const r = roleList.find((x) => x.metadata.name === name);
    const alias = r?.metadata.annotations?.[ALIAS];
    return alias ? `${name} (${alias})` : name;
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(path, [{ username: username.trim(), roleRef: role || roleList[0]?.metadata.name }]);
      setUsername("");
      setError(null);
      members.reload();
    } catch (err) {
      setError(err);
    }
  };
  const change = async (member: string, roleRef: string) => {
    try {
      await api.put(`${path}/${encodeURIComponent(member)}`, { username: member, roleRef });
      setError(null);
      members.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <PageHead title={t("nav.members")} />
      <ErrorBox error={members.error} />
      {canCreate && (
        <form className="toolbar" onSubmit={add} aria-label={t("create.member")}>
          <input name="username" aria-label={t("form.username")} placeholder={t("form.username")} required list="member-candidates" value={username} onChange={(e) => setUsername(e.target.value)} />
          <datalist id="member-candidates">
            {(users.data?.items ?? []).map((u) => (
              <option key={u.metadata.name} value={u.metadata.name} />
            ))}
          </datalist>
          <select name="role" aria-label={t("form.role")} value={role} onChange={(e) => setRole(e.target.value)}>
            {roleList.map((r) => (
              <option key={r.metadata.name} value={r.metadata.name}>
                {roleLabel(r.metadata.name)}
              </option>
            ))}
          </select>
          <button type="submit" className="primary">
            {t("create.member")}
          </button>
        </form>
      )}
      <ErrorBox error={error} />
      <Table<K8sObject>
        label={t("nav.members")}
        rows={members.data?.items ?? []}
        rowKey={(m) => m.metadata.name}
        columns={[
          { title: "col.name", render: (m) => (canReadUsers ? <Link to={`/platform/users/${encodeURIComponent(m.metadata.name)}`}>{m.metadata.name}</Link> : m.metadata.name), sort: (m) => m.metadata.name },
          {
            title: "col.role",
            render: (m) => {
              const current = m.metadata.annotations?.[annotation] ?? "";
              if (!canUpdate) return roleLabel(current);
              return (
                <select aria-label={t("member.roleOf", { name: m.metadata.name })} value={current} onChange={(e) => void change(m.metadata.name, e.target.value)}>
                  {!roleList.some((r) => r.metadata.name === current) && <option value={current}>{current}</option>}
                  {roleList.map((r) => (
                    <option key={r.metadata.name} value={r.metadata.name}>
                      {roleLabel(r.metadata.name)}
                    </option>
                  ))}
                </select>
              );
            },
            sort: (m) => m.metadata.annotations?.[annotation] ?? "",
          },
          { title: "col.status", render: (m) => <Status value={m.status?.state} /> },
          {
            title: "col.actions",
            render: (m) =>
              canDelete ? (
                <button type="button" className="danger" aria-label={t("member.removeNamed", { name: m.metadata.name })} onClick={() => setRemoving(m.metadata.name)}>
                  {t("action.remove")}
                </button>
              ) : null,
          },
        ]}
      />
      <Ask
        open={!!removing}
        title={t("action.remove")}
        message={t("member.removeConfirm", { name: removing ?? "" })}
        action={t("action.remove")}
        onCancel={() => setRemoving(null)}
        onConfirm={async () => {
          await api.delete(`${path}/${encodeURIComponent(removing ?? "")}`);
          setRemoving(null);
          members.reload();
        }}
      />
    </>
  );
}
