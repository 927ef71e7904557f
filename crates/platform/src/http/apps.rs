//! The App Store's API, `/kapis/application.kubesphere.io/v2/…` (SPEC §3), with KubeSphere's
//! list conventions; under `workspaces/{ws}/` for a workspace's app templates and releases,
//! under `namespaces/{ns}/` for a project's releases (and under `/clusters/{c}` for a
//! member's projects):
//!
//! - `apps` (list, upload), `apps/{a}` (get, patch, delete), `apps/{a}/action` (suspend or
//!   restore the app), `apps/{a}/versions` (list, upload a new version),
//!   `apps/{a}/versions/{v}` (get, delete), `…/files`, `…/package`, `…/action` (review
//!   transitions: `{"state": …, "message": …}`);
//! - `reviews` (versions waiting for, or through, review), `categories`;
//! - `applications` (releases: list; create, get, update, delete in a project;
//!   `…/{name}/action` `{"action": "rollback", "revision": n}`; `…/{name}/history`).
//!
//! Every signed-in user browses the store (published apps and versions only); the right a
//! review transition needs is checked here, by the role templates at the workspace and
//! platform levels ([`crate::appstore::lifecycle::Right`]).

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, AppState, Caller, Grant, Shared, parse_json};
use crate::appstore::apps::{self, Upload, version_state};
use crate::appstore::lifecycle::{self, Right, State as Review};
use crate::appstore::releases::{self, placement};
use crate::appstore::{
    APP_LABEL, CLUSTER_LABEL, NAMESPACE_LABEL, VERSION_LABEL, WORKSPACE_LABEL, package,
};
use crate::authz::scope::{RequestInfo, Scope};
use crate::clusters::Member;
use crate::crds::APPLICATION;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;

const PREFIX: &str = "/kapis/application.kubesphere.io/v2";

fn not_found(resource: &str, name: &str) -> ApiError {
    ApiError::not_found(APPLICATION, resource, name)
}

fn list_query(q: Option<&str>) -> ApiResult<ListQuery> {
    ListQuery::parse(q.unwrap_or_default()).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `status=a|b` (KubeSphere's filter on `status.state`).
fn state_filter(q: Option<&str>) -> Option<Vec<String>> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "status" || k == "state")
        .map(|(_, v)| v.split(['|', ',']).map(str::to_string).collect())
}

/// One page of `items` (only that page is copied into the answer).
fn page<'a>(q: Option<&str>, items: impl IntoIterator<Item = &'a Value>) -> ApiResult<Response> {
    let lq = list_query(q)?;
    let states = state_filter(q);
    let items = items.into_iter().filter(|o| {
        states
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| o["status"]["state"] == x.as_str()))
    });
    Ok(Json(lq.apply_refs(items)).into_response())
}

/// `dryRun=All`, as Kubernetes spells it: check everything, change nothing.
fn dry_run(q: Option<&str>) -> bool {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "dryRun" && v == "All")
}

/// Whether the caller holds `verb` on `resource[/sub]` of the App Store at a level (a
/// workspace, or the platform).
fn may(
    state: &AppState,
    caller: &Caller,
    ws: Option<&str>,
    verb: &str,
    resource: &str,
    sub: &str,
) -> bool {
    let info = RequestInfo {
        path: String::new(),
        verb: verb.into(),
        is_resource_request: true,
        api_prefix: "kapis".into(),
        api_group: APPLICATION.into(),
        api_version: "v2".into(),
        workspace: ws.unwrap_or_default().into(),
        namespace: String::new(),
        resource: resource.into(),
        subresource: sub.into(),
        name: String::new(),
        scope: if ws.is_some() {
            Scope::Workspace
        } else {
            Scope::Global
        },
    };
    let d = state.authz.authorize(&caller.user, &info);
    d.allowed() && d.access != Some(crate::authz::Access::Public)
}

fn ws_of(obj: &Value) -> Option<&str> {
    obj["metadata"]["labels"][WORKSPACE_LABEL].as_str()
}

/// Whether the caller sees only the store (published apps).
fn store_only(caller: &Caller) -> bool {
    caller.grant == Grant::Public
}

/// The entry point for every App Store path of the host (`member`: the host's Member) and,
/// for `namespaces/{ns}/applications`, of a member cluster.
pub async fn serve(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    method: http::Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let host = match state.clusters.get(&state.clusters.settings.host_name) {
        Some(h) => h,
        None => {
            return ApiError::service_unavailable("the host cluster is not connected yet")
                .into_response();
        }
    };
    match in_cluster(&state, &caller, &host, &method, q.as_deref(), &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Serves an App Store request about cluster `member` (releases live in the host; `member`
/// decides which cluster's project a release goes to).
pub async fn in_cluster(
    state: &AppState,
    caller: &Caller,
    member: &Member,
    method: &http::Method,
    q: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let path = caller.info.path.as_str();
    let rest = path
        .split_once(PREFIX)
        .map(|(_, r)| r)
        .ok_or_else(super::error::no_route)?;
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let is_host = state.clusters.is_host(&member.name);
    match segs.as_slice() {
        ["workspaces", ws, rest @ ..] => {
            apps_api(state, caller, Some(ws), method, rest, q, body).await
        }
        ["namespaces", ns, "applications", rest @ ..] => {
            releases_api(state, member, ns, method, rest, q, body).await
        }
        _ if !is_host => Err(super::error::no_route()),
        ["reviews"] if *method == http::Method::GET => {
            let all = kubeapi::list(&state.client, Kind::AppVersion, None, "").await?;
            let items: Vec<Value> = if state_filter(q).is_some() {
                all
            } else {
                all.into_iter()
                    .filter(|v| version_state(v) == Review::Submitted)
                    .collect()
            };
            page(q, &items)
        }
        ["categories", rest @ ..] => categories(state, caller, method, rest, q, body).await,
        ["applications"] if *method == http::Method::GET => page(
            q,
            &kubeapi::list(&state.client, Kind::AppRelease, None, "").await?,
        ),
        rest => apps_api(state, caller, None, method, rest, q, body).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn apps_api(
    state: &AppState,
    caller: &Caller,
    ws: Option<&str>,
    method: &http::Method,
    segs: &[&str],
    q: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    use http::Method as M;
    let user = caller.user.name.as_str();
    // Let through as a store browser (or for an action), the caller still sees everything
    // their roles let them read at this level.
    let store = store_only(caller) && !may(state, caller, ws, "get", "apps", "");
    let get_app = |name: &str| load_app(state, name.to_string(), ws.map(str::to_string), store);
    match (method.clone(), segs) {
        (method, ["repos", rest @ ..]) => repos_api(state, ws, &method, rest, q, body).await,
        (M::GET, ["apps"]) => {
            // From the watch-fed cache (every write here settles it before answering).
            let entries = match ws {
                Some(w) => state.caches.apps.by_index(&format!("ws:{w}")),
                None => state.caches.apps.list(),
            };
            // Filtered, sorted and paged in place: a page copies ten apps, not a thousand.
            let items = entries.iter().map(|e| &e.obj);
            page(q, items.filter(|a| !store || in_store(a)))
        }
        (M::POST, ["apps"]) => {
            let up = Upload::from_body(&parse_json(body)?)?;
            let (app, version) = apps::upload(state, ws, None, up, user).await?;
            Ok(Json(json!({"appName": app["metadata"]["name"], "versionName": version["metadata"]["name"],
                "application": app, "version": version}))
            .into_response())
        }
        (M::GET, ["apps", a]) => Ok(Json(get_app(a).await?).into_response()),
        (M::PATCH, ["apps", a]) => patch_app(state, &get_app(a).await?, body).await,
        (M::DELETE, ["apps", a]) => delete_unused_app(state, &get_app(a).await?).await,
        (M::POST, ["apps", a, "action"]) => {
            let app = get_app(a).await?;
            if !may(state, caller, None, "update", "apps", "") {
                return Err(super::error::forbidden(format!(
                    "user {user:?} may not publish or suspend apps"
                )));
            }
            let to = parse_json(body)?["state"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Ok(Json(apps::act_on_app(state, &app, &to).await?).into_response())
        }
        (M::GET, ["apps", a, "versions"]) => {
            let app = get_app(a).await?;
            let name = app["metadata"]["name"].as_str().unwrap_or_default();
            let mut items = apps::versions_of(state, name).await?;
            if store {
                items.retain(|v| version_state(v) == Review::Active);
            }
            page(q, &items)
        }
        (M::POST, ["apps", a, "versions"]) => {
            let app = get_app(a).await?;
            let up = Upload::from_body(&parse_json(body)?)?;
            let name = app["metadata"]["name"].as_str().unwrap_or_default();
            let (_, version) = apps::upload(state, ws_of(&app), Some(name), up, user).await?;
            Ok(Json(version).into_response())
        }
        (method, ["apps", a, "versions", v, rest @ ..]) => {
            let app = get_app(a).await?;
            let app_name = app["metadata"]["name"].as_str().unwrap_or_default();
            let version = kubeapi::get(&state.client, Kind::AppVersion, None, v)
                .await?
                .filter(|x| x["metadata"]["labels"][APP_LABEL] == app_name)
                .filter(|x| !store || version_state(x) == Review::Active)
                .ok_or_else(|| not_found("applicationversions", v))?;
            version_api(state, caller, &app, &version, &method, rest, body).await
        }
        _ => Err(super::error::no_route()),
    }
}

/// Patches what people may change of an app: display name, description, icon, category,
/// home.
async fn patch_app(state: &AppState, app: &Value, body: &[u8]) -> ApiResult<Response> {
    let patch = parse_json(body)?;
    // What people may change: display name, description, icon, category, home.
    let mut allowed = json!({});
    if let Some(v) = patch.pointer("/metadata/annotations") {
        allowed["metadata"]["annotations"] = v.clone();
    }
    if let Some(v) = patch.pointer(&format!(
        "/metadata/labels/{}",
        crate::appstore::CATEGORY_LABEL.replace('/', "~1")
    )) {
        allowed["metadata"]["labels"][crate::appstore::CATEGORY_LABEL] = v.clone();
    }
    for f in ["abstraction", "icon", "appHome", "attachments"] {
        if let Some(v) = patch["spec"].get(f) {
            allowed["spec"][f] = v.clone();
        }
    }
    let name = app["metadata"]["name"].as_str().unwrap_or_default();
    let patched = kubeapi::merge_patch(&state.client, Kind::App, None, name, allowed).await?;
    super::settle(&state.caches.apps, &patched).await;
    Ok(Json(patched).into_response())
}

/// Deletes an app no release uses and with no version in the store.
async fn delete_unused_app(state: &AppState, app: &Value) -> ApiResult<Response> {
    let name = app["metadata"]["name"].as_str().unwrap_or_default();
    let releases = releases_of(state, name).await?;
    if releases > 0 {
        return Err(ApiError::conflict(
            APPLICATION,
            "applications",
            name,
            &format!("{releases} release(s) still use it"),
        ));
    }
    let versions = apps::versions_of(state, name).await?;
    if versions.iter().any(|v| version_state(v) == Review::Active) {
        return Err(ApiError::conflict(
            APPLICATION,
            "applications",
            name,
            "a version is in the store; suspend it first",
        ));
    }
    delete_app(state, name, &versions).await?;
    Ok(Json(json!({"message": "success"})).into_response())
}

/// How many releases use app `app`.
async fn releases_of(state: &AppState, app: &str) -> ApiResult<usize> {
    let selector = format!("{APP_LABEL}={app}");
    Ok(
        kubeapi::list(&state.client, Kind::AppRelease, None, &selector)
            .await?
            .len(),
    )
}

/// Deletes app `name` and its `versions` (their packages go with them); the apps cache no
/// longer holds it when this returns.
async fn delete_app(state: &AppState, name: &str, versions: &[Value]) -> ApiResult<()> {
    for v in versions {
        let vname = v["metadata"]["name"].as_str().unwrap_or_default();
        kubeapi::delete(&state.client, Kind::AppVersion, None, vname).await?;
    }
    kubeapi::delete(&state.client, Kind::App, None, name).await?;
    super::settle_gone(&state.caches.apps, name).await;
    Ok(())
}

/// A repository as answered: its credential's secrets left out.
fn redacted(mut repo: Value) -> Value {
    if let Some(c) = repo["spec"]["credential"].as_object_mut() {
        for secret in ["password", "keyData"] {
            if c.contains_key(secret) {
                c.insert(secret.into(), Value::String(String::new()));
            }
        }
    }
    repo
}

/// Repository `name` of workspace `ws` (the platform's, for `None`).
async fn load_repo(state: &AppState, name: &str, ws: Option<&str>) -> ApiResult<Value> {
    kubeapi::get(&state.client, Kind::AppRepo, None, name)
        .await?
        .filter(|r| ws_of(r) == ws)
        .ok_or_else(|| not_found("repos", name))
}

fn check_repo(repo: &Value) -> ApiResult<()> {
    super::shape::check("Repo", repo)?;
    let url = repo["spec"]["url"].as_str().unwrap_or_default();
    if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with("oci://")) {
        return Err(ApiError::bad_request(format!(
            "spec.url {url:?} must be an http(s) or oci:// URL"
        )));
    }
    if repo["spec"]["syncPeriod"].as_i64().is_some_and(|p| p < 0) {
        return Err(ApiError::bad_request(
            "spec.syncPeriod must not be negative",
        ));
    }
    Ok(())
}

/// `repos`: Helm repositories (the platform's, or a workspace's).
async fn repos_api(
    state: &AppState,
    ws: Option<&str>,
    method: &http::Method,
    segs: &[&str],
    q: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    use crate::appstore::repos;
    use http::Method as M;
    match (method.clone(), segs) {
        (M::GET, []) => {
            let all = kubeapi::list(&state.client, Kind::AppRepo, None, "").await?;
            let mine: Vec<Value> = all
                .into_iter()
                .filter(|r| ws_of(r) == ws)
                .map(redacted)
                .collect();
            page(q, &mine)
        }
        (M::POST, []) => {
            let mut repo = parse_json(body)?;
            check_repo(&repo)?;
            crate::http::check_name(
                "repo",
                repo["metadata"]["name"].as_str().unwrap_or_default(),
            )?;
            if let Some(ws) = ws {
                repo["metadata"]["labels"][WORKSPACE_LABEL] = ws.into();
            } else if let Some(l) = repo["metadata"]["labels"].as_object_mut() {
                l.remove(WORKSPACE_LABEL);
            }
            repo["apiVersion"] = Kind::AppRepo.api_version().into();
            repo["kind"] = "Repo".into();
            if let Some(m) = repo.as_object_mut() {
                m.remove("status");
            }
            let created = kubeapi::create(&state.client, Kind::AppRepo, None, repo).await?;
            Ok(Json(redacted(created)).into_response())
        }
        (M::GET, [name]) => Ok(Json(redacted(load_repo(state, name, ws).await?)).into_response()),
        (M::PATCH, [name]) => {
            let current = load_repo(state, name, ws).await?;
            let patch = parse_json(body)?;
            let mut next = current.clone();
            if let Some(spec) = patch.get("spec") {
                json_patch::merge(&mut next["spec"], spec);
            }
            check_repo(&next)?;
            let updated = kubeapi::replace(&state.client, Kind::AppRepo, None, next).await?;
            Ok(Json(redacted(updated)).into_response())
        }
        (M::DELETE, [name]) => {
            load_repo(state, name, ws).await?;
            let apps = kubeapi::list(
                &state.client,
                Kind::App,
                None,
                &format!("{}={name}", crate::appstore::REPO_LABEL),
            )
            .await?;
            for app in &apps {
                let a = app["metadata"]["name"].as_str().unwrap_or_default();
                if releases_of(state, a).await? > 0 {
                    return Err(ApiError::conflict(
                        APPLICATION,
                        "repos",
                        name,
                        &format!("app {a} of the repository has releases"),
                    ));
                }
            }
            for app in apps {
                let a = app["metadata"]["name"].as_str().unwrap_or_default();
                let versions = apps::versions_of(state, a).await?;
                delete_app(state, a, &versions).await?;
            }
            kubeapi::delete(&state.client, Kind::AppRepo, None, name).await?;
            Ok(Json(json!({"message": "success"})).into_response())
        }
        (M::POST, [name, "action"]) => {
            let repo = load_repo(state, name, ws).await?;
            let updated = repos::sync_and_record(state, &repo).await?;
            Ok(Json(redacted(updated)).into_response())
        }
        _ => Err(super::error::no_route()),
    }
}

/// Whether an app is in the store everyone browses: published, and not of a workspace's own
/// repository (those are for that workspace only).
fn in_store(app: &Value) -> bool {
    let labels = &app["metadata"]["labels"];
    app["status"]["state"] == "active"
        && !(labels[crate::appstore::REPO_LABEL].is_string() && labels[WORKSPACE_LABEL].is_string())
}

/// App `name`, if it is in workspace `ws` (any, for `None`) and, for store browsers,
/// published.
async fn load_app(
    state: &AppState,
    name: String,
    ws: Option<String>,
    store: bool,
) -> ApiResult<Value> {
    let app = state.caches.apps.get(&name).map(|e| e.obj.clone());
    match app {
        Some(a)
            if ws.as_deref().is_none_or(|w| ws_of(&a) == Some(w)) && (!store || in_store(&a)) =>
        {
            Ok(a)
        }
        _ => Err(not_found("applications", &name)),
    }
}

/// Release `name`, if it is in `ns` of `cluster`.
async fn load_release(
    state: &AppState,
    name: String,
    cluster: String,
    ns: String,
) -> ApiResult<Value> {
    let rel = kubeapi::get(&state.client, Kind::AppRelease, None, &name).await?;
    match rel {
        Some(r) if placed_in(&r, &state.clusters.settings.host_name, &cluster, &ns) => Ok(r),
        _ => Err(not_found("applicationreleases", &name)),
    }
}

fn placed_in(r: &Value, host: &str, cluster: &str, ns: &str) -> bool {
    let (c, n) = placement(r, host);
    (c == cluster || (c == host && cluster == host)) && n == ns
}

async fn version_api(
    state: &AppState,
    caller: &Caller,
    app: &Value,
    version: &Value,
    method: &http::Method,
    rest: &[&str],
    body: &[u8],
) -> ApiResult<Response> {
    use http::Method as M;
    let vname = version["metadata"]["name"].as_str().unwrap_or_default();
    match (method.clone(), rest) {
        (M::GET, []) => Ok(Json(version.clone()).into_response()),
        (M::DELETE, []) => {
            if store_only(caller) {
                return Err(super::error::forbidden(
                    "only the app's workspace may delete its versions",
                ));
            }
            if version_state(version) == Review::Active {
                return Err(ApiError::conflict(
                    APPLICATION,
                    "applicationversions",
                    vname,
                    "it is in the store; suspend it first",
                ));
            }
            kubeapi::delete(&state.client, Kind::AppVersion, None, vname).await?;
            if let Some(a) = app["metadata"]["name"].as_str() {
                let _ = apps::refresh_app(state, a).await;
            }
            Ok(Json(json!({"message": "success"})).into_response())
        }
        (M::GET, ["files"]) => {
            let pkg = package::package_of(state, version).await?;
            let info = tokio::task::spawn_blocking(move || crate::appstore::chart_info(&pkg))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?
                .map_err(ApiError::internal)?;
            let files: serde_json::Map<String, Value> = info
                .files
                .into_iter()
                .map(|(n, d)| (n, Value::String(B64.encode(d))))
                .collect();
            Ok(Json(Value::Object(files)).into_response())
        }
        (M::GET, ["package"]) => {
            let pkg = package::package_of(state, version).await?;
            Ok(Json(json!({"versionID": vname, "package": B64.encode(pkg)})).into_response())
        }
        (M::POST, ["action"]) => {
            let req = parse_json(body)?;
            let to = req["state"].as_str().unwrap_or_default();
            let message = req["message"].as_str().unwrap_or_default();
            let (next, right) = lifecycle::transition(version_state(version), to, message)
                .map_err(|r| ApiError::bad_request(r.to_string()))?;
            let ws = ws_of(app);
            let allowed = match right {
                Right::Submit => may(state, caller, ws, "create", "apps", "versions"),
                Right::Review => may(state, caller, None, "update", "reviews", ""),
                Right::Publish => may(state, caller, None, "update", "apps", ""),
            };
            if !allowed {
                return Err(super::error::forbidden(format!(
                    "user {:?} may not move version {vname} to {to}",
                    caller.user.name
                )));
            }
            Ok(
                Json(apps::act_on_version(state, version, next, message, &caller.user.name).await?)
                    .into_response(),
            )
        }
        _ => Err(super::error::no_route()),
    }
}

async fn categories(
    state: &AppState,
    caller: &Caller,
    method: &http::Method,
    segs: &[&str],
    q: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    use http::Method as M;
    let write = *method != M::GET;
    if write && store_only(caller) {
        return Err(super::error::forbidden(
            "only store managers change categories",
        ));
    }
    match (method.clone(), segs) {
        (M::GET, []) => page(
            q,
            &kubeapi::list(&state.client, Kind::AppCategory, None, "").await?,
        ),
        (M::POST, []) => {
            let mut c = parse_json(body)?;
            super::shape::check("Category", &c)?;
            c["apiVersion"] = Kind::AppCategory.api_version().into();
            c["kind"] = "Category".into();
            Ok(
                Json(kubeapi::create(&state.client, Kind::AppCategory, None, c).await?)
                    .into_response(),
            )
        }
        (M::GET, [name]) => Ok(Json(
            kubeapi::get(&state.client, Kind::AppCategory, None, name)
                .await?
                .ok_or_else(|| not_found("categories", name))?,
        )
        .into_response()),
        (M::PUT, [name]) => {
            let mut c = parse_json(body)?;
            super::shape::check("Category", &c)?;
            c["metadata"]["name"] = (*name).into();
            Ok(
                Json(kubeapi::replace(&state.client, Kind::AppCategory, None, c).await?)
                    .into_response(),
            )
        }
        (M::DELETE, [name]) => {
            kubeapi::delete(&state.client, Kind::AppCategory, None, name).await?;
            Ok(Json(json!({"message": "success"})).into_response())
        }
        _ => Err(super::error::no_route()),
    }
}

/// Checks a release's spec against its app and version, and its values against the chart's
/// schema; returns the version.
async fn check_release(state: &AppState, ws: Option<&str>, rel: &Value) -> ApiResult<Value> {
    let app_id = rel["spec"]["appID"].as_str().unwrap_or_default();
    let version_id = rel["spec"]["appVersionID"].as_str().unwrap_or_default();
    if app_id.is_empty() || version_id.is_empty() {
        return Err(ApiError::bad_request(
            "spec.appID and spec.appVersionID are required",
        ));
    }
    let app = kubeapi::get(&state.client, Kind::App, None, app_id)
        .await?
        .ok_or_else(|| not_found("applications", app_id))?;
    let version = kubeapi::get(&state.client, Kind::AppVersion, None, version_id)
        .await?
        .filter(|v| v["metadata"]["labels"][APP_LABEL] == app_id)
        .ok_or_else(|| not_found("applicationversions", version_id))?;
    // A published version, or a template of the project's own workspace.
    let own = ws.is_some() && ws_of(&app) == ws;
    if !own && (version_state(&version) != Review::Active || app["status"]["state"] != "active") {
        return Err(ApiError::bad_request(format!(
            "version {version_id} is not in the store"
        )));
    }
    let user = releases::values_of(rel).map_err(ApiError::bad_request)?;
    if version["spec"]["appType"] == "yaml" && !user.is_empty() {
        return Err(ApiError::bad_request(
            "values: a yaml app is plain manifests and takes no values",
        ));
    }
    let pkg = package::package_of(state, &version).await?;
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        let chart = helm::chart::load_archive(&pkg, &helm::chart::LoadLimits::default())
            .map_err(|e| e.to_string())?;
        let vals = helm::values::coalesce_values(&chart, &user).map_err(|e| e.to_string())?;
        helm::values::schema::validate(&chart, &vals).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|why| ApiError::bad_request(format!("values: {why}")))?;
    Ok(version)
}

#[allow(clippy::too_many_arguments)]
async fn releases_api(
    state: &AppState,
    member: &Member,
    ns: &str,
    method: &http::Method,
    segs: &[&str],
    q: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    use http::Method as M;
    let cluster = member.name.as_str();
    let host = state.clusters.settings.host_name.as_str();
    let get = |name: String| load_release(state, name, cluster.to_string(), ns.to_string());
    let ws = member
        .caches
        .namespaces
        .get(ns)
        .and_then(|n| n.label(WORKSPACE_LABEL).map(str::to_string));
    match (method.clone(), segs) {
        (M::GET, []) => {
            let all = kubeapi::list(
                &state.client,
                Kind::AppRelease,
                None,
                &format!("{NAMESPACE_LABEL}={ns}"),
            )
            .await?;
            let mine: Vec<Value> = all
                .into_iter()
                .filter(|r| placed_in(r, host, cluster, ns))
                .collect();
            page(q, &mine)
        }
        (M::POST, []) => create_release(state, member, ns, ws.as_deref(), q, body).await,
        (M::GET, [name]) => Ok(Json(get(name.to_string()).await?).into_response()),
        (M::PUT | M::PATCH, [name]) => {
            let current = get(name.to_string()).await?;
            change_release(state, ws.as_deref(), current, name, q, body).await
        }
        (M::DELETE, [name]) => {
            get(name.to_string()).await?;
            kubeapi::delete(&state.client, Kind::AppRelease, None, name).await?;
            Ok(Json(json!({"message": "success"})).into_response())
        }
        (M::GET, [name, "history"]) => {
            get(name.to_string()).await?;
            release_history(member, ns, name).await
        }
        (M::GET, [name, "resources"]) => {
            get(name.to_string()).await?;
            let items = releases::resources_of(member, ns, name).await?;
            Ok(Json(json!({"totalItems": items.len(), "items": items})).into_response())
        }
        (M::POST, [name, "action"]) => {
            let rel = get(name.to_string()).await?;
            let req = parse_json(body)?;
            if req["action"] != "rollback" {
                return Err(ApiError::bad_request("the action must be rollback"));
            }
            let revision = req["revision"].as_i64().unwrap_or(0);
            rollback(state, member, &rel, ns, name, revision).await
        }
        _ => Err(super::error::no_route()),
    }
}

/// Creates a release in `ns` of `member` after checking its name, cluster, version and values;
/// with `dryRun` only checks.
async fn create_release(
    state: &AppState,
    member: &Member,
    ns: &str,
    ws: Option<&str>,
    q: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let cluster = member.name.as_str();
    let mut rel = parse_json(body)?;
    super::shape::check("ApplicationRelease", &rel)?;
    let name = rel["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let errs = apimachinery::validation::is_dns1123_label(&name);
    if name.is_empty() || !errs.is_empty() || name.len() > 53 {
        return Err(ApiError::bad_request(format!(
            "metadata.name {name:?} must be a DNS label of at most 53 characters (a Helm release name)"
        )));
    }
    if let Some(c) = rel["metadata"]["labels"][CLUSTER_LABEL].as_str()
        && c != cluster
        && !(state.clusters.is_host(c) && state.clusters.is_host(cluster))
    {
        return Err(ApiError::bad_request(format!(
            "the release names cluster {c}, but is created in {cluster}"
        )));
    }
    if member.caches.namespaces.get(ns).is_none() {
        return Err(ApiError::not_found("", "namespaces", ns));
    }
    let version = check_release(state, ws, &rel).await?;
    let labels = json!({CLUSTER_LABEL: cluster, NAMESPACE_LABEL: ns,
        WORKSPACE_LABEL: ws.unwrap_or_default(),
        APP_LABEL: rel["spec"]["appID"], VERSION_LABEL: version["metadata"]["name"]});
    match rel["metadata"]["labels"].as_object_mut() {
        Some(m) => {
            for (k, v) in labels.as_object().into_iter().flatten() {
                m.insert(k.clone(), v.clone());
            }
        }
        None => rel["metadata"]["labels"] = labels,
    }
    rel["apiVersion"] = Kind::AppRelease.api_version().into();
    rel["kind"] = Kind::AppRelease.kind().into();
    rel["spec"]["appType"] = version["spec"]["appType"].as_str().unwrap_or("helm").into();
    if let Some(m) = rel.as_object_mut() {
        m.remove("status");
    }
    if dry_run(q) {
        // Checked (names, version, values against the schema) and not made: the
        // console validates a deploy form this way as people type.
        return Ok(Json(rel).into_response());
    }
    let created = kubeapi::create(&state.client, Kind::AppRelease, None, rel).await?;
    Ok(Json(created).into_response())
}

/// Moves a release to another version or values (checked first; with `dryRun` only checked).
async fn change_release(
    state: &AppState,
    ws: Option<&str>,
    current: Value,
    name: &str,
    q: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let req = parse_json(body)?;
    let mut next = current;
    for f in ["appVersionID", "values"] {
        if let Some(v) = req["spec"].get(f) {
            next["spec"][f] = v.clone();
        }
    }
    let version = check_release(state, ws, &next).await?;
    if dry_run(q) {
        return Ok(Json(next).into_response());
    }
    let vname = version["metadata"]["name"].clone();
    let spec = next["spec"].clone();
    let updated = update_release(state, name, |r| {
        r["spec"]["appVersionID"] = spec["appVersionID"].clone();
        r["spec"]["values"] = spec["values"].clone();
        r["metadata"]["labels"][VERSION_LABEL] = vname.clone();
    })
    .await?;
    Ok(Json(updated).into_response())
}

/// A release's Helm revisions, newest first.
async fn release_history(member: &Member, ns: &str, name: &str) -> ApiResult<Response> {
    let history = helm::action::storage::history(&member.client, ns, name)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let items: Vec<Value> = history
        .iter()
        .rev()
        .map(|r| {
            json!({"revision": r["version"], "status": r["info"]["status"],
            "chart": r["chart"]["metadata"]["name"], "version": r["chart"]["metadata"]["version"],
            "updated": r["info"]["last_deployed"], "description": r["info"]["description"]})
        })
        .collect();
    Ok(Json(json!({"totalItems": items.len(), "items": items})).into_response())
}

/// Changes release `name` with `change`, read-modify-write; a concurrent status update by the
/// controller (which changes the resourceVersion) is retried.
async fn update_release(
    state: &AppState,
    name: &str,
    change: impl Fn(&mut Value),
) -> ApiResult<Value> {
    for _ in 0..8 {
        let mut next = kubeapi::get(&state.client, Kind::AppRelease, None, name)
            .await?
            .ok_or_else(|| not_found("applicationreleases", name))?;
        change(&mut next);
        match kubeapi::replace(&state.client, Kind::AppRelease, None, next).await {
            Err(e) if kubeapi::is_conflict(&e) => continue,
            other => return Ok(other?),
        }
    }
    Err(ApiError::new(
        409,
        "Conflict",
        format!("release {name} keeps changing; try again"),
    ))
}

/// Rolls a release back to `revision` (0: the one before the latest) with the Helm engine,
/// then records the version and values now deployed in its spec, so the release says what
/// runs.
async fn rollback(
    state: &AppState,
    member: &Member,
    rel: &Value,
    ns: &str,
    name: &str,
    revision: i64,
) -> ApiResult<Response> {
    let mut res = helm::action::Resources::new(member.client.clone());
    let done = helm::action::rollback(
        &mut res,
        ns,
        name,
        revision,
        false,
        std::time::Duration::from_secs(300),
    )
    .await
    .map_err(|e| ApiError::bad_request(format!("rollback: {e}")))?;
    let app = rel["spec"]["appID"].as_str().unwrap_or_default();
    let chart_version = done["chart"]["metadata"]["version"]
        .as_str()
        .unwrap_or_default();
    let config = done.get("config").cloned().unwrap_or(json!({}));
    let yaml = if config.as_object().is_none_or(|m| m.is_empty()) {
        String::new()
    } else {
        serde_saphyr::to_string(&config).map_err(|e| ApiError::internal(e.to_string()))?
    };
    let version_id = crate::appstore::version_name(app, chart_version);
    let values: Value = if yaml.is_empty() {
        Value::Null
    } else {
        B64.encode(yaml).into()
    };
    let updated = update_release(state, name, |next| {
        next["spec"]["appVersionID"] = version_id.clone().into();
        next["spec"]["values"] = values.clone();
        next["metadata"]["labels"][VERSION_LABEL] = version_id.clone().into();
    })
    .await?;
    let status = json!({"status": {"state": "upgraded", "message": format!("rolled back to revision {}", done["version"]),
        "specHash": releases::spec_hash(&updated), "lastUpdate": crate::appstore::now()}});
    let updated =
        kubeapi::merge_patch_status(&state.client, Kind::AppRelease, None, name, status).await?;
    Ok(Json(updated).into_response())
}
