//! `/kapis/tenant.kubesphere.io/v1beta1`: workspace templates, workspaces (filtered to what the
//! caller may see) and projects (namespaces labelled with their workspace).

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, Caller, Grant, Shared, check_name, parse_json, settle,
    settle_gone,
};
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;
use crate::objects::{self, WORKSPACE_LABEL};

fn query(q: Option<String>) -> ApiResult<ListQuery> {
    ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET workspacetemplates`.
pub async fn list_templates(
    State(state): State<Shared>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        query(q)?.apply(
            state
                .caches
                .workspace_templates
                .list()
                .iter()
                .map(|e| e.obj.clone()),
        ),
    ))
}

async fn load(
    state: &AppState,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
    what: &str,
) -> ApiResult<Value> {
    let cache = state.caches.for_kind(kind);
    let key = match ns {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    if let Some(e) = cache.and_then(|c| c.get(&key)) {
        return Ok(e.obj.clone());
    }
    kubeapi::get(&state.client, kind, ns, name)
        .await?
        .ok_or_else(|| super::error::not_found(what, name))
}

/// `GET workspacetemplates/{ws}`.
pub async fn get_template(
    State(state): State<Shared>,
    Path(ws): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        load(
            &state,
            Kind::WorkspaceTemplate,
            None,
            &ws,
            "workspacetemplates",
        )
        .await?,
    ))
}

/// `POST workspacetemplates`: the template, its Workspace, its built-in roles and the
/// manager's admin binding (the manager defaults to the creator).
pub async fn create_template(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let mut t = parse_json(&body)?;
    super::shape::check("WorkspaceTemplate", &t)?;
    // The template's own template becomes the Workspace's metadata.
    if let Some(inner) = t["spec"].get("template") {
        super::shape::check_meta(inner)
            .map_err(|e| super::error::invalid(format!("spec.template: {}", e.message)))?;
    }
    let name = t["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check_name("workspace", &name)?;
    if name.len() > 63 {
        return Err(super::error::invalid(
            "workspace names are at most 63 characters",
        ));
    }
    if t["spec"]["template"]["spec"]["manager"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        t["spec"]["template"]["spec"]["manager"] = caller.user.name.clone().into();
    }
    t["metadata"]["annotations"]["kubesphere.io/creator"] = caller.user.name.clone().into();
    if t["spec"]["placement"].is_null() {
        t["spec"]["placement"] = json!({"clusters": [{"name": "host"}]});
    }
    let manager = t["spec"]["template"]["spec"]["manager"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let created = kubeapi::create(&state.client, Kind::WorkspaceTemplate, None, t).await?;
    let ws = kubeapi::create(
        &state.client,
        Kind::Workspace,
        None,
        objects::workspace_for_template(&created),
    )
    .await;
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) if kubeapi::is_conflict(&e) => {
            load(&state, Kind::Workspace, None, &name, "workspaces").await?
        }
        Err(e) => {
            // A failed request leaves nothing behind: the template goes again.
            if let Err(undo) =
                kubeapi::delete(&state.client, Kind::WorkspaceTemplate, None, &name).await
            {
                tracing::warn!(workspace = %name, error = %undo, "removing the template of a failed create");
            }
            return Err(e.into());
        }
    };
    for role in objects::workspace_roles(&name, Some(&ws)) {
        kubeapi::ensure(&state.client, Kind::WorkspaceRole, None, role, &[]).await?;
    }
    let b = objects::workspace_role_binding(&name, &manager, &format!("{name}-admin"));
    let mut binding = b.clone();
    binding["metadata"]["ownerReferences"] = objects::owner_ref(Kind::Workspace, &ws);
    if let Ok(b) = kubeapi::create(&state.client, Kind::WorkspaceRoleBinding, None, binding).await {
        settle(&state.caches.workspace_role_bindings, &b).await;
    }
    settle(&state.caches.workspace_templates, &created).await;
    settle(&state.caches.workspaces, &ws).await;
    Ok(Json(created))
}

/// `PUT workspacetemplates/{ws}`: replaces spec, labels and annotations; the Workspace follows,
/// and a new manager is bound to the workspace's admin role.
pub async fn update_template(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_json(&body)?;
    super::shape::check("WorkspaceTemplate", &body)?;
    let mut current = load(
        &state,
        Kind::WorkspaceTemplate,
        None,
        &name,
        "workspacetemplates",
    )
    .await?;
    if !body["spec"].is_null() {
        current["spec"] = body["spec"].clone();
    }
    for f in ["labels", "annotations"] {
        if let Some(m) = body["metadata"][f].as_object() {
            for (k, v) in m {
                current["metadata"][f][k] = v.clone();
            }
        }
    }
    store_template(&state, &caller, &name, current).await
}

/// `PATCH workspacetemplates/{ws}`: a JSON merge patch (as KubeSphere's console sends to
/// change a workspace's manager, description or placement); the name and kind stay.
pub async fn patch_template(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let patch = parse_json(&body)?;
    if !patch.is_object() {
        return Err(ApiError::bad_request("expected a JSON merge patch object"));
    }
    let mut current = load(
        &state,
        Kind::WorkspaceTemplate,
        None,
        &name,
        "workspacetemplates",
    )
    .await?;
    let keep = (
        current["metadata"]["name"].clone(),
        current["metadata"]["resourceVersion"].clone(),
    );
    json_patch::merge(&mut current, &patch);
    current["metadata"]["name"] = keep.0;
    current["metadata"]["resourceVersion"] = keep.1;
    current["apiVersion"] = Kind::WorkspaceTemplate.api_version().into();
    current["kind"] = "WorkspaceTemplate".into();
    super::shape::check("WorkspaceTemplate", &current)?;
    store_template(&state, &caller, &name, current).await
}

/// Writes a changed template; the Workspace follows, and a changed manager becomes the
/// workspace's admin (granting it needs what granting that role needs).
async fn store_template(
    state: &AppState,
    caller: &Caller,
    name: &str,
    template: Value,
) -> ApiResult<Json<Value>> {
    let manager = template["spec"]["template"]["spec"]["manager"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let before = state.caches.workspace_templates.get(name).and_then(|t| {
        t.obj["spec"]["template"]["spec"]["manager"]
            .as_str()
            .map(str::to_string)
    });
    let admin_role = format!("{name}-admin");
    let new_manager = !manager.is_empty() && before.as_deref() != Some(manager.as_str());
    if new_manager {
        if super::load_user(state, &manager).await?.is_none() {
            return Err(super::error::invalid(format!(
                "user {manager:?} does not exist"
            )));
        }
        let at = crate::authz::Level::Workspace(name.to_string());
        if let Some(why) = super::writeguard::iam_binding_refusal(
            &state.authz,
            &caller.user,
            &at,
            "WorkspaceRole",
            &admin_role,
        ) {
            return Err(super::error::forbidden(why));
        }
    }
    let updated = kubeapi::replace(&state.client, Kind::WorkspaceTemplate, None, template).await?;
    kubeapi::merge_patch(
        &state.client,
        Kind::Workspace,
        None,
        name,
        json!({"spec": {"manager": manager}}),
    )
    .await?;
    if new_manager {
        let binding = objects::workspace_role_binding(name, &manager, &admin_role);
        match kubeapi::create(&state.client, Kind::WorkspaceRoleBinding, None, binding).await {
            Ok(b) => settle(&state.caches.workspace_role_bindings, &b).await,
            Err(e) if kubeapi::is_conflict(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    settle(&state.caches.workspace_templates, &updated).await;
    Ok(Json(updated))
}

/// `DELETE workspacetemplates/{ws}`: the template and Workspace (its roles and bindings follow
/// by ownership); its projects leave the workspace.
pub async fn delete_template(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    if name == objects::SYSTEM_WORKSPACE {
        return Err(super::error::forbidden(
            "system-workspace cannot be deleted",
        ));
    }
    load(
        &state,
        Kind::WorkspaceTemplate,
        None,
        &name,
        "workspacetemplates",
    )
    .await?;
    crate::controllers::finalizers::cleanup_workspace(&state.client, &state.caches, &name).await?;
    kubeapi::delete(&state.client, Kind::WorkspaceTemplate, None, &name).await?;
    settle_gone(&state.caches.workspaces, &name).await;
    settle_gone(&state.caches.workspace_templates, &name).await;
    Ok(Json(json!({"message": "success"})))
}

/// `GET workspaces`: all for those allowed to list them, else the caller's own.
pub async fn list_workspaces(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let all = state.caches.workspaces.list();
    if caller.grant == Grant::Full {
        return Ok(Json(q.apply(all.iter().map(|e| e.obj.clone()))));
    }
    let mut mine = state.authz.member_workspaces(&caller.user);
    for ns in state.authz.member_namespaces(&caller.user) {
        if let Some(ws) = state.authz.workspace_of(&ns) {
            mine.push(ws);
        }
    }
    Ok(Json(
        q.apply(
            all.iter()
                .filter(|e| mine.iter().any(|m| m == e.name()))
                .map(|e| e.obj.clone()),
        ),
    ))
}

/// `GET workspaces/{ws}`.
pub async fn get_workspace(
    State(state): State<Shared>,
    Path(ws): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        load(&state, Kind::Workspace, None, &ws, "workspaces").await?,
    ))
}

/// `GET workspaces/{ws}/clusters`: the Clusters the workspace is placed on (by name or by
/// selector).
pub async fn list_clusters(
    State(state): State<Shared>,
    Path(ws): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let t = load(
        &state,
        Kind::WorkspaceTemplate,
        None,
        &ws,
        "workspacetemplates",
    )
    .await?;
    let names = crate::clusters::placement::placed_clusters(
        &t,
        &state.caches.clusters,
        &state.clusters.settings.host_name,
    );
    let items = names
        .iter()
        .filter_map(|n| state.caches.clusters.get(n))
        .map(|c| c.obj.clone());
    Ok(Json(query(q)?.apply(items)))
}

/// `GET workspaces/{ws}/namespaces`: the workspace's projects (only joined ones for members
/// who may not list them all).
pub async fn list_projects(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let projects = state.caches.namespaces.by_index(&format!("ws:{ws}"));
    if caller.grant == Grant::Full {
        return Ok(Json(q.apply(projects.iter().map(|e| e.obj.clone()))));
    }
    let mine = state.authz.member_namespaces(&caller.user);
    Ok(Json(
        q.apply(
            projects
                .iter()
                .filter(|e| mine.iter().any(|m| m == e.name()))
                .map(|e| e.obj.clone()),
        ),
    ))
}

async fn project(state: &AppState, ws: &str, ns: &str) -> ApiResult<Value> {
    let obj = load(state, Kind::Namespace, None, ns, "namespaces").await?;
    if obj["metadata"]["labels"][WORKSPACE_LABEL].as_str() != Some(ws) {
        return Err(super::error::not_found("namespaces", ns));
    }
    Ok(obj)
}

/// `GET workspaces/{ws}/namespaces/{ns}`.
pub async fn get_project(
    State(state): State<Shared>,
    Path((ws, ns)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(project(&state, &ws, &ns).await?))
}

/// `POST workspaces/{ws}/namespaces`: creates the namespace in the workspace, its built-in
/// roles, and makes the creator its admin.
pub async fn create_project(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    load(&state, Kind::Workspace, None, &ws, "workspaces").await?;
    Ok(Json(
        create_project_in(&state.client, &state.caches, &ws, &caller.user.name, &body).await?,
    ))
}

/// Creates project `body` of workspace `ws` in the cluster of `client` (whose caches are
/// `caches`): the labelled namespace, its built-in roles, and `creator` as its admin.
pub(super) async fn create_project_in(
    client: &kube::Client,
    caches: &crate::cache::Caches,
    ws: &str,
    creator: &str,
    body: &[u8],
) -> ApiResult<Value> {
    let mut ns = parse_json(body)?;
    super::shape::check_meta(&ns)?;
    let name = ns["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let errs = apimachinery::validation::is_dns1123_label(&name);
    if name.is_empty() || !errs.is_empty() {
        return Err(super::error::invalid(format!(
            "project name {name:?} is invalid: {}",
            errs.join("; ")
        )));
    }
    ns["metadata"]["labels"][WORKSPACE_LABEL] = ws.into();
    ns["metadata"]["annotations"]["kubesphere.io/creator"] = creator.into();
    if let Some(o) = ns.as_object_mut() {
        o.remove("status");
    }
    let created = kubeapi::create(client, Kind::Namespace, None, ns).await?;
    for role in objects::namespace_roles(&name) {
        kubeapi::ensure(client, Kind::Role, Some(&name), role, &[]).await?;
    }
    let b = kubeapi::create(
        client,
        Kind::RoleBinding,
        Some(&name),
        objects::role_binding(&name, creator, "admin"),
    )
    .await;
    if let Ok(b) = b {
        settle(&caches.role_bindings, &b).await;
    }
    settle(&caches.namespaces, &created).await;
    Ok(created)
}

/// `DELETE workspaces/{ws}/namespaces/{ns}`.
pub async fn delete_project(
    State(state): State<Shared>,
    Path((ws, ns)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    project(&state, &ws, &ns).await?;
    kubeapi::delete(&state.client, Kind::Namespace, None, &ns).await?;
    Ok(Json(json!({"message": "success"})))
}
