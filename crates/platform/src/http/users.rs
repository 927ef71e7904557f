//! `/kapis/iam.kubesphere.io/v1beta1/users…` and the user kubeconfig download.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::StatusCode;
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, Caller, Grant, Shared, check_name, load_user, parse_json,
    settle, settle_gone,
};
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;
use crate::password;

/// Annotation naming a user's global role.
pub const GLOBALROLE: &str = "iam.kubesphere.io/globalrole";
/// Annotation forcing a password change.
pub const UNINITIALIZED: &str = "iam.kubesphere.io/uninitialized";

/// A user as the API shows it: never the password hash.
pub fn view(user: &Value) -> Value {
    let mut v = user.clone();
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("password");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let uninitialized = user["metadata"]["annotations"][UNINITIALIZED].as_str() == Some("true");
    if let Some(obj) = v.as_object_mut() {
        let status = obj.entry("status").or_insert_with(|| json!({}));
        if status.get("state").is_none() {
            status["state"] = "Active".into();
        }
        status["passwordChangeRequired"] = uninitialized.into();
    }
    v
}

async fn must_load(state: &AppState, name: &str) -> ApiResult<Value> {
    load_user(state, name)
        .await?
        .ok_or_else(|| super::error::not_found("users", name))
}

/// `GET users`.
pub async fn list(State(state): State<Shared>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(q.apply(
        state.caches.users.list().iter().map(|e| view(&e.obj)),
    )))
}

/// `GET users/{u}`.
pub async fn get(State(state): State<Shared>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(view(&must_load(&state, &name).await?)))
}

/// Makes `user`'s global role binding match `role` (none when `None`).
pub async fn bind_global_role(state: &AppState, user: &str, role: Option<&str>) -> ApiResult<()> {
    for b in state
        .caches
        .global_role_bindings
        .by_index(&format!("User:{user}"))
    {
        if Some(b.obj["roleRef"]["name"].as_str().unwrap_or_default()) != role {
            kubeapi::delete(&state.client, Kind::GlobalRoleBinding, None, b.name()).await?;
            settle_gone(&state.caches.global_role_bindings, b.name()).await;
        }
    }
    if let Some(role) = role {
        if state.caches.global_roles.get(role).is_none()
            && !crate::builtin::global_roles()
                .iter()
                .any(|r| r.name == role)
        {
            return Err(super::error::invalid(format!(
                "global role {role:?} does not exist"
            )));
        }
        let binding = crate::objects::global_role_binding(user, role);
        match kubeapi::create(&state.client, Kind::GlobalRoleBinding, None, binding).await {
            Ok(b) => settle(&state.caches.global_role_bindings, &b).await,
            Err(e) if kubeapi::is_conflict(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `POST users`.
pub async fn create(State(state): State<Shared>, body: Bytes) -> ApiResult<Response> {
    let mut user = parse_json(&body)?;
    super::shape::check("User", &user)?;
    let name = user["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check_name("user", &name)?;
    let pw = user["spec"]["password"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !pw.is_empty() && !password::is_hash(&pw) {
        password::check_policy(&pw).map_err(|e| super::error::invalid(e.to_string()))?;
        let cost = state.settings.hash_cost;
        let hashed = tokio::task::spawn_blocking(move || password::hash(&pw, cost))
            .await
            .map_err(|e| super::error::invalid(e.to_string()))?
            .map_err(crate::error::PlatformError::from)?;
        user["spec"]["password"] = hashed.into();
    }
    let state_field = user["status"]["state"]
        .as_str()
        .unwrap_or("Active")
        .to_string();
    if let Some(o) = user.as_object_mut() {
        o.remove("status");
    }
    let role = user["metadata"]["annotations"][GLOBALROLE]
        .as_str()
        .map(str::to_string);
    let created = kubeapi::create(&state.client, Kind::User, None, user).await?;
    let created = kubeapi::merge_patch_status(
        &state.client,
        Kind::User,
        None,
        &name,
        json!({"status": {"state": state_field}}),
    )
    .await
    .unwrap_or(created);
    settle(&state.caches.users, &created).await;
    bind_global_role(&state, &name, role.as_deref()).await?;
    Ok((StatusCode::OK, Json(view(&created))).into_response())
}

const SELF_FIELDS: [&str; 4] = ["email", "lang", "description", "displayName"];

/// `PUT|PATCH users/{u}`: a merge of the body into the user. Self-service callers may change
/// only their profile fields; administrators also labels, annotations (global role), groups
/// and `status.state` (disabling a user revokes their tokens).
pub async fn update(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_json(&body)?;
    super::shape::check("User", &body)?;
    let mut user = must_load(&state, &name).await?;
    let admin = caller.grant == Grant::Full;
    for f in SELF_FIELDS {
        if let Some(v) = body["spec"].get(f) {
            user["spec"][f] = v.clone();
        }
    }
    let mut new_role: Option<Option<String>> = None;
    if admin {
        if let Some(g) = body["spec"].get("groups") {
            user["spec"]["groups"] = g.clone();
        }
        for field in ["labels", "annotations"] {
            if let Some(m) = body["metadata"][field].as_object() {
                for (k, v) in m {
                    user["metadata"][field][k] = v.clone();
                }
            }
        }
        let before = body["metadata"]["annotations"].get(GLOBALROLE);
        if let Some(r) = before {
            new_role = Some(r.as_str().map(str::to_string));
        }
    }
    let updated = kubeapi::replace(&state.client, Kind::User, None, user).await?;
    let mut updated = updated;
    if admin && let Some(s) = body["status"]["state"].as_str() {
        if !["Active", "Disabled", "AuthLimitExceeded"].contains(&s) {
            return Err(super::error::invalid(format!("unknown user state {s:?}")));
        }
        let patch = json!({"status": {"state": s, "lastTransitionTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}});
        updated =
            kubeapi::merge_patch_status(&state.client, Kind::User, None, &name, patch).await?;
        if s == "Disabled" {
            state.tokens.revoke_user(&name, None, None).await?;
        }
    }
    settle(&state.caches.users, &updated).await;
    if let Some(role) = new_role {
        bind_global_role(&state, &name, role.as_deref()).await?;
    }
    Ok(Json(view(&updated)))
}

/// `DELETE users/{u}`: the user, their bindings at every level and their tokens.
pub async fn delete(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    must_load(&state, &name).await?;
    crate::controllers::finalizers::cleanup_user(&state, &name).await?;
    kubeapi::delete(&state.client, Kind::User, None, &name).await?;
    settle_gone(&state.caches.users, &name).await;
    Ok(Json(json!({"message": "success"})))
}

/// `PUT users/{u}/password` with `{currentPassword, password}`. Changing one's own password
/// needs the current one; every token of the user is revoked.
pub async fn password(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_json(&body)?;
    super::shape::check_string_fields(&body, &["password", "currentPassword"], "(body)")?;
    let new = body["password"].as_str().unwrap_or_default().to_string();
    password::check_policy(&new).map_err(|e| super::error::invalid(e.to_string()))?;
    let user = must_load(&state, &name).await?;
    if caller.user.name == name {
        let current = body["currentPassword"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let stored = user["spec"]["password"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&current, &stored))
            .await
            .unwrap_or(false);
        if !ok {
            return Err(ApiError::bad_request("current password is incorrect"));
        }
    }
    let cost = state.settings.hash_cost;
    let hashed = tokio::task::spawn_blocking(move || password::hash(&new, cost))
        .await
        .map_err(|e| super::error::invalid(e.to_string()))?
        .map_err(crate::error::PlatformError::from)?;
    let patch =
        json!({"spec": {"password": hashed}, "metadata": {"annotations": {UNINITIALIZED: null}}});
    let updated = kubeapi::merge_patch(&state.client, Kind::User, None, &name, patch).await?;
    state.tokens.revoke_user(&name, None, None).await?;
    settle(&state.caches.users, &updated).await;
    Ok(Json(json!({"message": "success"})))
}

/// `GET users/{u}/loginrecords`.
pub async fn login_records(
    State(state): State<Shared>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let records = kubeapi::list(
        &state.client,
        Kind::LoginRecord,
        None,
        &format!("iam.kubesphere.io/user-ref={name}"),
    )
    .await?;
    Ok(Json(q.apply(records)))
}

/// `POST /kapis/iam.kubesphere.io/v1beta1/signingkey/rotate`: a new token signing key
/// (platform administrators); every token signed before is refused from now on.
pub async fn rotate_signing_key(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    state.tokens.rotate().await?;
    Ok(Json(serde_json::json!({"message": "success"})))
}

/// `DELETE users/{u}/loginlocks`: clears every address's login lock of the user (platform
/// administrators); the same as setting its `status.state` back to `Active`.
pub async fn clear_login_locks(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    must_load(&state, &name).await?;
    super::login::clear_locks(&state, &name).await?;
    Ok(Json(serde_json::json!({"message": "success"})))
}

/// `GET users/{u}/tokens`: the user's sessions and kubeconfig tokens (ids, never tokens).
pub async fn tokens(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let items = state.tokens.sessions_of(&name);
    Ok(Json(json!({"totalItems": items.len(), "items": items})))
}

/// `DELETE users/{u}/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<Shared>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let owned = state
        .tokens
        .sessions_of(&name)
        .iter()
        .any(|s| s["id"].as_str() == Some(id.as_str()));
    if !owned {
        return Err(super::error::not_found("tokens", &id));
    }
    state.tokens.revoke_session(&id).await?;
    let key = format!("{}/orrery-token-{id}", crate::tokens::SYSTEM_NAMESPACE);
    settle_gone(&state.caches.sessions, &key).await;
    Ok(Json(json!({"message": "success"})))
}

/// `GET /kapis/resources.kubesphere.io/v1alpha2/users/{u}/kubeconfig`: a kubeconfig for the
/// platform carrying a new long-lived token.
pub async fn kubeconfig(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    must_load(&state, &name).await?;
    let (token, sid) = state.tokens.kubeconfig_token(&name).await?;
    let server = &state.settings.public_url;
    let ca = match &state.settings.ca_pem {
        Some(pem) if server.starts_with("https://") => {
            format!("\n    certificate-authority-data: {}", B64.encode(pem))
        }
        _ => String::new(),
    };
    // One context for the host (the default) and one per member cluster, through the
    // platform's cluster proxy.
    let mut clusters = format!("- name: orrery\n  cluster:\n    server: {server}{ca}\n");
    let mut contexts =
        format!("- name: {name}@orrery\n  context:\n    cluster: orrery\n    user: {name}\n");
    let mut members: Vec<String> = state
        .caches
        .clusters
        .list()
        .iter()
        .map(|c| c.name().to_string())
        .filter(|c| !state.clusters.is_host(c))
        .collect();
    members.sort();
    for c in members {
        let server = server.trim_end_matches('/');
        clusters.push_str(&format!(
            "- name: {c}\n  cluster:\n    server: {server}/clusters/{c}{ca}\n"
        ));
        contexts.push_str(&format!(
            "- name: {name}@{c}\n  context:\n    cluster: {c}\n    user: {name}\n"
        ));
    }
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}contexts:\n{contexts}preferences: {{}}\ncurrent-context: {name}@orrery\nusers:\n- name: {name}\n  user:\n    token: {token}\n"
    );
    Ok((
        StatusCode::OK,
        [
            (http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                http::header::HeaderName::from_static("x-orrery-token-id"),
                sid.as_str(),
            ),
        ],
        yaml,
    )
        .into_response())
}

/// `GET users/{u}/roletemplates`: the role templates the user's global role aggregates (what
/// KubeSphere's console reads to decide which platform pages to show).
pub async fn role_templates(
    State(state): State<Shared>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    must_load(&state, &name).await?;
    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::new();
    for b in state
        .caches
        .global_role_bindings
        .by_index(&format!("User:{name}"))
    {
        let role = b.obj["roleRef"]["name"].as_str().unwrap_or_default();
        let Some(role) = state.caches.global_roles.get(role) else {
            continue;
        };
        let templates = crate::controllers::aggregation::templates_of(&state.caches, &role.obj)
            .unwrap_or_default();
        for t in templates {
            let key = t["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if seen.insert(key) {
                items.push(t);
            }
        }
    }
    Ok(Json(q.apply(items)))
}
