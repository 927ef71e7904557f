//! kube-apiserver's built-in admission for namespaces: `LimitRanger` (a Pod's containers get
//! the defaults of the namespace's LimitRanges, and their min/max are enforced) and
//! `ResourceQuota` (a create that would take a namespace past a quota's `hard` is refused with
//! kube's "exceeded quota" message). What an object counts for, and the words, are
//! `apimachinery::quota`'s; usage is computed from the store at admission; the quotas'
//! `status.used` is kept by [`run`].

use std::collections::BTreeMap;
use std::sync::Arc;

use apimachinery::quantity::Quantity;
use apimachinery::quota::{
    Usage, add, containers, exceeded, must_specify, quantity, resource_of, usage_of,
};
use apimachinery::status::ApiError;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::registry::{Resource, keys};

fn stored(cluster: &Cluster, group: &str, plural: &str, ns: &str) -> Vec<Value> {
    cluster
        .store
        .list(&keys::namespace_prefix(group, plural, ns), None, 0, None)
        .map(|l| {
            l.items
                .iter()
                .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `LimitRanger`: defaults from the namespace's LimitRanges (`default`, `defaultRequest`, with
/// kube's defaulting of those from `max` and `min`), recorded in the
/// `kubernetes.io/limit-ranger` annotation; then every container's min and max.
pub fn limit_ranges(
    cluster: &Cluster,
    res: &Resource,
    ns: &str,
    pod: &mut Value,
) -> Result<(), ApiError> {
    if !(res.group.is_empty() && res.plural == "pods") || ns.is_empty() {
        return Ok(());
    }
    let ranges = stored(cluster, "", "limitranges", ns);
    let items: Vec<&Value> = ranges
        .iter()
        .flat_map(|r| r["spec"]["limits"].as_array().into_iter().flatten())
        .filter(|i| i["type"] == "Container")
        .collect();
    if items.is_empty() {
        return Ok(());
    }
    let mut annotations = Vec::new();
    for item in &items {
        let (limits, requests) = container_defaults(item);
        for init in [false, true] {
            let prefix = if init { "init container" } else { "container" };
            let field = if init { "initContainers" } else { "containers" };
            for c in pod["spec"][field].as_array_mut().into_iter().flatten() {
                let name = c["name"].as_str().unwrap_or_default().to_string();
                let set_limits = fill(&mut c["resources"]["limits"], &limits);
                let set_requests = fill(&mut c["resources"]["requests"], &requests);
                if !set_requests.is_empty() {
                    annotations.push(format!(
                        "{} request for {prefix} {name}",
                        set_requests.join(", ")
                    ));
                }
                if !set_limits.is_empty() {
                    annotations.push(format!(
                        "{} limit for {prefix} {name}",
                        set_limits.join(", ")
                    ));
                }
            }
        }
    }
    if !annotations.is_empty() {
        pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] =
            format!("LimitRanger plugin set: {}", annotations.join("; ")).into();
    }
    let mut errors = Vec::new();
    for item in &items {
        for c in containers(pod, false).chain(containers(pod, true)) {
            check_bounds(item, c, &mut errors);
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(forbidden(pod, &errors[0])),
        _ => Err(forbidden(pod, &format!("[{}]", errors.join(", ")))),
    }
}

fn forbidden(pod: &Value, why: &str) -> ApiError {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    ApiError::forbidden("", "pods", name, why)
}

/// A Container item's default limits and requests, defaulted as kube defaults LimitRanges.
fn container_defaults(item: &Value) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let map = |v: &Value| -> BTreeMap<String, Value> {
        v.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let mut limits = map(&item["default"]);
    for (k, v) in map(&item["max"]) {
        limits.entry(k).or_insert(v);
    }
    let mut requests = map(&item["defaultRequest"]);
    for (k, v) in limits
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(map(&item["min"]))
    {
        requests.entry(k).or_insert(v);
    }
    (limits, requests)
}

/// Sets what `defaults` has and `list` lacks; returns the names set, sorted.
fn fill(list: &mut Value, defaults: &BTreeMap<String, Value>) -> Vec<String> {
    let mut set = Vec::new();
    for (k, v) in defaults {
        if list.get(k).is_none() {
            if !list.is_object() {
                *list = json!({});
            }
            list[k] = v.clone();
            set.push(k.clone());
        }
    }
    set
}

fn check_bounds(item: &Value, c: &Value, errors: &mut Vec<String>) {
    for (r, min) in item["min"].as_object().into_iter().flatten() {
        let Some(min) = quantity(min) else { continue };
        match c["resources"]["requests"].get(r).and_then(quantity) {
            None => errors.push(format!(
                "minimum {r} usage per Container is {min}.  No request is specified"
            )),
            Some(q) if q < min => errors.push(format!(
                "minimum {r} usage per Container is {min}, but request is {q}"
            )),
            Some(_) => {}
        }
    }
    for (r, max) in item["max"].as_object().into_iter().flatten() {
        let Some(max) = quantity(max) else { continue };
        match c["resources"]["limits"].get(r).and_then(quantity) {
            None => errors.push(format!(
                "maximum {r} usage per Container is {max}.  No limit is specified"
            )),
            Some(q) if q > max => errors.push(format!(
                "maximum {r} usage per Container is {max}, but limit is {q}"
            )),
            Some(_) => {}
        }
    }
}

/// What a namespace uses of the resources a quota names, from the store.
fn namespace_usage(cluster: &Cluster, ns: &str, tracked: &[String]) -> Usage {
    let registry = cluster.registry.snapshot();
    let mut wanted: Vec<(String, String)> = Vec::new();
    for r in tracked {
        let gp = resource_of(r);
        if !wanted.contains(&gp) {
            wanted.push(gp);
        }
    }
    let mut total = Usage::new();
    for (group, plural) in wanted {
        let Some(res) = registry
            .resources
            .iter()
            .find(|r| r.group == group && r.plural == plural)
        else {
            continue;
        };
        for obj in stored(cluster, &group, &plural, ns) {
            for (k, q) in usage_of(&res.group, &res.plural, &obj) {
                add(&mut total, &k, q);
            }
        }
    }
    total
}

/// `ResourceQuota`: refuses a create that would take its namespace past any quota.
pub fn check_quota(
    cluster: &Cluster,
    res: &Resource,
    ns: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    if ns.is_empty() || !res.namespaced {
        return Ok(());
    }
    let mut quotas = stored(cluster, "", "resourcequotas", ns);
    if quotas.is_empty() {
        return Ok(());
    }
    quotas.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    let delta = usage_of(&res.group, &res.plural, obj);
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    for quota in &quotas {
        let qname = quota["metadata"]["name"].as_str().unwrap_or_default();
        let hard: Usage = quota["spec"]["hard"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| quantity(v).map(|q| (k.clone(), q)))
            .collect();
        if res.group.is_empty()
            && res.plural == "pods"
            && !delta.is_empty()
            && let Some(why) = must_specify(obj, &hard)
        {
            return Err(ApiError::forbidden(
                &res.group,
                &res.plural,
                name,
                &format!("failed quota: {qname}: {why}"),
            ));
        }
        let tracked: Vec<String> = hard
            .keys()
            .filter(|k| delta.contains_key(*k))
            .cloned()
            .collect();
        if tracked.is_empty() {
            continue;
        }
        let used = namespace_usage(cluster, ns, &tracked);
        let asked: Usage = tracked.iter().map(|r| (r.clone(), delta[r])).collect();
        if let Some(why) = exceeded(qname, &hard, &used, &asked) {
            return Err(ApiError::forbidden(&res.group, &res.plural, name, &why));
        }
    }
    Ok(())
}

/// Keeps every ResourceQuota's `status.hard` and `status.used` in step with its namespace
/// (kube's quota controller), until shutdown.
pub async fn run(cluster: Arc<Cluster>) {
    let prefix = keys::prefix("", "resourcequotas");
    loop {
        tokio::select! {
            _ = cluster.shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
        let Ok(listed) = cluster.store.list(&prefix, None, 0, None) else {
            continue;
        };
        for kv in listed.items {
            let Ok(quota) = serde_json::from_slice::<Value>(&kv.value) else {
                continue;
            };
            let ns = quota["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let hard = quota["spec"]["hard"].clone();
            let tracked: Vec<String> = hard
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let used = namespace_usage(&cluster, &ns, &tracked);
            let used: serde_json::Map<String, Value> = tracked
                .iter()
                .map(|r| {
                    (
                        r.clone(),
                        Value::String(used.get(r).copied().unwrap_or(Quantity::ZERO).to_string()),
                    )
                })
                .collect();
            let status = json!({"hard": hard, "used": used});
            if quota["status"] == status {
                continue;
            }
            let mut updated = quota.clone();
            updated["status"] = status;
            let expected = kv.mod_revision;
            let _ = cluster
                .store
                .update(
                    &kv.key,
                    Some(expected),
                    Box::new(move |_, rev| Ok(crate::object::with_resource_version(updated, rev))),
                )
                .await;
        }
    }
}
