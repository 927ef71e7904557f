import { describe, expect, it } from "vitest";
import { certExpiry, clusterToJoin, decodeMaybeBase64, inspectKubeconfig, toBase64 } from "./kubeconfig";

const kubeconfig = (user: string, current = "ctx") => `apiVersion: v1
kind: Config
current-context: ${current}
clusters:
- name: c
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: AAAA
contexts:
- name: ctx
  context: {cluster: c, user: u}
users:
- name: u
  user:
${user}
`;
const ALLOWED = ["aws", "kubelogin"];

describe("kubeconfigs in the join wizard", () => {
  it("summarises a token kubeconfig", () => {
    const r = inspectKubeconfig(kubeconfig("    token: abc"), ALLOWED);
    expect(r.problem).toBeUndefined();
    expect(r.summary).toEqual({ context: "ctx", server: "https://10.0.0.1:6443", auth: "token", exec: [], refusedExec: [], localFiles: [] });
  });

  it("explains an exec plugin the platform does not allow, before the server refuses it", () => {
    const exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: gke-gcloud-auth-plugin";
    const r = inspectKubeconfig(kubeconfig(exec), ALLOWED);
    expect(r.summary?.auth).toBe("exec");
    expect(r.summary?.refusedExec).toEqual(["gke-gcloud-auth-plugin"]);
    const ok = inspectKubeconfig(kubeconfig(exec.replace("gke-gcloud-auth-plugin", "kubelogin")), ALLOWED);
    expect(ok.summary?.refusedExec).toEqual([]);
  });

  it("flags files on the platform's machine", () => {
    const r = inspectKubeconfig(kubeconfig("    client-certificate: /etc/k/cert.pem\n    client-key: /etc/k/key.pem"), ALLOWED);
    expect(r.summary?.localFiles).toEqual(["client-certificate", "client-key"]);
  });

  it("says why text is not a kubeconfig, without throwing", () => {
    expect(inspectKubeconfig("", ALLOWED).problem).toBe("empty");
    expect(inspectKubeconfig("a: [", ALLOWED).problem).toBeTruthy();
    expect(inspectKubeconfig("- 1\n- 2", ALLOWED).problem).toBe("not a mapping");
    expect(inspectKubeconfig("kind: Config", ALLOWED).problem).toBe("no cluster or context");
    expect(inspectKubeconfig(kubeconfig("    token: x", "other"), ALLOWED).problem).toBe("no current context");
  });

  it("reads base64 as Cluster specs carry it, and encodes UTF-8", () => {
    const text = kubeconfig("    token: abc");
    expect(decodeMaybeBase64(toBase64(text))).toBe(text);
    expect(inspectKubeconfig(toBase64(text), ALLOWED).summary?.server).toBe("https://10.0.0.1:6443");
    expect(decodeMaybeBase64("plain: yaml")).toBe("plain: yaml");
    expect(decodeMaybeBase64(toBase64("名前: ü"))).toBe("名前: ü");
    const c = clusterToJoin({ name: " m1 ", provider: "EKS", description: "", kubeconfig: toBase64(text) });
    expect(c.metadata).toEqual({ name: "m1", annotations: {} });
    expect(decodeMaybeBase64(c.spec.connection.kubeconfig)).toBe(text);
  });

  it("finds the certificate expiry the platform states", () => {
    const at = "2026-12-01T10:00:00+00:00";
    const cluster = { metadata: { name: "m" }, status: { conditions: [{ type: "KubeConfigCertExpiresInSevenDays", status: "False", message: `the kubeconfig's client certificate expires at ${at}` }] } };
    expect(certExpiry(cluster)).toBe(at);
    expect(certExpiry({ metadata: { name: "m" }, status: { conditions: [] } })).toBeNull();
    expect(certExpiry(undefined)).toBeNull();
  });
});
