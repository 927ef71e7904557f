import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { lastSeen } from "./columns";

/** Every `.tsx` file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".tsx") ? [p] : [];
  });
}

describe("form patterns", () => {
  // Browsers compile an input's `pattern` with the `v` flag; an invalid one makes the check
  // silently never run (a `-` at the start of a class must be escaped there).
  it("every pattern attribute is a valid v-mode regular expression", () => {
    const found: string[] = [];
    for (const file of sources(join(__dirname, ".."))) {
      for (const m of readFileSync(file, "utf8").matchAll(/pattern="([^"]+)"/g)) {
        found.push(m[1]);
        expect(() => new RegExp(`^(?:${m[1]})$`, "v"), `${file}: ${m[1]}`).not.toThrow();
      }
    }
    expect(found.length).toBeGreaterThan(5);
    const dns = new RegExp("^(?:[a-z0-9]([\\-a-z0-9]*[a-z0-9])?)$", "v");
    expect(dns.test("my-app")).toBe(true);
    expect(dns.test("My_App")).toBe(false);
    expect(dns.test("-x")).toBe(false);
  });
  it("events are dated by when they last happened", () => {
    const e = (extra: object) => ({ metadata: { name: "e", creationTimestamp: "2026-01-01T00:00:00Z" }, ...extra });
    expect(lastSeen(e({ lastTimestamp: "2026-02-01T00:00:00Z", eventTime: "2026-03-01T00:00:00Z" }))).toBe("2026-02-01T00:00:00Z");
    expect(lastSeen(e({ eventTime: "2026-03-01T00:00:00.000000Z" }))).toBe("2026-03-01T00:00:00.000000Z");
    expect(lastSeen(e({}))).toBe("2026-01-01T00:00:00Z");
  });
});
