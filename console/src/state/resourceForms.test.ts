import { describe, expect, it } from "vitest";
import {
  buildConfigMap,
  buildIngress,
  buildNetworkPolicy,
  buildPv,
  buildPvc,
  buildSecret,
  buildService,
  buildServiceAccount,
  buildStorageClass,
  configMapForm,
  fromBase64,
  ingressForm,
  networkPolicyForm,
  parseLabels,
  parsePolicyPorts,
  pvcForm,
  pvForm,
  secretForm,
  serviceAccountForm,
  serviceForm,
  storageClassForm,
  toBase64,
} from "./resourceForms";

const meta = (name: string, extra: object = {}) => ({ name, namespace: "demo", uid: "u-1", resourceVersion: "7", annotations: { "team.example/owner": "ops" }, ...extra });

describe("key/value data", () => {
  it("encodes UTF-8 text as base64 and back, and says when bytes are not text", () => {
    expect(toBase64("héllo ✓")).toBe("aMOpbGxvIOKckw==");
    expect(fromBase64("aMOpbGxvIOKckw==")).toBe("héllo ✓");
    expect(fromBase64("/w==")).toBeNull();
  });
  it("reads selectors and refuses what is not key=value", () => {
    expect(parseLabels(" app=web , tier = db ")).toEqual({ app: "web", tier: "db" });
    expect(parseLabels("")).toEqual({});
    expect(() => parseLabels("app")).toThrow(/key=value/);
  });
});

describe("ConfigMaps and Secrets", () => {
  it("builds a ConfigMap from rows, refusing a key twice", () => {
    const cm = buildConfigMap({ name: "app", data: [{ key: "mode", value: "demo" }, { key: "", value: "x" }] }, "demo");
    expect(cm).toEqual({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app", namespace: "demo" }, data: { mode: "demo" } });
    expect(() => buildConfigMap({ name: "a", data: [{ key: "k", value: "1" }, { key: "k", value: "2" }] }, "demo")).toThrow(/twice/);
  });
  it("keeps a ConfigMap's binaryData, labels and other fields through an edit", () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: meta("app", { labels: { a: "b" } }), data: { mode: "demo" }, binaryData: { blob: "AAE=" }, immutable: false };
    expect(buildConfigMap(configMapForm(cm), "demo", cm)).toEqual(cm);
    const edited = buildConfigMap({ ...configMapForm(cm), data: [{ key: "mode", value: "prod" }] }, "demo", cm);
    expect(edited.data).toEqual({ mode: "prod" });
    expect(edited.binaryData).toEqual({ blob: "AAE=" });
  });
  it("encodes an Opaque Secret's values, keeping binary ones as they were", () => {
    const s = { apiVersion: "v1", kind: "Secret", metadata: meta("db"), type: "Opaque", data: { password: toBase64("s3cret"), key: "/w==" } };
    const f = secretForm(s);
    expect(f.data).toEqual([{ key: "password", value: "s3cret" }, { key: "key", value: "", binary: "/w==" }]);
    expect(buildSecret(f, "demo", s)).toEqual(s);
    const edited = buildSecret({ ...f, data: [{ key: "password", value: "n3w" }, ...f.data.slice(1)] }, "demo", s);
    expect(edited.data).toEqual({ password: toBase64("n3w"), key: "/w==" });
  });
  it("writes a registry Secret as .dockerconfigjson and reads it back", () => {
    const form = { name: "pull", type: "kubernetes.io/dockerconfigjson", data: [], registry: { server: "registry.example:5000", username: "bot", password: "p:w", email: "" }, cert: "", key: "" };
    const s = buildSecret(form, "demo");
    const config = JSON.parse(fromBase64(s.data[".dockerconfigjson"])!);
    expect(config.auths["registry.example:5000"]).toEqual({ username: "bot", password: "p:w", auth: toBase64("bot:p:w") });
    expect(secretForm(s).registry).toEqual(form.registry);
    expect(() => buildSecret({ ...form, registry: { ...form.registry, server: " " } }, "demo")).toThrow(/registry/);
  });
  it("writes a TLS Secret's certificate and key", () => {
    const s = buildSecret({ name: "tls", type: "kubernetes.io/tls", data: [], registry: { server: "", username: "", password: "", email: "" }, cert: "CERT", key: "KEY" }, "demo");
    expect(s.data).toEqual({ "tls.crt": toBase64("CERT"), "tls.key": toBase64("KEY") });
    expect(secretForm(s).cert).toBe("CERT");
  });
});

describe("Services and Ingresses", () => {
  it("builds a Service with several ports, named ones and node ports", () => {
    const svc = buildService({ name: "web", type: "NodePort", selector: "app=web", ports: [{ name: "", protocol: "TCP", port: "80", targetPort: "http", nodePort: "30080" }, { name: "dns", protocol: "UDP", port: "53", targetPort: "", nodePort: "" }] }, "demo");
    expect(svc.spec).toEqual({ type: "NodePort", selector: { app: "web" }, ports: [{ name: "tcp-80", protocol: "TCP", port: 80, targetPort: "http", nodePort: 30080 }, { name: "dns", protocol: "UDP", port: 53 }] });
    expect(() => buildService({ name: "x", type: "ClusterIP", selector: "", ports: [{ name: "", protocol: "TCP", port: "70000", targetPort: "", nodePort: "" }] }, "demo")).toThrow(/65535/);
  });
  it("round-trips a Service's fields the form does not show, and drops node ports for ClusterIP", () => {
    const svc = { apiVersion: "v1", kind: "Service", metadata: meta("web"), spec: { type: "NodePort", clusterIP: "10.0.0.9", sessionAffinity: "None", selector: { app: "web" }, ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080, nodePort: 30001, appProtocol: "http" }] }, status: { loadBalancer: {} } };
    expect(buildService(serviceForm(svc), "demo", svc)).toEqual(svc);
    const cip = buildService({ ...serviceForm(svc), type: "ClusterIP" }, "demo", svc);
    expect(cip.spec.ports).toEqual([{ name: "http", protocol: "TCP", port: 80, targetPort: 8080, appProtocol: "http" }]);
    expect(cip.spec.clusterIP).toBe("10.0.0.9");
  });
  it("builds an Ingress with hosts, paths to Services, TLS and a class", () => {
    const ing = buildIngress({ name: "web", ingressClassName: "nginx", rules: [{ host: "web.example", paths: [{ path: "/", pathType: "Prefix", service: "web", port: "80" }, { path: "/api", pathType: "Exact", service: "api", port: "http" }] }], tls: [{ hosts: "web.example", secretName: "web-tls" }] }, "demo");
    expect(ing.spec).toEqual({
      ingressClassName: "nginx",
      rules: [{ host: "web.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }, { path: "/api", pathType: "Exact", backend: { service: { name: "api", port: { name: "http" } } } }] } }],
      tls: [{ hosts: ["web.example"], secretName: "web-tls" }],
    });
  });
  it("round-trips an Ingress's annotations, defaultBackend and status", () => {
    const ing = { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: meta("web"), spec: { defaultBackend: { service: { name: "x", port: { number: 1 } } }, rules: [{ host: "a.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }] }, status: { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } } };
    expect(buildIngress(ingressForm(ing), "demo", ing)).toEqual(ing);
  });
});

describe("NetworkPolicies", () => {
  it("builds ingress and egress rules with every kind of peer and ports", () => {
    const np = buildNetworkPolicy(
      {
        name: "db",
        podSelector: "app=db",
        ingressOn: true,
        egressOn: true,
        ingress: [{ peers: [{ kind: "pods", pods: "app=web", namespaces: "", cidr: "", except: "" }, { kind: "podsInNamespaces", pods: "", namespaces: "team=a", cidr: "", except: "" }], ports: "TCP/5432" }],
        egress: [{ peers: [{ kind: "ipBlock", pods: "", namespaces: "", cidr: "10.0.0.0/8", except: "10.1.0.0/16" }], ports: "UDP/53, 443" }],
      },
      "demo",
    );
    expect(np.spec).toEqual({
      podSelector: { matchLabels: { app: "db" } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: "web" } } }, { podSelector: {}, namespaceSelector: { matchLabels: { team: "a" } } }], ports: [{ protocol: "TCP", port: 5432 }] }],
      egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 443 }] }],
    });
    expect(() => buildNetworkPolicy({ ...networkPolicyForm(np), ingressOn: false, egressOn: false }, "demo")).toThrow(/ingress, egress/);
  });
  it("reads ports as people write them", () => {
    expect(parsePolicyPorts("80, udp/53, SCTP, TCP/http")).toEqual([{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 53 }, { protocol: "SCTP" }, { protocol: "TCP", port: "http" }]);
    expect(() => parsePolicyPorts("ICMP/1")).toThrow(/protocol/);
  });
  it("keeps matchExpressions and endPort through an edit", () => {
    const np = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta("db"),
      spec: {
        podSelector: { matchLabels: { app: "db" }, matchExpressions: [{ key: "tier", operator: "In", values: ["x"] }] },
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: "env", operator: "Exists" }] } }], ports: [{ protocol: "TCP", port: 5432, endPort: 5440 }] }],
      },
    };
    expect(buildNetworkPolicy(networkPolicyForm(np), "demo", np)).toEqual(np);
  });
});

describe("storage and service accounts", () => {
  it("builds a PVC and keeps its volumeName and selector through an edit", () => {
    const pvc = buildPvc({ name: "data", storageClassName: "standard", size: "5Gi", accessModes: ["ReadWriteOnce"] }, "demo");
    expect(pvc.spec).toEqual({ accessModes: ["ReadWriteOnce"], storageClassName: "standard", resources: { requests: { storage: "5Gi" } } });
    const bound = { ...pvc, metadata: meta("data"), spec: { ...pvc.spec, volumeName: "pv-1", volumeMode: "Filesystem" }, status: { phase: "Bound" } };
    expect(buildPvc(pvcForm(bound), "demo", bound)).toEqual(bound);
    expect(() => buildPvc({ ...pvcForm(bound), size: "lots" }, "demo", bound)).toThrow(/quantity/);
    expect(() => buildPvc({ ...pvcForm(bound), accessModes: [] }, "demo", bound)).toThrow(/access mode/);
  });
  it("builds a PV and keeps another kind of source through an edit", () => {
    const pv = buildPv({ name: "pv-1", capacity: "10Gi", accessModes: ["ReadWriteOnce"], storageClassName: "manual", reclaimPolicy: "Retain", hostPath: "/data/pv-1" });
    expect(pv).toEqual({ apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "pv-1" }, spec: { capacity: { storage: "10Gi" }, accessModes: ["ReadWriteOnce"], storageClassName: "manual", persistentVolumeReclaimPolicy: "Retain", hostPath: { path: "/data/pv-1" } } });
    const nfs = { apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "nfs" }, spec: { capacity: { storage: "1Ti" }, accessModes: ["ReadWriteMany"], persistentVolumeReclaimPolicy: "Retain", nfs: { server: "nfs.example", path: "/x" }, mountOptions: ["hard"] } };
    expect(buildPv(pvForm(nfs), nfs)).toEqual(nfs);
  });
  it("builds a StorageClass with parameters and round-trips mountOptions", () => {
    const sc = { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: "fast", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } }, provisioner: "example.com/disk", reclaimPolicy: "Delete", volumeBindingMode: "WaitForFirstConsumer", allowVolumeExpansion: true, parameters: { type: "ssd" }, mountOptions: ["discard"] };
    expect(buildStorageClass(storageClassForm(sc), sc)).toEqual(sc);
    expect(() => buildStorageClass({ ...storageClassForm(sc), provisioner: "" })).toThrow(/provisioner/);
  });
  it("builds a ServiceAccount's pull secrets and token mounting, keeping its secrets", () => {
    const sa = { apiVersion: "v1", kind: "ServiceAccount", metadata: meta("bot"), secrets: [{ name: "bot-token" }], imagePullSecrets: [{ name: "pull" }] };
    expect(buildServiceAccount(serviceAccountForm(sa), "demo", sa)).toEqual(sa);
    const off = buildServiceAccount({ ...serviceAccountForm(sa), imagePullSecrets: "pull, other", automount: false }, "demo", sa);
    expect(off.imagePullSecrets).toEqual([{ name: "pull" }, { name: "other" }]);
    expect(off.automountServiceAccountToken).toBe(false);
    expect(off.secrets).toEqual([{ name: "bot-token" }]);
  });
});
