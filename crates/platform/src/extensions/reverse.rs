//! `ReverseProxy` routes: `/proxy/…` paths named by `spec.matcher` (`path`, exact or ending in
//! `*` for a prefix; `method`, empty or `*` for any), sent to `spec.upstream` with
//! `spec.directives`: `method` (the method sent upstream), `stripPathPrefix`,
//! `stripPathSuffix`, `headerUp` / `headerDown` (`"Name value"` sets a header on the request
//! to the backend / the answer to the client, `"-Name"` removes it), `changeOrigin` (send the
//! upstream's host as `Host` instead of the client's) and `authProxy` (send the caller's
//! identity as an APIService does). The caller's `Authorization`, `Cookie` and any client-sent
//! `X-Remote-*` header never reach the backend.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;

use super::routing::{
    endpoint, note_state, relay, send, unavailable, upstream_headers, with_query,
};
use crate::cache::Entry;
use crate::http::{Caller, Shared};

/// Whether a matcher (`path`, `method`) matches; the length of the matched prefix ranks it.
pub fn matches(matcher: &Value, path: &str, method: &Method) -> Option<usize> {
    let want = matcher["method"].as_str().unwrap_or_default();
    if !(want.is_empty() || want == "*" || want.eq_ignore_ascii_case(method.as_str())) {
        return None;
    }
    let p = matcher["path"].as_str().unwrap_or_default();
    if p.is_empty() {
        return None;
    }
    match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix).then_some(prefix.len()),
        None => (path == p).then_some(p.len() + 1),
    }
}

/// The ReverseProxy serving `path`: the most specific match.
pub fn matching(state: &Shared, path: &str, method: &Method) -> Option<(Arc<Entry>, usize)> {
    state
        .caches
        .reverse_proxies
        .list()
        .into_iter()
        .filter_map(|e| matches(&e.obj["spec"]["matcher"], path, method).map(|n| (e, n)))
        .max_by_key(|(_, n)| *n)
}

/// The path sent upstream after `stripPathPrefix` and `stripPathSuffix`.
pub fn upstream_path(directives: &Value, path: &str) -> String {
    let mut p = path;
    if let Some(prefix) = directives["stripPathPrefix"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        p = p.strip_prefix(prefix).unwrap_or(p);
    }
    if let Some(suffix) = directives["stripPathSuffix"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        p = p.strip_suffix(suffix).unwrap_or(p);
    }
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// Applies `headerUp`/`headerDown` entries: `"Name value"` sets, `"-Name"` removes. Returns the
/// headers removed (for answers, where they are dropped after the backend's are copied).
pub fn apply_header_directives(headers: &mut HeaderMap, entries: &Value) -> Vec<HeaderName> {
    let mut removed = Vec::new();
    for e in entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let e = e.trim();
        if let Some(name) = e.strip_prefix('-') {
            if let Ok(n) = HeaderName::from_bytes(name.trim().as_bytes()) {
                headers.remove(&n);
                removed.push(n);
            }
            continue;
        }
        let (name, value) = e.split_once(char::is_whitespace).unwrap_or((e, ""));
        // The identity headers are the platform's alone, even for a proxy's own directives.
        if super::routing::is_identity_header(name) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.insert(n, v);
        }
    }
    removed
}

/// Proxies a request through ReverseProxy `rp`.
pub async fn serve(
    state: &Shared,
    caller: &Caller,
    rp: &Entry,
    path: &str,
    req: Request,
) -> Response {
    let what = format!("ReverseProxy {:?}", rp.name());
    let spec = &rp.obj["spec"];
    let d = &spec["directives"];
    let ep = match endpoint(&spec["upstream"]) {
        Ok(ep) => ep,
        Err(e) => return unavailable(&what, e),
    };
    let url = with_query(
        &format!("{}{}", ep.base, upstream_path(d, path)),
        req.uri().query(),
    );
    let auth = d["authProxy"].as_bool().unwrap_or(false);
    let mut headers = upstream_headers(req.headers(), auth.then_some(&caller.user));
    if !d["changeOrigin"].as_bool().unwrap_or(false)
        && let Some(host) = req.headers().get(http::header::HOST)
    {
        headers.insert(http::header::HOST, host.clone());
    }
    apply_header_directives(&mut headers, &d["headerUp"]);
    let method = match d["method"].as_str().filter(|m| !m.is_empty()) {
        Some(m) => match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
            Ok(m) => m,
            Err(_) => return unavailable(&what, format!("directive method {m:?} is invalid")),
        },
        None => req.method().clone(),
    };
    let resp = send(state, &ep, method, &url, headers, req.into_body()).await;
    note_state(state, crate::kinds::Kind::ReverseProxy, rp, resp.is_ok());
    match resp {
        Ok(r) => {
            let mut add = HeaderMap::new();
            let removed = apply_header_directives(&mut add, &d["headerDown"]);
            relay(r, &add, &removed)
        }
        Err(e) => unavailable(&what, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matcher_prefix_exact_and_method() {
        let m = json!({"path": "/proxy/a/*", "method": "*"});
        assert_eq!(matches(&m, "/proxy/a/x/y", &Method::GET), Some(9));
        assert_eq!(matches(&m, "/proxy/ab", &Method::GET), None);
        let m = json!({"path": "/proxy/a", "method": "POST"});
        assert!(matches(&m, "/proxy/a", &Method::POST).is_some());
        assert!(matches(&m, "/proxy/a", &Method::GET).is_none());
        assert!(matches(&m, "/proxy/a/b", &Method::POST).is_none());
        assert!(matches(&json!({}), "/proxy/a", &Method::GET).is_none());
    }

    #[test]
    fn strip_prefix_and_suffix() {
        let d = json!({"stripPathPrefix": "/proxy/a", "stripPathSuffix": ".json"});
        assert_eq!(upstream_path(&d, "/proxy/a/x.json"), "/x");
        assert_eq!(upstream_path(&d, "/proxy/a"), "/");
        assert_eq!(upstream_path(&json!({}), "/proxy/a"), "/proxy/a");
    }

    #[test]
    fn header_directives_set_and_remove_but_never_identity() {
        let mut h = HeaderMap::new();
        h.insert("x-old", HeaderValue::from_static("1"));
        let removed = apply_header_directives(
            &mut h,
            &json!(["X-New  two words", "-X-Old", "X-Remote-User admin"]),
        );
        assert_eq!(h["x-new"], "two words");
        assert!(!h.contains_key("x-old"));
        assert!(!h.contains_key("x-remote-user"));
        assert_eq!(removed, [HeaderName::from_static("x-old")]);
    }
}
