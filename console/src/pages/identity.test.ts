import { describe, expect, it } from "vitest";
import { load } from "js-yaml";
import { configOf, secretOf, TEMPLATES } from "./identity";
import { decodeText } from "../api/appstore";

describe("identity provider Secrets", () => {
  it("a configuration goes into KubeSphere's Secret shape and back", () => {
    const c = { name: "corp", type: "LDAPIdentityProvider", mappingMethod: "lookup", displayName: "Corp 目录", provider: { host: "ldap:389", managerPassword: "p: w" } };
    const s = secretOf(c);
    expect(s.metadata.name).toBe("idp-corp");
    expect(s.type).toBe("config.kubesphere.io/identityprovider");
    expect(s.metadata.labels).toEqual({ "config.kubesphere.io/type": "identityprovider" });
    expect(load(decodeText((s.data as Record<string, string>)["configuration.yaml"]))).toEqual(c);
    expect(configOf(s)).toEqual(c);
  });
  it("an unreadable one is reported, not thrown", () => {
    expect(configOf({ metadata: { name: "x" }, data: { "configuration.yaml": "%%%" } })).toBeNull();
    expect(configOf({ metadata: { name: "x" }, data: {} })).toBeNull();
    expect(configOf({ metadata: { name: "x" }, data: { "configuration.yaml": btoa("[1, 2]") } })).toBeNull();
  });
  it("every type's template is a YAML mapping", () => {
    for (const t of Object.values(TEMPLATES)) expect(typeof load(t)).toBe("object");
  });
});
