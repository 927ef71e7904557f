//! What the API server needs from the data plane it fronts: container logs (`pods/log`) and
//! resource usage (`metrics.k8s.io`, and the cAdvisor series of `/metrics/cadvisor`). The embedded cluster has no kubelets; whatever runs the
//! workloads (the `sim` crate in `orrery`) implements [`DataPlane`] and is handed to
//! [`crate::ClusterConfig::data_plane`], so the API server depends on no data-plane crate.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde_json::Value;

/// The `pods/log` query, as kube's `PodLogOptions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRequest {
    /// `previous`: the log of the previous (crashed) instance.
    pub previous: bool,
    /// `timestamps`: prefix every line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// `tailLines`.
    pub tail_lines: Option<i64>,
    /// `sinceSeconds`.
    pub since_seconds: Option<i64>,
    /// `sinceTime`.
    pub since_time: Option<DateTime<Utc>>,
    /// `limitBytes`.
    pub limit_bytes: Option<i64>,
}

/// What cAdvisor reports for one running container: counters since the container started
/// (they restart from zero with a new container instance, as a real container's cgroup does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerStats {
    /// The container's name in the pod spec.
    pub container: String,
    /// CPU time used since the container started (`container_cpu_usage_seconds_total`).
    pub cpu_usage_seconds_total: f64,
    /// Memory in use that cannot be reclaimed (`container_memory_working_set_bytes`).
    pub memory_working_set_bytes: f64,
    /// Memory in use including page cache (`container_memory_usage_bytes`).
    pub memory_usage_bytes: f64,
}

/// What cAdvisor reports for a running pod: its containers and its sandbox's network.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodStats {
    /// One entry per running container.
    pub containers: Vec<ContainerStats>,
    /// Bytes received on the pod's network interface since the sandbox started.
    pub network_receive_bytes_total: Option<f64>,
    /// Bytes sent on the pod's network interface since the sandbox started.
    pub network_transmit_bytes_total: Option<f64>,
}

/// A node's instantaneous usage, as the kubelet's resource metrics report it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeUsage {
    /// CPU in cores.
    pub cpu_cores: f64,
    /// Working-set memory in bytes.
    pub memory_working_set_bytes: f64,
}

/// A quantity string as a number (cores for CPU, bytes for memory); 0 when unparsable.
fn quantity_value(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| apimachinery::quantity::Quantity::parse(s).ok())
        .map(|q| q.as_f64())
        .unwrap_or(0.0)
}

/// Logs and metrics of the workloads behind the API.
pub trait DataPlane: Send + Sync + std::fmt::Debug {
    /// The log lines of `container` of `pod` so far; the error is a message for the client
    /// (400).
    fn log_lines(
        &self,
        pod: &Value,
        container: &str,
        req: &LogRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, String>;

    /// The log of `container` of `pod`, followed as it is written.
    fn follow_log(
        &self,
        pod: Value,
        container: String,
        req: LogRequest,
    ) -> Result<BoxStream<'static, String>, String>;

    /// A `NodeMetrics` object for `node` with `pods_on_node` running on it.
    fn node_metrics(&self, node: &Value, pods_on_node: &[Value], now: DateTime<Utc>) -> Value;

    /// A `PodMetrics` object for `pod`, if it runs.
    fn pod_metrics(&self, pod: &Value, now: DateTime<Utc>) -> Option<Value>;

    /// cAdvisor's counters and gauges for `pod`, if it runs (none by default: a data plane
    /// without them shows no container series).
    fn pod_stats(&self, pod: &Value, now: DateTime<Utc>) -> Option<PodStats> {
        let _ = (pod, now);
        None
    }

    /// The usage of `node` with `pods_on_node` on it; by default read from
    /// [`DataPlane::node_metrics`].
    fn node_usage(&self, node: &Value, pods_on_node: &[Value], now: DateTime<Utc>) -> NodeUsage {
        let m = self.node_metrics(node, pods_on_node, now);
        NodeUsage {
            cpu_cores: quantity_value(&m["usage"]["cpu"]),
            memory_working_set_bytes: quantity_value(&m["usage"]["memory"]),
        }
    }
}
