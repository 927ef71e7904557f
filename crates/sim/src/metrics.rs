//! Synthetic `metrics.k8s.io/v1beta1` usage for `kubectl top`: each container uses a stable,
//! hash-seeded fraction of its requests (or limits, or a small default) that drifts slowly over
//! a ten-minute cycle, so numbers are plausible, repeatable and not frozen.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::hash::unit;
use crate::quantity::{parse_bytes, parse_cpu_millis};

/// What the kubelet and system daemons use on every node.
const NODE_OVERHEAD_CPU_MILLIS: f64 = 80.0;
const NODE_OVERHEAD_MEMORY: f64 = 600.0 * 1024.0 * 1024.0;

fn quantity<'a>(c: &'a Value, kind: &str) -> Option<&'a str> {
    c["resources"]["requests"][kind]
        .as_str()
        .or_else(|| c["resources"]["limits"][kind].as_str())
}

/// (nanocores, bytes) one container uses at `now`.
fn container_usage(key: &str, c: &Value, now: DateTime<Utc>) -> (f64, f64) {
    let cpu_base = quantity(c, "cpu")
        .and_then(parse_cpu_millis)
        .map(|m| m as f64)
        .unwrap_or(20.0 + 80.0 * unit(1, key));
    let mem_base = quantity(c, "memory")
        .and_then(parse_bytes)
        .map(|b| b as f64)
        .unwrap_or((16.0 + 112.0 * unit(2, key)) * 1024.0 * 1024.0);
    let phase = unit(3, key) * std::f64::consts::TAU;
    let wave = ((now.timestamp() as f64 / 600.0) * std::f64::consts::TAU + phase).sin();
    let cpu_frac = (0.1 + 0.5 * unit(4, key) + 0.1 * wave).clamp(0.01, 1.0);
    let mem_frac = (0.3 + 0.4 * unit(5, key) + 0.03 * wave).clamp(0.05, 1.0);
    (cpu_base * cpu_frac * 1e6, mem_base * mem_frac)
}

fn cpu_string(nanocores: f64) -> String {
    format!("{}n", nanocores.max(0.0).round() as u64)
}

fn memory_string(bytes: f64) -> String {
    format!("{}Ki", (bytes.max(0.0) / 1024.0).round() as u64)
}

fn ts(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
}

fn containers_usage(pod: &Value, now: DateTime<Utc>) -> Vec<(String, f64, f64)> {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let cname = c["name"].as_str().unwrap_or("").to_string();
            let key = format!("{ns}/{name}/{uid}/{cname}");
            let (cpu, mem) = container_usage(&key, c, now);
            (cname, cpu, mem)
        })
        .collect()
}

/// The `PodMetrics` of a pod (given as JSON) at `now`, or `None` if the pod is not running
/// (metrics-server reports only running pods).
pub fn pod_metrics(pod: &Value, now: DateTime<Utc>) -> Option<Value> {
    if !running(pod) {
        return None;
    }
    let containers: Vec<Value> = containers_usage(pod, now)
        .into_iter()
        .map(|(name, cpu, mem)| json!({"name": name, "usage": {"cpu": cpu_string(cpu), "memory": memory_string(mem)}}))
        .collect();
    Some(json!({
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "creationTimestamp": ts(now),
            "labels": pod["metadata"]["labels"],
        },
        "timestamp": ts(now),
        "window": "15s",
        "containers": containers,
    }))
}

/// The `NodeMetrics` of a node (JSON) whose pods are `pods_on_node`, at `now`: the running
/// pods' usage plus a fixed system overhead, never more than capacity.
pub fn node_metrics(node: &Value, pods_on_node: &[Value], now: DateTime<Utc>) -> Value {
    let (mut cpu, mut mem) = (NODE_OVERHEAD_CPU_MILLIS * 1e6, NODE_OVERHEAD_MEMORY);
    for p in pods_on_node.iter().filter(|p| running(p)) {
        for (_, c, m) in containers_usage(p, now) {
            cpu += c;
            mem += m;
        }
    }
    let cap = &node["status"]["capacity"];
    if let Some(max) = cap["cpu"].as_str().and_then(parse_cpu_millis) {
        cpu = cpu.min(max as f64 * 1e6);
    }
    if let Some(max) = cap["memory"].as_str().and_then(parse_bytes) {
        mem = mem.min(max as f64);
    }
    json!({
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": node["metadata"]["name"], "creationTimestamp": ts(now), "labels": node["metadata"]["labels"]},
        "timestamp": ts(now),
        "window": "20s",
        "usage": {"cpu": cpu_string(cpu), "memory": memory_string(mem)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, req: Option<(&str, &str)>) -> Value {
        let resources = req
            .map(|(c, m)| json!({"requests": {"cpu": c, "memory": m}}))
            .unwrap_or(json!({}));
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
               "spec": {"containers": [{"name": "app", "resources": resources}]},
               "status": {"phase": phase}})
    }

    fn nanos(v: &Value) -> u64 {
        v.as_str().unwrap().trim_end_matches('n').parse().unwrap()
    }

    #[test]
    fn stable_plausible_and_only_for_running_pods() {
        let now = Utc::now();
        let p = pod("a", "Running", Some(("500m", "256Mi")));
        let m1 = pod_metrics(&p, now).unwrap();
        let m2 = pod_metrics(&p, now).unwrap();
        assert_eq!(m1, m2);
        let cpu = nanos(&m1["containers"][0]["usage"]["cpu"]);
        assert!(cpu > 0 && cpu <= 500_000_000, "{cpu}");
        assert_eq!(m1["apiVersion"], "metrics.k8s.io/v1beta1");
        assert!(pod_metrics(&pod("b", "Pending", None), now).is_none());
        let other = pod_metrics(&pod("c", "Running", Some(("500m", "256Mi"))), now).unwrap();
        assert_ne!(
            m1["containers"][0]["usage"],
            other["containers"][0]["usage"]
        );
    }

    #[test]
    fn node_usage_sums_pods_and_is_capped() {
        let now = Utc::now();
        let node = json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "1", "memory": "1Gi"}}});
        let empty = node_metrics(&node, &[], now);
        let pods: Vec<Value> = (0..3)
            .map(|i| pod(&format!("p{i}"), "Running", Some(("200m", "100Mi"))))
            .collect();
        let busy = node_metrics(&node, &pods, now);
        assert!(nanos(&busy["usage"]["cpu"]) > nanos(&empty["usage"]["cpu"]));
        let many: Vec<Value> = (0..50)
            .map(|i| pod(&format!("q{i}"), "Running", Some(("1", "1Gi"))))
            .collect();
        assert_eq!(
            nanos(&node_metrics(&node, &many, now)["usage"]["cpu"]),
            1_000_000_000
        );
    }
}
