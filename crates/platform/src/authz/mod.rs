//! The four-level authorizer of SPEC §3: global → workspace → namespace → cluster, deny unless
//! allowed, decided from the watch-fed caches only.

pub mod rbac;
pub mod resolve;
pub mod scope;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use rbac::Rule;
use scope::{RequestInfo, Scope};
use serde_json::Value;

use crate::builtin;
use crate::cache::{Cache, Caches, Entry};

/// The user name of unauthenticated callers.
pub const ANONYMOUS: &str = "system:anonymous";

/// An authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Group names.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The anonymous identity.
    pub fn anonymous() -> UserInfo {
        UserInfo {
            name: ANONYMOUS.into(),
            groups: vec!["system:unauthenticated".into()],
        }
    }

    /// Whether this is the anonymous identity.
    pub fn is_anonymous(&self) -> bool {
        self.name == ANONYMOUS
    }

    fn subject_keys(&self) -> Vec<String> {
        let mut keys = vec![format!("User:{}", self.name)];
        keys.extend(self.groups.iter().map(|g| format!("Group:{g}")));
        keys
    }
}

/// One of the four levels roles live at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    /// Platform-wide.
    Global,
    /// One cluster.
    Cluster,
    /// One workspace.
    Workspace(String),
    /// One namespace.
    Namespace(String),
}

/// How a request was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// By the caller's roles.
    Granted,
    /// Because it is about the caller themself (own profile, password, tokens, reviews).
    SelfService,
    /// Allowed to every authenticated user (discovery, version).
    Public,
}

/// The answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether, and how, it is allowed.
    pub access: Option<Access>,
    /// Why (for logs and review answers).
    pub reason: String,
}

impl Decision {
    fn allow(access: Access, reason: impl Into<String>) -> Decision {
        Decision {
            access: Some(access),
            reason: reason.into(),
        }
    }

    fn deny(reason: impl Into<String>) -> Decision {
        Decision {
            access: None,
            reason: reason.into(),
        }
    }

    /// Whether the request may go on.
    pub fn allowed(&self) -> bool {
        self.access.is_some()
    }
}

const PUBLIC_PATHS: [&str; 7] = [
    "/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi",
];
const SELF_SUBRESOURCES: [&str; 6] = [
    "",
    "password",
    "loginrecords",
    "tokens",
    "kubeconfig",
    "roletemplates",
];

/// Decides requests from the caches.
pub struct Authorizer {
    /// Host caches: users' global and workspace roles and bindings.
    caches: Arc<Caches>,
    /// Caches of the cluster the request is about (the host's own for host requests): its
    /// namespaces (their workspace label), Roles, RoleBindings, ClusterRoles and bindings.
    local: Arc<Caches>,
    global: HashMap<&'static str, Arc<Vec<Rule>>>,
    workspace: HashMap<&'static str, Arc<Vec<Rule>>>,
    namespace: HashMap<&'static str, Arc<Vec<Rule>>>,
    cluster: HashMap<&'static str, Arc<Vec<Rule>>>,
}

fn builtin_map(roles: Vec<builtin::BuiltinRole>) -> HashMap<&'static str, Arc<Vec<Rule>>> {
    roles
        .iter()
        .map(|r| {
            (
                r.name,
                Arc::new(rbac::rules_from_json(Some(&builtin::builtin_rules(r)))),
            )
        })
        .collect()
}

fn role_ref_name(binding: &Entry) -> &str {
    binding.obj["roleRef"]["name"].as_str().unwrap_or_default()
}

impl Authorizer {
    /// An authorizer over `caches`.
    pub fn new(caches: Arc<Caches>) -> Authorizer {
        Authorizer {
            local: caches.clone(),
            caches,
            global: builtin_map(builtin::global_roles()),
            workspace: builtin_map(builtin::workspace_roles()),
            namespace: builtin_map(builtin::namespace_roles()),
            cluster: builtin_map(builtin::cluster_roles()),
        }
    }

    /// The workspace a namespace belongs to (its `kubesphere.io/workspace` label).
    pub fn workspace_of(&self, namespace: &str) -> Option<String> {
        self.local
            .namespaces
            .get(namespace)
            .and_then(|e| e.label("kubesphere.io/workspace").map(str::to_string))
    }

    fn bindings(&self, cache: &Cache, user: &UserInfo) -> Vec<Arc<Entry>> {
        let mut out: Vec<Arc<Entry>> = Vec::new();
        for k in user.subject_keys() {
            out.extend(cache.by_index(&k));
        }
        out
    }

    /// Whether any of `rules` allows `req`, visiting roles lazily.
    fn any_allows<'a>(rules: impl Iterator<Item = &'a [Rule]>, req: &RequestInfo) -> bool {
        for set in rules {
            if set.iter().any(|r| rbac::allows(r, req)) {
                return true;
            }
        }
        false
    }

    fn global_rule_sets(&self, user: &UserInfo) -> Vec<RuleSet> {
        self.bindings(&self.caches.global_role_bindings, user)
            .iter()
            .filter_map(|b| {
                let name = role_ref_name(b);
                match self.caches.global_roles.get(name) {
                    Some(role) => Some(RuleSet::Cached(role)),
                    None => self.global.get(name).map(|r| RuleSet::Builtin(r.clone())),
                }
            })
            .collect()
    }

    fn workspace_rule_sets(&self, user: &UserInfo, ws: &str) -> Vec<RuleSet> {
        self.bindings(&self.caches.workspace_role_bindings, user)
            .iter()
            .filter(|b| b.label("kubesphere.io/workspace") == Some(ws))
            .filter_map(|b| {
                let name = role_ref_name(b);
                match self.caches.workspace_roles.get(name) {
                    // A binding may only grant a role of its own workspace.
                    Some(role) if role.label("kubesphere.io/workspace") == Some(ws) => {
                        Some(RuleSet::Cached(role))
                    }
                    Some(_) => None,
                    None => name
                        .strip_prefix(ws)
                        .and_then(|s| s.strip_prefix('-'))
                        .and_then(|suffix| self.workspace.get(suffix))
                        .map(|r| RuleSet::Builtin(r.clone())),
                }
            })
            .collect()
    }

    fn namespace_rule_sets(&self, user: &UserInfo, ns: &str) -> Vec<RuleSet> {
        self.bindings(&self.local.role_bindings, user)
            .iter()
            .filter(|b| b.obj["metadata"]["namespace"].as_str() == Some(ns))
            .filter_map(|b| {
                let name = role_ref_name(b);
                match self.local.roles.get(&format!("{ns}/{name}")) {
                    Some(role) => Some(RuleSet::Cached(role)),
                    None => self
                        .namespace
                        .get(name)
                        .map(|r| RuleSet::Builtin(r.clone())),
                }
            })
            .collect()
    }

    fn cluster_rule_sets(&self, user: &UserInfo) -> Vec<RuleSet> {
        self.bindings(&self.local.cluster_role_bindings, user)
            .iter()
            .filter_map(|b| {
                let name = role_ref_name(b);
                match self.local.cluster_roles.get(name) {
                    Some(role) => Some(RuleSet::Cached(role)),
                    None => self.cluster.get(name).map(|r| RuleSet::Builtin(r.clone())),
                }
            })
            .collect()
    }

    fn public_or_self(user: &UserInfo, req: &RequestInfo) -> Option<Decision> {
        if !req.is_resource_request {
            let public = req.verb == "get"
                && PUBLIC_PATHS
                    .iter()
                    .any(|p| req.path == *p || req.path.starts_with(&format!("{p}/")));
            // UI extensions' bundles: every console imports them (docs/extensions.md).
            if req.verb == "get" && req.path.starts_with("/dist/") {
                return Some(Decision::allow(Access::Public, "UI extension bundle"));
            }
            return public.then(|| Decision::allow(Access::Public, "discovery"));
        }
        // The JSBundles and ExtensionEntries every console reads to load UI extensions (they
        // name bundles and menu entries, nothing secret).
        if req.api_prefix == "apis"
            && req.api_group == "extensions.kubesphere.io"
            && matches!(req.resource.as_str(), "jsbundles" | "extensionentries")
            && req.subresource.is_empty()
            && matches!(req.verb.as_str(), "get" | "list" | "watch")
        {
            return Some(Decision::allow(Access::Public, "UI extensions"));
        }
        let self_review = req.verb == "create"
            && matches!(
                (req.api_group.as_str(), req.resource.as_str()),
                (
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
                ) | ("authentication.k8s.io", "selfsubjectreviews")
            );
        if self_review {
            return Some(Decision::allow(Access::SelfService, "self review"));
        }
        // KubeSphere's `configs/{configz,oauth,theme}`: what every console reads.
        if req.api_prefix == "kapis"
            && req.api_group == "config.kubesphere.io"
            && req.resource == "configs"
            && req.verb == "get"
        {
            return Some(Decision::allow(Access::Public, "platform configuration"));
        }
        // The App Store: every signed-in user browses the store (the handlers show only what
        // is published) and asks for review transitions (the handlers check the right each
        // transition needs, at the app's workspace or the platform).
        // Its own routes only: the generic API (`/kapis/resources.kubesphere.io/v1alpha3/
        // categories`) names the cluster's Category objects themselves, decided as the native
        // API decides them.
        if req.api_prefix == "kapis"
            && req.api_group == "application.kubesphere.io"
            && req.path.starts_with("/kapis/application.kubesphere.io/")
            && req.namespace.is_empty()
        {
            let browse = matches!(req.verb.as_str(), "get" | "list")
                && req.workspace.is_empty()
                && matches!(req.resource.as_str(), "apps" | "categories");
            let action = req.verb == "create"
                && req.resource == "apps"
                && !req.name.is_empty()
                && req.path.ends_with("/action");
            if browse || action {
                return Some(Decision::allow(Access::Public, "app store"));
            }
        }
        let own_user = req.api_prefix == "kapis"
            && req.resource == "users"
            && req.name == user.name
            && matches!(req.api_group.as_str(), "iam.kubesphere.io" | "resources.kubesphere.io")
            && SELF_SUBRESOURCES.contains(&req.subresource.as_str())
            && matches!(req.verb.as_str(), "get" | "list" | "update" | "patch" | "delete")
            // Deleting oneself is not self-service; revoking one's own token is.
            && (req.verb != "delete" || req.subresource == "tokens");
        own_user.then(|| Decision::allow(Access::SelfService, "own user"))
    }

    /// Decides one request.
    pub fn authorize(&self, user: &UserInfo, req: &RequestInfo) -> Decision {
        if user.is_anonymous() {
            return Decision::deny("anonymous requests are not allowed");
        }
        let granted =
            |level: &str| Decision::allow(Access::Granted, format!("allowed by {level} role"));
        if Self::any_allows(self.global_rule_sets(user).iter().map(RuleSet::rules), req) {
            return granted("global");
        }
        if let Some(d) = Self::public_or_self(user, req) {
            return d;
        }
        if !req.is_resource_request || req.scope == Scope::Global {
            return Decision::deny("no global role allows this");
        }
        let workspace = match req.scope {
            Scope::Namespace => match (self.workspace_of(&req.namespace), req.workspace.as_str()) {
                (Some(actual), path) if !path.is_empty() && actual != path => {
                    return Decision::deny(format!(
                        "namespace {} is not in workspace {path}",
                        req.namespace
                    ));
                }
                (Some(actual), _) => Some(actual),
                (None, "") => None,
                (None, path) => {
                    if self.local.namespaces.get(&req.namespace).is_some() {
                        return Decision::deny(format!(
                            "namespace {} is not in workspace {path}",
                            req.namespace
                        ));
                    }
                    Some(path.to_string())
                }
            },
            Scope::Workspace => Some(req.workspace.clone()),
            _ => None,
        };
        if let Some(ws) = &workspace {
            let sets = self.workspace_rule_sets(user, ws);
            if Self::any_allows(sets.iter().map(RuleSet::rules), req) {
                return granted("workspace");
            }
        }
        if req.scope == Scope::Workspace {
            return Decision::deny("no workspace role allows this");
        }
        if req.scope == Scope::Namespace {
            let sets = self.namespace_rule_sets(user, &req.namespace);
            if Self::any_allows(sets.iter().map(RuleSet::rules), req) {
                return granted("namespace");
            }
        }
        if Self::any_allows(self.cluster_rule_sets(user).iter().map(RuleSet::rules), req) {
            return granted("cluster");
        }
        Decision::deny("no role allows this")
    }

    /// Every rule that applies to `user` in `namespace` (all levels), for rules reviews.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<Rule> {
        let mut sets = self.global_rule_sets(user);
        if !namespace.is_empty() {
            if let Some(ws) = self.workspace_of(namespace) {
                sets.extend(self.workspace_rule_sets(user, &ws));
            }
            sets.extend(self.namespace_rule_sets(user, namespace));
        }
        sets.extend(self.cluster_rule_sets(user));
        let mut out: Vec<Rule> = Vec::new();
        for s in &sets {
            for r in s.rules() {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
        }
        out
    }

    /// The rules `user` holds at one level (global rules apply at every level; a workspace's
    /// and the cluster's rules apply to its namespaces), for escalation checks.
    pub fn rules_at(&self, user: &UserInfo, level: &Level) -> Vec<Rule> {
        let mut sets = self.global_rule_sets(user);
        match level {
            Level::Global => {}
            Level::Cluster => sets.extend(self.cluster_rule_sets(user)),
            Level::Workspace(ws) => sets.extend(self.workspace_rule_sets(user, ws)),
            Level::Namespace(ns) => {
                if let Some(ws) = self.workspace_of(ns) {
                    sets.extend(self.workspace_rule_sets(user, &ws));
                }
                sets.extend(self.namespace_rule_sets(user, ns));
                sets.extend(self.cluster_rule_sets(user));
            }
        }
        sets.iter()
            .flat_map(|s| s.rules().iter().cloned())
            .collect()
    }

    /// The rules of a KubeSphere role at `level` by name (cached object, else built-in),
    /// `None` when there is no such role. Workspace roles must belong to the workspace.
    pub fn role_rules(&self, level: &Level, name: &str) -> Option<Vec<Rule>> {
        let from = |e: Arc<Entry>| e.rules.clone();
        match level {
            Level::Global => self
                .caches
                .global_roles
                .get(name)
                .map(from)
                .or_else(|| self.global.get(name).map(|r| r.to_vec())),
            Level::Cluster => self
                .local
                .cluster_roles
                .get(name)
                .map(from)
                .or_else(|| self.cluster.get(name).map(|r| r.to_vec())),
            Level::Workspace(ws) => match self.caches.workspace_roles.get(name) {
                Some(e) if e.label("kubesphere.io/workspace") == Some(ws.as_str()) => Some(from(e)),
                Some(_) => None,
                None => name
                    .strip_prefix(ws.as_str())
                    .and_then(|s| s.strip_prefix('-'))
                    .and_then(|suffix| self.workspace.get(suffix))
                    .map(|r| r.to_vec()),
            },
            Level::Namespace(ns) => self
                .local
                .roles
                .get(&format!("{ns}/{name}"))
                .map(from)
                .or_else(|| self.namespace.get(name).map(|r| r.to_vec())),
        }
    }

    /// Names of the workspaces `user` holds a role in.
    pub fn member_workspaces(&self, user: &UserInfo) -> Vec<String> {
        let mut out: Vec<String> = self
            .bindings(&self.caches.workspace_role_bindings, user)
            .iter()
            .filter_map(|b| b.label("kubesphere.io/workspace").map(str::to_string))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Names of the namespaces `user` holds a role in.
    pub fn member_namespaces(&self, user: &UserInfo) -> Vec<String> {
        let mut out: Vec<String> = self
            .bindings(&self.local.role_bindings, user)
            .iter()
            .filter_map(|b| b.obj["metadata"]["namespace"].as_str().map(str::to_string))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The same authorizer for requests about another cluster, whose namespaces and
    /// cluster/namespace-level roles and bindings are in `local`.
    pub fn for_cluster(&self, local: Arc<Caches>) -> Authorizer {
        Authorizer {
            caches: self.caches.clone(),
            local,
            global: self.global.clone(),
            workspace: self.workspace.clone(),
            namespace: self.namespace.clone(),
            cluster: self.cluster.clone(),
        }
    }

    /// The caches the authorizer reads.
    pub fn caches(&self) -> &Arc<Caches> {
        &self.caches
    }
}

enum RuleSet {
    Cached(Arc<Entry>),
    Builtin(Arc<Vec<Rule>>),
}

impl RuleSet {
    fn rules(&self) -> &[Rule] {
        match self {
            RuleSet::Cached(e) => &e.rules,
            RuleSet::Builtin(r) => r,
        }
    }
}

/// The groups of a User object (`spec.groups`) plus `system:authenticated`.
pub fn groups_of(user: &Value) -> Vec<String> {
    let mut groups: Vec<String> = user["spec"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    groups.push("system:authenticated".into());
    groups
}
