// Measures the console's initial JavaScript (what index.html loads before any route chunk):
// the entry script plus its modulepreloads, gzipped. Fails above the 250 KiB budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="\/console\/([^"]+\.js)"/g)].map((m) => m[1]);
if (refs.length === 0) throw new Error("no script found in dist/index.html");
let raw = 0;
let gz = 0;
for (const r of new Set(refs)) {
  const bytes = readFileSync(join(dist, r));
  raw += bytes.length;
  gz += gzipSync(bytes, { level: 9 }).length;
}
const kib = (n) => (n / 1024).toFixed(1);
console.log(`initial JS: ${refs.length} file(s), ${kib(raw)} KiB raw, ${kib(gz)} KiB gzipped (budget 250 KiB)`);
if (gz > 250 * 1024) {
  console.error("initial JavaScript is over the 250 KiB gzipped budget");
  process.exit(1);
}
