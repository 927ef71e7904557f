import { useEffect, useState, type FormEvent } from "react";
import { useLocation, useNavigate, useSearchParams } from "react-router-dom";
import { useI18n } from "../i18n";
import { useApp } from "../state/context";
import { changePassword, completeFirstLogin, firstLoginInfo, login, LoginError, loginProviders, providerLoginUrl, typedPassword, type FirstLogin, type LoginProvider } from "../state/session";
import { ErrorBox, useTitle } from "../components/ui";

/** After a login: an OAuth client's authorization request (full page), or a console page. */
function after(redirect: string | null): string | null {
  return redirect && redirect.startsWith("/oauth/authorize?") ? redirect : null;
}

/** The login page: a local or LDAP password, or a redirecting provider's button. */
export function Login() {
  const { t } = useI18n();
  const app = useApp();
  const navigate = useNavigate();
  const loc = useLocation();
  const [params] = useSearchParams();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [provider, setProvider] = useState("");
  const [providers, setProviders] = useState<LoginProvider[]>([]);
  const [error, setError] = useState<string | null>(params.get("sso_error"));
  const [busy, setBusy] = useState(false);
  useTitle(t("login.title"));
  useEffect(() => {
    loginProviders()
      .then(setProviders)
      .catch(() => setProviders([]));
  }, []);
  // Already logged in and sent here by an OAuth client's authorization request (the session
  // cookie is SameSite=Strict, so a request from another site arrives without it): go back.
  const oauthReturn = after(params.get("redirect"));
  useEffect(() => {
    if (app.user && !app.user.mustChangePassword && oauthReturn) window.location.assign(oauthReturn);
  }, [app.user, oauthReturn]);
  const from = (loc.state as { from?: string } | null)?.from;
  const ret = `/console${from && from !== "/login" ? from : "/"}`;
  const passwordProviders = providers.filter((p) => p.password);
  const redirecting = providers.filter((p) => !p.password);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const u = await login(username, password, undefined, provider);
      app.setUser(u);
      const oauth = after(params.get("redirect"));
      if (oauth && !u.mustChangePassword) {
        window.location.assign(oauth);
        return;
      }
      navigate(u.mustChangePassword ? "/password" : from && from !== "/login" ? from : "/", { replace: true });
    } catch (err) {
      const f = err instanceof LoginError ? err.failure : "other";
      setError(f === "locked" ? t("login.locked") : f === "invalid" ? t("login.failed") : t("error.generic", { message: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login card">
      <h1>{t("login.title")}</h1>
      <form className="form" onSubmit={submit}>
        {passwordProviders.length > 0 && (
          <label>
            {t("login.with")}
            <select name="provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
              <option value="">{t("login.local")}</option>
              {passwordProviders.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.displayName}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t("login.username")}
          <input name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        <label>
          {t("login.password")}
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && (
          <div className="error" role="alert">
            {error}
          </div>
        )}
        <button className="primary" type="submit" disabled={busy}>
          {t("login.submit")}
        </button>
      </form>
      {redirecting.length > 0 && (
        <div className="sso" aria-label={t("login.sso")}>
          <p className="muted">{t("login.or")}</p>
          {redirecting.map((p) => (
            <a key={p.name} className="button" href={providerLoginUrl(p.name, ret)} data-provider={p.name}>
              {t("login.withProvider", { name: p.displayName })}
            </a>
          ))}
        </div>
      )}
    </main>
  );
}

/** The first login through a provider whose mapping method is manual: choose a username. */
export function FirstLoginPage() {
  const { t } = useI18n();
  const app = useApp();
  const navigate = useNavigate();
  const [info, setInfo] = useState<FirstLogin | null>(null);
  useTitle(t("firstLogin.title"));
  const [username, setUsername] = useState("");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    firstLoginInfo()
      .then((i) => {
        setInfo(i);
        setUsername(i.username);
      })
      .catch(setError);
  }, []);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const { user, redirect } = await completeFirstLogin(username);
      app.setUser(user);
      const path = redirect.replace(/^\/console/, "") || "/";
      navigate(path, { replace: true });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main className="login card">
      <h1>{t("firstLogin.title")}</h1>
      {info && <p className="muted">{t("firstLogin.hint", { provider: info.provider, email: info.email || info.displayName || "" })}</p>}
      <form className="form" onSubmit={submit}>
        <label>
          {t("login.username")}
          <input name="username" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" maxLength={63} value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        <ErrorBox error={error} />
        <button className="primary" type="submit" disabled={!info}>
          {t("firstLogin.submit")}
        </button>
      </form>
    </main>
  );
}

/** The forced password change of an uninitialized user. */
export function ChangePassword() {
  const { t } = useI18n();
  const app = useApp();
  const navigate = useNavigate();
  // Just typed at login: not asked again.
  const [known] = useState(() => typedPassword(app.user?.name));
  const [current, setCurrent] = useState(known ?? "");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (next !== confirm) {
      setError(new Error(t("password.mismatch")));
      return;
    }
    setError(null);
    try {
      const u = await changePassword(app.user?.name ?? "", current, next);
      app.setUser(u);
      navigate("/", { replace: true });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main className="login card">
      <h1>{t("password.title")}</h1>
      <p className="muted">{app.user?.mustChangePassword ? t("password.hint") : t("password.policy")}</p>
      <form className="form" onSubmit={submit}>
        {!known && (
          <label>
            {t("password.current")}
            <input name="current" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} autoFocus />
          </label>
        )}
        <label>
          {t("password.new")}
          <input name="new" type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />
        </label>
        <label>
          {t("password.confirm")}
          <input name="confirm" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        </label>
        <ErrorBox error={error} />
        <button className="primary" type="submit">
          {t("password.submit")}
        </button>
      </form>
    </main>
  );
}
