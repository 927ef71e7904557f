//! The workspace quota admission webhook: `POST {ADMISSION_PREFIX}/{key}/{cluster}` answers
//! the `AdmissionReview`s a cluster's API server sends for writes in its workspaces' projects.
//!
//! The path carries the platform's admission key (a random value kept in a host Secret, see
//! [`load_key`]): an API server calls webhooks without credentials, and the key keeps anyone
//! else from probing quotas through this endpoint or making it list objects. A wrong key or an
//! unknown cluster is answered 404.
//!
//! A request is refused with kube's words when it would take a quota selecting its namespace
//! past `hard` (`exceeded quota: …`), or is a Pod without the requests or limits a quota
//! tracks (`failed quota: …: must specify …`); otherwise it is charged to every such quota
//! (not on dry runs) and admitted.

use std::sync::Arc;

use apimachinery::quota::{Usage, exceeded, must_specify, usage_of};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::{
    hard_of, recorded_usage, resource_list, selected_namespaces, selects, total, usage_by_namespace,
};
use crate::clusters::Member;
use crate::error::PlatformError;
use crate::http::Shared;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// The Secret holding the admission key.
const KEY_SECRET: &str = "orrery-admission-key";
/// How many times a charge is retried when another admission updated the quota first.
const CHARGE_ATTEMPTS: usize = 8;

/// Loads the admission key shared by every replica, creating it on first start.
pub async fn load_key(client: &kube::Client) -> Result<String, PlatformError> {
    for _ in 0..5 {
        if let Some(s) =
            kubeapi::get(client, Kind::Secret, Some(SYSTEM_NAMESPACE), KEY_SECRET).await?
        {
            return s["data"]["key"]
                .as_str()
                .and_then(|v| B64.decode(v).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .filter(|k| !k.is_empty())
                .ok_or_else(|| PlatformError::Invalid(format!("secret {KEY_SECRET} lacks key")));
        }
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let secret = json!({
            "metadata": {"name": KEY_SECRET, "namespace": SYSTEM_NAMESPACE},
            "type": "Opaque",
            "data": {"key": B64.encode(&key)},
        });
        match kubeapi::create(client, Kind::Secret, Some(SYSTEM_NAMESPACE), secret).await {
            Ok(_) => return Ok(key),
            Err(e) if kubeapi::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(PlatformError::Invalid(
        "could not store the admission key".into(),
    ))
}

/// Compares in time independent of where the strings differ.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The webhook endpoint.
pub async fn review(
    State(state): State<Shared>,
    Path((key, cluster)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let not_found = || crate::http::error::no_route().into_response();
    if !same_key(&key, &state.settings.admission_key) {
        return not_found();
    }
    let Some(member) = state.clusters.get(&cluster) else {
        return not_found();
    };
    let Ok(review) = serde_json::from_slice::<Value>(&body) else {
        return crate::http::error::ApiError::bad_request("the body is not an AdmissionReview")
            .into_response();
    };
    let request = &review["request"];
    let uid = request["uid"].clone();
    let api_version = review["apiVersion"]
        .as_str()
        .unwrap_or("admission.k8s.io/v1")
        .to_string();
    let response = match decide(&member, request).await {
        Ok(None) => json!({"uid": uid, "allowed": true}),
        Ok(Some(why)) => json!({"uid": uid, "allowed": false,
            "status": {"code": 403, "reason": "Forbidden", "message": why}}),
        Err(e) => {
            tracing::warn!(cluster = %member.name, error = %e, "workspace quota admission");
            json!({"uid": uid, "allowed": false,
                "status": {"code": 500, "reason": "InternalError",
                    "message": format!("workspace quota could not be checked: {e}")}})
        }
    };
    Json(json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response}))
        .into_response()
}

/// `None` to admit, or the words the request is refused with.
async fn decide(member: &Arc<Member>, request: &Value) -> Result<Option<String>, PlatformError> {
    let operation = request["operation"].as_str().unwrap_or_default();
    let ns = request["namespace"].as_str().unwrap_or_default();
    let sub = request["subResource"].as_str().unwrap_or_default();
    if !matches!(operation, "CREATE" | "UPDATE") || ns.is_empty() || !sub.is_empty() {
        return Ok(None);
    }
    let labels = match member.caches.namespaces.get(ns) {
        Some(e) => e.obj["metadata"]["labels"].clone(),
        None => kubeapi::get(&member.client, Kind::Namespace, None, ns)
            .await?
            .map(|n| n["metadata"]["labels"].clone())
            .unwrap_or(Value::Null),
    };
    let mut quotas: Vec<Value> = member
        .caches
        .workspace_quotas
        .list()
        .into_iter()
        .filter(|q| selects(&q.obj, &labels))
        .map(|q| q.obj.clone())
        .collect();
    if quotas.is_empty() {
        return Ok(None);
    }
    quotas.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    let group = request["resource"]["group"].as_str().unwrap_or_default();
    let plural = request["resource"]["resource"].as_str().unwrap_or_default();
    let obj = &request["object"];
    let mut delta = usage_of(group, plural, obj);
    if operation == "UPDATE" {
        // As kube: an update is charged only for what it adds.
        let old = usage_of(group, plural, &request["oldObject"]);
        delta.retain(|k, q| match old.get(k) {
            Some(before) => {
                *q = *q - *before;
                *q > apimachinery::quantity::Quantity::ZERO
            }
            None => true,
        });
    }
    let dry_run = request["dryRun"].as_bool().unwrap_or(false);
    let pod_create = operation == "CREATE" && group.is_empty() && plural == "pods";
    for quota in &quotas {
        let name = quota["metadata"]["name"].as_str().unwrap_or_default();
        let hard = hard_of(quota);
        if pod_create
            && !delta.is_empty()
            && let Some(why) = must_specify(obj, &hard)
        {
            return Ok(Some(format!("failed quota: {name}: {why}")));
        }
        let asked: Usage = delta
            .iter()
            .filter(|(k, _)| hard.contains_key(*k))
            .map(|(k, q)| (k.clone(), *q))
            .collect();
        if asked.is_empty() {
            continue;
        }
        if let Some(why) = charge(member, name, &asked, dry_run).await? {
            return Ok(Some(why));
        }
    }
    Ok(None)
}

/// Checks `asked` against quota `name`'s current usage and, unless it would exceed it or this
/// is a dry run, records it in `status.total.used` (compare-and-swap on the resourceVersion).
async fn charge(
    member: &Member,
    name: &str,
    asked: &Usage,
    dry_run: bool,
) -> Result<Option<String>, PlatformError> {
    for _ in 0..CHARGE_ATTEMPTS {
        let Some(mut quota) =
            kubeapi::get(&member.client, Kind::WorkspaceQuota, None, name).await?
        else {
            return Ok(None);
        };
        let hard = hard_of(&quota);
        let tracked: Vec<String> = hard.keys().cloned().collect();
        let used = match recorded_usage(&quota) {
            Some(u) => u,
            None => {
                // The status was never computed for this `hard`: count now.
                let index = member
                    .discovery
                    .index()
                    .await
                    .map_err(PlatformError::Invalid)?;
                let namespaces = selected_namespaces(member, &quota);
                let by_ns =
                    usage_by_namespace(&member.client, &index, &namespaces, &tracked).await?;
                total(&by_ns)
            }
        };
        if let Some(why) = exceeded(name, &hard, &used, asked) {
            return Ok(Some(why));
        }
        if dry_run {
            return Ok(None);
        }
        let mut charged = used.clone();
        for (k, q) in asked {
            apimachinery::quota::add(&mut charged, k, *q);
        }
        quota["status"]["total"] = json!({
            "hard": quota["spec"]["quota"]["hard"].clone(),
            "used": resource_list(&tracked, &charged),
        });
        if !quota["status"]["namespaces"].is_array() {
            quota["status"]["namespaces"] = json!([]);
        }
        match kubeapi::replace_status(&member.client, Kind::WorkspaceQuota, None, quota).await {
            Ok(_) => return Ok(None),
            Err(e) if kubeapi::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Some(format!(
        "workspace quota {name} is being updated by too many requests at once; try again"
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_compare_whole() {
        assert!(super::same_key("abc", "abc"));
        assert!(!super::same_key("abc", "abd"));
        assert!(!super::same_key("abc", "abcd"));
        assert!(!super::same_key("", "a"));
    }
}
