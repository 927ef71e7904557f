//! A workspace's quotas, as KubeSphere serves them:
//! `/kapis/tenant.kubesphere.io/{v1alpha2|v1beta1}/workspaces/{ws}/resourcequotas[/{name}]`
//! for the host cluster, and the same under `/clusters/{c}` for a member. Each is a
//! `quota.kubesphere.io/v1alpha2` ResourceQuota stored in that cluster, labelled with the
//! workspace and selecting its namespaces (enforcement: [`crate::quotas`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, AppState, Shared, check_name, parse_json};
use crate::clusters::Member;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::listing::ListQuery;
use crate::quotas::{WORKSPACE_LABEL, prepare};

const GROUP: &str = crate::crds::QUOTA;
const RESOURCE: &str = "resourcequotas";

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(GROUP, RESOURCE, name)
}

/// The workspace must exist, and be placed on the cluster for a write.
fn check_workspace(s: &AppState, member: &Member, ws: &str, write: bool) -> ApiResult<()> {
    let template = s
        .caches
        .workspace_templates
        .get(ws)
        .ok_or_else(|| super::error::not_found("workspaces", ws))?;
    if write {
        let placed = crate::clusters::placement::placed_clusters(
            &template.obj,
            &s.caches.clusters,
            &s.clusters.settings.host_name,
        );
        if !placed.contains(&member.name) {
            return Err(ApiError::bad_request(format!(
                "workspace {ws} is not placed on cluster {}",
                member.name
            )));
        }
    }
    Ok(())
}

/// Quota `name` of workspace `ws` in the cluster (404 for another workspace's).
async fn quota_in(member: &Member, ws: &str, name: &str) -> ApiResult<Value> {
    kubeapi::get(&member.client, Kind::WorkspaceQuota, None, name)
        .await?
        .filter(|q| q["metadata"]["labels"][WORKSPACE_LABEL] == ws)
        .ok_or_else(|| not_found(name))
}

/// The checked body of a create or update.
fn body_of(ws: &str, body: &[u8]) -> ApiResult<Value> {
    let mut quota = parse_json(body)?;
    super::shape::check("ResourceQuota", &quota)?;
    prepare(&mut quota, ws)?;
    if let Some(name) = quota["metadata"]["name"].as_str() {
        check_name("resourcequota", name)?;
    }
    quota["apiVersion"] = Kind::WorkspaceQuota.api_version().into();
    quota["kind"] = Kind::WorkspaceQuota.kind().into();
    if let Some(m) = quota.as_object_mut() {
        m.remove("status");
    }
    Ok(quota)
}

/// Serves one request on workspace `ws`'s quotas in `member`'s cluster.
#[allow(clippy::too_many_arguments)]
pub async fn in_cluster(
    s: &AppState,
    member: &Member,
    ws: &str,
    method: &http::Method,
    name: &str,
    query: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let write = !matches!(*method, http::Method::GET);
    check_workspace(s, member, ws, write && *method != http::Method::DELETE)?;
    let client = &member.client;
    match (method.clone(), name.is_empty()) {
        (http::Method::GET, true) => {
            let q = ListQuery::parse(query.unwrap_or_default())
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let items = kubeapi::list(
                client,
                Kind::WorkspaceQuota,
                None,
                &format!("{WORKSPACE_LABEL}={ws}"),
            )
            .await?;
            Ok(Json(q.apply(items)).into_response())
        }
        (http::Method::POST, true) => {
            let quota = body_of(ws, body)?;
            let created = kubeapi::create(client, Kind::WorkspaceQuota, None, quota).await?;
            Ok((http::StatusCode::OK, Json(created)).into_response())
        }
        (http::Method::GET, false) => Ok(Json(quota_in(member, ws, name).await?).into_response()),
        (http::Method::PUT, false) | (http::Method::PATCH, false) => {
            let current = quota_in(member, ws, name).await?;
            let mut quota = if *method == http::Method::PATCH {
                let patch = parse_json(body)?;
                let mut merged = current.clone();
                json_patch::merge(&mut merged, &patch);
                merged
            } else {
                parse_json(body)?
            };
            if quota["metadata"]["name"].is_null() && quota.is_object() {
                quota["metadata"]["name"] = name.into();
            }
            if quota["metadata"]["name"] != name {
                return Err(ApiError::bad_request(format!(
                    "the name in the body must be {name:?}"
                )));
            }
            let mut quota = body_of(ws, &serde_json::to_vec(&quota).unwrap_or_default())?;
            if quota["metadata"]["resourceVersion"].is_null() {
                quota["metadata"]["resourceVersion"] =
                    current["metadata"]["resourceVersion"].clone();
            }
            quota["status"] = current["status"].clone();
            let updated = kubeapi::replace(client, Kind::WorkspaceQuota, None, quota).await?;
            Ok(Json(updated).into_response())
        }
        (http::Method::DELETE, false) => {
            quota_in(member, ws, name).await?;
            kubeapi::delete(client, Kind::WorkspaceQuota, None, name).await?;
            Ok(Json(json!({"message": "success"})).into_response())
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        )),
    }
}

fn host(s: &AppState) -> ApiResult<std::sync::Arc<Member>> {
    s.clusters
        .get(&s.clusters.settings.host_name)
        .ok_or_else(|| ApiError::service_unavailable("the host cluster is not connected yet"))
}

/// `…/workspaces/{ws}/resourcequotas` on the host.
pub async fn collection(
    State(s): State<Shared>,
    Path(ws): Path<String>,
    method: http::Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let member = host(&s)?;
    in_cluster(&s, &member, &ws, &method, "", q.as_deref(), &body).await
}

/// `…/workspaces/{ws}/resourcequotas/{name}` on the host.
pub async fn item(
    State(s): State<Shared>,
    Path((ws, name)): Path<(String, String)>,
    method: http::Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let member = host(&s)?;
    in_cluster(&s, &member, &ws, &method, &name, q.as_deref(), &body).await
}
