// Benchmark: the 10,000-row table's two scrolls from bench/scroll.mjs (300 wheel steps of 120 px,
// then a flick of 120 steps of 1,200 px) against several console builds in one run, interleaved
// (A, B, A, B…) so that the load of a shared machine falls on each build alike. One `orrery
// serve` with 10,000 Secrets; each build is a console dist directory (`npx vite build --outDir
// DIR` in a checkout of the commit to compare); the browser gets that build's page and assets by
// request routing, the API from the server.
// Run (from the repository): cargo build -p orrery &&
//   ROUNDS=3 node console/bench/compare.mjs /tmp/dist-before /tmp/dist-after
// SORTED=1: the table sorted in the browser by name, descending, before the scrolls.
import { existsSync, readFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { percentile } from "../e2e/frames.mjs";
import { loadedAll, login, setUp } from "./scroll.mjs";
import { costSummary } from "./trace.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SORTED = !!process.env.SORTED;
const TYPES = { ".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml" };

/** Serves the console's page and its assets from `dir` to `context`. */
function serveBuild(dir) {
  return (context) =>
    context.route(/\/console\//, (route) => {
      const request = route.request();
      const asset = /^\/console\/((?:assets|shared)\/[^?]*)$/.exec(new URL(request.url()).pathname);
      if (asset && existsSync(join(dir, asset[1]))) {
        const file = join(dir, asset[1]);
        return route.fulfill({ body: readFileSync(file), contentType: TYPES[extname(file)] ?? "application/octet-stream" });
      }
      if (request.resourceType() === "document") return route.fulfill({ body: readFileSync(join(dir, "index.html")), contentType: "text/html" });
      return route.continue();
    });
}

const builds = process.argv.slice(2);
if (builds.length === 0 || builds.some((d) => !existsSync(join(d, "index.html")))) {
  console.error("usage: node console/bench/compare.mjs DIST_DIR...  (each a built console with index.html)");
  process.exit(2);
}
const env = await setUp();
const p95 = {};
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const dir of builds) {
      const { context, page } = await login(env.browser, env.url, serveBuild(dir));
      for (const [name, r] of Object.entries(await loadedAll(page, env.url, { sorted: SORTED }))) {
        console.log(`${basename(dir)} | round ${round} | ${name}${SORTED ? ", sorted by name" : ""} | ${costSummary(r.costs)} | ≤ ${r.most} rows in the DOM, ${r.gaps} steps with rows in view not rendered`);
        (p95[`${basename(dir)} | ${name}`] ??= []).push(percentile(r.costs.cpu, 95));
      }
      await context.close();
    }
  }
} finally {
  await env.stop();
}
for (const [k, xs] of Object.entries(p95)) console.log(`${k} | CPU work per frame p95, each round: ${xs.map((x) => x.toFixed(1)).join(" / ")} ms`);
