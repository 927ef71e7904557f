//! Native `/api` and `/apis` requests: authorized by the platform, then forwarded unchanged
//! (bodies and watch streams included) to the host cluster with the platform's credentials.
//! Reviews about the caller are answered here instead.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderName};

use super::{ApiError, Caller, Shared, reviews};
use crate::clusters::Member;
use crate::clusters::breaker::SUSPECT_AFTER;

/// Largest request body forwarded (kube-apiserver's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;
/// How long the host may take to start answering.
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

const FORWARDED_REQUEST_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::USER_AGENT,
    header::CONTENT_ENCODING,
];
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

/// The fallback handler of the authorized router.
pub async fn forward(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    target: Option<Extension<super::clusters::Target>>,
    req: Request,
) -> Response {
    if let Some(Extension(t)) = target {
        return super::clusters::proxy(State(state), Extension(caller), Extension(t), req).await;
    }
    // The canonical path the authorization layer resolved, never the path as sent.
    let path = caller.info.path.clone();
    if path.starts_with("/kapis/")
        && let Ok(index) = state.discovery.index().await
        && crate::authz::resolve::is_dynamic(&caller.info, &index)
    {
        let info = &caller.info;
        return super::resources::dynamic(
            &state.client,
            info,
            req,
            "host cluster",
            None,
            HEADER_TIMEOUT,
        )
        .await;
    }
    if !(path == "/api"
        || path.starts_with("/api/")
        || path == "/apis"
        || path.starts_with("/apis/"))
    {
        return super::error::no_route().into_response();
    }
    let uri = with_query(&path, req.uri().query());
    if relays_upgrade(req.headers(), &caller.info) {
        return relay_upgrade(
            &state.client,
            req,
            &uri,
            HEADER_TIMEOUT,
            "host cluster",
            None,
        )
        .await;
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let info = &caller.info;
    if let Some(answer) = self_review(&state.authz, &caller, &parts, &body).await {
        return answer;
    }
    if let Err(e) = crate::alerting::admission::check(&caller.info, &parts.method, &body) {
        return e.into_response();
    }
    let body = match super::writeguard::check(
        &state.authz,
        &state.caches,
        &state.client,
        &caller,
        &parts,
        &body,
    )
    .await
    {
        Ok(Some(pinned)) => pinned,
        Ok(None) => body,
        Err(refused) => return refused,
    };
    tracing::debug!(user = %caller.user.name, method = %parts.method, path = %info.path, "proxy");
    relay(
        &state.client,
        &parts,
        &uri,
        body,
        HEADER_TIMEOUT,
        "host cluster",
        None,
    )
    .await
}

/// Reads a request body up to kube-apiserver's size limit.
pub(super) async fn read_body(body: Body) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(413, "RequestEntityTooLarge", "request body is too large").into_response()
    })
}

/// Answers the reviews about the caller (whoami, can-i) from the platform's authorizer.
pub(super) async fn self_review(
    authz: &crate::authz::Authorizer,
    caller: &Caller,
    parts: &http::request::Parts,
    body: &[u8],
) -> Option<Response> {
    if parts.method != http::Method::POST {
        return None;
    }
    let info = &caller.info;
    let answer = match (info.api_group.as_str(), info.resource.as_str()) {
        ("authentication.k8s.io", "selfsubjectreviews") => {
            Ok(reviews::self_subject_review(caller).await)
        }
        ("authorization.k8s.io", "selfsubjectaccessreviews") => {
            reviews::self_subject_access_review(authz, caller, &parts.headers, body).await
        }
        ("authorization.k8s.io", "selfsubjectrulesreviews") => {
            reviews::self_subject_rules_review(authz, caller, &parts.headers, body).await
        }
        _ => return None,
    };
    Some(match answer {
        Ok(json) => (http::StatusCode::CREATED, json).into_response(),
        Err(e) => e.into_response(),
    })
}

/// `path?query`.
pub(super) fn with_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    }
}

/// Secrets in the platform's own namespace (sessions, kubeconfigs of members, signing keys),
/// lists of every namespace's secrets, and changes to Clusters are for platform administrators
/// only, whatever host-level roles a caller holds.
pub(super) fn guard_platform_secrets(state: &Shared, caller: &Caller) -> Option<Response> {
    let info = &caller.info;
    // Their metadata too: names of platform Secrets identify sessions and members.
    let secrets = (info.api_group.is_empty() || info.api_group == "resources.kubesphere.io")
        && info.resource == "secrets"
        && (info.namespace.is_empty() || info.namespace == crate::tokens::SYSTEM_NAMESPACE);
    // Changing a Cluster changes where the platform sends its credentials and what it runs.
    let clusters = info.api_group == crate::crds::CLUSTER
        && !matches!(info.verb.as_str(), "get" | "list" | "watch");
    let allowed = if secrets {
        super::clusters::is_platform_admin(state, &caller.user, "secrets", "")
    } else if clusters {
        super::clusters::is_platform_admin(state, &caller.user, "", "")
    } else {
        true
    };
    if allowed {
        return None;
    }
    Some(super::error::forbidden(super::forbidden_message(&caller.user, info)).into_response())
}

/// Sends a request to a cluster with the platform's credentials and streams the answer
/// back (watches included); the cluster has `timeout` to start answering.
pub(super) async fn relay(
    client: &kube::Client,
    parts: &http::request::Parts,
    uri: &str,
    body: bytes::Bytes,
    timeout: Duration,
    what: &str,
    member: Option<&Arc<Member>>,
) -> Response {
    let mut builder = http::Request::builder()
        .method(parts.method.clone())
        .uri(uri);
    for h in FORWARDED_REQUEST_HEADERS {
        if let Some(v) = parts.headers.get(&h) {
            builder = builder.header(h, v);
        }
    }
    let upstream = match builder.body(kube::client::Body::from(body.to_vec())) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    let resp = match send(client, upstream, timeout, what, member).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let (rparts, rbody) = resp.into_parts();
    let mut out = Response::builder().status(rparts.status);
    for (k, v) in &rparts.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            out = out.header(k, v);
        }
    }
    out.body(Body::new(rbody))
        .unwrap_or_else(|e| ApiError::bad_request(e.to_string()).into_response())
}

/// Sends a request upstream and waits for the head of its answer, at most `timeout`. For a
/// member cluster, the request feeds its circuit breaker: a failure or timeout opens it, an
/// answer slower than [`SUSPECT_AFTER`] has the member probed, and once the breaker is open
/// the request is answered 503 at once instead of waiting on.
async fn send(
    client: &kube::Client,
    upstream: http::Request<kube::client::Body>,
    timeout: Duration,
    what: &str,
    member: Option<&Arc<Member>>,
) -> Result<http::Response<kube::client::Body>, Response> {
    let sent = tokio::time::timeout(timeout, client.send(upstream));
    let outcome = match member {
        None => sent.await,
        Some(m) => {
            let watchdog = async {
                tokio::time::sleep(SUSPECT_AFTER).await;
                m.suspect();
                std::future::pending::<()>().await
            };
            tokio::select! {
                r = sent => r,
                _ = m.breaker.opened() => return Err(unavailable(m).into_response()),
                _ = watchdog => return Err(unavailable(m).into_response()),
            }
        }
    };
    match outcome {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => {
            if let Some(m) = member {
                m.breaker.trip(&e.to_string());
                m.suspect();
            }
            Err(ApiError::new(502, "InternalError", format!("{what}: {e}")).into_response())
        }
        Err(_) => {
            if let Some(m) = member {
                m.breaker
                    .trip(&format!("no answer within {} s", timeout.as_secs()));
                m.suspect();
            }
            Err(ApiError::new(
                504,
                "Timeout",
                format!("{what} did not answer within {} s", timeout.as_secs()),
            )
            .into_response())
        }
    }
}

/// The 503 for a member whose breaker is open.
pub(super) fn unavailable(m: &Member) -> ApiError {
    ApiError::new(
        503,
        "ServiceUnavailable",
        format!(
            "cluster {} is not answering ({}); requests to it are refused until it answers again",
            m.name,
            m.breaker.reason()
        ),
    )
}

/// Headers never passed upstream on an upgrade (credentials are the platform's own).
const UPGRADE_DROPPED: [&str; 4] = ["authorization", "host", "cookie", "content-length"];

/// Whether a request asks for a protocol upgrade (WebSocket or SPDY: exec, attach,
/// port-forward).
pub(super) fn is_upgrade(headers: &http::HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
}

/// Whether a request is relayed as an upgrade: it asks for one and is a read or a stream into a
/// pod. Any other request's `Upgrade` header is ignored (never forwarded), so a write cannot
/// take the upgrade path around the checks of ordinary writes.
pub(super) fn relays_upgrade(
    headers: &http::HeaderMap,
    info: &crate::authz::scope::RequestInfo,
) -> bool {
    is_upgrade(headers)
        && (matches!(info.verb.as_str(), "get" | "list" | "watch")
            || (info.api_group.is_empty()
                && info.resource == "pods"
                && matches!(info.subresource.as_str(), "exec" | "attach" | "portforward")))
}

/// Relays an upgrade: the cluster's `101` goes back to the client, then bytes flow both ways
/// between the two upgraded connections until either side closes.
pub(super) async fn relay_upgrade(
    client: &kube::Client,
    mut req: Request,
    uri: &str,
    timeout: Duration,
    what: &str,
    member: Option<&Arc<Member>>,
) -> Response {
    let client_side = hyper::upgrade::on(&mut req);
    let mut builder = http::Request::builder()
        .method(req.method().clone())
        .uri(uri);
    for (k, v) in req.headers() {
        let name = k.as_str();
        if !UPGRADE_DROPPED.contains(&name) && !name.starts_with("impersonate-") {
            builder = builder.header(k, v);
        }
    }
    let upstream = match builder.body(kube::client::Body::empty()) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    let mut resp = match send(client, upstream, timeout, what, member).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let status = resp.status();
    let mut out = Response::builder().status(status);
    for (k, v) in resp.headers() {
        if k != header::CONTENT_LENGTH {
            out = out.header(k, v);
        }
    }
    if status != http::StatusCode::SWITCHING_PROTOCOLS {
        let (_, body) = resp.into_parts();
        return out
            .body(Body::new(body))
            .unwrap_or_else(|e| ApiError::bad_request(e.to_string()).into_response());
    }
    let cluster_side = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        let (Ok(a), Ok(b)) = (client_side.await, cluster_side.await) else {
            tracing::debug!("upgrade did not complete");
            return;
        };
        let mut a = hyper_util::rt::TokioIo::new(a);
        let mut b = hyper_util::rt::TokioIo::new(b);
        if let Err(e) = tokio::io::copy_bidirectional(&mut a, &mut b).await {
            tracing::debug!(error = %e, "upgraded stream ended");
        }
    });
    out.body(Body::empty())
        .unwrap_or_else(|e| ApiError::bad_request(e.to_string()).into_response())
}
