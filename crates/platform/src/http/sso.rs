//! Logging in through a redirecting identity provider (OIDC, GitHub) into the console:
//!
//! 1. `GET /oauth/authorize?idp=<name>&redirect_uri=/console/…` starts a flow: its `state`,
//!    `nonce` and PKCE verifier are sealed into a short-lived HttpOnly cookie (`Path=/oauth`,
//!    `SameSite=Lax`, so it comes back on the provider's top-level redirect and on nothing
//!    else), and the browser goes to the provider.
//! 2. `GET /oauth/callback/{idp}?code&state` checks the state against that cookie (a wrong or
//!    missing one ends the flow), finishes with the provider, and maps the identity: the user
//!    gets a console session (the session cookies of [`super::session`]) and goes back to the
//!    console page the flow started from — only ever a path of this console, never another
//!    site. With the `manual` mapping method the person first chooses a username:
//! 3. `GET /oauth/first-login` says what the provider said (suggested username, e-mail);
//!    `POST /oauth/first-login` with JSON `{username}` creates the user linked to the identity
//!    and starts the session.
//!
//! Each state lives only in the browser, sealed with the token key: any replica can finish
//! any flow and none can be altered.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::login::Origin;
use super::session::{cookie, secure, set_cookies, with_cookies};
use super::{ApiError, AppState, Shared};
use crate::identity::{self, Identity, Mapped, ProviderConfig, github, oidc};

const FLOW_COOKIE: &str = "orrery_sso_flow";
const PENDING_COOKIE: &str = "orrery_sso_pending";
const FLOW_TTL: Duration = Duration::from_secs(600);

fn query(q: &Option<String>) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(q.as_deref().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Where a flow may return to: a path of this console, nothing else (no scheme, no host, no
/// `//`, no backslash, no dot segments — `%2e` spelled or not —, no control characters).
pub fn safe_return(ret: &str) -> Option<String> {
    let ok = (ret == "/console" || ret.starts_with("/console/"))
        && !ret.contains("//")
        && !ret.contains('\\')
        && !ret.chars().any(char::is_control)
        && !ret.split(['/', '?', '#']).any(|seg| {
            // Browsers take `%2e` for a dot in a path segment (WHATWG URL).
            let seg = seg.to_ascii_lowercase().replace("%2e", ".");
            seg == ".." || seg == "."
        });
    ok.then(|| ret.to_string())
}

fn flow_cookie(name: &str, value: &str, state: &AppState, max_age: u64) -> String {
    let sec = if secure(state) { "; Secure" } else { "" };
    format!("{name}={value}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age={max_age}{sec}")
}

fn redirect(to: &str, cookies: Vec<String>) -> Response {
    let mut resp = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response();
    set_cookies(&mut resp, cookies);
    resp
}

/// Back to the console's login page with the reason (the flow cookies cleared).
fn failure(state: &AppState, why: &str) -> Response {
    tracing::info!(reason = %why, "single sign-on refused");
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("sso_error", why)
        .finish();
    redirect(
        &format!("/console/login?{q}"),
        vec![
            flow_cookie(FLOW_COOKIE, "", state, 0),
            flow_cookie(PENDING_COOKIE, "", state, 0),
        ],
    )
}

fn callback_url(state: &AppState, idp: &str) -> String {
    format!(
        "{}/oauth/callback/{idp}",
        state.settings.public_url.trim_end_matches('/')
    )
}

/// A provider people are sent to and come back from.
enum Redirecting {
    Oidc(oidc::Options),
    GitHub(github::Options),
}

impl Redirecting {
    fn redirect_url(&self) -> &str {
        match self {
            Redirecting::Oidc(o) => &o.redirect_url,
            Redirecting::GitHub(o) => &o.redirect_url,
        }
    }

    /// Where to send the person for `flow`.
    async fn start(&self, flow: &oidc::Flow, redirect: &str) -> Result<String, String> {
        match self {
            Redirecting::Oidc(o) => {
                let ep = o
                    .endpoints()
                    .await
                    .map_err(|why| format!("the identity provider is not available: {why}"))?;
                Ok(o.authorize_url(&ep, flow, redirect))
            }
            Redirecting::GitHub(o) => Ok(o.authorize_url(flow, redirect)),
        }
    }

    /// Who came back with `code`.
    async fn finish(
        &self,
        idp: &str,
        flow: &oidc::Flow,
        code: &str,
        redirect: &str,
    ) -> Result<Identity, String> {
        match self {
            Redirecting::Oidc(o) => {
                let ep = o
                    .endpoints()
                    .await
                    .map_err(|why| format!("the identity provider is not available: {why}"))?;
                o.finish(idp, &ep, flow, code, redirect).await
            }
            Redirecting::GitHub(o) => o.finish(idp, flow, code, redirect).await,
        }
    }
}

/// A redirecting provider's settings, or why it cannot be used.
async fn redirecting(state: &AppState, idp: &str) -> Result<(ProviderConfig, Redirecting), String> {
    let cfg = identity::provider(state, idp)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no identity provider named {idp:?} is enabled"))?;
    let bad = |e: String| format!("identity provider {idp} is misconfigured: {e}");
    let r = if cfg.kind.eq_ignore_ascii_case("OIDCIdentityProvider") {
        Redirecting::Oidc(oidc::Options::from_value(&cfg.provider).map_err(bad)?)
    } else if cfg.kind.eq_ignore_ascii_case("GitHubIdentityProvider") {
        Redirecting::GitHub(github::Options::from_value(&cfg.provider).map_err(bad)?)
    } else {
        return Err(format!(
            "identity provider {idp} ({}) is not one to be redirected to",
            cfg.kind
        ));
    };
    Ok((cfg, r))
}

fn redirect_uri(state: &AppState, idp: &str, r: &Redirecting) -> String {
    match r.redirect_url() {
        "" => callback_url(state, idp),
        set => set.to_string(),
    }
}

/// `GET /oauth/authorize?idp=…&redirect_uri=…`.
pub async fn authorize(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    // Without `idp`, a relying party asks Orrery itself to sign the person in.
    if !query(&q).contains_key("idp") {
        return super::oidc_provider::authorize(state, headers, q).await;
    }
    let q = query(&q);
    let Some(idp) = q.get("idp").filter(|s| !s.is_empty()) else {
        return ApiError::bad_request("idp (the identity provider to log in with) is required")
            .into_response();
    };
    let ret = q
        .get("redirect_uri")
        .map(String::as_str)
        .unwrap_or("/console/");
    let Some(ret) = safe_return(ret) else {
        // Never redirect to where the request says when that is not this console.
        return ApiError::bad_request(format!(
            "redirect_uri {ret:?} is not a page of this console"
        ))
        .into_response();
    };
    let (_, provider) = match redirecting(&state, idp).await {
        Ok(x) => x,
        Err(why) => return failure(&state, &why),
    };
    let flow = oidc::Flow::new();
    let to = match provider
        .start(&flow, &redirect_uri(&state, idp, &provider))
        .await
    {
        Ok(to) => to,
        Err(why) => return failure(&state, &why),
    };
    let sealed = state.tokens.seal(
        "sso-flow",
        &json!({"idp": idp, "state": flow.state, "nonce": flow.nonce,
            "verifier": flow.verifier, "ret": ret}),
        FLOW_TTL,
    );
    let sealed = match sealed {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    redirect(
        &to,
        vec![flow_cookie(
            FLOW_COOKIE,
            &sealed,
            &state,
            FLOW_TTL.as_secs(),
        )],
    )
}

/// `GET /oauth/callback/{idp}`.
pub async fn callback(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(idp): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = query(&q);
    let Some(sealed) = cookie(&headers, FLOW_COOKIE) else {
        return failure(
            &state,
            "the login was not started in this browser, or it expired; start again",
        );
    };
    let Ok(f) = state.tokens.open("sso-flow", sealed) else {
        return failure(&state, "the login expired; start again");
    };
    if let Some(e) = q.get("error") {
        let d = q.get("error_description").cloned().unwrap_or_default();
        return failure(&state, &format!("the identity provider refused: {e} {d}"));
    }
    let given = q.get("state").map(String::as_str).unwrap_or_default();
    let want = f["state"].as_str().unwrap_or_default();
    if given.is_empty() || !crate::password::constant_time_eq(given.as_bytes(), want.as_bytes()) {
        return failure(&state, "the login's state does not match; start again");
    }
    if f["idp"].as_str() != Some(idp.as_str()) {
        return failure(&state, "the login was started with another provider");
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        return failure(&state, "the identity provider sent no code");
    };
    let (cfg, provider) = match redirecting(&state, &idp).await {
        Ok(x) => x,
        Err(why) => return failure(&state, &why),
    };
    let flow = oidc::Flow {
        state: want.to_string(),
        nonce: f["nonce"].as_str().unwrap_or_default().to_string(),
        verifier: f["verifier"].as_str().unwrap_or_default().to_string(),
    };
    let id = match provider
        .finish(&idp, &flow, code, &redirect_uri(&state, &idp, &provider))
        .await
    {
        Ok(id) => id,
        Err(why) => return failure(&state, &why),
    };
    let ret = f["ret"]
        .as_str()
        .and_then(safe_return)
        .unwrap_or_else(|| "/console/".into());
    let origin = Origin::of(peer, &headers, &state.settings.trusted_proxies);
    match identity::map_identity(&state, &cfg, &id).await {
        Ok(Mapped::User(u)) => {
            let name = u["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            start_session(&state, &name, &origin, &idp, &ret).await
        }
        Ok(Mapped::ChooseUsername) => {
            let pending = json!({"idp": idp, "uid": id.uid, "username": id.username,
                "email": id.email, "displayName": id.display_name, "groups": id.groups, "ret": ret});
            match state.tokens.seal("sso-pending", &pending, FLOW_TTL) {
                Ok(sealed) => redirect(
                    "/console/first-login",
                    vec![
                        flow_cookie(FLOW_COOKIE, "", &state, 0),
                        flow_cookie(PENDING_COOKIE, &sealed, &state, FLOW_TTL.as_secs()),
                    ],
                ),
                Err(e) => ApiError::from(e).into_response(),
            }
        }
        Ok(Mapped::Refused(why)) => failure(&state, &why),
        Err(e) => failure(&state, &e.to_string()),
    }
}

/// Issues the console session of `user` and goes to `ret`.
async fn start_session(
    state: &AppState,
    user: &str,
    origin: &Origin,
    idp: &str,
    ret: &str,
) -> Response {
    if let Err(e) = super::login::record_success(state, user, origin, idp).await {
        return failure(state, &e.to_string());
    }
    let issued = match super::oauth::issue_login(state, user).await {
        Ok(i) => i,
        Err(e) => return failure(state, &e.to_string()),
    };
    let mut cookies = super::session::session_cookies(&issued, secure(state));
    cookies.push(flow_cookie(FLOW_COOKIE, "", state, 0));
    cookies.push(flow_cookie(PENDING_COOKIE, "", state, 0));
    redirect(ret, cookies)
}

fn pending(state: &AppState, headers: &HeaderMap) -> Result<Value, ApiError> {
    let sealed = cookie(headers, PENDING_COOKIE)
        .ok_or_else(|| ApiError::bad_request("no first login is under way; log in again"))?;
    state
        .tokens
        .open("sso-pending", sealed)
        .map_err(|_| ApiError::bad_request("the first login expired; log in again"))
}

/// `GET /oauth/first-login`: what the provider said about the person.
pub async fn first_login_info(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match pending(&state, &headers) {
        Ok(p) => Json(json!({"provider": p["idp"], "username": identity::username_from(p["username"].as_str().unwrap_or_default()),
            "email": p["email"], "displayName": p["displayName"]}))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /oauth/first-login` with `{username}` (JSON only, so no other site can post it).
pub async fn first_login(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json_body {
        return ApiError::bad_request("first-login takes a JSON body").into_response();
    }
    let p = match pending(&state, &headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let username = req["username"].as_str().unwrap_or_default();
    let idp = p["idp"].as_str().unwrap_or_default();
    let cfg = match identity::provider(&state, idp).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return ApiError::bad_request(format!("identity provider {idp} is not enabled"))
                .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let id = Identity {
        provider: idp.to_string(),
        uid: s("uid"),
        username: s("username"),
        email: s("email"),
        display_name: s("displayName"),
        groups: p["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    };
    // Linked meanwhile (another tab)? Then that user.
    let user = match identity::linked_user(&state, idp, &id.uid) {
        Some(u) => u,
        None => match identity::create_linked(&state, &cfg, &id, username).await {
            Ok(Ok(u)) => u,
            Ok(Err(why)) => return ApiError::new(409, "Conflict", why).into_response(),
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let name = user["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Err(e) = identity::sync_groups(&state, idp, &name, &id.groups).await {
        return ApiError::from(e).into_response();
    }
    let origin = Origin::of(peer, &headers, &state.settings.trusted_proxies);
    if let Err(e) = super::login::record_success(&state, &name, &origin, idp).await {
        return ApiError::from(e).into_response();
    }
    let issued = match super::oauth::issue_login(&state, &name).await {
        Ok(i) => i,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut cookies = super::session::session_cookies(&issued, secure(&state));
    cookies.push(flow_cookie(PENDING_COOKIE, "", &state, 0));
    with_cookies(
        StatusCode::OK,
        json!({"username": name, "redirect": p["ret"]}),
        cookies,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    proptest::proptest! {
        /// Checked against WHATWG URL parsing (the `url` crate, as browsers resolve a
        /// Location): whatever is accepted stays on this origin and under `/console`.
        #[test]
        fn accepted_returns_resolve_under_the_console(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "/", "/console", "console", ".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "%2f",
                "\\", "%5c", "@", ":", "?", "#", "\t", "\n", "evil.example", "x", "//", " ",
            ]), 0..8),
            console_first in proptest::bool::ANY,
        ) {
            let s = format!("{}{}", if console_first { "/console" } else { "" }, parts.concat());
            if let Some(ret) = safe_return(&s) {
                let base = url::Url::parse("https://orrery.test/console/").expect("base");
                let to = base.join(&ret).expect("a URL");
                proptest::prop_assert_eq!(to.origin(), base.origin(), "{:?} leaves the origin", s);
                proptest::prop_assert!(
                    to.path() == "/console" || to.path().starts_with("/console/"),
                    "{:?} resolves to {}", s, to
                );
            }
        }
    }

    #[test]
    fn flows_return_only_to_console_pages() {
        for ok in [
            "/console",
            "/console/",
            "/console/workspaces/w/overview?x=1",
        ] {
            assert_eq!(safe_return(ok).as_deref(), Some(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil.example",
            "/console/../oauth/token",
            "/console/./x",
            "/console/%2e%2e/oauth/token",
            "/console/.%2E/oauth/token",
            "/console\\@evil.example",
            "/consolex",
            "/oauth/token",
            "javascript:alert(1)",
            "/console/\nSet-Cookie:x",
            "",
        ] {
            assert_eq!(safe_return(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; orrery_sso_flow_x=2; orrery_sso_flow=3"),
        );
        assert_eq!(cookie(&h, FLOW_COOKIE), Some("3"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
