import { describe, expect, it } from "vitest";
import { placedOn } from "./platform";

describe("the workspace dialog's placement", () => {
  const clusters = [
    { name: "host", host: true, ready: true },
    { name: "member1", host: false, ready: true },
  ];
  it("always names the host (which holds every workspace), then the members chosen", () => {
    expect(placedOn(clusters, [])).toEqual(["host"]);
    expect(placedOn(clusters, ["member1"])).toEqual(["host", "member1"]);
    expect(placedOn(clusters, ["host", "member1"])).toEqual(["host", "member1"]);
  });
});
