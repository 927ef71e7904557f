import { useState, type ReactNode } from "react";
import { useI18n } from "../i18n";
import { Dialog, ErrorBox } from "./ui";

/**
 * Asks before an action with consequences, naming it on the button (`action`: "Disable",
 * "Revoke", "Remove"…); the action's error shows in place and keeps the dialog open.
 */
export function Ask({ open, title, message, action, danger = true, onConfirm, onCancel, children }: {
  open: boolean;
  title: string;
  message: string;
  action: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown>;
  onCancel: () => void;
  children?: ReactNode;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const cancel = () => {
    setError(null);
    onCancel();
  };
  return (
    <Dialog open={open} onClose={cancel} title={title}>
      <p>{message}</p>
      {children}
      <ErrorBox error={error} />
      <div className="toolbar">
        <span className="spacer" />
        <button type="button" onClick={cancel}>
          {t("action.cancel")}
        </button>
        <button
          type="button"
          className={danger ? "danger" : "primary"}
          disabled={busy}
          autoFocus
          onClick={async () => {
            setBusy(true);
            try {
              await onConfirm();
              setError(null);
            } catch (e) {
              setError(e);
            } finally {
              setBusy(false);
            }
          }}
        >
          {action}
        </button>
      </div>
    </Dialog>
  );
}
