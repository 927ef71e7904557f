//! Apps and versions: uploads (a chart package becomes a draft app, or a new version of one),
//! review transitions, and the apps' states kept in step with their versions.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::lifecycle::{self, State};
use super::{
    APP_LABEL, APP_SUSPENDED, CATEGORY_LABEL, DISPLAY_NAME, UNCATEGORIZED, WORKSPACE_LABEL,
    chart_info, dns_name, now, package, version_name,
};
use crate::error::PlatformError;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::kinds::Kind;
use crate::kubeapi;

/// Annotation on a version: the chart's `appVersion`.
pub const APP_VERSION_ANNOTATION: &str = "application.kubesphere.io/app-version";

/// An upload: KubeSphere's app request (`package` is base64, as Go encodes `[]byte`).
#[derive(Debug, Default)]
pub struct Upload {
    /// The app's name (default: the chart's).
    pub app_name: Option<String>,
    /// A display name.
    pub alias_name: Option<String>,
    /// The chart package (`.tgz`).
    pub package: Vec<u8>,
    /// The category (default: uncategorized).
    pub category: Option<String>,
    /// Icon URL (default: the chart's).
    pub icon: Option<String>,
    /// `helm` (a chart package) or `yaml` (plain manifests, `package` being their YAML).
    pub app_type: AppType,
    /// The version of a yaml app (a chart says its own).
    pub version_name: Option<String>,
}

/// What an app is made of.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum AppType {
    /// A Helm chart.
    #[default]
    Helm,
    /// Plain Kubernetes manifests (packaged as a one-template chart, see `yamlapp`).
    Yaml,
}

impl AppType {
    /// As `spec.appType` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AppType::Helm => "helm",
            AppType::Yaml => "yaml",
        }
    }
}

impl Upload {
    /// Reads KubeSphere's request body.
    pub fn from_body(body: &Value) -> Result<Upload, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request("the request must be a JSON object"));
        }
        let text = |k: &str| -> Result<Option<String>, ApiError> {
            match &body[k] {
                Value::Null => Ok(None),
                Value::String(s) if s.is_empty() => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(ApiError::bad_request(format!("{k} must be a string"))),
            }
        };
        let app_type = match text("appType")?.as_deref() {
            None | Some("helm") => AppType::Helm,
            Some("yaml") => AppType::Yaml,
            Some(t) => {
                return Err(ApiError::bad_request(format!(
                    "appType {t:?} is neither helm (a chart package) nor yaml (manifests)"
                )));
            }
        };
        let package = text("package")?.ok_or_else(|| {
            ApiError::bad_request(match app_type {
                AppType::Helm => "package (a base64 chart archive) is required",
                AppType::Yaml => "package (the base64 of the YAML manifests) is required",
            })
        })?;
        let package = B64
            .decode(package.as_bytes())
            .map_err(|_| ApiError::bad_request("package is not base64"))?;
        if package.len() > package::MAX_PACKAGE {
            return Err(ApiError::too_large(format!(
                "the package is larger than {} MiB",
                package::MAX_PACKAGE / (1024 * 1024)
            )));
        }
        Ok(Upload {
            app_name: text("appName")?,
            alias_name: text("aliasName")?,
            package,
            category: text("categoryName")?,
            icon: text("icon")?,
            app_type,
            version_name: text("versionName")?,
        })
    }
}

fn err(e: PlatformError) -> ApiError {
    ApiError::from(e)
}

/// Creates a draft app from `up` in workspace `ws` (`None`: the platform's own), or a new
/// draft version of app `into` (which must be in the same workspace). Returns (app, version).
pub async fn upload(
    state: &AppState,
    ws: Option<&str>,
    into: Option<&str>,
    up: Upload,
    user: &str,
) -> Result<(Value, Value), ApiError> {
    let package = match up.app_type {
        AppType::Helm => up.package,
        AppType::Yaml => {
            // Named after the app it goes into, or the one it makes.
            let name = dns_name(into.or(up.app_name.as_deref()).unwrap_or_default());
            if name.is_empty() {
                return Err(ApiError::bad_request("a yaml app needs appName"));
            }
            let version = up.version_name.as_deref().ok_or_else(|| {
                ApiError::bad_request("a yaml app needs versionName (such as 1.0.0)")
            })?;
            super::yamlapp::package(&name, version, &up.package)
                .map_err(|why| ApiError::bad_request(format!("the manifests: {why}")))?
        }
    };
    let kind = up.app_type.as_str();
    let info = tokio::task::spawn_blocking({
        let package = package.clone();
        move || chart_info(&package)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|why| ApiError::bad_request(format!("the package is not a chart: {why}")))?;
    let client = &state.client;
    let app = match into {
        Some(name) => {
            let app = kubeapi::get(client, Kind::App, None, name)
                .await
                .map_err(err)?
                .filter(|a| a["metadata"]["labels"][WORKSPACE_LABEL].as_str() == ws)
                .ok_or_else(|| {
                    ApiError::not_found(crate::crds::APPLICATION, "applications", name)
                })?;
            let have = app["spec"]["appType"].as_str().unwrap_or("helm");
            if have != kind {
                return Err(ApiError::bad_request(format!(
                    "app {name} is a {have} app; a {kind} version cannot go into it"
                )));
            }
            app
        }
        None => {
            let name = dns_name(up.app_name.as_deref().unwrap_or(&info.name));
            if name.is_empty() {
                return Err(ApiError::bad_request("the app needs a name"));
            }
            let mut labels =
                json!({CATEGORY_LABEL: up.category.as_deref().unwrap_or(UNCATEGORIZED)});
            if let Some(ws) = ws {
                labels[WORKSPACE_LABEL] = ws.into();
            }
            let app = json!({
                "metadata": {"name": name, "labels": labels,
                    "annotations": {DISPLAY_NAME: up.alias_name.as_deref().unwrap_or(&info.name)}},
                "spec": {"appHome": info.home, "appType": kind,
                    "icon": up.icon.as_deref().unwrap_or(&info.icon),
                    "abstraction": info.description},
            });
            let created = match kubeapi::create(client, Kind::App, None, app).await {
                Err(e) if kubeapi::is_conflict(&e) => {
                    return Err(ApiError::already_exists(
                        crate::crds::APPLICATION,
                        "applications",
                        &name,
                    ));
                }
                other => other.map_err(err)?,
            };
            crate::http::settle(&state.caches.apps, &created).await;
            set_app_status(state, &created, "draft").await?
        }
    };
    let app_name = app["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let vname = version_name(&app_name, &info.version);
    let mut labels = json!({APP_LABEL: app_name});
    if let Some(ws) = ws {
        labels[WORKSPACE_LABEL] = ws.into();
    }
    let version = json!({
        "metadata": {"name": vname, "labels": labels,
            "annotations": {APP_VERSION_ANNOTATION: info.app_version}},
        "spec": {"versionName": info.version, "appHome": info.home, "icon": info.icon,
            "created": now(), "digest": package::digest(&package), "appType": kind,
            "maintainer": info.maintainers, "pullUrl": ""},
    });
    let version = match kubeapi::create(client, Kind::AppVersion, None, version).await {
        Err(e) if kubeapi::is_conflict(&e) => {
            if into.is_none() {
                let _ = kubeapi::delete(client, Kind::App, None, &app_name).await;
            }
            return Err(ApiError::already_exists(
                crate::crds::APPLICATION,
                "applicationversions",
                &vname,
            ));
        }
        other => other.map_err(err)?,
    };
    if let Err(e) = package::store(client, &version, &package).await {
        // Nothing half-imported: the version (and with it any stored chunk) goes.
        let _ = kubeapi::delete(client, Kind::AppVersion, None, &vname).await;
        if into.is_none() {
            let _ = kubeapi::delete(client, Kind::App, None, &app_name).await;
        }
        return Err(err(e));
    }
    let version = set_version_status(state, &version, State::Draft, "", user).await?;
    Ok((app, version))
}

/// Sets an app's state; this replica's cache holds the result when it returns.
async fn set_app_status(state: &AppState, app: &Value, phase: &str) -> Result<Value, ApiError> {
    let name = app["metadata"]["name"].as_str().unwrap_or_default();
    let updated = kubeapi::merge_patch_status(
        &state.client,
        Kind::App,
        None,
        name,
        json!({"status": {"state": phase, "updateTime": now()}}),
    )
    .await
    .map_err(err)?;
    crate::http::settle(&state.caches.apps, &updated).await;
    Ok(updated)
}

async fn set_version_status(
    state: &AppState,
    version: &Value,
    phase: State,
    message: &str,
    user: &str,
) -> Result<Value, ApiError> {
    let name = version["metadata"]["name"].as_str().unwrap_or_default();
    kubeapi::merge_patch_status(
        &state.client,
        Kind::AppVersion,
        None,
        name,
        json!({"status": {"state": phase.as_str(), "message": message, "userName": user,
            "updated": now()}}),
    )
    .await
    .map_err(err)
}

/// A version's state.
pub fn version_state(version: &Value) -> State {
    State::parse(version["status"]["state"].as_str().unwrap_or_default()).unwrap_or(State::Draft)
}

/// The versions of app `app`.
pub async fn versions_of(state: &AppState, app: &str) -> Result<Vec<Value>, ApiError> {
    kubeapi::list(
        &state.client,
        Kind::AppVersion,
        None,
        &format!("{APP_LABEL}={app}"),
    )
    .await
    .map_err(err)
}

/// Moves `version` to the state named `to` (the caller's right was checked), and the app's
/// state after it.
pub async fn act_on_version(
    state: &AppState,
    version: &Value,
    to: State,
    message: &str,
    user: &str,
) -> Result<Value, ApiError> {
    let updated = set_version_status(state, version, to, message, user).await?;
    if let Some(app) = version["metadata"]["labels"][APP_LABEL].as_str() {
        refresh_app(state, app).await?;
    }
    Ok(updated)
}

/// Suspends (`suspended`) or restores (`active`) a whole app.
pub async fn act_on_app(state: &AppState, app: &Value, to: &str) -> Result<Value, ApiError> {
    let name = app["metadata"]["name"].as_str().unwrap_or_default();
    let suspended = match to {
        "suspended" => Value::String("true".into()),
        "active" => Value::Null,
        other => {
            return Err(ApiError::bad_request(format!(
                "an app can become active or suspended, not {other:?}"
            )));
        }
    };
    let patched = kubeapi::merge_patch(
        &state.client,
        Kind::App,
        None,
        name,
        json!({"metadata": {"annotations": {APP_SUSPENDED: suspended}}}),
    )
    .await
    .map_err(err)?;
    crate::http::settle(&state.caches.apps, &patched).await;
    refresh_app(state, name).await
}

/// Recomputes app `name`'s state from its versions.
pub async fn refresh_app(state: &AppState, name: &str) -> Result<Value, ApiError> {
    let Some(app) = kubeapi::get(&state.client, Kind::App, None, name)
        .await
        .map_err(err)?
    else {
        return Err(ApiError::not_found(
            crate::crds::APPLICATION,
            "applications",
            name,
        ));
    };
    let versions = versions_of(state, name).await?;
    let suspended = app["metadata"]["annotations"][APP_SUSPENDED] == "true";
    let want = lifecycle::app_state(suspended, versions.iter().map(version_state));
    if app["status"]["state"] == want {
        return Ok(app);
    }
    set_app_status(state, &app, want).await
}

/// Keeps every app's state in step with its versions (versions changed by other means than
/// the API, such as a sync or `kubectl`).
pub async fn reconcile(state: &AppState) -> Result<(), PlatformError> {
    let apps = kubeapi::list(&state.client, Kind::App, None, "").await?;
    if apps.is_empty() {
        return Ok(());
    }
    let versions = kubeapi::list(&state.client, Kind::AppVersion, None, "").await?;
    // Each app's versions' states, in one pass (a store holds thousands of each).
    let mut states: std::collections::HashMap<&str, Vec<State>> = Default::default();
    for v in &versions {
        if let Some(app) = v["metadata"]["labels"][APP_LABEL].as_str() {
            states.entry(app).or_default().push(version_state(v));
        }
    }
    for app in &apps {
        let name = app["metadata"]["name"].as_str().unwrap_or_default();
        let suspended = app["metadata"]["annotations"][APP_SUSPENDED] == "true";
        let want = lifecycle::app_state(suspended, states.get(name).into_iter().flatten().copied());
        if app["status"]["state"] != want {
            kubeapi::merge_patch_status(
                &state.client,
                Kind::App,
                None,
                name,
                json!({"status": {"state": want, "updateTime": now()}}),
            )
            .await?;
        }
    }
    Ok(())
}
