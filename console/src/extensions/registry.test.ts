import { describe, expect, it } from "vitest";
import type { K8sObject } from "../api/watch";
import { BundleError, isFetchFailure, bundleLink, bundleUrl, entriesOf, entryBundles, extensionOfPath, fillLink, localize, menusFor, readMenu, readModule, routeProblem, SDK_VERSION } from "./registry";

const bundle = (name: string, extra: Partial<K8sObject> = {}, labels?: Record<string, string>): K8sObject => ({
  metadata: { name, resourceVersion: "7", labels },
  ...extra,
});
const Page = () => null;

describe("bundles", () => {
  it("are served where the platform serves them, and imported only as index.js", () => {
    expect(bundleLink(bundle("hello"))).toBe("/dist/hello/index.js");
    expect(bundleLink(bundle("hello", { status: { link: "/dist/hello/v2/index.js" } }))).toBe("/dist/hello/v2/index.js");
    // A link outside /dist/ is not honoured by the platform, so not by the console either.
    expect(bundleLink(bundle("hello", { status: { link: "/kapis/x/index.js" } }))).toBe("/dist/hello/index.js");
    // Status writes (the platform notes each serve) change nothing; spec and annotations do.
    const v1 = bundleUrl(bundle("hello", { metadata: { name: "hello", uid: "u1", generation: 1, resourceVersion: "7" } }));
    expect(v1).toMatch(/^\/dist\/hello\/index\.js\?v=[0-9a-z]+$/);
    expect(bundleUrl(bundle("hello", { metadata: { name: "hello", uid: "u1", generation: 1, resourceVersion: "8" }, status: { state: "Available" } }))).toBe(v1);
    expect(bundleUrl(bundle("hello", { metadata: { name: "hello", uid: "u1", generation: 2, resourceVersion: "9" } }))).not.toBe(v1);
    expect(bundleUrl(bundle("hello", { metadata: { name: "hello", uid: "u1", generation: 1, annotations: { "checksum/bundle": "abc" } } }))).not.toBe(v1);
    expect(bundleUrl(bundle("hello", { metadata: { name: "hello", uid: "u2", generation: 1 } }))).not.toBe(v1);
    const style = bundle("hello-style", { status: { link: "/dist/hello/style.css" } }, { "kubesphere.io/extension-ref": "hello" });
    const two = bundle("b-hello", {}, { "kubesphere.io/extension-ref": "hello" });
    const gone = bundle("gone", { metadata: { name: "gone", deletionTimestamp: "2026-01-01T00:00:00Z" } });
    const got = entryBundles([two, style, bundle("a-hello", {}, { "kubesphere.io/extension-ref": "hello" }), bundle("other"), gone]);
    // One entry per extension (the first by name), the stylesheet and deleted ones left out.
    expect([...got.keys()].sort()).toEqual(["hello", "other"]);
    expect(got.get("hello")?.metadata.name).toBe("a-hello");
  });
});

describe("import failures", () => {
  it("are tried again when the module could not be fetched, not when it threw", () => {
    expect(isFetchFailure(new TypeError("Failed to fetch dynamically imported module: http://h/dist/a/index.js"))).toBe(true);
    expect(isFetchFailure(new TypeError("error loading dynamically imported module: http://h/dist/a/index.js"))).toBe(true);
    expect(isFetchFailure(new TypeError("Importing a module script failed."))).toBe(true);
    expect(isFetchFailure(new Error("broken on purpose"))).toBe(false);
    expect(isFetchFailure(new TypeError("x is not a function"))).toBe(false);
  });
});

describe("extension spaces", () => {
  it("attribute console paths to extensions at every level", () => {
    expect(extensionOfPath("/ext/hello")).toBe("hello");
    expect(extensionOfPath("/ext/hello/deep/page")).toBe("hello");
    expect(extensionOfPath("/clusters/host/ext/hello")).toBe("hello");
    expect(extensionOfPath("/workspaces/ws/ext/hello/x")).toBe("hello");
    expect(extensionOfPath("/clusters/m1/projects/p/ext/hello")).toBe("hello");
    for (const p of ["/platform/users", "/clusters/host/overview", "/ext", "/clusters/host/projects/p/pods", "/store/ext/x"]) expect(extensionOfPath(p), p).toBe("");
  });

  it("refuse routes outside the extension's own space", () => {
    for (const ok of ["/ext/hello", "/ext/hello/:id", "/ext/hello/*", "/clusters/:cluster/ext/hello", "/workspaces/:workspace/ext/hello/x", "/clusters/:cluster/projects/:namespace/ext/hello"]) {
      expect(routeProblem("hello", ok), ok).toBe("");
    }
    for (const bad of ["ext/hello", "/ext/other", "/platform/users", "/clusters/:cluster/overview", "/clusters/host/ext/hello", "/workspaces/:ws/ext/hello", "/clusters/:cluster/projects/:ns/ext/hello", "/ext/hello/*/x", "/", 7]) {
      expect(routeProblem("hello", bad), String(bad)).not.toBe("");
    }
  });
});

describe("a bundle's default export", () => {
  it("is read with its routes, messages (zh as zh-CN) and menus", () => {
    const { module, problems } = readModule("hello", {
      default: {
        sdk: 1,
        routes: [
          { path: "/ext/hello", title: "hello.title", component: Page },
          { path: "/platform/users", component: Page },
          { path: "/ext/hello/none" },
        ],
        locales: { en: { "hello.title": "Hello", n: 3 }, zh: { "hello.title": "你好" } },
        menus: [{ parent: "global", title: { en: "Hi" }, link: "/ext/hello" }, { parent: "platform", link: "nope", title: "x" }],
      },
    });
    expect(module.routes.map((r) => r.path)).toEqual(["/ext/hello"]);
    expect(problems).toHaveLength(3);
    expect(module.locales).toEqual({ en: { "hello.title": "Hello" }, "zh-CN": { "hello.title": "你好" } });
    expect(module.menus).toEqual([{ name: undefined, parent: "topbar", title: { en: "Hi" }, link: "/ext/hello", order: 0 }]);
  });

  it("that is no extension is refused as a whole", () => {
    expect(() => readModule("x", {})).toThrow(BundleError);
    expect(() => readModule("x", { default: 42 })).toThrow(BundleError);
    expect(() => readModule("x", { default: { locales: {} } })).toThrow(/routes/);
    expect(() => readModule("x", { default: { sdk: SDK_VERSION + 1, routes: [] } })).toThrow(/needs @orrery\/console/);
  });
});

describe("menu entries", () => {
  const entries = entriesOf([
    {
      metadata: { name: "hello-entries", labels: { "kubesphere.io/extension-ref": "hello" } },
      spec: {
        entries: [
          { name: "b", parent: "platform", title: "hello.menu", link: "/ext/hello", order: 2 },
          { name: "a", parent: "platform", title: { en: "Alpha", "zh-CN": "甲" }, link: "/ext/hello/a", order: 1 },
          { name: "c", parent: "cluster", title: "Per cluster", link: "/clusters/:cluster/ext/hello" },
          { name: "bad", parent: "platform" },
        ],
      },
    },
    { metadata: { name: "gone", deletionTimestamp: "x" }, spec: { entries: [{ parent: "platform", title: "g", link: "/ext/gone" }] } },
  ]);

  it("belong to their extension and are ordered per place", () => {
    expect(entries.map((e) => e.ext)).toEqual(["hello", "hello", "hello"]);
    const platform = menusFor(entries, "platform", { kind: "platform" }, (e) => localize(e.menu.title, "en", { en: { "hello.menu": "Hello" } }));
    expect(platform.map((e) => [e.label, e.to])).toEqual([
      ["Alpha", "/ext/hello/a"],
      ["Hello", "/ext/hello"],
    ]);
    const cluster = menusFor(entries, "cluster", { kind: "cluster", cluster: "m 1" }, (e) => localize(e.menu.title, "en", undefined));
    expect(cluster.map((e) => e.to)).toEqual(["/clusters/m%201/ext/hello"]);
    // A link whose level value is missing is not offered.
    expect(fillLink("/clusters/:cluster/ext/hello", { kind: "platform" })).toBeNull();
    expect(fillLink("/clusters/:cluster/projects/:namespace/ext/x", { kind: "project", cluster: "c", ns: "n" })).toBe("/clusters/c/projects/n/ext/x");
    expect(typeof readMenu({ parent: "platform", title: "t" })).toBe("string");
  });
});

describe("localize", () => {
  const msgs = { en: { hi: "Hello {who}", only: "English only" }, "zh-CN": { hi: "你好 {who}" } };
  it("picks the language, then English, then the console's, then the key", () => {
    expect(localize("hi", "zh-CN", msgs, undefined, { who: "A" })).toBe("你好 A");
    expect(localize("only", "zh-CN", msgs)).toBe("English only");
    expect(localize("app.name", "en", msgs, (k) => (k === "app.name" ? "Orrery" : undefined))).toBe("Orrery");
    expect(localize("missing.key", "en", msgs)).toBe("missing.key");
    expect(localize({ en: "Hi", zh: "嗨" }, "zh-CN", undefined)).toBe("嗨");
    expect(localize({ fr: "Salut" }, "zh-CN", undefined)).toBe("Salut");
    expect(localize(undefined, "en", msgs)).toBe("");
  });
});
