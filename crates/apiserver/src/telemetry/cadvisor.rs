//! cAdvisor's and the kubelet's resource series for the nodes and pods the data plane runs:
//! `container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`,
//! `container_memory_usage_bytes`, `container_network_{receive,transmit}_bytes_total`,
//! `machine_cpu_cores`, `machine_memory_bytes`, and `node_cpu_usage_seconds_total` /
//! `node_memory_working_set_bytes` as `/metrics/resource` names them.
//!
//! Container counters come from the data plane, which knows when each container started. A
//! node's CPU counter is integrated here, scrape by scrape, from the node's instantaneous
//! usage: its pods come and go, so no sum over them would stay monotonic.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::snapshot::{Labels, Snapshot};
use crate::dataplane::DataPlane;

/// Each node's integrated CPU time: (when last integrated, seconds so far).
#[derive(Debug, Default)]
pub struct NodeCpuCounters {
    nodes: Mutex<HashMap<String, (DateTime<Utc>, f64)>>,
}

impl NodeCpuCounters {
    /// Advances `node`'s counter to `now` at `cores` and returns it. A node seen for the first
    /// time starts with its current usage over its age, so the counter does not start at 0
    /// long after the node did.
    fn advance(
        &self,
        node: &str,
        created: Option<DateTime<Utc>>,
        cores: f64,
        now: DateTime<Utc>,
    ) -> f64 {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let entry = nodes.entry(node.to_string()).or_insert_with(|| {
            let age = created
                .map(|c| (now - c).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            (now, cores * age)
        });
        let dt = (now - entry.0).num_milliseconds().max(0) as f64 / 1000.0;
        entry.0 = entry.0.max(now);
        entry.1 += cores * dt;
        entry.1
    }

    /// Forgets nodes that no longer exist.
    fn retain(&self, live: &[&str]) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.retain(|n, _| live.contains(&n.as_str()));
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn quantity(v: &Value) -> Option<f64> {
    apimachinery::quantity::Quantity::parse(v.as_str()?)
        .ok()
        .map(|q| q.as_f64())
}

fn created(obj: &Value) -> Option<DateTime<Utc>> {
    chrono::DateTime::parse_from_rfc3339(obj["metadata"]["creationTimestamp"].as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The pod's cgroup, as cAdvisor's `id` label shows it.
fn pod_cgroup(pod: &Value) -> String {
    let qos = match pod["status"]["qosClass"].as_str() {
        Some("Guaranteed") => "",
        Some("BestEffort") => "besteffort/",
        _ => "burstable/",
    };
    format!("/kubepods/{qos}pod{}", s(&pod["metadata"]["uid"]))
}

/// Adds the cAdvisor and resource series of `nodes` (all of them, or the one a node proxy
/// names) with the `pods` bound to them.
pub fn collect(
    plane: &dyn DataPlane,
    counters: &NodeCpuCounters,
    nodes: &[Value],
    pods: &[Value],
    forget_others: bool,
    now: DateTime<Utc>,
    out: &mut Snapshot,
) {
    let cpu = out.counter(
        "container_cpu_usage_seconds",
        "Cumulative cpu time consumed in seconds.",
    );
    let working_set = out.gauge(
        "container_memory_working_set_bytes",
        "Current working set in bytes.",
    );
    let usage = out.gauge(
        "container_memory_usage_bytes",
        "Current memory usage in bytes, including all memory regardless of when it was accessed",
    );
    let rx = out.counter(
        "container_network_receive_bytes",
        "Cumulative count of bytes received",
    );
    let tx = out.counter(
        "container_network_transmit_bytes",
        "Cumulative count of bytes transmitted",
    );
    let cores = out.gauge("machine_cpu_cores", "Number of logical CPU cores.");
    let memory = out.gauge(
        "machine_memory_bytes",
        "Amount of memory installed on the machine.",
    );
    let node_cpu = out.counter(
        "node_cpu_usage_seconds",
        "Cumulative cpu time consumed by the node in core-seconds",
    );
    let node_mem = out.gauge(
        "node_memory_working_set_bytes",
        "Current working set of the node in bytes",
    );
    for node in nodes {
        let name = s(&node["metadata"]["name"]);
        let on: Vec<Value> = pods
            .iter()
            .filter(|p| p["spec"]["nodeName"] == node["metadata"]["name"])
            .cloned()
            .collect();
        let node_label: Labels = vec![("node", name.clone())];
        if let Some(c) = quantity(&node["status"]["capacity"]["cpu"]) {
            out.add(cores, node_label.clone(), c);
        }
        if let Some(m) = quantity(&node["status"]["capacity"]["memory"]) {
            out.add(memory, node_label.clone(), m);
        }
        let u = plane.node_usage(node, &on, now);
        let total = counters.advance(&name, created(node), u.cpu_cores, now);
        out.add(node_cpu, node_label.clone(), total);
        out.add(node_mem, node_label, u.memory_working_set_bytes);
        for pod in &on {
            let Some(stats) = plane.pod_stats(pod, now) else {
                continue;
            };
            let ns = s(&pod["metadata"]["namespace"]);
            let pod_name = s(&pod["metadata"]["name"]);
            let cgroup = pod_cgroup(pod);
            let statuses = pod["status"]["containerStatuses"].as_array();
            for c in &stats.containers {
                let status =
                    statuses.and_then(|ss| ss.iter().find(|st| st["name"] == c.container.as_str()));
                let container_id = status.map(|st| s(&st["containerID"])).unwrap_or_default();
                let short_id = container_id.rsplit("://").next().unwrap_or("").to_string();
                let image = status
                    .map(|st| s(&st["image"]))
                    .filter(|i| !i.is_empty())
                    .or_else(|| {
                        pod["spec"]["containers"]
                            .as_array()
                            .and_then(|cs| cs.iter().find(|x| x["name"] == c.container.as_str()))
                            .map(|x| s(&x["image"]))
                    })
                    .unwrap_or_default();
                let labels: Labels = vec![
                    ("container", c.container.clone()),
                    ("id", format!("{cgroup}/{short_id}")),
                    ("image", image),
                    ("name", short_id),
                    ("namespace", ns.clone()),
                    ("pod", pod_name.clone()),
                    ("node", name.clone()),
                ];
                out.add(cpu, labels.clone(), c.cpu_usage_seconds_total);
                out.add(working_set, labels.clone(), c.memory_working_set_bytes);
                out.add(usage, labels, c.memory_usage_bytes);
            }
            // Network is the pod sandbox's: no container label, as cAdvisor reports it.
            let net: Labels = vec![
                ("id", cgroup),
                ("interface", "eth0".into()),
                ("namespace", ns),
                ("pod", pod_name),
                ("node", name.clone()),
            ];
            if let Some(v) = stats.network_receive_bytes_total {
                out.add(rx, net.clone(), v);
            }
            if let Some(v) = stats.network_transmit_bytes_total {
                out.add(tx, net, v);
            }
        }
    }
    if forget_others {
        let live: Vec<&str> = nodes
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str())
            .collect();
        counters.retain(&live);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_counters_integrate_usage_and_never_go_back() {
        let c = NodeCpuCounters::default();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let created = t0 - chrono::Duration::seconds(100);
        // First sight: 100 s of age at 0.5 cores.
        assert_eq!(c.advance("n", Some(created), 0.5, t0), 50.0);
        let t1 = t0 + chrono::Duration::seconds(10);
        assert_eq!(c.advance("n", Some(created), 2.0, t1), 70.0);
        // A clock that steps back adds nothing.
        assert_eq!(c.advance("n", Some(created), 2.0, t0), 70.0);
        c.retain(&[]);
        assert_eq!(c.advance("n", None, 1.0, t1), 0.0);
    }
}
