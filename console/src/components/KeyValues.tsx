// A key/value editor (ConfigMap and Secret data, StorageClass parameters): a row per key, each
// labelled for screen readers, rows added and removed by buttons. For Secrets (`secret`) the
// values stay hidden (password boxes) until the user asks to reveal them.

import { useState } from "react";
import { useI18n } from "../i18n";
import type { KV } from "../state/resourceForms";

export function KeyValues({ legend, rows, onChange, secret = false, multiline = true }: { legend: string; rows: KV[]; onChange: (rows: KV[]) => void; secret?: boolean; multiline?: boolean }) {
  const { t, number } = useI18n();
  const [revealed, setRevealed] = useState(!secret);
  const set = (i: number, patch: Partial<KV>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="kvedit">
      <legend>{legend}</legend>
      {secret && (
        <button type="button" className="reveal" aria-pressed={revealed} onClick={() => setRevealed(!revealed)}>
          {revealed ? t("res.hideValues") : t("res.revealValues")}
        </button>
      )}
      {rows.map((r, i) => (
        <div className="kvrow" key={i}>
          <input aria-label={t("res.keyN", { n: number(i + 1) })} placeholder={t("res.key")} value={r.key} pattern="[\-._a-zA-Z0-9]+" onChange={(e) => set(i, { key: e.target.value })} />
          {r.binary !== undefined ? (
            <span className="muted">{t("res.binary")}</span>
          ) : !revealed ? (
            <input type="password" autoComplete="off" aria-label={t("res.valueN", { n: number(i + 1) })} placeholder={t("res.value")} value={r.value} onChange={(e) => set(i, { value: e.target.value })} />
          ) : multiline ? (
            <textarea aria-label={t("res.valueN", { n: number(i + 1) })} placeholder={t("res.value")} value={r.value} rows={Math.min(8, Math.max(1, r.value.split("\n").length))} onChange={(e) => set(i, { value: e.target.value })} />
          ) : (
            <input aria-label={t("res.valueN", { n: number(i + 1) })} placeholder={t("res.value")} value={r.value} onChange={(e) => set(i, { value: e.target.value })} />
          )}
          <button type="button" aria-label={t("res.removeN", { n: number(i + 1) })} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <div>
        <button type="button" onClick={() => onChange([...rows, { key: "", value: "" }])}>
          {t("res.addKey")}
        </button>
      </div>
    </fieldset>
  );
}
