//! Request instrumentation under kube-apiserver's names: `apiserver_request_total`,
//! `apiserver_request_duration_seconds` and `apiserver_longrunning_requests`, labelled with
//! the verb, group, version, resource, subresource and scope kube-apiserver uses.
//!
//! Recording a request costs one pass over its path (borrowing, no parse into owned parts),
//! the label strings, and `prometheus-client`'s atomic counter and histogram updates. Labels
//! never carry arbitrary client text: paths that were refused before routing (401, 404) are
//! counted with empty resource labels, and subresources outside kube's list are blank, so a
//! client cannot grow the number of series.

use std::time::Instant;

use axum::body::Body;
use futures::StreamExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// kube-apiserver's buckets for `apiserver_request_duration_seconds`.
const DURATION_BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// Subresources kube-apiserver serves; anything else is recorded as none.
const SUBRESOURCES: [&str; 15] = [
    "status",
    "scale",
    "log",
    "exec",
    "attach",
    "portforward",
    "proxy",
    "binding",
    "eviction",
    "ephemeralcontainers",
    "token",
    "finalize",
    "approval",
    "resize",
    "cadvisor",
];

/// What a request addresses, as the metrics label it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    verb: &'static str,
    group: String,
    version: String,
    resource: String,
    subresource: &'static str,
    scope: &'static str,
    component: &'static str,
}

/// [`RequestLabels`] and the response code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    #[prometheus(flatten)]
    request: RequestLabels,
    code: u16,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The request families of one API server.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    total: Family<CodeLabels, Counter>,
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    longrunning: Family<RequestLabels, Gauge>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            total: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            longrunning: Family::default(),
        }
    }
}

/// A request being served: its labels and when it started.
#[derive(Debug)]
pub struct InFlight {
    labels: RequestLabels,
    started: Instant,
    long_running: bool,
}

/// Decrements the long-running gauge when the streamed response ends.
struct LongRunningGuard(Gauge);

impl Drop for LongRunningGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl RequestMetrics {
    /// Registers the families (shared with `self`) in a scrape's registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code",
            self.total.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version, resource, subresource, scope and component",
            self.duration.clone(),
        );
        registry.register(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component",
            self.longrunning.clone(),
        );
    }

    /// Starts timing a request.
    pub fn start(&self, req: &http::Request<Body>) -> InFlight {
        let labels = classify(
            req.method(),
            req.uri().path(),
            req.uri().query().unwrap_or(""),
            req.headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
        let long_running = matches!(labels.verb, "WATCH" | "CONNECT")
            || (labels.subresource == "log" && query_flag(req.uri().query(), "follow"));
        InFlight {
            labels,
            started: Instant::now(),
            long_running,
        }
    }

    /// Records the response of a request and, for a stream (watch, followed log, exec),
    /// counts it as long-running until its body ends.
    pub fn finish(&self, mut call: InFlight, resp: http::Response<Body>) -> http::Response<Body> {
        let code = resp.status().as_u16();
        if code == 401 || code == 404 {
            // Refused before the path was matched to a served resource: its segments are the
            // client's text.
            call.labels.group.clear();
            call.labels.version.clear();
            call.labels.resource.clear();
            call.labels.subresource = "";
        }
        self.duration
            .get_or_create(&call.labels)
            .observe(call.started.elapsed().as_secs_f64());
        let long_running = call.long_running && resp.status().is_success();
        let gauge = long_running.then(|| self.longrunning.get_or_create(&call.labels).clone());
        self.total
            .get_or_create(&CodeLabels {
                request: call.labels,
                code,
            })
            .inc();
        let Some(gauge) = gauge else {
            return resp;
        };
        gauge.inc();
        let guard = LongRunningGuard(gauge);
        let (parts, body) = resp.into_parts();
        // The stream owns the guard: it is dropped, and the gauge decremented, when the body
        // ends or the client goes away.
        let stream = body.into_data_stream().map(move |chunk| {
            let _ = &guard;
            chunk
        });
        http::Response::from_parts(parts, Body::from_stream(stream))
    }
}

fn query_flag(query: Option<&str>, name: &str) -> bool {
    query.unwrap_or("").split('&').any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, v)| k == name && (v == "true" || v == "1"))
    })
}

/// The labels of a request, read from its method, path, query and content type the way
/// kube-apiserver's RequestInfo reads them.
fn classify(method: &http::Method, path: &str, query: &str, content_type: &str) -> RequestLabels {
    let mut labels = RequestLabels {
        verb: "",
        group: String::new(),
        version: String::new(),
        resource: String::new(),
        subresource: "",
        scope: "",
        component: "apiserver",
    };
    let mut parts = path.trim_matches('/').split('/');
    let (group, version) = match parts.next() {
        Some("api") => ("", parts.next()),
        Some("apis") => (parts.next().unwrap_or(""), parts.next()),
        _ => ("", None),
    };
    let rest: Vec<&str> = parts.collect();
    let mut rest = rest.as_slice();
    let mut watch = query_flag(Some(query), "watch");
    if rest.first() == Some(&"watch") {
        watch = true;
        rest = &rest[1..];
    }
    let Some(version) = version.filter(|_| !rest.is_empty()) else {
        labels.verb = plain_verb(method);
        return labels;
    };
    labels.group = group.to_string();
    labels.version = version.to_string();
    // `namespaces/{ns}/{resource}…`, except a Namespace's own `status` and `finalize`.
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(group.is_empty() && rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (resource, name, sub) = if namespaced {
        (rest[2], rest.get(3), rest.get(4))
    } else {
        (rest[0], rest.get(1), rest.get(2))
    };
    labels.resource = resource.to_string();
    labels.subresource = sub
        .and_then(|s| SUBRESOURCES.iter().find(|k| *k == s))
        .copied()
        .unwrap_or("");
    labels.scope = match (name, namespaced) {
        (Some(_), _) => "resource",
        (None, true) => "namespace",
        (None, false) => "cluster",
    };
    let connect = matches!(
        labels.subresource,
        "exec" | "attach" | "portforward" | "proxy"
    );
    labels.verb = match *method {
        _ if connect => "CONNECT",
        http::Method::GET | http::Method::HEAD if watch => "WATCH",
        http::Method::GET | http::Method::HEAD if name.is_none() => "LIST",
        http::Method::DELETE if name.is_none() => "DELETECOLLECTION",
        http::Method::PATCH if content_type.starts_with("application/apply-patch") => "APPLY",
        ref m => plain_verb(m),
    };
    labels
}

/// A method as a verb label; methods kube-apiserver does not serve are `UNKNOWN`.
fn plain_verb(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn c(method: Method, path: &str, query: &str) -> RequestLabels {
        classify(&method, path, query, "application/json")
    }

    #[test]
    fn verbs_and_scopes_as_kube_labels_them() {
        let l = c(Method::GET, "/api/v1/namespaces/a/pods", "");
        assert_eq!(
            (l.verb, l.resource.as_str(), l.scope),
            ("LIST", "pods", "namespace")
        );
        let l = c(Method::GET, "/api/v1/namespaces/a/pods", "watch=true");
        assert_eq!(l.verb, "WATCH");
        let l = c(Method::GET, "/api/v1/watch/pods", "");
        assert_eq!((l.verb, l.scope), ("WATCH", "cluster"));
        let l = c(
            Method::GET,
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            "",
        );
        assert_eq!(
            (
                l.verb,
                l.group.as_str(),
                l.version.as_str(),
                l.subresource,
                l.scope
            ),
            ("GET", "apps", "v1", "scale", "resource")
        );
        let l = c(Method::DELETE, "/api/v1/namespaces/a/configmaps", "");
        assert_eq!(l.verb, "DELETECOLLECTION");
        let l = classify(
            &Method::PATCH,
            "/api/v1/namespaces/a/configmaps/x",
            "",
            "application/apply-patch+yaml",
        );
        assert_eq!(l.verb, "APPLY");
        let l = c(Method::POST, "/api/v1/namespaces/a/pods/p/exec", "");
        assert_eq!(l.verb, "CONNECT");
        let l = c(Method::GET, "/api/v1/nodes/n1/proxy/metrics/cadvisor", "");
        assert_eq!(
            (l.verb, l.resource.as_str(), l.subresource),
            ("CONNECT", "nodes", "proxy")
        );
        let l = c(Method::PUT, "/api/v1/namespaces/a/status", "");
        assert_eq!(
            (l.resource.as_str(), l.subresource),
            ("namespaces", "status")
        );
    }

    #[test]
    fn non_resource_paths_and_odd_input_carry_no_client_text() {
        let l = c(Method::GET, "/metrics", "");
        assert_eq!(
            (l.verb, l.resource.as_str(), l.group.as_str()),
            ("GET", "", "")
        );
        let l = c(Method::GET, "/apis/apps/v1", "");
        assert_eq!(l.resource, "");
        let l = c(
            Method::GET,
            "/api/v1/namespaces/a/pods/p/whatever-you-like",
            "",
        );
        assert_eq!(l.subresource, "");
        let l = classify(&Method::from_bytes(b"BREW").unwrap(), "/healthz", "", "");
        assert_eq!(l.verb, "UNKNOWN");
    }

    #[tokio::test]
    async fn refused_paths_lose_their_labels_and_streams_are_long_running_until_they_end() {
        let m = RequestMetrics::default();
        let req = http::Request::get("/apis/made.up/v9/things")
            .body(Body::empty())
            .unwrap();
        let call = m.start(&req);
        let resp = http::Response::builder()
            .status(404)
            .body(Body::empty())
            .unwrap();
        m.finish(call, resp);
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(!text.contains("made.up"), "{text}");
        assert!(text.contains("code=\"404\""), "{text}");

        let req = http::Request::get("/api/v1/pods?watch=1")
            .body(Body::empty())
            .unwrap();
        let call = m.start(&req);
        let resp = m.finish(call, http::Response::new(Body::from("event")));
        let gauge = |m: &RequestMetrics| {
            let mut registry = Registry::default();
            m.register(&mut registry);
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
            text.lines()
                .find(|l| l.starts_with("apiserver_longrunning_requests{") && l.contains("WATCH"))
                .map(|l| l.rsplit(' ').next().unwrap_or("").to_string())
        };
        assert_eq!(gauge(&m).as_deref(), Some("1"));
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap();
        assert_eq!(body.to_bytes(), "event");
        assert_eq!(gauge(&m).as_deref(), Some("0"));
    }
}
