//! Console sessions held in cookies: `POST /console/session` logs in (password grant) and sets
//! an HttpOnly, SameSite=Strict cookie holding the access token plus a readable CSRF cookie;
//! `POST /console/session/refresh` rotates them; `DELETE /console/session` logs out;
//! `GET /console/session` says who the cookie belongs to.
//!
//! The browser never sees a token, so script injected into the page cannot steal one. Because a
//! cookie rides along with every request, unsafe methods authenticated by the cookie must carry
//! the CSRF cookie's value in `X-CSRF-Token` (double submit): another site can make the browser
//! send the cookie but cannot read it to copy it into the header.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use rand::RngCore;
use serde_json::json;

use super::login::Origin;
use super::oauth::{OAuthError, password_grant, refresh_grant};
use super::{ApiError, Shared, identify};
use crate::tokens::IssuedTokens;

/// Cookie holding the access token (HttpOnly).
pub const TOKEN_COOKIE: &str = "orrery_token";
/// Cookie holding the refresh token (HttpOnly, sent only to the session endpoint).
pub const REFRESH_COOKIE: &str = "orrery_refresh";
/// Cookie holding the CSRF token (readable by the console's script).
pub const CSRF_COOKIE: &str = "orrery_csrf";
/// Header an unsafe cookie-authenticated request must copy the CSRF cookie into.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Path the refresh cookie is limited to.
const SESSION_PATH: &str = "/console/session";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether a method can change something (and so needs the CSRF header with a cookie).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request's `X-CSRF-Token` header matches its CSRF cookie.
pub fn csrf_ok(headers: &HeaderMap) -> bool {
    let Some(cookie) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    let Some(header) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    crate::password::constant_time_eq(cookie.as_bytes(), header.trim().as_bytes())
}

/// The bearer token a cookie-authenticated request carries, refusing unsafe methods without a
/// matching CSRF header. `Ok(None)`: no session cookie.
pub fn token_from_cookie(method: &Method, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(token) = cookie(headers, TOKEN_COOKIE) else {
        return Ok(None);
    };
    if is_unsafe(method) && !csrf_ok(headers) {
        return Err(super::error::forbidden(
            "missing or mismatched X-CSRF-Token header for a cookie-authenticated request",
        ));
    }
    Ok(Some(token.to_string()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `Set-Cookie` values for a fresh session. `secure` adds `Secure` (the platform is on HTTPS).
pub(super) fn session_cookies(issued: &IssuedTokens, secure: bool) -> Vec<String> {
    let sec = if secure { "; Secure" } else { "" };
    // The access cookie outlives the token a little so an expired token gets a 401 (and a
    // refresh) rather than looking like no session at all.
    let age = issued.expires_in.saturating_mul(2).max(60);
    vec![
        format!(
            "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{sec}",
            issued.access_token
        ),
        format!(
            "{REFRESH_COOKIE}={}; Path={SESSION_PATH}; HttpOnly; SameSite=Strict{sec}",
            issued.refresh_token
        ),
        format!(
            "{CSRF_COOKIE}={}; Path=/; SameSite=Strict{sec}",
            random_token()
        ),
    ]
}

fn cleared_cookies(secure: bool) -> Vec<String> {
    let sec = if secure { "; Secure" } else { "" };
    vec![
        format!("{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{sec}"),
        format!(
            "{REFRESH_COOKIE}=; Path={SESSION_PATH}; HttpOnly; SameSite=Strict; Max-Age=0{sec}"
        ),
        format!("{CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0{sec}"),
    ]
}

/// Whether cookies get `Secure` (the platform is on HTTPS).
pub(super) fn secure(state: &super::AppState) -> bool {
    state.settings.public_url.starts_with("https:")
}

/// Adds `Set-Cookie` for each of `cookies`.
pub(super) fn set_cookies(resp: &mut Response, cookies: Vec<String>) {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// A JSON answer, not cached, setting `cookies`.
pub(super) fn with_cookies(
    status: StatusCode,
    body: serde_json::Value,
    cookies: Vec<String>,
) -> Response {
    let mut resp = (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
    set_cookies(&mut resp, cookies);
    resp
}

fn session_body(user: &str, issued: &IssuedTokens) -> serde_json::Value {
    json!({"username": user, "expires_in": issued.expires_in})
}

/// Only JSON bodies: a cross-site page cannot send `application/json` without a CORS
/// preflight, which this server never approves, so nobody can log a browser in behind its back.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// `POST /console/session` with `{username, password}`.
pub async fn login(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !is_json(&headers) {
        return ApiError::bad_request("the session endpoint takes a JSON body").into_response();
    }
    let form: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return ApiError::bad_request(format!("invalid JSON: {e}")).into_response(),
    };
    let username = form["username"].as_str().unwrap_or_default();
    let password = form["password"].as_str().unwrap_or_default();
    let origin = Origin::of(peer, &headers, &state.settings.trusted_proxies);
    if let Ok(ip) = origin.ip.parse()
        && let Err(wait) = state.login_limiter.take(ip)
    {
        return super::login::rate_limited(wait);
    }
    let provider = form["provider"].as_str().unwrap_or_default();
    match password_grant(&state, username, password, provider, &origin).await {
        // A provider's user may have another name in Orrery than typed (its login attribute).
        Ok((name, issued)) => with_cookies(
            StatusCode::OK,
            session_body(&name, &issued),
            session_cookies(&issued, secure(&state)),
        ),
        Err(e) => oauth_failure(e),
    }
}

fn oauth_failure(e: OAuthError) -> Response {
    let locked = e.status == StatusCode::TOO_MANY_REQUESTS;
    (
        e.status,
        Json(json!({"error": e.error, "error_description": e.description, "locked": locked})),
    )
        .into_response()
}

/// `POST /console/session/refresh`: swaps the refresh cookie for new tokens.
pub async fn refresh(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !csrf_ok(&headers) {
        return super::error::forbidden("missing or mismatched X-CSRF-Token header")
            .into_response();
    }
    let Some(token) = cookie(&headers, REFRESH_COOKIE) else {
        return super::error::unauthorized("no session to refresh").into_response();
    };
    match refresh_grant(&state, token).await {
        Ok((user, issued)) => with_cookies(
            StatusCode::OK,
            session_body(&user, &issued),
            session_cookies(&issued, secure(&state)),
        ),
        Err(mut e) => {
            // The session cannot be renewed: for the console that is "not logged in" (401),
            // where /oauth/token answers a refused refresh token with 400 invalid_grant.
            if e.error == "invalid_grant" {
                e.status = StatusCode::UNAUTHORIZED;
            }
            let mut resp = oauth_failure(e);
            set_cookies(&mut resp, cleared_cookies(secure(&state)));
            resp
        }
    }
}

/// `GET /console/session`: the session's user, or 401.
pub async fn current(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(token) = cookie(&headers, TOKEN_COOKIE) else {
        return super::error::unauthorized("not logged in").into_response();
    };
    match identify(&state, &format!("Bearer {token}"), None).await {
        Ok(user) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({"username": user.name})),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /console/session`: revokes the session and clears the cookies.
pub async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !csrf_ok(&headers) {
        return super::error::forbidden("missing or mismatched X-CSRF-Token header")
            .into_response();
    }
    if let Some(token) = cookie(&headers, TOKEN_COOKIE)
        && let Err(e) = state.tokens.revoke_token(token).await
    {
        tracing::warn!(error = %e, "console logout could not revoke the session");
    }
    with_cookies(
        StatusCode::OK,
        json!({"message": "logged out"}),
        cleared_cookies(secure(&state)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn cookies_are_found_across_headers() {
        let h = headers(&[
            ("cookie", "a=1; orrery_csrf=abc"),
            ("cookie", "orrery_token=t"),
        ]);
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, TOKEN_COOKIE), Some("t"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(
            cookie(&headers(&[("cookie", "orrery_token=")]), TOKEN_COOKIE),
            None
        );
    }

    #[test]
    fn unsafe_methods_need_the_matching_header() {
        let with = headers(&[
            ("cookie", "orrery_token=t; orrery_csrf=abc"),
            ("x-csrf-token", "abc"),
        ]);
        let wrong = headers(&[
            ("cookie", "orrery_token=t; orrery_csrf=abc"),
            ("x-csrf-token", "abd"),
        ]);
        let without = headers(&[("cookie", "orrery_token=t; orrery_csrf=abc")]);
        assert_eq!(
            token_from_cookie(&Method::POST, &with).ok().flatten(),
            Some("t".to_string())
        );
        assert!(token_from_cookie(&Method::DELETE, &wrong).is_err());
        assert!(token_from_cookie(&Method::PATCH, &without).is_err());
        assert_eq!(
            token_from_cookie(&Method::GET, &without).ok().flatten(),
            Some("t".to_string())
        );
        assert!(matches!(
            token_from_cookie(&Method::POST, &HeaderMap::new()),
            Ok(None)
        ));
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let issued = IssuedTokens {
            access_token: "acc".into(),
            token_type: "Bearer",
            refresh_token: "ref".into(),
            expires_in: 7200,
        };
        let c = session_cookies(&issued, true);
        assert!(c[0].starts_with("orrery_token=acc;") && c[0].contains("HttpOnly"));
        assert!(c[1].contains("Path=/console/session") && c[1].contains("HttpOnly"));
        assert!(
            !c[2].contains("HttpOnly"),
            "the console must read the CSRF cookie"
        );
        assert!(
            c.iter()
                .all(|c| c.contains("SameSite=Strict") && c.contains("Secure"))
        );
        assert!(
            session_cookies(&issued, false)
                .iter()
                .all(|c| !c.contains("Secure"))
        );
        assert_ne!(
            session_cookies(&issued, false)[2],
            c[2],
            "CSRF tokens are random"
        );
    }
}
