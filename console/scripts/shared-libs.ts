// The libraries the console shares with UI extensions (docs/extensions.md "UI extensions"):
// each is an entry chunk of the console's own build at a stable URL (`/console/shared/…`), so it
// re-exports the very modules the console runs (one React in the page), and index.html gets an
// import map from the bare specifiers to those URLs (the platform allows it by its hash).

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";

/** Bare specifier → file under the console's base; CommonJS packages need their names listed. */
export const SHARED: { spec: string; file: string; cjs: boolean }[] = [
  { spec: "react", file: "shared/react.js", cjs: true },
  { spec: "react/jsx-runtime", file: "shared/react-jsx-runtime.js", cjs: true },
  { spec: "react-dom", file: "shared/react-dom.js", cjs: true },
  { spec: "react-router-dom", file: "shared/react-router-dom.js", cjs: false },
  { spec: "@orrery/console", file: "shared/orrery-console.js", cjs: false },
];

/** The SDK's source (asked for when building, so that importing the list needs no file URL). */
const sdkEntry = () => fileURLToPath(new URL("../src/sdk/index.tsx", import.meta.url));
const PREFIX = "orrery-shared:";
const IDENT = /^[A-Za-z_$][\w$]*$/;

/** The import map's JSON for a console served under `base` (e.g. "/console/"). */
export function importMap(base: string): string {
  const imports: Record<string, string> = {};
  for (const s of SHARED) imports[s.spec] = `${base}${s.file}`;
  return JSON.stringify({ imports });
}

/** The module that re-exports `spec` by name (a CommonJS module's names read from it in node). */
export function facade(spec: string, cjs: boolean): string {
  if (!cjs) return `export * from ${JSON.stringify(spec)};\n`;
  const require = createRequire(import.meta.url);
  const names = Object.keys(require(spec) as object).filter((k) => IDENT.test(k) && k !== "default" && k !== "__esModule");
  const lines = [`import m from ${JSON.stringify(spec)};`, "export default m;"];
  for (const n of names.sort()) lines.push(`export const ${n} = m.${n};`);
  return `${lines.join("\n")}\n`;
}

/** The Vite plugin: shared entry chunks at fixed names and the import map in index.html. */
export function sharedLibraries(base: string): Plugin {
  return {
    name: "orrery-shared-libraries",
    apply: "build",
    buildStart() {
      for (const s of SHARED) {
        this.emitFile({ type: "chunk", id: s.spec === "@orrery/console" ? sdkEntry() : `${PREFIX}${s.spec}`, fileName: s.file, preserveSignature: "strict" });
      }
    },
    resolveId(id) {
      return id.startsWith(PREFIX) ? `\0${id}` : null;
    },
    load(id) {
      if (!id.startsWith(`\0${PREFIX}`)) return null;
      const spec = id.slice(PREFIX.length + 1);
      const s = SHARED.find((x) => x.spec === spec);
      return s ? facade(s.spec, s.cjs) : null;
    },
    transformIndexHtml() {
      return [{ tag: "script", attrs: { type: "importmap" }, children: importMap(base), injectTo: "head-prepend" }];
    },
  };
}
