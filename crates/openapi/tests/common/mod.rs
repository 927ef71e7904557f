//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::OnceLock;

use openapi::{CrdSchema, OpenApi};
use serde_json::{Value, json};

pub fn openapi() -> &'static OpenApi {
    static OPENAPI: OnceLock<OpenApi> = OnceLock::new();
    OPENAPI.get_or_init(OpenApi::builtin)
}

pub fn parse(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(err) => panic!("document is not JSON: {err}"),
    }
}

pub fn v3(path: &str, crds: &[CrdSchema]) -> Value {
    match openapi().v3_group_version(path, crds) {
        Some(bytes) => parse(&bytes),
        None => panic!("no v3 document for {path}"),
    }
}

pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub fn has_gvk(schema: &Value, group: &str, version: &str, kind: &str) -> bool {
    schema["x-kubernetes-group-version-kind"]
        .as_array()
        .is_some_and(|list| {
            list.iter()
                .any(|g| g == &json!({"group": group, "version": version, "kind": kind}))
        })
}

pub fn find_by_gvk<'a>(
    schemas: &'a Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<(&'a String, &'a Value)> {
    schemas
        .as_object()?
        .iter()
        .find(|(_, schema)| has_gvk(schema, group, version, kind))
}

pub fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref"
                    && let Some(target) = child.as_str()
                {
                    out.push(target.to_owned());
                }
                refs(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|child| refs(child, out)),
        _ => {}
    }
}

pub fn sample_crd(extra: Value) -> CrdSchema {
    CrdSchema {
        group: "example.com".into(),
        version: "v1".into(),
        kind: "Widget".into(),
        list_kind: "WidgetList".into(),
        plural: "widgets".into(),
        namespaced: true,
        schema: json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {"size": {"type": "integer"}, "extra": extra},
                },
            },
        }),
    }
}

/// kubectl's `gvkSupportsPatchOpenAPIV3` plus cli-runtime's `supportsQueryParamV3`.
pub fn patch_operation<'a>(
    doc: &'a Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<&'a Value> {
    let want = json!({"group": group, "version": version, "kind": kind});
    doc["paths"].as_object()?.values().find_map(|item| {
        let op = item.get("patch")?;
        (op["x-kubernetes-group-version-kind"] == want).then_some(op)
    })
}
