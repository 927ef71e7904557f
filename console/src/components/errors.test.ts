import { beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { describeError } from "./ui";
import { loadCatalogue, translate } from "../i18n";

describe("errors in the user's words", () => {
  const t = (k: Parameters<typeof translate>[1]) => translate("zh-CN", k);
  // Catalogues other than English are loaded on demand.
  beforeAll(() => loadCatalogue("zh-CN"));
  it("a Kubernetes Status becomes a translated summary, its causes, and the raw detail", () => {
    const invalid = new ApiError(422, 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1', "Invalid", {
      kind: "Status",
      details: { causes: [{ field: "spec.replicas", message: "Invalid value: -1: must be greater than or equal to 0" }] },
    });
    const d = describeError(t, invalid);
    expect(d.summary).toBe("服务器认为其无效：");
    expect(d.causes).toEqual(["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]);
    expect(d.detail).toContain('Deployment.apps "web" is invalid');
    expect(describeError(t, new ApiError(409, "x", "AlreadyExists")).summary).toBe("已存在同名对象。");
    expect(describeError(t, new ApiError(409, "x", "Conflict")).summary).toBe(translate("zh-CN", "error.conflict"));
    expect(describeError(t, new ApiError(403, "no")).summary).toBe(translate("zh-CN", "error.forbidden"));
    expect(describeError(t, new ApiError(503, "down")).summary).toBe(translate("zh-CN", "error.unavailable"));
  });
  it("the console's own errors stay as written", () => {
    expect(describeError(t, new Error("already translated"))).toEqual({ summary: "already translated", causes: [], detail: "" });
  });
});
