//! Secret metadata for those who may not read Secrets: names, types and keys, never values.
//!
//! Viewer roles hold no `get`/`list` on Secrets (a list would carry every value), yet a viewer
//! still needs to see which Secrets a workload mounts. `resources.kubesphere.io/v1alpha3`
//! `…/namespaces/{ns}/secrets[/{name}]` answers with Secrets whose values are gone: `data` and
//! `stringData` become `keys`, and annotations that can quote values are dropped.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use kube::Client;
use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, Shared};
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;

/// Annotations that can carry a Secret's values.
const VALUE_ANNOTATIONS: [&str; 1] = ["kubectl.kubernetes.io/last-applied-configuration"];

/// A Secret without its values.
pub fn metadata_only(secret: &Value) -> Value {
    let mut keys: Vec<String> = ["data", "stringData"]
        .iter()
        .filter_map(|f| secret[*f].as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    let mut meta = Map::new();
    if let Some(m) = secret["metadata"].as_object() {
        for (k, v) in m {
            if k == "managedFields" {
                continue;
            }
            if k == "annotations" {
                let kept: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(a, _)| !VALUE_ANNOTATIONS.contains(&a.as_str()))
                    .map(|(a, v)| (a.clone(), v.clone()))
                    .collect();
                meta.insert(k.clone(), Value::Object(kept));
                continue;
            }
            meta.insert(k.clone(), v.clone());
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": secret["type"].as_str().unwrap_or("Opaque"),
        "keys": keys,
    })
}

/// The namespace's Secrets (metadata only), with KubeSphere's list conventions.
pub async fn list_in(client: &Client, ns: &str, query: Option<&str>) -> ApiResult<Value> {
    let q = ListQuery::parse(query.unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let all = kubeapi::list(client, Kind::Secret, Some(ns), "").await?;
    Ok(q.apply(all.iter().map(metadata_only)))
}

/// One Secret (metadata only).
pub async fn get_in(client: &Client, ns: &str, name: &str) -> ApiResult<Value> {
    kubeapi::get(client, Kind::Secret, Some(ns), name)
        .await?
        .map(|s| metadata_only(&s))
        .ok_or_else(|| super::error::not_found("secrets", name))
}

/// `GET /kapis/resources.kubesphere.io/v1alpha3/namespaces/{ns}/secrets`.
pub async fn list(
    State(s): State<Shared>,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    list_in(&s.client, &ns, q.as_deref()).await.map(Json)
}

/// `GET /kapis/resources.kubesphere.io/v1alpha3/namespaces/{ns}/secrets/{name}`.
pub async fn get(
    State(s): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    get_in(&s.client, &ns, &name).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_leave() {
        let s = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "p", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}",
                "team": "a"
            }, "managedFields": [{"manager": "kubectl"}]},
            "type": "kubernetes.io/basic-auth",
            "data": {"password": "aHVudGVyMg==", "username": "YWRtaW4="},
            "stringData": {"extra": "plain"}
        });
        let m = metadata_only(&s);
        let text = m.to_string();
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
        assert!(!text.contains("plain"), "{text}");
        assert!(m.get("data").is_none() && m.get("stringData").is_none());
        assert_eq!(m["keys"], json!(["extra", "password", "username"]));
        assert_eq!(m["type"], "kubernetes.io/basic-auth");
        assert_eq!(m["metadata"]["annotations"], json!({"team": "a"}));
        assert!(m["metadata"].get("managedFields").is_none());
    }
}
