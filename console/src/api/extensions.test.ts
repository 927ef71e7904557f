import { describe, expect, it } from "vitest";
import type { K8sObject } from "./watch";
import { compareVersions, failureReason, installPlan, localized, matchesSearch, newestVersions, providerOf, stateClass, yamlProblem } from "./extensions";

describe("marketplace helpers", () => {
  it("order semantic versions, pre-releases before their release", () => {
    expect(compareVersions("1.10.0", "1.9.3")).toBe(1);
    expect(compareVersions("v1.2.0", "1.2.0")).toBe(0);
    expect(compareVersions("1.2.0-rc.1", "1.2.0")).toBe(-1);
    expect(compareVersions("1.2.0-rc.2", "1.2.0-rc.10")).toBe(-1);
    const v = (version: string): K8sObject => ({ metadata: { name: `x-${version}` }, spec: { version } });
    expect(newestVersions([v("0.1.0"), v("1.0.0"), v("0.10.0"), v("1.0.0-beta")]).map((x) => x.spec.version)).toEqual(["1.0.0", "1.0.0-beta", "0.10.0", "0.1.0"]);
  });

  it("read locale maps and providers, and search every language and keyword", () => {
    const ext: K8sObject = {
      metadata: { name: "hello" },
      spec: { displayName: { en: "Hello World", zh: "你好世界" }, description: "Greets", keywords: ["demo"], provider: { en: { name: "Orrery" }, zh: { name: "奥瑞" } } },
    };
    expect(localized(ext.spec.displayName, "zh-CN")).toBe("你好世界");
    expect(localized(undefined, "en", "fallback")).toBe("fallback");
    expect(providerOf(ext, "zh-CN")?.name).toBe("奥瑞");
    expect(providerOf(ext, "en")?.name).toBe("Orrery");
    for (const q of ["", "hello", "WORLD", "世界", "greets", "demo"]) expect(matchesSearch(ext, q), q).toBe(true);
    expect(matchesSearch(ext, "nothing")).toBe(false);
  });

  it("say why an install failed, from its newest condition", () => {
    expect(failureReason({ state: "Installed", conditions: [{ status: "False", message: "old" }] })).toBe("");
    expect(
      failureReason({
        state: "InstallFailed",
        conditions: [
          { type: "Installed", status: "False", reason: "Old", message: "earlier", lastTransitionTime: "2026-01-01T00:00:00Z" },
          { type: "Installed", status: "False", reason: "RenderFailed", message: "template: x", lastTransitionTime: "2026-01-02T00:00:00Z" },
        ],
      }),
    ).toBe("RenderFailed: template: x");
    expect(stateClass("UpgradeFailed")).toBe("bad");
    expect(stateClass("Installed")).toBe("ok");
    expect(stateClass("Installing")).toBe("warn");
  });

  it("check values YAML", () => {
    expect(yamlProblem("")).toBe("");
    expect(yamlProblem("a: 1\nb: {c: 2}")).toBe("");
    expect(yamlProblem("- 1")).not.toBe("");
    expect(yamlProblem("a: [")).not.toBe("");
  });

  it("make the InstallPlan KubeSphere expects", () => {
    expect(installPlan({ extension: "hello", version: "1.0.0", config: "", multicluster: false, clusters: ["m"], overrides: {} })).toEqual({
      apiVersion: "kubesphere.io/v1alpha1",
      kind: "InstallPlan",
      metadata: { name: "hello" },
      spec: { extension: { name: "hello", version: "1.0.0" }, enabled: true, upgradeStrategy: "Manual" },
    });
    const mc = installPlan({ extension: "hello", version: "1.1.0", config: "a: 1\n", multicluster: true, clusters: ["host", "m1"], overrides: { m1: "b: 2", host: " ", gone: "c: 3" } });
    expect(mc.spec).toEqual({
      extension: { name: "hello", version: "1.1.0" },
      enabled: true,
      upgradeStrategy: "Manual",
      config: "a: 1\n",
      clusterScheduling: { placement: { clusters: ["host", "m1"] }, overrides: { m1: "b: 2" } },
    });
  });
});
