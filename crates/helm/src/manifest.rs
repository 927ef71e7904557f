//! Splitting rendered templates into manifests and ordering them for install (Helm's
//! `releaseutil.SortManifests` with `InstallOrder`), separating hooks.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use gotmpl::Value;
use regex::Regex;

/// Helm's `InstallOrder` of kinds.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// One manifest out of a rendered template.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The template path it came from.
    pub path: String,
    /// The YAML document.
    pub content: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `helm.sh/hook` events if it is a hook (empty otherwise).
    pub hook_events: Vec<String>,
    /// `helm.sh/hook-weight`.
    pub hook_weight: i64,
    /// `helm.sh/hook-delete-policy` values.
    pub hook_delete_policies: Vec<String>,
}

/// A rendered document that is not valid YAML.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("YAML parse error on {path}: {source}")]
pub struct ManifestError {
    /// The template path.
    pub path: String,
    /// The parse error.
    pub source: crate::yaml::YamlError,
}

static SEP: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?:^|\s*\n)---\s*").ok());

/// `SplitManifests`: documents of a template in order, blank ones dropped. The separator eats
/// the whitespace around `---`, so a document followed by another loses its trailing newline
/// while the last one keeps it (Helm v4.2.3's behaviour, checked with an install dry run).
pub fn split_manifests(text: &str) -> Vec<String> {
    let trimmed = text.trim_start();
    let docs: Vec<&str> = match SEP.as_ref() {
        Some(re) => re.split(trimmed).collect(),
        None => vec![trimmed],
    };
    docs.into_iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim_start().to_string())
        .collect()
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

/// `lessByKind`: known kinds in install order first, unknown kinds after, alphabetically.
fn less_by_kind(a: &str, b: &str) -> bool {
    match (kind_rank(a), kind_rank(b)) {
        (None, None) => a < b,
        (None, Some(_)) => false,
        (Some(_), None) => true,
        (Some(x), Some(y)) => x < y,
    }
}

fn stable_sort(items: &mut [Manifest]) {
    items.sort_by(|a, b| {
        if less_by_kind(&a.kind, &b.kind) {
            std::cmp::Ordering::Less
        } else if less_by_kind(&b.kind, &a.kind) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
}

fn get_str(m: &BTreeMap<String, Value>, k: &str) -> String {
    match m.get(k) {
        Some(Value::String(s)) => s.to_string(),
        _ => String::new(),
    }
}

/// `SortManifests`: (hooks, manifests), each in install order; partials and blank files skipped.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Manifest>, Vec<Manifest>), ManifestError> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let head = crate::yaml::parse_value(&doc).map_err(|source| ManifestError {
                path: path.clone(),
                source,
            })?;
            let head = head.as_map().map(|m| (*m).clone()).unwrap_or_default();
            let kind = get_str(&head, "kind");
            let meta = head
                .get("metadata")
                .and_then(Value::as_map)
                .map(|m| (*m).clone())
                .unwrap_or_default();
            let name = get_str(&meta, "name");
            let annotations = meta
                .get("annotations")
                .and_then(Value::as_map)
                .map(|m| (*m).clone())
                .unwrap_or_default();
            let mut m = Manifest {
                path: path.clone(),
                content: doc.clone(),
                kind,
                name,
                hook_events: Vec::new(),
                hook_weight: 0,
                hook_delete_policies: Vec::new(),
            };
            let hook = match annotations.get("helm.sh/hook") {
                Some(Value::String(h)) => h.to_string(),
                _ => {
                    generic.push(m);
                    continue;
                }
            };
            let events: Vec<String> = hook.split(',').map(|e| e.trim().to_lowercase()).collect();
            if events.iter().any(|e| !HOOK_EVENTS.contains(&e.as_str())) {
                continue;
            }
            m.hook_events = events;
            m.hook_weight = get_str(&annotations, "helm.sh/hook-weight")
                .parse()
                .unwrap_or(0);
            m.hook_delete_policies = get_str(&annotations, "helm.sh/hook-delete-policy")
                .split(',')
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty())
                .collect();
            hooks.push(m);
        }
    }
    stable_sort(&mut hooks);
    stable_sort(&mut generic);
    Ok((hooks, generic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_on_separator_lines() {
        assert_eq!(
            split_manifests("\n---\na: 1\n--- \nb: 2\n---\n\n"),
            vec!["a: 1", "b: 2"]
        );
        assert_eq!(
            split_manifests("a: 1\n---\nb: |\n  x\n\n"),
            vec!["a: 1", "b: |\n  x\n\n"]
        );
    }

    #[test]
    fn install_order_and_hooks() {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/a.yaml".to_string(),
            "kind: Deployment\nmetadata: {name: d}\n---\nkind: Foo\nmetadata: {name: f}\n"
                .to_string(),
        );
        files.insert(
            "c/templates/b.yaml".to_string(),
            "kind: ConfigMap\nmetadata: {name: c}\n".to_string(),
        );
        files.insert("c/templates/h.yaml".to_string(), "kind: Job\nmetadata:\n  name: j\n  annotations: {helm.sh/hook: pre-install, helm.sh/hook-weight: \"5\"}\n".to_string());
        let (hooks, manifests) = sort_manifests(&files).unwrap_or_default();
        let kinds: Vec<&str> = manifests.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, vec!["ConfigMap", "Deployment", "Foo"]);
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].hook_weight, 5);
    }
}
