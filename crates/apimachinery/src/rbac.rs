//! Kubernetes RBAC rule matching and coverage over `PolicyRule`s (pure, no I/O): the one
//! matcher both of Orrery's authorizers use — the embedded API server's and the platform's —
//! so that a rule means the same thing on every path. It follows kube's
//! `plugin/pkg/auth/authorizer/rbac` (`RuleAllows`) and
//! `component-helpers/auth/rbac/validation` (`Covers`, used by the escalation checks).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One `rbac.authorization.k8s.io/v1` PolicyRule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Verbs (`*` matches all).
    #[serde(default)]
    pub verbs: Vec<String>,
    /// API groups (`*` matches all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// Resources, optionally `resource/subresource`, `*` or `*/sub`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Object names; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource URL paths; a trailing `*` is a prefix match.
    #[serde(
        default,
        rename = "nonResourceURLs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<String>,
}

/// What a request asks for, as RBAC sees it (kube's `authorizer.Attributes`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Attributes<'a> {
    /// The verb (`get`, `list`, `create`, `bind`, …).
    pub verb: &'a str,
    /// A resource request (`/api`, `/apis`), or a non-resource one (`/healthz`).
    pub is_resource_request: bool,
    /// API group ("" for core).
    pub api_group: &'a str,
    /// Resource (plural).
    pub resource: &'a str,
    /// Subresource, "" for none.
    pub subresource: &'a str,
    /// Object name, "" for none.
    pub name: &'a str,
    /// The URL path of a non-resource request.
    pub path: &'a str,
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

    /// Whether this rule allows the request (kube's `RuleAllows`).
    pub fn allows(&self, a: &Attributes) -> bool {
        if !verb_matches(&self.verbs, a.verb) {
            return false;
        }
        if a.is_resource_request {
            any_or(&self.api_groups, a.api_group)
                && resource_matches(&self.resources, a.resource, a.subresource)
                && (self.resource_names.is_empty()
                    || (!a.name.is_empty() && self.resource_names.iter().any(|n| n == a.name)))
        } else {
            self.non_resource_urls
                .iter()
                .any(|u| url_matches(u, a.path))
        }
    }
}

/// Whether any of `rules` allows the request.
pub fn rules_allow(rules: &[Rule], a: &Attributes) -> bool {
    rules.iter().any(|r| r.allows(a))
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

    fn rule(v: Value) -> Rule {
        Rule::from_json(&v)
    }

    /// A request from a method and path, parsed the simple way these tests need.
    fn req(method: &str, path: &str) -> Owned {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, rest) = match segs.first() {
            Some(&"api") => ("".to_string(), &segs[2..]),
            Some(&"apis") => (segs[1].to_string(), &segs[3..]),
            _ => {
                return Owned {
                    verb: if method == "GET" { "get" } else { "post" }.into(),
                    path: path.into(),
                    ..Owned::default()
                };
            }
        };
        let rest: Vec<&str> = match rest {
            ["namespaces", _, tail @ ..] if !tail.is_empty() => tail.to_vec(),
            other => other.to_vec(),
        };
        let name = rest.get(1).copied().unwrap_or("");
        let verb = match (method, name.is_empty()) {
            ("GET", true) => "list",
            ("GET", false) => "get",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", _) => "delete",
            _ => "",
        };
        Owned {
            verb: verb.into(),
            resource_request: true,
            group,
            resource: rest.first().copied().unwrap_or("").into(),
            subresource: rest.get(2).copied().unwrap_or("").into(),
            name: name.into(),
            path: path.into(),
        }
    }

    #[derive(Default)]
    struct Owned {
        verb: String,
        resource_request: bool,
        group: String,
        resource: String,
        subresource: String,
        name: String,
        path: String,
    }

    trait AllowsOwned {
        fn allows_req(&self, r: &Owned) -> bool;
    }

    impl AllowsOwned for Rule {
        fn allows_req(&self, r: &Owned) -> bool {
            self.allows(&Attributes {
                verb: &r.verb,
                is_resource_request: r.resource_request,
                api_group: &r.group,
                resource: &r.resource,
                subresource: &r.subresource,
                name: &r.name,
                path: &r.path,
            })
        }
    }

    #[test]
    fn verbs_groups_resources() {
        let r =
            rule(serde_json::json!({"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}));
        assert!(r.allows_req(&req("GET", "/api/v1/namespaces/a/pods")));
        assert!(r.allows_req(&req("GET", "/api/v1/namespaces/a/pods/p")));
        assert!(!r.allows_req(&req("DELETE", "/api/v1/namespaces/a/pods/p")));
        assert!(!r.allows_req(&req("GET", "/apis/apps/v1/namespaces/a/deployments")));
        assert!(!r.allows_req(&req("GET", "/api/v1/namespaces/a/pods/p/log")));
    }

    #[test]
    fn subresources_and_wildcards() {
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["pods/*"]}));
        assert!(!r.allows_req(&req("GET", "/api/v1/namespaces/a/pods/p/log")));
        assert!(!r.allows_req(&req("GET", "/api/v1/namespaces/a/pods/p")));
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["*/scale"]}));
        assert!(r.allows_req(&req(
            "PUT",
            "/apis/apps/v1/namespaces/a/deployments/d/scale"
        )));
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["*"]}));
        assert!(r.allows_req(&req(
            "PUT",
            "/apis/apps/v1/namespaces/a/deployments/d/scale"
        )));
    }

    #[test]
    fn resource_names_need_a_name() {
        let r = rule(
            serde_json::json!({"verbs":["get","list"],"apiGroups":[""],"resources":["configmaps"],"resourceNames":["x"]}),
        );
        assert!(r.allows_req(&req("GET", "/api/v1/namespaces/a/configmaps/x")));
        assert!(!r.allows_req(&req("GET", "/api/v1/namespaces/a/configmaps/y")));
        assert!(!r.allows_req(&req("GET", "/api/v1/namespaces/a/configmaps")));
    }

    #[test]
    fn non_resource_urls() {
        let r =
            rule(serde_json::json!({"verbs":["get"],"nonResourceURLs":["/healthz","/metrics/*"]}));
        assert!(r.allows_req(&req("GET", "/healthz")));
        assert!(r.allows_req(&req("GET", "/metrics/x")));
        assert!(!r.allows_req(&req("GET", "/metricsx")));
        assert!(!r.allows_req(&req("POST", "/healthz")));
        assert!(!r.allows_req(&req("GET", "/api/v1/pods")));
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

    mod coverage {
        use super::*;
        use proptest::prelude::*;

        const VERBS: [&str; 3] = ["get", "list", "create"];
        const GROUPS: [&str; 2] = ["", "apps"];
        const RESOURCES: [&str; 4] = ["pods", "pods/log", "deployments", "deployments/scale"];
        const NAMES: [&str; 2] = ["a", "b"];

        fn subset(
            items: &'static [&'static str],
            min: usize,
        ) -> impl Strategy<Value = Vec<String>> {
            prop::sample::subsequence(items, min..=items.len())
                .prop_map(|v| v.into_iter().map(str::to_string).collect())
        }

        fn owner_rule() -> impl Strategy<Value = Rule> {
            (
                subset(&["get", "list", "create", "*"], 0),
                subset(&["", "apps", "*"], 0),
                subset(
                    &[
                        "pods",
                        "pods/log",
                        "deployments",
                        "deployments/scale",
                        "*",
                        "*/scale",
                        "*/log",
                        "pods/*",
                    ],
                    0,
                ),
                prop_oneof![Just(Vec::new()), subset(&NAMES, 1)],
            )
                .prop_map(|(verbs, api_groups, resources, resource_names)| Rule {
                    verbs,
                    api_groups,
                    resources,
                    resource_names,
                    non_resource_urls: Vec::new(),
                })
        }

        fn servant_rule() -> impl Strategy<Value = Rule> {
            (
                subset(&VERBS, 1),
                subset(&GROUPS, 1),
                subset(&RESOURCES, 1),
                prop_oneof![Just(Vec::new()), subset(&NAMES, 1)],
            )
                .prop_map(|(verbs, api_groups, resources, resource_names)| Rule {
                    verbs,
                    api_groups,
                    resources,
                    resource_names,
                    non_resource_urls: Vec::new(),
                })
        }

        /// Every concrete request of the small universe.
        fn universe() -> Vec<(String, String, String, String, String)> {
            let mut out = Vec::new();
            for v in VERBS {
                for g in GROUPS {
                    for r in RESOURCES {
                        let (res, sub) = r.split_once('/').unwrap_or((r, ""));
                        for n in ["", "a", "b"] {
                            out.push((v.into(), g.into(), res.into(), sub.into(), n.into()));
                        }
                    }
                }
            }
            out
        }

        proptest! {
            /// With concrete servant rules, `covers` says yes exactly when every request the
            /// servant allows, the owner allows too.
            #[test]
            fn covers_is_brute_force_inclusion(
                owner in prop::collection::vec(owner_rule(), 0..4),
                servant in prop::collection::vec(servant_rule(), 1..3),
            ) {
                let brute = universe().iter().all(|(v, g, r, sub, n)| {
                    let a = Attributes {
                        verb: v,
                        is_resource_request: true,
                        api_group: g,
                        resource: r,
                        subresource: sub,
                        name: n,
                        path: "",
                    };
                    !rules_allow(&servant, &a) || rules_allow(&owner, &a)
                });
                prop_assert_eq!(covers(&owner, &servant).0, brute);
            }
        }
    }
}
