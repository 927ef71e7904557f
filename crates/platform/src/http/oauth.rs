//! `/oauth/token` (password and refresh_token grants, and the authorization_code grant of
//! [`super::oidc_provider`]) and `/oauth/logout`, with login protection ([`super::login`]):
//! every attempt leaves a LoginRecord, repeated failures lock the (user, address), and each
//! address is rate limited.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::login::{Origin, Refusal, Via};
use super::{AppState, Shared, load_user};
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::{IssuedTokens, SessionType, TokenError};

/// An OAuth-shaped error answer.
pub(super) struct OAuthError {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    pub(super) description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    /// A refused grant: 400 `invalid_grant`, as RFC 6749 §5.2 and KubeSphere answer it (a
    /// wrong password, an unknown user, a used or revoked refresh token).
    fn grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }
}

impl From<PlatformError> for OAuthError {
    fn from(e: PlatformError) -> OAuthError {
        tracing::warn!(error = %e, "login failed on the host cluster");
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string(),
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

/// `POST /oauth/token`.
pub async fn token(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let origin = Origin::of(peer, &headers, &state.settings.trusted_proxies);
    if let Ok(ip) = origin.ip.parse()
        && let Err(wait) = state.login_limiter.take(ip)
    {
        return super::login::rate_limited(wait);
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    match grant(&state, &headers, &form, &origin).await {
        Ok(v) => (
            StatusCode::OK,
            [(http::header::CACHE_CONTROL, "no-store")],
            Json(v),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn grant(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    origin: &Origin,
) -> Result<Value, OAuthError> {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") == "authorization_code" {
        // Its clients authenticate their own ways (Basic, form, or public with PKCE).
        return super::oidc_provider::code_grant(state, headers, form).await;
    }
    if let Some(id) = form.get("client_id") {
        let secret = get("client_secret");
        let builtin = state
            .settings
            .clients
            .iter()
            .any(|(i, s)| i == id && s == secret);
        if !builtin && !registered_client(state, id, secret).await? {
            return Err(OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong client secret",
            ));
        }
    }
    match get("grant_type") {
        "password" => password_grant(
            state,
            get("username"),
            get("password"),
            get("provider"),
            origin,
        )
        .await
        .map(|(_, issued)| serde_json::to_value(issued).unwrap_or(Value::Null)),
        "refresh_token" => refresh_grant(state, get("refresh_token"))
            .await
            .map(|(_, issued)| serde_json::to_value(issued).unwrap_or(Value::Null)),
        "" => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        )),
        other => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant type {other:?} is not supported"),
        )),
    }
}

/// Whether `id` is an OAuth client registered as a Secret (`crate::openid::clients`) and
/// `secret` its secret.
async fn registered_client(state: &AppState, id: &str, secret: &str) -> Result<bool, OAuthError> {
    Ok(crate::openid::clients::find(&state.client, id)
        .await?
        .is_some_and(|c| c.authenticates(Some(secret))))
}

/// Exchanges a single-use refresh token for new tokens of a still-enabled user.
pub(super) async fn refresh_grant(
    state: &AppState,
    refresh_token: &str,
) -> Result<(String, IssuedTokens), OAuthError> {
    let (user, issued) = state
        .tokens
        .refresh(refresh_token)
        .await
        .map_err(|e| match e {
            TokenError::Api(e) => OAuthError::from(e),
            other => OAuthError::grant(other.to_string()),
        })?;
    match load_user(state, &user).await? {
        Some(u) if u["status"]["state"].as_str() != Some("Disabled") => Ok((user, issued)),
        _ => Err(OAuthError::grant("user is disabled or no longer exists")),
    }
}

/// Checks a password login (see [`super::login`]: records, per-address locks) — a local
/// user's, or with `provider` an identity provider's (LDAP) — and issues tokens.
pub(super) async fn password_grant(
    state: &AppState,
    username: &str,
    pw: &str,
    provider: &str,
    origin: &Origin,
) -> Result<(String, IssuedTokens), OAuthError> {
    let checked = if provider.is_empty() {
        super::login::check_password(state, username, pw, origin, Via::Token).await
    } else {
        match crate::identity::provider(state, provider).await? {
            Some(cfg) => {
                super::login::check_provider_password(state, &cfg, username, pw, origin, Via::Token)
                    .await
            }
            None => {
                return Err(OAuthError::grant(format!(
                    "no identity provider named {provider:?} is enabled"
                )));
            }
        }
    };
    let username = match checked {
        Ok(user) => user["metadata"]["name"]
            .as_str()
            .unwrap_or(username)
            .to_string(),
        Err(Refusal::Malformed) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "username and password are required",
            ));
        }
        Err(Refusal::Invalid(why)) => return Err(OAuthError::grant(why)),
        Err(Refusal::Refused(why)) => return Err(OAuthError::grant(why)),
        Err(Refusal::Unavailable(why)) => {
            return Err(OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                why,
            ));
        }
        Err(Refusal::Locked) => {
            return Err(OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_grant",
                "too many failed login attempts, try again later",
            ));
        }
        Err(Refusal::Api(e)) => return Err(e.into()),
    };
    let issued = issue_login(state, &username).await?;
    Ok((username, issued))
}

/// Issues a login's tokens to `username` (revoking its other logins unless multiple logins
/// are allowed) and records the time.
pub(crate) async fn issue_login(
    state: &AppState,
    username: &str,
) -> Result<IssuedTokens, PlatformError> {
    if !state.settings.multiple_login {
        state
            .tokens
            .revoke_user(username, Some(SessionType::Login), None)
            .await?;
    }
    let issued = state.tokens.login(username).await?;
    let patch = json!({"status": {"lastLoginTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}});
    kubeapi::merge_patch_status(&state.client, Kind::User, None, username, patch).await?;
    Ok(issued)
}

/// `GET|POST /oauth/logout`: revokes the bearer token's session.
pub async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "a bearer token is required",
        )
        .into_response();
    };
    match state.tokens.revoke_token(token).await {
        Ok(()) => Json(json!({"message": "success"})).into_response(),
        Err(e) => OAuthError::from(e).into_response(),
    }
}
