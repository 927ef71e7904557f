//! Request resolution: the one step every route family shares before authorization (pure).
//!
//! A path is decoded and made canonical first (percent-encoding decoded once, no empty, `.` or
//! `..` segments, no encoded `/`), then parsed into a [`RequestInfo`] and checked against the
//! target cluster's discovery: a resource the cluster does not serve, or a cluster-scoped
//! resource under a `namespaces/{ns}/` path, does not exist (404), as in kube-apiserver. The
//! authorizer sees the resolved request, and a proxy forwards the canonical path it returns, so
//! what was authorized is exactly what the cluster receives.

use std::collections::HashMap;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use super::scope::{RequestInfo, Scope};

/// What discovery says about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

/// The resources a cluster serves, by (group, version, plural).
#[derive(Debug, Clone, Default)]
pub struct ApiIndex {
    resources: HashMap<(String, String, String), ResourceInfo>,
    /// Group-versions of CRDs labelled `kubesphere.io/resource-served: "true"`, which
    /// KubeSphere's dynamic API serves under `/kapis/{group}/{version}/…`.
    kapis_served: std::collections::HashSet<(String, String)>,
}

impl ApiIndex {
    /// An empty index.
    pub fn new() -> ApiIndex {
        ApiIndex::default()
    }

    /// Records a resource.
    pub fn insert(&mut self, group: &str, version: &str, plural: &str, namespaced: bool) {
        self.resources.insert(
            (group.to_string(), version.to_string(), plural.to_string()),
            ResourceInfo { namespaced },
        );
    }

    /// Looks a resource up.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// The resource a plural names when no group is given (KubeSphere's generic API): the
    /// core group's first, then built-in groups (`*.k8s.io` or dotless), then the others, each
    /// by group name; the first version found in that order of groups.
    pub fn by_plural(&self, plural: &str) -> Option<(String, String, &ResourceInfo)> {
        let rank = |g: &str| {
            if g.is_empty() {
                0
            } else if g.ends_with(".k8s.io") || !g.contains('.') {
                1
            } else {
                2
            }
        };
        self.resources
            .iter()
            .filter(|((_, _, p), _)| p == plural)
            .min_by(|((ga, va, _), _), ((gb, vb, _), _)| {
                (rank(ga), ga, version_rank(va)).cmp(&(rank(gb), gb, version_rank(vb)))
            })
            .map(|((g, v, _), info)| (g.clone(), v.clone(), info))
    }

    /// The version of `group`/`plural` a client would pick (Kubernetes' version priority).
    pub fn version_of(&self, group: &str, plural: &str) -> Option<String> {
        self.resources
            .keys()
            .filter(|(g, _, p)| g == group && p == plural)
            .min_by(|(_, a, _), (_, b, _)| version_rank(a).cmp(&version_rank(b)))
            .map(|(_, v, _)| v.clone())
    }

    /// Records a group-version served under `/kapis` (its CRD carries
    /// `kubesphere.io/resource-served: "true"`).
    pub fn serve_under_kapis(&mut self, group: &str, version: &str) {
        self.kapis_served
            .insert((group.to_string(), version.to_string()));
    }

    /// The group-versions served under `/kapis` (KubeSphere's dynamic API).
    pub fn kapis_served(&self) -> impl Iterator<Item = &(String, String)> {
        self.kapis_served
            .iter()
            .filter(|(g, _)| !PLATFORM_KAPIS_GROUPS.contains(&g.as_str()))
    }

    /// Whether `/kapis/{group}/{version}/…` is KubeSphere's dynamic API for a CRD.
    pub fn serves_under_kapis(&self, group: &str, version: &str) -> bool {
        !PLATFORM_KAPIS_GROUPS.contains(&group)
            && self
                .kapis_served
                .contains(&(group.to_string(), version.to_string()))
    }

    /// How many resources it knows.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

/// Kubernetes' version priority (`v1` before `v1beta1` before `v1alpha1`, higher first), as a
/// sortable key.
fn version_rank(v: &str) -> (u8, std::cmp::Reverse<u32>, std::cmp::Reverse<u32>) {
    let Some(rest) = v.strip_prefix('v') else {
        return (3, std::cmp::Reverse(0), std::cmp::Reverse(0));
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stage, minor) = match tail {
        "" => (0, ""),
        t if t.starts_with("beta") => (1, &t[4..]),
        t if t.starts_with("alpha") => (2, &t[5..]),
        _ => (3, ""),
    };
    (
        stage,
        std::cmp::Reverse(major),
        std::cmp::Reverse(minor.parse().unwrap_or(0)),
    )
}

/// KubeSphere's generic resources API: `/kapis/resources.kubesphere.io/v1alpha3/[namespaces/
/// {ns}/]{resources}[/{name}]` names a cluster's resource by its plural alone. It is resolved
/// to that resource and authorized as a request on it.
pub const GENERIC_GROUP: &str = "resources.kubesphere.io";
/// The generic API's version.
pub const GENERIC_VERSION: &str = "v1alpha3";
/// Resources under the generic API's path that the platform serves itself, or never through
/// it: Secrets (metadata only, [`crate::http`]'s `secrets`) and users (whose password hashes
/// only the users API leaves out).
const GENERIC_OWN: [&str; 2] = ["secrets", "users"];

/// Groups whose `/kapis` routes the platform serves itself, never through the dynamic API.
pub const PLATFORM_KAPIS_GROUPS: [&str; 9] = [
    "iam.kubesphere.io",
    "tenant.kubesphere.io",
    "cluster.kubesphere.io",
    "resources.kubesphere.io",
    "search.orrery.io",
    "config.kubesphere.io",
    "application.kubesphere.io",
    "alerting.kubesphere.io",
    "package.kubesphere.io",
];

/// Whether `info` is a request of KubeSphere's dynamic API: `/kapis/{group}/{version}/…` of
/// a CRD labelled `kubesphere.io/resource-served: "true"`, which is then the request on the
/// cluster's own resource.
pub fn is_dynamic(info: &RequestInfo, index: &ApiIndex) -> bool {
    info.is_resource_request
        && info.api_prefix == "kapis"
        && info.workspace.is_empty()
        && index.serves_under_kapis(&info.api_group, &info.api_version)
}

/// Whether `info` is a request of the generic resources API on a cluster resource.
pub fn is_generic(info: &RequestInfo) -> bool {
    info.is_resource_request
        && info.api_prefix == "kapis"
        && info.api_group == GENERIC_GROUP
        && info.api_version == GENERIC_VERSION
        && info.workspace.is_empty()
        && info.subresource.is_empty()
        && !GENERIC_OWN.contains(&info.resource.as_str())
}

/// Every namespace's Secrets, metadata only (`/kapis/resources.kubesphere.io/v1alpha3/secrets`),
/// as the request it is decided as: the native cluster-wide list (or watch) of Secrets. Who may
/// list Secrets in every namespace of a cluster may list their metadata there; nobody else (a
/// `kapis` path without a namespace is otherwise decided by global roles only, which would
/// refuse a member's own cluster administrators).
pub fn decided_as(info: &RequestInfo) -> Option<RequestInfo> {
    let every_secret = info.is_resource_request
        && matches!(info.verb.as_str(), "list" | "watch")
        && info.api_prefix == "kapis"
        && info.api_group == GENERIC_GROUP
        && info.api_version == GENERIC_VERSION
        && info.resource == "secrets"
        && info.namespace.is_empty()
        && info.workspace.is_empty()
        && info.name.is_empty()
        && info.subresource.is_empty();
    every_secret.then(|| RequestInfo {
        api_prefix: "api".into(),
        api_group: String::new(),
        api_version: "v1".into(),
        scope: Scope::Cluster,
        ..info.clone()
    })
}

/// Why a request was not resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The path names nothing the target serves (kube-apiserver's 404).
    NotFound(String),
    /// The resource is not in the index; discovery may be stale (a CRD created a moment ago).
    UnknownResource {
        /// API group.
        group: String,
        /// Version.
        version: String,
        /// Plural.
        resource: String,
    },
}

/// A resolved request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// What the request is about (its `path` is the canonical path).
    pub info: RequestInfo,
    /// Whether a `namespaces/{ns}/` prefix scoped a resource inside it.
    pub namespace_prefix: bool,
}

/// Characters re-encoded in a canonical path segment: controls, space and the characters
/// that would change how the segment is read (`/`, `?`, `#`, `%`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Decodes a path into its segments, refusing every form a server could read differently from
/// the platform: empty segments (`//`, a trailing `/`), `.` and `..`, an encoded `/` or NUL,
/// invalid UTF-8, control characters.
pub fn segments(raw_path: &str) -> Result<Vec<String>, String> {
    let Some(rest) = raw_path.strip_prefix('/') else {
        return Err(format!("path {raw_path:?} does not start with /"));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for raw in rest.split('/') {
        let decoded = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| format!("path {raw_path:?} is not UTF-8 once decoded"))?;
        if decoded.is_empty() || decoded == "." || decoded == ".." {
            return Err(format!("path {raw_path:?} is not canonical"));
        }
        if decoded.chars().any(|c| c == '/' || c.is_control()) {
            return Err(format!(
                "path {raw_path:?} has an encoded separator or control character"
            ));
        }
        out.push(decoded.into_owned());
    }
    Ok(out)
}

/// The canonical path of decoded segments (each re-encoded where it must be).
pub fn canonical_path(segments: &[String]) -> String {
    if segments.is_empty() {
        return "/".to_string();
    }
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.extend(utf8_percent_encode(s, SEGMENT));
    }
    out
}

/// A workload's merged logs (`/kapis/tenant.kubesphere.io/v1alpha2/namespaces/{ns}/workloads/
/// {kind}/{name}/logs`) are the logs of its pods, so the request is `get pods/log` in that
/// namespace (as `/api/v1`, so that resolution does not look it up in discovery again).
fn workload_logs(method: &str, parts: &[&str], path: &str) -> Option<RequestInfo> {
    let [
        "kapis",
        "tenant.kubesphere.io",
        "v1alpha2",
        "namespaces",
        ns,
        "workloads",
        _,
        _,
        "logs",
    ] = parts
    else {
        return None;
    };
    let verb = if matches!(method, "GET" | "HEAD") {
        "get"
    } else {
        "unknown"
    };
    let mut info =
        RequestInfo::from_attributes(verb, "", "pods", "log", "", ns, "", Some(Scope::Namespace));
    info.path = path.to_string();
    info.api_prefix = "api".into();
    info.api_version = "v1".into();
    Some(info)
}

/// The monitoring API (`/kapis/monitoring.kubesphere.io/v1alpha3/…`) shows what pods use, so
/// a request is `list pods` where those pods are: cluster-wide for the cluster, its nodes and
/// cluster-wide PromQL; in the workspace for a workspace; in the namespace for everything below
/// `namespaces/{ns}` (as `/api/v1`, so that resolution does not look it up in discovery again).
fn monitoring_request(method: &str, parts: &[&str], path: &str) -> Option<RequestInfo> {
    let ["kapis", "monitoring.kubesphere.io", "v1alpha3", rest @ ..] = parts else {
        return None;
    };
    let verb = if matches!(method, "GET" | "HEAD") {
        "list"
    } else {
        "unknown"
    };
    let (ns, ws, scope) = match rest {
        ["cluster"] | ["nodes"] | ["nodes", _] | ["targets", "query"] => ("", "", Scope::Cluster),
        ["workspaces", ws] => ("", *ws, Scope::Workspace),
        ["namespaces", ns]
        | ["namespaces", ns, "pods"]
        | ["namespaces", ns, "pods", _]
        | ["namespaces", ns, "workloads", _, _]
        | ["namespaces", ns, "targets", "query"] => (*ns, "", Scope::Namespace),
        _ => return None,
    };
    let mut info = RequestInfo::from_attributes(verb, "", "pods", "", "", ns, ws, Some(scope));
    info.path = path.to_string();
    info.api_prefix = "api".into();
    info.api_version = "v1".into();
    Some(info)
}

/// Resolves a request against the target cluster's `index` (`None` for paths that are the
/// platform's own, such as `/kapis/…`, whose routes fix their scope).
pub fn resolve(
    method: &str,
    raw_path: &str,
    query: &str,
    index: Option<&ApiIndex>,
) -> Result<Resolved, Unresolved> {
    let segs = segments(raw_path).map_err(Unresolved::NotFound)?;
    let path = canonical_path(&segs);
    let parts: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (mut info, namespace_prefix) = RequestInfo::from_parts(method, &path, &parts, query);
    if let Some(info) = monitoring_request(method, &parts, &path) {
        let namespace_prefix = !info.namespace.is_empty();
        return Ok(Resolved {
            info,
            namespace_prefix,
        });
    }
    if let Some(info) = workload_logs(method, &parts, &path) {
        return Ok(Resolved {
            info,
            namespace_prefix: true,
        });
    }
    if is_generic(&info)
        && let Some(index) = index
    {
        let Some((group, version, found)) = index.by_plural(&info.resource) else {
            return Err(Unresolved::UnknownResource {
                group: String::new(),
                version: String::new(),
                resource: info.resource.clone(),
            });
        };
        if namespace_prefix && !found.namespaced {
            return Err(Unresolved::NotFound(format!(
                "{} is not a namespaced resource",
                info.resource
            )));
        }
        // As kube-apiserver: `namespaces/{ns}` itself is a request in namespace {ns}.
        let in_namespace = found.namespaced || info.resource == "namespaces";
        info.scope = if !info.namespace.is_empty() && in_namespace {
            Scope::Namespace
        } else if super::scope::is_platform_object(&group, &info.resource) {
            Scope::Global
        } else {
            Scope::Cluster
        };
        if !found.namespaced && info.resource != "namespaces" {
            info.namespace.clear();
        }
        info.api_group = group;
        info.api_version = version;
        return Ok(Resolved {
            info,
            namespace_prefix,
        });
    }
    if info.is_resource_request
        && (info.api_prefix != "kapis" || index.is_some_and(|i| is_dynamic(&info, i)))
        && let Some(index) = index
    {
        let Some(found) = index.get(&info.api_group, &info.api_version, &info.resource) else {
            return Err(Unresolved::UnknownResource {
                group: info.api_group.clone(),
                version: info.api_version.clone(),
                resource: info.resource.clone(),
            });
        };
        if namespace_prefix && !found.namespaced {
            return Err(Unresolved::NotFound(format!(
                "{} is not a namespaced resource",
                info.resource
            )));
        }
        // The dynamic API's cluster-wide requests are the cluster's, as under `/apis`.
        if info.api_prefix == "kapis" && info.namespace.is_empty() {
            info.scope = if super::scope::is_platform_object(&info.api_group, &info.resource) {
                Scope::Global
            } else {
                Scope::Cluster
            };
        }
    }
    Ok(Resolved {
        info,
        namespace_prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::scope::Scope;
    use proptest::prelude::*;

    fn index() -> ApiIndex {
        let mut i = ApiIndex::new();
        i.insert("", "v1", "pods", true);
        i.insert("", "v1", "secrets", true);
        i.insert("", "v1", "namespaces", false);
        i.insert("", "v1", "nodes", false);
        i.insert("iam.kubesphere.io", "v1beta1", "users", false);
        i.insert(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            false,
        );
        i
    }

    fn ok(method: &str, path: &str) -> Resolved {
        resolve(method, path, "", Some(&index())).unwrap_or_else(|e| panic!("{path}: {e:?}"))
    }

    fn not_found(path: &str) -> bool {
        matches!(
            resolve("GET", path, "", Some(&index())),
            Err(Unresolved::NotFound(_))
        )
    }

    #[test]
    fn workload_logs_are_pod_logs_in_the_namespace() {
        let path =
            "/kapis/tenant.kubesphere.io/v1alpha2/namespaces/p/workloads/deployments/web/logs";
        let r = ok("GET", path);
        assert_eq!(
            (
                r.info.verb.as_str(),
                r.info.api_group.as_str(),
                r.info.resource.as_str(),
                r.info.subresource.as_str(),
                r.info.namespace.as_str(),
                r.info.scope
            ),
            ("get", "", "pods", "log", "p", Scope::Namespace)
        );
        assert_eq!(r.info.path, path);
        // Anything longer or shorter is not this route.
        let r = ok(
            "GET",
            "/kapis/tenant.kubesphere.io/v1alpha2/namespaces/p/workloads/deployments/web",
        );
        assert_eq!(r.info.resource, "workloads");
    }

    #[test]
    fn cluster_scoped_under_a_namespace_does_not_exist() {
        assert!(not_found(
            "/apis/iam.kubesphere.io/v1beta1/namespaces/p/users/admin"
        ));
        assert!(not_found("/api/v1/namespaces/p/namespaces/q"));
        assert!(not_found("/api/v1/namespaces/p/nodes"));
        assert!(not_found("/api/v1/watch/namespaces/p/nodes"));
        assert!(not_found(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/p/clusterrolebindings"
        ));
        let r = ok("GET", "/api/v1/namespaces/p");
        assert_eq!(
            (r.info.resource.as_str(), r.info.name.as_str()),
            ("namespaces", "p")
        );
        assert!(!r.namespace_prefix);
        let r = ok("PUT", "/api/v1/namespaces/p/finalize");
        assert_eq!(r.info.subresource, "finalize");
        let r = ok("GET", "/api/v1/namespaces/p/pods/x");
        assert_eq!(r.info.scope, Scope::Namespace);
        assert!(r.namespace_prefix);
        // Platform objects are decided at the global level only.
        let r = ok("GET", "/apis/iam.kubesphere.io/v1beta1/users/admin");
        assert_eq!(r.info.scope, Scope::Global);
        let r = ok("GET", "/api/v1/nodes/n");
        assert_eq!(r.info.scope, Scope::Cluster);
    }

    #[test]
    fn unknown_resources_ask_for_fresh_discovery() {
        assert!(matches!(
            resolve("GET", "/api/v1/namespaces/p/secret%73x", "", Some(&index())),
            Err(Unresolved::UnknownResource { .. })
        ));
        // Kapis paths are the platform's own.
        assert!(resolve("GET", "/kapis/x.io/v1/things", "", Some(&index())).is_ok());
    }

    #[test]
    fn encodings_are_decoded_once_and_forwarded_canonically() {
        let r = ok("GET", "/api/v1/namespaces/p/secret%73/x");
        assert_eq!(r.info.resource, "secrets");
        assert_eq!(r.info.path, "/api/v1/namespaces/p/secrets/x");
        for bad in [
            "/api/v1//namespaces/p/secrets",
            "/api/v1/namespaces/p/../q/secrets",
            "/api/v1/namespaces/p/%2e%2e/q/secrets",
            "/api/v1/namespaces/p%2fq/secrets",
            "/api/v1/namespaces/p/secrets/",
            "/api/v1/namespaces/p/./secrets",
            "/api/v1/namespaces/%00/secrets",
            "/api/v1/namespaces/%ff/secrets",
        ] {
            assert!(not_found(bad), "{bad}");
        }
        // A double-encoded `%` stays a literal `%` and is sent re-encoded.
        let r = resolve(
            "GET",
            "/api/v1/namespaces/p/pods/a%2573",
            "",
            Some(&index()),
        )
        .expect("resolves");
        assert_eq!(r.info.name, "a%73");
        assert_eq!(r.info.path, "/api/v1/namespaces/p/pods/a%2573");
    }

    proptest! {
        #[test]
        fn canonical_paths_are_fixed_points(segs in proptest::collection::vec("[a-zA-Z0-9.%/ ?#-]{1,6}", 0..6)) {
            let segs: Vec<String> = segs.into_iter().filter(|s| s != "." && s != ".." && !s.contains('/')).collect();
            let path = canonical_path(&segs);
            prop_assert_eq!(segments(&path).expect("canonical"), segs.clone());
            prop_assert_eq!(canonical_path(&segments(&path).expect("canonical")), path);
        }
    }
}

#[cfg(test)]
mod generic_tests {
    use super::*;

    fn index() -> ApiIndex {
        let mut i = ApiIndex::new();
        i.insert("", "v1", "configmaps", true);
        i.insert("", "v1", "events", true);
        i.insert("events.k8s.io", "v1", "events", true);
        i.insert("", "v1", "namespaces", false);
        i.insert("", "v1", "nodes", false);
        i.insert("apps", "v1", "deployments", true);
        i.insert("example.com", "v1alpha1", "widgets", true);
        i.insert("example.com", "v1", "widgets", true);
        i.insert("example.com", "v1beta2", "widgets", true);
        i.insert(
            "tenant.kubesphere.io",
            "v1beta1",
            "workspacetemplates",
            false,
        );
        i
    }

    fn resolved(path: &str) -> RequestInfo {
        resolve("GET", path, "", Some(&index()))
            .unwrap_or_else(|e| panic!("{path}: {e:?}"))
            .info
    }

    const G: &str = "/kapis/resources.kubesphere.io/v1alpha3";

    #[test]
    fn every_namespaces_secret_metadata_is_decided_as_the_native_list() {
        for (query, verb) in [("", "list"), ("watch=true", "watch")] {
            let i = resolve("GET", &format!("{G}/secrets"), query, Some(&index()))
                .expect("resolves")
                .info;
            let d = decided_as(&i).expect("decided as the native list");
            assert_eq!(
                (
                    d.api_prefix.as_str(),
                    d.api_group.as_str(),
                    d.resource.as_str(),
                    d.verb.as_str(),
                    d.scope
                ),
                ("api", "", "secrets", verb, Scope::Cluster)
            );
        }
        // A namespace's Secrets (viewers read their metadata) and one Secret are decided as
        // they are; so is anything else.
        for (method, path) in [
            ("GET", format!("{G}/namespaces/p/secrets")),
            ("GET", format!("{G}/namespaces/p/secrets/db")),
            ("GET", format!("{G}/users")),
            ("GET", format!("{G}/configmaps")),
            // Only a read is decided as the native list: a write to the route is decided as
            // itself (and the route answers only GET).
            ("POST", format!("{G}/secrets")),
            ("DELETE", format!("{G}/secrets")),
            ("PUT", format!("{G}/secrets")),
        ] {
            let i = resolve(method, &path, "", Some(&index()))
                .expect("resolves")
                .info;
            assert_eq!(decided_as(&i), None, "{method} {path}");
        }
    }

    #[test]
    fn a_plural_resolves_to_its_cluster_resource_and_scope() {
        let i = resolved(&format!("{G}/namespaces/p/configmaps"));
        assert_eq!(
            (
                i.api_group.as_str(),
                i.api_version.as_str(),
                i.scope,
                i.verb.as_str()
            ),
            ("", "v1", Scope::Namespace, "list")
        );
        let i = resolved(&format!("{G}/deployments"));
        assert_eq!((i.api_group.as_str(), i.scope), ("apps", Scope::Cluster));
        let i = resolved(&format!("{G}/events"));
        assert_eq!(i.api_group, "", "the core group first");
        let i = resolved(&format!("{G}/widgets"));
        assert_eq!(i.api_version, "v1", "the preferred version");
        let i = resolved(&format!("{G}/namespaces/p"));
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.scope),
            ("namespaces", "p", Scope::Namespace)
        );
        let i = resolved(&format!("{G}/workspacetemplates"));
        assert_eq!(
            i.scope,
            Scope::Global,
            "platform objects are decided globally"
        );
    }

    #[test]
    fn cluster_scoped_under_a_namespace_and_unknown_plurals_do_not_resolve() {
        let idx = index();
        assert!(matches!(
            resolve("GET", &format!("{G}/namespaces/p/nodes"), "", Some(&idx)),
            Err(Unresolved::NotFound(_))
        ));
        assert!(matches!(
            resolve("GET", &format!("{G}/gadgets"), "", Some(&idx)),
            Err(Unresolved::UnknownResource { .. })
        ));
        // The platform's own metadata-only Secrets stay its own.
        let i = resolved(&format!("{G}/namespaces/p/secrets"));
        assert_eq!(i.api_group, GENERIC_GROUP);
    }

    #[test]
    fn versions_sort_as_kubernetes_sorts_them() {
        let mut v = vec!["v1alpha1", "v2", "v1beta1", "v1", "v1beta2", "foo"];
        v.sort_by_key(|v| version_rank(v));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }
}
