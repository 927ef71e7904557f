//! The platform's own Prometheus metrics at `/metrics`, through `prometheus-client`:
//!
//! - `orrery_http_requests_total{family,code}` and `orrery_http_request_duration_seconds{family}`:
//!   every request, by route family (a fixed set, so no client text becomes a label; a
//!   `/clusters/{c}/…` request counts under the family of what follows the prefix);
//! - `orrery_http_watches_in_flight`: watch streams being served;
//! - `orrery_login_failures_total{via}`: refused passwords (wrong, disabled user, locked);
//! - `orrery_cache_objects{kind,selector}`: objects in the host's watch-fed caches;
//! - `orrery_cluster_ready{cluster}`: each connected cluster's last health check (1 ready);
//! - `orrery_controller_pass_duration_seconds{controller}`: the leader's reconcile passes;
//! - `orrery_leader`: whether this replica holds the controllers' Lease (1) or not (0);
//! - `orrery_platform_info{version}`: always 1, labelled with the version this replica runs;
//! - `orrery_audit_events_total{outcome}`, `orrery_audit_webhook_retries_total`: what became
//!   of audit events (see [`crate::audit::Auditor::register_metrics`]).
//!
//! Reading it is authorized like kube-apiserver's: `get` on the non-resource URL `/metrics`
//! (platform administrators, or a global role granting it). The answer is OpenMetrics when
//! the scraper asks for it, else the Prometheus text format 0.0.4.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::http::Shared;

/// Latency buckets (kube-apiserver's request buckets).
const BUCKETS: [f64; 14] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

/// KubeSphere API groups counted as families of their own.
const KAPIS_GROUPS: [(&str, &str); 13] = [
    ("iam.kubesphere.io", "kapis/iam"),
    ("tenant.kubesphere.io", "kapis/tenant"),
    ("resources.kubesphere.io", "kapis/resources"),
    ("monitoring.kubesphere.io", "kapis/monitoring"),
    ("alerting.kubesphere.io", "kapis/alerting"),
    ("notification.kubesphere.io", "kapis/notification"),
    ("cluster.kubesphere.io", "kapis/cluster"),
    ("config.kubesphere.io", "kapis/config"),
    ("application.kubesphere.io", "kapis/application"),
    ("openpitrix.io", "kapis/openpitrix"),
    ("quota.kubesphere.io", "kapis/quota"),
    ("search.kubesphere.io", "kapis/search"),
    ("version", "kapis/version"),
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FamilyLabels {
    family: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    family: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViaLabels {
    via: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    kind: &'static str,
    selector: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The platform's live metrics (one per platform instance).
#[derive(Debug)]
pub struct PlatformMetrics {
    requests: Family<CodeLabels, Counter>,
    duration: Family<FamilyLabels, Histogram, fn() -> Histogram>,
    watches: Gauge,
    login_failures: Family<ViaLabels, Counter>,
    caches: Family<CacheLabels, FloatGauge>,
    cluster_ready: Family<ClusterLabels, FloatGauge>,
    controller_passes: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    leader: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Default for PlatformMetrics {
    fn default() -> Self {
        PlatformMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(histogram),
            watches: Gauge::default(),
            login_failures: Family::default(),
            caches: Family::default(),
            cluster_ready: Family::default(),
            controller_passes: Family::new_with_constructor(histogram),
            leader: Gauge::default(),
        }
    }
}

/// Ends a watch's count when its stream is dropped.
struct WatchGuard(Gauge);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl PlatformMetrics {
    /// Counts a refused password presented `via` (`"token"` or `"basic"`).
    pub fn login_failed(&self, via: &'static str) {
        self.login_failures.get_or_create(&ViaLabels { via }).inc();
    }

    /// Records one reconcile pass of `controller`.
    pub fn controller_pass(&self, controller: &'static str, took: std::time::Duration) {
        self.controller_passes
            .get_or_create(&ControllerLabels { controller })
            .observe(took.as_secs_f64());
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// A registry holding every family, with the scrape-time gauges refreshed from `state`.
    fn registry(&self, state: &Shared) -> Registry {
        self.caches.clear();
        for c in state.caches.all() {
            let labels = CacheLabels {
                kind: c.kind().kind(),
                selector: c.selector().unwrap_or(""),
            };
            self.caches.get_or_create(&labels).set(c.len() as f64);
        }
        // Removed clusters disappear from the family rather than staying at their last value.
        self.cluster_ready.clear();
        for m in state.clusters.all() {
            let ready = if m.is_ready() { 1.0 } else { 0.0 };
            self.cluster_ready
                .get_or_create(&ClusterLabels {
                    cluster: m.name.clone(),
                })
                .set(ready);
        }
        let mut r = Registry::default();
        r.register(
            "orrery_http_requests",
            "Platform API requests by route family and HTTP status code",
            self.requests.clone(),
        );
        r.register(
            "orrery_http_request_duration_seconds",
            "Platform API response latency (to the response headers) by route family",
            self.duration.clone(),
        );
        r.register(
            "orrery_http_watches_in_flight",
            "Watch streams the platform is serving",
            self.watches.clone(),
        );
        r.register(
            "orrery_login_failures",
            "Refused passwords (wrong password, unknown or disabled user, locked address)",
            self.login_failures.clone(),
        );
        r.register(
            "orrery_cache_objects",
            "Objects in the host's watch-fed caches",
            self.caches.clone(),
        );
        r.register(
            "orrery_cluster_ready",
            "Whether the cluster's last health check passed (1) or not (0)",
            self.cluster_ready.clone(),
        );
        r.register(
            "orrery_controller_pass_duration_seconds",
            "Duration of the leader's reconcile passes",
            self.controller_passes.clone(),
        );
        r.register(
            "orrery_leader",
            "Whether this replica holds the controllers' Lease (1) or not (0)",
            self.leader.clone(),
        );
        let info: Family<VersionLabels, Gauge> = Family::default();
        info.get_or_create(&VersionLabels {
            version: state.settings.version.clone(),
        })
        .set(1);
        r.register(
            "orrery_platform_info",
            "The version this replica runs (always 1)",
            info,
        );
        state.audit.register_metrics(&mut r);
        r
    }
}

fn query_flag(query: Option<&str>, name: &str) -> bool {
    query.unwrap_or("").split('&').any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, v)| k == name && (v == "true" || v == "1"))
    })
}

/// The route family of a request path: a fixed set of names, never the client's text.
pub fn family(path: &str) -> &'static str {
    let mut it = path.trim_start_matches('/').split('/');
    // The first three segments are enough to tell; kept on the stack (this runs per request).
    let mut segs = [""; 3];
    let mut n = 0;
    let first = it.next().unwrap_or("");
    if first == "clusters" {
        // `/clusters/{c}/rest…` counts as `rest`.
        let _cluster = it.next();
    } else {
        segs[0] = first;
        n = 1;
    }
    for s in it.take(3 - n) {
        segs[n] = s;
        n += 1;
    }
    if n == 0 {
        return "other";
    }
    family_of(&segs[..n])
}

fn family_of(parts: &[&str]) -> &'static str {
    match parts {
        ["api", ..] | ["apis", ..] => "kube-api",
        ["kapis", group, ..] => KAPIS_GROUPS
            .iter()
            .find(|(g, _)| g == group)
            .map(|(_, f)| *f)
            .unwrap_or("kapis/other"),
        ["oauth", ..] => "oauth",
        ["console", "watch", ..] => "console-watch",
        ["console", "session" | "login" | "logout", ..] => "console-session",
        [""] | ["console", ..] => "console",
        ["healthz" | "livez" | "readyz", ..] => "health",
        ["metrics", ..] => "metrics",
        ["version", ..] => "version",
        ["openapi", ..] => "openapi",
        ["admission", ..] => "admission",
        _ => "other",
    }
}

/// Middleware: counts and times every request, and counts watch streams while they last.
pub async fn track(
    State(metrics): State<std::sync::Arc<PlatformMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let family = family(req.uri().path());
    let watch = query_flag(req.uri().query(), "watch");
    let started = Instant::now();
    let resp = next.run(req).await;
    let code = resp.status().as_u16();
    metrics
        .duration
        .get_or_create(&FamilyLabels { family })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&CodeLabels { family, code })
        .inc();
    if !(watch && resp.status().is_success()) {
        return resp;
    }
    metrics.watches.inc();
    let guard = WatchGuard(metrics.watches.clone());
    let (parts, body) = resp.into_parts();
    // The stream owns the guard: the count drops when the watch ends or the client leaves.
    let stream = body.into_data_stream().map(move |chunk| {
        let _ = &guard;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn serve(State(state): State<Shared>, req: Request) -> Response {
    let openmetrics = req
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let registry = state.metrics.registry(&state);
    let mut text = String::new();
    let (encoded, content_type) = if openmetrics {
        (
            prometheus_client::encoding::text::encode(&mut text, &registry),
            OPENMETRICS,
        )
    } else {
        (
            prometheus_client::encoding::prometheus_text::encode(&mut text, &registry),
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )
    };
    if encoded.is_err() {
        return crate::http::ApiError::internal("the metrics could not be encoded").into_response();
    }
    ([(http::header::CONTENT_TYPE, content_type)], text).into_response()
}

/// `GET /metrics` (behind authentication and authorization).
pub fn routes() -> Router<Shared> {
    Router::new().route("/metrics", get(serve))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_a_fixed_set() {
        assert_eq!(
            family("/kapis/iam.kubesphere.io/v1beta1/users"),
            "kapis/iam"
        );
        assert_eq!(
            family("/clusters/m1/kapis/monitoring.kubesphere.io/v1alpha3/cluster"),
            "kapis/monitoring"
        );
        assert_eq!(family("/clusters/m1/api/v1/pods"), "kube-api");
        assert_eq!(family("/apis/apps/v1/deployments"), "kube-api");
        assert_eq!(family("/kapis/evil\"label/x"), "kapis/other");
        assert_eq!(family("/oauth/token"), "oauth");
        assert_eq!(family("/console/watch"), "console-watch");
        assert_eq!(family("/console/assets/x.js"), "console");
        assert_eq!(family("/"), "console");
        assert_eq!(family("/metrics"), "metrics");
        assert_eq!(family("/whatever/you/like"), "other");
    }

    #[test]
    fn watch_flag_is_read_from_the_query() {
        assert!(query_flag(Some("a=b&watch=true"), "watch"));
        assert!(query_flag(Some("watch=1"), "watch"));
        assert!(!query_flag(Some("watch=false"), "watch"));
        assert!(!query_flag(None, "watch"));
    }
}
