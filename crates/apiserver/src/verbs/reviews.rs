//! Review resources answered, not stored: TokenReview, SelfSubjectReview,
//! SubjectAccessReview (self, local and cluster) and SelfSubjectRulesReview.

use std::sync::Arc;

use apimachinery::status::ApiError;
use axum::body::Body;
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::auth::UserInfo;
use crate::cluster::Cluster;
use crate::rbac::Attributes;
use crate::registry::Resource;
use crate::request::RequestInfo;
use crate::response::json as json_response;

fn user_json(u: &UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if let Some(uid) = &u.uid {
        v["uid"] = json!(uid);
    }
    v
}

fn attributes_of(spec: &Value) -> Attributes {
    if let Some(nr) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        return Attributes {
            verb: nr["verb"].as_str().unwrap_or("").into(),
            path: Some(nr["path"].as_str().unwrap_or("").into()),
            ..Default::default()
        };
    }
    let ra = &spec["resourceAttributes"];
    let opt = |k: &str| ra[k].as_str().filter(|s| !s.is_empty()).map(String::from);
    Attributes {
        verb: ra["verb"].as_str().unwrap_or("").into(),
        namespace: opt("namespace"),
        api_group: ra["group"].as_str().unwrap_or("").into(),
        resource: ra["resource"].as_str().unwrap_or("").into(),
        subresource: opt("subresource"),
        name: opt("name"),
        path: None,
    }
}

fn decision(cluster: &Cluster, user: &UserInfo, spec: &Value) -> Value {
    let attrs = attributes_of(spec);
    let allowed = cluster.rbac.allows(user, &attrs);
    let mut status = json!({"allowed": allowed});
    if allowed {
        status["reason"] = json!(if user.is_admin() {
            "allowed by the system:masters group"
        } else {
            "allowed by RBAC"
        });
    }
    status
}

/// Serves `POST` on a review resource.
pub async fn handle(
    cluster: &Arc<Cluster>,
    user: &UserInfo,
    res: &Resource,
    info: &RequestInfo,
    req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::POST || info.name.is_some() {
        return Err(ApiError::method_not_allowed(
            &res.group,
            &res.plural,
            req.method().as_str(),
        ));
    }
    let headers = req.headers().clone();
    let bytes =
        crate::body::read_limited(req.into_body(), cluster.config.max_request_bytes).await?;
    let mut body = crate::body::decode_object(&headers, &bytes).await?;
    crate::write::check_type(res, &mut body)?;
    crate::write::check_types(cluster, &res.group, &res.version, &res.kind, &body)?;
    let spec = body.get("spec").cloned().unwrap_or(json!({}));
    let status = match res.plural.as_str() {
        "selfsubjectreviews" => json!({"userInfo": user_json(user)}),
        "tokenreviews" => {
            let token = spec["token"].as_str().unwrap_or("");
            match crate::tokens::verify(cluster, token) {
                Some(u) => {
                    json!({"authenticated": true, "user": user_json(&u), "audiences": spec["audiences"]})
                }
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        "selfsubjectaccessreviews" => decision(cluster, user, &spec),
        "subjectaccessreviews" | "localsubjectaccessreviews" => {
            let mut spec = spec.clone();
            if res.plural == "localsubjectaccessreviews" {
                let ns = info.namespace.clone().unwrap_or_default();
                if spec["resourceAttributes"].is_object() {
                    spec["resourceAttributes"]["namespace"] = json!(ns);
                }
            }
            let subject = UserInfo {
                name: spec["user"].as_str().unwrap_or("").to_string(),
                groups: spec["groups"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|g| g.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                uid: spec["uid"].as_str().map(String::from),
            };
            decision(cluster, &subject, &spec)
        }
        "selfsubjectrulesreviews" => {
            let ns = spec["namespace"].as_str().filter(|s| !s.is_empty());
            let rules = if user.is_admin() {
                vec![json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})]
            } else {
                cluster
                    .rbac
                    .rules_for(user, ns)
                    .iter()
                    .map(|r| {
                        json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources, "resourceNames": r.resource_names, "nonResourceURLs": r.non_resource_urls})
                    })
                    .collect()
            };
            let (resource_rules, non_resource): (Vec<Value>, Vec<Value>) =
                rules.into_iter().partition(|r| {
                    r.get("nonResourceURLs")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty)
                });
            let non_resource: Vec<Value> = non_resource
                .into_iter()
                .map(|r| json!({"verbs": r["verbs"], "nonResourceURLs": r["nonResourceURLs"]}))
                .collect();
            let mut non_resource = non_resource;
            if user.is_admin() {
                non_resource.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
            }
            json!({"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": false})
        }
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
    };
    let mut out = body;
    out["status"] = status;
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("creationTimestamp".into(), Value::Null);
    } else {
        out["metadata"] = json!({"creationTimestamp": null});
    }
    Ok(json_response(StatusCode::CREATED, &out))
}
