//! Secret metadata for those who may not read Secrets: names, types and keys, never values.
//!
//! Viewer roles hold no `get`/`list` on Secrets (a list would carry every value), yet a viewer
//! still needs to see which Secrets a workload mounts. `resources.kubesphere.io/v1alpha3`
//! `…/namespaces/{ns}/secrets[/{name}]` (and `…/v1alpha3/secrets`, every namespace's, for those
//! who may list Secrets cluster-wide) answers with Secrets whose values are gone: `data` and
//! `stringData` become `keys` and `sizes` (bytes per key, as `kubectl describe` shows them), and
//! annotations that can quote values are dropped.

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

/// The decoded size of a base64 value (`data`), without decoding it.
fn decoded_len(b64: &str) -> usize {
    let b64 = b64.trim_end();
    let pad = b64.bytes().rev().take_while(|b| *b == b'=').count();
    (b64.len() / 4 * 3 + (b64.len() % 4).saturating_sub(1)).saturating_sub(pad)
}

/// Bytes per key: `data` values decoded, `stringData` (which wins, as on a write) as they are.
fn sizes(secret: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in secret["data"].as_object().into_iter().flatten() {
        out.insert(
            k.clone(),
            decoded_len(v.as_str().unwrap_or_default()).into(),
        );
    }
    for (k, v) in secret["stringData"].as_object().into_iter().flatten() {
        out.insert(k.clone(), v.as_str().unwrap_or_default().len().into());
    }
    out
}

/// `metadata` without managed fields and annotations that can quote values.
pub fn without_values(metadata: &Value) -> Map<String, Value> {
    let mut meta = Map::new();
    for (k, v) in metadata.as_object().into_iter().flatten() {
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
    meta
}

/// A Secret without its values.
pub fn metadata_only(secret: &Value) -> Value {
    let sizes = sizes(secret);
    let mut keys: Vec<&String> = sizes.keys().collect();
    keys.sort();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": without_values(&secret["metadata"]),
        "type": secret["type"].as_str().unwrap_or("Opaque"),
        "keys": keys,
        "sizes": sizes,
    })
}

/// A namespace's Secrets, or every namespace's (`None`), metadata only, with KubeSphere's list
/// conventions.
pub async fn list_in(client: &Client, ns: Option<&str>, query: Option<&str>) -> ApiResult<Value> {
    let q = ListQuery::parse(query.unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let all = kubeapi::list(client, Kind::Secret, ns, "").await?;
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
    list_in(&s.client, Some(&ns), q.as_deref()).await.map(Json)
}

/// `GET /kapis/resources.kubesphere.io/v1alpha3/secrets`: every namespace's. Authorized as a
/// cluster-wide list of Secrets, and on the host for platform administrators only, as the
/// native list is (`proxy::guard_platform_secrets`).
pub async fn list_all(State(s): State<Shared>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    list_in(&s.client, None, q.as_deref()).await.map(Json)
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
        assert_eq!(
            m["sizes"],
            json!({"extra": 5, "password": 7, "username": 5})
        );
        assert_eq!(m["type"], "kubernetes.io/basic-auth");
        assert_eq!(m["metadata"]["annotations"], json!({"team": "a"}));
        assert!(m["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn sizes_are_the_decoded_lengths() {
        for text in ["", "a", "ab", "abc", "abcd", "hunter2-value"] {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(text);
            assert_eq!(decoded_len(&b64), text.len(), "{b64}");
        }
    }
}
