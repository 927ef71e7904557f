import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useI18n, languages } from "../i18n";
import { api } from "../api/client";
import { useCan, useLoad } from "../api/hooks";
import { IAM } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { Table } from "../components/Table";
import { Dialog, ErrorBox, FormFooter, PageHead, Status, tabKeys } from "../components/ui";
import { Ask } from "../components/Ask";
import { relativeTime } from "../components/format";
import { useApp } from "../state/context";

const GLOBALROLE = "iam.kubesphere.io/globalrole";

interface Session {
  id: string;
  type?: string;
  issuedAt?: number;
  expiresAt?: number;
}

/** When a session or token was issued or expires (seconds since the epoch). */
const fromEpoch = (s: number | undefined) => (s ? new Date(s * 1000).toISOString() : undefined);

function Profile({ user, open, onClose, onSaved }: { user: K8sObject; open: boolean; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const [f, setF] = useState({ displayName: "", email: "", description: "", lang: "" });
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (open) {
      setF({ displayName: user.spec?.displayName ?? "", email: user.spec?.email ?? "", description: user.spec?.description ?? "", lang: user.spec?.lang ?? "" });
      setError(null);
    }
  }, [open, user]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.put(`${IAM}/users/${encodeURIComponent(user.metadata.name)}`, { spec: f });
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title={t("user.edit")}>
      <form className="form" onSubmit={submit}>
        <label>
          {t("user.displayName")}
          <input name="displayName" value={f.displayName} onChange={(e) => setF({ ...f, displayName: e.target.value })} />
        </label>
        <label>
          {t("form.email")}
          <input name="email" type="email" required value={f.email} onChange={(e) => setF({ ...f, email: e.target.value })} />
        </label>
        <label>
          {t("form.description")}
          <input name="description" value={f.description} onChange={(e) => setF({ ...f, description: e.target.value })} />
        </label>
        <label>
          {t("top.language")}
          <select name="lang" aria-label={t("top.language")} value={f.lang} onChange={(e) => setF({ ...f, lang: e.target.value })}>
            <option value="">—</option>
            {languages.map((l) => (
              <option key={l.lang} value={l.lang}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <FormFooter error={error} onCancel={onClose} submit={t("action.save")} />
      </form>
    </Dialog>
  );
}

function GlobalRole({ user, open, onClose, onSaved }: { user: K8sObject; open: boolean; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const roles = useLoad<{ items: K8sObject[] }>(open ? `${IAM}/globalroles?sortBy=name&ascending=true` : null);
  const current = user.metadata.annotations?.[GLOBALROLE] ?? "";
  const [role, setRole] = useState(current);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (open) {
      setRole(current);
      setError(null);
    }
  }, [open, current]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.put(`${IAM}/users/${encodeURIComponent(user.metadata.name)}`, { metadata: { annotations: { [GLOBALROLE]: role } } });
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title={t("user.changeRole")}>
      <form className="form" onSubmit={submit}>
        <label>
          {t("form.globalRole")}
          <select name="globalRole" aria-label={t("form.globalRole")} value={role} onChange={(e) => setRole(e.target.value)}>
            {!current && <option value="">{t("user.noRole")}</option>}
            {(roles.data?.items ?? []).map((r) => (
              <option key={r.metadata.name} value={r.metadata.name}>
                {r.metadata.name}
              </option>
            ))}
          </select>
        </label>
        <ErrorBox error={roles.error} />
        <FormFooter error={error} onCancel={onClose} submit={t("action.save")} disabled={!role} />
      </form>
    </Dialog>
  );
}

function LoginRecords({ name }: { name: string }) {
  const { t, date, lang } = useI18n();
  const records = useLoad<{ items: K8sObject[]; totalItems: number }>(`${IAM}/users/${encodeURIComponent(name)}/loginrecords?sortBy=createTime&ascending=false&limit=100`);
  return (
    <>
      <ErrorBox error={records.error} />
      <Table<K8sObject>
        label={t("user.loginRecords")}
        rows={records.data?.items ?? []}
        rowKey={(r) => r.metadata.name}
        columns={[
          { title: "user.when", render: (r) => <span title={date(r.metadata.creationTimestamp)}>{relativeTime(r.metadata.creationTimestamp, lang)}</span>, width: "minmax(0, 1.2fr)" },
          { title: "user.outcome", render: (r) => <span className={`badge ${r.spec?.success ? "ok" : "bad"}`}>{r.spec?.success ? t("user.success") : t("user.failure")}</span> },
          { title: "col.type", render: (r) => r.spec?.type ?? "" },
          { title: "user.provider", render: (r) => r.spec?.provider || "—" },
          { title: "user.sourceIP", render: (r) => r.spec?.sourceIP ?? "" },
          { title: "col.reason", render: (r) => r.spec?.reason || "—", width: "minmax(0, 1.5fr)" },
          { title: "user.userAgent", render: (r) => <span title={r.spec?.userAgent}>{r.spec?.userAgent ?? ""}</span>, width: "minmax(0, 2fr)" },
        ]}
      />
    </>
  );
}

function Tokens({ name, canManage }: { name: string; canManage: boolean }) {
  const { t, date, lang } = useI18n();
  const tokens = useLoad<{ items: Session[] }>(`${IAM}/users/${encodeURIComponent(name)}/tokens`);
  const [revoking, setRevoking] = useState<Session | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [downloaded, setDownloaded] = useState<string | null>(null);
  const download = async () => {
    try {
      const r = await api.raw("GET", `/kapis/resources.kubesphere.io/v1alpha2/users/${encodeURIComponent(name)}/kubeconfig`);
      const text = await r.text();
      if (!r.ok) throw new Error(text || `HTTP ${r.status}`);
      const url = URL.createObjectURL(new Blob([text], { type: "application/yaml" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `kubeconfig-${name}.yaml`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      URL.revokeObjectURL(url);
      setDownloaded(r.headers.get("x-orrery-token-id"));
      setError(null);
      tokens.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <div className="toolbar">
        <p className="muted" style={{ margin: 0 }}>
          {t("user.kubeconfigHint")}
        </p>
        <span className="spacer" />
        <button type="button" className="primary" onClick={() => void download()}>
          {t("user.downloadKubeconfig")}
        </button>
      </div>
      {downloaded && (
        <p className="notice" role="status">
          {t("user.downloaded", { id: downloaded })}
        </p>
      )}
      <ErrorBox error={error ?? tokens.error} />
      <Table<Session>
        label={t("user.tokens")}
        rows={tokens.data?.items ?? []}
        rowKey={(s) => s.id}
        columns={[
          { title: "user.tokenId", render: (s) => <code>{s.id}</code>, width: "minmax(0, 1.5fr)" },
          { title: "col.type", render: (s) => (s.type === "kubeconfig" ? t("user.token.kubeconfig") : s.type === "login" || !s.type ? t("user.token.session") : s.type) },
          { title: "user.issued", render: (s) => <span title={date(fromEpoch(s.issuedAt))}>{relativeTime(fromEpoch(s.issuedAt), lang)}</span> },
          { title: "user.expires", render: (s) => <span title={date(fromEpoch(s.expiresAt))}>{relativeTime(fromEpoch(s.expiresAt), lang)}</span> },
          {
            title: "col.actions",
            render: (s) =>
              canManage ? (
                <button type="button" className="danger" aria-label={t("user.revokeToken", { id: s.id })} onClick={() => setRevoking(s)}>
                  {t("user.revoke")}
                </button>
              ) : null,
          },
        ]}
      />
      <Ask
        open={!!revoking}
        title={t("user.revoke")}
        message={t("user.revokeConfirm", { id: revoking?.id ?? "" })}
        action={t("user.revoke")}
        onCancel={() => setRevoking(null)}
        onConfirm={async () => {
          await api.delete(`${IAM}/users/${encodeURIComponent(name)}/tokens/${encodeURIComponent(revoking?.id ?? "")}`);
          setRevoking(null);
          tokens.reload();
        }}
      />
    </>
  );
}

type Tab = "overview" | "logins" | "tokens";

/** A user's page: profile, state and platform role with the actions administrators take on
 * them (edit, disable/enable, unlock, change role, delete), login records, tokens and the
 * kubeconfig download. */
export function UserDetail({ name }: { name: string }) {
  const { t, date, lang } = useI18n();
  const app = useApp();
  const navigate = useNavigate();
  const user = useLoad<K8sObject>(`${IAM}/users/${encodeURIComponent(name)}`);
  const canUpdate = useCan(undefined, { verb: "update", group: "iam.kubesphere.io", resource: "users" }) === true;
  const canDelete = useCan(undefined, { verb: "delete", group: "iam.kubesphere.io", resource: "users" }) === true;
  const self = app.user?.name === name;
  const [tab, setTab] = useState<Tab>("overview");
  const [editing, setEditing] = useState(false);
  const [roling, setRoling] = useState(false);
  const [ask, setAsk] = useState<null | "disable" | "enable" | "unlock" | "delete">(null);
  const u = user.data;
  if (!u) return <ErrorBox error={user.error} />;
  const state: string = u.status?.state ?? "Active";
  const path = `${IAM}/users/${encodeURIComponent(name)}`;
  const setState = (s: string) => api.put(path, { status: { state: s } });
  const actions: Record<NonNullable<typeof ask>, { message: string; action: string; run: () => Promise<unknown>; danger: boolean }> = {
    disable: { message: t("user.disableConfirm", { name }), action: t("user.disable"), run: () => setState("Disabled"), danger: true },
    enable: { message: t("user.enableConfirm", { name }), action: t("user.enable"), run: () => setState("Active"), danger: false },
    unlock: { message: t("user.unlockConfirm", { name }), action: t("user.unlock"), run: () => api.delete(`${path}/loginlocks`), danger: false },
    delete: { message: t("confirm.delete", { kind: t("user.kind"), name }), action: t("action.delete"), run: () => api.delete(path), danger: true },
  };
  const tabs: [Tab, string][] = [
    ["overview", t("detail.overview")],
    ["logins", t("user.loginRecords")],
    ["tokens", t("user.tokens")],
  ];
  return (
    <>
      <PageHead title={`${t("user.kind")}: ${name}`}>
        <Link className="button" to="/platform/users">
          {t("action.back")}
        </Link>
        {(canUpdate || self) && (
          <button type="button" onClick={() => setEditing(true)}>
            {t("user.edit")}
          </button>
        )}
        {canUpdate && !self && (
          <button type="button" onClick={() => setRoling(true)}>
            {t("user.changeRole")}
          </button>
        )}
        {canUpdate && state === "AuthLimitExceeded" && (
          <button type="button" onClick={() => setAsk("unlock")}>
            {t("user.unlock")}
          </button>
        )}
        {canUpdate && !self && state !== "Disabled" && (
          <button type="button" className="danger" onClick={() => setAsk("disable")}>
            {t("user.disable")}
          </button>
        )}
        {canUpdate && state === "Disabled" && (
          <button type="button" onClick={() => setAsk("enable")}>
            {t("user.enable")}
          </button>
        )}
        {canDelete && !self && name !== "admin" && (
          <button type="button" className="danger" onClick={() => setAsk("delete")}>
            {t("action.delete")}
          </button>
        )}
      </PageHead>
      <div className="tabs" role="tablist" onKeyDown={tabKeys}>
        {tabs.map(([k, label]) => (
          <button key={k} type="button" role="tab" aria-selected={tab === k} tabIndex={tab === k ? 0 : -1} onClick={() => setTab(k)}>
            {label}
          </button>
        ))}
      </div>
      {tab === "overview" && (
        <dl className="kv card" data-testid="user-facts">
          <dt>{t("col.status")}</dt>
          <dd data-testid="user-state">
            <Status value={state} />
            {u.status?.reason ? <span className="muted"> {u.status.reason}</span> : null}
            {u.status?.lastTransitionTime ? <span className="muted"> · {relativeTime(u.status.lastTransitionTime, lang)}</span> : null}
          </dd>
          <dt>{t("form.globalRole")}</dt>
          <dd data-testid="user-role">{u.metadata.annotations?.[GLOBALROLE] || t("user.noRole")}</dd>
          <dt>{t("user.displayName")}</dt>
          <dd>{u.spec?.displayName || "—"}</dd>
          <dt>{t("form.email")}</dt>
          <dd>{u.spec?.email || "—"}</dd>
          <dt>{t("form.description")}</dt>
          <dd>{u.spec?.description || "—"}</dd>
          <dt>{t("top.language")}</dt>
          <dd>{languages.find((l) => l.lang === u.spec?.lang)?.label ?? (u.spec?.lang || "—")}</dd>
          <dt>{t("user.groups")}</dt>
          <dd>{((u.spec?.groups ?? []) as string[]).join(", ") || "—"}</dd>
          <dt>{t("user.lastLogin")}</dt>
          <dd>{u.status?.lastLoginTime ? `${date(u.status.lastLoginTime)} (${relativeTime(u.status.lastLoginTime, lang)})` : "—"}</dd>
          <dt>{t("user.passwordChange")}</dt>
          <dd>{u.status?.passwordChangeRequired ? t("node.true") : t("node.false")}</dd>
          <dt>{t("col.created")}</dt>
          <dd>{date(u.metadata.creationTimestamp)}</dd>
        </dl>
      )}
      {tab === "logins" && <LoginRecords name={name} />}
      {tab === "tokens" && <Tokens name={name} canManage={canUpdate || self} />}
      <Profile user={u} open={editing} onClose={() => setEditing(false)} onSaved={user.reload} />
      <GlobalRole user={u} open={roling} onClose={() => setRoling(false)} onSaved={user.reload} />
      <Ask
        open={!!ask}
        title={ask ? actions[ask].action : ""}
        message={ask ? actions[ask].message : ""}
        action={ask ? actions[ask].action : ""}
        danger={ask ? actions[ask].danger : true}
        onCancel={() => setAsk(null)}
        onConfirm={async () => {
          if (!ask) return;
          await actions[ask].run();
          const was = ask;
          setAsk(null);
          if (was === "delete") navigate("/platform/users");
          else user.reload();
        }}
      />
    </>
  );
}

/** `/platform/users/{name}`. */
export function UserDetailRoute() {
  const { name = "" } = useParams();
  return <UserDetail key={name} name={name} />;
}
