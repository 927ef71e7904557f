//! Unknown-field detection against the published schemas, for `fieldValidation=Strict`.
//!
//! kubectl 1.33 skips its own schema validation when the v3 document says a PATCH takes the
//! `fieldValidation` query parameter (ours does, like kube's), and sends
//! `?fieldValidation=Strict` instead: the server must then reject unknown fields. This walks
//! an object against its schema and reports them the way kube's strict decoder does
//! (`spec.template.spec.containers[0].imagePullPolice`).

use serde_json::{Map, Value};

/// Deeper than any real object; stops pathological input from exhausting the stack.
const MAX_DEPTH: usize = 256;

/// Looks definitions up by name (built-in and custom ones).
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<&'a Value>;

fn resolve<'a>(schema: &'a Value, lookup: Lookup<'a>) -> &'a Value {
    crate::types::resolve(schema, lookup).0
}

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key) == Some(&Value::Bool(true))
}

/// Appends `.key` (or `key` at the root) to the path being walked; the caller truncates it
/// back. One buffer serves the whole walk, so a field costs no allocation unless reported.
pub(crate) fn enter_field(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    len
}

/// Appends `[i]` to the path being walked; the caller truncates it back.
pub(crate) fn enter_index(path: &mut String, i: usize) -> usize {
    use std::fmt::Write;
    let len = path.len();
    let _ = write!(path, "[{i}]");
    len
}

/// Appends the paths of fields in `value` that `schema` does not declare.
pub(crate) fn unknown_fields<'a>(
    schema: &'a Value,
    value: &Value,
    lookup: Lookup<'a>,
    out: &mut Vec<String>,
) {
    walk(schema, value, &mut String::new(), lookup, out, 0);
}

fn walk<'a>(
    schema: &'a Value,
    value: &Value,
    path: &mut String,
    lookup: Lookup<'a>,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Value::Object(schema) = resolve(schema, lookup) else {
        return;
    };
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let open = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let embedded = flag(schema, "x-kubernetes-embedded-resource");
            if properties.is_none() && additional.is_none() {
                // Untyped (RawExtension, JSON) or free-form: anything goes.
                return;
            }
            for (key, child) in fields {
                let len = enter_field(path, key);
                if let Some(property) = properties.and_then(|p| p.get(key)) {
                    walk(property, child, path, lookup, out, depth + 1);
                } else if let Some(additional) = additional {
                    if additional.is_object() {
                        walk(additional, child, path, lookup, out, depth + 1);
                    } else if additional == &Value::Bool(false) && !open {
                        out.push(path.clone());
                    }
                } else if embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    // Embedded resources carry their own type and object metadata.
                } else if !open {
                    out.push(path.clone());
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    let len = enter_index(path, i);
                    walk(item_schema, item, path, lookup, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: &Value, definitions: &Map<String, Value>, value: &Value) -> Vec<String> {
        let lookup = |name: &str| definitions.get(name);
        let mut out = Vec::new();
        unknown_fields(schema, value, &lookup, &mut out);
        out
    }

    #[test]
    fn reports_nested_unknown_fields_with_list_indexes() {
        let mut definitions = Map::new();
        definitions.insert(
            "C".to_owned(),
            json!({"type": "object", "properties": {"name": {"type": "string"}, "env": {"type": "array", "items": {"type": "object", "properties": {"name": {}}}}}}),
        );
        let schema = json!({"type": "object", "properties": {"containers": {"type": "array", "items": {"$ref": "#/definitions/C"}}}});
        let value = json!({"containers": [{"name": "a"}, {"name": "b", "imagePullPolice": "x", "env": [{"name": "n", "valu": 1}]}], "bogus": 1});
        let mut found = check(&schema, &definitions, &value);
        found.sort();
        assert_eq!(
            found,
            vec![
                "bogus",
                "containers[1].env[0].valu",
                "containers[1].imagePullPolice"
            ]
        );
    }

    #[test]
    fn maps_and_preserved_nodes_accept_any_key() {
        let schema = json!({
            "type": "object",
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"known": {"type": "object", "properties": {}}}},
                "raw": {"type": "object"},
                "embedded": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {}}},
            },
        });
        let value = json!({
            "labels": {"anything": "x"},
            "free": {"whatever": 1, "known": {"strict": true}},
            "raw": {"x": 1},
            "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}, "extra": 1},
        });
        assert_eq!(
            check(&schema, &Map::new(), &value),
            vec!["free.known.strict", "embedded.extra"]
        );
    }

    #[test]
    fn self_referencing_refs_terminate() {
        let mut definitions = Map::new();
        definitions.insert("Loop".to_owned(), json!({"$ref": "#/definitions/Loop"}));
        let schema = json!({"$ref": "#/definitions/Loop"});
        assert!(check(&schema, &definitions, &json!({"a": 1})).is_empty());
    }
}
