import { describe, expect, it } from "vitest";
import { Client } from "../api/client";
import { login, LoginError, loadSession } from "./session";
import { arrangeClusters, loadClusters, HOST_LABEL } from "./clusters";

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });

function client(routes: Record<string, Response | (() => Response)>) {
  const f = async (url: RequestInfo | URL) => {
    const r = routes[String(url)];
    if (!r) return json(404, { message: `no route ${url}` });
    return typeof r === "function" ? r() : r.clone();
  };
  return new Client(f as typeof fetch, () => "x");
}

describe("session", () => {
  const user = { metadata: { name: "admin", annotations: { "iam.kubesphere.io/globalrole": "platform-admin" } }, spec: { lang: "zh" }, status: { passwordChangeRequired: true } };

  it("loads the user behind the cookie", async () => {
    const c = client({ "/console/session": json(200, { username: "admin" }), "/kapis/iam.kubesphere.io/v1beta1/users/admin": json(200, user) });
    expect(await loadSession(c)).toEqual({ name: "admin", lang: "zh", globalRole: "platform-admin", mustChangePassword: true });
  });

  it("has no session on 401", async () => {
    const c = client({ "/console/session": () => json(401, {}), "/console/session/refresh": () => json(401, {}) });
    expect(await loadSession(c)).toBeNull();
  });

  it("tells a locked account from a wrong password", async () => {
    const locked = client({ "/console/session": json(429, { error: "invalid_grant", error_description: "too many", locked: true }) });
    await expect(login("a", "b", locked)).rejects.toMatchObject({ failure: "locked" });
    const wrong = client({ "/console/session": json(401, { error: "invalid_grant", error_description: "incorrect" }) });
    const e = await login("a", "b", wrong).catch((x) => x);
    expect(e).toBeInstanceOf(LoginError);
    expect(e.failure).toBe("invalid");
  });
});

describe("clusters", () => {
  it("puts the host first and degrades to the host alone", async () => {
    const objs = [
      { metadata: { name: "zeta" }, status: { conditions: [{ type: "Ready", status: "False" }] } },
      { metadata: { name: "main", labels: { [HOST_LABEL]: "" } }, status: { kubernetesVersion: "v1.33.1", conditions: [{ type: "Ready", status: "True" }] } },
    ];
    const list = arrangeClusters(objs);
    expect(list.map((c) => [c.name, c.host, c.ready])).toEqual([
      ["main", true, true],
      ["zeta", false, false],
    ]);
    expect(arrangeClusters([]).map((c) => c.name)).toEqual(["host"]);
    expect((await loadClusters(client({}))).map((c) => c.name)).toEqual(["host"]);
    const viaCrd = client({ "/apis/cluster.kubesphere.io/v1alpha1/clusters": json(200, { items: [{ metadata: { name: "member1" } }] }) });
    expect((await loadClusters(viaCrd)).map((c) => c.name)).toEqual(["host", "member1"]);
  });
});

describe("yaml skeleton", async () => {
  const { skeleton } = await import("../components/YamlCreate");
  const { resources } = await import("../api/paths");
  it("names the kind, version and namespace", () => {
    expect(skeleton(resources.configmaps, "p1")).toBe('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ""\n  namespace: p1\n');
    expect(skeleton(resources.deployments, "p1")).toContain("apiVersion: apps/v1\nkind: Deployment");
    expect(skeleton(resources.nodes, "p1")).not.toContain("namespace");
  });
});
