//! Schema-aware traversal: visits subschemas only, never user data such as `default` or `enum`.

use serde_json::{Map, Value};

/// The definition name a local `$ref` points at, for either document version.
pub(crate) fn ref_target(reference: &str) -> Option<&str> {
    reference
        .strip_prefix("#/definitions/")
        .or_else(|| reference.strip_prefix("#/components/schemas/"))
}

const MAP_KEYS: [&str; 2] = ["properties", "patternProperties"];
const LIST_KEYS: [&str; 3] = ["allOf", "anyOf", "oneOf"];
const SINGLE_KEYS: [&str; 3] = ["additionalProperties", "not", "additionalItems"];

/// Calls `visit` on `schema` and then on every subschema below it (pre-order).
pub(crate) fn walk_mut(schema: &mut Value, visit: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Value::Object(object) = schema else {
        return;
    };
    visit(object);
    for key in MAP_KEYS {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            for child in children.values_mut() {
                walk_mut(child, visit);
            }
        }
    }
    for key in LIST_KEYS {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            for child in children {
                walk_mut(child, visit);
            }
        }
    }
    for key in SINGLE_KEYS {
        if let Some(child) = object.get_mut(key) {
            walk_mut(child, visit);
        }
    }
    match object.get_mut("items") {
        Some(Value::Array(children)) => {
            children.iter_mut().for_each(|child| walk_mut(child, visit))
        }
        Some(child) => walk_mut(child, visit),
        None => {}
    }
}

/// Calls `visit` on `schema` and every subschema below it (pre-order), read-only.
pub(crate) fn walk(schema: &Value, visit: &mut dyn FnMut(&Map<String, Value>)) {
    let Value::Object(object) = schema else {
        return;
    };
    visit(object);
    for key in MAP_KEYS {
        if let Some(Value::Object(children)) = object.get(key) {
            children.values().for_each(|child| walk(child, visit));
        }
    }
    for key in LIST_KEYS {
        if let Some(Value::Array(children)) = object.get(key) {
            children.iter().for_each(|child| walk(child, visit));
        }
    }
    for key in SINGLE_KEYS {
        if let Some(child) = object.get(key) {
            walk(child, visit);
        }
    }
    match object.get("items") {
        Some(Value::Array(children)) => children.iter().for_each(|child| walk(child, visit)),
        Some(child) => walk(child, visit),
        None => {}
    }
}

/// Appends the definition names of every local `$ref` in `schema`.
pub(crate) fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    walk(schema, &mut |object| {
        if let Some(target) = object
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(ref_target)
        {
            out.push(target.to_owned());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_found_in_nested_positions_only() {
        let schema = json!({
            "properties": {
                "a": {"$ref": "#/definitions/A"},
                "b": {"type": "array", "items": {"$ref": "#/components/schemas/B"}},
                "c": {"additionalProperties": {"allOf": [{"$ref": "#/definitions/C"}]}},
                "$ref": {"type": "string", "default": {"$ref": "#/definitions/NotARef"}},
            },
        });
        let mut refs = Vec::new();
        collect_refs(&schema, &mut refs);
        refs.sort();
        assert_eq!(refs, vec!["A", "B", "C"]);
    }

    #[test]
    fn a_property_named_ref_is_not_a_reference() {
        let schema = json!({"properties": {"$ref": {"type": "string"}}});
        let mut refs = Vec::new();
        collect_refs(&schema, &mut refs);
        assert!(refs.is_empty());
    }
}
