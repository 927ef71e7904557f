// Builds a UI extension's frontend with the console's own toolchain (docs/extensions.md "UI
// extensions"): DIR/src/index.{tsx,ts,jsx,js} → DIR/dist/index.js, one ES module in Vite's
// library mode with the libraries the console shares (its import map) left external.
// Usage: scripts/console.sh extension DIR   (or: node console/scripts/build-extension.mjs DIR)
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";
import react from "@vitejs/plugin-react";

/** The bare specifiers the console's import map provides (console/scripts/shared-libs.ts). */
export const EXTERNAL = ["react", "react/jsx-runtime", "react-dom", "react-router-dom", "@orrery/console"];

/** Builds the extension frontend in `dir`; resolves with the path of the bundle. */
export async function buildExtension(dir) {
  const root = resolve(dir);
  const entry = ["index.tsx", "index.ts", "index.jsx", "index.js"].map((f) => join(root, "src", f)).find((f) => existsSync(f));
  if (!entry) throw new Error(`${root}/src has no index.tsx, index.ts, index.jsx or index.js`);
  const outDir = join(root, "dist");
  await build({
    configFile: false,
    root,
    logLevel: "warn",
    // The automatic JSX runtime: components compile to imports of react/jsx-runtime.
    plugins: [react()],
    build: {
      lib: { entry, formats: ["es"], fileName: () => "index.js" },
      outDir,
      emptyOutDir: true,
      target: "es2020",
      minify: true,
      sourcemap: false,
      copyPublicDir: false,
      // One file, minified whatever Vite does for ES libraries (no paths of the build machine in it).
      rollupOptions: { external: EXTERNAL, output: { codeSplitting: false, minify: true } },
    },
  });
  return join(outDir, "index.js");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: build-extension.mjs DIR (the extension's frontend: DIR/src/index.tsx…)");
    process.exit(2);
  }
  buildExtension(dir).then(
    (out) => console.log(`built ${out}`),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
