// Turning the console's forms into Kubernetes objects (pure, unit tested).

export interface DeploymentForm {
  name: string;
  image: string;
  replicas: number;
  ports: string;
  env: string;
  cpuRequest: string;
  memoryRequest: string;
  cpuLimit: string;
  memoryLimit: string;
}

export interface ServiceForm {
  name: string;
  app: string;
  port: number;
  targetPort: number;
  type: "ClusterIP" | "NodePort";
}

/** `NAME=value` lines to env vars (blank lines skipped; a line without `=` is an error). */
export function parseEnv(text: string): { name: string; value: string }[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const i = l.indexOf("=");
      if (i <= 0) throw new Error(`environment line "${l}" is not NAME=value`);
      return { name: l.slice(0, i).trim(), value: l.slice(i + 1) };
    });
}

/** "80, 443" to container ports. */
export function parsePorts(text: string): { containerPort: number; protocol: string }[] {
  return text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const n = Number(p);
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`port "${p}" is not a number from 1 to 65535`);
      return { containerPort: n, protocol: "TCP" };
    });
}

function quantities(cpu: string, memory: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (cpu.trim()) out.cpu = cpu.trim();
  if (memory.trim()) out.memory = memory.trim();
  return Object.keys(out).length ? out : undefined;
}

/** A Deployment of one container labelled `app=<name>`. */
export function buildDeployment(f: DeploymentForm, namespace: string) {
  const labels = { app: f.name };
  const requests = quantities(f.cpuRequest, f.memoryRequest);
  const limits = quantities(f.cpuLimit, f.memoryLimit);
  const env = parseEnv(f.env);
  const ports = parsePorts(f.ports);
  const container: Record<string, unknown> = { name: f.name, image: f.image };
  if (ports.length) container.ports = ports;
  if (env.length) container.env = env;
  if (requests || limits) container.resources = { ...(requests && { requests }), ...(limits && { limits }) };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: f.name, namespace, labels },
    spec: {
      replicas: f.replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [container] } },
    },
  };
}

/** A Service selecting `app=<app>`. */
export function buildService(f: ServiceForm, namespace: string) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: f.name, namespace },
    spec: {
      type: f.type,
      selector: { app: f.app },
      ports: [{ name: `tcp-${f.port}`, port: f.port, targetPort: f.targetPort, protocol: "TCP" }],
    },
  };
}
