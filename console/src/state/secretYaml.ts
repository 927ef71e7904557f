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

/**
 * What the YAML view shows of a Secret before any value is fetched: the platform's metadata-only
 * answer (`keys`) as a Secret whose `data` values are all placeholders.
 */
export function maskedFromMetadata(meta: Obj): Obj {
  const keys = Array.isArray(meta.keys) ? (meta.keys as string[]) : [];
  const out: Obj = { apiVersion: meta.apiVersion ?? "v1", kind: meta.kind ?? "Secret", metadata: structuredClone(meta.metadata ?? {}), type: meta.type ?? "Opaque" };
  if (keys.length) out.data = Object.fromEntries(keys.map((k) => [k, MASK]));
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** RFC 7386: the merge patch that turns `from` into `to` (null removes, arrays replace). */
function mergeDiff(from: Obj, to: Obj): Obj {
  const out: Obj = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const was = from[k];
    if (isObj(was) && isObj(v)) {
      const d = mergeDiff(was, v);
      if (Object.keys(d).length) out[k] = d;
    } else if (!same(was, v)) out[k] = v;
  }
  return out;
}

/**
 * A save made while the values were never fetched: the merge patch of what changed between
 * `base` (`maskedFromMetadata`) and the edited YAML, so a placeholder left as it was leaves its
 * value alone and none is sent. A placeholder that stands for nothing (a key added or renamed,
 * kubectl's annotation) is refused with `HiddenValueError`. The patch carries the revision the
 * edit started from, so a Secret changed meanwhile is refused (409) rather than overwritten.
 */
export function hiddenPatch(base: Obj, edited: unknown): Obj {
  if (!isObj(edited)) throw new HiddenValueError("(document)");
  for (const field of ["data", "stringData"] as const) {
    const values = edited[field];
    const was = base[field];
    if (!isObj(values)) continue;
    for (const [k, v] of Object.entries(values)) if (v === MASK && !(isObj(was) && was[k] === MASK)) throw new HiddenValueError(`${field}.${k}`);
  }
  const annotations = isObj(edited.metadata) ? edited.metadata.annotations : undefined;
  if (isObj(annotations) && annotations[LAST_APPLIED] === MASK) throw new HiddenValueError(`metadata.annotations.${LAST_APPLIED}`);
  const patch = mergeDiff(base, edited);
  const rv = isObj(base.metadata) ? base.metadata.resourceVersion : undefined;
  if (rv !== undefined) patch.metadata = { ...(isObj(patch.metadata) ? patch.metadata : {}), resourceVersion: rv };
  return patch;
}

/**
 * The edited YAML once the values arrive (`full`, the Secret itself): each placeholder replaced
 * by its value, and kubectl's annotation, which the metadata-only view never had, put back.
 */
export function revealEdited(edited: unknown, full: unknown): unknown {
  const { hidden } = maskSecret(full);
  const out = unmaskSecret(edited, hidden);
  const last = hidden.annotations[LAST_APPLIED];
  if (last !== undefined && isObj(out) && isObj(out.metadata)) {
    const annotations = isObj(out.metadata.annotations) ? out.metadata.annotations : {};
    if (!(LAST_APPLIED in annotations)) out.metadata.annotations = { ...annotations, [LAST_APPLIED]: last };
  }
  return out;
}
