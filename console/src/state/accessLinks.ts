// Which members and roles pages the navigation offers at a cluster, workspace or project: only
// those the caller may list there (asked of the platform's authorizer).

import { useEffect, useState } from "react";
import { api } from "../api/client";
import { clusterPath } from "../api/paths";
import { reviewAt, type RoleLevel } from "./roles";

/** Where the navigation is: a cluster, a workspace, or a project in a cluster. */
export interface AccessPlace {
  cluster?: string;
  ws?: string;
  ns?: string;
}

/** The level of a place and the console address its pages live under; null elsewhere. */
export function accessLevel(p: AccessPlace): { level: RoleLevel; base: string; members: string; roles: string } | null {
  if (p.cluster && p.ns) return { level: { scope: "namespace", cluster: p.cluster, ns: p.ns }, base: `/clusters/${p.cluster}/projects/${p.ns}`, members: "namespacemembers", roles: "roles" };
  if (p.cluster) return { level: { scope: "cluster", cluster: p.cluster }, base: `/clusters/${p.cluster}`, members: "clustermembers", roles: "clusterroles" };
  if (p.ws) return { level: { scope: "workspace", ws: p.ws }, base: `/workspaces/${p.ws}`, members: "workspacemembers", roles: "workspaceroles" };
  return null;
}

async function allowed(level: RoleLevel, resource: string): Promise<boolean> {
  const r = reviewAt(level, "list", resource);
  const review = await api.post<{ status?: { allowed?: boolean } }>(clusterPath(r.cluster, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: { resourceAttributes: r.attrs },
  });
  return !!review.status?.allowed;
}

/** The members and roles addresses at `place` the caller may not list (left out of the navigation). */
export function useHiddenAccessLinks(cluster: string | undefined, ws: string | undefined, ns: string | undefined): Set<string> {
  const [hidden, setHidden] = useState<Set<string>>(() => new Set());
  useEffect(() => {
    const at = accessLevel({ cluster, ws, ns });
    if (!at) return;
    let gone = false;
    const links: [string, string][] = [
      [`${at.base}/members`, at.members],
      [`${at.base}/roles`, at.roles],
    ];
    // Until the answers come the links are hidden, as the platform-level ones are.
    setHidden(new Set(links.map(([to]) => to)));
    void Promise.all(links.map(([, resource]) => allowed(at.level, resource).catch(() => false))).then((oks) => {
      if (!gone) setHidden(new Set(links.filter((_, i) => !oks[i]).map(([to]) => to)));
    });
    return () => {
      gone = true;
    };
  }, [cluster, ws, ns]);
  return hidden;
}
