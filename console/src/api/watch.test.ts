import { describe, expect, it } from "vitest";
import { applyEvent, LineSplitter, type K8sObject } from "./watch";
import { clusterPath, crdType, resourcePath, resources, setHostCluster } from "./paths";

const obj = (name: string, rv: string, ns = "d"): K8sObject => ({ metadata: { name, namespace: ns, resourceVersion: rv } });

describe("watch", () => {
  it("splits a stream into whole lines across chunks", () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n\n')).toEqual(['{"b":2}']);
    expect(s.push("")).toEqual([]);
  });

  it("applies added, modified and deleted events in order, sorted by name", () => {
    let items: K8sObject[] = [];
    items = applyEvent(items, { type: "ADDED", object: obj("b", "1") });
    items = applyEvent(items, { type: "ADDED", object: obj("a", "2") });
    expect(items.map((o) => o.metadata.name)).toEqual(["a", "b"]);
    items = applyEvent(items, { type: "MODIFIED", object: { ...obj("b", "3"), status: { phase: "Running" } } });
    expect(items[1].status.phase).toBe("Running");
    // A stale event does not overwrite a newer revision.
    items = applyEvent(items, { type: "MODIFIED", object: obj("b", "2") });
    expect(items[1].metadata.resourceVersion).toBe("3");
    const before = items;
    expect(applyEvent(items, { type: "BOOKMARK", object: obj("", "9") })).toBe(before);
    items = applyEvent(items, { type: "DELETED", object: obj("a", "4") });
    expect(items.map((o) => o.metadata.name)).toEqual(["b"]);
    expect(applyEvent(items, { type: "DELETED", object: obj("zz", "5") })).toBe(items);
  });

  it("keys objects by namespace too", () => {
    let items = applyEvent([], { type: "ADDED", object: obj("a", "1", "x") });
    items = applyEvent(items, { type: "ADDED", object: obj("a", "2", "y") });
    expect(items).toHaveLength(2);
  });
});

describe("paths", () => {
  it("reaches the host natively and members through /clusters", () => {
    setHostCluster("host");
    expect(resourcePath("host", resources.deployments, "ns1", "web")).toBe("/apis/apps/v1/namespaces/ns1/deployments/web");
    expect(resourcePath("edge", resources.pods, "ns1")).toBe("/clusters/edge/api/v1/namespaces/ns1/pods");
    expect(resourcePath(undefined, resources.nodes)).toBe("/api/v1/nodes");
    expect(clusterPath("edge", "/version")).toBe("/clusters/edge/version");
  });

  it("addresses a CRD's storage version", () => {
    const rt = crdType({ spec: { group: "ex.io", names: { plural: "widgets", kind: "Widget" }, scope: "Namespaced", versions: [{ name: "v1beta1" }, { name: "v1", storage: true }] } });
    expect(resourcePath("host", rt, "a")).toBe("/apis/ex.io/v1/namespaces/a/widgets");
  });
});
