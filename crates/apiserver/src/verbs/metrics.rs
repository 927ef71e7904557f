//! `metrics.k8s.io/v1beta1`: usage of nodes and pods (`kubectl top`), from the cluster's
//! [`crate::DataPlane`].

use std::sync::Arc;

use apimachinery::status::ApiError;
use axum::body::Body;
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::list::Selectors;
use crate::registry::Resource;
use crate::request::RequestInfo;
use crate::response::json as json_response;

fn list_stored(cluster: &Cluster, prefix: &str) -> Vec<Value> {
    cluster
        .store
        .list(prefix, None, 0, None)
        .map(|l| {
            l.items
                .iter()
                .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Serves `GET` on `nodes` and `pods` of `metrics.k8s.io`.
pub fn handle(
    cluster: &Arc<Cluster>,
    res: &Resource,
    info: &RequestInfo,
    req: &Request<Body>,
    q: &crate::handler::Query,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::method_not_allowed(
            &res.group,
            &res.plural,
            req.method().as_str(),
        ));
    }
    let selectors = Selectors::parse(res, q.get("labelSelector").map(String::as_str), None)?;
    let now = chrono::Utc::now();
    // Without a data plane nothing runs, so nothing uses resources.
    let Some(plane) = cluster.config.data_plane.clone() else {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"kind": format!("{}List", res.kind), "apiVersion": res.api_version(), "metadata": {}, "items": []}),
        ));
    };
    let items: Vec<Value> = match res.plural.as_str() {
        "nodes" => {
            let pods = list_stored(cluster, &crate::registry::keys::prefix("", "pods"));
            list_stored(cluster, &crate::registry::keys::prefix("", "nodes"))
                .into_iter()
                .filter(|n| {
                    info.name
                        .as_ref()
                        .is_none_or(|name| n["metadata"]["name"] == json!(name))
                })
                .filter(|n| selectors.matches_value_labels(n))
                .map(|n| {
                    let on: Vec<Value> = pods
                        .iter()
                        .filter(|p| p["spec"]["nodeName"] == n["metadata"]["name"])
                        .cloned()
                        .collect();
                    plane.node_metrics(&n, &on, now)
                })
                .collect()
        }
        "pods" => {
            let prefix = match &info.namespace {
                Some(ns) => crate::registry::keys::namespace_prefix("", "pods", ns),
                None => crate::registry::keys::prefix("", "pods"),
            };
            list_stored(cluster, &prefix)
                .into_iter()
                .filter(|p| {
                    info.name
                        .as_ref()
                        .is_none_or(|name| p["metadata"]["name"] == json!(name))
                })
                .filter(|p| selectors.matches_value_labels(p))
                .filter_map(|p| plane.pod_metrics(&p, now))
                .collect()
        }
        _ => Vec::new(),
    };
    if let Some(name) = &info.name {
        return match items.into_iter().next() {
            Some(item) => Ok(json_response(StatusCode::OK, &item)),
            None => Err(ApiError::not_found(&res.group, &res.plural, name)),
        };
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "kind": res.list_kind,
            "apiVersion": res.api_version(),
            "metadata": {"resourceVersion": cluster.store.revision().to_string()},
            "items": items,
        }),
    ))
}
