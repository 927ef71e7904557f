//! Role aggregation as KubeSphere does it: a role keeps its own `rules` and gains each rule of
//! the templates its `aggregationRoleTemplates` names (`templateNames`) or selects
//! (`roleSelector`) that its rules do not already cover. Aggregation never removes a rule, and
//! runs again whenever a template changes.

use apimachinery::LabelSelector;
use apimachinery::rbac::{Rule, covers};
use kube::Client;
use serde_json::{Value, json};

use crate::cache::Caches;
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;

/// KubeSphere 3's form of `aggregationRoleTemplates.templateNames`, which roles written at
/// `v1alpha2` carry: the annotation `iam.kubesphere.io/aggregation-roles` holding a JSON list
/// of template names. Read when the role has no `aggregationRoleTemplates`.
pub const LEGACY_AGGREGATION_ANNOTATION: &str = "iam.kubesphere.io/aggregation-roles";

fn legacy_template_names(role: &Value) -> Option<Vec<Value>> {
    let text = role["metadata"]["annotations"][LEGACY_AGGREGATION_ANNOTATION].as_str()?;
    let names: Vec<Value> = serde_json::from_str::<Vec<String>>(text)
        .ok()?
        .into_iter()
        .map(Value::String)
        .collect();
    (!names.is_empty()).then_some(names)
}

/// The templates `role` aggregates, in order: those it names, then those its selector
/// matches (by name); `None` when it names and selects none.
pub fn templates_of(caches: &Caches, role: &Value) -> Option<Vec<Value>> {
    let legacy = legacy_template_names(role);
    let agg = match role.get("aggregationRoleTemplates") {
        Some(a) if !a.is_null() => a.clone(),
        _ => json!({"templateNames": legacy?}),
    };
    let names: Vec<&str> = agg["templateNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let selector = agg
        .get("roleSelector")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        .and_then(|s| LabelSelector::from_label_selector_json(s).ok());
    if names.is_empty() && selector.is_none() {
        return None;
    }
    let mut templates: Vec<Value> = names
        .iter()
        .filter_map(|name| caches.role_templates.get(name))
        .map(|t| t.obj.clone())
        .collect();
    if let Some(sel) = &selector {
        let mut matched: Vec<_> = caches
            .role_templates
            .list()
            .into_iter()
            .filter(|t| !names.contains(&t.name()) && sel.matches(&t.obj["metadata"]["labels"]))
            .collect();
        matched.sort_by(|a, b| a.name().cmp(b.name()));
        templates.extend(matched.into_iter().map(|t| t.obj.clone()));
    }
    Some(templates)
}

/// `own` followed by every rule of `templates` (each a RoleTemplate) not covered by the rules
/// before it, in the templates' order.
pub fn merge_rules(own: &[Value], templates: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = own.to_vec();
    let mut held: Vec<Rule> = out.iter().map(Rule::from_json).collect();
    for t in templates {
        for r in t["spec"]["rules"].as_array().into_iter().flatten() {
            let rule = Rule::from_json(r);
            if !covers(&held, std::slice::from_ref(&rule)).0 {
                out.push(r.clone());
                held.push(rule);
            }
        }
    }
    out
}

/// The rules `role` should carry: its own plus its templates' uncovered rules, or `None` when
/// it aggregates no templates.
pub fn aggregate_rules(caches: &Caches, role: &Value) -> Option<Value> {
    let templates = templates_of(caches, role)?;
    let own = role["rules"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    Some(Value::Array(merge_rules(own, &templates)))
}

/// The versions of the caches aggregation reads ([`Caches`]' role kinds and templates) as a
/// pass that left every role aggregated found them.
#[derive(Default)]
pub struct Aggregated(Option<[u64; 5]>);

fn input_versions(caches: &Caches) -> [u64; 5] {
    [
        caches.role_templates.version(),
        caches.global_roles.version(),
        caches.workspace_roles.version(),
        caches.cluster_roles.version(),
        caches.roles.version(),
    ]
}

/// [`reconcile`] unless nothing it reads changed since a pass that left every role aggregated
/// (the roles' rules are a function of those caches alone). A pass that patched roles runs
/// again once their changes reach the caches, and finds them done.
pub async fn reconcile_changed(
    client: &Client,
    caches: &Caches,
    done: &mut Aggregated,
) -> Result<(), PlatformError> {
    // Read before the pass: anything that changes during it makes the next pass run.
    let versions = input_versions(caches);
    if done.0 == Some(versions) {
        return Ok(());
    }
    if !caches.role_templates.is_synced() {
        return Ok(());
    }
    reconcile(client, caches).await?;
    done.0 = Some(versions);
    Ok(())
}

/// One pass over every role kind.
pub async fn reconcile(client: &Client, caches: &Caches) -> Result<(), PlatformError> {
    if !caches.role_templates.is_synced() {
        return Ok(());
    }
    for (kind, cache) in [
        (Kind::GlobalRole, &caches.global_roles),
        (Kind::WorkspaceRole, &caches.workspace_roles),
        (Kind::ClusterRole, &caches.cluster_roles),
        (Kind::Role, &caches.roles),
    ] {
        for role in cache.list() {
            let Some(rules) = aggregate_rules(caches, &role.obj) else {
                continue;
            };
            let current = role.obj.get("rules").cloned().unwrap_or_else(|| json!([]));
            if current == rules {
                continue;
            }
            let ns = role.obj["metadata"]["namespace"].as_str();
            kubeapi::merge_patch(client, kind, ns, role.name(), json!({"rules": rules})).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(rules: Value) -> Value {
        json!({"spec": {"rules": rules}})
    }

    #[test]
    fn kubesphere_3_roles_name_their_templates_in_an_annotation() {
        let caches = Caches::new();
        for name in ["view-users", "manage-apps"] {
            caches.role_templates.insert_object(json!({
                "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "RoleTemplate",
                "metadata": {"name": name, "resourceVersion": "1"}, "spec": {"rules": []}}));
        }
        let legacy = json!({"metadata": {"name": "r", "annotations": {
            LEGACY_AGGREGATION_ANNOTATION: "[\"view-users\",\"manage-apps\",\"gone\"]"}}});
        let names = |v: Option<Vec<Value>>| {
            v.unwrap_or_default()
                .iter()
                .map(|t| {
                    t["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(templates_of(&caches, &legacy)),
            ["view-users", "manage-apps"]
        );
        // `aggregationRoleTemplates` wins over the annotation; garbage in it names nothing.
        let both = json!({"metadata": legacy["metadata"].clone(),
            "aggregationRoleTemplates": {"templateNames": ["manage-apps"]}});
        assert_eq!(names(templates_of(&caches, &both)), ["manage-apps"]);
        let garbage =
            json!({"metadata": {"annotations": {LEGACY_AGGREGATION_ANNOTATION: "view-users"}}});
        assert!(templates_of(&caches, &garbage).is_none());
    }

    #[test]
    fn a_star_role_keeps_star_and_gains_nothing_it_covers() {
        // KubeSphere's platform-admin: `*` rules and templates.
        let own = vec![
            json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
            json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
        ];
        let t = template(json!([
            {"apiGroups": ["iam.kubesphere.io"], "resources": ["users"], "verbs": ["get", "list"]},
            {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
        ]));
        assert_eq!(merge_rules(&own, &[t]), own);
    }

    #[test]
    fn templates_with_empty_rules_leave_own_rules() {
        // KubeSphere's cluster-viewer: own rules, templates whose rules are empty.
        let own = vec![json!({"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]})];
        let out = merge_rules(&own, &[template(json!([])), json!({"spec": {}})]);
        assert_eq!(out, own);
    }

    #[test]
    fn own_rules_stay_and_uncovered_template_rules_are_added_once() {
        // The project operator: its own autoscaling rule stays.
        let own = vec![
            json!({"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["*"]}),
            json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}),
        ];
        let a = template(json!([
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "update"]},
        ]));
        let b = template(json!([
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["update"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        ]));
        let out = merge_rules(&own, &[a, b]);
        assert_eq!(
            out,
            vec![
                own[0].clone(),
                own[1].clone(),
                json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "update"]}),
                json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}),
            ]
        );
        // Aggregating again changes nothing: the pass is idempotent.
        assert_eq!(merge_rules(&out, &[template(json!([own[1]]))]), out);
    }

    /// A pass runs when a cache it reads changed since the last pass that finished, and is
    /// skipped otherwise; a failed pass runs again. (The client points nowhere: a pass that
    /// must patch a role fails, one that is skipped or finds nothing to do succeeds.)
    #[tokio::test]
    async fn passes_run_only_when_their_inputs_changed() {
        let nowhere = kube::Config::new("http://127.0.0.1:1".parse().expect("url"));
        let client = Client::try_from(nowhere).expect("client");
        let caches = Caches::new();
        caches.role_templates.insert_object(json!({
            "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "RoleTemplate",
            "metadata": {"name": "t", "resourceVersion": "1"},
            "spec": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}}));
        caches.role_templates.mark_synced();
        let role = |rv: &str, rules: Value| {
            json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "GlobalRole",
                "metadata": {"name": "r", "resourceVersion": rv},
                "aggregationRoleTemplates": {"templateNames": ["t"]}, "rules": rules})
        };
        let aggregated = json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]);
        caches
            .global_roles
            .insert_object(role("1", aggregated.clone()));
        let mut done = Aggregated::default();
        // Nothing to patch: the pass succeeds and is remembered.
        reconcile_changed(&client, &caches, &mut done)
            .await
            .expect("nothing to patch");
        assert_eq!(done.0, Some(input_versions(&caches)));
        // The role changes (its rules lost): the next pass runs, must patch, and fails.
        caches.global_roles.insert_object(role("2", json!([])));
        assert!(
            reconcile_changed(&client, &caches, &mut done)
                .await
                .is_err()
        );
        // Failed, so it is not remembered: the pass after runs (and fails) again.
        assert!(
            reconcile_changed(&client, &caches, &mut done)
                .await
                .is_err()
        );
        // Inputs as a finished pass found them: skipped, though the role would need a patch.
        done.0 = Some(input_versions(&caches));
        reconcile_changed(&client, &caches, &mut done)
            .await
            .expect("skipped");
        // A template changing makes it run again.
        caches.role_templates.insert_object(json!({
            "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "RoleTemplate",
            "metadata": {"name": "u", "resourceVersion": "3"}, "spec": {"rules": []}}));
        assert!(
            reconcile_changed(&client, &caches, &mut done)
                .await
                .is_err()
        );
        caches.global_roles.insert_object(role("4", aggregated));
        reconcile_changed(&client, &caches, &mut done)
            .await
            .expect("aggregated again");
    }
}
