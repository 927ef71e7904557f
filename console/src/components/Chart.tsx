// A time-series chart drawn by uPlot (a small canvas charting library). Only the observability
// pages import it, so it lands in their lazy chunk, not in the console's initial bundle.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { align, type ChartSeries } from "./series";
import { useI18n } from "../i18n";

export type { ChartSeries };

const colours = ["#2f6fde", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285"];

/** A chart of `series`, values formatted by `format`. */
export function Chart({ title, series, format, span }: { title: string; series: ChartSeries[]; format: (v: number) => string; span?: [number, number] }) {
  const box = useRef<HTMLDivElement>(null);
  const { t, lang } = useI18n();
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(280, el.clientWidth || 480);
    // Times in the user's language (uPlot's own labels are English): hours and minutes within a
    // day or so, day and hour beyond.
    const long = span ? span[1] - span[0] > 36 * 3600 : false;
    const tick = new Intl.DateTimeFormat(lang, long ? { month: "short", day: "numeric", hour: "2-digit" } : { hour: "2-digit", minute: "2-digit" });
    const full = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });
    const plot = new uPlot(
      {
        width,
        height: 200,
        series: [
          { label: t("obs.time"), value: (_: uPlot, v: number | null) => (v == null ? "—" : full.format(new Date(v * 1000))) },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: colours[i % colours.length],
            width: 2,
            points: { show: true, size: 4 },
            value: (_: uPlot, v: number | null) => (v == null ? "—" : format(v)),
          })),
        ],
        // The x axis is the asked time range (uPlot would stretch a lone point over years).
        scales: span ? { x: { time: true, range: (): uPlot.Range.MinMax => [span[0], span[1]] } } : undefined,
        axes: [{ values: (_: uPlot, ticks: number[]) => ticks.map((v) => tick.format(new Date(v * 1000))) }, { values: (_: uPlot, ticks: number[]) => ticks.map(format), size: 70 }],
        legend: { show: true },
      },
      align(series) as uPlot.AlignedData,
      el,
    );
    return () => plot.destroy();
  }, [series, format, span, t, lang]);
  const points = series.reduce((n, s) => n + s.points.length, 0);
  return (
    <figure className="chart" aria-label={title} data-points={points}>
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
