//! Roles of every level (`globalroles`, `clusterroles`, `workspaces/{ws}/workspaceroles`,
//! `namespaces/{ns}/roles`) and the role templates they aggregate.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

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

    fn cache<'a>(&self, s: &'a AppState) -> &'a Arc<Cache> {
        match self {
            RoleLevel::Global => &s.caches.global_roles,
            RoleLevel::Cluster => &s.caches.cluster_roles,
            RoleLevel::Workspace(_) => &s.caches.workspace_roles,
            RoleLevel::Namespace(_) => &s.caches.roles,
        }
    }

    fn key(&self, name: &str) -> String {
        match self {
            RoleLevel::Namespace(ns) => format!("{ns}/{name}"),
            _ => name.to_string(),
        }
    }

    fn items(&self, s: &AppState) -> Vec<Value> {
        let entries = match self {
            RoleLevel::Workspace(ws) => s.caches.workspace_roles.by_index(&format!("ws:{ws}")),
            RoleLevel::Namespace(ns) => s.caches.roles.by_index(&format!("ns:{ns}")),
            _ => self.cache(s).list(),
        };
        entries.iter().map(|e| e.obj.clone()).collect()
    }

    /// Refuses a role `by` could not grant (see [`super::writeguard::role_refusal`]).
    fn may_write(&self, s: &AppState, by: &UserInfo, role: &Value) -> ApiResult<()> {
        let level = match self {
            RoleLevel::Global => Level::Global,
            RoleLevel::Cluster => Level::Cluster,
            RoleLevel::Workspace(ws) => Level::Workspace(ws.clone()),
            RoleLevel::Namespace(ns) => Level::Namespace(ns.clone()),
        };
        let (group, _, _, resource, _) = self.kind().parts();
        match super::writeguard::role_refusal(
            &s.authz, &s.caches, by, &level, group, resource, role,
        ) {
            Some(why) => Err(super::error::forbidden(why)),
            None => Ok(()),
        }
    }

    fn get(&self, s: &AppState, name: &str) -> ApiResult<Value> {
        let found = self.cache(s).get(&self.key(name)).map(|e| e.obj.clone());
        match (self, found) {
            (RoleLevel::Workspace(ws), Some(o))
                if o["metadata"]["labels"][WORKSPACE_LABEL].as_str() != Some(ws.as_str()) =>
            {
                Err(super::error::not_found("workspaceroles", name))
            }
            (_, Some(o)) => Ok(o),
            (_, None) => Err(super::error::not_found(self.kind().parts().3, name)),
        }
    }
}

async fn list(s: &AppState, level: RoleLevel, q: Option<String>) -> ApiResult<Json<Value>> {
    let q = ListQuery::parse(q.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(q.apply(level.items(s))))
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
    level.may_write(s, by, &role)?;
    let created = kubeapi::create(&s.client, level.kind(), level.ns(), role).await?;
    settle(level.cache(s), &created).await;
    Ok(Json(created))
}

async fn update(
    s: &AppState,
    by: &UserInfo,
    level: RoleLevel,
    name: &str,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let body = parse_json(body)?;
    super::shape::check(level.kind_name(), &body)?;
    let mut current = level.get(s, name)?;
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
    level.may_write(s, by, &current)?;
    let updated = kubeapi::replace(&s.client, level.kind(), level.ns(), current).await?;
    settle(level.cache(s), &updated).await;
    Ok(Json(updated))
}

async fn delete(s: &AppState, level: RoleLevel, name: &str) -> ApiResult<Json<Value>> {
    level.get(s, name)?;
    kubeapi::delete(&s.client, level.kind(), level.ns(), name).await?;
    settle_gone(level.cache(s), &level.key(name)).await;
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

macro_rules! role_routes {
    ($list:ident, $get:ident, $create:ident, $update:ident, $delete:ident, $level:expr) => {
        /// List roles of this level.
        pub async fn $list(
            State(s): State<Shared>,
            RawQuery(q): RawQuery,
        ) -> ApiResult<Json<Value>> {
            list(&s, $level, q).await
        }
        /// Read one role.
        pub async fn $get(
            State(s): State<Shared>,
            Path(r): Path<String>,
        ) -> ApiResult<Json<Value>> {
            Ok(Json($level.get(&s, &r)?))
        }
        /// Create a role.
        pub async fn $create(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            create(&s, &c.user, $level, &body).await
        }
        /// Update a role.
        pub async fn $update(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            Path(r): Path<String>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            update(&s, &c.user, $level, &r, &body).await
        }
        /// Delete a role.
        pub async fn $delete(
            State(s): State<Shared>,
            Path(r): Path<String>,
        ) -> ApiResult<Json<Value>> {
            delete(&s, $level, &r).await
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
            list(&s, $variant(scope), q).await
        }
        /// Read one role.
        pub async fn $get(
            State(s): State<Shared>,
            Path((scope, r)): Path<(String, String)>,
        ) -> ApiResult<Json<Value>> {
            Ok(Json($variant(scope).get(&s, &r)?))
        }
        /// Create a role.
        pub async fn $create(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            Path(scope): Path<String>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            create(&s, &c.user, $variant(scope), &body).await
        }
        /// Update a role.
        pub async fn $update(
            State(s): State<Shared>,
            Extension(c): Extension<Caller>,
            Path((scope, r)): Path<(String, String)>,
            body: Bytes,
        ) -> ApiResult<Json<Value>> {
            update(&s, &c.user, $variant(scope), &r, &body).await
        }
        /// Delete a role.
        pub async fn $delete(
            State(s): State<Shared>,
            Path((scope, r)): Path<(String, String)>,
        ) -> ApiResult<Json<Value>> {
            delete(&s, $variant(scope), &r).await
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
