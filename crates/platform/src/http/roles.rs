//! Roles of every level (`globalroles`, `clusterroles`, `workspaces/{ws}/workspaceroles`,
//! `namespaces/{ns}/roles`) and the role templates they aggregate.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::members::Local;
use super::{
    ApiError, ApiResult, AppState, Caller, Shared, check_name, parse_json, settle, settle_gone,
};
use crate::authz::{Level, UserInfo};
use crate::cache::Cache;
use crate::controllers::aggregation::aggregate_rules;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;
use crate::objects::WORKSPACE_LABEL;

enum RoleLevel {
    Global,
    Cluster,
    Workspace(String),
    Namespace(String),
}

impl RoleLevel {
    fn kind(&self) -> Kind {
        match self {
            RoleLevel::Global => Kind::GlobalRole,
            RoleLevel::Cluster => Kind::ClusterRole,
            RoleLevel::Workspace(_) => Kind::WorkspaceRole,
            RoleLevel::Namespace(_) => Kind::Role,
        }
    }

    /// The kind's name, as its CustomResourceDefinition calls it.
    fn kind_name(&self) -> &'static str {
        match self {
            RoleLevel::Global => "GlobalRole",
            RoleLevel::Cluster => "ClusterRole",
            RoleLevel::Workspace(_) => "WorkspaceRole",
            RoleLevel::Namespace(_) => "Role",
        }
    }

    fn ns(&self) -> Option<&str> {
        match self {
            RoleLevel::Namespace(ns) => Some(ns),
            _ => None,
        }
    }

    fn cache<'a>(&self, t: Local<'a>) -> &'a Arc<Cache> {
        match self {
            RoleLevel::Global => &t.caches.global_roles,
            RoleLevel::Cluster => &t.caches.cluster_roles,
            RoleLevel::Workspace(_) => &t.caches.workspace_roles,
            RoleLevel::Namespace(_) => &t.caches.roles,
        }
    }

    fn key(&self, name: &str) -> String {
        match self {
            RoleLevel::Namespace(ns) => format!("{ns}/{name}"),
            _ => name.to_string(),
        }
    }

    fn items(&self, t: Local<'_>) -> Vec<Value> {
        let entries = match self {
            RoleLevel::Workspace(ws) => t.caches.workspace_roles.by_index(&format!("ws:{ws}")),
            RoleLevel::Namespace(ns) => t.caches.roles.by_index(&format!("ns:{ns}")),
            _ => self.cache(t).list(),
        };
        let mut items: Vec<Value> = entries.iter().map(|e| e.obj.clone()).collect();
        items.extend(self.builtin_absent(t));
        items
    }

    /// The built-in roles of this level that no object holds in this cluster, as the platform
    /// defines them: members and the authorizer take `cluster-admin` and `cluster-viewer` in
    /// any cluster, but a member cluster has only the platform's CRDs, not its role objects.
    fn builtin_absent(&self, t: Local<'_>) -> Vec<Value> {
        let RoleLevel::Cluster = self else {
            return Vec::new();
        };
        crate::builtin::cluster_roles()
            .iter()
            .filter(|r| self.cache(t).get(r.name).is_none())
            .map(|r| {
                let mut o = crate::objects::role_object(r.name, r, json!({}), None);
                o["apiVersion"] = self.kind().api_version().into();
                o["kind"] = self.kind().kind().into();
                o
            })
            .collect()
    }

    /// Refuses a role `by` could not grant (see [`super::writeguard::role_refusal`]).
    fn may_write(&self, s: &AppState, t: Local<'_>, by: &UserInfo, role: &Value) -> ApiResult<()> {
        let level = match self {
            RoleLevel::Global => Level::Global,
            RoleLevel::Cluster => Level::Cluster,
            RoleLevel::Workspace(ws) => Level::Workspace(ws.clone()),
            RoleLevel::Namespace(ns) => Level::Namespace(ns.clone()),
        };
        let (group, _, _, resource, _) = self.kind().parts();
        match super::writeguard::role_refusal(t.authz, &s.caches, by, &level, group, resource, role)
        {
            Some(why) => Err(super::error::forbidden(why)),
            None => Ok(()),
        }
    }

    fn get(&self, t: Local<'_>, name: &str) -> ApiResult<Value> {
        let found = self.cache(t).get(&self.key(name)).map(|e| e.obj.clone());
        match (self, found) {
            (RoleLevel::Workspace(ws), Some(o))
                if o["metadata"]["labels"][WORKSPACE_LABEL].as_str() != Some(ws.as_str()) =>
            {
                Err(super::error::not_found("workspaceroles", name))
            }
            (_, Some(o)) => Ok(o),
            (_, None) => self
                .builtin_absent(t)
                .into_iter()
                .find(|r| r["metadata"]["name"] == name)
                .ok_or_else(|| super::error::not_found(self.kind().parts().3, name)),
        }
    }
}

async fn list(t: Local<'_>, level: RoleLevel, q: Option<String>) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(q.apply(level.items(t))))
}

fn prepare(s: &AppState, level: &RoleLevel, role: &mut Value) {
    if let RoleLevel::Workspace(ws) = level {
        role["metadata"]["labels"][WORKSPACE_LABEL] = ws.clone().into();
    }
    if let RoleLevel::Namespace(ns) = level {
        role["metadata"]["namespace"] = ns.clone().into();
    }
    // Rules follow the templates right away; the controller keeps them in step afterwards.
    if let Some(rules) = aggregate_rules(&s.caches, role) {
        role["rules"] = rules;
    }
}

async fn create(
    s: &AppState,
    t: Local<'_>,
    by: &UserInfo,
    level: RoleLevel,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let mut role = parse_json(body)?;
    super::shape::check(level.kind_name(), &role)?;
    let name = role["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check_name("role", &name)?;
    prepare(s, &level, &mut role);
    level.may_write(s, t, by, &role)?;
    let created = kubeapi::create(t.client, level.kind(), level.ns(), role).await?;
    settle(level.cache(t), &created).await;
    Ok(Json(created))
}

async fn update(
    s: &AppState,
    t: Local<'_>,
    by: &UserInfo,
    level: RoleLevel,
    name: &str,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let body = parse_json(body)?;
    super::shape::check(level.kind_name(), &body)?;
    let mut current = level.get(t, name)?;
    for f in ["rules", "aggregationRoleTemplates"] {
        if let Some(v) = body.get(f) {
            current[f] = v.clone();
        }
    }
    for f in ["labels", "annotations"] {
        if let Some(m) = body["metadata"][f].as_object() {
            for (k, v) in m {
                current["metadata"][f][k] = v.clone();
            }
        }
    }
    prepare(s, &level, &mut current);
    level.may_write(s, t, by, &current)?;
    let updated = kubeapi::replace(t.client, level.kind(), level.ns(), current).await?;
    settle(level.cache(t), &updated).await;
    Ok(Json(updated))
}

async fn delete(t: Local<'_>, level: RoleLevel, name: &str) -> ApiResult<Json<Value>> {
    level.get(t, name)?;
    kubeapi::delete(t.client, level.kind(), level.ns(), name).await?;
    settle_gone(level.cache(t), &level.key(name)).await;
    Ok(Json(json!({"message": "success"})))
}

/// `GET roletemplates`.
pub async fn list_templates(
    State(s): State<Shared>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(q.apply(
        s.caches.role_templates.list().iter().map(|e| e.obj.clone()),
    )))
}

/// The templates a role of `scope` can aggregate.
pub(super) fn templates_of_scope(
    s: &AppState,
    scope: &str,
    q: Option<String>,
) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(
        q.apply(
            s.caches
                .role_templates
                .list()
                .iter()
                .filter(|e| e.label(TEMPLATE_SCOPE) == Some(scope))
                .map(|e| e.obj.clone()),
        ),
    ))
}

/// The label naming a role template's level.
const TEMPLATE_SCOPE: &str = "iam.kubesphere.io/scope";

/// `GET workspaces/{ws}/roletemplates`: the workspace-level templates, authorized in the
/// workspace, so its administrators can build its roles.
pub async fn list_workspace_templates(
    State(s): State<Shared>,
    Path(_ws): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    templates_of_scope(&s, "workspace", q)
}

/// `GET namespaces/{ns}/roletemplates`: the project-level templates, authorized in the project.
pub async fn list_namespace_templates(
    State(s): State<Shared>,
    Path(_ns): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    templates_of_scope(&s, "namespace", q)
}

macro_rules! role_routes {
    ($list:ident, $get:ident, $create:ident, $update:ident, $delete:ident, $level:expr) => {
        /// List roles of this level.
        pub async fn $list(
            State(s): State<Shared>,
            RawQuery(q): RawQuery,
        ) -> ApiResult<Json<Value>> {
            list(Local::host(&s), $level, q).await
        }
        /// Read one role.
        pub async fn $get(
            State(s): State<Shared>,
            Path(r): Path<String>,
        ) -> ApiResult<Json<Value>> {
            Ok(Json($level.get(Local::host(&s), &r)?))
        }
        /// Create a role.
        pub async fn $create(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            create(&s, Local::host(&s), &c.user, $level, &body).await
        }
        /// Update a role.
        pub async fn $update(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            Path(r): Path<String>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            update(&s, Local::host(&s), &c.user, $level, &r, &body).await
        }
        /// Delete a role.
        pub async fn $delete(
            State(s): State<Shared>,
            Path(r): Path<String>,
        ) -> ApiResult<Json<Value>> {
            delete(Local::host(&s), $level, &r).await
        }
    };
}

role_routes!(
    list_global,
    get_global,
    create_global,
    update_global,
    delete_global,
    RoleLevel::Global
);
role_routes!(
    list_cluster,
    get_cluster,
    create_cluster,
    update_cluster,
    delete_cluster,
    RoleLevel::Cluster
);

macro_rules! scoped_role_routes {
    ($list:ident, $get:ident, $create:ident, $update:ident, $delete:ident, $variant:path) => {
        /// List roles of this level.
        pub async fn $list(
            State(s): State<Shared>,
            Path(scope): Path<String>,
            RawQuery(q): RawQuery,
        ) -> ApiResult<Json<Value>> {
            list(Local::host(&s), $variant(scope), q).await
        }
        /// Read one role.
        pub async fn $get(
            State(s): State<Shared>,
            Path((scope, r)): Path<(String, String)>,
        ) -> ApiResult<Json<Value>> {
            Ok(Json($variant(scope).get(Local::host(&s), &r)?))
        }
        /// Create a role.
        pub async fn $create(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            Path(scope): Path<String>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            create(&s, Local::host(&s), &c.user, $variant(scope), &body).await
        }
        /// Update a role.
        pub async fn $update(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            Path((scope, r)): Path<(String, String)>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            update(&s, Local::host(&s), &c.user, $variant(scope), &r, &body).await
        }
        /// Delete a role.
        pub async fn $delete(
            State(s): State<Shared>,
            Path((scope, r)): Path<(String, String)>,
        ) -> ApiResult<Json<Value>> {
            delete(Local::host(&s), $variant(scope), &r).await
        }
    };
}

scoped_role_routes!(
    list_workspace,
    get_workspace,
    create_workspace,
    update_workspace,
    delete_workspace,
    RoleLevel::Workspace
);
scoped_role_routes!(
    list_namespace,
    get_namespace,
    create_namespace,
    update_namespace,
    delete_namespace,
    RoleLevel::Namespace
);

/// The roles API about one member cluster (`/clusters/{c}/kapis/iam.kubesphere.io/v1beta1/`
/// `clusterroles` and `namespaces/{ns}/roles`), the same as the host's, acting on that cluster.
#[allow(clippy::too_many_arguments)]
pub(super) async fn in_cluster(
    state: &AppState,
    by: &UserInfo,
    t: Local<'_>,
    namespace: &str,
    method: &http::Method,
    name: &str,
    query: Option<String>,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let level = if namespace.is_empty() {
        RoleLevel::Cluster
    } else {
        if t.caches.namespaces.get(namespace).is_none() {
            return Err(super::error::not_found("namespaces", namespace));
        }
        RoleLevel::Namespace(namespace.to_string())
    };
    match (method.as_str(), name.is_empty()) {
        ("GET", true) => list(t, level, query).await,
        ("POST", true) => create(state, t, by, level, body).await,
        ("GET", false) => Ok(Json(level.get(t, name)?)),
        ("PUT" | "PATCH", false) => update(state, t, by, level, name, body).await,
        ("DELETE", false) => delete(t, level, name).await,
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        )),
    }
}
