// Frame times in the page while something scrolls: requestAnimationFrame deltas (the time from
// one frame to the next, as the page's main thread sees it) and long tasks (> 50 ms, from
// PerformanceObserver). Used by e2e/lists.test.mjs (printed, never asserted: figures are not
// test outcomes) and by bench/scroll.mjs (the benchmark written to BENCHMARKS.md).

/** Starts recording in the page. */
export function startFrames(page) {
  return page.evaluate(() => {
    const rec = { deltas: [], longTasks: [], running: true };
    window.__frames = rec;
    let last = performance.now();
    const tick = (now) => {
      if (!rec.running) return;
      rec.deltas.push(now - last);
      last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame((now) => {
      last = now;
      requestAnimationFrame(tick);
    });
    try {
      rec.observer = new PerformanceObserver((l) => rec.longTasks.push(...l.getEntries().map((e) => e.duration)));
      rec.observer.observe({ type: "longtask" });
    } catch {
      // No long-task timing in this browser: only frames are reported.
    }
  });
}

/** Stops recording; what was recorded. */
export function stopFrames(page) {
  return page.evaluate(() => {
    const rec = window.__frames;
    rec.running = false;
    rec.observer?.disconnect();
    return { deltas: rec.deltas, longTasks: rec.longTasks };
  });
}

/** Waits for the page's next frame. */
export function nextFrame(page) {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
}

/** Scrolls the element `selector` with the mouse wheel, `steps` times by `dy` pixels, one step a
 * frame; `each()` runs after every step (a check of the DOM). */
export async function wheelThrough(page, selector, steps, dy, each = async () => undefined) {
  const box = await page.locator(selector).first().boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height / 2, 200));
  for (let i = 0; i < steps; i++) {
    await page.mouse.wheel(0, dy);
    await nextFrame(page);
    await each(i);
  }
}

/** The p-th percentile (0–100) of `xs`. */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** One line: frames, p50, p95, p99, max, frames over one 60 Hz frame budget, long tasks. */
export function frameSummary({ deltas, longTasks }) {
  const f = (x) => x.toFixed(1);
  const over = deltas.filter((d) => d > 1000 / 60 + 1).length;
  return `${deltas.length} frames, p50 ${f(percentile(deltas, 50))} ms, p95 ${f(percentile(deltas, 95))} ms, p99 ${f(percentile(deltas, 99))} ms, max ${f(Math.max(...deltas))} ms, ${over} over 17.7 ms, ${longTasks.length} long tasks${longTasks.length ? ` (max ${f(Math.max(...longTasks))} ms)` : ""}`;
}
