//! Kubernetes RBAC rule matching for the platform: the one matcher of
//! [`apimachinery::rbac`] (shared with the embedded API server), applied to the platform's
//! resolved [`RequestInfo`].

pub use apimachinery::rbac::{Rule, covers, rules_from_json};

use super::scope::RequestInfo;

/// The RBAC attributes of a resolved request.
pub fn attributes(req: &RequestInfo) -> apimachinery::rbac::Attributes<'_> {
    apimachinery::rbac::Attributes {
        verb: &req.verb,
        is_resource_request: req.is_resource_request,
        api_group: &req.api_group,
        resource: &req.resource,
        subresource: &req.subresource,
        name: &req.name,
        path: &req.path,
    }
}

/// Whether `rule` allows the request.
pub fn allows(rule: &Rule, req: &RequestInfo) -> bool {
    rule.allows(&attributes(req))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn rule(v: Value) -> Rule {
        Rule::from_json(&v)
    }

    fn req(method: &str, path: &str) -> RequestInfo {
        RequestInfo::parse(method, path, "")
    }

    /// The platform's parsed requests go through the shared matcher as Kubernetes' would.
    #[test]
    fn parsed_requests_match_as_in_kubernetes() {
        let r =
            rule(serde_json::json!({"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}));
        assert!(allows(&r, &req("GET", "/api/v1/namespaces/a/pods")));
        assert!(allows(&r, &req("GET", "/api/v1/namespaces/a/pods/p")));
        assert!(!allows(&r, &req("DELETE", "/api/v1/namespaces/a/pods/p")));
        assert!(!allows(
            &r,
            &req("GET", "/apis/apps/v1/namespaces/a/deployments")
        ));
        assert!(!allows(&r, &req("GET", "/api/v1/namespaces/a/pods/p/log")));
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["pods/*"]}));
        assert!(!allows(&r, &req("GET", "/api/v1/namespaces/a/pods/p/log")));
        let r = rule(serde_json::json!({"verbs":["*"],"apiGroups":["*"],"resources":["*/scale"]}));
        assert!(allows(
            &r,
            &req("PUT", "/apis/apps/v1/namespaces/a/deployments/d/scale")
        ));
        let r =
            rule(serde_json::json!({"verbs":["get"],"nonResourceURLs":["/healthz","/metrics/*"]}));
        assert!(allows(&r, &req("GET", "/metrics/x")));
        assert!(!allows(&r, &req("GET", "/api/v1/pods")));
    }
}
