import { describe, expect, it } from "vitest";
import { load } from "js-yaml";
import { HiddenValueError, hiddenPatch, MASK, maskedFromMetadata, maskSecret, present, revealEdited, unmaskSecret } from "./secretYaml";

const LAST = "kubectl.kubernetes.io/last-applied-configuration";
const secret = () => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "db", namespace: "shop", annotations: { [LAST]: '{"data":{"password":"czNjcmV0"}}', team: "a" } },
  type: "Opaque",
  data: { password: "czNjcmV0", user: "YWRtaW4=" },
  stringData: { note: "plain words" },
});

describe("a Secret's YAML", () => {
  it("shows no value until revealed, and every value when revealed", () => {
    const hidden = present(secret(), true, false);
    for (const value of ["czNjcmV0", "YWRtaW4=", "plain words"]) expect(hidden.text).not.toContain(value);
    expect(hidden.text).toContain(`password: ${MASK}`);
    expect(hidden.text).toContain("team: a");
    const shown = present(secret(), true, true);
    expect(load(shown.text)).toEqual(secret());
    // Other kinds are shown as they are.
    expect(present(secret(), false, false).text).toBe(shown.text);
  });

  it("puts the hidden values back under their placeholders, keeping what was edited", () => {
    const { masked, hidden } = maskSecret(secret());
    const edited = structuredClone(masked);
    edited.metadata.annotations.team = "b";
    edited.data.user = "cm9vdA==";
    (edited.data as Record<string, string>).token = "dG9r";
    expect(unmaskSecret(edited, hidden)).toEqual({ ...secret(), metadata: { ...secret().metadata, annotations: { [LAST]: secret().metadata.annotations[LAST], team: "b" } }, data: { password: "czNjcmV0", user: "cm9vdA==", token: "dG9r" } });
    expect(JSON.stringify(unmaskSecret(masked, hidden))).not.toContain(MASK);
  });

  it("refuses a placeholder that hides nothing (a key renamed or added while hidden)", () => {
    const { masked, hidden } = maskSecret(secret());
    const renamed = structuredClone(masked) as ReturnType<typeof secret> & { data: Record<string, string> };
    renamed.data.pass = renamed.data.password;
    delete (renamed.data as Partial<typeof renamed.data>).password;
    expect(() => unmaskSecret(renamed, hidden)).toThrow(HiddenValueError);
    try {
      unmaskSecret(renamed, hidden);
    } catch (e) {
      expect((e as HiddenValueError).field).toBe("data.pass");
    }
  });

  it("leaves what is not an object alone", () => {
    expect(maskSecret("text").masked).toBe("text");
    expect(unmaskSecret(null, maskSecret({}).hidden)).toBeNull();
  });
});

describe("a Secret's YAML before any value is fetched", () => {
  const meta = () => ({ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "shop", resourceVersion: "7", annotations: { team: "a" } }, type: "Opaque", keys: ["password", "user"], sizes: { password: 6, user: 5 } });

  it("shows the keys with placeholders, and nothing of the platform's own fields", () => {
    const base = maskedFromMetadata(meta());
    expect(base).toEqual({ apiVersion: "v1", kind: "Secret", metadata: meta().metadata, type: "Opaque", data: { password: MASK, user: MASK } });
  });

  it("saves only what changed, at the revision the edit started from", () => {
    const base = maskedFromMetadata(meta());
    type Edited = { metadata: { annotations: Record<string, string> }; data: Record<string, string>; stringData?: Record<string, string> };
    const edited = structuredClone(base) as unknown as Edited;
    edited.metadata.annotations.team = "b";
    delete edited.data.user;
    edited.stringData = { extra: "added" };
    expect(hiddenPatch(base, edited)).toEqual({ metadata: { annotations: { team: "b" }, resourceVersion: "7" }, data: { user: null }, stringData: { extra: "added" } });
    expect(JSON.stringify(hiddenPatch(base, edited))).not.toContain(MASK);
  });

  it("refuses a placeholder that stands for nothing", () => {
    const base = maskedFromMetadata(meta());
    const renamed = { ...structuredClone(base), data: { pass: MASK, user: MASK } };
    expect(() => hiddenPatch(base, renamed)).toThrow(HiddenValueError);
    const moved = { ...structuredClone(base), stringData: { password: MASK } };
    expect(() => hiddenPatch(base, moved)).toThrow(HiddenValueError);
    const last = { ...structuredClone(base), metadata: { name: "db", annotations: { [LAST]: MASK } } };
    expect(() => hiddenPatch(base, last)).toThrow(HiddenValueError);
  });

  it("fills an edit with the values once revealed, kubectl's annotation put back", () => {
    const edited = { ...maskedFromMetadata(meta()), data: { password: MASK, user: "bmV3" } };
    const out = revealEdited(edited, secret()) as ReturnType<typeof secret>;
    expect(out.data).toEqual({ password: "czNjcmV0", user: "bmV3" });
    expect(out.metadata.annotations[LAST]).toBe(secret().metadata.annotations[LAST]);
    expect(out.metadata.annotations.team).toBe("a");
  });
});
