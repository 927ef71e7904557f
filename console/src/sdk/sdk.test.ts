import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as sdk from "./index";
import { SDK_VERSION } from "../extensions/registry";
import { SHARED } from "../../scripts/shared-libs";

// Vitest runs in console/ (jsdom's import.meta.url is no file URL).
const CONSOLE = process.cwd();

// The declarations authors compile against must say exactly what the console exports.
describe("@orrery/console", () => {
  it("exports what console/sdk/orrery-console.d.ts declares, and nothing else", () => {
    const dts = readFileSync(resolve(CONSOLE, "sdk/orrery-console.d.ts"), "utf8");
    const declared = [...dts.matchAll(/^\s*export (?:declare )?(?:function|const|class) (\w+)/gm)].map((m) => m[1]);
    expect([...new Set(declared)].sort()).toEqual(Object.keys(sdk).sort());
    expect(sdk.sdkVersion).toBe(SDK_VERSION);
  });

  it("is the copy the example extension carries (made by `orrery extension create`)", () => {
    const dts = readFileSync(resolve(CONSOLE, "sdk/orrery-console.d.ts"), "utf8");
    const example = resolve(CONSOLE, "../examples/extensions/hello/charts/frontend/types/orrery-console.d.ts");
    expect(readFileSync(example, "utf8")).toBe(dts);
  });

  it("is what extension builds leave external: the import map's specifiers", () => {
    const build = readFileSync(resolve(CONSOLE, "scripts/build-extension.mjs"), "utf8");
    const external = JSON.parse(/export const EXTERNAL = (\[[^\]]*\]);/.exec(build)?.[1] ?? "[]") as string[];
    expect(external.sort()).toEqual(SHARED.map((s) => s.spec).sort());
  });
});
