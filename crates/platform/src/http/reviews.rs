//! Access reviews answered from the platform's own authorizer: `subjectaccessreviews` (any
//! user, for administrators) and the caller's `selfsubject*reviews` (`kubectl auth`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use http::HeaderMap;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Caller, Shared};
use crate::authz::scope::RequestInfo;
use crate::authz::{UserInfo, groups_of};

/// Decodes a JSON or Kubernetes-protobuf request body.
pub fn decode_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct.starts_with(kubeproto::CONTENT_TYPE) || body.starts_with(kubeproto::MAGIC) {
        return kubeproto::decode(body)
            .map_err(|e| ApiError::bad_request(format!("protobuf body: {e}")));
    }
    super::parse_json(body)
}

fn request_of(spec: &Value) -> RequestInfo {
    if let Some(ra) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        let s = |k: &str| ra[k].as_str().unwrap_or_default().to_string();
        RequestInfo::from_attributes(
            &s("verb"),
            &s("group"),
            &s("resource"),
            &s("subresource"),
            &s("name"),
            &s("namespace"),
            &s("workspace"),
            None,
        )
    } else {
        let nr = &spec["nonResourceAttributes"];
        RequestInfo::non_resource(
            nr["verb"].as_str().unwrap_or_default(),
            nr["path"].as_str().unwrap_or_default(),
        )
    }
}

fn status(allowed: bool, reason: &str) -> Value {
    json!({"allowed": allowed, "denied": !allowed, "reason": reason})
}

/// `POST /kapis/iam.kubesphere.io/v1beta1/subjectaccessreviews`.
pub async fn subject_access_review(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let mut review = decode_body(&headers, &body)?;
    let spec = review["spec"].clone();
    let name = spec["user"].as_str().unwrap_or_default().to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("spec.user is required"));
    }
    let mut groups: Vec<String> = spec["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if let Some(u) = s.caches.users.get(&name) {
        groups.extend(groups_of(&u.obj));
    }
    let user = UserInfo { name, groups };
    let d = s.authz.authorize(&user, &request_of(&spec));
    review["status"] = status(d.allowed(), &d.reason);
    review["apiVersion"] = review["apiVersion"]
        .as_str()
        .unwrap_or("authorization.k8s.io/v1")
        .into();
    review["kind"] = "SubjectAccessReview".into();
    Ok(Json(review))
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` (`kubectl auth can-i`).
pub async fn self_subject_access_review(
    authz: &crate::authz::Authorizer,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let mut review = decode_body(headers, body)?;
    let d = authz.authorize(&caller.user, &request_of(&review["spec"]));
    review["status"] = status(d.allowed(), &d.reason);
    review["apiVersion"] = format!("authorization.k8s.io/{}", caller.info.api_version).into();
    review["kind"] = "SelfSubjectAccessReview".into();
    if review.get("metadata").is_none_or(Value::is_null) {
        review["metadata"] = json!({});
    }
    Ok(Json(review))
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews` (`kubectl auth can-i --list`).
pub async fn self_subject_rules_review(
    authz: &crate::authz::Authorizer,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    let mut review = decode_body(headers, body)?;
    let ns = review["spec"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rules = authz.rules_for(&caller.user, &ns);
    let (resource, non_resource): (Vec<_>, Vec<_>) =
        rules.iter().partition(|r| r.non_resource_urls.is_empty());
    review["status"] = json!({
        "resourceRules": resource.iter().map(|r| json!({
            "verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources, "resourceNames": r.resource_names,
        })).collect::<Vec<_>>(),
        "nonResourceRules": non_resource.iter().map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls})).collect::<Vec<_>>(),
        "incomplete": false,
    });
    review["apiVersion"] = format!("authorization.k8s.io/{}", caller.info.api_version).into();
    review["kind"] = "SelfSubjectRulesReview".into();
    if review.get("metadata").is_none_or(Value::is_null) {
        review["metadata"] = json!({});
    }
    Ok(Json(review))
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews` (`kubectl auth whoami`).
pub async fn self_subject_review(caller: &Caller) -> Json<Value> {
    Json(json!({
        "apiVersion": format!("authentication.k8s.io/{}", caller.info.api_version),
        "kind": "SelfSubjectReview",
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": {"username": caller.user.name, "groups": caller.user.groups}},
    }))
}
