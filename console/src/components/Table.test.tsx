import { describe, expect, it, vi } from "vitest";
import { act } from "react";
import { createRoot } from "react-dom/client";
import { Table } from "./Table";

// React's act() needs to know it runs in a test environment.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

describe("Table", () => {
  it("keeps only a window of a long list in the DOM, and sorts by a column", async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ name: `pod-${String(i).padStart(5, "0")}`, n: i }));
    // jsdom has no layout: give every element a 800×600 viewport for the virtualizer to fill.
    Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 600 });
    Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
    const host = document.createElement("div");
    document.body.append(host);
    const root = createRoot(host);
    await act(async () => {
      root.render(
        <Table
          label="pods"
          rows={rows}
          rowKey={(r) => r.name}
          columns={[
            { title: "col.name", render: (r) => r.name, sort: (r) => r.name },
            { title: "col.count", render: (r) => String(r.n), sort: (r) => r.n },
          ]}
        />,
      );
    });
    const table = host.querySelector('[role="table"]');
    expect(table?.getAttribute("aria-rowcount")).toBe("10001");
    const bodyRows = () => [...host.querySelectorAll('[role="row"][data-index]')];
    expect(bodyRows().length).toBeGreaterThan(0);
    expect(bodyRows().length).toBeLessThan(100);
    expect(bodyRows()[0].textContent).toContain("pod-00000");
    const countHeader = host.querySelectorAll('[role="columnheader"] button')[1] as HTMLButtonElement;
    await act(async () => countHeader.click());
    await act(async () => countHeader.click());
    expect(bodyRows()[0].textContent).toContain("pod-09999");
    expect(host.querySelectorAll('[role="columnheader"]')[1].getAttribute("aria-sort")).toBe("descending");
    await act(async () => root.unmount());
  });
  it("leaves the order to the server when it is given one", async () => {
    const rows = [{ name: "b" }, { name: "a" }];
    const asked: { sortBy: string; ascending: boolean }[] = [];
    const host = document.createElement("div");
    document.body.append(host);
    const root = createRoot(host);
    const render = (order: { sortBy: string; ascending: boolean }) =>
      root.render(
        <Table
          label="cms"
          rows={rows}
          rowKey={(r) => r.name}
          total={10_000}
          offset={50}
          order={order}
          onOrder={(o) => asked.push(o)}
          columns={[
            { title: "col.name", render: (r) => r.name, sortBy: "name" },
            { title: "col.created", render: (r) => r.name, sortBy: "createTime" },
            { title: "col.keys", render: () => "1" },
          ]}
        />,
      );
    await act(async () => render({ sortBy: "name", ascending: true }));
    const table = host.querySelector('[role="table"]');
    expect(table?.getAttribute("aria-rowcount")).toBe("10001");
    const body = () => [...host.querySelectorAll('[role="row"][data-index]')];
    // The rows stay in the order the server sent them.
    expect(body().map((r) => r.textContent?.slice(0, 1))).toEqual(["b", "a"]);
    expect(body()[0].getAttribute("aria-rowindex")).toBe("52");
    const heads = host.querySelectorAll('[role="columnheader"]');
    expect(heads[0].getAttribute("aria-sort")).toBe("ascending");
    expect(heads[2].querySelector("button")).toBeNull();
    await act(async () => (heads[0].querySelector("button") as HTMLButtonElement).click());
    await act(async () => (heads[1].querySelector("button") as HTMLButtonElement).click());
    expect(asked).toEqual([
      { sortBy: "name", ascending: false },
      { sortBy: "createTime", ascending: true },
    ]);
    expect(body().map((r) => r.textContent?.slice(0, 1))).toEqual(["b", "a"]);
    await act(async () => render({ sortBy: "createTime", ascending: false }));
    expect(host.querySelectorAll('[role="columnheader"]')[1].getAttribute("aria-sort")).toBe("descending");
    await act(async () => root.unmount());
  });
  it("renders only the rows in view while a flick jumps past the overscan, and the overscan again once it rests", async () => {
    vi.useFakeTimers();
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ name: `pod-${String(i).padStart(5, "0")}` }));
    // A 600 px viewport holds 17 rows of 37 px.
    Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 600 });
    Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
    const host = document.createElement("div");
    document.body.append(host);
    const root = createRoot(host);
    await act(async () => root.render(<Table label="pods" rows={rows} rowKey={(r) => r.name} columns={[{ title: "col.name", render: (r) => r.name }]} />));
    const scroller = host.querySelector(".scroll") as HTMLElement;
    const indexes = () => [...host.querySelectorAll('[role="row"][data-index]')].map((r) => Number(r.getAttribute("data-index")));
    const scrollTo = (top: number) =>
      act(async () => {
        Object.defineProperty(scroller, "scrollTop", { configurable: true, value: top });
        scroller.dispatchEvent(new Event("scroll"));
      });
    // At rest: the 17 rows in view and 10 more below.
    expect(indexes()).toEqual(Array.from({ length: 27 }, (_, i) => i));
    // A flick, 1,200 px (~32 rows) a step: the rows in view and one each side, in order.
    for (let step = 1; step <= 3; step++) {
      await scrollTo(1200 * step);
      const first = Math.floor((1200 * step) / 37);
      const shown = indexes();
      expect(shown.length).toBeLessThanOrEqual(20);
      expect(shown[0]).toBe(first - 1);
      expect(shown).toEqual(Array.from({ length: shown.length }, (_, i) => first - 1 + i));
    }
    // At rest again (the virtualizer's scrolling flag clears 150 ms after the last scroll): 10
    // rows each side.
    await act(async () => vi.advanceTimersByTime(200));
    expect(indexes()[0]).toBe(Math.floor(3600 / 37) - 10);
    expect(indexes().length).toBeGreaterThanOrEqual(37);
    // A wheel's step (120 px) keeps them.
    await scrollTo(3720);
    expect(indexes()[0]).toBe(Math.floor(3720 / 37) - 10);
    expect(indexes().length).toBeLessThan(100);
    await act(async () => root.unmount());
    vi.useRealTimers();
  });
  it("sorts once per order, not again on every scroll step", async () => {
    const rows = Array.from({ length: 1_000 }, (_, i) => ({ n: i }));
    Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 600 });
    Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
    let keyed = 0;
    const host = document.createElement("div");
    document.body.append(host);
    const root = createRoot(host);
    const columns = [{ title: "col.count" as const, render: (r: { n: number }) => String(r.n), sort: (r: { n: number }) => (keyed++, r.n) }];
    await act(async () => root.render(<Table label="n" rows={rows} rowKey={(r) => String(r.n)} columns={columns} />));
    const head = host.querySelector('[role="columnheader"] button') as HTMLButtonElement;
    await act(async () => head.click());
    await act(async () => head.click());
    expect(host.querySelector('[role="row"][data-index="0"]')?.textContent).toBe("999");
    keyed = 0;
    const scroller = host.querySelector(".scroll") as HTMLElement;
    for (const top of [1200, 2400, 3600]) {
      await act(async () => {
        Object.defineProperty(scroller, "scrollTop", { configurable: true, value: top });
        scroller.dispatchEvent(new Event("scroll"));
      });
    }
    expect(host.querySelector('[role="row"][data-index]')?.getAttribute("data-index")).toBe(String(Math.floor(3600 / 37) - 1));
    expect(keyed).toBe(0);
    await act(async () => root.unmount());
  });
});
