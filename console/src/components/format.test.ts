import { describe, expect, it } from "vitest";
import { formatBytes, formatCpu, formatMemory, parseQuantity, relativeTime } from "./format";

describe("quantities for people", () => {
  it("parses Kubernetes quantities", () => {
    expect(parseQuantity("16777216Ki")).toBe(16 * 1024 ** 3);
    expect(parseQuantity("500m")).toBe(0.5);
    expect(parseQuantity("1.5Gi")).toBe(1.5 * 1024 ** 3);
    expect(parseQuantity("2k")).toBe(2000);
    expect(parseQuantity("1e3")).toBe(1000);
    expect(parseQuantity("110")).toBe(110);
    expect(parseQuantity("12Xi")).toBeNaN();
    expect(parseQuantity(undefined)).toBeNaN();
  });
  it("shows memory in binary units, never as 16777216Ki", () => {
    expect(formatMemory("16777216Ki", "en")).toBe("16 GiB");
    expect(formatMemory("1536Mi", "en")).toBe("1.5 GiB");
    expect(formatMemory("128Mi", "en")).toBe("128 MiB");
    expect(formatMemory("1000", "en")).toBe("1,000 B");
    expect(formatMemory("lots", "en")).toBe("lots");
    expect(formatMemory(undefined, "en")).toBe("—");
    expect(formatBytes(1024 ** 4 * 2048, "de")).toBe("2 PiB");
    // Decimal separators follow the locale.
    expect(formatMemory("1536Mi", "de")).toBe("1,5 GiB");
  });
  it("shows CPU in cores", () => {
    expect(formatCpu("500m", "en")).toBe("0.5");
    expect(formatCpu("4", "en")).toBe("4");
    expect(formatCpu("2500m", "en")).toBe("2.5");
  });
});

describe("relative times", () => {
  const now = Date.parse("2026-01-10T12:00:00Z");
  it("says how long ago, in the user's language", () => {
    expect(relativeTime("2026-01-10T11:57:00Z", "en", now)).toBe("3 minutes ago");
    expect(relativeTime("2026-01-10T11:57:00Z", "zh-CN", now)).toBe("3分钟前");
    expect(relativeTime("2026-01-10T11:59:30Z", "en", now)).toBe("30 seconds ago");
    expect(relativeTime("2026-01-10T09:00:00Z", "en", now)).toBe("3 hours ago");
    expect(relativeTime("2026-01-08T12:00:00Z", "en", now)).toBe("2 days ago");
    expect(relativeTime("2026-01-10T12:00:00Z", "en", now)).toBe("now");
    expect(relativeTime("2024-01-10T12:00:00Z", "en", now)).toBe("2 years ago");
    expect(relativeTime(undefined, "en", now)).toBe("—");
    expect(relativeTime("not a time", "en", now)).toBe("—");
  });
});
