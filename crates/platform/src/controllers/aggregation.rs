//! Keeps each role's `rules` equal to the union of the rules of its `aggregationRoleTemplates`
//! (named templates plus those its `roleSelector` matches).

use apimachinery::LabelSelector;
use kube::Client;
use serde_json::{Value, json};

use crate::cache::Caches;
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;

/// The aggregated rules of `role`, or `None` when it names no templates.
pub fn aggregate_rules(caches: &Caches, role: &Value) -> Option<Value> {
    let agg = role.get("aggregationRoleTemplates")?;
    let names: Vec<&str> = agg["templateNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let selector = agg
        .get("roleSelector")
        .filter(|s| s.is_object() && s.as_object().is_some_and(|m| !m.is_empty()))
        .and_then(|s| LabelSelector::from_label_selector_json(s).ok());
    if names.is_empty() && selector.is_none() {
        return None;
    }
    let mut templates: Vec<Value> = Vec::new();
    for name in &names {
        if let Some(t) = caches.role_templates.get(name) {
            templates.push(t.obj.clone());
        }
    }
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
    let mut rules: Vec<Value> = Vec::new();
    for t in &templates {
        for r in t["spec"]["rules"].as_array().into_iter().flatten() {
            if !rules.contains(r) {
                rules.push(r.clone());
            }
        }
    }
    Some(Value::Array(rules))
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
