// Checks that every example extension's committed bundle (examples/extensions/*/charts/frontend/
// dist/index.js, which the Rust tests package without npm) is what its source builds to: each
// frontend's src/ is built in a temporary copy with the console's toolchain and compared.
// Run by `scripts/console.sh test`; fix a failure with `scripts/console.sh extension DIR`.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildExtension } from "./build-extension.mjs";

const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const examples = join(repo, "examples", "extensions");
let stale = 0;
for (const name of existsSync(examples) ? readdirSync(examples) : []) {
  const frontend = join(examples, name, "charts", "frontend");
  if (!existsSync(join(frontend, "src"))) continue;
  const tmp = mkdtempSync(join(tmpdir(), `ext-${name}-`));
  try {
    cpSync(join(frontend, "src"), join(tmp, "src"), { recursive: true });
    const built = readFileSync(await buildExtension(tmp), "utf8");
    const committed = existsSync(join(frontend, "dist", "index.js")) ? readFileSync(join(frontend, "dist", "index.js"), "utf8") : "";
    if (built !== committed) {
      stale++;
      console.error(`${relative(repo, frontend)}/dist/index.js is not what its source builds to: run scripts/console.sh extension ${relative(repo, frontend)}`);
    } else {
      console.log(`${relative(repo, frontend)}/dist/index.js is up to date`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
process.exit(stale ? 1 : 0);
