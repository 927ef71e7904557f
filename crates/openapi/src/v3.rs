//! OpenAPI 3.0 (`/openapi/v3/...`) rendering and the schema conversion from the v2 form.

use serde_json::{Map, Value, json};

use crate::meta;
use crate::paths::{Body, In, Method, Operation, Param, PathItem, Response};
use crate::schema_walk::{ref_target, walk_mut};
use crate::v2::{PRODUCES, STREAM_PRODUCES, info, param_type, patch_types};

/// Where OpenAPI 3 keeps its schemas.
pub(crate) const V3_REF_PREFIX: &str = "#/components/schemas/";

/// Converts a v2-form schema to v3: refs move to `components`, and a `$ref` with siblings
/// (a description, extensions) is wrapped in `allOf` the way kube-openapi does, since
/// OpenAPI 3.0 ignores siblings of `$ref`.
pub(crate) fn convert_schema(schema: &Value) -> Value {
    let mut out = schema.clone();
    walk_mut(&mut out, &mut |object| {
        let Some(target) = object
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(ref_target)
        else {
            return;
        };
        let reference = json!({"$ref": format!("{V3_REF_PREFIX}{target}")});
        if object.len() == 1 {
            object.insert("$ref".to_owned(), reference["$ref"].clone());
        } else {
            object.remove("$ref");
            object.insert("allOf".to_owned(), json!([reference]));
        }
    });
    out
}

/// Converts every definition, replacing the scalars kube spells differently in v3.
pub(crate) fn convert_definitions(definitions: &Map<String, Value>) -> Map<String, Value> {
    let mut out: Map<String, Value> = definitions
        .iter()
        .map(|(name, schema)| (name.clone(), convert_schema(schema)))
        .collect();
    let describe = |name: &str| {
        definitions
            .get(name)
            .and_then(|d| d.get("description"))
            .cloned()
    };
    if let Some(description) = describe(meta::QUANTITY) {
        out.insert(
            meta::QUANTITY.to_owned(),
            json!({"description": description, "oneOf": [{"type": "string"}, {"type": "number"}]}),
        );
    }
    if let Some(description) = describe(meta::INT_OR_STRING) {
        out.insert(
            meta::INT_OR_STRING.to_owned(),
            json!({
                "description": description,
                "format": "int-or-string",
                "oneOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": true,
            }),
        );
    }
    out
}

fn param(param: &Param) -> Value {
    let mut out = json!({
        "description": param.description,
        "in": if param.location == In::Path { "path" } else { "query" },
        "name": param.name,
        "schema": {"type": param_type(param.ty), "uniqueItems": true},
    });
    if param.location == In::Path
        && let Value::Object(object) = &mut out
    {
        object.insert("required".to_owned(), Value::Bool(true));
    }
    out
}

fn content(types: &[&str], schema: &Value) -> Value {
    Value::Object(
        types
            .iter()
            .map(|t| ((*t).to_owned(), json!({"schema": schema})))
            .collect(),
    )
}

fn reference(definition: &str) -> Value {
    json!({"$ref": format!("{V3_REF_PREFIX}{definition}")})
}

fn operation(op: &Operation, tag: &str) -> Value {
    let mut out = Map::new();
    out.insert(
        "description".to_owned(),
        Value::String(op.description.clone()),
    );
    out.insert("operationId".to_owned(), Value::String(op.id.clone()));
    if !op.params.is_empty() {
        out.insert(
            "parameters".to_owned(),
            Value::Array(op.params.iter().map(|p| param(p)).collect()),
        );
    }
    if let Some(body) = &op.body {
        let request = match body {
            Body::Object(definition) => {
                json!({"content": content(&["*/*"], &reference(definition)), "required": true})
            }
            Body::Patch => json!({
                "content": content(&patch_types(op.strategic_merge), &reference(meta::PATCH)),
                "required": true,
            }),
            Body::DeleteOptions => {
                json!({"content": content(&["*/*"], &reference(meta::DELETE_OPTIONS))})
            }
        };
        out.insert("requestBody".to_owned(), request);
    }
    let (types, schema): (Vec<&str>, Value) = match &op.response {
        Response::Object(definition) => (PRODUCES.to_vec(), reference(definition)),
        Response::Text => (
            vec!["text/plain", "application/json", "application/yaml"],
            json!({"type": "string"}),
        ),
    };
    let mut types = types;
    if op.streams {
        types.extend(STREAM_PRODUCES);
    }
    let mut responses = Map::new();
    for code in op.codes {
        let description = match code {
            201 => "Created",
            202 => "Accepted",
            _ => "OK",
        };
        responses.insert(
            code.to_string(),
            json!({"content": content(&types, &schema), "description": description}),
        );
    }
    responses.insert("401".to_owned(), json!({"description": "Unauthorized"}));
    out.insert("responses".to_owned(), Value::Object(responses));
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

/// One OpenAPI 3 path item.
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

/// A complete group-version document.
pub(crate) fn document(paths: Map<String, Value>, schemas: Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_with_siblings_are_wrapped_in_all_of() {
        let schema = json!({
            "properties": {
                "metadata": {"$ref": "#/definitions/M", "description": "meta"},
                "items": {"type": "array", "items": {"$ref": "#/definitions/I"}},
            },
        });
        let out = convert_schema(&schema);
        assert_eq!(
            out["properties"]["metadata"],
            json!({"allOf": [{"$ref": "#/components/schemas/M"}], "description": "meta"})
        );
        assert_eq!(
            out["properties"]["items"]["items"],
            json!({"$ref": "#/components/schemas/I"})
        );
    }

    #[test]
    fn int_or_string_carries_the_kube_extension() {
        let mut definitions = Map::new();
        definitions.insert(
            meta::INT_OR_STRING.to_owned(),
            json!({"description": "d", "type": "string"}),
        );
        let out = convert_definitions(&definitions);
        assert_eq!(
            out[meta::INT_OR_STRING]["x-kubernetes-int-or-string"],
            json!(true)
        );
        assert_eq!(out[meta::INT_OR_STRING]["format"], json!("int-or-string"));
    }
}
