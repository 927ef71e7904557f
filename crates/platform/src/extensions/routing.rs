//! `extensions.kubesphere.io` routing, reached only after the platform's authentication and
//! authorization (the protected router's fallback calls [`route`] before the native proxy):
//!
//! - an `APIService` answers `/kapis/{spec.group}/{spec.version}/…`: the request goes to its
//!   endpoint with the same path and query, carrying the caller's identity in `X-Remote-User` and
//!   `X-Remote-Group` (client-sent `X-Remote-*` headers, `Authorization` and `Cookie` are
//!   removed first, so a backend never sees a forged identity or the caller's token);
//! - a `ReverseProxy` answers the `/proxy/…` paths its `matcher` names, with its `directives`;
//! - a `JSBundle` is served at `status.link` (default `/dist/<name>/index.js`).
//!
//! Endpoints: `url`, or a host `service` reached directly at `<name>.<namespace>.svc:<port>`
//! (cluster DNS: Orrery deployed in the cluster; with the embedded cluster use `url`). An
//! endpoint that cannot be reached answers 503 within [`CONNECT_TIMEOUT`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use crate::authz::UserInfo;
use crate::http::{Caller, Shared};
use apimachinery::status::ApiError;

/// How long connecting to an extension backend may take before the route answers 503.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a backend may take to send its response headers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Headers never passed on (hop-by-hop, RFC 9110 §7.6.1) in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// HTTP clients per TLS setting (CA bundle, skip verification), so connections are reused.
#[derive(Default)]
pub struct Upstreams {
    clients: Mutex<HashMap<(Vec<u8>, bool), reqwest::Client>>,
    /// The last state written to each routing object's status (`Available`/`Unavailable`).
    states: Mutex<HashMap<String, &'static str>>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Upstreams")
    }
}

impl Upstreams {
    fn client(&self, ca: &[u8], insecure: bool) -> Result<reqwest::Client, String> {
        let key = (ca.to_vec(), insecure);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut b = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(RESPONSE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .use_rustls_tls();
        if !ca.is_empty() {
            for cert in reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| format!("caBundle is not PEM: {e}"))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        if insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        let c = b.build().map_err(|e| e.to_string())?;
        clients.insert(key, c.clone());
        Ok(c)
    }
}

/// An endpoint (`url` or `service`, with `caBundle` and `insecureSkipVerify`) as a base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme, host, port and path prefix, without a trailing `/`.
    pub base: String,
    /// PEM CA bundle (decoded from base64).
    pub ca: Vec<u8>,
    /// Skip verifying the backend's certificate.
    pub insecure: bool,
}

/// Reads KubeSphere's `Endpoint` fields from `spec` (an APIService's spec, a ReverseProxy's
/// `upstream`, a JSBundle's `rawFrom`).
pub fn endpoint(spec: &Value) -> Result<Endpoint, String> {
    let ca = match spec["caBundle"].as_str() {
        Some(s) if !s.is_empty() => B64
            .decode(s.trim())
            .map_err(|e| format!("caBundle is not base64: {e}"))?,
        _ => Vec::new(),
    };
    let insecure = spec["insecureSkipVerify"].as_bool().unwrap_or(false);
    let base = if let Some(url) = spec["url"].as_str().filter(|u| !u.is_empty()) {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!("url {url:?} is not an http(s) URL"));
        }
        url.trim_end_matches('/').to_string()
    } else if let Some(svc) = spec["service"].as_object() {
        let name = svc.get("name").and_then(Value::as_str).unwrap_or_default();
        let ns = svc
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for (what, v) in [("name", name), ("namespace", ns)] {
            if !apimachinery::validation::is_dns1123_label(v).is_empty() || v.is_empty() {
                return Err(format!("service {what} {v:?} is invalid"));
            }
        }
        let port = svc.get("port").and_then(Value::as_u64).unwrap_or(443);
        let port = u16::try_from(port).map_err(|_| format!("service port {port} is invalid"))?;
        let tls = port == 443 || !ca.is_empty() || insecure;
        let scheme = if tls { "https" } else { "http" };
        let path = svc.get("path").and_then(Value::as_str).unwrap_or_default();
        format!(
            "{scheme}://{name}.{ns}.svc:{port}{}",
            path.trim_end_matches('/')
        )
    } else {
        return Err("neither url nor service is set".into());
    };
    Ok(Endpoint { base, ca, insecure })
}

/// Whether a host request path is an APIService's (`/kapis/{group}/{version}/…`).
pub fn api_service_for(state: &Shared, path: &str) -> Option<Arc<crate::cache::Entry>> {
    let rest = path.strip_prefix("/kapis/")?;
    let mut parts = rest.splitn(3, '/');
    let (group, version) = (parts.next()?, parts.next()?);
    if is_platform_group(group) {
        return None;
    }
    state.caches.api_services.list().into_iter().find(|e| {
        e.obj["spec"]["group"].as_str() == Some(group)
            && e.obj["spec"]["version"].as_str() == Some(version)
    })
}

/// `/kapis` groups the platform serves itself: no APIService can claim them (their requests
/// keep their own resolution and handlers).
const PLATFORM_GROUPS: &[&str] = &[
    "monitoring.kubesphere.io",
    "logging.kubesphere.io",
    "auditing.kubesphere.io",
    "events.kubesphere.io",
    "notification.kubesphere.io",
    "quota.kubesphere.io",
    "extensions.kubesphere.io",
    "kubesphere.io",
];

/// Whether `/kapis/{group}/…` is the platform's own.
pub fn is_platform_group(group: &str) -> bool {
    crate::authz::resolve::PLATFORM_KAPIS_GROUPS.contains(&group)
        || PLATFORM_GROUPS.contains(&group)
}

/// Whether a header is one of the identity headers only the platform may set.
pub fn is_identity_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "x-remote-user" || n == "x-remote-group" || n.starts_with("x-remote-extra-")
}

/// The request headers passed to a backend: without hop-by-hop headers, the caller's
/// credentials and any identity header the client sent; with the caller's identity when
/// `identity` is set.
pub fn upstream_headers(sent: &HeaderMap, user: Option<&UserInfo>) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in sent {
        let n = k.as_str();
        if HOP_BY_HOP.contains(&n) || n == "authorization" || n == "cookie" || is_identity_header(n)
        {
            continue;
        }
        out.append(k.clone(), v.clone());
    }
    if let Some(user) = user {
        if let Ok(v) = HeaderValue::from_str(&user.name) {
            out.insert("x-remote-user", v);
        }
        for g in &user.groups {
            if let Ok(v) = HeaderValue::from_str(g) {
                out.append("x-remote-group", v);
            }
        }
    }
    out
}

fn response_headers(got: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in got {
        if !HOP_BY_HOP.contains(&k.as_str()) || k == "content-length" {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

/// `path` with the request's query, if any.
pub(super) fn with_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    }
}

pub(super) fn unavailable(what: &str, e: impl std::fmt::Display) -> Response {
    ApiError::new(
        503,
        "ServiceUnavailable",
        format!("the backend of {what} is unavailable: {e}"),
    )
    .into_response()
}

/// Answers the request if an extension route serves its path; otherwise `None`.
pub async fn route(state: &Shared, caller: &Caller, req: Request) -> Result<Response, Request> {
    let path = caller.info.path.clone();
    if path.starts_with("/kapis/")
        && let Some(svc) = api_service_for(state, &path)
    {
        return Ok(api_service(state, caller, &svc, &path, req).await);
    }
    if path.starts_with("/proxy/")
        && let Some((rp, _)) = super::reverse::matching(state, &path, req.method())
    {
        return Ok(super::reverse::serve(state, caller, &rp, &path, req).await);
    }
    if path.starts_with("/dist/")
        && let Some((bundle, asset)) = super::bundles::matching_soon(state, &path).await
    {
        let (method, headers) = (req.method(), req.headers());
        return Ok(super::bundles::serve(state, &bundle, asset.as_deref(), method, headers).await);
    }
    Err(req)
}

async fn api_service(
    state: &Shared,
    caller: &Caller,
    svc: &crate::cache::Entry,
    path: &str,
    req: Request,
) -> Response {
    let name = format!("APIService {:?}", svc.name());
    let ep = match endpoint(&svc.obj["spec"]) {
        Ok(ep) => ep,
        Err(e) => return unavailable(&name, e),
    };
    let url = with_query(&format!("{}{path}", ep.base), req.uri().query());
    let headers = upstream_headers(req.headers(), Some(&caller.user));
    let method = req.method().clone();
    let resp = send(state, &ep, method, &url, headers, req.into_body()).await;
    note_state(state, crate::kinds::Kind::ApiService, svc, resp.is_ok());
    match resp {
        Ok(r) => relay(r, &HeaderMap::new(), &[]),
        Err(e) => unavailable(&name, e),
    }
}

/// Sends a request to an endpoint.
pub(super) async fn send(
    state: &Shared,
    ep: &Endpoint,
    method: Method,
    url: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<reqwest::Response, String> {
    let client = state.extensions.client(&ep.ca, ep.insecure)?;
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    client
        .request(method, url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        })
}

/// The backend's answer, streamed, with `add` headers set and `remove` headers dropped.
pub(super) fn relay(r: reqwest::Response, add: &HeaderMap, remove: &[HeaderName]) -> Response {
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = response_headers(r.headers());
    for h in remove {
        headers.remove(h);
    }
    for (k, v) in add {
        headers.insert(k.clone(), v.clone());
    }
    let mut resp = Response::new(Body::from_stream(r.bytes_stream()));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// Keeps `status.state` (`Available` or `Unavailable`) of a routing object: written on a
/// change only, in the background, never delaying the answer.
pub(super) fn note_state(
    state: &Shared,
    kind: crate::kinds::Kind,
    obj: &crate::cache::Entry,
    ok: bool,
) {
    let want = if ok { "Available" } else { "Unavailable" };
    let name = obj.name().to_string();
    let key = format!("{}/{name}", kind.kind());
    {
        let mut states = state
            .extensions
            .states
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let current = states
            .get(&key)
            .copied()
            .or_else(|| obj.obj["status"]["state"].as_str().and_then(known_state));
        if current == Some(want) {
            return;
        }
        states.insert(key, want);
    }
    let client = state.client.clone();
    tokio::spawn(async move {
        let patch = json!({"status": {"state": want}});
        if let Err(e) = crate::kubeapi::merge_patch_status(&client, kind, None, &name, patch).await
        {
            tracing::debug!(%name, error = %e, "could not keep an extension route's state");
        }
    });
}

fn known_state(s: &str) -> Option<&'static str> {
    match s {
        "Available" => Some("Available"),
        "Unavailable" => Some("Unavailable"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_url_and_service() {
        let ep = endpoint(&json!({"url": "http://127.0.0.1:8080/"})).unwrap();
        assert_eq!(ep.base, "http://127.0.0.1:8080");
        let ep = endpoint(
            &json!({"service": {"namespace": "extension-a", "name": "api",
            "port": 8080, "path": "/v/"}}),
        )
        .unwrap();
        assert_eq!(ep.base, "http://api.extension-a.svc:8080/v");
        let ep = endpoint(&json!({"service": {"namespace": "n", "name": "s"},
            "insecureSkipVerify": true}))
        .unwrap();
        assert_eq!(ep.base, "https://s.n.svc:443");
        assert!(ep.insecure);
        assert!(endpoint(&json!({"url": "file:///etc/passwd"})).is_err());
        assert!(endpoint(&json!({"service": {"namespace": "a/b", "name": "s"}})).is_err());
        assert!(endpoint(&json!({"caBundle": "!!", "url": "https://x"})).is_err());
        assert!(endpoint(&json!({})).is_err());
    }

    #[test]
    fn platform_groups_are_not_claimable() {
        for g in [
            "iam.kubesphere.io",
            "resources.kubesphere.io",
            "monitoring.kubesphere.io",
        ] {
            assert!(is_platform_group(g), "{g}");
        }
        assert!(!is_platform_group("gateway.kubesphere.io"));
    }

    #[test]
    fn forged_identity_and_credentials_never_pass() {
        let mut sent = HeaderMap::new();
        sent.insert("x-remote-user", HeaderValue::from_static("admin"));
        sent.insert("X-Remote-Extra-Scopes", HeaderValue::from_static("all"));
        sent.append("x-remote-group", HeaderValue::from_static("system:masters"));
        sent.insert("authorization", HeaderValue::from_static("Bearer t"));
        sent.insert("cookie", HeaderValue::from_static("token=t"));
        sent.insert("connection", HeaderValue::from_static("close"));
        sent.insert("accept", HeaderValue::from_static("application/json"));
        let user = UserInfo {
            name: "dev".into(),
            groups: vec!["system:authenticated".into(), "w:devs".into()],
        };
        let out = upstream_headers(&sent, Some(&user));
        assert_eq!(out["x-remote-user"], "dev");
        let groups: Vec<_> = out.get_all("x-remote-group").iter().collect();
        assert_eq!(groups, ["system:authenticated", "w:devs"]);
        for h in [
            "x-remote-extra-scopes",
            "authorization",
            "cookie",
            "connection",
        ] {
            assert!(!out.contains_key(h), "{h}");
        }
        assert_eq!(out["accept"], "application/json");
        let anonymous = upstream_headers(&sent, None);
        assert!(!anonymous.contains_key("x-remote-user"));
        assert!(!anonymous.contains_key("x-remote-group"));
    }
}
