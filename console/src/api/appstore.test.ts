import { describe, expect, it } from "vitest";
import { decodeFiles, decodeText, encodeText, newestFirst, releasesPath, reviewActions, schemaFields, valuesField, versionPath } from "./appstore";
import { setHostCluster } from "./paths";

describe("App Store helpers", () => {
  it("values are base64 of UTF-8 text, both ways", () => {
    const text = "name: 名字\nreplicas: 2\nemoji: \"✓\"\n";
    expect(decodeText(encodeText(text))).toBe(text);
    expect(encodeText("replicas: 2\n")).toBe(Buffer.from("replicas: 2\n").toString("base64"));
    expect(valuesField("  \n")).toBeUndefined();
    expect(valuesField("a: 1")).toBe(Buffer.from("a: 1").toString("base64"));
    expect(decodeText(undefined)).toBe("");
    const big = "x: ".concat("y".repeat(100_000));
    expect(decodeText(encodeText(big))).toBe(big);
  });

  it("files decode by name and a broken one is left out", () => {
    const files = decodeFiles({ "README.md": Buffer.from("# Hi").toString("base64"), "values.yaml": "%%%" });
    expect(files["README.md"]).toBe("# Hi");
    expect("values.yaml" in files).toBe(false);
  });

  it("schema properties flatten to dotted paths with type, default, enum and required", () => {
    const schema = JSON.stringify({
      type: "object",
      required: ["image"],
      properties: {
        replicaCount: { type: "integer", default: 1, description: "How many" },
        image: { type: "object", properties: { tag: { type: ["string", "null"] }, pullPolicy: { enum: ["Always", "IfNotPresent"] } } },
      },
    });
    const f = schemaFields(schema);
    expect(f.map((x) => x.path)).toEqual(["image", "image.pullPolicy", "image.tag", "replicaCount"]);
    expect(f.find((x) => x.path === "image")).toMatchObject({ type: "object", required: true });
    expect(f.find((x) => x.path === "image.tag")?.type).toBe("string | null");
    expect(f.find((x) => x.path === "image.pullPolicy")?.enum).toEqual(['"Always"', '"IfNotPresent"']);
    expect(f.find((x) => x.path === "replicaCount")).toMatchObject({ default: "1", description: "How many", required: false });
    expect(schemaFields("not json")).toEqual([]);
    expect(schemaFields(JSON.stringify({ properties: { a: { properties: { b: { properties: { c: { properties: { d: { properties: { e: {} } } } } } } } } } }), 3).map((x) => x.path)).toEqual(["a", "a.b", "a.b.c"]);
  });

  it("review actions follow SPEC §3's path", () => {
    expect(reviewActions("submitted")).toEqual(["passed", "rejected"]);
    expect(reviewActions("passed")).toEqual(["active"]);
    expect(reviewActions("active")).toEqual(["suspended"]);
    expect(reviewActions("suspended")).toEqual(["active"]);
    expect(reviewActions("draft")).toEqual([]);
    expect(reviewActions("rejected")).toEqual([]);
  });

  it("versions sort newest first and paths are encoded per cluster", () => {
    const v = (name: string, created: string) => ({ metadata: { name }, spec: { created } });
    expect(newestFirst([v("a-1", "2026-01-01T00:00:00Z"), v("a-3", "2026-03-01T00:00:00Z"), v("a-2", "2026-02-01T00:00:00Z")]).map((x) => x.metadata.name)).toEqual(["a-3", "a-2", "a-1"]);
    setHostCluster("host");
    expect(releasesPath("host", "shop", "web")).toBe("/kapis/application.kubesphere.io/v2/namespaces/shop/applications/web");
    expect(releasesPath("m1", "shop")).toBe("/clusters/m1/kapis/application.kubesphere.io/v2/namespaces/shop/applications");
    expect(versionPath("grafana", "grafana-1.0.0", "files", "ws")).toBe("/kapis/application.kubesphere.io/v2/workspaces/ws/apps/grafana/versions/grafana-1.0.0/files");
  });
});
