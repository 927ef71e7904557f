// Small parts the App Store pages share: app icons, state badges, the values editor with its
// schema and in-place validation.

import { lazy, Suspense, useEffect, useState } from "react";
import { useI18n } from "../i18n";
import { en, type MessageKey } from "../i18n/en";
import { ApiError } from "../api/client";
import { schemaFields } from "../api/appstore";

const YamlEditor = lazy(() => import("./YamlEditor"));

/** An app's icon: the chart's image, or its initial where there is none or it fails to load. */
export function AppIcon({ src, name, size = 48 }: { src?: string; name: string; size?: number }) {
  const [failed, setFailed] = useState(false);
  const usable = !!src && !failed && /^(https:|data:image\/)/.test(src);
  if (usable) return <img className="app-icon" src={src} alt="" width={size} height={size} onError={() => setFailed(true)} />;
  return (
    <span className="app-icon letter" aria-hidden="true" style={{ width: size, height: size, fontSize: size / 2 }}>
      {(name[0] ?? "?").toUpperCase()}
    </span>
  );
}

const GOOD = new Set(["active", "passed", "successful"]);
const BAD = new Set(["failed", "rejected", "suspended"]);

/**
 * A review, repository or release state as a coloured, translated word (`release`: an `active`
 * release is running, not published).
 */
export function StateBadge({ value, release = false }: { value: string | undefined; release?: boolean }) {
  const { t } = useI18n();
  const v = value || "draft";
  const key = (release && v === "active" ? "appstate.running" : `appstate.${v}`) as MessageKey;
  const cls = GOOD.has(v) ? "ok" : BAD.has(v) ? "bad" : "warn";
  return (
    <span className={`badge ${cls}`} data-state={v}>
      {key in en ? t(key) : v}
    </span>
  );
}

/** The outcome of checking values with the server: still checking, fine, or why not. */
export type Check = { state: "idle" | "checking" | "ok" } | { state: "error"; message: string };

/**
 * Runs `check` (a dry run on the server) `delay` ms after `deps` last changed; the newest answer
 * wins. The server checks exactly what a deploy would: names, version, values against the
 * chart's schema.
 */
export function useServerCheck(check: (() => Promise<unknown>) | null, deps: unknown[], delay = 500): Check {
  const [result, setResult] = useState<Check>({ state: "idle" });
  useEffect(() => {
    if (!check) {
      setResult({ state: "idle" });
      return;
    }
    let gone = false;
    setResult({ state: "checking" });
    const timer = setTimeout(() => {
      check()
        .then(() => !gone && setResult({ state: "ok" }))
        .catch((e: Error) => !gone && setResult({ state: "error", message: e instanceof ApiError ? e.message : String(e.message ?? e) }));
    }, delay);
    return () => {
      gone = true;
      clearTimeout(timer);
    };
    // `deps` name what the check reads; the function itself is rebuilt each render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return result;
}

/** The values editor: YAML text, the chart's schema beside it, and the server's verdict below. */
export function ValuesEditor({ value, onChange, schema, defaults, check }: { value: string; onChange: (v: string) => void; schema?: string; defaults?: string; check: Check }) {
  const { t } = useI18n();
  const fields = schema ? schemaFields(schema) : [];
  return (
    <div className="values-editor">
      <div className="toolbar">
        <h2 className="section">{t("store.values")}</h2>
        <span className="spacer" />
        {defaults !== undefined && (
          <button type="button" onClick={() => onChange(defaults)}>
            {t("store.resetValues")}
          </button>
        )}
      </div>
      <Suspense fallback={<p className="muted">{t("app.loading")}</p>}>
        <YamlEditor value={value} onChange={onChange} label={t("store.values")} />
      </Suspense>
      <div className="check" role="status" aria-live="polite" data-check={check.state}>
        {check.state === "checking" && <span className="muted">{t("store.checking")}</span>}
        {check.state === "ok" && <span className="notice">{t("store.valuesValid")}</span>}
        {check.state === "error" && <div className="error">{check.message}</div>}
      </div>
      {fields.length > 0 && (
        <details className="schema">
          <summary>{t("store.schema", { count: fields.length })}</summary>
          <table>
            <thead>
              <tr>
                <th>{t("store.field")}</th>
                <th>{t("col.type")}</th>
                <th>{t("store.default")}</th>
                <th>{t("col.description")}</th>
              </tr>
            </thead>
            <tbody>
              {fields.map((f) => (
                <tr key={f.path}>
                  <td>
                    <code>{f.path}</code>
                    {f.required && <span className="badge warn">{t("form.required")}</span>}
                  </td>
                  <td>{f.enum ? f.enum.join(" | ") : f.type}</td>
                  <td>
                    <code>{f.default ?? ""}</code>
                  </td>
                  <td>{f.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
