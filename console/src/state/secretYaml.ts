// A Secret's YAML with its values hidden (pure, unit tested). The YAML view shows a Secret's
// `data` and `stringData` values, and kubectl's last-applied annotation (which quotes them), as a
// placeholder until the user asks to see them; a save made while they are hidden puts each
// placeholder's value back from what was hidden, so no placeholder is ever written to the Secret.

import { dump } from "js-yaml";

/** What stands for a hidden value (as in the key/value view). */
export const MASK = "••••••••";

/** kubectl's copy of what it applied: for a Secret, its values. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** Hidden values by where they were: `data`, `stringData` and `annotations`, then the key. */
export interface Hidden {
  data: Record<string, string>;
  stringData: Record<string, string>;
  annotations: Record<string, string>;
}

/** A placeholder that no hidden value stands behind (a key renamed or added while hidden). */
export class HiddenValueError extends Error {
  constructor(public field: string) {
    super(`${field} is hidden`);
  }
}

export const noneHidden = (): Hidden => ({ data: {}, stringData: {}, annotations: {} });

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The YAML the editor shows. */
export function toYaml(o: unknown): string {
  return dump(o, { noRefs: true, lineWidth: 120 });
}

/** A copy of `o` with its values replaced by `MASK`, and those values. */
export function maskSecret<T>(o: T): { masked: T; hidden: Hidden } {
  const hidden = noneHidden();
  if (!isObj(o)) return { masked: o, hidden };
  const masked: Obj = structuredClone(o);
  for (const field of ["data", "stringData"] as const) {
    const values = masked[field];
    if (!isObj(values)) continue;
    for (const [k, v] of Object.entries(values)) {
      hidden[field][k] = String(v);
      values[k] = MASK;
    }
  }
  const annotations = isObj(masked.metadata) ? masked.metadata.annotations : undefined;
  if (isObj(annotations) && typeof annotations[LAST_APPLIED] === "string") {
    hidden.annotations[LAST_APPLIED] = annotations[LAST_APPLIED];
    annotations[LAST_APPLIED] = MASK;
  }
  return { masked: masked as T, hidden };
}

/**
 * A copy of `o` with every placeholder replaced by the value it hid. A placeholder without one
 * (its key renamed or new) is refused with `HiddenValueError`: the user reveals the values to
 * write that key's value.
 */
export function unmaskSecret<T>(o: T, hidden: Hidden): T {
  if (!isObj(o)) return o;
  const out: Obj = structuredClone(o);
  const restore = (field: keyof Hidden, values: unknown, where: string) => {
    if (!isObj(values)) return;
    for (const [k, v] of Object.entries(values)) {
      if (v !== MASK) continue;
      const was = hidden[field][k];
      if (was === undefined) throw new HiddenValueError(`${where}.${k}`);
      values[k] = was;
    }
  };
  restore("data", out.data, "data");
  restore("stringData", out.stringData, "stringData");
  if (isObj(out.metadata)) restore("annotations", out.metadata.annotations, "metadata.annotations");
  return out as T;
}

/** The editor's text of `o` (a Secret when `secret`), its values hidden unless `revealed`. */
export function present(o: unknown, secret: boolean, revealed: boolean): { text: string; hidden: Hidden } {
  if (!secret || revealed) return { text: toYaml(o), hidden: noneHidden() };
  const { masked, hidden } = maskSecret(o);
  return { text: toYaml(masked), hidden };
}
