//! kube-apiserver's RBAC escalation prevention, for writes of Roles, ClusterRoles and their
//! bindings (`pkg/registry/rbac/*/policybased` in Kubernetes).
//!
//! A user may only write a Role or ClusterRole whose rules they already hold (in that
//! namespace; cluster-wide for a ClusterRole), unless they may `escalate` it; and may only
//! write a binding to a role whose rules they already hold, unless they may `bind` it. A
//! binding to a role that does not exist is possible only with `bind`. Members of
//! `system:masters` are exempt, and so are the server's own writes (aggregation), which carry
//! no user. Rules are compared with [`apimachinery::rbac::covers`], Kubernetes' `Covers`.

use apimachinery::rbac::{Rule, covers};
use apimachinery::status::ApiError;
use serde_json::Value;

use crate::auth::UserInfo;
use crate::cluster::Cluster;
use crate::rbac::Attributes;
use crate::registry::Resource;

const GROUP: &str = "rbac.authorization.k8s.io";

/// Refuses a create or update of an RBAC object by `user` that would grant permissions the
/// user does not hold. `old` is the stored object for updates.
pub fn check(
    cluster: &Cluster,
    res: &Resource,
    user: Option<&UserInfo>,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    if res.group != GROUP {
        return Ok(());
    }
    let Some(user) = user else {
        return Ok(());
    };
    if user.is_admin() {
        return Ok(());
    }
    if let Some(old) = old
        && only_gc_fields_differ(old, new)
    {
        return Ok(());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = new["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty() && res.namespaced);
    match res.plural.as_str() {
        "roles" | "clusterroles" => {
            if allowed(cluster, user, "escalate", &res.plural, name, namespace) {
                return Ok(());
            }
            if res.plural == "clusterroles" {
                let aggregation = |v: &Value| v.get("aggregationRule").cloned();
                let changed = old.map(aggregation) != Some(aggregation(new));
                if new.get("aggregationRule").is_some_and(|a| !a.is_null()) && changed {
                    return Err(forbidden(
                        res,
                        name,
                        &format!(
                            "must have cluster-admin privileges to use the aggregationRule; user {:?} may not escalate clusterroles",
                            user.name
                        ),
                    ));
                }
            }
            let rules = rules_of(new);
            confirm_no_escalation(cluster, res, name, user, namespace, &rules)
        }
        "rolebindings" | "clusterrolebindings" => {
            let role_kind = new["roleRef"]["kind"].as_str().unwrap_or_default();
            let role_name = new["roleRef"]["name"].as_str().unwrap_or_default();
            let role_resource = match role_kind {
                "Role" => "roles",
                _ => "clusterroles",
            };
            if allowed(cluster, user, "bind", role_resource, role_name, namespace) {
                return Ok(());
            }
            let role_key = match (role_kind, namespace) {
                ("Role", Some(ns)) => {
                    crate::registry::keys::object(GROUP, "roles", Some(ns), role_name)
                }
                _ => crate::registry::keys::object(GROUP, "clusterroles", None, role_name),
            };
            let Some(kv) = cluster.store.get(&role_key) else {
                return Err(ApiError::not_found(GROUP, role_resource, role_name));
            };
            let role: Value = serde_json::from_slice(&kv.value)
                .map_err(|e| ApiError::internal(format!("stored role is not JSON: {e}")))?;
            confirm_no_escalation(cluster, res, name, user, namespace, &rules_of(&role))
        }
        _ => Ok(()),
    }
}

/// The rules of a Role or ClusterRole object.
fn rules_of(role: &Value) -> Vec<Rule> {
    apimachinery::rbac::rules_from_json(role.get("rules"))
}

/// Whether `user` may `verb` (`bind`, `escalate`) the RBAC role `name`.
fn allowed(
    cluster: &Cluster,
    user: &UserInfo,
    verb: &str,
    resource: &str,
    name: &str,
    namespace: Option<&str>,
) -> bool {
    cluster.rbac.allows(
        user,
        &Attributes {
            verb: verb.into(),
            namespace: namespace.map(str::to_string),
            api_group: GROUP.into(),
            resource: resource.into(),
            subresource: None,
            name: Some(name.to_string()).filter(|n| !n.is_empty()),
            path: None,
        },
    )
}

/// kube's `ConfirmNoEscalation`: the user's own rules (in `namespace`, or cluster-wide) must
/// cover `rules`.
fn confirm_no_escalation(
    cluster: &Cluster,
    res: &Resource,
    name: &str,
    user: &UserInfo,
    namespace: Option<&str>,
    rules: &[Rule],
) -> Result<(), ApiError> {
    let owner = cluster.rbac.rules_for(user, namespace);
    let (ok, missing) = covers(&owner, rules);
    if ok {
        return Ok(());
    }
    let mut lines: Vec<String> = compact(missing).iter().map(compact_string).collect();
    lines.sort();
    lines.dedup();
    Err(forbidden(
        res,
        name,
        &format!(
            "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            go_quoted_list(&user.groups),
            lines.join("\n")
        ),
    ))
}

fn forbidden(res: &Resource, name: &str, reason: &str) -> ApiError {
    ApiError::forbidden(
        &res.group,
        &res.plural,
        name,
        &format!(
            "{}.{} {name:?} is forbidden: {reason}",
            res.plural, res.group
        ),
    )
}

/// kube's `CompactRules`: rules that differ only in their verbs become one rule.
fn compact(rules: Vec<Rule>) -> Vec<Rule> {
    let mut out: Vec<Rule> = Vec::new();
    for rule in rules {
        let same = out.iter_mut().find(|r| {
            r.api_groups == rule.api_groups
                && r.resources == rule.resources
                && r.resource_names == rule.resource_names
                && r.non_resource_urls == rule.non_resource_urls
        });
        match same {
            Some(r) => {
                for v in rule.verbs {
                    if !r.verbs.contains(&v) {
                        r.verbs.push(v);
                    }
                }
            }
            None => out.push(rule),
        }
    }
    out
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| apimachinery::go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// kube's `CompactString` of a rule: `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`.
fn compact_string(r: &Rule) -> String {
    let mut parts = Vec::new();
    for (label, list) in [
        ("APIGroups", &r.api_groups),
        ("Resources", &r.resources),
        ("NonResourceURLs", &r.non_resource_urls),
        ("ResourceNames", &r.resource_names),
        ("Verbs", &r.verbs),
    ] {
        if !list.is_empty() {
            parts.push(format!("{label}:{}", go_quoted_list(list)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// kube's `IsOnlyMutatingGCFields`: an update that only touches owner references and
/// finalizers (so that garbage collection can finish) needs no escalation check.
fn only_gc_fields_differ(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "ownerReferences",
                "finalizers",
                "resourceVersion",
                "managedFields",
                "generation",
            ] {
                meta.remove(k);
            }
        }
        v
    };
    strip(old) == strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_read_as_kubes() {
        let rules = apimachinery::rbac::rules_from_json(Some(&json!([
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
        ])));
        let lines: Vec<String> = compact(rules).iter().map(compact_string).collect();
        assert_eq!(
            lines,
            vec![
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}"#,
                r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#,
            ]
        );
        assert_eq!(
            go_quoted_list(&["system:serviceaccounts".into(), "a\"b".into()]),
            r#"["system:serviceaccounts" "a\"b"]"#
        );
    }

    #[test]
    fn gc_only_updates_are_recognised() {
        let old = json!({"metadata": {"name": "r", "resourceVersion": "1"}, "rules": []});
        let gc = json!({"metadata": {"name": "r", "resourceVersion": "2", "finalizers": ["x"], "ownerReferences": []}, "rules": []});
        let real = json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["*"]}]});
        assert!(only_gc_fields_differ(&old, &gc));
        assert!(!only_gc_fields_differ(&old, &real));
    }
}
