//! An independent oracle for the platform's answer to a request: its own path decoder and
//! parser (kube-apiserver's request-info rules, extended for KubeSphere's `/kapis` and
//! `/clusters/{c}` prefixes), its own RBAC rule matcher (Kubernetes' `rbac/v1` evaluation) and
//! the four levels of SPEC §3, evaluated over role and binding objects read from the clusters.
//!
//! Written from the specifications, not from the platform's code, and never calling it: the
//! point is that two separate readings of the rules agree.

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// What the platform must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// 404: the path names nothing (non-canonical, unknown resource, cluster-scoped resource
    /// under a namespace path, unknown cluster).
    NotFound(String),
    /// 403.
    Forbidden(String),
    /// Anything but 401 and 403 (the object may not exist, the body may be refused).
    Allowed(String),
    /// A write to a read-only API: refused (403, 404 or 405), whoever asks.
    Refused(String),
}

/// One `rbac.authorization.k8s.io/v1` PolicyRule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources (`res`, `res/sub`, `*`, `*/sub`).
    pub resources: Vec<String>,
    /// Resource names (empty: any).
    pub resource_names: Vec<String>,
    /// Non-resource URLs.
    pub non_resource_urls: Vec<String>,
}

fn str_list(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

impl PolicyRule {
    /// Reads a PolicyRule object.
    pub fn from_json(v: &Value) -> PolicyRule {
        PolicyRule {
            verbs: str_list(v, "verbs"),
            api_groups: str_list(v, "apiGroups"),
            resources: str_list(v, "resources"),
            resource_names: str_list(v, "resourceNames"),
            non_resource_urls: str_list(v, "nonResourceURLs"),
        }
    }
}

/// The `rules` of a role object.
pub fn rules_of(role: &Value) -> Vec<PolicyRule> {
    role["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(PolicyRule::from_json)
        .collect()
}

/// The attributes an authorizer sees (kube-apiserver's `authorizer.Attributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Whether the path names a resource.
    pub resource_request: bool,
    /// The canonical path (for non-resource requests).
    pub path: String,
    /// `api`, `apis` or `kapis`.
    pub prefix: String,
    /// The verb.
    pub verb: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Workspace named by a `/kapis/…/workspaces/{ws}` path.
    pub workspace: String,
    /// Namespace.
    pub namespace: String,
    /// Whether `namespaces/{ns}/` prefixed a resource inside the namespace.
    pub namespace_prefix: bool,
    /// Resource (plural).
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Object name.
    pub name: String,
}

// ---- RBAC rule matching, as `k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go` ----

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == "*" || g == group)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        if r == "*" || r == combined {
            return true;
        }
        // `*/sub` matches that subresource of every resource; nothing else is a pattern.
        !subresource.is_empty()
            && r.len() == subresource.len() + 2
            && r.starts_with("*/")
            && r.ends_with(subresource)
    })
}

fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .iter()
        .any(|u| u == "*" || u == path || u.strip_suffix('*').is_some_and(|p| path.starts_with(p)))
}

/// Whether one rule allows the request.
pub fn rule_allows(rule: &PolicyRule, a: &Attrs) -> bool {
    if a.resource_request {
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        verb_matches(rule, &a.verb)
            && api_group_matches(rule, &a.group)
            && resource_matches(rule, &combined, &a.subresource)
            && resource_name_matches(rule, &a.name)
    } else {
        verb_matches(rule, &a.verb) && non_resource_url_matches(rule, &a.path)
    }
}

fn any_allows<'a>(rules: impl IntoIterator<Item = &'a PolicyRule>, a: &Attrs) -> bool {
    rules.into_iter().any(|r| rule_allows(r, a))
}

// ---- Paths ----

/// Decodes a path once into segments; `Err` for every form that is not canonical: empty
/// segments (`//`, trailing `/`), `.` and `..` (encoded or not), an encoded `/`, control
/// characters (NUL included) and invalid UTF-8.
pub fn decode_segments(raw: &str) -> Result<Vec<String>, String> {
    let rest = raw
        .strip_prefix('/')
        .ok_or_else(|| "no leading /".to_string())?;
    let mut out = Vec::new();
    for seg in rest.split('/') {
        let bytes: Vec<u8> = percent_decode_str(seg).collect();
        let s = String::from_utf8(bytes).map_err(|_| format!("segment {seg:?} is not UTF-8"))?;
        if s.is_empty() {
            return Err("empty segment".into());
        }
        if s == "." || s == ".." {
            return Err(format!("dot segment {seg:?}"));
        }
        if s.contains('/') {
            return Err(format!("encoded / in {seg:?}"));
        }
        if s.chars().any(char::is_control) {
            return Err(format!("control character in {seg:?}"));
        }
        out.push(s);
    }
    Ok(out)
}

/// Go's `strconv.ParseBool` true values (kube-apiserver's query parameter conversion).
fn parse_bool_true(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// kube-apiserver's request-info rules over decoded segments (after any `/clusters/{c}`),
/// extended with `/kapis/{g}/{v}/workspaces/{ws}/…`.
pub fn parse(method: &str, segs: &[String], query: &[(String, String)]) -> Attrs {
    let path = format!("/{}", segs.join("/"));
    let mut a = Attrs {
        path,
        verb: method.to_ascii_lowercase(),
        ..Attrs::default()
    };
    let prefix = match segs.first().map(String::as_str) {
        Some(p @ ("api" | "apis" | "kapis")) => p,
        _ => return a,
    };
    let mut rest: &[String] = &segs[1..];
    // The legacy prefix has no group; a resource request needs group (if any), version and
    // resource.
    if prefix == "api" {
        if rest.len() < 2 {
            return a;
        }
    } else {
        if rest.len() < 3 {
            return a;
        }
        a.group = rest[0].clone();
        rest = &rest[1..];
    }
    a.version = rest[0].clone();
    rest = &rest[1..];
    a.resource_request = true;
    a.prefix = prefix.to_string();
    let mut watch = false;
    if rest.len() >= 2 && rest[0] == "watch" {
        watch = true;
        rest = &rest[1..];
    }
    if prefix == "kapis" && rest.len() >= 2 && rest[0] == "workspaces" {
        a.workspace = rest[1].clone();
        if rest.len() > 2 {
            rest = &rest[2..];
        }
    }
    if rest.len() > 1 && rest[0] == "namespaces" {
        a.namespace = rest[1].clone();
        if rest.len() > 2 && rest[2] != "status" && rest[2] != "finalize" {
            a.namespace_prefix = true;
            rest = &rest[2..];
        }
    }
    a.resource = rest.first().cloned().unwrap_or_default();
    a.name = rest.get(1).cloned().unwrap_or_default();
    a.subresource = rest.get(2).cloned().unwrap_or_default();
    let watch_query = query
        .iter()
        .any(|(k, v)| k == "watch" && parse_bool_true(v));
    a.verb = match method {
        // A named GET with `watch` is decided as a watch (the platform's documented, stricter
        // reading; the built-in roles grant get and watch together either way).
        "GET" if watch || watch_query => "watch",
        "GET" if a.name.is_empty() => "list",
        "GET" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if a.name.is_empty() => "deletecollection",
        "DELETE" => "delete",
        _ => "unknown",
    }
    .to_string();
    a
}

// ---- Role data ----

/// A binding's subjects and the role it names.
#[derive(Debug, Clone)]
pub struct Binding {
    /// (kind, name) of each subject.
    pub subjects: Vec<(String, String)>,
    /// The role's name.
    pub role: String,
    /// The binding's namespace or `kubesphere.io/workspace` label, where it has one.
    pub scope: Option<String>,
}

impl Binding {
    /// Reads a binding object; `scope` picks its namespace or workspace label.
    pub fn from_json(v: &Value, scope: Option<String>) -> Binding {
        Binding {
            subjects: v["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        s["kind"].as_str().unwrap_or_default().to_string(),
                        s["name"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            role: v["roleRef"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            scope,
        }
    }

    fn names(&self, user: &str) -> bool {
        // Every logged-in user is in `system:authenticated`; fixture users have no other group.
        self.subjects.iter().any(|(k, n)| {
            (k == "User" && n == user) || (k == "Group" && n == "system:authenticated")
        })
    }
}

/// What discovery says of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
    /// Its kind.
    pub kind: String,
    /// Its verbs.
    pub verbs: Vec<String>,
}

/// What the oracle knows about one cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterData {
    /// Whether this is the host (the platform's Secrets live there).
    pub host: bool,
    /// Discovery: (group, version) → resource or `resource/sub` → what it is.
    pub discovery: BTreeMap<(String, String), BTreeMap<String, Served>>,
    /// Namespaces → their `kubesphere.io/workspace` label.
    pub namespaces: BTreeMap<String, Option<String>>,
    /// iam ClusterRoles by name.
    pub cluster_roles: BTreeMap<String, Vec<PolicyRule>>,
    /// iam ClusterRoleBindings.
    pub cluster_bindings: Vec<Binding>,
    /// iam Roles by (namespace, name).
    pub roles: BTreeMap<(String, String), Vec<PolicyRule>>,
    /// iam RoleBindings (scope = namespace).
    pub role_bindings: Vec<Binding>,
}

/// Everything the oracle decides from.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// GlobalRoles by name.
    pub global_roles: BTreeMap<String, Vec<PolicyRule>>,
    /// GlobalRoleBindings.
    pub global_bindings: Vec<Binding>,
    /// WorkspaceRoles by name, with their workspace label.
    pub workspace_roles: BTreeMap<String, (Option<String>, Vec<PolicyRule>)>,
    /// WorkspaceRoleBindings (scope = workspace label).
    pub workspace_bindings: Vec<Binding>,
    /// Built-in namespace roles (`admin`, `operator`, `viewer`) by name, for clusters whose
    /// projects carry no copy.
    pub builtin_namespace_roles: BTreeMap<String, Vec<PolicyRule>>,
    /// Built-in cluster roles by name, likewise.
    pub builtin_cluster_roles: BTreeMap<String, Vec<PolicyRule>>,
    /// Clusters by name (`host` included).
    pub clusters: BTreeMap<String, ClusterData>,
}

/// The platform's own namespace.
pub const SYSTEM_NAMESPACE: &str = "kubesphere-system";

/// Non-resource paths every authenticated user may GET (Kubernetes' `system:discovery` and
/// `system:public-info-viewer`).
const PUBLIC_URLS: [&str; 11] = [
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/version",
    "/version/",
    "/healthz",
    "/livez",
    "/readyz",
    "/openapi",
    "/openapi/*",
];

/// The subresources of `users` a user reaches for themself.
const SELF_SUBRESOURCES: [&str; 5] = ["", "password", "loginrecords", "tokens", "kubeconfig"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Global,
    Workspace,
    Namespace,
    Cluster,
}

/// A request as sent.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Who (a user name).
    pub user: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// The raw path, percent-encoded as sent.
    pub raw_path: &'a str,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
}

impl World {
    fn global_rules(&self, user: &str) -> Vec<&PolicyRule> {
        self.global_bindings
            .iter()
            .filter(|b| b.names(user))
            .filter_map(|b| self.global_roles.get(&b.role))
            .flatten()
            .collect()
    }

    fn workspace_rules(&self, user: &str, ws: &str) -> Vec<&PolicyRule> {
        self.workspace_bindings
            .iter()
            .filter(|b| b.names(user) && b.scope.as_deref() == Some(ws))
            .filter_map(|b| self.workspace_roles.get(&b.role))
            // A workspace binding grants a role of its own workspace only.
            .filter(|(role_ws, _)| role_ws.as_deref() == Some(ws))
            .flat_map(|(_, rules)| rules)
            .collect()
    }

    fn namespace_rules<'a>(
        &'a self,
        cluster: &'a ClusterData,
        user: &str,
        ns: &str,
    ) -> Vec<&'a PolicyRule> {
        cluster
            .role_bindings
            .iter()
            .filter(|b| b.names(user) && b.scope.as_deref() == Some(ns))
            .filter_map(|b| {
                cluster
                    .roles
                    .get(&(ns.to_string(), b.role.clone()))
                    .or_else(|| self.builtin_namespace_roles.get(&b.role))
            })
            .flatten()
            .collect()
    }

    fn cluster_rules<'a>(&'a self, cluster: &'a ClusterData, user: &str) -> Vec<&'a PolicyRule> {
        cluster
            .cluster_bindings
            .iter()
            .filter(|b| b.names(user))
            .filter_map(|b| {
                cluster
                    .cluster_roles
                    .get(&b.role)
                    .or_else(|| self.builtin_cluster_roles.get(&b.role))
            })
            .flatten()
            .collect()
    }

    fn workspace_member(&self, host: &ClusterData, user: &str, ws: &str) -> bool {
        self.workspace_bindings
            .iter()
            .any(|b| b.names(user) && b.scope.as_deref() == Some(ws))
            || host.role_bindings.iter().any(|b| {
                b.names(user)
                    && b.scope
                        .as_ref()
                        .and_then(|ns| host.namespaces.get(ns))
                        .is_some_and(|label| label.as_deref() == Some(ws))
            })
    }

    /// Whether `user` may do `a` in `cluster` by the four levels of SPEC §3 (global →
    /// workspace → namespace → cluster, deny unless allowed).
    fn authorized(&self, cluster: &ClusterData, user: &str, a: &Attrs) -> Result<(), String> {
        if any_allows(self.global_rules(user), a) {
            return Ok(());
        }
        if !a.resource_request {
            // UI extensions' bundles (`/dist/…`) are read by every signed-in console
            // (docs/extensions.md), like discovery.
            let public = a.verb == "get"
                && (a.path.starts_with("/dist/")
                    || PUBLIC_URLS.iter().any(|u| {
                        u.strip_suffix('*')
                            .map_or(a.path == *u, |p| a.path.starts_with(p))
                    }));
            return if public {
                Ok(())
            } else {
                Err(format!("non-resource path {} needs a global role", a.path))
            };
        }
        // SPEC §3's App Store: every signed-in user browses the published apps and the
        // categories, and asks for review transitions (which the handler then judges by the
        // right each needs).
        let store = a.prefix == "kapis"
            && a.group == "application.kubesphere.io"
            && a.namespace.is_empty()
            && ((matches!(a.verb.as_str(), "get" | "list")
                && a.workspace.is_empty()
                && matches!(a.resource.as_str(), "apps" | "categories"))
                || (a.verb == "create"
                    && a.resource == "apps"
                    && !a.name.is_empty()
                    && a.path.ends_with("/action")));
        if store {
            return Ok(());
        }
        let self_review = a.verb == "create"
            && matches!(
                (a.group.as_str(), a.resource.as_str()),
                (
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
                ) | ("authentication.k8s.io", "selfsubjectreviews")
            );
        let own_user = a.prefix == "kapis"
            && a.resource == "users"
            && a.name == user
            && matches!(
                a.group.as_str(),
                "iam.kubesphere.io" | "resources.kubesphere.io"
            )
            && SELF_SUBRESOURCES.contains(&a.subresource.as_str())
            && (matches!(a.verb.as_str(), "get" | "list" | "update" | "patch")
                || (a.verb == "delete" && a.subresource == "tokens"));
        if self_review || own_user {
            return Ok(());
        }
        let level = if !a.namespace.is_empty() {
            Level::Namespace
        } else if !a.workspace.is_empty() {
            Level::Workspace
        } else if a.prefix == "kapis" {
            // A cluster's alerts (its ClusterRuleGroups') are the cluster's (docs: "The
            // alerts API").
            if matches!(
                a.resource.as_str(),
                "clustermembers" | "clusterroles" | "clusterrolebindings"
            ) || (a.group == "alerting.kubesphere.io" && a.resource == "alerts")
            {
                Level::Cluster
            } else {
                Level::Global
            }
        } else if a.group == "tenant.kubesphere.io"
            || (a.group == "iam.kubesphere.io"
                && !matches!(a.resource.as_str(), "clusterroles" | "clusterrolebindings"))
            || (a.group == "alerting.kubesphere.io" && a.resource == "globalrulegroups")
        {
            // Identity and tenancy objects are the platform's, decided by global roles only.
            Level::Global
        } else {
            Level::Cluster
        };
        match level {
            Level::Global => Err("global-level request, no global role allows it".into()),
            Level::Workspace => {
                if any_allows(self.workspace_rules(user, &a.workspace), a) {
                    Ok(())
                } else {
                    Err(format!("no role in workspace {}", a.workspace))
                }
            }
            Level::Cluster => {
                if any_allows(self.cluster_rules(cluster, user), a) {
                    Ok(())
                } else {
                    Err("no cluster role".into())
                }
            }
            Level::Namespace => {
                let label = cluster.namespaces.get(&a.namespace);
                let ws = match (label, a.workspace.as_str()) {
                    (Some(Some(actual)), path) if !path.is_empty() && actual != path => {
                        return Err(format!("{} is not in workspace {path}", a.namespace));
                    }
                    (Some(Some(actual)), _) => Some(actual.clone()),
                    (Some(None), path) if !path.is_empty() => {
                        return Err(format!("{} is in no workspace", a.namespace));
                    }
                    (_, "") => None,
                    (None, path) => Some(path.to_string()),
                    (Some(None), _) => None,
                };
                if ws
                    .as_ref()
                    .is_some_and(|ws| any_allows(self.workspace_rules(user, ws), a))
                    || any_allows(self.namespace_rules(cluster, user, &a.namespace), a)
                    || any_allows(self.cluster_rules(cluster, user), a)
                {
                    Ok(())
                } else {
                    Err(format!("no role in namespace {}", a.namespace))
                }
            }
        }
    }

    /// Lists the platform answers narrowed to what the caller may see instead of refusing
    /// (host routes without a `/clusters` prefix only).
    fn filtered_list(&self, user: &str, a: &Attrs) -> bool {
        // The platform-wide queries of issue 16 every signed-in user may make: auditing (GET
        // `…/v1alpha2/auditing/events`, narrowed to the workspaces where the caller reads
        // auditing) and Events across clusters (narrowed to the namespaces where the caller
        // lists Events).
        let platform_query = a.prefix == "kapis"
            && a.group == "tenant.kubesphere.io"
            && a.version == "v1alpha2"
            && a.workspace.is_empty()
            && a.namespace.is_empty()
            && a.subresource.is_empty();
        if platform_query
            && ((a.verb == "get" && a.resource == "auditing" && a.name == "events")
                || (a.verb == "list" && a.resource == "events"))
        {
            return true;
        }
        if a.verb != "list" {
            return false;
        }
        if a.group == "search.orrery.io" && a.resource == "resources" {
            return true;
        }
        if a.group != "tenant.kubesphere.io" {
            return false;
        }
        let Some(host) = self.clusters.get("host") else {
            return false;
        };
        if a.namespace.is_empty() && a.workspace.is_empty() {
            return a.resource == "workspaces" && a.prefix == "kapis";
        }
        a.namespace.is_empty()
            && a.resource == "namespaces"
            && self.workspace_member(host, user, &a.workspace)
    }

    /// The platform's answer to `req`, as the specification reads.
    pub fn decide(&self, req: &Request) -> Expect {
        let segs = match decode_segments(req.raw_path) {
            Ok(s) => s,
            Err(e) => return Expect::NotFound(format!("not canonical: {e}")),
        };
        let (cluster_name, prefixed, rest) = if segs.len() >= 3
            && segs[0] == "clusters"
            && matches!(segs[2].as_str(), "api" | "apis" | "kapis")
        {
            (segs[1].clone(), true, &segs[2..])
        } else {
            ("host".to_string(), false, &segs[..])
        };
        let Some(cluster) = self.clusters.get(&cluster_name) else {
            return Expect::NotFound(format!("no cluster {cluster_name}"));
        };
        let mut a = parse(req.method, rest, &req.query);
        match observability_request(req.method, rest) {
            Some(Ok(read)) => a = read,
            Some(Err(why)) => return Expect::Refused(why),
            None => {}
        }
        // KubeSphere's generic resources API names a cluster resource by its plural (core
        // group first); it is then the request on that resource. The platform keeps its own
        // Secrets (metadata only) and users there.
        if let Err(e) = resolve_generic(cluster, &mut a) {
            return e;
        }
        every_secret_as_native(&mut a);
        if let Err(e) = check_served(cluster, &a) {
            return e;
        }
        let what = format!(
            "{} {}/{} {}{} ns={:?} ws={:?} name={:?} in {cluster_name}",
            a.verb,
            a.group,
            a.resource,
            if a.subresource.is_empty() { "" } else { "/" },
            a.subresource,
            a.namespace,
            a.workspace,
            a.name
        );
        if let Err(why) = self.authorized(cluster, req.user, &a)
            && (prefixed || !self.filtered_list(req.user, &a))
        {
            return Expect::Forbidden(format!("{what}: {why}"));
        }
        // Streams into a pod need `create` as well (Kubernetes 1.35's check for upgrades).
        if a.resource_request
            && a.group.is_empty()
            && a.resource == "pods"
            && matches!(a.subresource.as_str(), "exec" | "attach" | "portforward")
            && a.verb != "create"
        {
            let create = Attrs {
                verb: "create".into(),
                ..a.clone()
            };
            if let Err(why) = self.authorized(cluster, req.user, &create) {
                return Expect::Forbidden(format!("{what}: streams need create: {why}"));
            }
        }
        if let Err(e) = self.platform_only(cluster, req.user, &a, &what) {
            return e;
        }
        Expect::Allowed(what)
    }

    /// The platform's Secrets (its namespace, and every namespace's at once) and changes to
    /// Clusters are for platform administrators only, on the host.
    fn platform_only(
        &self,
        cluster: &ClusterData,
        user: &str,
        a: &Attrs,
        what: &str,
    ) -> Result<(), Expect> {
        // The platform's Secrets (its namespace, and every namespace's at once) and changes
        // to Clusters are for platform administrators only, on the host.
        if cluster.host && a.resource_request {
            let platform_admin = |group: &str, resource: &str| {
                let probe = Attrs {
                    resource_request: true,
                    verb: "create".into(),
                    group: group.into(),
                    resource: resource.into(),
                    ..Attrs::default()
                };
                any_allows(self.global_rules(user), &probe)
            };
            let secrets = (a.group.is_empty() || a.group == "resources.kubesphere.io")
                && a.resource == "secrets"
                && (a.namespace.is_empty() || a.namespace == SYSTEM_NAMESPACE);
            if secrets && !platform_admin("", "secrets") {
                return Err(Expect::Forbidden(format!("{what}: platform Secrets")));
            }
            let cluster_write = a.group == "cluster.kubesphere.io"
                && !matches!(a.verb.as_str(), "get" | "list" | "watch");
            if cluster_write && !platform_admin("cluster.kubesphere.io", "clusters") {
                return Err(Expect::Forbidden(format!("{what}: changing clusters")));
            }
        }
        Ok(())
    }
}

/// The read-only routes of issue 16 whose request the documentation fixes by the route
/// (docs/observability.md): a monitoring level is `list pods` where those pods are (cluster-wide
/// for `cluster`, `nodes[/{n}]` and `targets/query`; in the workspace for `workspaces/{ws}`;
/// in the namespace for everything below `namespaces/{ns}`), a workload's logs are `get
/// pods/log` in its namespace. `Err` for another method than GET: nothing is written there.
fn observability_request(method: &str, rest: &[String]) -> Option<Result<Attrs, String>> {
    let s: Vec<&str> = rest.iter().map(String::as_str).collect();
    let (verb, subresource, namespace, workspace) = match s.as_slice() {
        ["kapis", "monitoring.kubesphere.io", "v1alpha3", level @ ..] => match level {
            ["cluster"] | ["nodes"] | ["nodes", _] | ["targets", "query"] => ("list", "", "", ""),
            ["workspaces", ws] => ("list", "", "", *ws),
            ["namespaces", ns]
            | ["namespaces", ns, "pods"]
            | ["namespaces", ns, "pods", _]
            | ["namespaces", ns, "workloads", _, _]
            | ["namespaces", ns, "targets", "query"] => ("list", "", *ns, ""),
            _ => return None,
        },
        [
            "kapis",
            "tenant.kubesphere.io",
            "v1alpha2",
            "namespaces",
            ns,
            "workloads",
            _,
            _,
            "logs",
        ] => ("get", "log", *ns, ""),
        _ => return None,
    };
    if method != "GET" {
        return Some(Err(format!("{method} on the read-only {}", s.join("/"))));
    }
    Some(Ok(Attrs {
        resource_request: true,
        path: format!("/{}", s.join("/")),
        prefix: "api".into(),
        verb: verb.into(),
        version: "v1".into(),
        workspace: workspace.into(),
        namespace: namespace.into(),
        namespace_prefix: !namespace.is_empty(),
        resource: "pods".into(),
        subresource: subresource.into(),
        ..Attrs::default()
    }))
}

impl World {
    /// Whether `user` may do `a` in cluster `cluster` (the four levels; no filtered lists).
    pub fn may(&self, cluster: &str, user: &str, a: &Attrs) -> bool {
        self.clusters
            .get(cluster)
            .is_some_and(|c| self.authorized(c, user, a).is_ok())
    }

    /// The namespaces of workspace `ws` in a cluster.
    pub fn workspace_namespaces(&self, cluster: &str, ws: &str) -> BTreeSet<String> {
        self.clusters
            .get(cluster)
            .map(|c| {
                c.namespaces
                    .iter()
                    .filter(|(_, w)| w.as_deref() == Some(ws))
                    .map(|(ns, _)| ns.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The workspace of a namespace of a cluster.
    pub fn namespace_workspace(&self, cluster: &str, ns: &str) -> Option<String> {
        self.clusters.get(cluster)?.namespaces.get(ns)?.clone()
    }

    /// The oracle's name of a cluster the platform names (the host may go by its alias).
    pub fn cluster_name<'a>(&'a self, named: &str) -> Option<&'a str> {
        self.clusters.get_key_value(named).map(|(k, _)| k.as_str())
    }

    /// The workspaces where `user` reads audit events (`get` on `auditing`, named `events`, of
    /// `tenant.kubesphere.io`); `None`: a global role allows it, every event is theirs.
    pub fn auditing_workspaces(&self, user: &str) -> Option<BTreeSet<String>> {
        let read = |ws: &str| Attrs {
            resource_request: true,
            prefix: "kapis".into(),
            verb: "get".into(),
            group: "tenant.kubesphere.io".into(),
            version: "v1alpha2".into(),
            workspace: ws.into(),
            resource: "auditing".into(),
            name: "events".into(),
            ..Attrs::default()
        };
        if any_allows(self.global_rules(user), &read("")) {
            return None;
        }
        let mut all: BTreeSet<&str> = BTreeSet::new();
        for b in &self.workspace_bindings {
            if let Some(ws) = &b.scope {
                all.insert(ws);
            }
        }
        Some(
            all.into_iter()
                .filter(|ws| any_allows(self.workspace_rules(user, ws), &read(ws)))
                .map(str::to_string)
                .collect(),
        )
    }
}

/// The set of users the oracle's world binds to anything (for sanity checks).
pub fn bound_users(world: &World) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let all = world
        .global_bindings
        .iter()
        .chain(&world.workspace_bindings)
        .chain(world.clusters.values().flat_map(|c| &c.cluster_bindings))
        .chain(world.clusters.values().flat_map(|c| &c.role_bindings));
    for b in all {
        for (k, n) in &b.subjects {
            if k == "User" {
                out.insert(n.clone());
            }
        }
    }
    out
}

/// KubeSphere's generic resources API names a cluster resource by its plural (core group
/// first); it is then the request on that resource. The platform keeps its own Secrets
/// (metadata only) and users there.
fn resolve_generic(cluster: &ClusterData, a: &mut Attrs) -> Result<(), Expect> {
    if a.resource_request
        && a.prefix == "kapis"
        && a.group == "resources.kubesphere.io"
        && a.version == "v1alpha3"
        && a.workspace.is_empty()
        && a.subresource.is_empty()
        && !matches!(a.resource.as_str(), "secrets" | "users")
    {
        let mut found: Vec<(&(String, String), &Served)> = cluster
            .discovery
            .iter()
            .filter_map(|(gv, resources)| resources.get(&a.resource).map(|s| (gv, s)))
            .collect();
        found.sort_by_key(|((g, _), _)| {
            (
                !g.is_empty(),
                g.contains('.') && !g.ends_with(".k8s.io"),
                g.clone(),
            )
        });
        let Some(((group, version), served)) = found.first() else {
            return Err(Expect::NotFound(format!(
                "no resource {} to list generically",
                a.resource
            )));
        };
        if !served.namespaced && a.namespace_prefix {
            return Err(Expect::NotFound(format!(
                "{} is cluster-scoped, named under namespace {}",
                a.resource, a.namespace
            )));
        }
        if !served.namespaced && a.resource != "namespaces" {
            a.namespace.clear();
        }
        a.prefix = if group.is_empty() { "api" } else { "apis" }.into();
        a.group = group.clone();
        a.version = version.clone();
    }
    Ok(())
}

/// Every namespace's Secret metadata (list or watch of `/kapis/resources.kubesphere.io/
/// v1alpha3/secrets`) is decided as the cluster-wide list of core Secrets (ARCHITECTURE.md):
/// who lists a cluster's Secrets natively lists their metadata there (on the host, the
/// platform's own Secrets rule below still holds).
/// Anything else on the route (a name, another verb) stays a platform-level request.
fn every_secret_as_native(a: &mut Attrs) {
    if a.resource_request
        && a.prefix == "kapis"
        && a.group == "resources.kubesphere.io"
        && a.version == "v1alpha3"
        && a.resource == "secrets"
        && matches!(a.verb.as_str(), "list" | "watch")
        && a.namespace.is_empty()
        && a.workspace.is_empty()
        && a.name.is_empty()
        && a.subresource.is_empty()
    {
        a.prefix = "api".into();
        a.group.clear();
        a.version = "v1".into();
    }
}

/// A resource request names a served resource, a namespaced one if under a namespace.
fn check_served(cluster: &ClusterData, a: &Attrs) -> Result<(), Expect> {
    if a.resource_request && a.prefix != "kapis" {
        let served = cluster
            .discovery
            .get(&(a.group.clone(), a.version.clone()))
            .and_then(|resources| resources.get(&a.resource));
        match served {
            None => {
                return Err(Expect::NotFound(format!(
                    "{}/{} {} is not served",
                    a.group, a.version, a.resource
                )));
            }
            Some(s) if !s.namespaced && a.namespace_prefix => {
                return Err(Expect::NotFound(format!(
                    "{} is cluster-scoped, named under namespace {}",
                    a.resource, a.namespace
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attrs {
        Attrs {
            resource_request: true,
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Attrs::default()
        }
    }

    #[test]
    fn rules_match_as_in_kubernetes() {
        let r = PolicyRule::from_json(
            &json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "*/scale"]}),
        );
        assert!(rule_allows(&r, &attrs("get", "", "pods", "", "x")));
        assert!(!rule_allows(&r, &attrs("get", "", "pods", "log", "x")));
        assert!(rule_allows(
            &r,
            &attrs("get", "", "deployments", "scale", "x")
        ));
        assert!(!rule_allows(&r, &attrs("list", "", "pods", "", "")));
        assert!(!rule_allows(&r, &attrs("get", "apps", "pods", "", "x")));
        let star = PolicyRule::from_json(
            &json!({"verbs": ["*"], "apiGroups": [""], "resources": ["pods/*"]}),
        );
        assert!(
            !rule_allows(&star, &attrs("get", "", "pods", "exec", "x")),
            "pods/* is not a pattern"
        );
        let named = PolicyRule::from_json(
            &json!({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"], "resourceNames": ["a"]}),
        );
        assert!(rule_allows(&named, &attrs("get", "x", "y", "", "a")));
        assert!(!rule_allows(&named, &attrs("get", "x", "y", "", "b")));
        assert!(!rule_allows(&named, &attrs("list", "x", "y", "", "")));
        let urls =
            PolicyRule::from_json(&json!({"verbs": ["get"], "nonResourceURLs": ["/logs/*", "/x"]}));
        let nr = |p: &str| Attrs {
            path: p.into(),
            verb: "get".into(),
            ..Attrs::default()
        };
        assert!(rule_allows(&urls, &nr("/logs/a/b")));
        assert!(rule_allows(&urls, &nr("/x")));
        assert!(!rule_allows(&urls, &nr("/x/y")));
    }

    #[test]
    fn paths_decode_once_and_must_be_canonical() {
        assert_eq!(
            decode_segments("/api/v1/namespaces/p/secret%73").expect("ok"),
            ["api", "v1", "namespaces", "p", "secrets"]
        );
        assert_eq!(
            decode_segments("/api/v1/pods/a%2573").expect("ok")[3],
            "a%73"
        );
        for bad in [
            "/api//v1",
            "/api/v1/",
            "/api/./v1",
            "/api/../v1",
            "/api/%2e%2E/v1",
            "/api/%2E/v1",
            "/api/a%2fb",
            "/api/%00",
            "/api/%ff",
        ] {
            assert!(decode_segments(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_info_as_kube_apiserver() {
        let s = |p: &str| decode_segments(p).expect("canonical");
        let a = parse("GET", &s("/api/v1/namespaces/n/pods/p/log"), &[]);
        assert_eq!(
            (
                a.verb.as_str(),
                a.namespace.as_str(),
                a.resource.as_str(),
                a.name.as_str(),
                a.subresource.as_str()
            ),
            ("get", "n", "pods", "p", "log")
        );
        let a = parse("GET", &s("/api/v1/namespaces/n"), &[]);
        assert_eq!(
            (
                a.resource.as_str(),
                a.name.as_str(),
                a.namespace.as_str(),
                a.namespace_prefix
            ),
            ("namespaces", "n", "n", false)
        );
        let a = parse("PUT", &s("/api/v1/namespaces/n/finalize"), &[]);
        assert_eq!(
            (a.resource.as_str(), a.subresource.as_str()),
            ("namespaces", "finalize")
        );
        let a = parse("GET", &s("/api/v1/namespaces/n/namespaces/m"), &[]);
        assert!(a.namespace_prefix);
        assert_eq!((a.resource.as_str(), a.name.as_str()), ("namespaces", "m"));
        let a = parse(
            "GET",
            &s("/apis/apps/v1/watch/namespaces/n/deployments"),
            &[],
        );
        assert_eq!(a.verb, "watch");
        let q = vec![("watch".to_string(), "1".to_string())];
        assert_eq!(parse("GET", &s("/api/v1/pods"), &q).verb, "watch");
        let q = vec![("watch".to_string(), "yes".to_string())];
        assert_eq!(parse("GET", &s("/api/v1/pods"), &q).verb, "list");
        assert_eq!(
            parse("DELETE", &s("/api/v1/namespaces/n/pods"), &[]).verb,
            "deletecollection"
        );
        assert!(!parse("GET", &s("/apis/apps/v1"), &[]).resource_request);
        assert!(!parse("GET", &s("/API/v1/pods"), &[]).resource_request);
        let a = parse(
            "GET",
            &s("/kapis/iam.kubesphere.io/v1beta1/workspaces/w/workspacemembers/u"),
            &[],
        );
        assert_eq!(
            (a.workspace.as_str(), a.resource.as_str(), a.name.as_str()),
            ("w", "workspacemembers", "u")
        );
        let a = parse(
            "GET",
            &s("/kapis/tenant.kubesphere.io/v1beta1/workspaces/w"),
            &[],
        );
        assert_eq!(
            (a.workspace.as_str(), a.resource.as_str(), a.name.as_str()),
            ("w", "workspaces", "w")
        );
    }

    fn world() -> World {
        let rules = |v: Value| {
            v.as_array()
                .into_iter()
                .flatten()
                .map(PolicyRule::from_json)
                .collect::<Vec<_>>()
        };
        let user = |u: &str| vec![("User".to_string(), u.to_string())];
        let mut served = BTreeMap::new();
        for (r, namespaced) in [
            ("secrets", true),
            ("configmaps", true),
            ("namespaces", false),
            ("nodes", false),
            ("pods", true),
            ("events", true),
        ] {
            served.insert(
                r.to_string(),
                Served {
                    namespaced,
                    kind: String::new(),
                    verbs: vec![],
                },
            );
        }
        let mut discovery = BTreeMap::new();
        discovery.insert((String::new(), "v1".to_string()), served);
        let mut host = ClusterData {
            host: true,
            discovery,
            ..ClusterData::default()
        };
        host.namespaces.insert("a-p".into(), Some("a".into()));
        host.namespaces.insert("b-p".into(), Some("b".into()));
        host.namespaces.insert(SYSTEM_NAMESPACE.into(), None);
        host.cluster_roles.insert(
            "cluster-admin".into(),
            rules(json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])),
        );
        host.cluster_bindings.push(Binding {
            subjects: user("cadmin"),
            role: "cluster-admin".into(),
            scope: None,
        });
        host.role_bindings.push(Binding {
            subjects: user("nsviewer"),
            role: "viewer".into(),
            scope: Some("a-p".into()),
        });
        let mut w = World::default();
        w.global_roles.insert(
            "platform-admin".into(),
            rules(json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])),
        );
        w.global_bindings.push(Binding {
            subjects: user("padmin"),
            role: "platform-admin".into(),
            scope: None,
        });
        w.workspace_roles.insert(
            "a-admin".into(),
            (
                Some("a".into()),
                rules(json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])),
            ),
        );
        w.workspace_bindings.push(Binding {
            subjects: user("wsadmin"),
            role: "a-admin".into(),
            scope: Some("a".into()),
        });
        w.builtin_namespace_roles.insert("viewer".into(), rules(json!([{"apiGroups": [""], "resources": ["configmaps", "pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]}])));
        w.clusters.insert("host".into(), host);
        w
    }

    fn decide(w: &World, user: &str, method: &str, path: &str) -> &'static str {
        let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
        let query = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match w.decide(&Request {
            user,
            method,
            raw_path,
            query,
        }) {
            Expect::NotFound(_) => "404",
            Expect::Forbidden(_) => "403",
            Expect::Allowed(_) => "ok",
            Expect::Refused(_) => "refused",
        }
    }

    #[test]
    fn observability_routes_by_their_level() {
        let w = world();
        const MON: &str = "/kapis/monitoring.kubesphere.io/v1alpha3";
        const V2: &str = "/kapis/tenant.kubesphere.io/v1alpha2";
        const ALERTS: &str = "/kapis/alerting.kubesphere.io/v2beta1";
        let cases = [
            (
                "nsviewer",
                "GET",
                format!("{MON}/namespaces/a-p/targets/query"),
                "ok",
            ),
            (
                "nsviewer",
                "GET",
                format!("{MON}/namespaces/b-p/targets/query"),
                "403",
            ),
            (
                "nsviewer",
                "GET",
                format!("{MON}/namespaces/a-p/pods/x"),
                "ok",
            ),
            (
                "nsviewer",
                "GET",
                format!("{MON}/namespaces/a-p/workloads/jobs/x"),
                "ok",
            ),
            ("nsviewer", "GET", format!("{MON}/targets/query"), "403"),
            ("nsviewer", "GET", format!("{MON}/cluster"), "403"),
            ("nsviewer", "GET", format!("{MON}/workspaces/a"), "403"),
            (
                "nsviewer",
                "POST",
                format!("{MON}/namespaces/a-p"),
                "refused",
            ),
            ("padmin", "DELETE", format!("{MON}/cluster"), "refused"),
            ("cadmin", "GET", format!("{MON}/nodes/n1"), "ok"),
            (
                "cadmin",
                "GET",
                format!("/clusters/host{MON}/cluster"),
                "ok",
            ),
            ("wsadmin", "GET", format!("{MON}/workspaces/a"), "ok"),
            ("wsadmin", "GET", format!("{MON}/workspaces/b"), "403"),
            (
                "nsviewer",
                "GET",
                format!("{MON}/namespaces/a-p/bogus"),
                "403",
            ),
            ("nsviewer", "GET", format!("{V2}/events"), "ok"),
            (
                "nsviewer",
                "GET",
                format!("/clusters/host{V2}/events"),
                "403",
            ),
            (
                "nsviewer",
                "GET",
                "/kapis/tenant.kubesphere.io/v1beta1/events".to_string(),
                "403",
            ),
            ("nsviewer", "GET", format!("{V2}/auditing/events"), "ok"),
            ("nsviewer", "POST", format!("{V2}/auditing/events"), "403"),
            (
                "nsviewer",
                "GET",
                "/kapis/tenant.kubesphere.io/v1beta1/auditing/events".to_string(),
                "403",
            ),
            (
                "wsadmin",
                "GET",
                format!("{V2}/workspaces/a/auditing/events"),
                "ok",
            ),
            (
                "wsadmin",
                "GET",
                format!("{V2}/workspaces/b/auditing/events"),
                "403",
            ),
            (
                "nsviewer",
                "GET",
                format!("{V2}/namespaces/a-p/workloads/deployments/web/logs"),
                "ok",
            ),
            (
                "nsviewer",
                "GET",
                format!("{V2}/namespaces/b-p/workloads/deployments/web/logs"),
                "403",
            ),
            (
                "nsviewer",
                "PUT",
                format!("{V2}/namespaces/a-p/workloads/deployments/web/logs"),
                "refused",
            ),
            ("cadmin", "GET", format!("{ALERTS}/alerts"), "ok"),
            ("nsviewer", "GET", format!("{ALERTS}/alerts"), "403"),
            ("cadmin", "GET", format!("{ALERTS}/globalalerts"), "403"),
            ("padmin", "GET", format!("{ALERTS}/globalalerts"), "ok"),
        ];
        for (user, method, path, want) in cases {
            assert_eq!(
                decide(&w, user, method, &path),
                want,
                "{user} {method} {path}"
            );
        }
    }

    #[test]
    fn four_levels_and_the_platform_secrets() {
        let w = world();
        let cases = [
            ("wsadmin", "GET", "/api/v1/namespaces/a-p/secrets", "ok"),
            ("wsadmin", "GET", "/api/v1/namespaces/b-p/secrets", "403"),
            ("wsadmin", "GET", "/api/v1/nodes", "403"),
            (
                "wsadmin",
                "DELETE",
                "/api/v1/namespaces/a-p/namespaces/b-p",
                "404",
            ),
            ("padmin", "GET", "/api/v1/namespaces/a-p/nodes", "404"),
            ("padmin", "GET", "/api/v1/namespaces/a-p/Secrets", "404"),
            ("padmin", "GET", "/api/v1/namespaces/a-p/secrets/", "404"),
            ("padmin", "GET", "/clusters/nowhere/api/v1/nodes", "404"),
            (
                "nsviewer",
                "GET",
                "/api/v1/namespaces/a-p/configmaps?watch=true",
                "ok",
            ),
            ("nsviewer", "GET", "/api/v1/namespaces/a-p/secrets", "403"),
            ("nsviewer", "GET", "/api/v1/namespaces/a-p", "403"),
            (
                "nsviewer",
                "GET",
                "/API/v1/namespaces/a-p/configmaps",
                "403",
            ),
            ("nsviewer", "GET", "/api/v1", "ok"),
            ("cadmin", "GET", "/api/v1/namespaces/b-p/secrets", "ok"),
            (
                "cadmin",
                "GET",
                "/api/v1/namespaces/kubesphere-system/secrets",
                "403",
            ),
            ("cadmin", "GET", "/clusters/host/api/v1/secrets", "403"),
            (
                "cadmin",
                "GET",
                "/api/v1/namespaces/kubesphere-system/configmaps",
                "ok",
            ),
            (
                "padmin",
                "GET",
                "/api/v1/namespaces/kubesphere-system/secrets",
                "ok",
            ),
            (
                "cadmin",
                "GET",
                "/kapis/iam.kubesphere.io/v1beta1/users",
                "403",
            ),
            (
                "cadmin",
                "GET",
                "/kapis/iam.kubesphere.io/v1beta1/users/cadmin",
                "ok",
            ),
            (
                "cadmin",
                "GET",
                "/kapis/tenant.kubesphere.io/v1beta1/workspaces",
                "ok",
            ),
            (
                "cadmin",
                "GET",
                "/clusters/host/kapis/tenant.kubesphere.io/v1beta1/workspaces",
                "403",
            ),
            (
                "nsviewer",
                "GET",
                "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a/namespaces",
                "ok",
            ),
            (
                "nsviewer",
                "GET",
                "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b/namespaces",
                "403",
            ),
            (
                "wsadmin",
                "GET",
                "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b/namespaces/a-p",
                "403",
            ),
        ];
        for (user, method, path, want) in cases {
            assert_eq!(
                decide(&w, user, method, path),
                want,
                "{user} {method} {path}"
            );
        }
    }

    /// Every namespace's Secret metadata is the native cluster-wide list of Secrets: a
    /// member's own cluster administrator lists (and watches) it there; a name, another verb
    /// or another caller is refused; on the host, the platform's Secrets rule still holds.
    #[test]
    fn every_namespaces_secret_metadata_as_the_native_list() {
        let mut w = world();
        let mut member = w.clusters["host"].clone();
        member.host = false;
        member.cluster_bindings = vec![Binding {
            subjects: vec![("User".to_string(), "mcadmin".to_string())],
            role: "cluster-admin".into(),
            scope: None,
        }];
        w.clusters.insert("member".into(), member);
        const HOST: &str = "/kapis/resources.kubesphere.io/v1alpha3/secrets";
        const MEMBER: &str = "/clusters/member/kapis/resources.kubesphere.io/v1alpha3/secrets";
        let cases = [
            ("mcadmin", "GET", MEMBER.to_string(), "ok"),
            ("mcadmin", "GET", format!("{MEMBER}?watch=true"), "ok"),
            ("mcadmin", "GET", format!("{MEMBER}/x"), "403"),
            ("mcadmin", "POST", MEMBER.to_string(), "403"),
            ("mcadmin", "GET", HOST.to_string(), "403"),
            ("cadmin", "GET", MEMBER.to_string(), "403"),
            ("cadmin", "GET", HOST.to_string(), "403"),
            ("wsadmin", "GET", MEMBER.to_string(), "403"),
            ("padmin", "GET", HOST.to_string(), "ok"),
        ];
        for (user, method, path, want) in cases {
            assert_eq!(
                decide(&w, user, method, &path),
                want,
                "{user} {method} {path}"
            );
        }
    }

    /// An extension's routes: its UI bundle for everyone signed in (read only), its
    /// APIService by the role rules of the request's level, its ReverseProxy as a non-resource
    /// path (global roles).
    #[test]
    fn an_extensions_bundle_api_and_proxy() {
        let w = world();
        let cases = [
            ("nobody", "GET", "/dist/hello/index.js", "ok"),
            ("nobody", "POST", "/dist/hello/index.js", "403"),
            ("nobody", "GET", "/DIST/hello/index.js", "403"),
            (
                "wsadmin",
                "GET",
                "/kapis/hello.kubesphere.io/v1alpha1/namespaces/a-p/hellos",
                "ok",
            ),
            (
                "wsadmin",
                "GET",
                "/kapis/hello.kubesphere.io/v1alpha1/namespaces/b-p/hellos",
                "403",
            ),
            (
                "wsadmin",
                "GET",
                "/kapis/hello.kubesphere.io/v1alpha1/hellos",
                "403",
            ),
            (
                "padmin",
                "GET",
                "/kapis/hello.kubesphere.io/v1alpha1/hellos",
                "ok",
            ),
            ("wsadmin", "GET", "/proxy/hello/status", "403"),
            ("nobody", "GET", "/proxy/hello/status", "403"),
        ];
        for (user, method, path, want) in cases {
            assert_eq!(
                decide(&w, user, method, path),
                want,
                "{user} {method} {path}"
            );
        }
    }
}
