import { useState, type FormEvent } from "react";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { useLoad } from "../api/hooks";
import type { K8sObject } from "../api/watch";
import { Table } from "./Table";
import { Confirm, ErrorBox, PageHead } from "./ui";

/** Members of a workspace or project: list, add (`[{username, roleRef}]`), remove. */
export function Members({ path, rolesPath, annotation }: { path: string; rolesPath: string; annotation: string }) {
  const { t } = useI18n();
  const members = useLoad<{ items: K8sObject[] }>(path);
  const roles = useLoad<{ items: K8sObject[] }>(rolesPath);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const roleNames = (roles.data?.items ?? []).map((r) => r.metadata.name);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(path, [{ username, roleRef: role || roleNames[0] }]);
      setUsername("");
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
      <form className="toolbar" onSubmit={add} aria-label={t("create.member")}>
        <input name="username" aria-label={t("form.username")} placeholder={t("form.username")} required value={username} onChange={(e) => setUsername(e.target.value)} />
        <select name="role" aria-label={t("form.role")} value={role} onChange={(e) => setRole(e.target.value)}>
          {roleNames.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
        <button type="submit" className="primary">
          {t("create.member")}
        </button>
      </form>
      <ErrorBox error={error} />
      <Table<K8sObject>
        label={t("nav.members")}
        rows={members.data?.items ?? []}
        rowKey={(m) => m.metadata.name}
        columns={[
          { title: "col.name", render: (m) => m.metadata.name, sort: (m) => m.metadata.name },
          { title: "col.role", render: (m) => m.metadata.annotations?.[annotation] ?? "" },
          { title: "col.actions", render: (m) => <button type="button" className="danger" onClick={() => setRemoving(m.metadata.name)}>{t("action.remove")}</button> },
        ]}
      />
      <Confirm
        open={!!removing}
        message={t("confirm.delete", { kind: t("nav.members"), name: removing ?? "" })}
        onCancel={() => setRemoving(null)}
        onConfirm={async () => {
          await api.delete(`${path}/${removing}`).catch(setError);
          setRemoving(null);
          members.reload();
        }}
      />
    </>
  );
}

/** Roles at a level, read-only. */
export function Roles({ path }: { path: string }) {
  const { t, date } = useI18n();
  const roles = useLoad<{ items: K8sObject[] }>(path);
  return (
    <>
      <PageHead title={t("nav.wsroles")} />
      <ErrorBox error={roles.error} />
      <Table<K8sObject>
        label={t("nav.wsroles")}
        rows={roles.data?.items ?? []}
        rowKey={(r) => r.metadata.name}
        columns={[
          { title: "col.name", render: (r) => r.metadata.name, sort: (r) => r.metadata.name },
          { title: "col.description", render: (r) => r.metadata.annotations?.["kubesphere.io/description"] ?? "" },
          { title: "col.created", render: (r) => date(r.metadata.creationTimestamp) },
        ]}
      />
    </>
  );
}
