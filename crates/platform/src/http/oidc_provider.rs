//! Orrery as an OpenID Connect provider (the authorization code flow, [`crate::openid`]):
//!
//! - `GET /.well-known/openid-configuration`: the provider's metadata;
//! - `GET /oauth/authorize?response_type=code&client_id&redirect_uri&scope&state&nonce&
//!   code_challenge&code_challenge_method=S256` (without `idp`; with it, the same path starts a
//!   login through an upstream provider, `super::sso`): the person must be logged in to the
//!   console (its session cookie); otherwise they go to `/console/login?redirect=<this request>`
//!   and come back. A client that is unknown or a redirect URI not in its allow-list gets a 400
//!   page and never a redirect; other errors go back to the redirect URI (RFC 6749 §4.1.2.1).
//!   `prompt=none` without a session answers `login_required`. A client with
//!   `grantMethod: prompt` gets a consent page first: the person allows or declines
//!   (`access_denied`), the answer carried by a sealed token bound to the person, the client and
//!   the redirect URI, so no other page can answer for them. Other `prompt` values and
//!   `max_age` are not supported (the request is answered as without them).
//! - `POST /oauth/token` with `grant_type=authorization_code` ([`code_grant`], called from
//!   `super::oauth`): client authentication by `client_secret_basic` or `client_secret_post`
//!   (public clients: `client_id` only, and PKCE), the same redirect URI, the PKCE verifier,
//!   the code once. The answer is an Orrery login (access and refresh token, usable on the
//!   whole API) plus an RS256 ID token when `openid` was granted.
//! - `GET|POST /oauth/userinfo` (Bearer access token) and `GET /oauth/keys` (the JWKS).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::oauth::OAuthError;
use super::{ApiResult, AppState, Shared, load_user};
use crate::openid::claims::{self, IdTokenContext, Person};
use crate::openid::clients;
use crate::openid::codes::{self, CodeGrant, RedeemError};
use crate::openid::request;

fn issuer(state: &AppState) -> String {
    state.settings.public_url.trim_end_matches('/').to_string()
}

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(State(state): State<Shared>) -> Response {
    let iss = issuer(&state);
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "userinfo_endpoint": format!("{iss}/oauth/userinfo"),
        "jwks_uri": format!("{iss}/oauth/keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "password"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": claims::SCOPES,
        "claims_supported": claims::CLAIMS,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    ([(header::CACHE_CONTROL, "public, max-age=60")], Json(doc)).into_response()
}

/// `GET /oauth/keys`: the public keys ID tokens are signed with (current and previous).
pub async fn keys(State(state): State<Shared>) -> Response {
    match state.openid_keys.current(&state.client).await {
        Ok(k) => (
            [
                (header::CACHE_CONTROL, "public, max-age=60"),
                (header::CONTENT_TYPE, "application/jwk-set+json"),
            ],
            k.jwks().to_string(),
        )
            .into_response(),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// `POST /kapis/iam.kubesphere.io/v1beta1/idtokenkey/rotate` (platform administrators): a new
/// ID token signing key; the previous one stays published, so no token is invalidated.
pub async fn rotate(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    let kid = crate::openid::keys::rotate(&state.client).await?;
    Ok(Json(json!({"message": "success", "kid": kid})))
}

fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    let mut resp = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// `GET|POST /oauth/userinfo` with `Authorization: Bearer <access token>`.
pub async fn userinfo(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "a bearer access token is required",
        );
    };
    let claims = match state.tokens.authenticate(token).await {
        Ok(c) => c,
        Err(crate::tokens::TokenError::Api(e)) => return OAuthError::from(e).into_response(),
        Err(_) => {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid, expired or revoked",
            );
        }
    };
    match load_user(&state, &claims.sub).await {
        Ok(Some(u)) if u["status"]["state"].as_str() != Some("Disabled") => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(Person::of(&u).userinfo()),
        )
            .into_response(),
        Ok(_) => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the user is disabled or no longer exists",
        ),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// A refusal shown to the person (never a redirect: the redirect URI is not trusted).
fn refusal_page(status: StatusCode, why: &str) -> Response {
    tracing::info!(reason = %why, "authorization request refused");
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Sign-in refused</title>\
         <h1>This sign-in request was refused</h1><p>{}</p>\
         <p>Tell the administrator of the application that sent you here.</p>",
        html_escape(why)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ],
        body,
    )
        .into_response()
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How long a consent page may wait for the person's answer.
const CONSENT_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// Asks the person whether `client` may sign them in with `scopes`: a form that repeats the
/// request (`params`) with the sealed `consent` and the person's `decision`. Never framed.
fn consent_page(
    client: &str,
    user: &str,
    scopes: &[String],
    params: &HashMap<String, String>,
    consent: &str,
) -> Response {
    let mut hidden = String::new();
    let mut keys: Vec<&String> = params
        .keys()
        .filter(|k| *k != "consent" && *k != "decision")
        .collect();
    keys.sort();
    for k in keys {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            html_escape(k),
            html_escape(&params[k])
        ));
    }
    let scopes: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", html_escape(s)))
        .collect();
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Allow sign-in?</title>\
         <h1>Allow {client} to sign you in?</h1><p>You are signed in to Orrery as <b>{user}</b>. \
         {client} asks for:</p><ul>{scopes}</ul>\
         <form method=\"get\" action=\"/oauth/authorize\">{hidden}\
         <input type=\"hidden\" name=\"consent\" value=\"{consent}\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        client = html_escape(client),
        user = html_escape(user),
        consent = html_escape(consent),
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// An error sent back to a redirect URI that was checked (RFC 6749 §4.1.2.1).
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: String,
}

impl Back<'_> {
    fn error(&self, error: &str, description: &str) -> Response {
        tracing::info!(error, reason = %description, "authorization request refused");
        let mut p = vec![
            ("error", error),
            ("error_description", description),
            ("iss", self.issuer.as_str()),
        ];
        if let Some(s) = self.state {
            p.push(("state", s));
        }
        see_other(&request::with_query(self.redirect_uri, &p))
    }
}

/// The person the console session cookie belongs to, and when they logged in; `None`
/// without a valid session (no cookie, expired, revoked, user disabled or gone).
async fn session_person(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Value, i64)>, OAuthError> {
    let Some(token) = super::session::cookie(headers, super::session::TOKEN_COOKIE) else {
        return Ok(None);
    };
    let claims = match state.tokens.authenticate(token).await {
        Ok(c) => c,
        Err(crate::tokens::TokenError::Api(e)) => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    let Some(user) = load_user(state, &claims.sub).await? else {
        return Ok(None);
    };
    if user["status"]["state"].as_str() == Some("Disabled") {
        return Ok(None);
    }
    let logged_in = state
        .tokens
        .sessions_of(&claims.sub)
        .iter()
        .find(|s| s["id"].as_str() == Some(claims.sid.as_str()))
        .and_then(|s| s["issuedAt"].as_i64())
        .unwrap_or(claims.iat);
    Ok(Some((user, logged_in)))
}

/// `GET /oauth/authorize` without `idp` (handed over by `super::sso::authorize`).
pub async fn authorize(state: Shared, headers: HeaderMap, raw_query: Option<String>) -> Response {
    let raw = raw_query.unwrap_or_default();
    let q = match request::single_params(&raw) {
        Ok(q) => q,
        Err(why) => return refusal_page(StatusCode::BAD_REQUEST, &why),
    };
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return refusal_page(
            StatusCode::BAD_REQUEST,
            "client_id is required (or idp, to log in to the console through an identity provider)",
        );
    };
    let client = match clients::find(&state.client, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return refusal_page(
                StatusCode::BAD_REQUEST,
                &format!("no OAuth client named {client_id:?} is registered"),
            );
        }
        Err(e) => return refusal_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return refusal_page(StatusCode::BAD_REQUEST, "redirect_uri is required");
    };
    if !client.allows_redirect(redirect_uri) {
        return refusal_page(
            StatusCode::BAD_REQUEST,
            &client.redirect_refusal(redirect_uri),
        );
    }
    // The redirect URI is the client's: from here on, errors go back to it.
    let back = Back {
        redirect_uri,
        state: get("state"),
        issuer: issuer(&state),
    };
    let request = match request::check(&client, &get) {
        Ok(r) => r,
        Err((error, why)) => return back.error(error, &why),
    };
    let (user, auth_time) = match session_person(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) if get("prompt").is_some_and(|p| p.split(' ').any(|p| p == "none")) => {
            return back.error("login_required", "the person is not logged in to Orrery");
        }
        Ok(None) => return see_other(&request::login_redirect(&raw)),
        Err(e) => return back.error("server_error", &e.description),
    };
    let user_name = user["metadata"]["name"].as_str().unwrap_or_default();
    if client.consent {
        let bound = json!({"user": user_name, "client": client.id, "redirect_uri": redirect_uri});
        match get("consent") {
            None => {
                return match state.tokens.seal("oauth-consent", &bound, CONSENT_TTL) {
                    Ok(sealed) => consent_page(&client.id, user_name, &request.scopes, &q, &sealed),
                    Err(e) => back.error("server_error", &e.to_string()),
                };
            }
            Some(sealed) => {
                if state.tokens.open("oauth-consent", sealed).ok().as_ref() != Some(&bound) {
                    return back.error(
                        "access_denied",
                        "the consent is not this person's for this request, or it expired",
                    );
                }
                if get("decision") != Some("allow") {
                    return back.error("access_denied", "the person declined");
                }
            }
        }
    }
    let grant = CodeGrant {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        user: user["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        scopes: request.scopes,
        nonce: get("nonce").map(str::to_string),
        code_challenge: request.code_challenge,
        auth_time,
        expires: 0,
    };
    let code = match codes::issue(&state.client, grant).await {
        Ok(c) => c,
        Err(e) => return back.error("server_error", &e.to_string()),
    };
    let mut p = vec![("code", code.as_str()), ("iss", back.issuer.as_str())];
    if let Some(s) = back.state {
        p.push(("state", s));
    }
    see_other(&request::with_query(redirect_uri, &p))
}

/// The client's credentials on a token request: `(id, secret)` from HTTP Basic
/// (`client_secret_basic`: each part form-urlencoded, RFC 6749 §2.3.1) or from the form
/// (`client_secret_post`, or a public client's `client_id` alone). Both at once is refused.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, Option<String>), OAuthError> {
    let invalid = |why: &str| OAuthError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: why.to_string(),
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if let Some(b) = basic {
        if form.contains_key("client_secret") {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_request",
                description: "client credentials are given twice (Basic and client_secret)".into(),
            });
        }
        let raw = B64
            .decode(b.trim())
            .ok()
            .and_then(|r| String::from_utf8(r).ok())
            .ok_or_else(|| invalid("malformed Basic credentials"))?;
        let (id, secret) = raw
            .split_once(':')
            .ok_or_else(|| invalid("malformed Basic credentials"))?;
        let decode = |s: &str| -> String {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let id = decode(id);
        if form.get("client_id").is_some_and(|f| *f != id) {
            return Err(invalid("client_id differs from the Basic credentials"));
        }
        return Ok((id, Some(decode(secret))));
    }
    let id = form
        .get("client_id")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| invalid("client authentication is required"))?;
    Ok((id.clone(), form.get("client_secret").cloned()))
}

/// `grant_type=authorization_code` on `/oauth/token`.
pub(super) async fn code_grant(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let grant_error = |why: &str| OAuthError {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_grant",
        description: why.to_string(),
    };
    let (id, secret) = client_credentials(headers, form)?;
    let client = match clients::find(&state.client, &id).await? {
        Some(c) if c.authenticates(secret.as_deref()) => c,
        _ => {
            return Err(OAuthError {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_client",
                description: "unknown client or wrong client credentials".into(),
            });
        }
    };
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    let grant = match codes::redeem(&state.client, code).await {
        Ok(g) => g,
        Err(RedeemError::Reused { session }) => {
            if let Some(sid) = session {
                tracing::warn!(client = %client.id, "an authorization code came twice: its tokens are revoked");
                state.tokens.revoke_session(&sid).await?;
            }
            return Err(grant_error("the authorization code was already used"));
        }
        Err(RedeemError::Api(e)) => return Err(e.into()),
        Err(e) => return Err(grant_error(&e.to_string())),
    };
    if grant.client_id != client.id {
        return Err(grant_error(
            "the authorization code was issued to another client",
        ));
    }
    if form.get("redirect_uri").map(String::as_str) != Some(grant.redirect_uri.as_str()) {
        return Err(grant_error(
            "redirect_uri differs from the authorization request's",
        ));
    }
    codes::verify_pkce(
        grant.code_challenge.as_deref(),
        form.get("code_verifier").map(String::as_str),
    )
    .map_err(grant_error)?;
    let user = match load_user(state, &grant.user).await? {
        Some(u) if u["status"]["state"].as_str() != Some("Disabled") => u,
        _ => return Err(grant_error("the user is disabled or no longer exists")),
    };
    let issued = super::oauth::issue_login(state, &grant.user).await?;
    if let Ok(c) = state.tokens.authenticate(&issued.access_token).await {
        codes::bind_session(&state.client, code, &c.sid).await?;
    }
    let mut answer = serde_json::to_value(&issued).unwrap_or(Value::Null);
    answer["scope"] = grant.scopes.join(" ").into();
    if grant.scopes.iter().any(|s| s == "openid") {
        let keys = state.openid_keys.current(&state.client).await?;
        let access_ttl = i64::try_from(issued.expires_in).unwrap_or(i64::MAX / 2);
        let ttl = client
            .max_age
            .and_then(|m| i64::try_from(m).ok())
            .map_or(access_ttl, |m| m.min(access_ttl));
        let iss = issuer(state);
        let claims = claims::id_token(
            &Person::of(&user),
            &grant.scopes,
            &IdTokenContext {
                issuer: &iss,
                client_id: &client.id,
                nonce: grant.nonce.as_deref(),
                auth_time: grant.auth_time,
                now: chrono::Utc::now().timestamp(),
                ttl,
                access_token: &issued.access_token,
            },
        );
        answer["id_token"] = keys.sign(&claims)?.into();
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_codes_go_back_with_the_state() {
        let back = Back {
            redirect_uri: "https://g.test/cb?tenant=1",
            state: Some("s 1"),
            issuer: "https://orrery.test".into(),
        };
        let r = back.error("invalid_scope", "no <such> scope");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://g.test/cb?tenant=1&error=invalid_scope&error_description=no+%3Csuch%3E+scope&iss=https%3A%2F%2Forrery.test&state=s+1"
        );
        assert_eq!(
            request::with_query("http://localhost:8000", &[("code", "c")]),
            "http://localhost:8000?code=c"
        );
    }

    fn refused(r: Result<(String, Option<String>), OAuthError>) -> &'static str {
        match r {
            Ok(c) => panic!("accepted {c:?}"),
            Err(e) => e.error,
        }
    }

    #[test]
    fn client_credentials_come_one_way() {
        let mut h = HeaderMap::new();
        // RFC 6749 §2.3.1: the id and secret are form-urlencoded before base64.
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {}", B64.encode("my%3Aapp:p%40ss+word")))
                .expect("h"),
        );
        let empty = HashMap::new();
        let (id, secret) = client_credentials(&h, &empty).ok().expect("basic");
        assert_eq!(
            (id.as_str(), secret.as_deref()),
            ("my:app", Some("p@ss word"))
        );
        let mut both = HashMap::new();
        both.insert("client_secret".to_string(), "x".to_string());
        assert_eq!(refused(client_credentials(&h, &both)), "invalid_request");
        let mut post = HashMap::new();
        post.insert("client_id".to_string(), "grafana".to_string());
        post.insert("client_secret".to_string(), "s".to_string());
        let (id, secret) = client_credentials(&HeaderMap::new(), &post)
            .ok()
            .expect("post");
        assert_eq!((id.as_str(), secret.as_deref()), ("grafana", Some("s")));
        assert_eq!(
            refused(client_credentials(&HeaderMap::new(), &empty)),
            "invalid_client"
        );
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
