import { useRef, useState, type ReactNode } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";

/** A column: its heading, how to render a cell, and optionally how to sort by it. */
export interface Column<T> {
  title: MessageKey;
  render: (row: T) => ReactNode;
  sort?: (row: T) => string | number;
  width?: string;
}

/** Rows are one line high (cells ellipsize), so the virtualizer needs no measuring. */
const ROW_HEIGHT = 37;

/** A table whose rows are virtualized (only the visible ones are in the DOM), sortable by column. */
export function Table<T>({ columns, rows, rowKey, label }: { columns: Column<T>[]; rows: T[]; rowKey: (r: T) => string; label: string }) {
  const { t } = useI18n();
  const [sortCol, setSortCol] = useState<number | null>(null);
  const [asc, setAsc] = useState(true);
  const scroll = useRef<HTMLDivElement>(null);
  const sorted = (() => {
    const c = sortCol === null ? undefined : columns[sortCol];
    if (!c?.sort) return rows;
    const key = c.sort;
    return rows.slice().sort((a, b) => {
      const x = key(a), y = key(b);
      const r = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return asc ? r : -r;
    });
  })();
  const virt = useVirtualizer({ count: sorted.length, getScrollElement: () => scroll.current, estimateSize: () => ROW_HEIGHT, overscan: 10 });
  const grid = columns.map((c) => c.width ?? "minmax(0, 1fr)").join(" ");
  return (
    <div className="table" role="table" aria-label={label} aria-rowcount={sorted.length + 1}>
      <div className="row head" role="row" style={{ gridTemplateColumns: grid }}>
        {columns.map((c, i) => (
          <div className="cell" role="columnheader" key={c.title} aria-sort={sortCol === i ? (asc ? "ascending" : "descending") : undefined}>
            {c.sort ? (
              <button type="button" onClick={() => (sortCol === i ? setAsc(!asc) : (setSortCol(i), setAsc(true)))}>
                {t(c.title)} {sortCol === i ? (asc ? "▲" : "▼") : ""}
              </button>
            ) : (
              t(c.title)
            )}
          </div>
        ))}
      </div>
      {sorted.length === 0 ? (
        <div className="row muted" role="row">
          <div role="cell">{t("list.empty")}</div>
        </div>
      ) : (
        <div className="scroll" ref={scroll}>
          <div style={{ height: virt.getTotalSize(), position: "relative" }}>
            {virt.getVirtualItems().map((v) => {
              const r = sorted[v.index];
              return (
                <div
                  key={rowKey(r)}
                  className="row"
                  role="row"
                  aria-rowindex={v.index + 2}
                  data-index={v.index}
                  style={{ gridTemplateColumns: grid, position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                >
                  {columns.map((c) => (
                    <div className="cell" role="cell" key={c.title}>
                      {c.render(r)}
                    </div>
                  ))}
                </div>
              );
            })}
          </div>
        </div>
      )}
    </div>
  );
}
