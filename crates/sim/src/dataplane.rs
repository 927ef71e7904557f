//! The simulation as the API server's data plane: synthetic logs and metrics.

use apiserver::{DataPlane, LogRequest, PodStats};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::logs::LogOptions;

/// Logs and metrics of the simulated containers, at the simulation's time scale.
#[derive(Debug, Clone, Copy)]
pub struct SimDataPlane {
    /// Simulated seconds per real second (lines come faster when time is sped up).
    pub time_scale: f64,
}

impl SimDataPlane {
    fn options(&self, req: &LogRequest) -> LogOptions {
        LogOptions {
            previous: req.previous,
            timestamps: req.timestamps,
            tail_lines: req.tail_lines,
            since_seconds: req.since_seconds,
            since_time: req.since_time,
            limit_bytes: req.limit_bytes,
            time_scale: self.time_scale,
        }
    }
}

impl DataPlane for SimDataPlane {
    fn log_lines(
        &self,
        pod: &Value,
        container: &str,
        req: &LogRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, String> {
        crate::logs::log_lines(pod, container, &self.options(req), now).map_err(|e| e.to_string())
    }

    fn follow_log(
        &self,
        pod: Value,
        container: String,
        req: LogRequest,
    ) -> Result<BoxStream<'static, String>, String> {
        crate::logs::follow_stream(pod, container, self.options(&req))
            .map(|s| s.boxed())
            .map_err(|e| e.to_string())
    }

    fn node_metrics(&self, node: &Value, pods_on_node: &[Value], now: DateTime<Utc>) -> Value {
        crate::metrics::node_metrics(node, pods_on_node, now)
    }

    fn pod_metrics(&self, pod: &Value, now: DateTime<Utc>) -> Option<Value> {
        crate::metrics::pod_metrics(pod, now)
    }

    fn pod_stats(&self, pod: &Value, now: DateTime<Utc>) -> Option<PodStats> {
        crate::metrics::pod_stats(pod, now)
    }
}
