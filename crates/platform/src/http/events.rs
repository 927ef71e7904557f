//! `GET /kapis/tenant.kubesphere.io/v1alpha2/events`: Kubernetes Events across the connected
//! clusters, filtered, sorted by when they last happened and paged, narrowed to the namespaces
//! the caller may list Events in.
//!
//! The platform does not cache Events (they are the most numerous and most short-lived objects
//! of a cluster; the search index keeps only their names and reasons), so each request reads
//! them from the clusters in bounded pages: every cluster at once, at most [`SCAN_LIMIT`] Events
//! from each. A cluster that cannot be read is named in `unavailable` instead of failing the
//! whole answer.

use std::collections::{BTreeSet, HashSet};

use axum::Extension;
use axum::Json;
use axum::extract::{RawQuery, State};
use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, ListParams};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Caller, Shared};
use crate::authz::scope::{RequestInfo, Scope};
use crate::clusters::Member;
use crate::kubeapi;

/// The path of the events list (the authorization layer lets every signed-in caller reach it;
/// the handler narrows the answer).
pub const PATH: &str = "/kapis/tenant.kubesphere.io/v1alpha2/events";
/// The path of a workload's merged logs, under the host or `/clusters/{c}`.
const LOGS: &str =
    "/kapis/tenant.kubesphere.io/v1alpha2/namespaces/{ns}/workloads/{kind}/{name}/logs";

/// The events and logs routes.
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::get;
    axum::Router::new()
        .route(PATH, get(list))
        .route(LOGS, get(super::logs::serve))
        .route(&format!("/clusters/{{c}}{LOGS}"), get(super::logs::serve))
}

/// Most Events read from one cluster for one request.
pub const SCAN_LIMIT: usize = 5_000;
/// Events asked for per page of a list.
const PAGE: u32 = 500;
/// Most records one answer carries.
const MAX_SIZE: usize = 1_000;
/// Namespaces read at once when the caller sees only some of a cluster's.
const CONCURRENT_NAMESPACES: usize = 8;

/// The query, as KubeSphere's events API names it. Every `_filter` takes a comma-separated list
/// of values, matched exactly, except `involved_object_name_filter`, which matches any part of
/// the name (case-insensitively), as people type part of a name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventQuery {
    /// One cluster (empty: every connected cluster).
    pub cluster: Option<String>,
    /// Workspaces the Event's namespace belongs to.
    pub workspaces: Vec<String>,
    /// Namespaces.
    pub namespaces: Vec<String>,
    /// `involvedObject.kind`.
    pub kinds: Vec<String>,
    /// Parts of `involvedObject.name`.
    pub names: Vec<String>,
    /// `reason`.
    pub reasons: Vec<String>,
    /// `type` (Normal, Warning).
    pub types: Vec<String>,
    /// Last seen at or after (Unix seconds).
    pub start: Option<i64>,
    /// Last seen at or before (Unix seconds).
    pub end: Option<i64>,
    /// Records skipped.
    pub from: usize,
    /// Records returned.
    pub size: usize,
    /// Oldest first (default: newest first).
    pub ascending: bool,
}

fn list_of(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl EventQuery {
    /// Parses the query string; a value that is not what its parameter takes is an error
    /// (unknown parameters are ignored, as KubeSphere does).
    pub fn parse(raw: &str) -> Result<EventQuery, String> {
        let mut q = EventQuery {
            size: 10,
            ..EventQuery::default()
        };
        let int = |k: &str, v: &str| -> Result<i64, String> {
            v.parse::<i64>()
                .map_err(|_| format!("{k} must be an integer, not {v:?}"))
        };
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            match k.as_ref() {
                "cluster" => q.cluster = Some(v.to_string()).filter(|c| !c.is_empty()),
                "workspace_filter" => q.workspaces = list_of(&v),
                "namespace_filter" => q.namespaces = list_of(&v),
                "involved_object_kind_filter" => q.kinds = list_of(&v),
                "involved_object_name_filter" => {
                    q.names = list_of(&v).iter().map(|s| s.to_lowercase()).collect()
                }
                "reason_filter" => q.reasons = list_of(&v),
                "type_filter" => q.types = list_of(&v),
                "start_time" if !v.is_empty() => q.start = Some(int(&k, &v)?),
                "end_time" if !v.is_empty() => q.end = Some(int(&k, &v)?),
                "from" if !v.is_empty() => {
                    q.from = usize::try_from(int(&k, &v)?)
                        .map_err(|_| format!("from must not be negative, not {v}"))?
                }
                "size" if !v.is_empty() => {
                    let n = int(&k, &v)?;
                    if !(1..=MAX_SIZE as i64).contains(&n) {
                        return Err(format!("size must be between 1 and {MAX_SIZE}, not {n}"));
                    }
                    q.size = n as usize;
                }
                "sort" => match v.as_ref() {
                    "" | "desc" => q.ascending = false,
                    "asc" => q.ascending = true,
                    other => return Err(format!("sort must be asc or desc, not {other:?}")),
                },
                _ => {}
            }
        }
        if let (Some(s), Some(e)) = (q.start, q.end)
            && s > e
        {
            return Err(format!("start_time ({s}) must not be after end_time ({e})"));
        }
        Ok(q)
    }

    /// Whether an Event (JSON) passes the filters that do not depend on its cluster.
    pub fn matches(&self, ev: &Value) -> bool {
        let one_of = |want: &[String], have: Option<&str>| {
            want.is_empty() || have.is_some_and(|h| want.iter().any(|w| w == h))
        };
        let io = &ev["involvedObject"];
        let name = io["name"].as_str().unwrap_or_default().to_lowercase();
        let at = last_seen(ev);
        one_of(&self.kinds, io["kind"].as_str())
            && one_of(&self.reasons, ev["reason"].as_str())
            && one_of(&self.types, ev["type"].as_str())
            && one_of(&self.namespaces, ev["metadata"]["namespace"].as_str())
            && (self.names.is_empty() || self.names.iter().any(|n| name.contains(n.as_str())))
            && self.start.is_none_or(|s| at >= s)
            && self.end.is_none_or(|e| at <= e)
    }
}

fn unix(t: &Value) -> Option<i64> {
    t.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp())
}

/// When an Event last happened (Unix seconds): `lastTimestamp`, else the `series`' last
/// observation, else `eventTime`, else its creation (events.k8s.io writers leave the first
/// two empty).
pub fn last_seen(ev: &Value) -> i64 {
    unix(&ev["lastTimestamp"])
        .or_else(|| unix(&ev["series"]["lastObservedTime"]))
        .or_else(|| unix(&ev["eventTime"]))
        .or_else(|| unix(&ev["metadata"]["creationTimestamp"]))
        .unwrap_or(0)
}

/// Which namespaces of one cluster the caller may list Events in: `None` for all of them.
fn visible_namespaces(member: &Member, caller: &Caller) -> Option<BTreeSet<String>> {
    let cluster_wide =
        RequestInfo::from_attributes("list", "", "events", "", "", "", "", Some(Scope::Cluster));
    if member
        .authz
        .authorize(&caller.user, &cluster_wide)
        .allowed()
    {
        return None;
    }
    Some(
        member
            .caches
            .namespaces
            .list()
            .iter()
            .map(|e| e.name().to_string())
            .filter(|ns| {
                let req = RequestInfo::from_attributes(
                    "list",
                    "",
                    "events",
                    "",
                    "",
                    ns,
                    "",
                    Some(Scope::Namespace),
                );
                member.authz.authorize(&caller.user, &req).allowed()
            })
            .collect(),
    )
}

fn events_api(member: &Member, ns: Option<&str>) -> kube::Api<DynamicObject> {
    let ar = ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Event".into(),
        plural: "events".into(),
    };
    match ns {
        Some(ns) => kube::Api::namespaced_with(member.client.clone(), ns, &ar),
        None => kube::Api::all_with(member.client.clone(), &ar),
    }
}

/// Reads the Events of one namespace (or all of them) page by page, keeping those `q` matches,
/// until the list ends or `budget` Events were read.
async fn scan(
    member: &Member,
    ns: Option<&str>,
    q: &EventQuery,
    budget: usize,
) -> Result<(Vec<Value>, usize), crate::error::PlatformError> {
    let api = events_api(member, ns);
    let mut kept = Vec::new();
    let mut read = 0usize;
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(PAGE);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = kubeapi::timed("list events", api.list(&lp)).await?;
        token = page.metadata.continue_.clone().filter(|t| !t.is_empty());
        for o in page.items {
            read += 1;
            let v = serde_json::to_value(o).unwrap_or(Value::Null);
            if q.matches(&v) {
                kept.push(v);
            }
        }
        if token.is_none() || read >= budget {
            return Ok((kept, read));
        }
    }
}

/// The Events of one cluster the caller may see and `q` matches, each annotated with its
/// cluster and workspace.
async fn cluster_events(
    member: &Member,
    caller: &Caller,
    q: &EventQuery,
) -> Result<Vec<Value>, crate::error::PlatformError> {
    let workspace_of = |ns: &str| {
        member
            .caches
            .namespaces
            .get(ns)
            .and_then(|e| e.label("kubesphere.io/workspace").map(str::to_string))
    };
    let visible = visible_namespaces(member, caller);
    // The namespaces to read one by one, or None to read the whole cluster at once.
    let narrowed: Option<BTreeSet<String>> = {
        let mut set = visible.clone();
        if !q.namespaces.is_empty() {
            let want: BTreeSet<String> = q.namespaces.iter().cloned().collect();
            set = Some(match set {
                Some(s) => s.intersection(&want).cloned().collect(),
                None => want,
            });
        }
        if !q.workspaces.is_empty() {
            let in_ws = |ns: &String| workspace_of(ns).is_some_and(|w| q.workspaces.contains(&w));
            set = Some(match set {
                Some(s) => s.into_iter().filter(in_ws).collect(),
                None => member
                    .caches
                    .namespaces
                    .list()
                    .iter()
                    .map(|e| e.name().to_string())
                    .filter(in_ws)
                    .collect(),
            });
        }
        set
    };
    let mut records = match narrowed {
        None => scan(member, None, q, SCAN_LIMIT).await?.0,
        Some(set) => {
            let per = SCAN_LIMIT / set.len().max(1);
            let results: Vec<_> = futures::stream::iter(set)
                .map(|ns| async move { scan(member, Some(&ns), q, per.max(PAGE as usize)).await })
                .buffer_unordered(CONCURRENT_NAMESPACES)
                .collect()
                .await;
            let mut all = Vec::new();
            for r in results {
                all.extend(r?.0);
            }
            all
        }
    };
    // Defence in depth: whatever was read, only visible namespaces leave.
    if let Some(visible) = &visible {
        records.retain(|ev| {
            ev["metadata"]["namespace"]
                .as_str()
                .is_some_and(|ns| visible.contains(ns))
        });
    }
    for ev in &mut records {
        let ns = ev["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let meta = &mut ev["metadata"];
        if !meta["annotations"].is_object() {
            meta["annotations"] = json!({});
        }
        meta["annotations"]["kubesphere.io/cluster"] = member.name.clone().into();
        if let Some(ws) = workspace_of(&ns) {
            meta["annotations"]["kubesphere.io/workspace"] = ws.into();
        }
        if let Some(m) = meta.as_object_mut() {
            m.remove("managedFields");
        }
    }
    Ok(records)
}

/// The handler.
pub async fn list(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = EventQuery::parse(raw.as_deref().unwrap_or_default()).map_err(ApiError::bad_request)?;
    let mut members = match &q.cluster {
        Some(c) => vec![
            state
                .clusters
                .get(c)
                .ok_or_else(|| ApiError::not_found("cluster.kubesphere.io", "clusters", c))?,
        ],
        None => state.clusters.all(),
    };
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let mut unavailable = Vec::new();
    let mut ready = Vec::new();
    for m in members {
        if m.is_ready() {
            ready.push(m);
        } else {
            unavailable.push(json!({"cluster": m.name, "message": m.health().message}));
        }
    }
    let answers = futures::future::join_all(
        ready
            .iter()
            .map(|m| async { (m.name.clone(), cluster_events(m, &caller, &q).await) }),
    )
    .await;
    let mut records = Vec::new();
    let mut seen = HashSet::new();
    for (name, answer) in answers {
        match answer {
            Ok(r) => {
                for ev in r {
                    // The host may be listed under its own name and its alias.
                    let uid = format!("{name}/{}", ev["metadata"]["uid"].as_str().unwrap_or(""));
                    if seen.insert(uid) || ev["metadata"]["uid"].is_null() {
                        records.push(ev);
                    }
                }
            }
            Err(e) => {
                tracing::debug!(cluster = %name, error = %e, "events unavailable");
                unavailable.push(json!({"cluster": name, "message": e.to_string()}));
            }
        }
    }
    records.sort_by(|a, b| {
        let key = |e: &Value| {
            (
                last_seen(e),
                e["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                e["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        };
        if q.ascending {
            key(a).cmp(&key(b))
        } else {
            key(b).cmp(&key(a))
        }
    });
    let total = records.len();
    let page: Vec<Value> = records.into_iter().skip(q.from).take(q.size).collect();
    let mut answer = json!({"query": {"total": total, "records": page}});
    if !unavailable.is_empty() {
        answer["unavailable"] = Value::Array(unavailable);
    }
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parses_and_refuses_bad_values() {
        let q = EventQuery::parse(
            "cluster=host&type_filter=Warning&reason_filter=BackOff,Failed&namespace_filter=a,%20b&from=5&size=20&sort=asc&start_time=10&end_time=20&involved_object_name_filter=Web",
        )
        .expect("parses");
        assert_eq!(q.cluster.as_deref(), Some("host"));
        assert_eq!(q.types, ["Warning"]);
        assert_eq!(q.reasons, ["BackOff", "Failed"]);
        assert_eq!(q.namespaces, ["a", "b"]);
        assert_eq!(q.names, ["web"]);
        assert_eq!((q.from, q.size, q.ascending), (5, 20, true));
        assert_eq!((q.start, q.end), (Some(10), Some(20)));
        for bad in [
            "from=-1",
            "size=0",
            "size=100000",
            "size=x",
            "sort=sideways",
            "start_time=yesterday",
            "start_time=20&end_time=10",
        ] {
            assert!(EventQuery::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(EventQuery::parse("").expect("empty").size, 10);
    }

    #[test]
    fn filters_match_fields_and_time() {
        let ev = json!({
            "metadata": {"name": "web-1.17", "namespace": "p1", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "web-7d9f-abc"},
            "reason": "BackOff", "type": "Warning",
            "lastTimestamp": "2026-01-01T00:01:40Z"
        });
        let t = last_seen(&ev);
        assert_eq!(t, 1_767_225_700);
        let q = |s: &str| EventQuery::parse(s).expect("parses");
        assert!(q("").matches(&ev));
        assert!(q("type_filter=Warning&reason_filter=BackOff").matches(&ev));
        assert!(!q("type_filter=Normal").matches(&ev));
        assert!(q("involved_object_kind_filter=Pod&involved_object_name_filter=7D9F").matches(&ev));
        assert!(!q("involved_object_kind_filter=Deployment").matches(&ev));
        assert!(!q("namespace_filter=p2").matches(&ev));
        assert!(q(&format!("start_time={t}&end_time={t}")).matches(&ev));
        assert!(!q(&format!("start_time={}", t + 1)).matches(&ev));
        assert!(!q(&format!("end_time={}", t - 1)).matches(&ev));
        // Without lastTimestamp, the series' or eventTime decides.
        let ev2 = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "eventTime": "2026-01-01T00:00:05.123456Z"});
        assert_eq!(last_seen(&ev2), 1_767_225_605);
    }
}
