//! Turning a request path into what it addresses (kube-apiserver's RequestInfo).

/// What a Kubernetes API path addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Whether the path names a resource (as opposed to discovery or a non-resource URL).
    pub is_resource: bool,
    /// "api" or "apis".
    pub prefix: String,
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub resource: String,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `log`, …), if any.
    pub subresource: Option<String>,
    /// Whether the legacy `/watch/` path segment was used.
    pub legacy_watch: bool,
    /// Whether a `namespaces/{ns}/` prefix named the namespace (as opposed to a Namespace
    /// object's own path).
    pub namespace_prefix: bool,
    /// Path segments, for discovery paths.
    pub parts: Vec<String>,
}

/// Parses `/api/...` and `/apis/...` paths; `None` for anything else.
pub fn parse_path(path: &str) -> Option<RequestInfo> {
    let parts: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    let mut info = RequestInfo {
        parts: parts.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let rest: &[&str] = match parts.first() {
        Some(&"api") => {
            info.prefix = "api".into();
            match parts.get(1) {
                Some(v) => {
                    info.version = v.to_string();
                    &parts[2..]
                }
                None => return Some(info),
            }
        }
        Some(&"apis") => {
            info.prefix = "apis".into();
            match (parts.get(1), parts.get(2)) {
                (Some(g), Some(v)) => {
                    info.group = g.to_string();
                    info.version = v.to_string();
                    &parts[3..]
                }
                (Some(g), None) => {
                    info.group = g.to_string();
                    return Some(info);
                }
                _ => return Some(info),
            }
        }
        _ => return None,
    };
    let mut rest = rest;
    if rest.is_empty() {
        return Some(info);
    }
    if rest[0] == "watch" {
        info.legacy_watch = true;
        rest = &rest[1..];
    }
    if rest.is_empty() {
        return Some(info);
    }
    info.is_resource = true;
    // `namespaces/{ns}/{resource}...` addresses namespaced resources, while `namespaces` and
    // `namespaces/{name}[/{sub}]` address the Namespace objects themselves.
    if rest[0] == "namespaces" && rest.len() >= 3 {
        let ns = rest[1];
        let r = rest[2];
        let is_namespace_sub =
            info.group.is_empty() && (r == "status" || r == "finalize") && rest.len() == 3;
        if !is_namespace_sub {
            info.namespace = Some(ns.to_string());
            info.namespace_prefix = true;
            info.resource = r.to_string();
            info.name = rest.get(3).map(|s| s.to_string());
            info.subresource = rest.get(4).map(|s| s.to_string());
            if rest.len() > 5 {
                info.subresource = Some(rest[4..].join("/"));
            }
            return Some(info);
        }
    }
    info.resource = rest[0].to_string();
    info.name = rest.get(1).map(|s| s.to_string());
    info.subresource = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        info.subresource = Some(rest[2..].join("/"));
    }
    if info.resource == "namespaces"
        && let Some(n) = &info.name
    {
        info.namespace = Some(n.clone());
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_namespaced() {
        let i = parse_path("/api/v1/namespaces/default/configmaps/foo").unwrap();
        assert!(i.is_resource);
        assert_eq!(i.namespace.as_deref(), Some("default"));
        assert_eq!(i.resource, "configmaps");
        assert_eq!(i.name.as_deref(), Some("foo"));
        assert_eq!(i.subresource, None);
    }

    #[test]
    fn namespace_objects() {
        let i = parse_path("/api/v1/namespaces/foo").unwrap();
        assert_eq!(i.resource, "namespaces");
        assert_eq!(i.name.as_deref(), Some("foo"));
        let i = parse_path("/api/v1/namespaces/foo/status").unwrap();
        assert_eq!(i.resource, "namespaces");
        assert_eq!(i.subresource.as_deref(), Some("status"));
        let i = parse_path("/api/v1/namespaces").unwrap();
        assert_eq!(i.resource, "namespaces");
        assert_eq!(i.name, None);
    }

    #[test]
    fn group_and_subresource() {
        let i = parse_path("/apis/apps/v1/namespaces/x/deployments/d/scale").unwrap();
        assert_eq!(i.group, "apps");
        assert_eq!(i.subresource.as_deref(), Some("scale"));
        let i = parse_path("/apis/apps/v1/deployments").unwrap();
        assert_eq!(i.namespace, None);
        assert_eq!(i.resource, "deployments");
    }

    #[test]
    fn discovery_and_watch() {
        let i = parse_path("/apis/apps").unwrap();
        assert!(!i.is_resource);
        assert_eq!(i.group, "apps");
        let i = parse_path("/api/v1/watch/namespaces/a/pods").unwrap();
        assert!(i.legacy_watch);
        assert_eq!(i.resource, "pods");
        assert!(parse_path("/healthz").is_none());
    }
}
