//! Members at cluster, workspace and namespace level: users holding one role there, through a
//! binding named `<user>-<role>`.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::users::view;
use super::{
    ApiError, ApiResult, AppState, Caller, Shared, load_user, parse_json, settle, settle_gone,
};
use crate::authz::UserInfo;
use crate::builtin;
use crate::cache::{Cache, Entry, key_of};
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;
use crate::objects;

/// The cluster whose bindings hold cluster and namespace membership (workspace membership is
/// always the host's).
#[derive(Clone, Copy)]
pub(super) struct Local<'a> {
    pub(super) client: &'a kube::Client,
    pub(super) caches: &'a crate::cache::Caches,
    pub(super) authz: &'a crate::authz::Authorizer,
}

impl<'a> Local<'a> {
    /// The host cluster.
    pub(super) fn host(state: &'a AppState) -> Local<'a> {
        Local {
            client: &state.client,
            caches: &state.caches,
            authz: &state.authz,
        }
    }

    /// A member cluster.
    pub(super) fn of(member: &'a crate::clusters::Member) -> Local<'a> {
        Local {
            client: &member.client,
            caches: &member.caches,
            authz: &member.authz,
        }
    }
}

/// Where membership is held.
pub(super) enum Level {
    /// Cluster members (ClusterRoleBindings).
    Cluster,
    /// Workspace members (WorkspaceRoleBindings, host).
    Workspace(String),
    /// Namespace members (RoleBindings).
    Namespace(String),
}

impl Level {
    fn binding_kind(&self) -> Kind {
        match self {
            Level::Cluster => Kind::ClusterRoleBinding,
            Level::Workspace(_) => Kind::WorkspaceRoleBinding,
            Level::Namespace(_) => Kind::RoleBinding,
        }
    }

    fn ns(&self) -> Option<&str> {
        match self {
            Level::Namespace(ns) => Some(ns),
            _ => None,
        }
    }

    fn bindings<'a>(&self, t: Local<'a>) -> &'a Arc<Cache> {
        match self {
            Level::Cluster => &t.caches.cluster_role_bindings,
            Level::Workspace(_) => &t.caches.workspace_role_bindings,
            Level::Namespace(_) => &t.caches.role_bindings,
        }
    }

    fn role_annotation(&self) -> &'static str {
        match self {
            Level::Cluster => "iam.kubesphere.io/clusterrole",
            Level::Workspace(_) => "iam.kubesphere.io/workspacerole",
            Level::Namespace(_) => "iam.kubesphere.io/role",
        }
    }

    /// The bindings of `user` at this level.
    fn user_bindings(&self, t: Local<'_>, user: &str) -> Vec<Arc<Entry>> {
        self.bindings(t)
            .by_index(&format!("User:{user}"))
            .into_iter()
            .filter(|b| self.holds(b))
            .collect()
    }

    fn holds(&self, b: &Entry) -> bool {
        match self {
            Level::Cluster => true,
            Level::Workspace(ws) => b.label(objects::WORKSPACE_LABEL) == Some(ws.as_str()),
            Level::Namespace(ns) => b.obj["metadata"]["namespace"].as_str() == Some(ns.as_str()),
        }
    }

    fn all_bindings(&self, t: Local<'_>) -> Vec<Arc<Entry>> {
        match self {
            Level::Cluster => t.caches.cluster_role_bindings.list(),
            Level::Workspace(ws) => t
                .caches
                .workspace_role_bindings
                .by_index(&format!("ws:{ws}")),
            Level::Namespace(ns) => t.caches.role_bindings.by_index(&format!("ns:{ns}")),
        }
    }

    /// Resolves a role name as given by a client (workspace roles may omit the `<ws>-` prefix).
    fn resolve_role(&self, t: Local<'_>, role: &str) -> ApiResult<String> {
        let exists = |name: &str| match self {
            Level::Cluster => {
                t.caches.cluster_roles.get(name).is_some()
                    || builtin::cluster_roles().iter().any(|r| r.name == name)
            }
            Level::Workspace(ws) => {
                t.caches
                    .workspace_roles
                    .get(name)
                    .is_some_and(|r| r.label(objects::WORKSPACE_LABEL) == Some(ws.as_str()))
                    || name
                        .strip_prefix(&format!("{ws}-"))
                        .is_some_and(|s| builtin::workspace_roles().iter().any(|r| r.name == s))
            }
            Level::Namespace(ns) => {
                t.caches.roles.get(&format!("{ns}/{name}")).is_some()
                    || builtin::namespace_roles().iter().any(|r| r.name == name)
            }
        };
        if exists(role) {
            return Ok(role.to_string());
        }
        if let Level::Workspace(ws) = self {
            let full = format!("{ws}-{role}");
            if exists(&full) {
                return Ok(full);
            }
        }
        Err(super::error::invalid(format!(
            "role {role:?} does not exist here"
        )))
    }

    fn binding(&self, user: &str, role: &str) -> Value {
        match self {
            Level::Cluster => objects::cluster_role_binding(user, role),
            Level::Workspace(ws) => objects::workspace_role_binding(ws, user, role),
            Level::Namespace(ns) => objects::role_binding(ns, user, role),
        }
    }
}

fn member_view(level: &Level, user: &Value, role: &str) -> Value {
    let mut v = view(user);
    v["metadata"]["annotations"][level.role_annotation()] = role.into();
    v
}

async fn list(
    state: &AppState,
    t: Local<'_>,
    level: Level,
    q: Option<String>,
) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut items = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for b in level.all_bindings(t) {
        for s in b.obj["subjects"].as_array().into_iter().flatten() {
            let (Some("User"), Some(name)) = (s["kind"].as_str(), s["name"].as_str()) else {
                continue;
            };
            if !seen.insert(name.to_string()) {
                continue;
            }
            if let Some(u) = state.caches.users.get(name) {
                items.push(member_view(
                    &level,
                    &u.obj,
                    b.obj["roleRef"]["name"].as_str().unwrap_or_default(),
                ));
            }
        }
    }
    Ok(Json(q.apply(items)))
}

async fn get(state: &AppState, t: Local<'_>, level: Level, member: &str) -> ApiResult<Json<Value>> {
    let bindings = level.user_bindings(t, member);
    let Some(b) = bindings.first() else {
        return Err(super::error::not_found("members", member));
    };
    let user = load_user(state, member)
        .await?
        .ok_or_else(|| super::error::not_found("users", member))?;
    Ok(Json(member_view(
        &level,
        &user,
        b.obj["roleRef"]["name"].as_str().unwrap_or_default(),
    )))
}

/// Gives `user` exactly `role` at `level` (replacing any other role held there).
async fn set_role(
    state: &AppState,
    by: &UserInfo,
    t: Local<'_>,
    level: &Level,
    user: &str,
    role: &str,
) -> ApiResult<Value> {
    if load_user(state, user).await?.is_none() {
        return Err(super::error::invalid(format!(
            "user {user:?} does not exist"
        )));
    }
    let role = level.resolve_role(t, role)?;
    // Granting a role needs `bind` on it or all of its rules (Kubernetes' escalation rule).
    let (at, kind) = match level {
        Level::Cluster => (crate::authz::Level::Cluster, "ClusterRole"),
        Level::Workspace(ws) => (crate::authz::Level::Workspace(ws.clone()), "WorkspaceRole"),
        Level::Namespace(ns) => (crate::authz::Level::Namespace(ns.clone()), "Role"),
    };
    if let Some(why) = super::writeguard::iam_binding_refusal(t.authz, by, &at, kind, &role) {
        return Err(super::error::forbidden(why));
    }
    let mut existing = false;
    for b in level.user_bindings(t, user) {
        if b.obj["roleRef"]["name"].as_str() == Some(role.as_str()) {
            existing = true;
            continue;
        }
        kubeapi::delete(t.client, level.binding_kind(), level.ns(), b.name()).await?;
        settle_gone(level.bindings(t), &key_of(&b.obj)).await;
    }
    if !existing {
        match kubeapi::create(
            t.client,
            level.binding_kind(),
            level.ns(),
            level.binding(user, &role),
        )
        .await
        {
            Ok(b) => settle(level.bindings(t), &b).await,
            Err(e) if kubeapi::is_conflict(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(json!({"username": user, "roleRef": role}))
}

fn parse_member(v: &Value) -> ApiResult<(String, String)> {
    let user = v["username"].as_str().unwrap_or_default();
    let role = v["roleRef"].as_str().unwrap_or_default();
    if user.is_empty() || role.is_empty() {
        return Err(ApiError::bad_request(
            "each member needs \"username\" and \"roleRef\"",
        ));
    }
    Ok((user.to_string(), role.to_string()))
}

async fn add(
    state: &AppState,
    by: &UserInfo,
    t: Local<'_>,
    level: Level,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let body = parse_json(body)?;
    let list = body
        .as_array()
        .ok_or_else(|| ApiError::bad_request("expected a JSON list of members"))?;
    let members = list
        .iter()
        .map(parse_member)
        .collect::<ApiResult<Vec<_>>>()?;
    let mut out = Vec::new();
    for (user, role) in members {
        out.push(set_role(state, by, t, &level, &user, &role).await?);
    }
    Ok(Json(Value::Array(out)))
}

async fn update(
    state: &AppState,
    by: &UserInfo,
    t: Local<'_>,
    level: Level,
    member: &str,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let (user, role) = parse_member(&parse_json(body)?)?;
    if user != member {
        return Err(ApiError::bad_request(
            "username in the body does not match the path",
        ));
    }
    Ok(Json(set_role(state, by, t, &level, &user, &role).await?))
}

async fn remove(t: Local<'_>, level: Level, member: &str) -> ApiResult<Json<Value>> {
    let bindings = level.user_bindings(t, member);
    if bindings.is_empty() {
        return Err(super::error::not_found("members", member));
    }
    for b in bindings {
        kubeapi::delete(t.client, level.binding_kind(), level.ns(), b.name()).await?;
        settle_gone(level.bindings(t), &key_of(&b.obj)).await;
    }
    Ok(Json(json!({"message": "success"})))
}

/// `GET clustermembers`.
pub async fn list_cluster(
    State(s): State<Shared>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    list(&s, Local::host(&s), Level::Cluster, q).await
}
/// `POST clustermembers`.
pub async fn add_cluster(
    State(s): State<Shared>,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    add(&s, &c.user, Local::host(&s), Level::Cluster, &body).await
}
/// `GET clustermembers/{m}`.
pub async fn get_cluster(State(s): State<Shared>, Path(m): Path<String>) -> ApiResult<Json<Value>> {
    get(&s, Local::host(&s), Level::Cluster, &m).await
}
/// `PUT clustermembers/{m}`.
pub async fn update_cluster(
    State(s): State<Shared>,
    Extension(c): Extension<Caller>,
    Path(m): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    update(&s, &c.user, Local::host(&s), Level::Cluster, &m, &body).await
}
/// `DELETE clustermembers/{m}`.
pub async fn remove_cluster(
    State(s): State<Shared>,
    Path(m): Path<String>,
) -> ApiResult<Json<Value>> {
    remove(Local::host(&s), Level::Cluster, &m).await
}
/// `GET workspaces/{ws}/workspacemembers`.
pub async fn list_workspace(
    State(s): State<Shared>,
    Path(ws): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    list(&s, Local::host(&s), Level::Workspace(ws), q).await
}
/// `POST workspaces/{ws}/workspacemembers`.
pub async fn add_workspace(
    State(s): State<Shared>,
    Extension(c): Extension<Caller>,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    if s.caches.workspaces.get(&ws).is_none() {
        return Err(super::error::not_found("workspaces", &ws));
    }
    add(&s, &c.user, Local::host(&s), Level::Workspace(ws), &body).await
}
/// `GET workspaces/{ws}/workspacemembers/{m}`.
pub async fn get_workspace(
    State(s): State<Shared>,
    Path((ws, m)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    get(&s, Local::host(&s), Level::Workspace(ws), &m).await
}
/// `PUT workspaces/{ws}/workspacemembers/{m}`.
pub async fn update_workspace(
    State(s): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((ws, m)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    update(
        &s,
        &c.user,
        Local::host(&s),
        Level::Workspace(ws),
        &m,
        &body,
    )
    .await
}
/// `DELETE workspaces/{ws}/workspacemembers/{m}`.
pub async fn remove_workspace(
    State(s): State<Shared>,
    Path((ws, m)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    remove(Local::host(&s), Level::Workspace(ws), &m).await
}
/// `GET namespaces/{ns}/namespacemembers`.
pub async fn list_namespace(
    State(s): State<Shared>,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    list(&s, Local::host(&s), Level::Namespace(ns), q).await
}
/// `POST namespaces/{ns}/namespacemembers`.
pub async fn add_namespace(
    State(s): State<Shared>,
    Extension(c): Extension<Caller>,
    Path(ns): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    if s.caches.namespaces.get(&ns).is_none() {
        return Err(super::error::not_found("namespaces", &ns));
    }
    add(&s, &c.user, Local::host(&s), Level::Namespace(ns), &body).await
}
/// `GET namespaces/{ns}/namespacemembers/{m}`.
pub async fn get_namespace(
    State(s): State<Shared>,
    Path((ns, m)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    get(&s, Local::host(&s), Level::Namespace(ns), &m).await
}
/// `PUT namespaces/{ns}/namespacemembers/{m}`.
pub async fn update_namespace(
    State(s): State<Shared>,
    Extension(c): Extension<Caller>,
    Path((ns, m)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    update(
        &s,
        &c.user,
        Local::host(&s),
        Level::Namespace(ns),
        &m,
        &body,
    )
    .await
}
/// `DELETE namespaces/{ns}/namespacemembers/{m}`.
pub async fn remove_namespace(
    State(s): State<Shared>,
    Path((ns, m)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    remove(Local::host(&s), Level::Namespace(ns), &m).await
}

/// Members of a member cluster (`/clusters/{c}/kapis/iam.kubesphere.io/v1beta1/clustermembers…`
/// and `…/namespaces/{ns}/namespacemembers…`): bindings in that cluster, users from the host.
#[allow(clippy::too_many_arguments)] // one request's parts, passed through from the proxy
pub(super) async fn in_cluster(
    state: &AppState,
    by: &UserInfo,
    t: Local<'_>,
    level: Level,
    method: &http::Method,
    member: &str,
    query: Option<String>,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    if let Level::Namespace(ns) = &level
        && t.caches.namespaces.get(ns).is_none()
    {
        return Err(super::error::not_found("namespaces", ns));
    }
    match (method.as_str(), member.is_empty()) {
        ("GET", true) => list(state, t, level, query).await,
        ("POST", true) => add(state, by, t, level, body).await,
        ("GET", false) => get(state, t, level, member).await,
        ("PUT", false) => update(state, by, t, level, member, body).await,
        ("DELETE", false) => remove(t, level, member).await,
        _ => Err(ApiError::bad_request(format!(
            "{method} is not supported here"
        ))),
    }
}

/// `GET workspaces/{ws}/workspacemembers/{m}/namespaces`: the workspace's projects (in the
/// host) that member `m` may reach, as the authorizer decides for `m`.
pub async fn member_namespaces(
    State(state): State<Shared>,
    Path((ws, member)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let user = load_user(&state, &member)
        .await?
        .ok_or_else(|| super::error::not_found("users", &member))?;
    let who = UserInfo {
        name: member.clone(),
        groups: crate::authz::groups_of(&user),
    };
    let items: Vec<Value> = state
        .caches
        .namespaces
        .by_index(&format!("ws:{ws}"))
        .iter()
        .filter(|ns| {
            let get = crate::authz::scope::RequestInfo::from_attributes(
                "get",
                "",
                "namespaces",
                "",
                ns.name(),
                ns.name(),
                "",
                None,
            );
            state.authz.authorize(&who, &get).allowed()
        })
        .map(|ns| ns.obj.clone())
        .collect();
    Ok(Json(q.apply(items)))
}
