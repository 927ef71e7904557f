// The cost of each frame on the page's main thread, from a Chrome trace (CDP Tracing through
// playwright-core's browser.startTracing). requestAnimationFrame deltas (e2e/frames.mjs) show
// whether frames came on time, but at 60 Hz vsync they are ≥ 16.7 ms by construction; this
// measures the work, which can be compared with the 16.7 ms budget.
//
// In the renderer's main thread (CrRendererMain) every top-level task is a `RunTask` event; a
// frame's rendering task is the one holding its `BeginMainThreadFrame` (scroll events, rAF
// callbacks, style, layout, paint, commit). Per frame two figures:
//  - work: the frame's rendering task plus every other task that ran before the next frame's
//    (input, React renders scheduled by the scroll, timers, network callbacks, the benchmark's
//    own page.evaluate round-trips) — the main thread's busy time for that frame;
//  - cpu: the same tasks' thread time (the trace's `tdur`): the main thread's CPU time for the
//    frame, without the time it waited for a core (on a shared, loaded machine wall time includes
//    other processes' turns);
//  - render: the rendering task alone (wall time).
// Idle time is not counted; work on other threads (compositor, raster) is not counted (it runs in
// parallel and has its own budget).

import { percentile } from "../e2e/frames.mjs";

const CATEGORIES = ["-*", "devtools.timeline", "disabled-by-default-devtools.timeline", "disabled-by-default-devtools.timeline.frame"];

/** Starts a trace of `page`'s browser (one at a time per browser). */
export function startTrace(browser, page) {
  return browser.startTracing(page, { categories: CATEGORIES });
}

/** Stops the trace; per frame, the main thread's work and the rendering task's duration (ms). */
export async function stopTrace(browser) {
  const { traceEvents } = JSON.parse((await browser.stopTracing()).toString());
  return frameCosts(traceEvents);
}

/** The renderer main thread with the most frames: `pid/tid`. */
function pageThread(events) {
  const mains = new Set(events.filter((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}/${e.tid}`));
  const frames = new Map();
  for (const e of events) {
    const k = `${e.pid}/${e.tid}`;
    if (e.name === "BeginMainThreadFrame" && mains.has(k)) frames.set(k, (frames.get(k) ?? 0) + 1);
  }
  return [...frames].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/** Per-frame costs from trace events (timestamps and durations in µs). */
export function frameCosts(events) {
  const thread = pageThread(events);
  const on = (e) => `${e.pid}/${e.tid}` === thread;
  const tasks = events.filter((e) => on(e) && e.name === "RunTask" && e.ph === "X" && e.cat.includes("devtools.timeline")).sort((a, b) => a.ts - b.ts);
  const begins = events.filter((e) => on(e) && e.name === "BeginMainThreadFrame").map((e) => e.ts).sort((a, b) => a - b);
  // Mark the tasks holding a BeginMainThreadFrame (both lists are in time order).
  const isFrame = new Array(tasks.length).fill(false);
  let b = 0;
  for (let i = 0; i < tasks.length && b < begins.length; i++) {
    const t = tasks[i];
    while (b < begins.length && begins[b] < t.ts) b++;
    if (b < begins.length && begins[b] <= t.ts + t.dur) {
      isFrame[i] = true;
      while (b < begins.length && begins[b] <= t.ts + t.dur) b++;
    }
  }
  const work = [];
  const cpu = [];
  const render = [];
  let current = null;
  for (let i = 0; i < tasks.length; i++) {
    if (isFrame[i]) {
      if (current !== null) {
        work.push(current.wall / 1000);
        cpu.push(current.cpu / 1000);
      }
      current = { wall: 0, cpu: 0 };
      render.push(tasks[i].dur / 1000);
    }
    if (current !== null) {
      current.wall += tasks[i].dur;
      current.cpu += tasks[i].tdur ?? tasks[i].dur;
    }
  }
  // The last frame's following tasks were cut off by the end of the trace: leave it out.
  return { work, cpu, render: render.slice(0, work.length), longestTask: Math.max(0, ...tasks.map((t) => t.dur / 1000)) };
}

/** One line: p50/p95/p99/max of work, cpu and render per frame, frames over 16.7 ms of each. */
export function costSummary({ work, cpu, render, longestTask }) {
  const f = (x) => x.toFixed(1);
  const ps = (xs) => `p50 ${f(percentile(xs, 50))} / p95 ${f(percentile(xs, 95))} / p99 ${f(percentile(xs, 99))} / max ${f(Math.max(...xs))} ms`;
  const over = (xs) => `${xs.filter((w) => w > 1000 / 60).length} over 16.7 ms`;
  return `main-thread work per frame (${work.length} frames), wall: ${ps(work)}, ${over(work)}; CPU: ${ps(cpu)}, ${over(cpu)}; rendering task (wall): ${ps(render)}; longest task ${f(longestTask)} ms`;
}
