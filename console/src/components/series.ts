// Pure helpers of the observability pages (no DOM, no charting library): testable alone.

/** One line: its label and [unix seconds, value] points. */
export interface ChartSeries {
  label: string;
  points: [number, number][];
}

/** The series on one shared time axis (uPlot draws aligned columns; gaps are null). */
export function align(series: ChartSeries[]): (number | null)[][] {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const cols = series.map((s) => {
    const col: (number | null)[] = xs.map(() => null);
    for (const [x, y] of s.points) col[index.get(x) ?? 0] = y;
    return col;
  });
  return [xs, ...cols];
}

/** Splits `text` around case-insensitive matches of `needle` (for highlighting). */
export function highlight(text: string, needle: string): { text: string; hit: boolean }[] {
  if (!needle) return [{ text, hit: false }];
  const out: { text: string; hit: boolean }[] = [];
  const lower = text.toLowerCase();
  const n = needle.toLowerCase();
  let at = 0;
  for (;;) {
    const i = lower.indexOf(n, at);
    if (i < 0) break;
    if (i > at) out.push({ text: text.slice(at, i), hit: false });
    out.push({ text: text.slice(i, i + n.length), hit: true });
    at = i + n.length;
  }
  if (at < text.length) out.push({ text: text.slice(at), hit: false });
  return out;
}

