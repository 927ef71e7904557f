// Formatting of Kubernetes quantities and times for people: memory in binary units instead of
// `16777216Ki`, CPU in cores, times relative to now ("3 minutes ago"), all per locale.

const SUFFIX: Record<string, number> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/** A Kubernetes quantity (`16777216Ki`, `500m`, `1.5Gi`, `1e3`) in base units (bytes, cores);
 * NaN when it is not one. */
export function parseQuantity(q: string | number | undefined | null): number {
  if (typeof q === "number") return q;
  if (!q) return NaN;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkKMGTPE]?)$/.exec(q.trim());
  if (!m) return NaN;
  return Number(m[1]) * SUFFIX[m[2]];
}

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** Bytes in the largest binary unit that keeps the number ≥ 1, to at most one decimal
 * (`16 GiB`, `1.5 MiB`), formatted for `lang`. */
export function formatBytes(bytes: number, lang: string): string {
  if (!Number.isFinite(bytes)) return "—";
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < BINARY.length - 1) {
    v /= 1024;
    i++;
  }
  const nf = new Intl.NumberFormat(lang, { maximumFractionDigits: i === 0 ? 0 : 1 });
  return `${bytes < 0 ? "-" : ""}${nf.format(v)} ${BINARY[i]}`;
}

/** A memory (or storage) quantity as people read it; the quantity as given when it is not one. */
export function formatMemory(q: string | undefined, lang: string): string {
  if (!q) return "—";
  const n = parseQuantity(q);
  return Number.isFinite(n) ? formatBytes(n, lang) : q;
}

/** A CPU quantity in cores (`500m` → `0.5`), formatted for `lang`. */
export function formatCpu(q: string | undefined, lang: string): string {
  if (!q) return "—";
  const n = parseQuantity(q);
  return Number.isFinite(n) ? new Intl.NumberFormat(lang, { maximumFractionDigits: 3 }).format(n) : q;
}

const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["second", 60],
  ["minute", 60],
  ["hour", 24],
  ["day", 30],
  ["month", 12],
  ["year", Infinity],
];

/** How long ago (or from now) `iso` is, in `lang` ("3 minutes ago", "3 分钟前"); "—" without a time. */
export function relativeTime(iso: string | undefined | null, lang: string, now: number = Date.now()): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "—";
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  let v = (at - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(v) < size) return rtf.format(Math.round(v), unit);
    v /= size;
  }
  return rtf.format(Math.round(v), "year");
}
