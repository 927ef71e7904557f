//! kube-apiserver's built-in admission for namespaces: `LimitRanger` (a Pod's containers get
//! the defaults of the namespace's LimitRanges, and their min/max are enforced) and
//! `ResourceQuota` (a create that would take a namespace past a quota's `hard` is refused with
//! kube's "exceeded quota" message). Usage is computed from the store at admission; the
//! quotas' `status.used` is kept by [`run`].

use std::collections::BTreeMap;
use std::sync::Arc;

use apimachinery::quantity::Quantity;
use apimachinery::status::ApiError;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::registry::{Resource, keys};

type Usage = BTreeMap<String, Quantity>;

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

fn quantity(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s).ok(),
        Value::Number(n) => n.as_i64().map(Quantity::from_int),
        _ => None,
    }
}

fn containers(pod: &Value, init: bool) -> impl Iterator<Item = &Value> {
    let field = if init { "initContainers" } else { "containers" };
    pod["spec"][field].as_array().into_iter().flatten()
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

fn add(usage: &mut Usage, key: &str, q: Quantity) {
    let sum = match usage.get(key) {
        Some(have) => *have + q,
        None => q,
    };
    usage.insert(key.to_string(), sum);
}

/// The quota usage one object accounts for (kube's evaluators: object counts, a Pod's
/// requests and limits, a PVC's storage, a Service's load balancers and node ports).
pub fn usage_of(res: &Resource, obj: &Value) -> Usage {
    let mut u = Usage::new();
    let count = if res.group.is_empty() {
        format!("count/{}", res.plural)
    } else {
        format!("count/{}.{}", res.plural, res.group)
    };
    add(&mut u, &count, Quantity::from_int(1));
    if !res.group.is_empty() {
        return u;
    }
    match res.plural.as_str() {
        "pods" => {
            let phase = obj["status"]["phase"].as_str().unwrap_or_default();
            if matches!(phase, "Succeeded" | "Failed") {
                return Usage::new();
            }
            add(&mut u, "pods", Quantity::from_int(1));
            let mut sums = Usage::new();
            for c in containers(obj, false) {
                for (kind, prefix) in [("requests", "requests."), ("limits", "limits.")] {
                    for (r, v) in c["resources"][kind].as_object().into_iter().flatten() {
                        if let Some(q) = quantity(v) {
                            add(&mut sums, &format!("{prefix}{r}"), q);
                        }
                    }
                }
            }
            // An init container runs alone: the pod needs the largest of them, if larger.
            for c in containers(obj, true) {
                for (kind, prefix) in [("requests", "requests."), ("limits", "limits.")] {
                    for (r, v) in c["resources"][kind].as_object().into_iter().flatten() {
                        let key = format!("{prefix}{r}");
                        if let Some(q) = quantity(v)
                            && sums.get(&key).is_none_or(|have| q > *have)
                        {
                            sums.insert(key, q);
                        }
                    }
                }
            }
            for (k, q) in sums {
                if let Some(r) = k.strip_prefix("requests.")
                    && matches!(r, "cpu" | "memory" | "ephemeral-storage")
                {
                    add(&mut u, r, q);
                }
                add(&mut u, &k, q);
            }
        }
        "services" => {
            add(&mut u, "services", Quantity::from_int(1));
            match obj["spec"]["type"].as_str() {
                Some("LoadBalancer") => {
                    add(&mut u, "services.loadbalancers", Quantity::from_int(1));
                    let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len) as i64;
                    add(&mut u, "services.nodeports", Quantity::from_int(ports));
                }
                Some("NodePort") => {
                    let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len) as i64;
                    add(&mut u, "services.nodeports", Quantity::from_int(ports));
                }
                _ => {}
            }
        }
        "persistentvolumeclaims" => {
            add(&mut u, "persistentvolumeclaims", Quantity::from_int(1));
            if let Some(q) = quantity(&obj["spec"]["resources"]["requests"]["storage"]) {
                add(&mut u, "requests.storage", q);
            }
        }
        "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => {
            add(&mut u, &res.plural, Quantity::from_int(1));
        }
        _ => {}
    }
    u
}

/// What a namespace uses of the resources a quota names, from the store.
fn namespace_usage(cluster: &Cluster, ns: &str, tracked: &[String]) -> Usage {
    let registry = cluster.registry.snapshot();
    let mut wanted: Vec<(String, String)> = Vec::new();
    for r in tracked {
        let (group, plural) = match r.strip_prefix("count/") {
            Some(gr) => match gr.split_once('.') {
                Some((p, g)) => (g.to_string(), p.to_string()),
                None => (String::new(), gr.to_string()),
            },
            None => match r.as_str() {
                "services" | "services.loadbalancers" | "services.nodeports" => {
                    (String::new(), "services".into())
                }
                "persistentvolumeclaims" | "requests.storage" => {
                    (String::new(), "persistentvolumeclaims".into())
                }
                "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => {
                    (String::new(), r.clone())
                }
                _ => (String::new(), "pods".into()),
            },
        };
        if !wanted.contains(&(group.clone(), plural.clone())) {
            wanted.push((group, plural));
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
            for (k, q) in usage_of(res, &obj) {
                add(&mut total, &k, q);
            }
        }
    }
    total
}

fn pretty(u: &Usage) -> String {
    u.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

const VALIDATION_SET: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// A Pod must name, in every container, each cpu/memory request and limit a quota tracks.
fn must_specify(pod: &Value, hard: &Usage) -> Option<String> {
    let mut missing: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in VALIDATION_SET.iter().filter(|r| hard.contains_key(**r)) {
        let (list, key) = match r.split_once('.') {
            Some(("limits", k)) => ("limits", k),
            Some((_, k)) => ("requests", k),
            None => ("requests", *r),
        };
        for c in containers(pod, false).chain(containers(pod, true)) {
            if c["resources"][list].get(key).is_none() {
                missing
                    .entry(r)
                    .or_default()
                    .push(c["name"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .into_iter()
        .map(|(r, mut names)| {
            names.sort();
            names.dedup();
            format!("{r} for: {}", names.join(","))
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
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
    let delta = usage_of(res, obj);
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
        let (mut requested, mut was, mut limited) = (Usage::new(), Usage::new(), Usage::new());
        for r in &tracked {
            let now = used.get(r).copied().unwrap_or(Quantity::ZERO);
            let want = delta[r];
            if now + want > hard[r] {
                requested.insert(r.clone(), want);
                was.insert(r.clone(), now);
                limited.insert(r.clone(), hard[r]);
            }
        }
        if !requested.is_empty() {
            return Err(ApiError::forbidden(
                &res.group,
                &res.plural,
                name,
                &format!(
                    "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                    pretty(&requested),
                    pretty(&was),
                    pretty(&limited)
                ),
            ));
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
