import { memo, useEffect, useMemo, useRef, useState, type CSSProperties, type ReactNode } from "react";
import { defaultRangeExtractor, useVirtualizer, type Range } from "@tanstack/react-virtual";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";

/** A column: its heading, how to render a cell, and optionally how to sort by it (`sort` in
 * the browser, `sortBy` the server's key when the table's order is the server's). */
export interface Column<T> {
  title: MessageKey;
  render: (row: T) => ReactNode;
  sort?: (row: T) => string | number;
  sortBy?: string;
  width?: string;
}

/** The order a server sorted the rows in (`sortBy`, `ascending`). */
export interface Order {
  sortBy: string;
  ascending: boolean;
}

/** Rows are one line high (cells ellipsize), so the virtualizer needs no measuring (the same
 * height is in styles.css, `.table .scroll .row`). */
const ROW_HEIGHT = 37;

/** Rows rendered beyond the visible ones on each side while the list scrolls at a wheel's pace:
 * they are in place before a scroll the main thread has not caught up with reaches them. */
const OVERSCAN = 10;

/**
 * The rows to render for a visible range: the visible ones and `OVERSCAN` more each side — except
 * while a scroll moves the view further than that in one step (a flick). Then rows rendered ahead
 * would be passed over by the next step without being seen, and each step already mounts a whole
 * view of new rows, so only the visible rows and one each side are rendered (every extra row is
 * React, style, layout and paint work in a frame that is already full). The virtualizer calls
 * this when the visible range changes; `fast()` says whether the last step was such a jump.
 */
function paceRange() {
  let last: number | null = null;
  let fast = false;
  const extract = (r: Range) => {
    fast = last !== null && Math.abs(r.startIndex - last) > OVERSCAN;
    last = r.startIndex;
    return defaultRangeExtractor({ ...r, overscan: fast ? 1 : OVERSCAN });
  };
  return { extract, fast: () => fast };
}

/**
 * One rendered row, in the flow of the block that holds the rendered rows (no position of its own:
 * no per-row inline style, so rows share their computed style). Memoised: while the list scrolls,
 * the rows already rendered keep their props, so only the rows coming into view render.
 */
const Row = memo(function Row<T>({ row, columns, index, rowIndex }: { row: T; columns: Column<T>[]; index: number; rowIndex: number }) {
  return (
    <div className="row" role="row" aria-rowindex={rowIndex} data-index={index}>
      {columns.map((c) => (
        <div className="cell" role="cell" key={c.title}>
          {c.render(row)}
        </div>
      ))}
    </div>
  );
}) as <T>(props: { row: T; columns: Column<T>[]; index: number; rowIndex: number }) => ReactNode;

/**
 * A table whose rows are virtualized (only the visible ones are in the DOM), sortable by column:
 * in the browser, or — given `order` and `onOrder` — by the server (the rows come sorted; a
 * heading click asks for another order).
 */
export function Table<T>({ columns, rows, rowKey, label, order, onOrder, total, offset = 0 }: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (r: T) => string;
  label: string;
  order?: Order;
  onOrder?: (o: Order) => void;
  /** How many rows the whole list has when `rows` is one page of it, and how many come before. */
  total?: number;
  offset?: number;
}) {
  const { t } = useI18n();
  const [sortCol, setSortCol] = useState<number | null>(null);
  const [asc, setAsc] = useState(true);
  const scroll = useRef<HTMLDivElement>(null);
  const server = !!onOrder;
  // Sorted once per change of the rows or the order, not on every render: the table renders on
  // every scroll step that changes the rows in view, and sorting 10,000 rows again each time adds
  // to every frame (over a millisecond even when they come nearly in order).
  const sorted = useMemo(() => {
    const c = server || sortCol === null ? undefined : columns[sortCol];
    if (!c?.sort) return rows;
    const key = c.sort;
    return rows.slice().sort((a, b) => {
      const x = key(a), y = key(b);
      const r = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return asc ? r : -r;
    });
  }, [rows, columns, sortCol, asc, server]);
  // Another page of a server-paged list starts at its top.
  useEffect(() => {
    if (scroll.current) scroll.current.scrollTop = 0;
  }, [offset]);
  // A new pace tracker when a flick comes to rest, so the rows around the view are rendered again.
  const [pace, setPace] = useState(paceRange);
  const virt = useVirtualizer({
    count: sorted.length,
    getScrollElement: () => scroll.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: OVERSCAN,
    rangeExtractor: pace.extract,
    onChange: (v) => {
      if (!v.isScrolling && pace.fast()) setPace(paceRange);
    },
  });
  const items = virt.getVirtualItems();
  const grid = columns.map((c) => c.width ?? "minmax(0, 1fr)").join(" ");
  return (
    <div className="table" role="table" aria-label={label} aria-rowcount={(total ?? sorted.length) + 1} style={{ "--columns": grid } as CSSProperties}>
      <div className="row head" role="row">
        {columns.map((c, i) => {
          if (server) {
            const on = !!c.sortBy && order?.sortBy === c.sortBy;
            return (
              <div className="cell" role="columnheader" key={c.title} aria-sort={on ? (order?.ascending ? "ascending" : "descending") : undefined}>
                {c.sortBy ? (
                  <button type="button" onClick={() => onOrder?.({ sortBy: c.sortBy ?? "", ascending: on ? !order?.ascending : true })}>
                    {t(c.title)} {on ? (order?.ascending ? "▲" : "▼") : ""}
                  </button>
                ) : (
                  t(c.title)
                )}
              </div>
            );
          }
          return (
          <div className="cell" role="columnheader" key={c.title} aria-sort={sortCol === i ? (asc ? "ascending" : "descending") : undefined}>
            {c.sort ? (
              <button type="button" onClick={() => (sortCol === i ? setAsc(!asc) : (setSortCol(i), setAsc(true)))}>
                {t(c.title)} {sortCol === i ? (asc ? "▲" : "▼") : ""}
              </button>
            ) : (
              t(c.title)
            )}
          </div>
          );
        })}
      </div>
      {sorted.length === 0 ? (
        <div className="row muted" role="row">
          <div role="cell">{t("list.empty")}</div>
        </div>
      ) : (
        <div className="scroll" ref={scroll}>
          <div style={{ height: virt.getTotalSize() }}>
            {/* The rendered rows are consecutive: one block moved to the first one's place. */}
            <div style={{ transform: `translateY(${items[0]?.start ?? 0}px)` }}>
              {items.map((v) => {
                const r = sorted[v.index];
                return <Row key={rowKey(r)} row={r} columns={columns} index={v.index} rowIndex={offset + v.index + 2} />;
              })}
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
