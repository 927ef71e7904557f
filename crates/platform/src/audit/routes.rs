//! The query API (KubeSphere 3's auditing query shape):
//!
//! - `GET /kapis/tenant.kubesphere.io/v1alpha2/auditing/events`: platform administrators (a
//!   global rule allowing `get` on `auditing` in `tenant.kubesphere.io`) read every event;
//!   anyone else reads only the events of the workspaces where they may read auditing (the
//!   same rule at the workspace level: the `workspace-auditing-view` template, held by
//!   workspace admins; workspace viewers read every resource of the workspace but Secrets,
//!   auditing included). Events of no workspace (users, clusters, global roles) are the
//!   administrators' only.
//! - `GET /kapis/tenant.kubesphere.io/v1alpha2/workspaces/{ws}/auditing/events`: one
//!   workspace's, authorized by the authorization layer like any workspace request.
//!
//! Both answer `{"query":{"total":N,"records":[Event…]}}`.

use std::collections::HashSet;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::store::{Query, Visible};
use crate::authz::scope::{RequestInfo, Scope};
use crate::http::{ApiError, ApiResult, Caller, Grant, Shared};

const GROUP: &str = "tenant.kubesphere.io";
const RESOURCE: &str = "auditing";
const VERSION: &str = "v1alpha2";
const PREFIX: &str = "/kapis/tenant.kubesphere.io/v1alpha2";

/// The query routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route(&format!("{PREFIX}/auditing/events"), get(events))
        .route(
            &format!("{PREFIX}/workspaces/{{ws}}/auditing/events"),
            get(workspace_events),
        )
}

/// Whether a request is the platform-wide query, which every signed-in user may make: its
/// handler narrows the answer to what the caller may read.
pub fn is_query(info: &RequestInfo) -> bool {
    info.is_resource_request
        && info.api_prefix == "kapis"
        && info.api_group == GROUP
        && info.api_version == VERSION
        && info.resource == RESOURCE
        && info.name == "events"
        && info.subresource.is_empty()
        && info.scope == Scope::Global
        && info.verb == "get"
}

/// The request that reading a workspace's audit events is.
fn read_in(ws: &str) -> RequestInfo {
    RequestInfo::from_attributes(
        "get",
        GROUP,
        RESOURCE,
        "",
        "events",
        "",
        ws,
        Some(Scope::Workspace),
    )
}

fn answer(state: &Shared, raw: Option<String>, visible: &Visible) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref().unwrap_or_default()).map_err(ApiError::bad_request)?;
    let (total, records) = state.audit.store().query(&q, visible);
    let records: Vec<&super::Event> = records.iter().map(AsRef::as_ref).collect();
    Ok(Json(json!({"query": {"total": total, "records": records}})))
}

async fn events(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let visible = match caller.grant {
        Grant::Full => Visible::All,
        Grant::Filtered => Visible::Workspaces(
            state
                .authz
                .member_workspaces(&caller.user)
                .into_iter()
                .filter(|ws| state.authz.authorize(&caller.user, &read_in(ws)).allowed())
                .collect::<HashSet<String>>(),
        ),
        _ => Visible::Workspaces(HashSet::new()),
    };
    answer(&state, raw, &visible)
}

async fn workspace_events(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    // The authorization layer allowed `get auditing` in this workspace (or everywhere).
    let visible = match caller.grant {
        Grant::Full => Visible::Workspaces(HashSet::from([ws])),
        _ => Visible::Workspaces(HashSet::new()),
    };
    answer(&state, raw, &visible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_resolve_to_auditing_reads() {
        let all = RequestInfo::parse("GET", &format!("{PREFIX}/auditing/events"), "");
        assert!(is_query(&all));
        let ws = RequestInfo::parse("GET", &format!("{PREFIX}/workspaces/a/auditing/events"), "");
        assert_eq!(
            (
                ws.scope,
                ws.workspace.as_str(),
                ws.resource.as_str(),
                ws.verb.as_str()
            ),
            (Scope::Workspace, "a", "auditing", "get")
        );
        assert!(!is_query(&ws));
        assert_eq!(read_in("a").resource, ws.resource);
        let write = RequestInfo::parse("POST", &format!("{PREFIX}/auditing/events"), "");
        assert!(!is_query(&write));
        // Only the query's own version is open to everyone (another is a platform path).
        let other = RequestInfo::parse(
            "GET",
            "/kapis/tenant.kubesphere.io/v1beta1/auditing/events",
            "",
        );
        assert!(!is_query(&other));
    }
}
