//! A workspace's groups, as KubeSphere serves them under
//! `/kapis/iam.kubesphere.io/v1beta1/workspaces/{ws}/`: `groups` (Groups labelled with the
//! workspace, optionally nested by `iam.kubesphere.io/group-parent`), `groupbindings` (users
//! put into a group, one GroupBinding per user and group, added as a JSON list of
//! `{"userName", "groupName"}`) and `workspacerolebindings` (a WorkspaceRole granted to a
//! group). Membership itself is kept by [`crate::controllers::groups`].

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, Caller, Shared, check_name, load_user, parse_json, settle,
    settle_gone,
};
use crate::cache::Entry;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;
use crate::objects::WORKSPACE_LABEL;

/// The label naming a group's parent group.
pub const PARENT_LABEL: &str = "iam.kubesphere.io/group-parent";
/// The label naming the group a binding is about.
pub const GROUP_REF_LABEL: &str = "iam.kubesphere.io/group-ref";

fn query(q: Option<String>) -> ApiResult<ListQuery> {
    ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The group `name` of workspace `ws`.
fn group_in(s: &AppState, ws: &str, name: &str) -> ApiResult<std::sync::Arc<Entry>> {
    s.caches
        .groups
        .get(name)
        .filter(|g| g.label(WORKSPACE_LABEL) == Some(ws))
        .ok_or_else(|| super::error::not_found("groups", name))
}

fn workspace_exists(s: &AppState, ws: &str) -> ApiResult<()> {
    match s.caches.workspace_templates.get(ws) {
        Some(_) => Ok(()),
        None => Err(super::error::not_found("workspaces", ws)),
    }
}

/// `GET workspaces/{ws}/groups`.
pub async fn list(
    State(s): State<Shared>,
    Path(ws): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let items = s.caches.groups.by_index(&format!("ws:{ws}"));
    Ok(Json(q.apply(items.iter().map(|e| e.obj.clone()))))
}

/// `GET workspaces/{ws}/groups/{g}`.
pub async fn get(
    State(s): State<Shared>,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(group_in(&s, &ws, &name)?.obj.clone()))
}

/// Checks the writable parts of a group for workspace `ws`: labels and annotations, a parent
/// in the same workspace (never the group itself).
fn check_group(s: &AppState, ws: &str, name: &str, group: &Value) -> ApiResult<()> {
    super::shape::check("Group", group)?;
    if let Some(parent) = group["metadata"]["labels"][PARENT_LABEL].as_str() {
        if parent == name {
            return Err(super::error::invalid("a group cannot be its own parent"));
        }
        group_in(s, ws, parent).map_err(|_| {
            super::error::invalid(format!("parent group {parent:?} is not in workspace {ws}"))
        })?;
    }
    Ok(())
}

/// `POST workspaces/{ws}/groups`: a Group in the workspace (`metadata.name`, or
/// `metadata.generateName` for a generated one).
pub async fn create(
    State(s): State<Shared>,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    workspace_exists(&s, &ws)?;
    let mut group = parse_json(&body)?;
    if !group.is_object() {
        return Err(ApiError::bad_request("expected a Group object"));
    }
    let name = group["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let generate = group["metadata"]["generateName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Group names are global and bindings anywhere may name a group (a directory group bound
    // to a platform role, say): a workspace's groups are named within the workspace, so that
    // no workspace administrator can create, and join, a group someone else's binding names.
    let own = format!("{ws}-");
    if name.is_empty() && !generate.is_empty() {
        let prefix = if generate.starts_with(&own) {
            generate.clone()
        } else {
            format!("{own}{generate}")
        };
        check_name("group", &format!("{prefix}x"))?;
        group["metadata"]["generateName"] = prefix.into();
    } else {
        check_name("group", &name)?;
        if !name.starts_with(&own) {
            return Err(super::error::invalid(format!(
                "group {name:?}: the groups of workspace {ws} are named \"{own}…\""
            )));
        }
    }
    group["metadata"]["labels"][WORKSPACE_LABEL] = ws.clone().into();
    check_group(&s, &ws, &name, &group)?;
    let created = kubeapi::create(&s.client, Kind::Group, None, group).await?;
    settle(&s.caches.groups, &created).await;
    Ok(Json(created))
}

/// `PUT|PATCH workspaces/{ws}/groups/{g}`: labels, annotations and spec (the workspace label
/// stays).
pub async fn update(
    State(s): State<Shared>,
    Path((ws, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_json(&body)?;
    let mut current = group_in(&s, &ws, &name)?.obj.clone();
    for f in ["labels", "annotations"] {
        if let Some(m) = body["metadata"][f].as_object() {
            for (k, v) in m {
                current["metadata"][f][k] = v.clone();
            }
        }
    }
    if let Some(spec) = body.get("spec") {
        current["spec"] = spec.clone();
    }
    current["metadata"]["labels"][WORKSPACE_LABEL] = ws.clone().into();
    check_group(&s, &ws, &name, &current)?;
    let updated = kubeapi::replace(&s.client, Kind::Group, None, current).await?;
    settle(&s.caches.groups, &updated).await;
    Ok(Json(updated))
}

/// `DELETE workspaces/{ws}/groups/{g}`: the group, its child groups, its GroupBindings and
/// the bindings naming it.
pub async fn delete(
    State(s): State<Shared>,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    group_in(&s, &ws, &name)?;
    crate::controllers::finalizers::cleanup_group(&s, &name).await?;
    kubeapi::delete(&s.client, Kind::Group, None, &name).await?;
    settle_gone(&s.caches.groups, &name).await;
    Ok(Json(json!({"message": "success"})))
}

fn binding_in_workspace(s: &AppState, ws: &str, b: &Entry) -> bool {
    b.label(WORKSPACE_LABEL) == Some(ws)
        || b.obj["groupRef"]["name"]
            .as_str()
            .and_then(|g| s.caches.groups.get(g))
            .is_some_and(|g| g.label(WORKSPACE_LABEL) == Some(ws))
}

/// `GET workspaces/{ws}/groupbindings` (filter a group's with
/// `labelSelector=iam.kubesphere.io/group-ref=<g>`).
pub async fn list_bindings(
    State(s): State<Shared>,
    Path(ws): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let items: Vec<Value> = s
        .caches
        .group_bindings
        .list()
        .iter()
        .filter(|b| binding_in_workspace(&s, &ws, b))
        .map(|b| b.obj.clone())
        .collect();
    Ok(Json(q.apply(items)))
}

/// The GroupBinding putting `user` into `group`.
pub fn group_binding(ws: &str, group: &str, user: &str) -> Value {
    json!({
        "apiVersion": Kind::GroupBinding.api_version(), "kind": "GroupBinding",
        "metadata": {"name": format!("{group}-{user}"), "labels": {
            GROUP_REF_LABEL: group, "iam.kubesphere.io/user-ref": user, WORKSPACE_LABEL: ws,
        }},
        "groupRef": {"apiGroup": "iam.kubesphere.io", "kind": "Group", "name": group},
        "users": [user],
    })
}

/// `POST workspaces/{ws}/groupbindings` with `[{"userName": u, "groupName": g}, …]`.
pub async fn add_bindings(
    State(s): State<Shared>,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_json(&body)?;
    let list = body.as_array().ok_or_else(|| {
        ApiError::bad_request("expected a JSON list of {\"userName\", \"groupName\"}")
    })?;
    let mut pairs = Vec::new();
    for item in list {
        let (Some(user), Some(group)) = (item["userName"].as_str(), item["groupName"].as_str())
        else {
            return Err(ApiError::bad_request(
                "each item needs \"userName\" and \"groupName\"",
            ));
        };
        group_in(&s, &ws, group)?;
        if load_user(&s, user).await?.is_none() {
            return Err(super::error::invalid(format!(
                "user {user:?} does not exist"
            )));
        }
        pairs.push((user.to_string(), group.to_string()));
    }
    let mut out = Vec::new();
    for (user, group) in pairs {
        let b = group_binding(&ws, &group, &user);
        match kubeapi::create(&s.client, Kind::GroupBinding, None, b.clone()).await {
            Ok(created) => {
                settle(&s.caches.group_bindings, &created).await;
                out.push(created);
            }
            Err(e) if kubeapi::is_conflict(&e) => out.push(b),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `DELETE workspaces/{ws}/groupbindings/{b}`.
pub async fn delete_binding(
    State(s): State<Shared>,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let found = s.caches.group_bindings.get(&name);
    if !found.is_some_and(|b| binding_in_workspace(&s, &ws, &b)) {
        return Err(super::error::not_found("groupbindings", &name));
    }
    kubeapi::delete(&s.client, Kind::GroupBinding, None, &name).await?;
    settle_gone(&s.caches.group_bindings, &name).await;
    Ok(Json(json!({"message": "success"})))
}

/// `GET workspaces/{ws}/workspacerolebindings` (a group's with
/// `labelSelector=iam.kubesphere.io/group-ref=<g>`).
pub async fn list_role_bindings(
    State(s): State<Shared>,
    Path(ws): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let items = s
        .caches
        .workspace_role_bindings
        .by_index(&format!("ws:{ws}"));
    Ok(Json(q.apply(items.iter().map(|e| e.obj.clone()))))
}

/// `POST workspaces/{ws}/workspacerolebindings` with a list of WorkspaceRoleBindings whose
/// subjects are groups of the workspace: each group gets the role (granting needs `bind` on
/// it or all of its rules, as for members).
pub async fn add_role_bindings(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_json(&body)?;
    let list = body
        .as_array()
        .ok_or_else(|| ApiError::bad_request("expected a JSON list of WorkspaceRoleBindings"))?;
    let mut planned = Vec::new();
    for item in list {
        let role = item["roleRef"]["name"].as_str().unwrap_or_default();
        let role = s
            .caches
            .workspace_roles
            .get(role)
            .filter(|r| r.label(WORKSPACE_LABEL) == Some(ws.as_str()))
            .ok_or_else(|| {
                super::error::invalid(format!("workspace role {role:?} does not exist in {ws}"))
            })?
            .name()
            .to_string();
        let groups: Vec<String> = item["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|sub| match (sub["kind"].as_str(), sub["name"].as_str()) {
                (Some("Group"), Some(g)) => group_in(&s, &ws, g).map(|_| g.to_string()),
                _ => Err(ApiError::bad_request(
                    "each subject must be a Group of the workspace",
                )),
            })
            .collect::<ApiResult<_>>()?;
        if groups.is_empty() {
            return Err(ApiError::bad_request(
                "a binding needs at least one Group subject",
            ));
        }
        let at = crate::authz::Level::Workspace(ws.clone());
        if let Some(why) = super::writeguard::iam_binding_refusal(
            &s.authz,
            &caller.user,
            &at,
            "WorkspaceRole",
            &role,
        ) {
            return Err(super::error::forbidden(why));
        }
        planned.extend(groups.into_iter().map(|g| (g, role.clone())));
    }
    let mut out = Vec::new();
    for (group, role) in planned {
        let b = json!({
            "apiVersion": Kind::WorkspaceRoleBinding.api_version(), "kind": "WorkspaceRoleBinding",
            "metadata": {"name": format!("{group}-{role}"), "labels": {
                GROUP_REF_LABEL: group, "iam.kubesphere.io/role-ref": role, WORKSPACE_LABEL: ws,
            }},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group}],
            "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "WorkspaceRole", "name": role},
        });
        match kubeapi::create(&s.client, Kind::WorkspaceRoleBinding, None, b.clone()).await {
            Ok(created) => {
                settle(&s.caches.workspace_role_bindings, &created).await;
                out.push(created);
            }
            Err(e) if kubeapi::is_conflict(&e) => out.push(b),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `DELETE workspaces/{ws}/workspacerolebindings/{b}`.
pub async fn delete_role_binding(
    State(s): State<Shared>,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let found = s.caches.workspace_role_bindings.get(&name);
    if found.is_none_or(|b| b.label(WORKSPACE_LABEL) != Some(ws.as_str())) {
        return Err(super::error::not_found("workspacerolebindings", &name));
    }
    kubeapi::delete(&s.client, Kind::WorkspaceRoleBinding, None, &name).await?;
    settle_gone(&s.caches.workspace_role_bindings, &name).await;
    Ok(Json(json!({"message": "success"})))
}
