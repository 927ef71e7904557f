//! The leader's sampler: every interval, for every ready cluster without a Prometheus, the
//! usage of `metrics.k8s.io` and the pods' and nodes' state into the cluster's store, under
//! the names Prometheus users know, so the same PromQL answers on both sources:
//!
//! | series | labels | from |
//! |---|---|---|
//! | `container_cpu_usage_seconds_total` (counter) | namespace, pod, container, node | PodMetrics usage × interval, summed |
//! | `container_memory_working_set_bytes` | namespace, pod, container, node | PodMetrics |
//! | `node_cpu_usage_seconds_total` (counter), `node_memory_working_set_bytes` | node | NodeMetrics (kubelet's resource metrics names) |
//! | `kube_pod_info` (1) | namespace, pod, node, uid, created_by_kind, created_by_name | pods |
//! | `kube_pod_owner` (1) | namespace, pod, owner_kind, owner_name, owner_is_controller | pods |
//! | `kube_pod_status_phase` (0/1) | namespace, pod, phase (the five phases) | pods |
//! | `kube_pod_container_status_restarts_total` | namespace, pod, container | pods |
//! | `kube_node_info` (1) | node, kubelet_version, os_image, internal_ip | nodes |
//! | `kube_node_status_capacity`, `kube_node_status_allocatable` | node, resource (cpu/memory/pods), unit | nodes |
//!
//! CPU counters are integrated from the sampled usage; a replica that becomes leader continues
//! them from the last value in its (shared) copy of the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Monitoring;
use super::store::{Labels, NAME, Store};
use crate::http::AppState;

const PHASES: [&str; 5] = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];

/// How long one cluster's sampling calls may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut l: Labels = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert(NAME.to_string(), name.to_string());
    l
}

/// Kubernetes CPU quantity (`250m`, `1`, `123456n`, `5u`) in cores.
pub fn cpu_cores(q: &str) -> Option<f64> {
    let q = q.trim();
    let (num, scale) = if let Some(n) = q.strip_suffix('n') {
        (n, 1e-9)
    } else if let Some(n) = q.strip_suffix('u') {
        (n, 1e-6)
    } else if let Some(n) = q.strip_suffix('m') {
        (n, 1e-3)
    } else {
        (q, 1.0)
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// Kubernetes memory quantity (`128Mi`, `1Gi`, `1000Ki`, `1e9`, `1G`) in bytes.
pub fn bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    const SUFFIXES: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Pi", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Ei", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (s, m) in SUFFIXES {
        if let Some(n) = q.strip_suffix(s) {
            return n.parse::<f64>().ok().map(|v| v * m);
        }
    }
    q.parse().ok()
}

/// What one cluster looked like at one sampling time.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Pods (JSON).
    pub pods: Vec<Value>,
    /// Nodes (JSON).
    pub nodes: Vec<Value>,
    /// PodMetrics (JSON).
    pub pod_metrics: Vec<Value>,
    /// NodeMetrics (JSON).
    pub node_metrics: Vec<Value>,
}

/// Writes one snapshot into `store` at `slot`; `interval` is the time since the previous
/// sample (the CPU counters grow by usage × interval).
pub fn record(store: &mut Store, slot: u32, interval: Duration, snap: &Snapshot) {
    let secs = interval.as_secs_f64();
    let node_of = record_pods(store, slot, &snap.pods);
    record_pod_usage(store, slot, secs, &snap.pod_metrics, &node_of);
    record_node_usage(store, slot, secs, &snap.node_metrics);
    record_nodes(store, slot, &snap.nodes);
}

/// Pod info, owner, phase and restart series; answers the node each pod runs on.
fn record_pods(store: &mut Store, slot: u32, pods: &[Value]) -> HashMap<(String, String), String> {
    let mut node_of: HashMap<(String, String), String> = HashMap::new();
    for p in pods {
        let meta = &p["metadata"];
        let ns = meta["namespace"].as_str().unwrap_or_default();
        let pod = meta["name"].as_str().unwrap_or_default();
        let node = p["spec"]["nodeName"].as_str().unwrap_or_default();
        node_of.insert((ns.to_string(), pod.to_string()), node.to_string());
        let owner = meta["ownerReferences"]
            .as_array()
            .and_then(|o| {
                o.iter()
                    .find(|r| r["controller"] == true)
                    .or_else(|| o.first())
            })
            .cloned()
            .unwrap_or(Value::Null);
        let (okind, oname) = (
            owner["kind"].as_str().unwrap_or(""),
            owner["name"].as_str().unwrap_or(""),
        );
        let base = [("namespace", ns), ("pod", pod)];
        store.append(
            &labels(
                "kube_pod_info",
                &[
                    base[0],
                    base[1],
                    ("node", node),
                    ("uid", meta["uid"].as_str().unwrap_or("")),
                    ("created_by_kind", okind),
                    ("created_by_name", oname),
                    ("pod_ip", p["status"]["podIP"].as_str().unwrap_or("")),
                    ("host_ip", p["status"]["hostIP"].as_str().unwrap_or("")),
                ],
            ),
            slot,
            1.0,
        );
        store.append(
            &labels(
                "kube_pod_owner",
                &[
                    base[0],
                    base[1],
                    (
                        "owner_kind",
                        if okind.is_empty() { "<none>" } else { okind },
                    ),
                    (
                        "owner_name",
                        if oname.is_empty() { "<none>" } else { oname },
                    ),
                    (
                        "owner_is_controller",
                        if owner["controller"] == true {
                            "true"
                        } else {
                            "false"
                        },
                    ),
                ],
            ),
            slot,
            1.0,
        );
        let phase = p["status"]["phase"].as_str().unwrap_or("Unknown");
        for ph in PHASES {
            store.append(
                &labels("kube_pod_status_phase", &[base[0], base[1], ("phase", ph)]),
                slot,
                if ph == phase { 1.0 } else { 0.0 },
            );
        }
        for cs in p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let c = cs["name"].as_str().unwrap_or_default();
            store.append(
                &labels(
                    "kube_pod_container_status_restarts_total",
                    &[base[0], base[1], ("container", c)],
                ),
                slot,
                cs["restartCount"].as_f64().unwrap_or(0.0),
            );
        }
    }
    node_of
}

/// Containers' CPU (a counter growing by usage × `secs`) and memory series.
fn record_pod_usage(
    store: &mut Store,
    slot: u32,
    secs: f64,
    pod_metrics: &[Value],
    node_of: &HashMap<(String, String), String>,
) {
    for m in pod_metrics {
        let ns = m["metadata"]["namespace"].as_str().unwrap_or_default();
        let pod = m["metadata"]["name"].as_str().unwrap_or_default();
        let node = node_of
            .get(&(ns.to_string(), pod.to_string()))
            .cloned()
            .unwrap_or_default();
        for c in m["containers"].as_array().into_iter().flatten() {
            let cname = c["name"].as_str().unwrap_or_default();
            let pairs = [
                ("namespace", ns),
                ("pod", pod),
                ("container", cname),
                ("node", node.as_str()),
            ];
            if let Some(cores) = c["usage"]["cpu"].as_str().and_then(cpu_cores) {
                add_counter(
                    store,
                    &labels("container_cpu_usage_seconds_total", &pairs),
                    slot,
                    cores * secs,
                );
            }
            if let Some(b) = c["usage"]["memory"].as_str().and_then(bytes) {
                store.append(
                    &labels("container_memory_working_set_bytes", &pairs),
                    slot,
                    b,
                );
            }
        }
    }
}

/// Nodes' CPU (a counter growing by usage × `secs`) and memory series.
fn record_node_usage(store: &mut Store, slot: u32, secs: f64, node_metrics: &[Value]) {
    for m in node_metrics {
        let node = m["metadata"]["name"].as_str().unwrap_or_default();
        if let Some(cores) = m["usage"]["cpu"].as_str().and_then(cpu_cores) {
            add_counter(
                store,
                &labels("node_cpu_usage_seconds_total", &[("node", node)]),
                slot,
                cores * secs,
            );
        }
        if let Some(b) = m["usage"]["memory"].as_str().and_then(bytes) {
            store.append(
                &labels("node_memory_working_set_bytes", &[("node", node)]),
                slot,
                b,
            );
        }
    }
}

/// Node info, capacity and allocatable series.
fn record_nodes(store: &mut Store, slot: u32, nodes: &[Value]) {
    for n in nodes {
        let node = n["metadata"]["name"].as_str().unwrap_or_default();
        let info = &n["status"]["nodeInfo"];
        let ip = n["status"]["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
            .and_then(|x| x["address"].as_str())
            .unwrap_or("");
        store.append(
            &labels(
                "kube_node_info",
                &[
                    ("node", node),
                    (
                        "kubelet_version",
                        info["kubeletVersion"].as_str().unwrap_or(""),
                    ),
                    ("os_image", info["osImage"].as_str().unwrap_or("")),
                    ("internal_ip", ip),
                ],
            ),
            slot,
            1.0,
        );
        for (field, metric) in [
            ("capacity", "kube_node_status_capacity"),
            ("allocatable", "kube_node_status_allocatable"),
        ] {
            let q = &n["status"][field];
            let values = [
                ("cpu", "core", q["cpu"].as_str().and_then(cpu_cores)),
                ("memory", "byte", q["memory"].as_str().and_then(bytes)),
                (
                    "pods",
                    "integer",
                    q["pods"].as_str().and_then(|p| p.parse().ok()),
                ),
            ];
            for (resource, unit, v) in values {
                if let Some(v) = v {
                    store.append(
                        &labels(
                            metric,
                            &[("node", node), ("resource", resource), ("unit", unit)],
                        ),
                        slot,
                        v,
                    );
                }
            }
        }
    }
}

/// Adds `inc` to a counter series, continuing from its last stored value.
fn add_counter(store: &mut Store, l: &Labels, slot: u32, inc: f64) {
    let last = store.last_value(l).unwrap_or(0.0);
    store.append(l, slot, last + inc);
}

async fn get_json(client: &kube::Client, path: &str) -> Result<Value, String> {
    let req = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(CALL_TIMEOUT, client.request::<Value>(req)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("{path}: no answer in time")),
    }
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Object(mut m) => match m.remove("items") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Reads a cluster's state. Metrics missing (no `metrics.k8s.io`) leave usage out, not the
/// rest.
pub async fn snapshot(client: &kube::Client) -> Result<Snapshot, String> {
    let pods = items(get_json(client, "/api/v1/pods").await?);
    let nodes = items(get_json(client, "/api/v1/nodes").await?);
    let pod_metrics = get_json(client, "/apis/metrics.k8s.io/v1beta1/pods")
        .await
        .map(items)
        .unwrap_or_default();
    let node_metrics = get_json(client, "/apis/metrics.k8s.io/v1beta1/nodes")
        .await
        .map(items)
        .unwrap_or_default();
    Ok(Snapshot {
        pods,
        nodes,
        pod_metrics,
        node_metrics,
    })
}

/// Samples every cluster once at `now`.
pub async fn sample_all(state: &AppState, now: SystemTime) {
    let mon = &state.monitoring;
    for member in state.clusters.all() {
        if !member.is_ready() || mon.prometheus_of(&member.name).is_some() {
            continue;
        }
        match snapshot(&member.client).await {
            Ok(snap) => {
                let store = mon.store(&member.name);
                let mut s = store.write().unwrap_or_else(|p| p.into_inner());
                let slot = s.slot_of(super::millis(now));
                // The counters grow by the time actually elapsed since the last sample (a
                // missed round is not lost usage), at most a few intervals.
                let step = Duration::from_millis(u64::try_from(s.step_ms()).unwrap_or(60_000));
                let elapsed = s
                    .last_slot()
                    .filter(|l| *l < slot)
                    .map_or(step, |l| step * (slot - l).min(5));
                record(&mut s, slot, elapsed, &snap);
                s.mark_stale(slot);
                s.compact(slot);
            }
            Err(e) => tracing::warn!(cluster = %member.name, error = %e, "monitoring sample"),
        }
    }
}

/// How long until the next grid point after `now`.
fn until_next(now: SystemTime, step: Duration) -> Duration {
    let ms = super::millis(now);
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(60_000).max(1);
    let next = (ms.div_euclid(step_ms) + 1) * step_ms;
    Duration::from_millis(u64::try_from(next - ms).unwrap_or(0))
}

/// While this replica leads: sample every interval and publish the stores for the other
/// replicas; while it follows: load what the leader published.
pub async fn run(
    state: Arc<AppState>,
    mut leader: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    let step = state.monitoring.settings().interval;
    let mut was_leader = false;
    loop {
        let leading = *leader.borrow_and_update();
        if leading {
            if !was_leader {
                // Continue the series where the last leader left them.
                super::share::load_all(&state, true).await;
            }
            sample_all(&state, SystemTime::now()).await;
            super::share::publish_all(&state).await;
        } else {
            super::share::load_all(&state, false).await;
        }
        was_leader = leading;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = leader.changed() => {}
            _ = tokio::time::sleep(until_next(SystemTime::now(), step)) => {}
        }
    }
}

impl Monitoring {
    /// Samples one cluster's state into its store at `now` (the sampler's step, exposed for
    /// tests and benchmarks that feed a store directly).
    pub fn record(&self, cluster: &str, now: SystemTime, interval: Duration, snap: &Snapshot) {
        let store = self.store(cluster);
        let mut s = store.write().unwrap_or_else(|p| p.into_inner());
        let slot = s.slot_of(super::millis(now));
        record(&mut s, slot, interval, snap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(cpu_cores("250m"), Some(0.25));
        assert_eq!(cpu_cores("2"), Some(2.0));
        assert!((cpu_cores("123456789n").unwrap_or(0.0) - 0.123456789).abs() < 1e-12);
        assert_eq!(bytes("1Ki"), Some(1024.0));
        assert_eq!(bytes("2Gi"), Some(2.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(bytes("1G"), Some(1e9));
        assert_eq!(bytes("x"), None);
    }

    #[test]
    fn a_snapshot_becomes_prometheus_series_and_cpu_accumulates() {
        let snap = Snapshot {
            pods: vec![json!({
                "metadata": {"name": "web-1", "namespace": "p", "uid": "u1",
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d", "controller": true}]},
                "spec": {"nodeName": "n1"},
                "status": {"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 3}]}
            })],
            nodes: vec![json!({"metadata": {"name": "n1"},
                "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}})],
            pod_metrics: vec![json!({"metadata": {"name": "web-1", "namespace": "p"},
                "containers": [{"name": "app", "usage": {"cpu": "500m", "memory": "64Mi"}}]})],
            node_metrics: vec![json!({"metadata": {"name": "n1"},
                "usage": {"cpu": "1", "memory": "1Gi"}})],
        };
        let mut s = Store::new(Duration::from_secs(60), 1440);
        for slot in 0..3 {
            record(&mut s, slot, Duration::from_secs(60), &snap);
        }
        let get = |name: &str| {
            s.select(Some(name), &|_| true, i64::MIN, i64::MAX, 100)
                .unwrap_or_default()
        };
        let cpu = get("container_cpu_usage_seconds_total");
        assert_eq!(cpu.len(), 1);
        assert_eq!(cpu[0].labels["node"], "n1");
        assert_eq!(
            cpu[0].points.iter().map(|p| p.1).collect::<Vec<_>>(),
            [30.0, 60.0, 90.0]
        );
        assert_eq!(
            get("container_memory_working_set_bytes")[0].points[0].1,
            64.0 * 1048576.0
        );
        let phases = get("kube_pod_status_phase");
        assert_eq!(phases.len(), 5);
        let running: Vec<_> = phases.iter().filter(|p| p.points[0].1 == 1.0).collect();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].labels["phase"], "Running");
        assert_eq!(
            get("kube_pod_container_status_restarts_total")[0].points[0].1,
            3.0
        );
        let owner = get("kube_pod_owner");
        assert_eq!(owner[0].labels["owner_name"], "web-5d");
        assert_eq!(
            get("kube_pod_info")[0].labels["created_by_kind"],
            "ReplicaSet"
        );
        assert_eq!(get("node_cpu_usage_seconds_total")[0].points[2].1, 180.0);
        assert_eq!(get("kube_node_status_capacity").len(), 3);
        assert_eq!(get("kube_node_info").len(), 1);
    }

    #[test]
    fn the_next_grid_point() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(125_500);
        assert_eq!(
            until_next(t, Duration::from_secs(60)),
            Duration::from_millis(54_500)
        );
    }
}
