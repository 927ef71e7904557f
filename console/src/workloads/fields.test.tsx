import { describe, expect, it } from "vitest";
import { act, useState } from "react";
import { createRoot } from "react-dom/client";
import { Container, type Sources } from "./fields";
import { buildWorkload, emptyContainer, emptyForm, type ContainerForm } from "./model";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const sources: Sources = { configMaps: { settings: ["mode", "level"] }, secrets: { creds: ["password"] }, claims: ["cache"] };

/** Renders one container's editor, its state kept by the test. */
async function mount(start: ContainerForm) {
  const seen: { c: ContainerForm } = { c: start };
  function Harness() {
    const [c, setC] = useState(start);
    seen.c = c;
    return <Container c={c} set={(p) => setC((cur) => ({ ...cur, ...p }))} sources={sources} volumes={["data"]} />;
  }
  const host = document.createElement("form");
  document.body.append(host);
  const root = createRoot(host);
  await act(async () => root.render(<Harness />));
  return { host, seen, unmount: () => act(async () => root.unmount()) };
}

/** The control a visible label names, within `scope`. */
function control(scope: ParentNode, label: string): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement {
  const l = [...scope.querySelectorAll("label")].find((x) => x.textContent === label);
  if (!l) throw new Error(`no label ${label}`);
  const el = document.getElementById(l.htmlFor);
  if (!el) throw new Error(`label ${label} names nothing`);
  return el as HTMLInputElement;
}

function group(scope: ParentNode, legend: string): HTMLFieldSetElement {
  const f = [...scope.querySelectorAll("fieldset")].find((x) => x.querySelector(":scope > legend")?.textContent === legend);
  if (!f) throw new Error(`no group ${legend}`);
  return f;
}

const button = (scope: ParentNode, text: string) => [...scope.querySelectorAll("button")].find((b) => b.textContent === text) as HTMLButtonElement;

async function type(el: HTMLInputElement | HTMLTextAreaElement, value: string) {
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(proto, "value")?.set?.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

async function choose(el: HTMLSelectElement, value: string) {
  await act(async () => {
    el.value = value;
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

describe("the container editor", () => {
  it("labels every control and edits env from a ConfigMap key, a port and a mount", async () => {
    const { host, seen, unmount } = await mount({ ...emptyContainer("app"), image: "nginx" });
    for (const el of host.querySelectorAll("input:not([type=checkbox]), select, textarea")) {
      expect(host.querySelector(`label[for="${el.id}"]`), `a label for ${el.outerHTML}`).not.toBeNull();
    }
    await act(async () => button(host, "Add Variable").click());
    const v = group(host, "Variable 1");
    await type(control(v, "Variable name") as HTMLInputElement, "MODE");
    await choose(control(v, "Taken from") as HTMLSelectElement, "configMap");
    await choose(control(group(host, "Variable 1"), "ConfigMap") as HTMLSelectElement, "settings");
    const keys = control(group(host, "Variable 1"), "Key") as HTMLSelectElement;
    expect([...keys.options].map((o) => o.value)).toEqual(["", "mode", "level"]);
    await choose(keys, "level");
    await act(async () => button(host, "Add Port").click());
    await type(control(group(host, "Port 1"), "Port number or name") as HTMLInputElement, "8080");
    await act(async () => button(host, "Add Mount").click());
    await type(control(group(host, "Mount 1"), "Mount path") as HTMLInputElement, "/data");
    await choose(control(group(host, "Liveness probe"), "Check") as HTMLSelectElement, "http");
    await type(control(group(host, "Liveness probe"), "Port number or name") as HTMLInputElement, "8080");
    const obj = buildWorkload({ ...emptyForm("deployments"), name: "web", containers: [seen.c] }, "demo");
    expect(obj.spec.template.spec.containers[0]).toEqual({
      name: "app",
      image: "nginx",
      ports: [{ containerPort: 8080, protocol: "TCP" }],
      env: [{ name: "MODE", valueFrom: { configMapKeyRef: { name: "settings", key: "level" } } }],
      livenessProbe: { httpGet: { path: "/", port: 8080 } },
      volumeMounts: [{ name: "data", mountPath: "/data" }],
    });
    // Removing the variable removes it from the object; the rest stays.
    await act(async () => button(host, "Remove Variable 1").click());
    expect(seen.c.env).toEqual([]);
    expect(buildWorkload({ ...emptyForm("deployments"), name: "web", containers: [seen.c] }, "demo").spec.template.spec.containers[0].env).toBeUndefined();
    await unmount();
  });
});
