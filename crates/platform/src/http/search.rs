//! `GET /kapis/search.orrery.io/v1alpha1/resources`: the cross-cluster search, answered from
//! the per-cluster indexes and narrowed to what the caller may list.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Caller, Grant, Shared};
use crate::authz::scope::{RequestInfo, Scope};
use crate::search::{self, SearchCluster, SearchQuery};

/// Namespace → workspace of one cluster.
type WorkspaceOf = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The handler.
pub async fn search(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = SearchQuery::parse(q.as_deref().unwrap_or_default()).map_err(ApiError::bad_request)?;
    let mut members = state.clusters.all();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let lookups: Vec<WorkspaceOf> = members
        .iter()
        .map(|m| {
            let caches = m.caches.clone();
            Box::new(move |ns: &str| {
                caches
                    .namespaces
                    .get(ns)
                    .and_then(|e| e.label("kubesphere.io/workspace").map(str::to_string))
            }) as WorkspaceOf
        })
        .collect();
    let clusters: Vec<SearchCluster<'_>> = members
        .iter()
        .zip(&lookups)
        .map(|(m, lookup)| SearchCluster {
            name: &m.name,
            index: &m.index,
            workspace_of: lookup.as_ref(),
            workspace_namespaces: q.workspace.as_ref().map(|ws| {
                m.caches
                    .namespaces
                    .by_index(&format!("ws:{ws}"))
                    .iter()
                    .map(|e| e.name().to_string())
                    .collect::<HashSet<String>>()
            }),
        })
        .collect();
    let everything = caller.grant == Grant::Full;
    // As through the proxy: Secrets in the platform's own namespace on the host (sessions,
    // members' kubeconfigs, keys) are named to platform administrators only.
    let mut platform_admin: Option<bool> = None;
    let (total, page) = search::run(&q, &clusters, |ci, k, ns| {
        if !k.custom
            && k.group.is_empty()
            && k.plural == "secrets"
            && ns == Some(crate::tokens::SYSTEM_NAMESPACE)
            && Arc::ptr_eq(&members[ci].caches, &state.caches)
            && !*platform_admin.get_or_insert_with(|| {
                super::clusters::is_platform_admin(&state, &caller.user, "secrets", "")
            })
        {
            return false;
        }
        if everything {
            return true;
        }
        let req = if k.is_namespace() {
            RequestInfo::from_attributes(
                "get",
                &k.group,
                &k.plural,
                "",
                ns.unwrap_or_default(),
                ns.unwrap_or_default(),
                "",
                None,
            )
        } else {
            let ns = ns.unwrap_or_default();
            let scope = if ns.is_empty() {
                Scope::Cluster
            } else {
                Scope::Namespace
            };
            RequestInfo::from_attributes("list", &k.group, &k.plural, "", "", ns, "", Some(scope))
        };
        members[ci].authz.authorize(&caller.user, &req).allowed()
    });
    let items: Vec<Value> = page.iter().map(|h| search::to_json(h, &clusters)).collect();
    Ok(Json(json!({"totalItems": total, "items": items})))
}
