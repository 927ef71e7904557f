//! `/oauth/token` (password and refresh_token grants) and `/oauth/logout`, with login
//! protection: every attempt leaves a LoginRecord and repeated failures lock the user.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::{AppState, Shared, load_user};
use crate::error::PlatformError;
use crate::hostapi;
use crate::kinds::Kind;
use crate::password;
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

    fn grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_grant", description)
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

fn rfc3339_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_time(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Where a login attempt came from.
pub(super) struct Origin {
    /// The peer's IP address.
    pub(super) ip: String,
    /// The `User-Agent` header.
    pub(super) user_agent: String,
}

impl Origin {
    /// The origin of a request from `peer` with `headers`.
    pub(super) fn of(peer: SocketAddr, headers: &HeaderMap) -> Origin {
        Origin {
            ip: peer.ip().to_string(),
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        }
    }
}

async fn record(
    state: &AppState,
    user: &str,
    origin: &Origin,
    success: bool,
    reason: &str,
) -> Result<(), PlatformError> {
    let obj = json!({
        "metadata": {"generateName": format!("{user}-"), "labels": {"iam.kubesphere.io/user-ref": user}},
        "spec": {
            "type": "Token", "provider": "", "sourceIP": origin.ip, "userAgent": origin.user_agent,
            "success": success, "reason": reason,
        },
    });
    hostapi::create(&state.client, Kind::LoginRecord, None, obj)
        .await
        .map(|_| ())
}

/// Failed attempts since the window opened (or since the user was last unlocked).
async fn recent_failures(
    state: &AppState,
    user: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<usize, PlatformError> {
    let records = hostapi::list(
        &state.client,
        Kind::LoginRecord,
        None,
        &format!("iam.kubesphere.io/user-ref={user}"),
    )
    .await?;
    Ok(records
        .iter()
        .filter(|r| r["spec"]["success"] == json!(false))
        .filter(|r| parse_time(&r["metadata"]["creationTimestamp"]).is_some_and(|t| t >= since))
        .count())
}

fn locked(state: &AppState, user: &Value) -> bool {
    if user["status"]["state"].as_str() != Some("AuthLimitExceeded") {
        return false;
    }
    let Some(since) = parse_time(&user["status"]["lastTransitionTime"]) else {
        return true;
    };
    let duration = chrono::Duration::from_std(state.settings.lockout_duration)
        .unwrap_or(chrono::Duration::MAX);
    chrono::Utc::now() < since + duration
}

async fn set_state(
    state: &AppState,
    user: &str,
    new_state: &str,
    reason: &str,
) -> Result<(), PlatformError> {
    let patch = json!({"status": {"state": new_state, "reason": reason, "lastTransitionTime": rfc3339_now()}});
    hostapi::merge_patch_status(&state.client, Kind::User, None, user, patch)
        .await
        .map(|_| ())
}

/// `POST /oauth/token`.
pub async fn token(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let origin = Origin::of(peer, &headers);
    match grant(&state, &form, &origin).await {
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
    form: &HashMap<String, String>,
    origin: &Origin,
) -> Result<Value, OAuthError> {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if let Some(id) = form.get("client_id") {
        let secret = get("client_secret");
        if !state
            .settings
            .clients
            .iter()
            .any(|(i, s)| i == id && s == secret)
        {
            return Err(OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong client secret",
            ));
        }
    }
    match get("grant_type") {
        "password" => password_grant(state, get("username"), get("password"), origin)
            .await
            .map(|issued| serde_json::to_value(issued).unwrap_or(Value::Null)),
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

/// Checks a password login (recording it, locking after repeated failures) and issues tokens.
pub(super) async fn password_grant(
    state: &AppState,
    username: &str,
    pw: &str,
    origin: &Origin,
) -> Result<IssuedTokens, OAuthError> {
    if username.is_empty() || pw.is_empty() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "username and password are required",
        ));
    }
    let Some(user) = load_user(state, username).await? else {
        return Err(OAuthError::grant("incorrect username or password"));
    };
    if user["status"]["state"].as_str() == Some("Disabled") {
        record(state, username, origin, false, "user is disabled").await?;
        return Err(OAuthError::grant("user is disabled"));
    }
    if locked(state, &user) {
        record(
            state,
            username,
            origin,
            false,
            "too many failed login attempts",
        )
        .await?;
        return Err(OAuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_grant",
            "too many failed login attempts, try again later",
        ));
    }
    let was_locked = user["status"]["state"].as_str() == Some("AuthLimitExceeded");
    let stored = user["spec"]["password"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let candidate = pw.to_string();
    let ok = tokio::task::spawn_blocking(move || password::verify(&candidate, &stored))
        .await
        .unwrap_or(false);
    if was_locked {
        // The lock expired: start counting afresh from now.
        set_state(state, username, "Active", "").await?;
    }
    if !ok {
        record(state, username, origin, false, "incorrect password").await?;
        let window = chrono::Duration::from_std(state.settings.lockout_window)
            .unwrap_or(chrono::Duration::MAX);
        let mut since = chrono::Utc::now() - window;
        let unlocked_at = if was_locked {
            Some(chrono::Utc::now() - chrono::Duration::seconds(1))
        } else {
            parse_time(&user["status"]["lastTransitionTime"])
        };
        if let Some(t) = unlocked_at {
            since = since.max(t);
        }
        if recent_failures(state, username, since).await? >= state.settings.lockout_threshold {
            set_state(
                state,
                username,
                "AuthLimitExceeded",
                "too many failed login attempts",
            )
            .await?;
            return Err(OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_grant",
                "too many failed login attempts, try again later",
            ));
        }
        return Err(OAuthError::grant("incorrect username or password"));
    }
    if !state.settings.multiple_login {
        state
            .tokens
            .revoke_user(username, Some(SessionType::Login), None)
            .await?;
    }
    let issued = state.tokens.login(username).await?;
    record(state, username, origin, true, "").await?;
    let patch = json!({"status": {"lastLoginTime": rfc3339_now()}});
    hostapi::merge_patch_status(&state.client, Kind::User, None, username, patch).await?;
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
