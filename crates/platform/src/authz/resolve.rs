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

use super::scope::RequestInfo;

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

    /// How many resources it knows.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
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
    let (info, namespace_prefix) = RequestInfo::from_parts(method, &path, &parts, query);
    if info.is_resource_request
        && info.api_prefix != "kapis"
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
