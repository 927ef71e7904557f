// The administrators' page of identity providers: KubeSphere's `identityprovider` Secrets in
// kubesphere-system (each a `configuration.yaml`), listed, added, checked against the provider
// (`…/identityproviders/test`), disabled and enabled, and deleted — through the Secret API.

import { lazy, Suspense, useState, type FormEvent } from "react";
import { dump, load } from "js-yaml";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { useLoad } from "../api/hooks";
import { IAM } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { decodeText, encodeText } from "../api/appstore";
import { Table } from "../components/Table";
import { Confirm, Dialog, ErrorBox, FormFooter, PageHead } from "../components/ui";

const YamlEditor = lazy(() => import("../components/YamlEditor"));

const SECRETS = "/api/v1/namespaces/kubesphere-system/secrets";
const SELECTOR = "config.kubesphere.io/type=identityprovider";
const TYPE = "config.kubesphere.io/identityprovider";

/** A provider's configuration as its Secret holds it. */
export interface ProviderConfig {
  name: string;
  type: string;
  mappingMethod?: string;
  displayName?: string;
  hidden?: boolean;
  disabled?: boolean;
  provider?: Record<string, unknown>;
}

/** The configuration in an identityprovider Secret (null when it cannot be read). */
export function configOf(secret: K8sObject): ProviderConfig | null {
  try {
    const data = (secret.data as Record<string, string> | undefined)?.["configuration.yaml"];
    const c = load(decodeText(data)) as ProviderConfig;
    return c && typeof c === "object" && c.name ? c : null;
  } catch {
    return null;
  }
}

/** The Secret of a configuration. */
export function secretOf(c: ProviderConfig): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `idp-${c.name}`, namespace: "kubesphere-system", labels: { "config.kubesphere.io/type": "identityprovider" } },
    type: TYPE,
    data: { "configuration.yaml": encodeText(dump(c)) },
  };
}

/** A starting point for each type's settings (KubeSphere's keys). */
export const TEMPLATES: Record<string, string> = {
  LDAPIdentityProvider:
    "host: ldap.example.com:389\nmanagerDN: cn=admin,dc=example,dc=com\nmanagerPassword: \"\"\nstartTLS: false\nuserSearchBase: ou=people,dc=example,dc=com\nuserSearchFilter: (objectClass=inetOrgPerson)\nloginAttribute: uid\nmailAttribute: mail\ngroupSearchBase: ou=groups,dc=example,dc=com\ngroupSearchFilter: (objectClass=groupOfNames)\ngroupMemberAttribute: member\n",
  OIDCIdentityProvider: "issuer: https://accounts.example.com\nclientID: orrery\nclientSecret: \"\"\nscopes: [openid, email, profile]\n",
  GitHubIdentityProvider: "clientID: \"\"\nclientSecret: \"\"\nscopes: [read:user, user:email, read:org]\n",
};

interface Check {
  ok: boolean;
  message: string;
}

function Editor({ open, onClose, onSaved }: { open: boolean; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const [c, setC] = useState<ProviderConfig>({ name: "", type: "OIDCIdentityProvider", mappingMethod: "auto", displayName: "" });
  const [settings, setSettings] = useState(TEMPLATES.OIDCIdentityProvider);
  const [error, setError] = useState<unknown>(null);
  const [check, setCheck] = useState<Check | null>(null);
  const config = (): ProviderConfig => {
    const provider = load(settings) as Record<string, unknown>;
    if (!provider || typeof provider !== "object") throw new Error(t("idp.settingsInvalid"));
    return { ...c, provider };
  };
  const test = async () => {
    setCheck(null);
    setError(null);
    try {
      setCheck(await api.post<Check>(`${IAM}/identityproviders/test`, config()));
    } catch (e) {
      setError(e);
    }
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.post(SECRETS, secretOf(config()));
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title={t("idp.add")}>
      <form className="form" onSubmit={save}>
        <div className="row2">
          <label>
            {t("form.name")}
            <input name="name" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" value={c.name} onChange={(e) => setC({ ...c, name: e.target.value })} />
          </label>
          <label>
            {t("idp.displayName")}
            <input name="displayName" value={c.displayName} onChange={(e) => setC({ ...c, displayName: e.target.value })} />
          </label>
          <label>
            {t("col.type")}
            <select
              name="type"
              value={c.type}
              onChange={(e) => {
                setC({ ...c, type: e.target.value });
                setSettings(TEMPLATES[e.target.value] ?? "");
              }}
            >
              <option value="LDAPIdentityProvider">LDAP</option>
              <option value="OIDCIdentityProvider">OpenID Connect</option>
              <option value="GitHubIdentityProvider">GitHub</option>
            </select>
          </label>
          <label>
            {t("idp.mapping")}
            <select name="mappingMethod" value={c.mappingMethod} onChange={(e) => setC({ ...c, mappingMethod: e.target.value })}>
              <option value="auto">{t("idp.mapping.auto")}</option>
              <option value="lookup">{t("idp.mapping.lookup")}</option>
              <option value="manual">{t("idp.mapping.manual")}</option>
            </select>
          </label>
        </div>
        <label className="inline">
          <input type="checkbox" checked={!!c.hidden} onChange={(e) => setC({ ...c, hidden: e.target.checked })} /> {t("idp.hidden")}
        </label>
        <Suspense fallback={<p className="muted">{t("app.loading")}</p>}>
          <YamlEditor value={settings} onChange={setSettings} label={t("idp.settings")} />
        </Suspense>
        {check && (
          <div className={check.ok ? "notice" : "error"} role="status" data-testid="idp-check">
            {check.ok ? t("idp.checkOk", { message: check.message }) : t("idp.checkFailed", { message: check.message })}
          </div>
        )}
        <FormFooter error={error} onCancel={onClose}>
          <button type="button" onClick={() => void test()}>
            {t("idp.test")}
          </button>
        </FormFooter>
      </form>
    </Dialog>
  );
}

/** `/platform/identity-providers` */
export default function IdentityProviders() {
  const { t } = useI18n();
  const list = useLoad<{ items: K8sObject[] }>(`${SECRETS}?labelSelector=${encodeURIComponent(SELECTOR)}`);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [checks, setChecks] = useState<Record<string, Check>>({});
  const rows = (list.data?.items ?? []).filter((s) => s.type === TYPE).map((s) => ({ secret: s, config: configOf(s) }));
  type Row = (typeof rows)[number];
  const run = async (f: () => Promise<unknown>) => {
    try {
      await f();
      setError(null);
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const toggle = (r: Row) =>
    run(() => {
      const c = { ...(r.config as ProviderConfig), disabled: !r.config?.disabled };
      return api.patch(`${SECRETS}/${r.secret.metadata.name}`, { data: { "configuration.yaml": encodeText(dump(c)) } });
    });
  const test = async (r: Row) => {
    if (!r.config) return;
    const res = await api.post<Check>(`${IAM}/identityproviders/test`, r.config).catch((e: Error) => ({ ok: false, message: e.message }));
    setChecks((cur) => ({ ...cur, [r.secret.metadata.name]: res }));
  };
  return (
    <>
      <PageHead title={t("nav.idps")}>
        <button type="button" className="primary" onClick={() => setAdding(true)}>
          {t("idp.add")}
        </button>
      </PageHead>
      <ErrorBox error={list.error ?? error} />
      <Table<Row>
        label={t("nav.idps")}
        rows={rows}
        rowKey={(r) => r.secret.metadata.name}
        columns={[
          { title: "col.name", render: (r) => r.config?.name ?? r.secret.metadata.name, sort: (r) => r.secret.metadata.name },
          { title: "idp.displayName", render: (r) => r.config?.displayName || "—" },
          { title: "col.type", render: (r) => r.config?.type ?? t("idp.unreadable") },
          { title: "idp.mapping", render: (r) => r.config?.mappingMethod ?? "auto" },
          {
            title: "col.status",
            render: (r) => (
              <span className={`badge ${r.config?.disabled ? "bad" : "ok"}`} data-state={r.config?.disabled ? "disabled" : "enabled"}>
                {r.config?.disabled ? t("idp.disabled") : r.config?.hidden ? t("idp.enabledHidden") : t("idp.enabled")}
              </span>
            ),
          },
          {
            title: "idp.check",
            render: (r) => {
              const c = checks[r.secret.metadata.name];
              return c ? <span className={c.ok ? "notice" : "error"} title={c.message}>{c.message}</span> : "—";
            },
          },
          {
            title: "col.actions",
            width: "minmax(0, 1.4fr)",
            render: (r) => (
              <>
                <button type="button" onClick={() => void test(r)} disabled={!r.config}>
                  {t("idp.test")}
                </button>{" "}
                <button type="button" onClick={() => void toggle(r)} disabled={!r.config}>
                  {r.config?.disabled ? t("idp.enable") : t("idp.disable")}
                </button>{" "}
                <button type="button" className="danger" onClick={() => setRemoving(r.secret.metadata.name)}>
                  {t("action.delete")}
                </button>
              </>
            ),
          },
        ]}
      />
      <Editor open={adding} onClose={() => setAdding(false)} onSaved={() => (setAdding(false), list.reload())} />
      <Confirm
        open={!!removing}
        message={t("confirm.delete", { kind: t("nav.idps"), name: removing ?? "" })}
        error={error}
        onCancel={() => setRemoving(null)}
        onConfirm={() => void run(() => api.delete(`${SECRETS}/${removing}`)).then(() => setRemoving(null))}
      />
    </>
  );
}
