//! Workspace quotas: KubeSphere's `quota.kubesphere.io/v1alpha2` `ResourceQuota`, a limit on
//! what all the projects of one workspace use together in one cluster.
//!
//! A quota lives in the cluster it limits (cluster-scoped, labelled with its workspace; its
//! `spec.selector` selects the workspace's namespaces). Objects made by controllers inside a
//! member never pass through the platform, so the limit is enforced where they are written: the
//! platform registers a validating admission webhook in every cluster that has a workspace
//! quota ([`controller`]), and answers it ([`admission`]) with kube's quota accounting
//! (`apimachinery::quota`). As kube's ResourceQuota admission does, an admitted request is
//! charged to the quota's `status.total.used` with optimistic concurrency, so that two
//! concurrent creates cannot both take the last unit; the controller recalculates usage from
//! the objects themselves, which returns what deleted objects (or creates refused later in
//! admission) held.

pub mod admission;
pub mod controller;

use std::collections::BTreeMap;

use apimachinery::quantity::Quantity;
use apimachinery::quota::{Usage, add, quantity, resource_of, usage_of};
use apimachinery::status::ApiError;
use serde_json::{Map, Value, json};

use crate::authz::resolve::ApiIndex;
use crate::error::PlatformError;
use crate::kubeapi;

/// The label naming a namespace's (and a quota's) workspace.
pub const WORKSPACE_LABEL: &str = "kubesphere.io/workspace";
/// The ValidatingWebhookConfiguration the platform keeps in each cluster with quotas.
pub const WEBHOOK_CONFIG: &str = "orrery-workspace-quotas";
/// The webhook's name (KubeSphere's).
pub const WEBHOOK_NAME: &str = "resourcequotas.quota.kubesphere.io";
/// Where the platform answers the webhook: `{prefix}/{key}/{cluster}`.
pub const ADMISSION_PREFIX: &str = "/admission/quota.kubesphere.io";

/// A quota's `spec.quota.hard` (entries that are not quantities are left out; the API refuses
/// them).
pub fn hard_of(quota: &Value) -> Usage {
    quota["spec"]["quota"]["hard"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| quantity(v).map(|q| (k.clone(), q)))
        .collect()
}

/// Whether a quota's selector (a label map) selects a namespace with `labels`. An empty
/// selector selects nothing: a quota must name the namespaces it limits.
pub fn selects(quota: &Value, labels: &Value) -> bool {
    let Some(selector) = quota["spec"]["selector"].as_object() else {
        return false;
    };
    !selector.is_empty() && selector.iter().all(|(k, v)| &labels[k] == v)
}

/// Checks a quota written to workspace `ws` and fixes its workspace label and selector, as
/// KubeSphere's console sends them: a 400 for anything else.
pub fn prepare(quota: &mut Value, ws: &str) -> Result<(), ApiError> {
    if !quota.is_object() {
        return Err(ApiError::bad_request(
            "a ResourceQuota must be a JSON object",
        ));
    }
    let name = quota["metadata"]["name"].as_str().unwrap_or_default();
    let generated = quota["metadata"]["generateName"].as_str().is_some();
    if name.is_empty() && !generated {
        return Err(ApiError::bad_request("metadata.name is required"));
    }
    let hard = &quota["spec"]["quota"]["hard"];
    let Some(entries) = hard.as_object() else {
        return Err(ApiError::bad_request(
            "spec.quota.hard must map resource names to quantities",
        ));
    };
    for (k, v) in entries {
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(ApiError::bad_request(format!(
                "spec.quota.hard: {k:?} is not a resource name"
            )));
        }
        if quantity(v).is_none() {
            return Err(ApiError::bad_request(format!(
                "spec.quota.hard[{k}]: {v} is not a quantity"
            )));
        }
        if quantity(v).is_some_and(|q| q < Quantity::ZERO) {
            return Err(ApiError::bad_request(format!(
                "spec.quota.hard[{k}]: must be greater than or equal to 0"
            )));
        }
    }
    let quota_spec = &quota["spec"]["quota"];
    if quota_spec.get("scopes").is_some_and(|s| !s.is_null())
        || quota_spec
            .get("scopeSelector")
            .is_some_and(|s| !s.is_null())
    {
        return Err(ApiError::bad_request(
            "spec.quota.scopes and scopeSelector are not supported in workspace quotas",
        ));
    }
    match quota["spec"]["selector"].as_object() {
        None => {}
        Some(sel) if sel.len() == 1 && sel.get(WORKSPACE_LABEL) == Some(&json!(ws)) => {}
        Some(sel) if sel.is_empty() => {}
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "spec.selector of a quota of workspace {ws} must be {{\"{WORKSPACE_LABEL}\": \"{ws}\"}}"
            )));
        }
    }
    quota["spec"]["selector"] = json!({ WORKSPACE_LABEL: ws });
    match quota["metadata"]["labels"].as_object_mut() {
        Some(labels) => {
            labels.insert(WORKSPACE_LABEL.into(), ws.into());
        }
        None => quota["metadata"]["labels"] = json!({ WORKSPACE_LABEL: ws }),
    }
    Ok(())
}

/// The (group, plural) resources whose objects account for the names a quota tracks.
pub fn tracked_resources<'a>(
    tracked: impl IntoIterator<Item = &'a String>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in tracked {
        let gp = resource_of(r);
        if !out.contains(&gp) {
            out.push(gp);
        }
    }
    out
}

/// What each of `namespaces` uses of the `tracked` names, from the objects in the cluster.
pub async fn usage_by_namespace(
    client: &kube::Client,
    index: &ApiIndex,
    namespaces: &[String],
    tracked: &[String],
) -> Result<BTreeMap<String, Usage>, PlatformError> {
    let resources = tracked_resources(tracked);
    let mut out = BTreeMap::new();
    for ns in namespaces {
        let mut used = Usage::new();
        for (group, plural) in &resources {
            // A resource the cluster does not serve has no objects.
            let Some(version) = index.version_of(group, plural) else {
                continue;
            };
            for obj in kubeapi::list_resource(client, (group, &version, plural), ns).await? {
                for (k, q) in usage_of(group, plural, &obj) {
                    if tracked.contains(&k) {
                        add(&mut used, &k, q);
                    }
                }
            }
        }
        out.insert(ns.clone(), used);
    }
    Ok(out)
}

/// `{name: "quantity"}` for every tracked name (zero where nothing is used), as kube writes
/// `status.used`.
pub fn resource_list(tracked: &[String], used: &Usage) -> Value {
    let m: Map<String, Value> = tracked
        .iter()
        .map(|r| {
            let q = used.get(r).copied().unwrap_or(Quantity::ZERO);
            (r.clone(), Value::String(q.to_string()))
        })
        .collect();
    Value::Object(m)
}

/// The namespaces of `member` that `quota` selects (from its namespace cache).
pub fn selected_namespaces(member: &crate::clusters::Member, quota: &Value) -> Vec<String> {
    member
        .caches
        .namespaces
        .list()
        .iter()
        .filter(|n| selects(quota, &n.obj["metadata"]["labels"]))
        .map(|n| n.name().to_string())
        .collect()
}

/// The sum of every namespace's use.
pub fn total(by_namespace: &BTreeMap<String, Usage>) -> Usage {
    let mut total = Usage::new();
    for used in by_namespace.values() {
        for (k, q) in used {
            add(&mut total, k, *q);
        }
    }
    total
}

/// The status KubeSphere keeps: `total` (hard and used over the selected namespaces) and each
/// namespace's use.
pub fn status_of(quota: &Value, by_namespace: &BTreeMap<String, Usage>) -> Value {
    let hard = quota["spec"]["quota"]["hard"].clone();
    let tracked: Vec<String> = hard_of(quota).into_keys().collect();
    let namespaces: Vec<Value> = by_namespace
        .iter()
        .map(|(ns, used)| {
            json!({"namespace": ns, "hard": hard, "used": resource_list(&tracked, used)})
        })
        .collect();
    json!({
        "total": {"hard": hard, "used": resource_list(&tracked, &total(by_namespace))},
        "namespaces": namespaces,
    })
}

/// The usage a status records (`status.total.used`), if it was computed for the quota's
/// current `hard` (a changed `hard` may track names the status never counted).
pub fn recorded_usage(quota: &Value) -> Option<Usage> {
    let total = &quota["status"]["total"];
    if total["hard"] != quota["spec"]["quota"]["hard"] {
        return None;
    }
    let used = total["used"].as_object()?;
    let hard = hard_of(quota);
    if hard.keys().any(|k| !used.contains_key(k)) {
        return None;
    }
    Some(
        used.iter()
            .filter_map(|(k, v)| quantity(v).map(|q| (k.clone(), q)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).expect("quantity")
    }

    #[test]
    fn a_quota_is_fixed_to_its_workspace() {
        let mut quota = json!({"metadata": {"name": "ws1"}, "spec": {"quota": {"hard": {"pods": "2", "limits.cpu": 4}}}});
        prepare(&mut quota, "ws1").expect("valid");
        assert_eq!(quota["spec"]["selector"], json!({WORKSPACE_LABEL: "ws1"}));
        assert_eq!(quota["metadata"]["labels"][WORKSPACE_LABEL], "ws1");
        assert_eq!(hard_of(&quota).get("limits.cpu"), Some(&q("4")));
    }

    #[test]
    fn a_quota_that_reaches_beyond_its_workspace_or_is_malformed_is_refused() {
        for (body, why) in [
            (
                json!({"metadata": {"name": "x"}, "spec": {"quota": {"hard": {"pods": "2"}}, "selector": {WORKSPACE_LABEL: "other"}}}),
                "must be",
            ),
            (
                json!({"metadata": {"name": "x"}, "spec": {"quota": {"hard": {"pods": "2"}}, "selector": {"team": "a"}}}),
                "must be",
            ),
            (
                json!({"metadata": {"name": "x"}, "spec": {"quota": {"hard": {"pods": "two"}}}}),
                "not a quantity",
            ),
            (
                json!({"metadata": {"name": "x"}, "spec": {"quota": {"hard": {"pods": "-1"}}}}),
                "greater than",
            ),
            (
                json!({"metadata": {"name": "x"}, "spec": {"quota": {}}}),
                "spec.quota.hard",
            ),
            (
                json!({"metadata": {"name": "x"}, "spec": {"quota": {"hard": {}, "scopes": ["BestEffort"]}}}),
                "not supported",
            ),
            (json!({"spec": {"quota": {"hard": {}}}}), "metadata.name"),
            (json!([]), "JSON object"),
        ] {
            let mut b = body.clone();
            let err = prepare(&mut b, "ws1").expect_err(&body.to_string());
            assert_eq!(err.code, 400);
            assert!(err.message.contains(why), "{body}: {}", err.message);
        }
    }

    #[test]
    fn a_selector_must_match_every_label_it_names() {
        let quota = json!({"spec": {"selector": {WORKSPACE_LABEL: "ws1"}}});
        assert!(selects(&quota, &json!({WORKSPACE_LABEL: "ws1", "x": "y"})));
        assert!(!selects(&quota, &json!({WORKSPACE_LABEL: "ws2"})));
        assert!(!selects(&quota, &json!({})));
        assert!(!selects(
            &json!({"spec": {"selector": {}}}),
            &json!({"a": "b"})
        ));
    }

    #[test]
    fn the_status_sums_namespaces_and_names_every_tracked_resource() {
        let quota = json!({"spec": {"quota": {"hard": {"pods": "3", "requests.cpu": "1"}}}});
        let mut by_ns = BTreeMap::new();
        by_ns.insert(
            "a".to_string(),
            Usage::from([
                ("pods".to_string(), q("1")),
                ("requests.cpu".to_string(), q("250m")),
            ]),
        );
        by_ns.insert("b".to_string(), Usage::from([("pods".to_string(), q("1"))]));
        let status = status_of(&quota, &by_ns);
        assert_eq!(
            status["total"]["used"],
            json!({"pods": "2", "requests.cpu": "250m"})
        );
        assert_eq!(
            status["namespaces"][1],
            json!({"namespace": "b", "hard": {"pods": "3", "requests.cpu": "1"}, "used": {"pods": "1", "requests.cpu": "0"}})
        );
        let mut with = quota.clone();
        with["status"] = status;
        assert_eq!(
            recorded_usage(&with).and_then(|u| u.get("requests.cpu").copied()),
            Some(q("250m"))
        );
        with["spec"]["quota"]["hard"]["pods"] = json!("5");
        assert_eq!(
            recorded_usage(&with),
            None,
            "a changed hard is not what the status counted"
        );
    }

    #[test]
    fn tracked_names_map_to_the_resources_that_count_for_them() {
        let names: Vec<String> = [
            "limits.cpu",
            "pods",
            "count/deployments.apps",
            "requests.storage",
            "services.nodeports",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            tracked_resources(&names),
            vec![
                (String::new(), "pods".into()),
                ("apps".into(), "deployments".into()),
                (String::new(), "persistentvolumeclaims".into()),
                (String::new(), "services".into()),
            ]
        );
    }
}
