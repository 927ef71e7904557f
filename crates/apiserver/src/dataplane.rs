//! What the API server needs from the data plane it fronts: container logs (`pods/log`) and
//! resource usage (`metrics.k8s.io`). The embedded cluster has no kubelets; whatever runs the
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
}
