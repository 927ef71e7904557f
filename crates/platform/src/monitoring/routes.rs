//! `[/clusters/{c}]/kapis/monitoring.kubesphere.io/v1alpha3/…`: dashboards at every level and
//! custom PromQL (`targets/query`), KubeSphere 3.x's shapes.
//!
//! Authorization happens before (see `authz::resolve`, which reads these paths as listing the
//! pods they describe: cluster-wide for the cluster, node and cluster query levels, in the
//! workspace for a workspace, in the namespace below `namespaces/{ns}`). Here, every
//! namespace-level query is confined to its namespace whatever the PromQL says.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::dashboards::{self, Level};
use super::engine::QueryValue;
use super::{At, Range};
use crate::http::{AppState, Shared};
use apimachinery::status::ApiError;

/// The API's path below the cluster prefix.
pub const PREFIX: &str = "/kapis/monitoring.kubesphere.io/v1alpha3";

/// The monitoring routes, host and member clusters.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route(&format!("{PREFIX}/{{*rest}}"), get(serve))
        .route(&format!("/clusters/{{c}}{PREFIX}/{{*rest}}"), get(serve))
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(400, "BadRequest", msg)
}

/// What a request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ask {
    Dashboard(LevelPath),
    Query(Option<String>),
}

/// A level as named in the path (the workspace is resolved to namespaces later).
#[derive(Debug, Clone, PartialEq, Eq)]
enum LevelPath {
    Plain(Level),
    Workspace(String),
}

/// Reads the segments after the prefix.
fn ask_of(rest: &[&str]) -> Option<Ask> {
    use LevelPath::*;
    Some(match rest {
        ["cluster"] => Ask::Dashboard(Plain(Level::Cluster)),
        ["nodes"] => Ask::Dashboard(Plain(Level::Nodes(None))),
        ["nodes", n] => Ask::Dashboard(Plain(Level::Nodes(Some(n.to_string())))),
        ["workspaces", ws] => Ask::Dashboard(Workspace(ws.to_string())),
        ["namespaces", ns] => Ask::Dashboard(Plain(Level::Namespace(ns.to_string()))),
        ["namespaces", ns, "workloads", kind, name]
            if dashboards::WORKLOAD_KINDS.contains(kind) =>
        {
            Ask::Dashboard(Plain(Level::Workload(
                ns.to_string(),
                kind.to_string(),
                name.to_string(),
            )))
        }
        ["namespaces", ns, "pods"] => Ask::Dashboard(Plain(Level::Pods(ns.to_string(), None))),
        ["namespaces", ns, "pods", pod] => {
            Ask::Dashboard(Plain(Level::Pods(ns.to_string(), Some(pod.to_string()))))
        }
        ["namespaces", ns, "targets", "query"] => Ask::Query(Some(ns.to_string())),
        ["targets", "query"] => Ask::Query(None),
        _ => return None,
    })
}

/// The namespace a level is confined to (every selector is forced into it).
fn confinement(level: &Level) -> Option<&str> {
    match level {
        Level::Namespace(ns) | Level::Workload(ns, ..) | Level::Pods(ns, _) => Some(ns),
        _ => None,
    }
}

fn unix(secs: &str) -> Option<SystemTime> {
    let s: f64 = secs.trim().parse().ok()?;
    if !s.is_finite() || !(0.0..=1e11).contains(&s) {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs_f64(s))
}

/// `time=` or `start=&end=&step=`; none: now.
fn when(params: &[(String, String)]) -> Result<At, ApiError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let time = |k: &str| -> Result<Option<SystemTime>, ApiError> {
        get(k)
            .map(|v| {
                unix(v).ok_or_else(|| bad(format!("{k}: {v:?} is not a unix time in seconds")))
            })
            .transpose()
    };
    let (start, end) = (time("start")?, time("end")?);
    match (start, end) {
        (None, None) => Ok(At::Instant(time("time")?.unwrap_or_else(SystemTime::now))),
        (Some(start), Some(end)) => {
            if end < start {
                return Err(bad("end is before start"));
            }
            let step = match get("step") {
                Some(s) => dashboards::step(s)
                    .ok_or_else(|| bad(format!("step: {s:?} is not a duration such as 60s")))?,
                None => Duration::from_secs(600),
            };
            Ok(At::Range(Range { start, end, step }))
        }
        _ => Err(bad("start and end go together")),
    }
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn ts(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// A result in Prometheus' `data` shape.
pub fn data(v: &QueryValue, at: At) -> Value {
    let at_ms = match at {
        At::Instant(t) => super::millis(t),
        At::Range(r) => super::millis(r.end),
    };
    match v {
        QueryValue::Vector(v) => {
            json!({"resultType": "vector", "result": v.iter().map(|(l, x)| json!({"metric": l, "value": [ts(at_ms), number(*x)]})).collect::<Vec<_>>()})
        }
        QueryValue::Matrix(m) => {
            json!({"resultType": "matrix", "result": m.iter().map(|(l, pts)| json!({"metric": l, "values": pts.iter().map(|(t, x)| json!([ts(*t), number(*x)])).collect::<Vec<_>>()})).collect::<Vec<_>>()})
        }
        QueryValue::Scalar(x) => json!({"resultType": "scalar", "result": [ts(at_ms), number(*x)]}),
        QueryValue::String(s) => json!({"resultType": "string", "result": [ts(at_ms), s]}),
    }
}

async fn serve(State(state): State<Shared>, uri: Uri) -> Response {
    match answer(&state, &uri).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn query_params(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn answer(state: &AppState, uri: &Uri) -> Result<Response, ApiError> {
    let segs =
        crate::authz::resolve::segments(uri.path()).map_err(|_| crate::http::error::no_route())?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (cluster, rest) = match segs.as_slice() {
        ["clusters", c, rest @ ..] => (state.clusters.get(c).map(|m| m.name.clone()), rest),
        rest => (Some(state.clusters.settings.host_name.clone()), rest),
    };
    let cluster = cluster.ok_or_else(crate::http::error::no_route)?;
    let rest = rest
        .strip_prefix(&["kapis", "monitoring.kubesphere.io", "v1alpha3"][..])
        .ok_or_else(crate::http::error::no_route)?;
    let ask = ask_of(rest).ok_or_else(crate::http::error::no_route)?;
    let params = query_params(uri);
    let at = when(&params)?;
    let mon = &state.monitoring;
    match ask {
        Ask::Query(ns) => {
            let expr = params
                .iter()
                .find(|(k, _)| k == "expr" || k == "query")
                .map(|(_, v)| v.clone())
                .filter(|e| !e.trim().is_empty())
                .ok_or_else(|| bad("expr is required"))?;
            match mon.query(&cluster, &expr, at, ns.as_deref()).await {
                Ok(v) => {
                    Ok(Json(json!({"status": "success", "data": data(&v, at)})).into_response())
                }
                Err(e) => {
                    let kind = match e.code {
                        400 => "bad_data",
                        503 => "timeout",
                        _ => "execution",
                    };
                    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST);
                    Ok((
                        code,
                        Json(json!({"status": "error", "errorType": kind, "error": e.message})),
                    )
                        .into_response())
                }
            }
        }
        Ask::Dashboard(path) => {
            let level = match path {
                LevelPath::Plain(l) => l,
                LevelPath::Workspace(ws) => {
                    Level::Workspace(workspace_namespaces(state, &cluster, &ws))
                }
            };
            let filter = params
                .iter()
                .find(|(k, _)| k == "metrics_filter")
                .map(|(_, v)| v.as_str());
            let mut results = Vec::new();
            for metric in dashboards::wanted(&level, filter) {
                let Some(q) = dashboards::promql(&level, &metric) else {
                    results.push(json!({"metric_name": metric, "error": format!("unknown metric {metric:?} at this level")}));
                    continue;
                };
                match mon.query(&cluster, &q, at, confinement(&level)).await {
                    Ok(v) => results.push(json!({"metric_name": metric, "data": data(&v, at)})),
                    Err(e) => results.push(json!({"metric_name": metric, "error": e.message})),
                }
            }
            Ok(Json(json!({"results": results})).into_response())
        }
    }
}

/// The namespaces of a workspace in a cluster (from that cluster's namespace cache).
fn workspace_namespaces(state: &AppState, cluster: &str, ws: &str) -> Vec<String> {
    let Some(member) = state.clusters.get(cluster) else {
        return Vec::new();
    };
    let mut out: Vec<String> = member
        .caches
        .namespaces
        .by_index(&format!("ws:{ws}"))
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_levels() {
        assert_eq!(
            ask_of(&["cluster"]),
            Some(Ask::Dashboard(LevelPath::Plain(Level::Cluster)))
        );
        assert_eq!(
            ask_of(&["namespaces", "a", "workloads", "deployments", "web"]),
            Some(Ask::Dashboard(LevelPath::Plain(Level::Workload(
                "a".into(),
                "deployments".into(),
                "web".into()
            ))))
        );
        assert_eq!(
            ask_of(&["namespaces", "a", "workloads", "secrets", "x"]),
            None
        );
        assert_eq!(
            ask_of(&["namespaces", "a", "targets", "query"]),
            Some(Ask::Query(Some("a".into())))
        );
        assert_eq!(ask_of(&["targets", "query"]), Some(Ask::Query(None)));
        assert_eq!(ask_of(&["other"]), None);
    }

    #[test]
    fn authorization_reads_each_level_as_listing_its_pods() {
        use crate::authz::scope::Scope;
        let info = |path: &str| {
            crate::authz::resolve::resolve("GET", path, "", None)
                .map(|r| r.info)
                .ok()
        };
        for (path, scope, ns, ws) in [
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/cluster",
                Scope::Cluster,
                "",
                "",
            ),
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/nodes/n1",
                Scope::Cluster,
                "",
                "",
            ),
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/targets/query",
                Scope::Cluster,
                "",
                "",
            ),
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/workspaces/w",
                Scope::Workspace,
                "",
                "w",
            ),
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/a",
                Scope::Namespace,
                "a",
                "",
            ),
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/a/pods/p",
                Scope::Namespace,
                "a",
                "",
            ),
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/a/workloads/deployments/w",
                Scope::Namespace,
                "a",
                "",
            ),
            (
                "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/a/targets/query",
                Scope::Namespace,
                "a",
                "",
            ),
        ] {
            let i = info(path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(
                (
                    i.verb.as_str(),
                    i.resource.as_str(),
                    i.scope,
                    i.namespace.as_str(),
                    i.workspace.as_str()
                ),
                ("list", "pods", scope, ns, ws),
                "{path}"
            );
        }
        let post = crate::authz::resolve::resolve(
            "POST",
            "/kapis/monitoring.kubesphere.io/v1alpha3/cluster",
            "",
            None,
        );
        assert_eq!(post.map(|r| r.info.verb).ok().as_deref(), Some("unknown"));
    }

    #[test]
    fn times_and_ranges() {
        let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(
            matches!(when(&p(&[("time", "100")])), Ok(At::Instant(t)) if t == UNIX_EPOCH + Duration::from_secs(100))
        );
        assert!(matches!(
            when(&p(&[("start", "100"), ("end", "200"), ("step", "10s")])),
            Ok(At::Range(r)) if r.step == Duration::from_secs(10)
        ));
        assert!(when(&p(&[("start", "100")])).is_err());
        assert!(when(&p(&[("start", "200"), ("end", "100")])).is_err());
        assert!(when(&p(&[("time", "yesterday")])).is_err());
        assert!(when(&p(&[("start", "1"), ("end", "2"), ("step", "x")])).is_err());
    }
}
