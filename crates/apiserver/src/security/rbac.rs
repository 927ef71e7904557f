//! Kubernetes RBAC for the embedded cluster: the bootstrap roles, a watch-fed cache of roles
//! and bindings, and the authorizer every non-admin request goes through.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::UserInfo;
use crate::cluster::Cluster;
use crate::object::with_resource_version;

const GROUP: &str = "rbac.authorization.k8s.io";

/// The prefix of every RBAC object (`/registry/rbac.authorization.k8s.io/`).
fn rbac_prefix() -> String {
    format!("{}{GROUP}/", crate::registry::keys::ROOT)
}

/// What a request asks to do, as RBAC sees it.
#[derive(Clone, Debug, Default)]
pub struct Attributes {
    /// The verb (`get`, `list`, `create`, `impersonate`, …).
    pub verb: String,
    /// Namespace, for namespaced requests.
    pub namespace: Option<String>,
    /// API group ("" for core).
    pub api_group: String,
    /// Resource (plural).
    pub resource: String,
    /// Subresource, if any.
    pub subresource: Option<String>,
    /// Object name, if any.
    pub name: Option<String>,
    /// For non-resource requests, the URL path.
    pub path: Option<String>,
}

/// One RBAC rule: the matcher shared with the platform.
pub use apimachinery::rbac::Rule as PolicyRule;

impl Attributes {
    /// The borrowed form the shared matcher takes.
    pub fn as_rbac(&self) -> apimachinery::rbac::Attributes<'_> {
        apimachinery::rbac::Attributes {
            verb: &self.verb,
            is_resource_request: self.path.is_none(),
            api_group: &self.api_group,
            resource: &self.resource,
            subresource: self.subresource.as_deref().unwrap_or(""),
            name: self.name.as_deref().unwrap_or(""),
            path: self.path.as_deref().unwrap_or(""),
        }
    }
}

#[derive(Deserialize, Clone, Debug)]
struct Subject {
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize, Clone, Debug)]
struct RoleRef {
    kind: String,
    name: String,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct Binding {
    #[serde(default)]
    subjects: Vec<Subject>,
    role_ref: RoleRef,
}

#[derive(Deserialize, Clone, Debug, Default)]
struct Role {
    #[serde(default)]
    rules: Vec<PolicyRule>,
}

/// Roles and bindings, keyed by store key.
#[derive(Default)]
struct State {
    cluster_roles: HashMap<String, Role>,
    roles: HashMap<(String, String), Role>,
    cluster_bindings: HashMap<String, Binding>,
    bindings: HashMap<(String, String), Binding>,
}

/// The RBAC authorizer with its watch-fed cache.
#[derive(Default)]
pub struct Authorizer {
    state: RwLock<State>,
    ready: tokio::sync::Notify,
}

fn subject_matches(s: &Subject, user: &UserInfo, binding_ns: Option<&str>) -> bool {
    match s.kind.as_str() {
        "User" => s.name == user.name,
        "Group" => user.groups.contains(&s.name),
        "ServiceAccount" => {
            let ns = s.namespace.as_deref().or(binding_ns).unwrap_or("");
            user.name == format!("system:serviceaccount:{ns}:{}", s.name)
        }
        _ => false,
    }
}

impl Authorizer {
    /// Every rule that applies to `user` in `namespace` (cluster-wide rules included).
    pub fn rules_for(&self, user: &UserInfo, namespace: Option<&str>) -> Vec<PolicyRule> {
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for b in st.cluster_bindings.values() {
            if b.subjects.iter().any(|s| subject_matches(s, user, None))
                && let Some(r) = st.cluster_roles.get(&b.role_ref.name)
            {
                out.extend(r.rules.iter().cloned());
            }
        }
        if let Some(ns) = namespace {
            for ((bns, _), b) in st.bindings.iter().filter(|((bns, _), _)| bns == ns) {
                if !b
                    .subjects
                    .iter()
                    .any(|s| subject_matches(s, user, Some(bns)))
                {
                    continue;
                }
                let role = match b.role_ref.kind.as_str() {
                    "ClusterRole" => st.cluster_roles.get(&b.role_ref.name),
                    _ => st.roles.get(&(bns.clone(), b.role_ref.name.clone())),
                };
                if let Some(r) = role {
                    out.extend(r.rules.iter().cloned());
                }
            }
        }
        out
    }

    /// Whether `user` may do what `attrs` describes.
    pub fn allows(&self, user: &UserInfo, attrs: &Attributes) -> bool {
        if user.is_admin() {
            return true;
        }
        let a = attrs.as_rbac();
        self.rules_for(user, attrs.namespace.as_deref())
            .iter()
            .any(|r| r.allows(&a))
    }

    fn apply(&self, key: &str, value: Option<&[u8]>) {
        let Some((GROUP, kind, rest)) = crate::registry::keys::split(key) else {
            return;
        };
        let (a, b) = match rest.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        match (kind, b) {
            ("clusterroles", None) => {
                match value.and_then(|v| serde_json::from_slice::<Role>(v).ok()) {
                    Some(r) => {
                        st.cluster_roles.insert(a.to_string(), r);
                    }
                    None => {
                        st.cluster_roles.remove(a);
                    }
                }
            }
            ("clusterrolebindings", None) => {
                match value.and_then(|v| serde_json::from_slice::<Binding>(v).ok()) {
                    Some(r) => {
                        st.cluster_bindings.insert(a.to_string(), r);
                    }
                    None => {
                        st.cluster_bindings.remove(a);
                    }
                }
            }
            ("roles", Some(name)) => {
                let k = (a.to_string(), name.to_string());
                match value.and_then(|v| serde_json::from_slice::<Role>(v).ok()) {
                    Some(r) => {
                        st.roles.insert(k, r);
                    }
                    None => {
                        st.roles.remove(&k);
                    }
                }
            }
            ("rolebindings", Some(name)) => {
                let k = (a.to_string(), name.to_string());
                match value.and_then(|v| serde_json::from_slice::<Binding>(v).ok()) {
                    Some(r) => {
                        st.bindings.insert(k, r);
                    }
                    None => {
                        st.bindings.remove(&k);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Keeps the authorizer's cache in step with the store until shutdown.
pub async fn run(cluster: Arc<Cluster>) {
    let rbac = &cluster.rbac;
    crate::controllers::follow::follow(
        &cluster,
        &rbac_prefix(),
        || *rbac.state.write().unwrap_or_else(|p| p.into_inner()) = State::default(),
        |key, value| rbac.apply(key, value),
        || rbac.ready.notify_waiters(),
    )
    .await;
}

/// Loads the cache synchronously (at start, before serving).
pub fn prime(cluster: &Cluster) {
    if let Ok(listed) = cluster.store.list(&rbac_prefix(), None, 0, None) {
        for kv in &listed.items {
            cluster.rbac.apply(&kv.key, Some(&kv.value));
        }
    }
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources})
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

fn namespaced_resources() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "",
            vec![
                "pods",
                "pods/log",
                "pods/status",
                "services",
                "endpoints",
                "configmaps",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "events",
                "limitranges",
                "resourcequotas",
                "podtemplates",
            ],
        ),
        (
            "apps",
            vec![
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "controllerrevisions",
            ],
        ),
        ("batch", vec!["jobs", "cronjobs"]),
        ("networking.k8s.io", vec!["ingresses", "networkpolicies"]),
        ("policy", vec!["poddisruptionbudgets"]),
        ("autoscaling", vec!["horizontalpodautoscalers"]),
        ("coordination.k8s.io", vec!["leases"]),
        ("discovery.k8s.io", vec!["endpointslices"]),
        ("events.k8s.io", vec!["events"]),
    ]
}

/// The bootstrap ClusterRoles and ClusterRoleBindings kube-apiserver creates.
/// The rules of the `view`, `edit` and `admin` roles, as kube's aggregated roles hold them.
fn user_facing_rules() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut view_rules = Vec::new();
    let mut edit_rules = Vec::new();
    for (g, rs) in namespaced_resources() {
        view_rules.push(rule(READ, &[g], &rs));
        let mut verbs: Vec<&str> = READ.to_vec();
        verbs.extend_from_slice(WRITE);
        edit_rules.push(rule(&verbs, &[g], &rs));
    }
    view_rules.push(rule(READ, &[""], &["namespaces", "namespaces/status"]));
    edit_rules.push(rule(READ, &[""], &["namespaces", "namespaces/status"]));
    edit_rules.push(rule(
        &[
            "get",
            "list",
            "watch",
            "create",
            "delete",
            "deletecollection",
            "patch",
            "update",
        ],
        &[""],
        &["secrets"],
    ));
    edit_rules.push(rule(&["create"], &[""], &["serviceaccounts/token"]));
    let mut admin_rules = edit_rules.clone();
    let all: Vec<&str> = [
        "get",
        "list",
        "watch",
        "create",
        "delete",
        "deletecollection",
        "patch",
        "update",
    ]
    .to_vec();
    admin_rules.push(rule(
        &all,
        &["rbac.authorization.k8s.io"],
        &["roles", "rolebindings"],
    ));
    admin_rules.push(rule(
        &["create"],
        &["authorization.k8s.io"],
        &["localsubjectaccessreviews"],
    ));
    (view_rules, edit_rules, admin_rules)
}

/// A bootstrap ClusterRole and its key.
fn role(name: &str, rules: Vec<Value>) -> (String, Value) {
    (
        crate::registry::keys::object(GROUP, "clusterroles", None, name),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "rules": rules}),
    )
}

/// A bootstrap ClusterRoleBinding of `role` to a group, and its key.
fn binding(name: &str, role: &str, group: &str) -> (String, Value) {
    (
        crate::registry::keys::object(GROUP, "clusterrolebindings", None, name),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]}),
    )
}

/// The cluster roles and bindings kube-apiserver bootstraps.
fn bootstrap_objects() -> Vec<(String, Value)> {
    let (view_rules, edit_rules, admin_rules) = user_facing_rules();
    vec![
        role(
            "cluster-admin",
            vec![
                rule(&["*"], &["*"], &["*"]),
                json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
            ],
        ),
        role("admin", admin_rules),
        role("edit", edit_rules),
        role("view", view_rules),
        role(
            "system:discovery",
            vec![
                json!({"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/version/", "/openapi", "/openapi/*"]}),
            ],
        ),
        role(
            "system:basic-user",
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
            ],
        ),
        role(
            "system:public-info-viewer",
            vec![
                json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]}),
            ],
        ),
        binding("cluster-admin", "cluster-admin", "system:masters"),
        binding(
            "system:discovery",
            "system:discovery",
            "system:authenticated",
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            "system:authenticated",
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            "system:authenticated",
        ),
    ]
}

/// Creates the bootstrap roles and bindings that do not exist yet.
pub async fn bootstrap(cluster: &Arc<Cluster>) -> Result<(), store::StoreError> {
    for (key, mut obj) in bootstrap_objects() {
        if cluster.store.get(&key).is_some() {
            continue;
        }
        obj["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        obj["metadata"]["creationTimestamp"] = json!(crate::object::now_rfc3339());
        match cluster
            .store
            .create(&key, Box::new(move |rev| with_resource_version(obj, rev)))
            .await
        {
            Ok(_) | Err(store::StoreError::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(
        verb: &str,
        group: &str,
        resource: &str,
        sub: Option<&str>,
        name: Option<&str>,
    ) -> Attributes {
        Attributes {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.map(String::from),
            name: name.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn rule_matching() {
        let r = PolicyRule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec!["".into()],
            resources: vec!["pods".into(), "pods/log".into()],
            ..Default::default()
        };
        assert!(r.allows(&attrs("get", "", "pods", None, Some("x")).as_rbac()));
        assert!(r.allows(&attrs("get", "", "pods", Some("log"), Some("x")).as_rbac()));
        assert!(!r.allows(&attrs("get", "", "pods", Some("exec"), Some("x")).as_rbac()));
        assert!(!r.allows(&attrs("delete", "", "pods", None, Some("x")).as_rbac()));
        assert!(!r.allows(&attrs("get", "apps", "pods", None, None).as_rbac()));
        let named = PolicyRule {
            resource_names: vec!["only".into()],
            ..r.clone()
        };
        assert!(named.allows(&attrs("get", "", "pods", None, Some("only")).as_rbac()));
        assert!(!named.allows(&attrs("get", "", "pods", None, Some("other")).as_rbac()));
        assert!(!named.allows(&attrs("list", "", "pods", None, None).as_rbac()));
        let star = PolicyRule {
            verbs: vec!["*".into()],
            api_groups: vec!["*".into()],
            resources: vec!["*/scale".into()],
            ..Default::default()
        };
        assert!(
            star.allows(
                &attrs("update", "apps", "deployments", Some("scale"), Some("d")).as_rbac()
            )
        );
        assert!(!star.allows(&attrs("update", "apps", "deployments", None, Some("d")).as_rbac()));
        let nr = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/apis/*".into()],
            ..Default::default()
        };
        let a = Attributes {
            verb: "get".into(),
            path: Some("/apis/apps".into()),
            ..Default::default()
        };
        assert!(nr.allows(&a.as_rbac()));
    }
}
