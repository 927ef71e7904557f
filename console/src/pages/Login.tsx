import { useState, type FormEvent } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import { useI18n } from "../i18n";
import { useApp } from "../state/context";
import { changePassword, login, LoginError } from "../state/session";
import { ErrorBox } from "../components/ui";

/** The login page (password grant through the cookie session endpoint). */
export function Login() {
  const { t } = useI18n();
  const app = useApp();
  const navigate = useNavigate();
  const loc = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const u = await login(username, password);
      app.setUser(u);
      const from = (loc.state as { from?: string } | null)?.from;
      navigate(u.mustChangePassword ? "/password" : from && from !== "/login" ? from : "/platform/clusters", { replace: true });
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
    </main>
  );
}

/** The forced password change of an uninitialized user. */
export function ChangePassword() {
  const { t } = useI18n();
  const app = useApp();
  const navigate = useNavigate();
  const [current, setCurrent] = useState("");
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
      navigate("/platform/clusters", { replace: true });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main className="login card">
      <h1>{t("password.title")}</h1>
      <p className="muted">{app.user?.mustChangePassword ? t("password.hint") : t("password.policy")}</p>
      <form className="form" onSubmit={submit}>
        <label>
          {t("password.current")}
          <input name="current" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} autoFocus />
        </label>
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
