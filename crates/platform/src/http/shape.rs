//! The shape of a request body, checked before a handler reads or changes it.
//!
//! The platform's handlers fill in fields of the objects they are sent (a workspace's manager,
//! a creator annotation, role labels); a field of the wrong JSON type there (`"spec": "x"`,
//! `"labels": "x"`) must be a 422 naming it, never a panic. Objects of the platform's own kinds
//! are checked against the schema of their CustomResourceDefinition (`crate::crds`, through
//! `crdschema`, the validator the API server uses for custom resources), and every object's
//! metadata against ObjectMeta's shape.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::{ApiError, ApiResult};

/// The compiled schemas of the platform's kinds, by kind name.
fn schemas() -> &'static HashMap<String, crdschema::Schema> {
    static SCHEMAS: OnceLock<HashMap<String, crdschema::Schema>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut out = HashMap::new();
        for crd in crate::crds::all() {
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
            let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            if let Ok(s) = crdschema::Schema::compile(schema) {
                out.insert(kind.to_string(), s);
            }
        }
        out
    })
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
    ApiError::invalid(format!(
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
/// its metadata, then its CRD schema.
pub fn check(kind: &str, obj: &Value) -> ApiResult<()> {
    check_meta(obj)?;
    let Some(schema) = schemas().get(kind) else {
        return Ok(());
    };
    let errors = schema.validate(obj, None);
    match errors.first() {
        None => Ok(()),
        Some(_) => Err(ApiError::invalid(format!(
            "{kind} is invalid: {}",
            apimachinery::validation::aggregate_messages(&errors).unwrap_or_default()
        ))),
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
