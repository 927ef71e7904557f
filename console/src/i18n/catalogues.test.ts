import { describe, expect, it } from "vitest";
import { en } from "./en";
import { zh } from "./zh";
import { normalizeLang, translate } from "./index";

describe("catalogues", () => {
  it("English and Chinese have the same keys", () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
  });
  it("every message is translated and keeps its placeholders", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(zh[key].length, key).toBeGreaterThan(0);
      const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
      expect(ph(zh[key]), key).toEqual(ph(en[key]));
    }
  });
  it("fills placeholders and maps user languages", () => {
    expect(translate("en", "list.total", { count: 3 })).toBe("3 items");
    expect(translate("zh-CN", "list.total", { count: 3 })).toBe("共 3 项");
    expect(normalizeLang("zh")).toBe("zh-CN");
    expect(normalizeLang("en-US")).toBe("en");
    expect(normalizeLang(undefined)).toBe("en");
  });
});
