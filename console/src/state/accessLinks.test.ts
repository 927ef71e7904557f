import { describe, expect, it } from "vitest";
import { accessLevel } from "./accessLinks";

describe("members and roles links by place", () => {
  it("names each level's pages and the resources that gate them", () => {
    expect(accessLevel({ cluster: "m1", ns: "p" })).toEqual({ level: { scope: "namespace", cluster: "m1", ns: "p" }, base: "/clusters/m1/projects/p", members: "namespacemembers", roles: "roles" });
    expect(accessLevel({ cluster: "m1" })).toMatchObject({ base: "/clusters/m1", members: "clustermembers", roles: "clusterroles" });
    expect(accessLevel({ ws: "w" })).toMatchObject({ base: "/workspaces/w", members: "workspacemembers", roles: "workspaceroles" });
    expect(accessLevel({})).toBeNull();
  });
});
