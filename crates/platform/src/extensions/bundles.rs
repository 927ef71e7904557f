//! `JSBundle`s served at `status.link` (default `/dist/<name>/index.js`): the bytes come from
//! `spec.raw`, or `spec.rawFrom` — a ConfigMap or Secret key (`configMapKeyRef`,
//! `secretKeyRef`: `namespace`, `name`, `key`) or an endpoint (`url`/`service`). Answers carry
//! the content type of the link's extension, a strong `ETag` (SHA-256 of the bytes),
//! `Cache-Control: no-cache` (a bundle changes under the same link, so browsers revalidate and
//! get 304 while it has not) and `X-Content-Type-Options: nosniff`.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use sha2::{Digest, Sha256};

use super::routing::{endpoint, note_state, send, unavailable};
use crate::cache::Entry;
use crate::http::Shared;
use crate::kinds::Kind;
use apimachinery::status::ApiError;

/// Largest bundle served (a ConfigMap holds at most 1 MiB; a fetched bundle is bounded too).
const MAX_BUNDLE: usize = 16 << 20;

/// Where a JSBundle is served.
pub fn link(obj: &serde_json::Value) -> String {
    match obj["status"]["link"]
        .as_str()
        .filter(|l| l.starts_with("/dist/"))
    {
        Some(l) => l.to_string(),
        None => format!(
            "/dist/{}/index.js",
            obj["metadata"]["name"].as_str().unwrap_or_default()
        ),
    }
}

/// The JSBundle served at `path`.
pub fn matching(state: &Shared, path: &str) -> Option<Arc<Entry>> {
    state
        .caches
        .js_bundles
        .list()
        .into_iter()
        .find(|e| link(&e.obj) == path)
}

/// The content type for a link, by its extension.
pub fn content_type(link: &str) -> &'static str {
    let ext = link.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match ext {
        "js" | "mjs" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn key_data(obj: &serde_json::Value, key: &str, encoded: bool) -> Option<Vec<u8>> {
    if encoded {
        obj["data"][key].as_str().and_then(|s| B64.decode(s).ok())
    } else {
        obj["data"][key]
            .as_str()
            .map(|s| s.as_bytes().to_vec())
            .or_else(|| {
                obj["binaryData"][key]
                    .as_str()
                    .and_then(|s| B64.decode(s).ok())
            })
    }
}

async fn content(state: &Shared, bundle: &Entry) -> Result<Vec<u8>, Response> {
    let name = format!("JSBundle {:?}", bundle.name());
    let spec = &bundle.obj["spec"];
    if let Some(raw) = spec["raw"].as_str().filter(|s| !s.is_empty()) {
        return B64
            .decode(raw)
            .map_err(|e| unavailable(&name, format!("spec.raw is not base64: {e}")));
    }
    let from = &spec["rawFrom"];
    for (field, kind, encoded) in [
        ("configMapKeyRef", Kind::ConfigMap, false),
        ("secretKeyRef", Kind::Secret, true),
    ] {
        let r = &from[field];
        if !r.is_object() {
            continue;
        }
        let (ns, n, key) = (
            r["namespace"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default(),
            r["key"].as_str().unwrap_or_default(),
        );
        let obj = crate::kubeapi::get(&state.client, kind, Some(ns), n)
            .await
            .map_err(|e| unavailable(&name, e))?;
        return obj
            .and_then(|o| key_data(&o, key, encoded))
            .ok_or_else(|| unavailable(&name, format!("{field} {ns}/{n} has no key {key:?}")));
    }
    let ep = endpoint(from).map_err(|e| unavailable(&name, e))?;
    let r = send(
        state,
        &ep,
        Method::GET,
        &ep.base,
        HeaderMap::new(),
        Body::empty(),
    )
    .await
    .map_err(|e| unavailable(&name, e))?;
    if !r.status().is_success() {
        return Err(unavailable(
            &name,
            format!("{} answered {}", ep.base, r.status()),
        ));
    }
    if r.content_length().is_some_and(|l| l as usize > MAX_BUNDLE) {
        return Err(unavailable(&name, "the bundle is too large"));
    }
    let bytes = r.bytes().await.map_err(|e| unavailable(&name, e))?;
    if bytes.len() > MAX_BUNDLE {
        return Err(unavailable(&name, "the bundle is too large"));
    }
    Ok(bytes.to_vec())
}

/// Serves a bundle (GET or HEAD; 304 when `If-None-Match` names its ETag).
pub async fn serve(state: &Shared, bundle: &Entry, method: &Method, sent: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(405, "MethodNotAllowed", "a JSBundle is only read").into_response();
    }
    let body = match content(state, bundle).await {
        Ok(b) => b,
        Err(resp) => {
            note_state(state, Kind::JsBundle, bundle, false);
            return resp;
        }
    };
    note_state(state, Kind::JsBundle, bundle, true);
    let digest = Sha256::digest(&body);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&link(&bundle.obj))),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    let fresh = sent
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if method == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        return (StatusCode::OK, headers).into_response();
    }
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn links_and_types() {
        assert_eq!(
            link(&json!({"metadata": {"name": "a"}})),
            "/dist/a/index.js"
        );
        let o = json!({"metadata": {"name": "a"}, "status": {"link": "/dist/a/v2/main.css"}});
        assert_eq!(link(&o), "/dist/a/v2/main.css");
        // A link outside /dist/ is not honoured.
        let o = json!({"metadata": {"name": "a"}, "status": {"link": "/kapis/x"}});
        assert_eq!(link(&o), "/dist/a/index.js");
        assert_eq!(
            content_type("/dist/a/index.js"),
            "application/javascript; charset=utf-8"
        );
        assert_eq!(content_type("/dist/a/x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("/dist/a/x"), "application/octet-stream");
    }
}
