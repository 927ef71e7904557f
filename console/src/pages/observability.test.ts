import { describe, expect, it } from "vitest";
import { align, highlight } from "../components/series";

describe("observability helpers", () => {
  it("highlights every case-insensitive match and keeps the rest", () => {
    expect(highlight("web-1/app GET /Health ok health", "health")).toEqual([
      { text: "web-1/app GET /", hit: false },
      { text: "Health", hit: true },
      { text: " ok ", hit: false },
      { text: "health", hit: true },
    ]);
    expect(highlight("abc", "")).toEqual([{ text: "abc", hit: false }]);
    expect(highlight("abc", "x")).toEqual([{ text: "abc", hit: false }]);
  });
  it("aligns series on one time axis with gaps", () => {
    expect(
      align([
        { label: "a", points: [[10, 1], [20, 2]] },
        { label: "b", points: [[20, 5], [30, 6]] },
      ]),
    ).toEqual([[10, 20, 30], [1, 2, null], [null, 5, 6]]);
  });
});
