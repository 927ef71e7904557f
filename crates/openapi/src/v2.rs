//! Swagger 2.0 (`/openapi/v2`) rendering.

use serde_json::{Map, Value, json};

use crate::meta;
use crate::paths::{Body, In, Method, Operation, Param, ParamType, PathItem, Response};
use crate::registry::V2_REF_PREFIX;

/// The `info` block of both document versions.
pub(crate) fn info() -> Value {
    json!({"title": "Kubernetes", "version": crate::KUBERNETES_VERSION})
}

/// Media types a response may be written in.
pub(crate) const PRODUCES: [&str; 2] = ["application/json", "application/yaml"];
/// Additional media types for list and watch responses.
pub(crate) const STREAM_PRODUCES: [&str; 1] = ["application/json;stream=watch"];

/// The patch media types, with strategic merge patch only where the kind supports it.
pub(crate) fn patch_types(strategic_merge: bool) -> Vec<&'static str> {
    let mut types = vec![
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if strategic_merge {
        types.push("application/strategic-merge-patch+json");
    }
    types.push("application/apply-patch+yaml");
    types
}

/// The tag kube gives a group-version's operations: `core_v1`, `rbacAuthorization_v1`.
pub(crate) fn tag(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    let mut out = String::new();
    for (i, part) in group.split(['.', '-']).enumerate() {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first);
            } else {
                out.extend(first.to_uppercase());
            }
            out.push_str(chars.as_str());
        }
    }
    format!("{out}_{version}")
}

pub(crate) fn param_type(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "string",
        ParamType::Boolean => "boolean",
        ParamType::Integer => "integer",
    }
}

fn param(param: &Param) -> Value {
    let mut out = json!({
        "description": param.description,
        "in": if param.location == In::Path { "path" } else { "query" },
        "name": param.name,
        "type": param_type(param.ty),
        "uniqueItems": true,
    });
    if param.location == In::Path
        && let Value::Object(object) = &mut out
    {
        object.insert("required".to_owned(), Value::Bool(true));
    }
    out
}

fn reference(definition: &str) -> Value {
    json!({"$ref": format!("{V2_REF_PREFIX}{definition}")})
}

fn operation(op: &Operation, tag: &str) -> Value {
    let mut out = Map::new();
    let consumes: Vec<&str> = match (&op.body, op.method) {
        (Some(Body::Patch), _) => patch_types(op.strategic_merge),
        _ => vec!["*/*"],
    };
    out.insert("consumes".to_owned(), json!(consumes));
    out.insert(
        "description".to_owned(),
        Value::String(op.description.clone()),
    );
    out.insert("operationId".to_owned(), Value::String(op.id.clone()));
    let mut params = Vec::new();
    if let Some(body) = &op.body {
        let (schema, required) = match body {
            Body::Object(definition) => (reference(definition), true),
            Body::Patch => (reference(meta::PATCH), true),
            Body::DeleteOptions => (reference(meta::DELETE_OPTIONS), false),
        };
        let mut body = json!({"in": "body", "name": "body", "schema": schema});
        if required && let Value::Object(object) = &mut body {
            object.insert("required".to_owned(), Value::Bool(true));
        }
        params.push(body);
    }
    params.extend(op.params.iter().map(|p| param(p)));
    if !params.is_empty() {
        out.insert("parameters".to_owned(), Value::Array(params));
    }
    let mut produces: Vec<&str> = match op.response {
        Response::Text => vec!["text/plain", "application/json", "application/yaml"],
        Response::Object(_) => PRODUCES.to_vec(),
    };
    if op.streams {
        produces.extend(STREAM_PRODUCES);
    }
    out.insert("produces".to_owned(), json!(produces));
    let schema = match &op.response {
        Response::Object(definition) => reference(definition),
        Response::Text => json!({"type": "string"}),
    };
    let mut responses = Map::new();
    for code in op.codes {
        let description = match code {
            201 => "Created",
            202 => "Accepted",
            _ => "OK",
        };
        responses.insert(
            code.to_string(),
            json!({"description": description, "schema": schema}),
        );
    }
    responses.insert("401".to_owned(), json!({"description": "Unauthorized"}));
    out.insert("responses".to_owned(), Value::Object(responses));
    out.insert("schemes".to_owned(), json!(["https"]));
    out.insert("tags".to_owned(), json!([tag]));
    if !op.action.is_empty() {
        out.insert(
            "x-kubernetes-action".to_owned(),
            Value::String(op.action.to_owned()),
        );
    }
    if let Some(gvk) = &op.gvk {
        out.insert(
            "x-kubernetes-group-version-kind".to_owned(),
            json!({"group": gvk.group, "kind": gvk.kind, "version": gvk.version}),
        );
    }
    Value::Object(out)
}

/// One swagger 2.0 path item.
pub(crate) fn path_item(item: &PathItem, tag: &str) -> Value {
    let mut out = Map::new();
    for method in [
        Method::Delete,
        Method::Get,
        Method::Patch,
        Method::Post,
        Method::Put,
    ] {
        for op in item.operations.iter().filter(|op| op.method == method) {
            out.insert(method.key().to_owned(), operation(op, tag));
        }
    }
    if !item.params.is_empty() {
        out.insert(
            "parameters".to_owned(),
            Value::Array(item.params.iter().map(|p| param(p)).collect()),
        );
    }
    Value::Object(out)
}

/// The fixed members of the swagger document after `definitions` and `paths`.
pub(crate) fn security() -> (Value, Value) {
    (
        json!({"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}}),
        json!([{"BearerToken": []}]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_kube() {
        assert_eq!(tag("", "v1"), "core_v1");
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
        assert_eq!(tag("apps", "v1"), "apps_v1");
    }

    #[test]
    fn custom_resources_take_no_strategic_merge_patch() {
        assert!(!patch_types(false).contains(&"application/strategic-merge-patch+json"));
        assert!(patch_types(true).contains(&"application/strategic-merge-patch+json"));
    }
}
