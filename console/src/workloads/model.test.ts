import { describe, expect, it } from "vitest";
import type { K8sObject } from "../api/watch";
import { applyEdit, applyForm, buildWorkload, emptyContainer, emptyForm, FormError, toForm, type WorkloadForm } from "./model";
import { applyHpa, controllerRevisionsOf, currentRevision, deploymentRevisions, deploymentRollbackPatch, hpaProblem, hpaToForm, REVISION } from "./history";

function form(resource: WorkloadForm["resource"], patch: Partial<WorkloadForm> = {}): WorkloadForm {
  return { ...emptyForm(resource), name: "web", ...patch };
}

describe("buildWorkload", () => {
  it("builds a Deployment with env from ConfigMaps and Secrets, probes, resources and volumes", () => {
    const c = {
      ...emptyContainer("app"),
      image: "nginx:1.27",
      command: "sh\n-c",
      args: "echo hi",
      ports: [{ name: "http", containerPort: "80", protocol: "TCP" as const }],
      env: [
        { name: "A", source: "value" as const, value: "1", ref: "", key: "" },
        { name: "B", source: "configMap" as const, value: "", ref: "cfg", key: "b" },
        { name: "C", source: "secret" as const, value: "", ref: "sec", key: "c" },
      ],
      envFrom: [{ source: "secret" as const, ref: "all", prefix: "X_" }],
      cpuRequest: "100m",
      memoryLimit: "256Mi",
      liveness: { kind: "http" as const, path: "/healthz", port: "http", command: "", initialDelaySeconds: "5", periodSeconds: "" },
      readiness: { kind: "tcp" as const, path: "", port: "80", command: "", initialDelaySeconds: "", periodSeconds: "10" },
      mounts: [{ volume: "cache", mountPath: "/cache", subPath: "", readOnly: false }],
    };
    const o = buildWorkload(form("deployments", { replicas: "2", containers: [c], volumes: [{ name: "cache", source: "emptyDir", ref: "" }] }), "demo");
    expect(o.metadata).toEqual({ name: "web", namespace: "demo", labels: { app: "web" } });
    expect(o.spec.selector).toEqual({ matchLabels: { app: "web" } });
    expect(o.spec.replicas).toBe(2);
    expect(Object.keys(o.spec)).toEqual(["replicas", "selector", "template"]);
    const got = o.spec.template.spec.containers[0];
    expect(got).toEqual({
      name: "app",
      image: "nginx:1.27",
      command: ["sh", "-c"],
      args: ["echo hi"],
      ports: [{ name: "http", containerPort: 80, protocol: "TCP" }],
      env: [
        { name: "A", value: "1" },
        { name: "B", valueFrom: { configMapKeyRef: { name: "cfg", key: "b" } } },
        { name: "C", valueFrom: { secretKeyRef: { name: "sec", key: "c" } } },
      ],
      envFrom: [{ secretRef: { name: "all" }, prefix: "X_" }],
      resources: { requests: { cpu: "100m" }, limits: { memory: "256Mi" } },
      livenessProbe: { httpGet: { path: "/healthz", port: "http" }, initialDelaySeconds: 5 },
      readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 10 },
      volumeMounts: [{ name: "cache", mountPath: "/cache" }],
    });
    expect(o.spec.template.spec.volumes).toEqual([{ name: "cache", emptyDir: {} }]);
  });

  it("builds a StatefulSet with a claim template and its service name", () => {
    const o = buildWorkload(form("statefulsets", { claimTemplates: [{ name: "data", storageClass: "", size: "1Gi", accessMode: "ReadWriteOnce" }] }), "demo");
    expect(o.spec.serviceName).toBe("web");
    expect(o.spec.volumeClaimTemplates).toEqual([{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }]);
  });

  it("builds a CronJob with its schedule, policy and job settings, and no selector", () => {
    const o = buildWorkload(form("cronjobs", { schedule: "0 * * * *", concurrencyPolicy: "Forbid", suspend: true, backoffLimit: "3", completions: "2", restartPolicy: "OnFailure" }), "demo");
    expect(o.spec.schedule).toBe("0 * * * *");
    expect(o.spec.concurrencyPolicy).toBe("Forbid");
    expect(o.spec.suspend).toBe(true);
    expect(o.spec.selector).toBeUndefined();
    expect(o.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 3, completions: 2, template: { metadata: { labels: { app: "web" } }, spec: { restartPolicy: "OnFailure" } } });
  });

  it("refuses what the API would refuse, naming the field", () => {
    expect(() => buildWorkload(form("jobs", { parallelism: "-1" }), "demo")).toThrow(FormError);
    const bad = { ...emptyContainer("a"), image: "x", ports: [{ name: "", containerPort: "70000", protocol: "TCP" as const }] };
    try {
      buildWorkload(form("deployments", { containers: [bad] }), "demo");
      expect.unreachable();
    } catch (e) {
      expect((e as FormError).key).toBe("wl.err.port");
      expect((e as FormError).field).toBe("containers[0].ports[0]");
    }
    expect(() => buildWorkload(form("deployments", { containers: [] }), "demo")).toThrow(FormError);
  });
});

const existing: K8sObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "demo", uid: "u1", resourceVersion: "7", annotations: { note: "kept" } },
  spec: {
    replicas: 3,
    strategy: { type: "Recreate" },
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web", tier: "front" } },
      spec: {
        serviceAccountName: "robot",
        volumes: [
          { name: "host", hostPath: { path: "/var" } },
          { name: "cfg", configMap: { name: "cfg", defaultMode: 420 } },
        ],
        containers: [
          {
            name: "app",
            image: "nginx:1.26",
            imagePullPolicy: "Always",
            ports: [{ containerPort: 80, hostPort: 8080, protocol: "TCP" }],
            env: [
              { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "A", value: "1" },
            ],
            resources: { requests: { cpu: "1", "ephemeral-storage": "1Gi" } },
            livenessProbe: { httpGet: { path: "/", port: 80, scheme: "HTTP" }, failureThreshold: 7 },
            readinessProbe: { grpc: { port: 9000 } },
            volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg", mountPropagation: "None" }],
          },
          { name: "side", image: "busybox", securityContext: { runAsUser: 1000 } },
        ],
      },
    },
  },
  status: { replicas: 3 },
};

describe("editing round-trips what the form does not know", () => {
  it("leaves the object unchanged when nothing is edited", () => {
    expect(applyForm(existing, toForm("deployments", existing))).toEqual(existing);
  });

  it("changes only the edited fields, keeping each entry's unknown fields with it", () => {
    const f = toForm("deployments", existing);
    f.replicas = "5";
    f.containers[0].image = "nginx:1.27";
    f.containers[0].liveness.path = "/healthz";
    f.containers[0].cpuRequest = "";
    // Remove the first container's env var "POD" (a fieldRef the form cannot show) and the first container.
    f.containers[0].env = f.containers[0].env.filter((e) => e.name !== "POD");
    f.containers = [f.containers[1], f.containers[0]];
    const out = applyForm(existing, f);
    expect(out.metadata).toEqual(existing.metadata);
    expect(out.spec.strategy).toEqual({ type: "Recreate" });
    expect(out.spec.replicas).toBe(5);
    const [side, app] = out.spec.template.spec.containers;
    expect(side).toEqual(existing.spec.template.spec.containers[1]);
    expect(app.imagePullPolicy).toBe("Always");
    expect(app.image).toBe("nginx:1.27");
    expect(app.ports).toEqual([{ containerPort: 80, hostPort: 8080, protocol: "TCP" }]);
    expect(app.env).toEqual([{ name: "A", value: "1" }]);
    expect(app.resources).toEqual({ requests: { "ephemeral-storage": "1Gi" } });
    expect(app.livenessProbe).toEqual({ httpGet: { path: "/healthz", port: 80, scheme: "HTTP" }, failureThreshold: 7 });
    expect(app.readinessProbe).toEqual({ grpc: { port: 9000 } });
    expect(app.volumeMounts).toEqual([{ name: "cfg", mountPath: "/etc/cfg", mountPropagation: "None" }]);
    expect(out.spec.template.spec.serviceAccountName).toBe("robot");
    expect(out.spec.template.spec.volumes).toEqual(existing.spec.template.spec.volumes);
    // The original is not touched.
    expect(existing.spec.template.spec.containers[0].image).toBe("nginx:1.26");
  });

  it("reads env, probes and volumes it cannot edit as 'other' and keeps them", () => {
    const f = toForm("deployments", existing);
    expect(f.containers[0].env[0]).toMatchObject({ name: "POD", source: "other" });
    expect(f.containers[0].readiness.kind).toBe("other");
    expect(f.volumes.map((v) => v.source)).toEqual(["other", "configMap"]);
    f.volumes[1].ref = "cfg2";
    expect(applyForm(existing, f).spec.template.spec.volumes[1]).toEqual({ name: "cfg", configMap: { name: "cfg2", defaultMode: 420 } });
  });

  it("round-trips a CronJob and a StatefulSet built by the form", () => {
    for (const resource of ["cronjobs", "statefulsets", "jobs", "daemonsets"] as const) {
      const built = buildWorkload(form(resource, { claimTemplates: resource === "statefulsets" ? [{ name: "d", storageClass: "fast", size: "2Gi", accessMode: "ReadWriteOnce" }] : [] }), "demo");
      expect(applyForm(built, toForm(resource, built))).toEqual(built);
    }
  });
});

describe("editing an existing Job", () => {
  const job = (): K8sObject => ({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "pi", namespace: "demo", resourceVersion: "7" },
    spec: {
      completions: 3,
      parallelism: 1,
      backoffLimit: 6,
      suspend: false,
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": "u1" } },
      template: { metadata: { labels: { "batch.kubernetes.io/controller-uid": "u1" } }, spec: { restartPolicy: "Never", containers: [{ name: "pi", image: "perl:5.34" }] } },
    },
  });

  it("writes only what Kubernetes lets change: parallelism, backoff limit, deadline, time to live, suspend", () => {
    const f = toForm("jobs", job());
    expect(applyEdit(job(), f)).toEqual(job());
    const edited = applyEdit(job(), {
      ...f,
      parallelism: "2",
      backoffLimit: "1",
      activeDeadlineSeconds: "600",
      ttlSecondsAfterFinished: "3600",
      suspend: true,
      // What the form would carry for these cannot reach an existing Job.
      completions: "9",
      restartPolicy: "OnFailure",
      containers: [{ ...f.containers[0], image: "perl:5.40" }],
      volumes: [{ name: "v", source: "emptyDir", ref: "" }],
    });
    expect(edited.spec).toEqual({ ...job().spec, parallelism: 2, backoffLimit: 1, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 3600, suspend: true });
  });

  it("reads its deadline and time to live, and clears them when emptied", () => {
    const o = job();
    o.spec.activeDeadlineSeconds = 60;
    o.spec.ttlSecondsAfterFinished = 100;
    const f = toForm("jobs", o);
    expect([f.activeDeadlineSeconds, f.ttlSecondsAfterFinished]).toEqual(["60", "100"]);
    const cleared = applyEdit(o, { ...f, activeDeadlineSeconds: "", ttlSecondsAfterFinished: "" });
    expect(cleared.spec).toEqual(job().spec);
    expect(() => applyEdit(o, { ...f, parallelism: "-1" })).toThrow(FormError);
  });

  it("keeps the whole form for a CronJob, whose job template may change", () => {
    const built = buildWorkload(form("cronjobs", { activeDeadlineSeconds: "30", ttlSecondsAfterFinished: "90" }), "demo");
    expect(built.spec.jobTemplate.spec).toMatchObject({ activeDeadlineSeconds: 30, ttlSecondsAfterFinished: 90 });
    const f = toForm("cronjobs", built);
    const edited = applyEdit(built, { ...f, containers: [{ ...f.containers[0], image: "busybox:1.37" }], completions: "4" });
    expect(edited.spec.jobTemplate.spec.template.spec.containers[0].image).toBe("busybox:1.37");
    expect(edited.spec.jobTemplate.spec.completions).toBe(4);
  });
});

const rs = (name: string, rev: string, image: string, owner = "u1"): K8sObject => ({
  metadata: { name, uid: name, ownerReferences: [{ uid: owner }], annotations: { [REVISION]: rev, "deployment.kubernetes.io/desired-replicas": "3", note: `from ${rev}` } },
  spec: { template: { metadata: { labels: { app: "web", "pod-template-hash": name } }, spec: { containers: [{ name: "app", image }] } } },
});

describe("revisions and rollback", () => {
  it("lists a Deployment's own ReplicaSets newest first", () => {
    const h = deploymentRevisions(existing, [rs("a", "1", "v1"), rs("c", "3", "v3"), rs("b", "2", "v2"), rs("x", "9", "v9", "other"), { metadata: { name: "n", ownerReferences: [{ uid: "u1" }] } }]);
    expect(h.map((r) => [r.revision, r.images[0]])).toEqual([
      [3, "v3"],
      [2, "v2"],
      [1, "v1"],
    ]);
    expect(currentRevision({ ...existing, metadata: { ...existing.metadata, annotations: { [REVISION]: "2" } } }, h)).toBe(2);
    expect(currentRevision(existing, h)).toBe(3);
  });

  it("patches as kubectl rollout undo does: the template without its hash, the ReplicaSet's annotations", () => {
    const d = { ...existing, metadata: { ...existing.metadata, annotations: { [REVISION]: "3", "kubectl.kubernetes.io/last-applied-configuration": "{}", note: "now" } } };
    expect(deploymentRollbackPatch(d, rs("a", "1", "v1"))).toEqual([
      { op: "replace", path: "/spec/template", value: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "v1" }] } } },
      { op: "replace", path: "/metadata/annotations", value: { [REVISION]: "3", "kubectl.kubernetes.io/last-applied-configuration": "{}", note: "from 1" } },
    ]);
  });

  it("lists ControllerRevisions by revision and finds the current one by name", () => {
    const cr = (name: string, revision: number): K8sObject => ({ metadata: { name, ownerReferences: [{ uid: "u1" }] }, revision, data: { spec: { template: { spec: { containers: [{ image: `i${revision}` }] } } } } });
    const owner = { ...existing, metadata: { name: "db", uid: "u1" }, status: { currentRevision: "db-1" } };
    const h = controllerRevisionsOf(owner, [cr("db-1", 1), cr("db-2", 2)]);
    expect(h.map((r) => r.images[0])).toEqual(["i2", "i1"]);
    expect(currentRevision(owner, h)).toBe(1);
  });
});

describe("autoscalers", () => {
  const target = { apiVersion: "apps/v1", kind: "Deployment", name: "web" };
  it("builds an autoscaling/v2 object and merges edits keeping other metrics", () => {
    const f = { name: "web", minReplicas: "1", maxReplicas: "4", cpu: "70", memory: "" };
    expect(hpaProblem(f)).toBeNull();
    const made = applyHpa(null, f, target, "demo");
    expect(made).toEqual({
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "web", namespace: "demo" },
      spec: { scaleTargetRef: target, minReplicas: 1, maxReplicas: 4, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }] },
    });
    const pods = { type: "Pods", pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "10" } } };
    const live = { ...made, spec: { ...made.spec, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } }, metrics: [...made.spec.metrics, pods] } };
    const back = hpaToForm(live);
    expect(back).toEqual(f);
    const edited = applyHpa(live, { ...back, cpu: "", memory: "80", maxReplicas: "6" }, target, "demo");
    expect(edited.spec.behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 60 } });
    expect(edited.spec.maxReplicas).toBe(6);
    expect(edited.spec.metrics).toEqual([{ type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } } }, pods]);
  });

  it("says what is wrong with a form", () => {
    expect(hpaProblem({ name: "a", minReplicas: "3", maxReplicas: "2", cpu: "50", memory: "" })).toBe("hpa.err.range");
    expect(hpaProblem({ name: "a", minReplicas: "1", maxReplicas: "2", cpu: "", memory: "" })).toBe("hpa.err.metric");
    expect(hpaProblem({ name: "a", minReplicas: "1", maxReplicas: "2", cpu: "x", memory: "" })).toBe("hpa.err.percent");
  });
});
