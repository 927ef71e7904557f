import { describe, expect, it } from "vitest";
import type { K8sObject } from "../api/watch";
import { nodeReady, nodeRoles, nodeZone, podTotals } from "./nodes";

const pod = (phase: string, containers: { requests?: Record<string, string>; limits?: Record<string, string> }[]): K8sObject => ({
  metadata: { name: "p" },
  spec: { containers: containers.map((resources, i) => ({ name: `c${i}`, resources })) },
  status: { phase },
});

describe("a node's facts", () => {
  it("sums what its running and waiting pods request and limit", () => {
    const t = podTotals([
      pod("Running", [{ requests: { cpu: "250m", memory: "64Mi" }, limits: { memory: "128Mi" } }, { requests: { cpu: "1" } }]),
      pod("Pending", [{ requests: { cpu: "500m" } }]),
      // Finished pods hold nothing any more.
      pod("Succeeded", [{ requests: { cpu: "4" } }]),
      pod("Failed", [{ requests: { cpu: "4" } }]),
      pod("Running", [{}]),
    ]);
    expect(t.requests.cpu).toBeCloseTo(1.75);
    expect(t.requests.memory).toBe(64 * 1024 ** 2);
    expect(t.limits).toEqual({ memory: 128 * 1024 ** 2 });
  });

  it("reads roles, zone and readiness", () => {
    const n: K8sObject = {
      metadata: { name: "n", labels: { "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "", "failure-domain.beta.kubernetes.io/zone": "z1" } },
      status: { conditions: [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: "True" }] },
    };
    expect(nodeRoles(n)).toEqual(["control-plane", "worker"]);
    expect(nodeZone(n)).toBe("z1");
    expect(nodeZone({ metadata: { name: "n", labels: { "topology.kubernetes.io/zone": "z2", "failure-domain.beta.kubernetes.io/zone": "old" } } })).toBe("z2");
    expect(nodeReady(n)).toBe(true);
    expect(nodeReady({ metadata: { name: "n" }, status: { conditions: [{ type: "Ready", status: "Unknown" }] } })).toBe(false);
  });
});
