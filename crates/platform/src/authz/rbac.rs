//! Kubernetes RBAC rule matching over JSON `PolicyRule`s (pure, no I/O).

use serde_json::Value;

use super::scope::RequestInfo;

/// One `rbac.authorization.k8s.io/v1` PolicyRule, parsed once from JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// Verbs (`*` matches all).
    pub verbs: Vec<String>,
    /// API groups (`*` matches all).
    pub api_groups: Vec<String>,
    /// Resources, optionally `resource/subresource`, `*`, `*/sub` or `res/*`.
    pub resources: Vec<String>,
    /// Object names; empty means any.
    pub resource_names: Vec<String>,
    /// Non-resource URL paths; a trailing `*` is a prefix match.
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Rule {
    /// Parses a PolicyRule object; missing fields are empty.
    pub fn from_json(v: &Value) -> Rule {
        Rule {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// Serialises back to a PolicyRule object (empty lists omitted).
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("verbs".into(), self.verbs.clone().into());
        for (k, v) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), v.clone().into());
            }
        }
        Value::Object(m)
    }

    /// Whether this rule allows the request.
    pub fn allows(&self, req: &RequestInfo) -> bool {
        if !verb_matches(&self.verbs, &req.verb) {
            return false;
        }
        if req.is_resource_request {
            any_or(&self.api_groups, &req.api_group)
                && resource_matches(&self.resources, &req.resource, &req.subresource)
                && (self.resource_names.is_empty()
                    || (!req.name.is_empty() && self.resource_names.contains(&req.name)))
        } else {
            self.non_resource_urls
                .iter()
                .any(|u| url_matches(u, &req.path))
        }
    }
}

/// Parses a list of PolicyRules.
pub fn rules_from_json(v: Option<&Value>) -> Vec<Rule> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(Rule::from_json).collect())
        .unwrap_or_default()
}

fn verb_matches(verbs: &[String], verb: &str) -> bool {
    verbs.iter().any(|v| v == "*" || v == verb)
}

fn any_or(list: &[String], want: &str) -> bool {
    list.iter().any(|v| v == "*" || v == want)
}

fn resource_matches(list: &[String], resource: &str, sub: &str) -> bool {
    let combined = if sub.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}/{sub}")
    };
    list.iter().any(|r| {
        if r == "*" || *r == combined {
            return true;
        }
        if sub.is_empty() {
            return false;
        }
        // `*/scale` matches every resource's scale. As in Kubernetes, `pods/*` is no pattern:
        // it matches a subresource literally named `*` only.
        r.strip_prefix("*/").is_some_and(|s| s == sub)
    })
}

/// Kubernetes' `validation.Covers`: whether `owner` holds every permission of `servant`, each
/// servant rule broken down to one verb, group, resource (and name or URL) at a time. Returns
/// the pieces not covered.
pub fn covers(owner: &[Rule], servant: &[Rule]) -> (bool, Vec<Rule>) {
    let mut missing = Vec::new();
    for rule in servant {
        for piece in break_down(rule) {
            if !owner.iter().any(|o| rule_covers(o, &piece)) {
                missing.push(piece);
            }
        }
    }
    (missing.is_empty(), missing)
}

fn one(s: &str) -> Vec<String> {
    vec![s.to_string()]
}

fn break_down(rule: &Rule) -> Vec<Rule> {
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in &rule.non_resource_urls {
            out.push(Rule {
                verbs: one(verb),
                non_resource_urls: one(url),
                ..Rule::default()
            });
        }
        for group in &rule.api_groups {
            for resource in &rule.resources {
                if rule.resource_names.is_empty() {
                    out.push(Rule {
                        verbs: one(verb),
                        api_groups: one(group),
                        resources: one(resource),
                        ..Rule::default()
                    });
                }
                for name in &rule.resource_names {
                    out.push(Rule {
                        verbs: one(verb),
                        api_groups: one(group),
                        resources: one(resource),
                        resource_names: one(name),
                        ..Rule::default()
                    });
                }
            }
        }
    }
    out
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|v| v == item)
}

fn has_all(list: &[String], items: &[String]) -> bool {
    items.iter().all(|i| has(list, i))
}

fn rule_covers(owner: &Rule, sub: &Rule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = has(&owner.resources, "*")
        || sub.resources.iter().all(|r| {
            has(&owner.resources, r)
                || r.split_once('/')
                    .is_some_and(|(_, s)| has(&owner.resources, &format!("*/{s}")))
        });
    let urls = has(&owner.non_resource_urls, "*")
        || sub.non_resource_urls.iter().all(|u| {
            owner
                .non_resource_urls
                .iter()
                .any(|o| o == u || o.strip_suffix('*').is_some_and(|p| u.starts_with(p)))
        });
    let names =
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names);
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        names
    };
    verbs && groups && resources && urls && names
}

fn url_matches(rule: &str, path: &str) -> bool {
    if rule == "*" {
        return true;
    }
    match rule.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => rule == path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::scope::RequestInfo;

    fn rule(v: Value) -> Rule {
        Rule::from_json(&v)
    }

    fn req(method: &str, path: &str) -> RequestInfo {
        RequestInfo::parse(method, path, "")
    }

    #[test]
    fn verbs_groups_resources() {
        let r =
            rule(serde_json::json!({"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}));
        assert!(r.allows(&req("GET", "/api/v1/namespaces/a/pods")));
        assert!(r.allows(&req("GET", "/api/v1/namespaces/a/pods/p")));
        assert!(!r.allows(&req("DELETE", "/api/v1/namespaces/a/pods/p")));
        assert!(!r.allows(&req("GET", "/apis/apps/v1/namespaces/a/deployments")));
        assert!(!r.allows(&req("GET", "/api/v1/namespaces/a/pods/p/log")));
    }

    #[test]
    fn subresources_and_wildcards() {
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["pods/*"]}));
        assert!(!r.allows(&req("GET", "/api/v1/namespaces/a/pods/p/log")));
        assert!(!r.allows(&req("GET", "/api/v1/namespaces/a/pods/p")));
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["*/scale"]}));
        assert!(r.allows(&req(
            "PUT",
            "/apis/apps/v1/namespaces/a/deployments/d/scale"
        )));
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["*"]}));
        assert!(r.allows(&req(
            "PUT",
            "/apis/apps/v1/namespaces/a/deployments/d/scale"
        )));
    }

    #[test]
    fn resource_names_need_a_name() {
        let r = rule(
            serde_json::json!({"verbs":["get","list"],"apiGroups":[""],"resources":["configmaps"],"resourceNames":["x"]}),
        );
        assert!(r.allows(&req("GET", "/api/v1/namespaces/a/configmaps/x")));
        assert!(!r.allows(&req("GET", "/api/v1/namespaces/a/configmaps/y")));
        assert!(!r.allows(&req("GET", "/api/v1/namespaces/a/configmaps")));
    }

    #[test]
    fn non_resource_urls() {
        let r =
            rule(serde_json::json!({"verbs":["get"],"nonResourceURLs":["/healthz","/metrics/*"]}));
        assert!(r.allows(&req("GET", "/healthz")));
        assert!(r.allows(&req("GET", "/metrics/x")));
        assert!(!r.allows(&req("GET", "/metricsx")));
        assert!(!r.allows(&req("POST", "/healthz")));
        assert!(!r.allows(&req("GET", "/api/v1/pods")));
    }

    #[test]
    fn coverage_as_kubernetes_checks_escalation() {
        let rules = |v: Value| rules_from_json(Some(&v));
        let owner = rules(serde_json::json!([
            {"verbs":["get","list"],"apiGroups":[""],"resources":["pods","configmaps"]},
            {"verbs":["*"],"apiGroups":["apps"],"resources":["*/scale"]},
            {"verbs":["get"],"apiGroups":[""],"resources":["secrets"],"resourceNames":["a"]},
            {"verbs":["get"],"nonResourceURLs":["/metrics/*"]}
        ]));
        let ok = |servant: Value| covers(&owner, &rules(servant)).0;
        assert!(ok(
            serde_json::json!([{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}])
        ));
        assert!(ok(
            serde_json::json!([{"verbs":["list","get"],"apiGroups":[""],"resources":["configmaps","pods"],"resourceNames":["x"]}])
        ));
        assert!(ok(
            serde_json::json!([{"verbs":["update"],"apiGroups":["apps"],"resources":["deployments/scale"]}])
        ));
        assert!(ok(
            serde_json::json!([{"verbs":["get"],"apiGroups":[""],"resources":["secrets"],"resourceNames":["a"]}])
        ));
        assert!(ok(
            serde_json::json!([{"verbs":["get"],"nonResourceURLs":["/metrics/cpu"]}])
        ));
        assert!(!ok(
            serde_json::json!([{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}])
        ));
        assert!(!ok(
            serde_json::json!([{"verbs":["get"],"apiGroups":[""],"resources":["secrets"]}])
        ));
        assert!(!ok(
            serde_json::json!([{"verbs":["get"],"apiGroups":[""],"resources":["secrets"],"resourceNames":["b"]}])
        ));
        assert!(!ok(
            serde_json::json!([{"verbs":["delete"],"apiGroups":[""],"resources":["pods"]}])
        ));
        assert!(!ok(
            serde_json::json!([{"verbs":["update"],"apiGroups":["apps"],"resources":["deployments"]}])
        ));
        let (_, missing) = covers(
            &owner,
            &rules(
                serde_json::json!([{"verbs":["get","delete"],"apiGroups":[""],"resources":["pods"]}]),
            ),
        );
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].verbs, vec!["delete".to_string()]);
    }

    #[test]
    fn round_trips() {
        let v = serde_json::json!({"verbs":["get"],"apiGroups":[""],"resources":["pods"],"resourceNames":["a"]});
        assert_eq!(rule(v.clone()).to_json(), v);
    }
}
