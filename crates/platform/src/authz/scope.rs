//! The request scope: what a request is about, parsed from its method, path and query (pure).
//!
//! Follows kube-apiserver's request-info rules for `/api` and `/apis`, extended for KubeSphere's
//! `/kapis/{group}/{version}/…` paths with `workspaces/{ws}/` and `namespaces/{ns}/` segments.

/// Which of the four authorization levels a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Platform-wide objects (users, workspaces list, global roles).
    Global,
    /// Cluster-scoped objects of the host cluster.
    Cluster,
    /// Objects of one workspace.
    Workspace,
    /// Objects in one namespace.
    Namespace,
}

impl Scope {
    /// The lower-case name used in review answers and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Cluster => "cluster",
            Scope::Workspace => "workspace",
            Scope::Namespace => "namespace",
        }
    }
}

/// What a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The URL path as sent.
    pub path: String,
    /// The RBAC verb (get, list, watch, create, update, patch, delete, deletecollection, or the
    /// lower-case method for non-resource requests).
    pub verb: String,
    /// Whether this names a resource (as opposed to a non-resource URL).
    pub is_resource_request: bool,
    /// `api`, `apis` or `kapis` (empty for non-resource requests).
    pub api_prefix: String,
    /// The API group (`""` for core).
    pub api_group: String,
    /// The API version.
    pub api_version: String,
    /// The workspace named by the path.
    pub workspace: String,
    /// The namespace named by the path.
    pub namespace: String,
    /// The resource (plural).
    pub resource: String,
    /// The subresource, if any.
    pub subresource: String,
    /// The object name, if any.
    pub name: String,
    /// The level of the request.
    pub scope: Scope,
}

const API_PREFIXES: [&str; 3] = ["api", "apis", "kapis"];
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];
const CLUSTER_KAPIS_RESOURCES: [&str; 3] =
    ["clustermembers", "clusterroles", "clusterrolebindings"];

/// Whether a cluster-scoped resource is identity or tenancy state of the platform (users and
/// their password hashes, login records, global roles, workspaces), decided at the global level
/// only; iam ClusterRoles and their bindings are the cluster level's. Clusters stay readable by
/// cluster roles (their kubeconfigs live in Secrets; changes are guarded separately).
pub fn is_platform_object(group: &str, resource: &str) -> bool {
    match group {
        "iam.kubesphere.io" => !matches!(resource, "clusterroles" | "clusterrolebindings"),
        "tenant.kubesphere.io" => true,
        // Platform-wide rule groups, and where notifications go (SMTP credentials included).
        "alerting.kubesphere.io" => resource == "globalrulegroups",
        "notification.kubesphere.io" => true,
        _ => false,
    }
}

/// Whether a boolean query parameter is set, read as Go's `strconv.ParseBool` reads it
/// (kube-apiserver's parameter conversion), so the platform and the cluster agree on it.
fn query_flag(query: &str, key: &str) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| k == key && matches!(v.as_ref(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
}

impl RequestInfo {
    /// Parses a request; never fails (anything unrecognised is a non-resource request).
    ///
    /// Splits the path as sent; [`super::resolve`] is the checked form that decodes and
    /// canonicalises segments first and consults the cluster's discovery.
    pub fn parse(method: &str, path: &str, query: &str) -> RequestInfo {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        Self::from_parts(method, path, &parts, query).0
    }

    /// Parses already split path segments. The flag says whether a `namespaces/{ns}/` prefix
    /// was taken as the namespace of a resource inside it (as opposed to the Namespace object).
    pub(crate) fn from_parts(
        method: &str,
        path: &str,
        parts: &[&str],
        query: &str,
    ) -> (RequestInfo, bool) {
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.to_ascii_lowercase(),
            is_resource_request: false,
            api_prefix: String::new(),
            api_group: String::new(),
            api_version: String::new(),
            workspace: String::new(),
            namespace: String::new(),
            resource: String::new(),
            subresource: String::new(),
            name: String::new(),
            scope: Scope::Global,
        };
        let mut namespace_prefix = false;
        let Some(prefix) = parts.first().copied() else {
            return (info, namespace_prefix);
        };
        if !API_PREFIXES.contains(&prefix) {
            return (info, namespace_prefix);
        }
        let mut rest = &parts[1..];
        let group = if prefix == "api" {
            if rest.len() < 2 {
                return (info, namespace_prefix);
            }
            ""
        } else {
            if rest.len() < 3 {
                return (info, namespace_prefix);
            }
            let g = rest[0];
            rest = &rest[1..];
            g
        };
        let version = rest[0];
        rest = &rest[1..];
        info.is_resource_request = true;
        info.api_prefix = prefix.to_string();
        info.api_group = group.to_string();
        info.api_version = version.to_string();
        let mut watch_path = false;
        if rest.first() == Some(&"watch") && rest.len() >= 2 {
            watch_path = true;
            rest = &rest[1..];
        }
        if prefix == "kapis" && rest.first() == Some(&"workspaces") && rest.len() >= 2 {
            info.workspace = rest[1].to_string();
            if rest.len() > 2 {
                rest = &rest[2..];
            }
        }
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            info.namespace = rest[1].to_string();
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest = &rest[2..];
                namespace_prefix = true;
            }
        }
        if let Some(r) = rest.first() {
            info.resource = (*r).to_string();
        }
        if let Some(n) = rest.get(1) {
            info.name = (*n).to_string();
        }
        if let Some(s) = rest.get(2) {
            info.subresource = (*s).to_string();
        }
        info.verb = match method {
            "GET" | "HEAD" => {
                // A named GET with `watch` is a watch of that object in the embedded cluster.
                if watch_path || query_flag(query, "watch") {
                    "watch"
                } else if info.name.is_empty() {
                    "list"
                } else {
                    "get"
                }
            }
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => {
                if info.name.is_empty() {
                    "deletecollection"
                } else {
                    "delete"
                }
            }
            _ => "unknown",
        }
        .to_string();
        info.scope = if !info.namespace.is_empty() {
            Scope::Namespace
        } else if !info.workspace.is_empty() {
            Scope::Workspace
        } else if prefix == "kapis" {
            // (A cluster's alerts: `alerting.kubesphere.io/v2beta1/alerts`.)
            if CLUSTER_KAPIS_RESOURCES.contains(&info.resource.as_str())
                || (info.api_group == "alerting.kubesphere.io" && info.resource == "alerts")
            {
                Scope::Cluster
            } else {
                Scope::Global
            }
        } else if is_platform_object(&info.api_group, &info.resource) {
            // Users, global roles, workspaces, clusters… are the platform's, not the cluster's:
            // a cluster role (say cluster-viewer, which reads `*`) must not reach them.
            Scope::Global
        } else {
            Scope::Cluster
        };
        (info, namespace_prefix)
    }

    /// A resource request built from review attributes (SubjectAccessReview and friends).
    #[allow(clippy::too_many_arguments)]
    pub fn from_attributes(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        name: &str,
        namespace: &str,
        workspace: &str,
        scope: Option<Scope>,
    ) -> RequestInfo {
        let scope = scope.unwrap_or(if !namespace.is_empty() {
            Scope::Namespace
        } else if !workspace.is_empty() {
            Scope::Workspace
        } else {
            Scope::Cluster
        });
        RequestInfo {
            path: String::new(),
            verb: verb.to_string(),
            is_resource_request: true,
            api_prefix: String::new(),
            api_group: group.to_string(),
            api_version: String::new(),
            workspace: workspace.to_string(),
            namespace: namespace.to_string(),
            resource: resource.to_string(),
            subresource: subresource.to_string(),
            name: name.to_string(),
            scope,
        }
    }

    /// A non-resource request (path + verb).
    pub fn non_resource(verb: &str, path: &str) -> RequestInfo {
        let mut info = RequestInfo::parse("GET", path, "");
        info.is_resource_request = false;
        info.verb = verb.to_string();
        info.scope = Scope::Global;
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn core_and_group_paths() {
        let r = RequestInfo::parse("GET", "/api/v1/namespaces/ns1/pods/p1/log", "");
        assert_eq!(
            (
                r.api_group.as_str(),
                r.namespace.as_str(),
                r.resource.as_str(),
                r.name.as_str(),
                r.subresource.as_str(),
                r.verb.as_str()
            ),
            ("", "ns1", "pods", "p1", "log", "get")
        );
        assert_eq!(r.scope, Scope::Namespace);
        let r = RequestInfo::parse("GET", "/apis/apps/v1/deployments", "watch=true");
        assert_eq!(
            (r.api_group.as_str(), r.verb.as_str(), r.scope),
            ("apps", "watch", Scope::Cluster)
        );
        let r = RequestInfo::parse("DELETE", "/api/v1/namespaces/x/configmaps", "");
        assert_eq!(r.verb, "deletecollection");
        let r = RequestInfo::parse("GET", "/api/v1/watch/namespaces/x/pods", "");
        assert_eq!(
            (r.verb.as_str(), r.namespace.as_str(), r.resource.as_str()),
            ("watch", "x", "pods")
        );
    }

    #[test]
    fn namespace_objects_are_in_their_own_namespace() {
        let r = RequestInfo::parse("GET", "/api/v1/namespaces/a", "");
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.namespace.as_str()),
            ("namespaces", "a", "a")
        );
        let r = RequestInfo::parse("PUT", "/api/v1/namespaces/a/finalize", "");
        assert_eq!(
            (r.resource.as_str(), r.subresource.as_str()),
            ("namespaces", "finalize")
        );
        let r = RequestInfo::parse("GET", "/api/v1/namespaces", "");
        assert_eq!((r.verb.as_str(), r.scope), ("list", Scope::Cluster));
    }

    #[test]
    fn kapis_workspaces() {
        let r = RequestInfo::parse(
            "GET",
            "/kapis/iam.kubesphere.io/v1beta1/workspaces/w1/workspacemembers/bob",
            "",
        );
        assert_eq!(
            (
                r.workspace.as_str(),
                r.resource.as_str(),
                r.name.as_str(),
                r.scope
            ),
            ("w1", "workspacemembers", "bob", Scope::Workspace)
        );
        let r = RequestInfo::parse(
            "GET",
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces/w1",
            "",
        );
        assert_eq!(
            (
                r.workspace.as_str(),
                r.resource.as_str(),
                r.name.as_str(),
                r.scope
            ),
            ("w1", "workspaces", "w1", Scope::Workspace)
        );
        let r = RequestInfo::parse(
            "POST",
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces/w1/namespaces",
            "",
        );
        assert_eq!(
            (
                r.workspace.as_str(),
                r.resource.as_str(),
                r.verb.as_str(),
                r.scope
            ),
            ("w1", "namespaces", "create", Scope::Workspace)
        );
        let r = RequestInfo::parse(
            "GET",
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces/w1/namespaces/p1",
            "",
        );
        assert_eq!(
            (r.workspace.as_str(), r.namespace.as_str(), r.scope),
            ("w1", "p1", Scope::Namespace)
        );
        let r = RequestInfo::parse("GET", "/kapis/iam.kubesphere.io/v1beta1/users", "");
        assert_eq!((r.verb.as_str(), r.scope), ("list", Scope::Global));
        let r = RequestInfo::parse(
            "POST",
            "/kapis/iam.kubesphere.io/v1beta1/clustermembers",
            "",
        );
        assert_eq!(r.scope, Scope::Cluster);
    }

    #[test]
    fn non_resource() {
        for p in [
            "/",
            "/healthz",
            "/api",
            "/apis",
            "/apis/apps",
            "/version",
            "/oauth/token",
        ] {
            let r = RequestInfo::parse("GET", p, "");
            assert!(!r.is_resource_request, "{p}");
            assert_eq!(r.verb, "get");
        }
        assert!(!RequestInfo::parse("GET", "/api/v1", "").is_resource_request);
        assert!(RequestInfo::parse("GET", "/api/v1/pods", "").is_resource_request);
        assert!(!RequestInfo::parse("GET", "/apis/apps/v1", "").is_resource_request);
    }

    proptest! {
        #[test]
        fn never_panics_and_namespace_scope_is_consistent(path in "(/[a-z0-9.]{0,6}){0,9}", m in "GET|PUT|POST|DELETE|PATCH|OPTIONS") {
            let r = RequestInfo::parse(&m, &path, "watch=1");
            prop_assert_eq!(r.scope == Scope::Namespace, !r.namespace.is_empty());
            if !r.is_resource_request { prop_assert!(r.resource.is_empty()); }
        }
    }
}
