import { useEffect, useRef, useState, type ReactNode } from "react";
import { useI18n } from "../i18n";
import { api, ApiError } from "../api/client";
import { en, type MessageKey } from "../i18n/en";

/** What went wrong, in the user's words: a summary by status and reason, the fields the server
 * named (data, not words), and the server's own message for the details. */
export function describeError(t: (k: MessageKey) => string, error: unknown): { summary: string; causes: string[]; detail: string } {
  if (!(error instanceof ApiError)) return { summary: (error as Error)?.message ?? String(error), causes: [], detail: "" };
  const body = (error.body ?? {}) as { details?: { causes?: { field?: string; message?: string }[] } };
  const causes = (body.details?.causes ?? []).map((c) => (c.field ? `${c.field}: ${c.message ?? ""}` : (c.message ?? ""))).filter(Boolean);
  const key: MessageKey =
    error.status === 401
      ? "error.unauthorized"
      : error.status === 403
        ? /exceeded quota|failed quota/.test(error.message)
          ? "res.quotaExceeded"
          : "error.forbidden"
        : error.status === 404
          ? "error.notFound"
          : error.status === 409
            ? error.reason === "AlreadyExists"
              ? "error.exists"
              : "error.conflict"
            : error.status === 422 || error.status === 400
              ? "error.invalid"
              : error.status === 429
                ? "error.tooMany"
                : error.status >= 500
                  ? "error.unavailable"
                  : "error.failed";
  return { summary: t(key), causes, detail: error.message };
}

/** An error shown in place: summarised in the user's language, the server's detail one click away. */
export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const { summary, causes, detail } = describeError(t, error);
  return (
    <div className="error" role="alert">
      <div>{summary}</div>
      {causes.length > 0 && (
        <ul className="causes">
          {causes.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
      )}
      {detail && (
        <details>
          <summary>{t("error.details")}</summary>
          <pre>{detail}</pre>
        </details>
      )}
    </div>
  );
}

/** A modal dialog (native <dialog>: focus is trapped and Escape closes it, unless `locked`). */
export function Dialog({ open, onClose, title, children, locked = false }: { open: boolean; onClose: () => void; title: string; children: ReactNode; locked?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" onClose={onClose} onCancel={(e) => locked && e.preventDefault()} aria-label={title}>
      {open && (
        <>
          <h2 className="section">{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

/**
 * The end of a form: the server's error in place, then any other actions (`children`, at the
 * start), Cancel, and the submit button (`submit`, default Create; `disabled` while it may not
 * be sent).
 */
export function FormFooter({ error, onCancel, submit, disabled, children }: { error: unknown; onCancel: () => void; submit?: string; disabled?: boolean; children?: ReactNode }) {
  const { t } = useI18n();
  return (
    <>
      <ErrorBox error={error} />
      <div className="toolbar">
        {children}
        <span className="spacer" />
        <button type="button" onClick={onCancel}>
          {t("action.cancel")}
        </button>
        <button className="primary" type="submit" disabled={disabled}>
          {submit ?? t("action.create")}
        </button>
      </div>
    </>
  );
}

/** Asks before something that cannot be undone. */
export function Confirm({ open, message, onConfirm, onCancel, error, busy = false }: { open: boolean; message: string; onConfirm: () => void; onCancel: () => void; error?: unknown; busy?: boolean }) {
  const { t } = useI18n();
  return (
    <Dialog open={open} onClose={onCancel} title={t("action.confirm")} locked={busy}>
      <p>{message}</p>
      <ErrorBox error={error} />
      <div className="toolbar">
        <span className="spacer" />
        <button type="button" onClick={onCancel} disabled={busy}>
          {t("action.cancel")}
        </button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy} aria-busy={busy} autoFocus>
          {t("action.delete")}
        </button>
      </div>
    </Dialog>
  );
}

/**
 * Asks before deleting `name` (a `kind`, in the user's words) at `path`; `onDeleted` runs once the
 * server has deleted it, and a refusal stays in the dialog (cleared when it opens again). While
 * the deletion is on its way the dialog neither closes nor sends it again.
 */
export function DeleteConfirm({ open, kind, name, path, onCancel, onDeleted }: { open: boolean; kind: string; name: string; path: string; onCancel: () => void; onDeleted: () => void }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) setError(null);
  }, [open]);
  const confirm = () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    api.delete(path).then(
      () => {
        setBusy(false);
        onDeleted();
      },
      (e: unknown) => {
        setBusy(false);
        setError(e);
      },
    );
  };
  return <Confirm open={open} message={t("confirm.delete", { kind, name })} error={error} onCancel={onCancel} onConfirm={confirm} busy={busy} />;
}

/**
 * The keyboard of a tab list (WAI-ARIA tabs): arrow keys, Home and End move to another tab and
 * select it. Put on the element with role="tablist"; its tabs take tabIndex 0 when selected and
 * -1 otherwise, so Tab goes from the selected tab to the panel.
 */
export function tabKeys(e: React.KeyboardEvent<HTMLElement>) {
  const tabs = [...e.currentTarget.querySelectorAll<HTMLElement>('[role="tab"]')];
  const i = tabs.indexOf(document.activeElement as HTMLElement);
  const moves: Record<string, number> = { ArrowRight: i + 1, ArrowLeft: i - 1 + tabs.length, Home: 0, End: tabs.length - 1 };
  if (i < 0 || !(e.key in moves)) return;
  e.preventDefault();
  const next = tabs[moves[e.key] % tabs.length];
  next.focus();
  next.click();
}

/** A coloured status word. */
export function Status({ value, label: given }: { value: string | undefined; label?: string }) {
  const { t } = useI18n();
  const v = value ?? "Unknown";
  const key = `phase.${v}` as MessageKey;
  const label = given ?? (key in en ? t(key) : v);
  const cls = /^(Running|Active|Ready|Succeeded|Bound|True|Complete|Available)$/.test(v) ? "ok" : /^(Pending|Terminating|ContainerCreating|Progressing)$/.test(v) ? "warn" : "bad";
  return (
    <span className={`badge ${cls}`} data-phase={v}>
      {label}
    </span>
  );
}

/** A text filter box. */
export function Filter({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  const { t } = useI18n();
  return <input type="search" aria-label={t("list.filter")} placeholder={t("list.filter")} value={value} onChange={(e) => onChange(e.target.value)} />;
}

/** Sets the window's title to `title` (with the product's name) while the page shows. */
export function useTitle(title: string | undefined) {
  const { t } = useI18n();
  const product = t("app.name");
  useEffect(() => {
    if (!title) return;
    const before = document.title;
    document.title = `${title} · ${product}`;
    return () => {
      document.title = before;
    };
  }, [title, product]);
}

/** A page heading and its toolbar (the heading is also the window's title). */
export function PageHead({ title, children }: { title: string; children?: ReactNode }) {
  useTitle(title);
  return (
    <div className="toolbar">
      <h1>{title}</h1>
      <span className="spacer" />
      {children}
    </div>
  );
}
