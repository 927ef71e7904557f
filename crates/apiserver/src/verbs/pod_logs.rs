//! `pods/log`: container logs from the cluster's [`crate::DataPlane`].

use std::sync::Arc;

use apimachinery::status::ApiError;
use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::handler::Query;

fn parse_i64(q: &Query, k: &str) -> Result<Option<i64>, ApiError> {
    match q.get(k).filter(|v| !v.is_empty()) {
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid {k}: {v:?}"))),
        None => Ok(None),
    }
}

/// Serves `GET pods/{name}/log`.
pub async fn handle(
    cluster: &Arc<Cluster>,
    ns: Option<&str>,
    name: &str,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let ns = ns.unwrap_or("default");
    let key = crate::registry::keys::object("", "pods", Some(ns), name);
    let kv = cluster
        .store
        .get(&key)
        .ok_or_else(|| ApiError::not_found("", "pods", name))?;
    let pod: Value =
        serde_json::from_slice(&kv.value).map_err(|e| ApiError::internal(e.to_string()))?;
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) => c.clone(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let since_time = match q.get("sinceTime").filter(|v| !v.is_empty()) {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|_| ApiError::bad_request(format!("invalid sinceTime: {t:?}")))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    let opts = crate::dataplane::LogRequest {
        previous: flag("previous"),
        timestamps: flag("timestamps"),
        tail_lines: parse_i64(q, "tailLines")?,
        since_seconds: parse_i64(q, "sinceSeconds")?,
        since_time,
        limit_bytes: parse_i64(q, "limitBytes")?,
    };
    let Some(plane) = cluster.config.data_plane.clone() else {
        return Err(ApiError::bad_request(format!(
            "no logs: this cluster runs no containers for pod {name}"
        )));
    };
    let text_response = |body: Body| {
        let mut resp = Response::new(body);
        *resp.status_mut() = StatusCode::OK;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        resp
    };
    if flag("follow") {
        let shutdown = cluster.shutdown.clone();
        let stream = plane
            .follow_log(pod, container, opts)
            .map_err(ApiError::bad_request)?
            .map(|line| Ok::<Bytes, std::io::Error>(Bytes::from(format!("{line}\n"))))
            .take_until(async move { shutdown.cancelled().await });
        return Ok(text_response(Body::from_stream(stream)));
    }
    let lines = plane
        .log_lines(&pod, &container, &opts, chrono::Utc::now())
        .map_err(ApiError::bad_request)?;
    let mut body = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        body.push_str(&l);
        body.push('\n');
    }
    Ok(text_response(Body::from(body)))
}
