import { describe, expect, it } from "vitest";
import { metadataOnly, pageCount, pagedPath, pageQuery, patchPage } from "./paged";
import { resources, setHostCluster } from "./paths";
import { withQuery as withQueryFor } from "./client";
import type { K8sObject } from "./watch";

const cm = (name: string, rv: string, data = {}): K8sObject => ({ metadata: { name, namespace: "p", resourceVersion: rv }, data });

describe("server-paged lists", () => {
  it("ask KubeSphere's resources API, on the host or through a member's prefix", () => {
    setHostCluster("host");
    expect(pagedPath("host", resources.configmaps, "p")).toBe("/kapis/resources.kubesphere.io/v1alpha3/namespaces/p/configmaps");
    expect(pagedPath("m1", resources.configmaps, "p")).toBe("/clusters/m1/kapis/resources.kubesphere.io/v1alpha3/namespaces/p/configmaps");
    expect(pagedPath("host", resources.configmaps)).toBe("/kapis/resources.kubesphere.io/v1alpha3/configmaps");
    // A cluster-scoped kind ignores the namespace.
    expect(pagedPath("host", resources.nodes, "p")).toBe("/kapis/resources.kubesphere.io/v1alpha3/nodes");
  });
  it("send the search, order and page the server reads", () => {
    const q = pageQuery({ name: "cm-0421", sortBy: "name", ascending: false, page: 3, limit: 50 });
    expect(withQueryFor("/x", q)).toBe("/x?name=cm-0421&sortBy=name&ascending=false&page=3&limit=50");
    expect(withQueryFor("/x", pageQuery({ name: "", labelSelector: "app=web", fieldSelector: "status.phase=Running", sortBy: "createTime", ascending: true, page: 1, limit: 50 }))).toBe(
      "/x?labelSelector=app%3Dweb&fieldSelector=status.phase%3DRunning&sortBy=createTime&ascending=true&page=1&limit=50",
    );
  });
  it("count pages", () => {
    expect(pageCount(0, 50)).toBe(1);
    expect(pageCount(50, 50)).toBe(1);
    expect(pageCount(10_000, 50)).toBe(200);
    expect(pageCount(10_001, 50)).toBe(201);
  });
  it("Secrets are listed through the platform's values-free lists, in a namespace or across all", () => {
    expect(metadataOnly(resources.secrets)).toBe(true);
    expect(metadataOnly(resources.configmaps)).toBe(false);
    expect(pagedPath("host", resources.secrets)).toBe("/kapis/resources.kubesphere.io/v1alpha3/secrets");
    expect(pagedPath("m1", resources.secrets, "p")).toBe("/clusters/m1/kapis/resources.kubesphere.io/v1alpha3/namespaces/p/secrets");
  });
  it("a changed row is replaced in place, never by an older revision; others wait for the page", () => {
    const page = [cm("a", "10"), cm("b", "11")];
    const newer = patchPage(page, { type: "MODIFIED", object: cm("b", "12", { k: "v" }) });
    expect(newer[1].data).toEqual({ k: "v" });
    expect(patchPage(newer, { type: "MODIFIED", object: cm("b", "11") })).toBe(newer);
    expect(patchPage(page, { type: "MODIFIED", object: cm("z", "13") })).toBe(page);
    expect(patchPage(page, { type: "ADDED", object: cm("c", "13") })).toBe(page);
    expect(patchPage(page, { type: "DELETED", object: cm("a", "14") })).toBe(page);
  });
});
