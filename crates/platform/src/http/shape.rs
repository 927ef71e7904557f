//! The shape of a request body, checked before a handler reads or changes it.
//!
//! The platform's handlers fill in fields of the objects they are sent (a workspace's manager,
//! a creator annotation, role labels); a field of the wrong JSON type there (`"spec": "x"`,
//! `"labels": "x"`) must be a 422 naming it, never a panic. Objects of the platform's own kinds
//! are checked against the JSON types of their CustomResourceDefinition's schema
//! (`crate::crds`), and every object's metadata against ObjectMeta's shape. Formats, enums and
//! required fields stay the API server's to check, with its messages.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::{ApiError, ApiResult};

/// The `openAPIV3Schema` of each of the platform's kinds, by kind name.
fn schemas() -> &'static HashMap<String, Value> {
    static SCHEMAS: OnceLock<HashMap<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crate::crds::all()
            .into_iter()
            .map(|crd| {
                let kind = crd["spec"]["names"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (
                    kind,
                    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone(),
                )
            })
            .collect()
    })
}

/// The first field of `v` whose JSON type `schema` does not declare (formats, enums and
/// required fields are the API server's to check; only a wrong type can trip a handler).
/// `null` passes: it reads as absent.
fn type_mismatch(schema: &Value, v: &Value, path: &str, depth: usize) -> Option<ApiError> {
    if v.is_null() || depth > 64 {
        return None;
    }
    let ok = match schema["type"].as_str() {
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        _ => true,
    };
    if !ok {
        let field = if path.is_empty() { "(body)" } else { path };
        return Some(invalid(
            field,
            schema["type"].as_str().unwrap_or_default(),
            v,
        ));
    }
    let child = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            let props = schema["properties"].as_object();
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            m.iter().find_map(|(k, c)| {
                let s = props.and_then(|p| p.get(k)).or(extra)?;
                type_mismatch(s, c, &child(k), depth + 1)
            })
        }
        Value::Array(items) => {
            let s = schema.get("items").filter(|i| i.is_object())?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, c)| type_mismatch(s, c, &format!("{path}[{i}]"), depth + 1))
        }
        _ => None,
    }
}

fn invalid(field: &str, expected: &str, got: &Value) -> ApiError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    super::error::invalid(format!(
        "{field}: Invalid value: \"{got}\": must be of type {expected}"
    ))
}

/// ObjectMeta's shape: an object whose names are strings, whose labels and annotations map
/// strings to strings and whose finalizers are strings.
pub fn check_meta(obj: &Value) -> ApiResult<()> {
    if !obj.is_object() {
        return Err(invalid("(body)", "object", obj));
    }
    let Some(meta) = obj.get("metadata") else {
        return Ok(());
    };
    if meta.is_null() {
        return Ok(());
    }
    let Some(meta) = meta.as_object() else {
        return Err(invalid("metadata", "object", meta));
    };
    for f in [
        "name",
        "generateName",
        "namespace",
        "resourceVersion",
        "uid",
    ] {
        match meta.get(f) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(v) => return Err(invalid(&format!("metadata.{f}"), "string", v)),
        }
    }
    for f in ["labels", "annotations"] {
        match meta.get(f) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if !v.is_string() {
                        return Err(invalid(&format!("metadata.{f}.{k}"), "string", v));
                    }
                }
            }
            Some(v) => return Err(invalid(&format!("metadata.{f}"), "object", v)),
        }
    }
    match meta.get("finalizers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if let Some(v) = items.iter().find(|v| !v.is_string()) {
                return Err(invalid("metadata.finalizers[]", "string", v));
            }
        }
        Some(v) => return Err(invalid("metadata.finalizers", "array", v)),
    }
    Ok(())
}

/// An object of the platform's kind `kind` (`User`, `WorkspaceTemplate`, `GlobalRole`, …):
/// its metadata, then the JSON types its CRD schema declares.
pub fn check(kind: &str, obj: &Value) -> ApiResult<()> {
    check_meta(obj)?;
    match schemas()
        .get(kind)
        .and_then(|s| type_mismatch(s, obj, "", 0))
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A list of objects (members): each must be an object whose `fields` are strings.
pub fn check_string_fields(obj: &Value, fields: &[&str], what: &str) -> ApiResult<()> {
    let Some(map) = obj.as_object() else {
        return Err(invalid(what, "object", obj));
    };
    for f in fields {
        match map.get(*f) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(v) => return Err(invalid(&format!("{what}.{f}"), "string", v)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_of_the_wrong_shape_is_named() {
        let e = |v: Value| check_meta(&v).err().map(|e| e.message);
        assert_eq!(
            e(json!({"metadata": {"name": "a", "labels": {"x": "y"}}})),
            None
        );
        assert!(
            e(json!({"metadata": {"labels": "x"}})).is_some_and(|m| m.contains("metadata.labels"))
        );
        assert!(
            e(json!({"metadata": {"annotations": {"a": 1}}}))
                .is_some_and(|m| m.contains("metadata.annotations.a"))
        );
        assert!(e(json!({"metadata": "x"})).is_some_and(|m| m.contains("metadata")));
        assert!(e(json!({"metadata": {"name": 7}})).is_some_and(|m| m.contains("metadata.name")));
        assert!(e(json!("x")).is_some());
    }

    #[test]
    fn platform_kinds_are_checked_against_their_crd() {
        let ok =
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": {"manager": "a"}}}});
        assert!(check("WorkspaceTemplate", &ok).is_ok());
        let bad = json!({"metadata": {"name": "w"}, "spec": "x"});
        assert!(check("WorkspaceTemplate", &bad).is_err_and(|e| e.message.contains("spec")));
        let bad = json!({"metadata": {"name": "r"}, "rules": {"verbs": ["get"]}});
        assert!(check("GlobalRole", &bad).is_err_and(|e| e.message.contains("rules")));
    }
}
