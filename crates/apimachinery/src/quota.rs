//! Quota accounting as kube-apiserver's quota evaluators do it, pure: what one object counts
//! for (object counts, a Pod's requests and limits, a PVC's storage, a Service's load
//! balancers and node ports), what a Pod must specify under a cpu/memory quota, and the
//! "exceeded quota" words. Shared by the embedded cluster's `ResourceQuota` admission and the
//! platform's workspace quotas.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::quantity::Quantity;

/// Quantities by quota resource name (`pods`, `requests.cpu`, `count/deployments.apps`…).
pub type Usage = BTreeMap<String, Quantity>;

/// A quantity as JSON holds it (a string, or a number).
pub fn quantity(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s).ok(),
        Value::Number(n) => n.as_i64().map(Quantity::from_int),
        _ => None,
    }
}

/// A Pod's containers (or init containers).
pub fn containers(pod: &Value, init: bool) -> impl Iterator<Item = &Value> {
    let field = if init { "initContainers" } else { "containers" };
    pod["spec"][field].as_array().into_iter().flatten()
}

/// Adds `q` to `usage[key]`.
pub fn add(usage: &mut Usage, key: &str, q: Quantity) {
    let sum = match usage.get(key) {
        Some(have) => *have + q,
        None => q,
    };
    usage.insert(key.to_string(), sum);
}

/// The quota usage one object of `group`/`plural` accounts for.
pub fn usage_of(group: &str, plural: &str, obj: &Value) -> Usage {
    let mut u = Usage::new();
    let count = if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    };
    add(&mut u, &count, Quantity::from_int(1));
    if !group.is_empty() {
        return u;
    }
    match plural {
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
            add(&mut u, plural, Quantity::from_int(1));
        }
        _ => {}
    }
    u
}

/// The resource whose objects account for a quota resource name: (group, plural).
pub fn resource_of(tracked: &str) -> (String, String) {
    match tracked.strip_prefix("count/") {
        Some(gr) => match gr.split_once('.') {
            Some((p, g)) => (g.to_string(), p.to_string()),
            None => (String::new(), gr.to_string()),
        },
        None => match tracked {
            "services" | "services.loadbalancers" | "services.nodeports" => {
                (String::new(), "services".into())
            }
            "persistentvolumeclaims" | "requests.storage" => {
                (String::new(), "persistentvolumeclaims".into())
            }
            "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => {
                (String::new(), tracked.to_string())
            }
            _ => (String::new(), "pods".into()),
        },
    }
}

/// `k=v,k=v`, sorted, as kube prints a resource list.
pub fn pretty(u: &Usage) -> String {
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

/// A Pod must name, in every container, each cpu/memory request and limit a quota tracks:
/// kube's "must specify …" words, or `None`.
pub fn must_specify(pod: &Value, hard: &Usage) -> Option<String> {
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

/// The words kube refuses a request with when `used + delta` passes `hard` for quota `name`,
/// listing only the resources exceeded; `None` when it fits.
pub fn exceeded(name: &str, hard: &Usage, used: &Usage, delta: &Usage) -> Option<String> {
    let (mut requested, mut was, mut limited) = (Usage::new(), Usage::new(), Usage::new());
    for (r, want) in delta {
        let Some(limit) = hard.get(r) else { continue };
        let now = used.get(r).copied().unwrap_or(Quantity::ZERO);
        if now + *want > *limit {
            requested.insert(r.clone(), *want);
            was.insert(r.clone(), now);
            limited.insert(r.clone(), *limit);
        }
    }
    (!requested.is_empty()).then(|| {
        format!(
            "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
            pretty(&requested),
            pretty(&was),
            pretty(&limited)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).expect("quantity")
    }

    #[test]
    fn a_pod_counts_its_containers_and_its_largest_init_container() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1"}}},
                {"name": "b", "resources": {"requests": {"cpu": "250m"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}]}});
        let u = usage_of("", "pods", &pod);
        assert_eq!(u["pods"], Quantity::from_int(1));
        assert_eq!(u["requests.cpu"].to_string(), "2");
        assert_eq!(u["cpu"].to_string(), "2");
        assert_eq!(u["requests.memory"].to_string(), "64Mi");
        assert_eq!(u["limits.cpu"].to_string(), "1");
        assert_eq!(u["count/pods"], Quantity::from_int(1));
        let done = json!({"status": {"phase": "Succeeded"}});
        assert!(
            usage_of("", "pods", &done).is_empty(),
            "finished pods count for nothing"
        );
        let d = usage_of("apps", "deployments", &json!({}));
        assert_eq!(d.keys().collect::<Vec<_>>(), ["count/deployments.apps"]);
    }

    #[test]
    fn exceeded_lists_only_what_is_exceeded_in_kube_words() {
        let hard: Usage = [("pods".into(), q("2")), ("requests.cpu".into(), q("1"))].into();
        let used: Usage = [("pods".into(), q("2")), ("requests.cpu".into(), q("250m"))].into();
        let delta: Usage = [("pods".into(), q("1")), ("requests.cpu".into(), q("100m"))].into();
        assert_eq!(
            exceeded("small", &hard, &used, &delta).as_deref(),
            Some("exceeded quota: small, requested: pods=1, used: pods=2, limited: pods=2")
        );
        let fits: Usage = [("requests.cpu".into(), q("750m"))].into();
        assert_eq!(exceeded("small", &hard, &used, &fits), None);
    }

    #[test]
    fn cpu_quotas_need_every_container_to_say_what_it_takes() {
        let hard: Usage = [
            ("requests.cpu".into(), q("1")),
            ("limits.cpu".into(), q("2")),
        ]
        .into();
        let pod = json!({"spec": {"containers": [{"name": "web"}, {"name": "side", "resources": {"requests": {"cpu": "1m"}}}]}});
        assert_eq!(
            must_specify(&pod, &hard).as_deref(),
            Some("must specify limits.cpu for: side,web; requests.cpu for: web")
        );
        assert_eq!(
            resource_of("count/deployments.apps"),
            ("apps".into(), "deployments".into())
        );
        assert_eq!(
            resource_of("requests.storage"),
            ("".into(), "persistentvolumeclaims".into())
        );
    }
}
