//! The alerts API (KubeSphere's `alerting.kubesphere.io/v2beta1`):
//! `GET [/clusters/{c}]/kapis/alerting.kubesphere.io/v2beta1/alerts` (a cluster's
//! ClusterRuleGroups), `…/namespaces/{ns}/alerts` (a project's RuleGroups) and
//! `GET /kapis/alerting.kubesphere.io/v2beta1/globalalerts` (GlobalRuleGroups), each with
//! `state=` and `label_filters=k=v,k~substring`, `page` and `limit`. The routes are authorized
//! by the request's own level before they get here (resource `alerts` or `globalalerts` of the
//! group, as rule groups are), and each lists only the rule groups of that level.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use kube::Client;
use serde_json::{Value, json};

use super::evaluate::{alerts_of, list_groups};
use super::rules::Level;
use super::state::{Alert, AlertState};
use crate::http::{ApiError, ApiResult, Shared};

/// The API prefix.
pub const PREFIX: &str = "/kapis/alerting.kubesphere.io/v2beta1";

/// The host's alert routes (members' are answered by [`in_cluster`]).
pub fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route(&format!("{PREFIX}/alerts"), get(cluster_alerts))
        .route(
            &format!("{PREFIX}/namespaces/{{ns}}/alerts"),
            get(namespace_alerts),
        )
        .route(&format!("{PREFIX}/globalalerts"), get(global_alerts))
}

fn host_name(state: &Shared) -> String {
    state.clusters.settings.host_name.clone()
}

async fn cluster_alerts(
    State(state): State<Shared>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let host = host_name(&state);
    answer(&state.client, &host, &Level::Cluster, q.as_deref())
        .await
        .map(Json)
}

async fn namespace_alerts(
    State(state): State<Shared>,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let host = host_name(&state);
    answer(&state.client, &host, &Level::Namespace(ns), q.as_deref())
        .await
        .map(Json)
}

async fn global_alerts(
    State(state): State<Shared>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let host = host_name(&state);
    answer(&state.client, &host, &Level::Global, q.as_deref())
        .await
        .map(Json)
}

/// Answers `/clusters/{c}/kapis/alerting.kubesphere.io/v2beta1/…` for member `member`, already
/// authorized at the request's level; `None` when the path is not an alerts route.
pub async fn in_cluster(
    member: &crate::clusters::Member,
    info: &crate::authz::scope::RequestInfo,
    query: Option<&str>,
) -> Option<ApiResult<Value>> {
    // Only the two routes (no workspace form: a namespace named under another workspace's
    // path is not that workspace's).
    if !info.name.is_empty()
        || !info.subresource.is_empty()
        || !info.workspace.is_empty()
        || info.verb != "list"
    {
        return None;
    }
    let level = match (info.resource.as_str(), info.namespace.is_empty()) {
        ("alerts", true) => Level::Cluster,
        ("alerts", false) => Level::Namespace(info.namespace.clone()),
        _ => return None,
    };
    Some(answer(&member.client, &member.name, &level, query).await)
}

/// A `label_filters` term.
#[derive(Debug, PartialEq)]
enum LabelFilter {
    Equals(String, String),
    Contains(String, String),
}

/// What the query asks for.
#[derive(Debug, PartialEq)]
struct Query {
    state: Option<AlertState>,
    labels: Vec<LabelFilter>,
    page: usize,
    limit: Option<usize>,
}

fn parse_query(q: Option<&str>) -> ApiResult<Query> {
    let mut out = Query {
        state: None,
        labels: Vec::new(),
        page: 1,
        limit: None,
    };
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "state" if !v.is_empty() => {
                out.state = Some(match v.as_ref() {
                    "firing" => AlertState::Firing,
                    "pending" => AlertState::Pending,
                    "inactive" => AlertState::Inactive,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "state {other:?} is not one of firing, pending, inactive"
                        )));
                    }
                });
            }
            "label_filters" => {
                for term in v.split(',').filter(|t| !t.is_empty()) {
                    let f = if let Some((k, v)) = term.split_once('=') {
                        LabelFilter::Equals(k.to_string(), v.to_string())
                    } else if let Some((k, v)) = term.split_once('~') {
                        LabelFilter::Contains(k.to_string(), v.to_string())
                    } else {
                        return Err(ApiError::bad_request(format!(
                            "label_filters term {term:?} is neither key=value nor key~value"
                        )));
                    };
                    out.labels.push(f);
                }
            }
            "page" | "limit" => {
                let n: usize = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ApiError::bad_request(format!("{k} must be a positive integer"))
                })?;
                if k == "page" {
                    out.page = n;
                } else {
                    out.limit = Some(n);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn selected(a: &Alert, q: &Query) -> bool {
    q.state.is_none_or(|s| a.state == s)
        && q.labels.iter().all(|f| match f {
            LabelFilter::Equals(k, v) => a.labels.get(k) == Some(v),
            LabelFilter::Contains(k, v) => a.labels.get(k).is_some_and(|x| x.contains(v.as_str())),
        })
}

fn item(group: &str, a: &Alert) -> Value {
    json!({
        "ruleGroup": group,
        "ruleName": a.rule_name,
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": a.active_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "firedAt": a.fired_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "resolvedAt": a.resolved_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "value": a.value,
        "cluster": a.cluster,
        "silenced": a.silenced,
        "notifyError": a.notify_error,
    })
}

/// The alerts of the rule groups at `level` in cluster `client`.
pub async fn answer(
    client: &Client,
    cluster: &str,
    level: &Level,
    query: Option<&str>,
) -> ApiResult<Value> {
    let q = parse_query(query)?;
    let groups = match list_groups(client, level).await {
        Ok(g) => g,
        // A cluster without the CRDs (not yet installed) has no rule groups.
        Err(e) if crate::kubeapi::is_not_found(&e) => Vec::new(),
        Err(e) => {
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                format!("cluster {cluster}: listing rule groups: {e}"),
            ));
        }
    };
    let mut found: Vec<(String, Alert)> = groups
        .iter()
        .flat_map(|(level, g)| {
            let name = g["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            alerts_of(g, level, cluster)
                .into_iter()
                .map(move |a| (name.clone(), a))
        })
        .filter(|(_, a)| selected(a, &q))
        .collect();
    // Newest first, then stable by group, rule and fingerprint.
    found.sort_by(|(ga, a), (gb, b)| {
        b.active_at.cmp(&a.active_at).then_with(|| {
            (ga, &a.rule_name, &a.fingerprint).cmp(&(gb, &b.rule_name, &b.fingerprint))
        })
    });
    let total = found.len();
    let limit = q.limit.unwrap_or(total.max(1));
    let items: Vec<Value> = found
        .iter()
        .skip((q.page - 1).saturating_mul(limit))
        .take(limit)
        .map(|(g, a)| item(g, a))
        .collect();
    Ok(json!({"total": total, "items": items}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let q = parse_query(Some(
            "state=firing&label_filters=severity%3Dcritical,pod~web&page=2&limit=5",
        ))
        .expect("valid");
        assert_eq!(q.state, Some(AlertState::Firing));
        assert_eq!(
            q.labels,
            vec![
                LabelFilter::Equals("severity".into(), "critical".into()),
                LabelFilter::Contains("pod".into(), "web".into())
            ]
        );
        assert_eq!((q.page, q.limit), (2, Some(5)));
        for bad in ["state=burning", "label_filters=nope", "limit=0", "page=x"] {
            assert_eq!(
                parse_query(Some(bad)).map_err(|e| e.code),
                Err(400),
                "{bad}"
            );
        }
        assert_eq!(parse_query(None).expect("empty").state, None);
    }

    #[test]
    fn each_route_is_authorized_at_its_level() {
        use crate::authz::scope::{RequestInfo, Scope};
        for (path, scope) in [
            (
                "/kapis/alerting.kubesphere.io/v2beta1/alerts",
                Scope::Cluster,
            ),
            (
                "/kapis/alerting.kubesphere.io/v2beta1/namespaces/p/alerts",
                Scope::Namespace,
            ),
            (
                "/kapis/alerting.kubesphere.io/v2beta1/globalalerts",
                Scope::Global,
            ),
            // Only the alerting group's `alerts` is a cluster's.
            ("/kapis/iam.kubesphere.io/v1beta1/alerts", Scope::Global),
            (
                "/apis/alerting.kubesphere.io/v2beta1/clusterrulegroups",
                Scope::Cluster,
            ),
            (
                "/apis/alerting.kubesphere.io/v2beta1/globalrulegroups",
                Scope::Global,
            ),
            (
                "/apis/notification.kubesphere.io/v2beta2/receivers",
                Scope::Global,
            ),
            (
                "/apis/notification.kubesphere.io/v2beta2/silences/s",
                Scope::Global,
            ),
        ] {
            assert_eq!(RequestInfo::parse("GET", path, "").scope, scope, "{path}");
        }
    }
}
