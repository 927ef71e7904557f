//! KubeSphere's configuration and version endpoints, as its console and scripts read them:
//! `/kapis/version` and `config.kubesphere.io/v1alpha2` `configs/oauth` and `configs/theme`
//! (public: the login page reads them), `configs/configz` (any logged-in user: the console
//! reads which features are on). Values come from the running platform; nothing secret is in
//! them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Shared, parse_json};
use crate::kinds::Kind;
use crate::kubeapi;

/// The ConfigMap (in `kubesphere-system`) holding the console's theme.
pub const THEME_CONFIGMAP: &str = "platform-theme";
const SYSTEM_NAMESPACE: &str = "kubesphere-system";

use gofmt::duration_string as go_duration;

/// `GET /kapis/version`: the platform's version and the host cluster's.
pub async fn version(State(state): State<Shared>) -> Json<Value> {
    let req = http::Request::get("/version").body(Vec::new());
    let kubernetes = match req {
        Ok(r) => kubeapi::timed("version", state.client.request::<Value>(r))
            .await
            .ok(),
        Err(_) => None,
    };
    Json(json!({
        "gitVersion": concat!("v", env!("CARGO_PKG_VERSION")),
        "gitMajor": env!("CARGO_PKG_VERSION_MAJOR"),
        "gitMinor": env!("CARGO_PKG_VERSION_MINOR"),
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        "kubernetes": kubernetes,
    }))
}

/// `GET …/configs/oauth`: how logins work (no client secret, no provider secret).
pub async fn oauth(State(state): State<Shared>) -> Json<Value> {
    let l = state.tokens.lifetimes();
    let s = &state.settings;
    // The login page's choices: enabled providers not hidden, without their settings.
    let providers: Vec<Value> = match crate::identity::providers(&state).await {
        Ok(ps) => ps
            .iter()
            .filter(|p| !p.hidden && !p.disabled)
            .map(|p| p.public())
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "identity providers could not be read");
            Vec::new()
        }
    };
    Json(json!({
        "identityProviders": providers,
        "accessTokenMaxAge": go_duration(l.access.as_secs()),
        "accessTokenInactivityTimeout": go_duration(l.refresh.as_secs()),
        "multipleLogin": s.multiple_login,
        "authenticateRateLimiterMaxTries": s.lockout_threshold,
        "authenticateRateLimiterDuration": go_duration(s.lockout_window.as_secs()),
        "clients": s.clients.iter().map(|(id, _)| json!({"name": id, "grantMethod": "auto"})).collect::<Vec<_>>(),
    }))
}

/// `GET …/configs/theme`: the console's theme (title, logo, …), `{}` until one is set.
pub async fn theme(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    let cm = kubeapi::get(
        &state.client,
        Kind::ConfigMap,
        Some(SYSTEM_NAMESPACE),
        THEME_CONFIGMAP,
    )
    .await?;
    let theme = cm
        .and_then(|c| c["data"]["theme"].as_str().map(str::to_string))
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or_else(|| json!({}));
    Ok(Json(theme))
}

/// `PUT …/configs/theme` (platform administrators): replaces the theme, a JSON object.
pub async fn set_theme(State(state): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    let theme = parse_json(&body)?;
    if !theme.is_object() {
        return Err(ApiError::bad_request("the theme is a JSON object"));
    }
    let cm = json!({"metadata": {"name": THEME_CONFIGMAP, "namespace": SYSTEM_NAMESPACE},
        "data": {"theme": theme.to_string()}});
    kubeapi::ensure(
        &state.client,
        Kind::ConfigMap,
        Some(SYSTEM_NAMESPACE),
        cm,
        &["data"],
    )
    .await?;
    Ok(Json(theme))
}

/// `GET …/configs/configz`: the platform's effective configuration, secrets left out.
pub async fn configz(State(state): State<Shared>) -> Json<Value> {
    let l = state.tokens.lifetimes();
    let s = &state.settings;
    let members = state.clusters.names();
    Json(json!({
        "authentication": {
            "authenticateRateLimiterMaxTries": s.lockout_threshold,
            "authenticateRateLimiterDuration": go_duration(s.lockout_window.as_secs()),
            "loginHistoryRetentionPeriod": "168h0m0s",
            "multipleLogin": s.multiple_login,
            "oauthOptions": {
                "accessTokenMaxAge": go_duration(l.access.as_secs()),
                "accessTokenInactivityTimeout": go_duration(l.refresh.as_secs()),
            },
        },
        "multicluster": {
            "clusterRole": "host",
            "hostClusterName": state.clusters.settings.host_name,
            "clusters": members,
            // The exec plugin commands a member kubeconfig may run (the console's join wizard
            // explains the list before the server refuses a kubeconfig for it).
            "execPluginAllow": state.clusters.settings.exec_allow,
        },
        "publicURL": s.public_url,
    }))
}
