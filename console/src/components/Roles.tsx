import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, Route, Routes, useNavigate, useParams } from "react-router-dom";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { en } from "../i18n/en";
import { api } from "../api/client";
import { useCan, useLoad } from "../api/hooks";
import { clusterPath, IAM } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Table } from "./Table";
import { ErrorBox, Filter, PageHead } from "./ui";
import { Ask } from "./Ask";
import {
  ALIAS,
  DESCRIPTION,
  describeRules,
  groupTemplates,
  isBuiltin,
  reviewAt,
  roleBody,
  roleKind,
  roleResource,
  rolesPath,
  templateNamesOf,
  type RoleLevel,
} from "../state/roles";

/** The editor's address for a new role (no role can be named so: `_` is not allowed). */
const NEW = "_new";

/** The templates a level's roles can aggregate, read where that level's administrators may. */
function templatesPath(level: RoleLevel): string {
  switch (level.scope) {
    case "workspace":
      return `${IAM}/workspaces/${encodeURIComponent(level.ws)}/roletemplates`;
    case "namespace":
      return clusterPath(level.cluster, `${IAM}/namespaces/${encodeURIComponent(level.ns)}/roletemplates`);
    default:
      return `${IAM}/roletemplates?labelSelector=${encodeURIComponent(`iam.kubesphere.io/scope=${level.scope}`)}`;
  }
}

/** Whether the caller may `verb` roles at `level`. */
function useCanRoles(level: RoleLevel, verb: string): boolean {
  const r = reviewAt(level, verb, roleResource(level));
  return useCan(r.cluster, r.attrs) === true;
}

/** A template category's name in the user's language (the category itself when unknown). */
function categoryLabel(t: (k: MessageKey) => string, category: string): string {
  const key = `role.category.${category}` as MessageKey;
  return key in en ? t(key) : category;
}

/** A level's roles: list, create, edit (templates by category), delete. */
function RoleList({ level, base }: { level: RoleLevel; base: string }) {
  const { t, date } = useI18n();
  const [name, setName] = useState("");
  const roles = useLoad<{ items: K8sObject[] }>(`${rolesPath(level)}?sortBy=name&ascending=true${name ? `&name=${encodeURIComponent(name)}` : ""}`);
  const canCreate = useCanRoles(level, "create");
  const canDelete = useCanRoles(level, "delete");
  const [deleting, setDeleting] = useState<string | null>(null);
  const title = level.scope === "global" ? t("nav.roles") : t("nav.wsroles");
  return (
    <>
      <PageHead title={title}>
        <Filter value={name} onChange={setName} />
        {canCreate && (
          <Link className="button primary" to={`${base}/${NEW}`}>
            {t("role.create")}
          </Link>
        )}
      </PageHead>
      <ErrorBox error={roles.error} />
      <Table<K8sObject>
        label={title}
        rows={roles.data?.items ?? []}
        rowKey={(r) => r.metadata.name}
        columns={[
          { title: "col.name", render: (r) => <Link to={`${base}/${encodeURIComponent(r.metadata.name)}`}>{r.metadata.name}</Link>, sort: (r) => r.metadata.name },
          { title: "role.alias", render: (r) => r.metadata.annotations?.[ALIAS] || "—" },
          { title: "col.description", render: (r) => r.metadata.annotations?.[DESCRIPTION] || "" },
          { title: "col.type", render: (r) => (isBuiltin(r) ? <span className="badge">{t("role.builtin")}</span> : <span className="badge ok">{t("role.custom")}</span>) },
          { title: "col.created", render: (r) => date(r.metadata.creationTimestamp) },
          {
            title: "col.actions",
            render: (r) =>
              canDelete && !isBuiltin(r) ? (
                <button type="button" className="danger" aria-label={t("role.deleteNamed", { name: r.metadata.name })} onClick={() => setDeleting(r.metadata.name)}>
                  {t("action.delete")}
                </button>
              ) : null,
          },
        ]}
      />
      <Ask
        open={!!deleting}
        title={t("action.delete")}
        message={t("confirm.delete", { kind: roleKind(level), name: deleting ?? "" })}
        action={t("action.delete")}
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          await api.delete(`${rolesPath(level)}/${encodeURIComponent(deleting ?? "")}`);
          setDeleting(null);
          roles.reload();
        }}
      />
    </>
  );
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Creating or editing a role from the level's templates, grouped by category. */
function RoleEditor({ level, base }: { level: RoleLevel; base: string }) {
  const { t, lang } = useI18n();
  const navigate = useNavigate();
  const { role: roleName } = useParams();
  const name = roleName === undefined || roleName === NEW ? null : roleName;
  const role = useLoad<K8sObject>(name ? `${rolesPath(level)}/${encodeURIComponent(name)}` : null);
  const templates = useLoad<{ items: K8sObject[] }>(templatesPath(level));
  const canWrite = useCanRoles(level, name ? "update" : "create");
  const current = role.data;
  const builtin = current ? isBuiltin(current) : false;
  const readOnly = builtin || !canWrite;
  const [form, setForm] = useState({ name: "", alias: "", description: "", templates: [] as string[] });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (current) {
      setForm({
        name: current.metadata.name,
        alias: current.metadata.annotations?.[ALIAS] ?? "",
        description: current.metadata.annotations?.[DESCRIPTION] ?? "",
        templates: templateNamesOf(current),
      });
    }
  }, [current]);
  const all = useMemo(() => templates.data?.items ?? [], [templates.data]);
  const groups = useMemo(() => groupTemplates(all, lang), [all, lang]);
  const known = new Set(all.map((x) => x.metadata.name));
  const unknown = form.templates.filter((n) => !known.has(n));
  const nameOk = !!name || (DNS_NAME.test(form.name) && form.name.length <= 253);
  const toggle = (n: string) => setForm({ ...form, templates: form.templates.includes(n) ? form.templates.filter((x) => x !== n) : [...form.templates, n] });
  const toggleAll = (names: string[], on: boolean) => setForm({ ...form, templates: on ? [...new Set([...form.templates, ...names])] : form.templates.filter((x) => !names.includes(x)) });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = roleBody(level, form, current ?? null, all);
      if (name) await api.put(`${rolesPath(level)}/${encodeURIComponent(name)}`, body);
      else await api.post(rolesPath(level), body);
      navigate(base);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (name && !current) return <ErrorBox error={role.error} />;
  const rules = (current?.rules ?? []) as unknown[];
  return (
    <>
      <PageHead title={name ? `${roleKind(level)}: ${name}` : t("role.create")}>
        <Link className="button" to={base}>
          {t("action.back")}
        </Link>
      </PageHead>
      {builtin && (
        <p className="muted" role="note">
          {t("role.builtinNote")}
        </p>
      )}
      <form className="form wide" onSubmit={submit} aria-label={name ? t("role.edit") : t("role.create")}>
        <div className="card form">
          <label>
            {t("form.name")}
            <input name="name" required disabled={!!name} value={form.name} aria-invalid={!!form.name && !nameOk} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          </label>
          {!name && form.name && !nameOk && <span className="error">{t("role.nameHint")}</span>}
          <label>
            {t("role.alias")}
            <input name="alias" disabled={readOnly} value={form.alias} onChange={(e) => setForm({ ...form, alias: e.target.value })} />
          </label>
          <label>
            {t("form.description")}
            <input name="description" disabled={readOnly} value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
          </label>
        </div>
        <h2 className="section">{t("role.permissions")}</h2>
        <p className="muted">{t("role.permissionsHint")}</p>
        <ErrorBox error={templates.error} />
        <div className="template-groups">
          {groups.map((g) => {
            const names = g.templates.map((x) => x.name);
            const allOn = names.every((n) => form.templates.includes(n));
            return (
              <fieldset key={g.category} className="card template-group" disabled={readOnly}>
                <legend>{categoryLabel(t, g.category)}</legend>
                <label className="inline muted">
                  <input type="checkbox" checked={allOn} onChange={() => toggleAll(names, !allOn)} aria-label={t("role.allIn", { category: categoryLabel(t, g.category) })} />
                  {t("role.all")}
                </label>
                {g.templates.map((x) => (
                  <label key={x.name} className="inline" title={x.description}>
                    <input type="checkbox" name={`template-${x.name}`} checked={form.templates.includes(x.name)} onChange={() => toggle(x.name)} />
                    {x.label}
                  </label>
                ))}
              </fieldset>
            );
          })}
        </div>
        {unknown.length > 0 && <p className="muted">{t("role.unknownTemplates", { names: unknown.join(", ") })}</p>}
        {current && (
          <details className="card">
            <summary>{t("role.rules", { count: rules.length })}</summary>
            <ul className="rules">
              {describeRules(rules).map((r, i) => (
                <li key={i}>
                  <code>{r}</code>
                </li>
              ))}
            </ul>
          </details>
        )}
        <ErrorBox error={error} />
        {!readOnly && (
          <div className="toolbar">
            <span className="spacer" />
            <Link className="button" to={base}>
              {t("action.cancel")}
            </Link>
            <button type="submit" className="primary" disabled={busy || !nameOk}>
              {name ? t("action.save") : t("action.create")}
            </button>
          </div>
        )}
      </form>
    </>
  );
}

/** A level's role pages: the list at `base`, `base/_new`, and `base/{role}`. */
export function RolePages({ level, base }: { level: RoleLevel; base: string }) {
  return (
    <Routes>
      <Route index element={<RoleList level={level} base={base} />} />
      <Route path=":role" element={<RoleEditorKeyed level={level} base={base} />} />
    </Routes>
  );
}

/** A fresh editor for each role (its form starts from that role). */
function RoleEditorKeyed({ level, base }: { level: RoleLevel; base: string }) {
  const { role = NEW } = useParams();
  return <RoleEditor key={role} level={level} base={base} />;
}
