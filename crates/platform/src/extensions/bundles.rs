//! `JSBundle`s served at `status.link` (default `/dist/<name>/index.js`): the bytes come from
//! `spec.raw`, or `spec.rawFrom` — a ConfigMap or Secret key (`configMapKeyRef`,
//! `secretKeyRef`: `namespace`, `name`, `key`) or an endpoint (`url`/`service`). Answers carry
//! the content type of the link's extension, a strong `ETag` (SHA-256 of the bytes),
//! `Cache-Control: no-cache` (a bundle changes under the same link, so browsers revalidate and
//! get 304 while it has not) and `X-Content-Type-Options: nosniff`.
//!
//! A bundle's assets (a code-split build's chunks, style sheets, images) are served beside it:
//! `/dist/<dir>/<file>` for the bundle linked in `/dist/<dir>/` is the key `<file>` of the same
//! ConfigMap or Secret, or `<file>` relative to the endpoint's URL (a `raw` bundle has none).

use std::sync::Arc;
use std::time::Duration;

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

/// How long a `/dist/` request that no bundle serves yet waits for this replica's cache: a
/// console told of a new JSBundle by its own watch may ask for it before the cache has it.
const CATCH_UP: Duration = Duration::from_secs(2);

/// The JSBundle served at `path`, and the asset asked for when `path` is not its link but a
/// file beside it (the deepest bundle directory wins).
pub fn matching(state: &Shared, path: &str) -> Option<(Arc<Entry>, Option<String>)> {
    find(&state.caches.js_bundles.list(), path)
}

/// [`matching`], waiting up to [`CATCH_UP`] for a bundle to appear when none serves `path`.
pub async fn matching_soon(state: &Shared, path: &str) -> Option<(Arc<Entry>, Option<String>)> {
    if let Some(m) = matching(state, path) {
        return Some(m);
    }
    let cache = &state.caches.js_bundles;
    if cache
        .wait_for(CATCH_UP, |c| find(&c.list(), path).is_some())
        .await
    {
        return matching(state, path);
    }
    None
}

fn find(bundles: &[Arc<Entry>], path: &str) -> Option<(Arc<Entry>, Option<String>)> {
    let links: Vec<String> = bundles.iter().map(|e| link(&e.obj)).collect();
    let refs: Vec<&str> = links.iter().map(String::as_str).collect();
    let (i, asset) = pick(&refs, path)?;
    Some((bundles[i].clone(), asset))
}

/// Which of `links` serves `path`: an exact link, else the deepest link whose directory holds
/// `path` as an asset (a relative path without empty, `.` or `..` segments).
pub fn pick(links: &[&str], path: &str) -> Option<(usize, Option<String>)> {
    if let Some(i) = links.iter().position(|l| *l == path) {
        return Some((i, None));
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, l) in links.iter().enumerate() {
        let Some(slash) = l.rfind('/') else { continue };
        let dir = &l[..=slash];
        let Some(rest) = path.strip_prefix(dir) else {
            continue;
        };
        let clean = !rest.is_empty()
            && rest
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
        if clean && best.is_none_or(|(_, len)| dir.len() > len) {
            best = Some((i, dir.len()));
        }
    }
    best.map(|(i, len)| (i, Some(path[len..].to_string())))
}

/// Whether `name` can be a ConfigMap or Secret key (`[-._a-zA-Z0-9]+`, not `.` or `..`).
fn is_key(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The URL of `asset` beside the bundle fetched from `base`.
fn asset_url(base: &str, asset: &str) -> String {
    let path_start = base.find("://").map_or(0, |i| i + 3);
    match base[path_start..].find('/') {
        None => format!("{base}/{asset}"),
        Some(_) => {
            let slash = base.rfind('/').unwrap_or(base.len());
            format!("{}/{asset}", &base[..slash])
        }
    }
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

/// A bundle's (or, given `asset`, one of its assets') bytes; `Ok(None)`: no such asset.
async fn content(
    state: &Shared,
    bundle: &Entry,
    asset: Option<&str>,
) -> Result<Option<Vec<u8>>, Response> {
    let name = format!("JSBundle {:?}", bundle.name());
    let spec = &bundle.obj["spec"];
    if let Some(raw) = spec["raw"].as_str().filter(|s| !s.is_empty()) {
        if asset.is_some() {
            return Ok(None);
        }
        return B64
            .decode(raw)
            .map(Some)
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
            asset.unwrap_or(r["key"].as_str().unwrap_or_default()),
        );
        if asset.is_some() && !is_key(key) {
            return Ok(None);
        }
        let obj = crate::kubeapi::get(&state.client, kind, Some(ns), n)
            .await
            .map_err(|e| unavailable(&name, e))?;
        let data = obj.and_then(|o| key_data(&o, key, encoded));
        if asset.is_some() {
            return Ok(data);
        }
        return data
            .map(Some)
            .ok_or_else(|| unavailable(&name, format!("{field} {ns}/{n} has no key {key:?}")));
    }
    let ep = endpoint(from).map_err(|e| unavailable(&name, e))?;
    let url = asset.map_or_else(|| ep.base.clone(), |a| asset_url(&ep.base, a));
    let r = send(
        state,
        &ep,
        Method::GET,
        &url,
        HeaderMap::new(),
        Body::empty(),
    )
    .await
    .map_err(|e| unavailable(&name, e))?;
    if asset.is_some() && r.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !r.status().is_success() {
        return Err(unavailable(&name, format!("{url} answered {}", r.status())));
    }
    if r.content_length().is_some_and(|l| l as usize > MAX_BUNDLE) {
        return Err(unavailable(&name, "the bundle is too large"));
    }
    let bytes = r.bytes().await.map_err(|e| unavailable(&name, e))?;
    if bytes.len() > MAX_BUNDLE {
        return Err(unavailable(&name, "the bundle is too large"));
    }
    Ok(Some(bytes.to_vec()))
}

/// Serves a bundle, or one of its assets (GET or HEAD; 304 when `If-None-Match` names its
/// ETag).
pub async fn serve(
    state: &Shared,
    bundle: &Entry,
    asset: Option<&str>,
    method: &Method,
    sent: &HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(405, "MethodNotAllowed", "a JSBundle is only read").into_response();
    }
    let body = match content(state, bundle, asset).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return ApiError::new(
                404,
                "NotFound",
                format!(
                    "JSBundle {:?} has no asset {:?}",
                    bundle.name(),
                    asset.unwrap_or_default()
                ),
            )
            .into_response();
        }
        Err(resp) => {
            if asset.is_none() {
                note_state(state, Kind::JsBundle, bundle, false);
            }
            return resp;
        }
    };
    if asset.is_none() {
        note_state(state, Kind::JsBundle, bundle, true);
    }
    let digest = Sha256::digest(&body);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut headers = HeaderMap::new();
    let served = asset.map_or_else(|| link(&bundle.obj), str::to_string);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&served)),
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

    #[test]
    fn assets_are_found_beside_their_bundle() {
        let links = ["/dist/a/index.js", "/dist/a/v2/index.js", "/dist/b/main.js"];
        assert_eq!(pick(&links, "/dist/a/index.js"), Some((0, None)));
        assert_eq!(pick(&links, "/dist/a/v2/index.js"), Some((1, None)));
        assert_eq!(
            pick(&links, "/dist/a/chunk-1.js"),
            Some((0, Some("chunk-1.js".into())))
        );
        // The deepest directory wins; deeper paths stay relative to it.
        assert_eq!(
            pick(&links, "/dist/a/v2/style.css"),
            Some((1, Some("style.css".into())))
        );
        assert_eq!(
            pick(&links, "/dist/a/img/logo.svg"),
            Some((0, Some("img/logo.svg".into())))
        );
        for bad in [
            "/dist/a/",
            "/dist/a/../b/main.js",
            "/dist/a/./x.js",
            "/dist/a//x.js",
            "/dist/c/x.js",
        ] {
            assert_eq!(pick(&links, bad), None, "{bad}");
        }
        assert!(is_key("chunk-1.a_b.js") && !is_key("img/logo.svg") && !is_key(".."));
        assert_eq!(
            asset_url("http://h:1/ui/index.js", "c.js"),
            "http://h:1/ui/c.js"
        );
        assert_eq!(asset_url("http://h:1", "c.js"), "http://h:1/c.js");
        assert_eq!(
            asset_url("https://h/index.js", "x/c.js"),
            "https://h/x/c.js"
        );
    }
}
