import { describe, expect, it } from "vitest";
import { act } from "react";
import { createRoot } from "react-dom/client";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { I18nProvider, type Lang } from "../i18n";
import { ExtensionsContext, extensionRoutes, type ExtensionsValue, type LoadedExtension } from "./loader";
import { useT } from "./context";
import { readModule } from "./registry";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function Greeting() {
  const { t } = useT();
  return <p>{t("hello.greeting", { who: "Ada" })}</p>;
}
function Throws(): never {
  throw new Error("boom in render");
}

function loaded(name: string, ns: unknown): LoadedExtension {
  const { module, problems } = readModule(name, ns);
  return { name, bundle: name, url: `/dist/${name}/index.js?v=1`, state: "ready", module, problems };
}

const value: ExtensionsValue = {
  listed: true,
  entries: [],
  extensions: {
    hello: loaded("hello", {
      default: {
        routes: [{ path: "/ext/hello", title: "hello.title", component: Greeting }],
        locales: { en: { "hello.title": "Hello", "hello.greeting": "Hello, {who}" }, "zh-CN": { "hello.greeting": "你好，{who}" } },
      },
    }),
    crash: loaded("crash", { default: { routes: [{ path: "/clusters/:cluster/ext/crash", component: Throws }] } }),
    broken: { name: "broken", bundle: "broken", url: "/dist/broken/index.js?v=1", state: "failed", error: "module threw: nope", problems: [] },
  },
};

async function render(path: string, lang: Lang = "en") {
  const host = document.createElement("div");
  document.body.append(host);
  const root = createRoot(host);
  await act(async () => {
    root.render(
      <I18nProvider lang={lang}>
        <ExtensionsContext.Provider value={value}>
          <MemoryRouter initialEntries={[path]}>
            <nav data-testid="console-nav">console</nav>
            <Routes>
              <Route path="platform/*" element={<p>platform page</p>} />
              {extensionRoutes(value)}
              <Route path="*" element={<p>not found</p>} />
            </Routes>
          </MemoryRouter>
        </ExtensionsContext.Provider>
      </I18nProvider>,
    );
  });
  return { host, unmount: () => act(async () => root.unmount()) };
}

describe("extension pages", () => {
  it("render with the extension's messages in the console's language", async () => {
    const en = await render("/ext/hello");
    expect(en.host.querySelector('[data-extension="hello"]')?.textContent).toBe("Hello, Ada");
    expect(document.title).toContain("Hello");
    await en.unmount();
    const zh = await render("/ext/hello", "zh-CN");
    expect(zh.host.textContent).toContain("你好，Ada");
    await zh.unmount();
  });

  it("keep a page that throws, and a bundle that failed, in their own area", async () => {
    // React and jsdom report the render error the boundary catches; expected here.
    const originalError = console.error;
    console.error = () => undefined;
    const quiet = (e: ErrorEvent) => e.preventDefault();
    window.addEventListener("error", quiet);
    try {
      const crash = await render("/clusters/host/ext/crash");
      expect(crash.host.querySelector('[data-extension-error="crash"]')?.textContent).toContain("boom in render");
      expect(crash.host.querySelector('[data-testid="console-nav"]')).not.toBeNull();
      await crash.unmount();
    } finally {
      console.error = originalError;
      window.removeEventListener("error", quiet);
    }
    const broken = await render("/ext/broken/anything");
    expect(broken.host.querySelector('[data-extension-error="broken"]')?.textContent).toContain("module threw: nope");
    await broken.unmount();
    const unknown = await render("/ext/nobody");
    expect(unknown.host.querySelector('[data-extension-error="nobody"]')).not.toBeNull();
    await unknown.unmount();
    // The console's own pages are not the extensions' business.
    const platform = await render("/platform/users");
    expect(platform.host.textContent).toContain("platform page");
    await platform.unmount();
  });
});
