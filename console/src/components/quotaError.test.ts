import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { describeError } from "./ui";
import { translate } from "../i18n";

describe("a quota's refusal", () => {
  const t = (k: Parameters<typeof translate>[1]) => translate("en", k);
  it("is said as a quota, not as a missing permission; kube's words stay the detail", () => {
    const msg = 'deployments.apps "two" is forbidden: exceeded quota: shop, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1';
    const d = describeError(t, new ApiError(403, msg, "Forbidden"));
    expect(d.summary).toBe("Refused: this would go over a quota.");
    expect(d.detail).toBe(msg);
    expect(describeError(t, new ApiError(403, 'users "x" is forbidden', "Forbidden")).summary).toBe(t("error.forbidden"));
  });
});
