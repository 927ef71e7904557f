//! An extension package's `permissions.yaml`: the rights its installation needs, as
//! KubeSphere writes them — YAML documents of `kind: ClusterRole` (rules granted cluster-wide)
//! and `kind: Role` (rules granted in the extension's namespace), each with `rules` (RBAC
//! PolicyRules). The installer makes a ServiceAccount bound to exactly these rules and runs
//! the Helm engine as it, so the cluster's RBAC enforces them on every object of the chart.
//!
//! The installer's **ceiling** ([`check_ceiling`]): a package asking for more is refused before
//! anything is installed. Cluster-wide (`ClusterRole`) rules may not grant
//! - `escalate` or `bind` on roles or cluster roles (making or binding roles beyond one's own
//!   rights),
//! - `impersonate` of anything (users, groups, ServiceAccounts, uids, user extras),
//! - any verb on Secrets (every Secret of the cluster, the platform's signing keys included),
//! - `create` on `serviceaccounts/token` (a token of any ServiceAccount, kube-system's too),
//! - every verb on every resource of every group (`*` on `*`),
//! - a non-resource URL for anything but `get`.
//!
//! A rule with `resourceNames` counts as if it named every object. Namespaced (`Role`) rules
//! are not limited: they hold in the extension's own namespace only, which the installer
//! creates for it (and refuses to share with anything else), and a Role cannot reach outside
//! its namespace — not even with `bind`, `escalate` or `impersonate`.
//!
//! `permissions.yaml` is untrusted input: bounded in size, parsed with the Helm YAML
//! decoder's alias budget, every field checked for its type.

use apimachinery::rbac::{Attributes, Rule};
use serde_json::Value;

/// Largest `permissions.yaml` read.
pub const MAX_PERMISSIONS: usize = 64 * 1024;
/// Most rules in one file.
pub const MAX_RULES: usize = 256;

/// What `permissions.yaml` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    /// Rules granted cluster-wide (`kind: ClusterRole`).
    pub cluster: Vec<Rule>,
    /// Rules granted in the extension's namespace (`kind: Role`).
    pub namespace: Vec<Rule>,
}

fn strings(rule: &Value, field: &str, i: usize) -> Result<Vec<String>, String> {
    match &rule[field] {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .ok_or_else(|| format!("rule {i}: {field} must be a list of strings"))
            })
            .collect(),
        _ => Err(format!("rule {i}: {field} must be a list of strings")),
    }
}

fn rules(doc: &Value, kind: &str, namespaced: bool) -> Result<Vec<Rule>, String> {
    let list = match &doc["rules"] {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        _ => return Err(format!("{kind}: rules must be a list")),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        if !r.is_object() {
            return Err(format!("{kind}: rule {i} must be a map"));
        }
        let rule = Rule {
            verbs: strings(r, "verbs", i)?,
            api_groups: strings(r, "apiGroups", i)?,
            resources: strings(r, "resources", i)?,
            resource_names: strings(r, "resourceNames", i)?,
            non_resource_urls: strings(r, "nonResourceURLs", i)?,
        };
        if rule.verbs.is_empty() {
            return Err(format!("{kind}: rule {i} has no verbs"));
        }
        let resourceful = !rule.resources.is_empty();
        let urls = !rule.non_resource_urls.is_empty();
        if resourceful == urls {
            return Err(format!(
                "{kind}: rule {i} must name either resources or nonResourceURLs"
            ));
        }
        if resourceful && rule.api_groups.is_empty() {
            return Err(format!("{kind}: rule {i} names resources but no apiGroups"));
        }
        if urls && namespaced {
            return Err(format!(
                "{kind}: rule {i}: nonResourceURLs cannot be granted in a namespace"
            ));
        }
        out.push(rule);
    }
    Ok(out)
}

/// Reads and checks `permissions.yaml`.
pub fn parse(text: &str) -> Result<Permissions, String> {
    if text.len() > MAX_PERMISSIONS {
        return Err(format!(
            "permissions.yaml is larger than {MAX_PERMISSIONS} bytes"
        ));
    }
    let docs = helm::yaml::parse_documents(text)
        .map_err(|e| format!("permissions.yaml is not valid YAML: {e}"))?;
    let mut p = Permissions::default();
    for doc in docs {
        let doc = helm::values::schema::to_json(&doc);
        if doc.is_null() {
            continue;
        }
        if !doc.is_object() {
            return Err("permissions.yaml: every document must be a map".into());
        }
        match doc["kind"].as_str() {
            Some("ClusterRole") => p.cluster.extend(rules(&doc, "ClusterRole", false)?),
            Some("Role") => p.namespace.extend(rules(&doc, "Role", true)?),
            Some(other) => {
                return Err(format!(
                    "permissions.yaml: kind {other:?} is not ClusterRole or Role"
                ));
            }
            None => return Err("permissions.yaml: a document has no kind".into()),
        }
        if p.cluster.len() + p.namespace.len() > MAX_RULES {
            return Err(format!("permissions.yaml has more than {MAX_RULES} rules"));
        }
    }
    Ok(p)
}

/// A request the ceiling forbids cluster-wide, with the words saying why.
struct Forbidden {
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: &'static str,
    why: &'static str,
}

const FORBIDDEN: &[Forbidden] = &[
    Forbidden {
        verb: "escalate",
        group: "rbac.authorization.k8s.io",
        resource: "clusterroles",
        subresource: "",
        why: "escalate on cluster roles",
    },
    Forbidden {
        verb: "escalate",
        group: "rbac.authorization.k8s.io",
        resource: "roles",
        subresource: "",
        why: "escalate on roles",
    },
    Forbidden {
        verb: "bind",
        group: "rbac.authorization.k8s.io",
        resource: "clusterroles",
        subresource: "",
        why: "bind on cluster roles",
    },
    Forbidden {
        verb: "bind",
        group: "rbac.authorization.k8s.io",
        resource: "roles",
        subresource: "",
        why: "bind on roles",
    },
    Forbidden {
        verb: "impersonate",
        group: "",
        resource: "users",
        subresource: "",
        why: "impersonating users",
    },
    Forbidden {
        verb: "impersonate",
        group: "",
        resource: "groups",
        subresource: "",
        why: "impersonating groups",
    },
    Forbidden {
        verb: "impersonate",
        group: "",
        resource: "serviceaccounts",
        subresource: "",
        why: "impersonating ServiceAccounts",
    },
    Forbidden {
        verb: "impersonate",
        group: "authentication.k8s.io",
        resource: "uids",
        subresource: "",
        why: "impersonating uids",
    },
    Forbidden {
        verb: "impersonate",
        group: "authentication.k8s.io",
        resource: "userextras",
        subresource: "scopes",
        why: "impersonating user extras",
    },
    Forbidden {
        verb: "create",
        group: "",
        resource: "serviceaccounts",
        subresource: "token",
        why: "ServiceAccount tokens cluster-wide",
    },
];

const SECRET_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn describe(r: &Rule) -> String {
    if r.non_resource_urls.is_empty() {
        format!(
            "{{apiGroups: {:?}, resources: {:?}, verbs: {:?}}}",
            r.api_groups, r.resources, r.verbs
        )
    } else {
        format!(
            "{{nonResourceURLs: {:?}, verbs: {:?}}}",
            r.non_resource_urls, r.verbs
        )
    }
}

/// Why one cluster-wide rule exceeds the ceiling, if it does.
pub fn exceeds(rule: &Rule) -> Option<String> {
    // resourceNames narrow nothing here: a rule naming one object may name a powerful one.
    let r = Rule {
        resource_names: Vec::new(),
        ..rule.clone()
    };
    if !r.non_resource_urls.is_empty() {
        return r
            .verbs
            .iter()
            .find(|v| v.as_str() != "get")
            .map(|v| format!("{v:?} on non-resource URLs (only get may be granted)"));
    }
    let star = |l: &[String]| l.iter().any(|x| x == "*");
    if star(&r.verbs) && star(&r.api_groups) && star(&r.resources) {
        return Some("every verb on every resource (* on *)".into());
    }
    let allows = |verb: &str, group: &str, resource: &str, subresource: &str| {
        r.allows(&Attributes {
            verb,
            is_resource_request: true,
            api_group: group,
            resource,
            subresource,
            ..Default::default()
        })
    };
    for f in FORBIDDEN {
        if allows(f.verb, f.group, f.resource, f.subresource) {
            return Some(f.why.to_string());
        }
    }
    if SECRET_VERBS.iter().any(|v| allows(v, "", "secrets", "")) {
        return Some(
            "Secrets cluster-wide (a Role may grant them in the extension's namespace)".into(),
        );
    }
    None
}

/// Refuses permissions beyond the installer's ceiling (see the module's documentation),
/// naming each offending rule and why.
pub fn check_ceiling(p: &Permissions) -> Result<(), String> {
    let refused: Vec<String> = p
        .cluster
        .iter()
        .filter_map(|r| exceeds(r).map(|why| format!("ClusterRole rule {}: {why}", describe(r))))
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "permissions.yaml asks for more than the installer may grant: {}",
            refused.join("; ")
        ))
    }
}

/// The rules Helm's own bookkeeping needs in the release namespace (release records are
/// Secrets there), added to the extension's namespaced rules.
pub fn helm_storage_rules() -> Vec<Rule> {
    vec![Rule {
        verbs: SECRET_VERBS.iter().map(|v| v.to_string()).collect(),
        api_groups: vec![String::new()],
        resources: vec!["secrets".into()],
        ..Default::default()
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KUBESPHERE_STYLE: &str = r#"
kind: ClusterRole
rules:
  - apiGroups: [extensions.kubesphere.io]
    resources: ['*']
    verbs: ['*']
  - apiGroups: ['']
    resources: [namespaces]
    verbs: [get, list, watch]
  - nonResourceURLs: ['/metrics']
    verbs: [get]
---
kind: Role
rules:
  - apiGroups: ['', apps, batch]
    resources: ['*']
    verbs: ['*']
"#;

    #[test]
    fn reads_cluster_and_namespace_rules() {
        let p = parse(KUBESPHERE_STYLE).unwrap();
        assert_eq!(p.cluster.len(), 3);
        assert_eq!(p.namespace.len(), 1);
        assert_eq!(p.cluster[1].resources, ["namespaces"]);
        assert_eq!(p.namespace[0].api_groups, ["", "apps", "batch"]);
        check_ceiling(&p).unwrap();
        assert_eq!(parse("").unwrap(), Permissions::default());
    }

    #[test]
    fn refuses_malformed_files_with_a_reason() {
        for (text, want) in [
            ("kind: Deployment", "not ClusterRole or Role"),
            ("rules: []", "no kind"),
            ("- a", "must be a map"),
            ("kind: Role\nrules: 3", "rules must be a list"),
            (
                "kind: Role\nrules: [{apiGroups: [''], resources: [pods]}]",
                "no verbs",
            ),
            (
                "kind: Role\nrules: [{verbs: [get], resources: [pods]}]",
                "no apiGroups",
            ),
            (
                "kind: Role\nrules: [{verbs: [get], apiGroups: [''], resources: [pods], nonResourceURLs: ['/x']}]",
                "either",
            ),
            (
                "kind: Role\nrules: [{verbs: [get], nonResourceURLs: ['/x']}]",
                "in a namespace",
            ),
            (
                "kind: Role\nrules: [{verbs: get, apiGroups: [''], resources: [pods]}]",
                "list of strings",
            ),
            ("kind: [", "not valid YAML"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let big = format!("kind: Role\n#{}", "x".repeat(MAX_PERMISSIONS));
        assert!(parse(&big).unwrap_err().contains("larger"));
    }

    #[test]
    fn the_ceiling_refuses_each_dangerous_grant() {
        let cases = [
            (
                "{apiGroups: ['*'], resources: ['*'], verbs: ['*']}",
                "* on *",
            ),
            (
                "{apiGroups: [''], resources: [secrets], verbs: [get]}",
                "Secrets",
            ),
            (
                "{apiGroups: ['*'], resources: ['*'], verbs: [list]}",
                "Secrets",
            ),
            (
                "{apiGroups: [''], resources: ['*'], verbs: [watch]}",
                "Secrets",
            ),
            (
                "{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}",
                "escalate",
            ),
            (
                "{apiGroups: [rbac.authorization.k8s.io], resources: ['*'], verbs: ['*']}",
                "escalate",
            ),
            (
                "{apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [bind], resourceNames: [view]}",
                "bind",
            ),
            (
                "{apiGroups: [''], resources: [users], verbs: [impersonate]}",
                "impersonating users",
            ),
            (
                "{apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}",
                "ServiceAccounts",
            ),
            (
                "{apiGroups: [authentication.k8s.io], resources: ['*'], verbs: [impersonate]}",
                "uids",
            ),
            (
                "{apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}",
                "tokens",
            ),
            ("{nonResourceURLs: ['*'], verbs: ['*']}", "non-resource"),
        ];
        for (rule, want) in cases {
            let p = parse(&format!("kind: ClusterRole\nrules: [{rule}]")).unwrap();
            let e = check_ceiling(&p).unwrap_err();
            assert!(e.contains(want), "{rule}: {e}");
            assert!(e.contains("more than the installer may grant"), "{e}");
            // The same rule in the extension's namespace is its own business.
            let ns = rule.contains("nonResourceURLs");
            if !ns {
                let p = parse(&format!("kind: Role\nrules: [{rule}]")).unwrap();
                check_ceiling(&p).unwrap();
            }
        }
        // Reading roles, making ordinary objects and the extension kinds stay allowed.
        let ok = parse(
            "kind: ClusterRole\nrules:\n- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles, clusterrolebindings], verbs: [get, list, create, update, patch, delete]}\n- {apiGroups: ['', apps], resources: [configmaps, services, deployments], verbs: ['*']}\n- {apiGroups: [iam.kubesphere.io], resources: [roletemplates], verbs: ['*']}",
        )
        .unwrap();
        check_ceiling(&ok).unwrap();
    }

    proptest! {
        #[test]
        fn any_text_is_refused_or_read_within_bounds(text in "\\PC{0,400}") {
            if let Ok(p) = parse(&text) {
                prop_assert!(p.cluster.len() + p.namespace.len() <= MAX_RULES);
                for r in p.cluster.iter().chain(&p.namespace) {
                    prop_assert!(!r.verbs.is_empty());
                }
            }
        }

        #[test]
        fn a_rule_within_the_ceiling_grants_none_of_the_forbidden(
            verbs in proptest::collection::vec("(\\*|get|list|create|bind|escalate|impersonate|patch)", 1..3),
            groups in proptest::collection::vec("(\\*||rbac.authorization.k8s.io|apps|authentication.k8s.io)", 1..3),
            resources in proptest::collection::vec("(\\*|secrets|pods|roles|clusterroles|users|serviceaccounts|serviceaccounts/token|\\*/token)", 1..3),
        ) {
            let rule = Rule { verbs, api_groups: groups, resources, ..Default::default() };
            if exceeds(&rule).is_none() {
                for f in FORBIDDEN {
                    let a = Attributes {
                        verb: f.verb, is_resource_request: true, api_group: f.group,
                        resource: f.resource, subresource: f.subresource, ..Default::default()
                    };
                    prop_assert!(!rule.allows(&a), "{}", f.why);
                }
                for v in SECRET_VERBS {
                    let a = Attributes {
                        verb: v, is_resource_request: true, resource: "secrets", ..Default::default()
                    };
                    prop_assert!(!rule.allows(&a), "secrets {}", v);
                }
            }
        }
    }
}
