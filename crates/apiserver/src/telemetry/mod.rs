//! The embedded cluster's Prometheus endpoints, through `prometheus-client`:
//!
//! - `/metrics`: the API server's own series under kube-apiserver's names (requests, their
//!   latency, long-running requests, objects per resource) and the store's commits;
//! - `/metrics/kube-state`: kube-state-metrics' series for the objects in the store;
//! - `/metrics/cadvisor` (every node) and `/api/v1/nodes/{node}/proxy/metrics/cadvisor` (one
//!   node, as kubelets expose it through the API server): cAdvisor's container series and the
//!   kubelet's node usage, from the [`crate::DataPlane`].
//!
//! Who may read them is RBAC's answer, as in kube-apiserver: `get` on the non-resource URLs
//! for the first three, `get` on `nodes/proxy` for the node proxy. The answer is OpenMetrics
//! when the scraper asks for it (Prometheus does), else the Prometheus text format 0.0.4.

mod cadvisor;
mod kube_state;
mod requests;
mod snapshot;

use std::sync::Arc;

use apimachinery::status::ApiError;
use axum::body::Body;
use http::{HeaderMap, Response};
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::request::RequestInfo;
pub use requests::{InFlight, RequestMetrics};
use snapshot::Snapshot;

/// The cluster's live metrics and the state its computed series need.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Request counters, latencies and long-running requests.
    pub requests: RequestMetrics,
    node_cpu: cadvisor::NodeCpuCounters,
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Encodes `registry` in the format the `Accept` header prefers.
fn exposition(headers: &HeaderMap, registry: &Registry) -> Result<Response<Body>, ApiError> {
    let openmetrics = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut text = String::new();
    let encoded = if openmetrics {
        prometheus_client::encoding::text::encode(&mut text, registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut text, registry)
    };
    encoded.map_err(|_| ApiError::internal("the metrics could not be encoded"))?;
    let content_type = if openmetrics {
        OPENMETRICS
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    };
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    Ok(resp)
}

fn list(cluster: &Cluster, group: &str, plural: &str) -> Vec<Value> {
    cluster
        .store
        .list(&crate::registry::keys::prefix(group, plural), None, 0, None)
        .map(|l| {
            l.items
                .iter()
                .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn registry_with(snapshot: Snapshot) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    registry
}

/// Objects per served resource and the store's counters.
fn storage(cluster: &Cluster) -> Snapshot {
    let mut out = Snapshot::default();
    let objects = out.gauge(
        "apiserver_storage_objects",
        "Number of stored objects at the time of last check split by kind.",
    );
    for res in cluster.registry.snapshot().resources.iter() {
        if !res.stored {
            continue;
        }
        // kube-apiserver names resources `plural.group` (core ones by plural alone).
        let name = if res.group.is_empty() {
            res.plural.clone()
        } else {
            format!("{}.{}", res.plural, res.group)
        };
        let n = cluster.store.count(&res.key_prefix());
        out.add(objects, vec![("resource", name)], n as f64);
    }
    let stats = cluster.store.stats();
    let commits = out.counter(
        "orrery_store_commits",
        "Transactions the store committed (each one fsync when durable).",
    );
    out.add(commits, Vec::new(), stats.commits as f64);
    let writes = out.counter(
        "orrery_store_writes",
        "Writes committed in those transactions.",
    );
    out.add(writes, Vec::new(), stats.writes as f64);
    let latency = cluster.store.commit_latency();
    let commit = out.histogram(
        "orrery_store_commit_duration_seconds",
        "How long the store's transaction commits took (with the fsync when durable).",
    );
    out.add_histogram(
        commit,
        Vec::new(),
        snapshot::Histogram {
            sum: latency.sum_seconds,
            count: latency.count,
            buckets: latency.buckets,
        },
    );
    let revision = out.gauge("orrery_store_revision", "The store's latest revision.");
    out.add(revision, Vec::new(), cluster.store.revision() as f64);
    out
}

/// Serves `/metrics` and `/metrics/…` (already authorized as non-resource URLs); `None` for
/// any other path.
pub fn serve(
    cluster: &Arc<Cluster>,
    path: &str,
    headers: &HeaderMap,
) -> Option<Result<Response<Body>, ApiError>> {
    let registry = match path {
        "/metrics" => {
            let mut registry = registry_with(storage(cluster));
            cluster.telemetry.requests.register(&mut registry);
            registry
        }
        "/metrics/kube-state" => {
            let objects = kube_state::Objects {
                pods: list(cluster, "", "pods"),
                nodes: list(cluster, "", "nodes"),
                deployments: list(cluster, "apps", "deployments"),
                replicasets: list(cluster, "apps", "replicasets"),
                namespaces: list(cluster, "", "namespaces"),
            };
            let mut out = Snapshot::default();
            kube_state::collect(&objects, &mut out);
            registry_with(out)
        }
        "/metrics/cadvisor" => registry_with(cadvisor_snapshot(cluster, None)),
        _ => return None,
    };
    Some(exposition(headers, &registry))
}

fn cadvisor_snapshot(cluster: &Cluster, node: Option<&Value>) -> Snapshot {
    let mut out = Snapshot::default();
    // Without a data plane nothing runs, so there is nothing to report.
    let Some(plane) = cluster.config.data_plane.clone() else {
        return out;
    };
    let pods = list(cluster, "", "pods");
    let (nodes, all) = match node {
        Some(n) => (vec![n.clone()], false),
        None => (list(cluster, "", "nodes"), true),
    };
    cadvisor::collect(
        plane.as_ref(),
        &cluster.telemetry.node_cpu,
        &nodes,
        &pods,
        all,
        chrono::Utc::now(),
        &mut out,
    );
    out
}

/// Serves `/api/v1/nodes/{node}/proxy/…`: the simulated kubelet's `metrics/cadvisor` and
/// `metrics/resource`. `None` when the request is not a node proxy request. Authorized as
/// kube-apiserver does: `get` on `nodes/proxy` (the path after `proxy/` is not part of the
/// subresource).
pub fn node_proxy(
    cluster: &Arc<Cluster>,
    user: &crate::auth::UserInfo,
    info: &RequestInfo,
    method: &http::Method,
    headers: &HeaderMap,
) -> Option<Result<Response<Body>, ApiError>> {
    let sub = info.subresource.as_deref()?;
    if !(info.group.is_empty()
        && info.resource == "nodes"
        && (sub == "proxy" || sub.starts_with("proxy/")))
    {
        return None;
    }
    let name = info.name.clone()?;
    let mut as_kube = info.clone();
    as_kube.subresource = Some("proxy".into());
    Some((|| {
        crate::authz::authorize(cluster, user, &as_kube, method, false)?;
        if method != http::Method::GET {
            return Err(ApiError::method_not_allowed(
                "",
                "nodes/proxy",
                method.as_str(),
            ));
        }
        let key = crate::registry::keys::object("", "nodes", None, &name);
        let node: Value = cluster
            .store
            .get(&key)
            .and_then(|kv| serde_json::from_slice(&kv.value).ok())
            .ok_or_else(|| ApiError::not_found("", "nodes", &name))?;
        match sub.strip_prefix("proxy/").unwrap_or("") {
            "metrics/cadvisor" | "metrics/resource" => exposition(
                headers,
                &registry_with(cadvisor_snapshot(cluster, Some(&node))),
            ),
            other => Err(ApiError::new(
                404,
                "NotFound",
                format!(
                    "the simulated kubelet serves /metrics/cadvisor and /metrics/resource, not /{other}"
                ),
            )),
        }
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_when_asked_else_prometheus_text_with_escaped_labels() {
        let mut out = Snapshot::default();
        let f = out.gauge("kube_pod_info", "Information about pod.");
        out.add(f, vec![("pod", "a\"b\\c\nd".to_string())], 1.0);
        let c = out.counter("kube_pod_container_status_restarts", "Restarts.");
        out.add(c, vec![("pod", "a".into())], 3.0);
        let h = out.histogram("commit_seconds", "Commits.");
        out.add_histogram(
            h,
            Vec::new(),
            snapshot::Histogram {
                sum: 0.5,
                count: 3,
                buckets: vec![(0.1, 2), (1.0, 1), (f64::INFINITY, 0)],
            },
        );
        let registry = registry_with(out);
        let text = |accept: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                http::header::ACCEPT,
                http::HeaderValue::from_str(accept).unwrap(),
            );
            let resp = exposition(&h, &registry).unwrap();
            let ct = resp.headers()[http::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_string();
            let body =
                futures::executor::block_on(http_body_util::BodyExt::collect(resp.into_body()))
                    .unwrap()
                    .to_bytes();
            (ct, String::from_utf8(body.to_vec()).unwrap())
        };
        let (ct, body) =
            text("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        assert!(body.ends_with("# EOF\n"), "{body}");
        assert!(
            body.contains("# TYPE kube_pod_container_status_restarts counter"),
            "{body}"
        );
        assert!(
            body.contains("kube_pod_container_status_restarts_total{pod=\"a\"} 3"),
            "{body}"
        );
        assert!(
            body.contains(r#"kube_pod_info{pod="a\"b\\c\nd"} 1"#),
            "{body}"
        );
        assert!(
            body.contains("commit_seconds_bucket{le=\"1.0\"} 3"),
            "{body}"
        );
        assert!(body.contains("commit_seconds_count 3"), "{body}");
        let (ct, body) = text("text/plain");
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        assert!(!body.contains("# EOF"), "{body}");
        assert!(
            body.contains("# TYPE kube_pod_container_status_restarts_total counter"),
            "{body}"
        );
        assert!(
            body.contains("# HELP kube_pod_info Information about pod."),
            "{body}"
        );
    }
}
