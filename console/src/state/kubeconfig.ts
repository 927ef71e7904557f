// Member kubeconfigs in the join wizard (pure, unit tested): what a pasted or uploaded
// kubeconfig says, read in the browser so people learn before they send it that an exec plugin
// the platform does not allow, or a file on the platform's machine, will be refused. The server
// checks again and has the last word (POST …/clusters/validation).

import { load } from "js-yaml";
import type { K8sObject } from "../api/watch";

/** What the wizard shows about a kubeconfig. */
export interface KubeconfigSummary {
  /** The current context (or the only one). */
  context: string;
  /** The API server of that context's cluster. */
  server: string;
  /** How that context's user authenticates. */
  auth: "token" | "certificate" | "exec" | "basic" | "none";
  /** Exec plugin commands any user of the kubeconfig runs. */
  exec: string[];
  /** Of those, the ones the platform does not allow. */
  refusedExec: string[];
  /** Fields naming files on the platform's machine (refused: embed the data). */
  localFiles: string[];
}

type Named<T> = { name?: string } & T;
interface Doc {
  "current-context"?: string;
  clusters?: Named<{ cluster?: Record<string, unknown> }>[];
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
}

/** Reads a kubeconfig (YAML text, or that text in base64): a summary, or why it cannot be one. */
export function inspectKubeconfig(text: string, allowed: string[]): { summary?: KubeconfigSummary; problem?: string } {
  if (!text.trim()) return { problem: "empty" };
  let doc: unknown;
  try {
    doc = load(decodeMaybeBase64(text));
  } catch (e) {
    return { problem: (e as Error).message.split("\n")[0] };
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { problem: "not a mapping" };
  const kc = doc as Doc;
  const contexts = Array.isArray(kc.contexts) ? kc.contexts : [];
  const clusters = Array.isArray(kc.clusters) ? kc.clusters : [];
  const users = Array.isArray(kc.users) ? kc.users : [];
  if (!clusters.length || !contexts.length) return { problem: "no cluster or context" };
  const current = kc["current-context"] ? contexts.find((c) => c.name === kc["current-context"]) : contexts.length === 1 ? contexts[0] : undefined;
  if (!current) return { problem: "no current context" };
  const cluster = clusters.find((c) => c.name === current.context?.cluster)?.cluster ?? {};
  const user = users.find((u) => u.name === current.context?.user)?.user ?? {};
  const exec = users.map((u) => (u.user?.exec as { command?: unknown } | undefined)?.command).filter((c): c is string => typeof c === "string");
  const localFiles: string[] = [];
  for (const c of clusters) if (c.cluster?.["certificate-authority"]) localFiles.push("certificate-authority");
  for (const u of users) {
    for (const f of ["client-certificate", "client-key", "tokenFile"]) if (u.user?.[f]) localFiles.push(f);
  }
  const auth: KubeconfigSummary["auth"] = user.exec
    ? "exec"
    : user.token
      ? "token"
      : user["client-certificate-data"]
        ? "certificate"
        : user.username
          ? "basic"
          : "none";
  return {
    summary: {
      context: current.name ?? "",
      server: typeof cluster.server === "string" ? cluster.server : "",
      auth,
      exec,
      refusedExec: exec.filter((c) => !allowed.includes(c)),
      localFiles: [...new Set(localFiles)],
    },
  };
}

/** `text` itself, or what it decodes to when it is base64 of a kubeconfig (as Cluster specs carry). */
export function decodeMaybeBase64(text: string): string {
  const compact = text.replace(/\s+/g, "");
  if (!compact || !/^[A-Za-z0-9+/]+=*$/.test(compact)) return text;
  try {
    const bytes = Uint8Array.from(atob(compact), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return text;
  }
}

/** UTF-8 text in base64 (a Cluster's `spec.connection.kubeconfig`). */
export function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** The Cluster the wizard joins (the platform moves the kubeconfig into a Secret). */
export function clusterToJoin(f: { name: string; provider: string; description: string; kubeconfig: string }): K8sObject {
  const annotations: Record<string, string> = {};
  if (f.description.trim()) annotations["kubesphere.io/description"] = f.description.trim();
  return {
    apiVersion: "cluster.kubesphere.io/v1alpha1",
    kind: "Cluster",
    metadata: { name: f.name.trim(), annotations },
    spec: { provider: f.provider.trim(), enable: true, connection: { type: "direct", kubeconfig: toBase64(decodeMaybeBase64(f.kubeconfig)) } },
  };
}

/** A cluster's condition of `type`, if it reports one. */
export function conditionOf(o: K8sObject | undefined, type: string): { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string } | undefined {
  return ((o?.status?.conditions ?? []) as { type: string; status: string }[]).find((c) => c.type === type);
}

/** When the member's kubeconfig client certificate expires (the platform states it in the
 * KubeConfigCertExpiresInSevenDays condition), or null when it authenticates otherwise. */
export function certExpiry(o: K8sObject | undefined): string | null {
  const c = conditionOf(o, "KubeConfigCertExpiresInSevenDays");
  const m = /expires at (\S+)/.exec(c?.message ?? "");
  return m && !Number.isNaN(Date.parse(m[1])) ? m[1] : null;
}
