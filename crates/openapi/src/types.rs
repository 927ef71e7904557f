//! Wrong-typed fields, found against the published schemas before an object is used.
//!
//! kube-apiserver decodes every body into Go structs, so `"spec": "x"` on a Job fails at
//! once with `json: cannot unmarshal string into Go struct field Job.spec of type
//! v1.JobSpec` (400 BadRequest). Orrery keeps objects as JSON values; this walk gives the
//! same answer before defaulting and validation ever index into a field of the wrong type.

use serde_json::{Map, Value};

use crate::registry::V2_REF_PREFIX;
use crate::strict::Lookup;

/// Deeper than any real object; stops pathological input from exhausting the stack.
const MAX_DEPTH: usize = 256;

/// One field whose JSON type is not the one its schema declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// The dotted path of the field (`spec.template.spec.containers[0].ports`).
    pub path: String,
    /// The JSON type sent: `string`, `number`, `bool`, `array` or `object`.
    pub found: &'static str,
    /// The Go type kube decodes the field into (`v1.JobSpec`, `[]v1.Container`, `string`).
    pub expected: String,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Follows `$ref`s (a bounded chain, so a cycle of bare refs ends), returning the schema and
/// the name of the last definition reached.
pub(crate) fn resolve<'a>(schema: &'a Value, lookup: Lookup<'a>) -> (&'a Value, Option<&'a str>) {
    let mut schema = schema;
    let mut name = None;
    for _ in 0..8 {
        let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(V2_REF_PREFIX))
        else {
            break;
        };
        match lookup(target) {
            Some(next) => {
                schema = next;
                name = Some(target);
            }
            None => break,
        }
    }
    (schema, name)
}

/// The Go spelling of a schema's type, as kube's decoder names it in errors.
fn go_type<'a>(
    schema: &'a Map<String, Value>,
    definition: Option<&str>,
    lookup: Lookup<'a>,
) -> String {
    if let Some(def) = definition {
        // io.k8s.api.batch.v1.JobSpec → v1.JobSpec
        let mut parts = def.rsplit('.');
        let ty = parts.next().unwrap_or(def);
        return match parts.next() {
            Some(pkg) => format!("{pkg}.{ty}"),
            None => ty.to_owned(),
        };
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => {
            let item = schema
                .get("items")
                .map(|i| {
                    let (s, d) = resolve(i, lookup);
                    s.as_object()
                        .map(|s| go_type(s, d, lookup))
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            format!("[]{item}")
        }
        Some("object") => match schema.get("additionalProperties") {
            Some(add) => {
                let (s, d) = resolve(add, lookup);
                let v = s
                    .as_object()
                    .map(|s| go_type(s, d, lookup))
                    .unwrap_or_default();
                format!("map[string]{v}")
            }
            None => "struct".to_owned(),
        },
        Some("integer") => match schema.get("format").and_then(Value::as_str) {
            Some("int64") => "int64".to_owned(),
            _ => "int32".to_owned(),
        },
        Some("number") => "float64".to_owned(),
        Some("boolean") => "bool".to_owned(),
        Some(other) => other.to_owned(),
        None => "interface {}".to_owned(),
    }
}

/// Whether a JSON value of type `found` decodes into a field of schema `schema`.
fn accepts(schema: &Map<String, Value>, definition: Option<&str>, value: &Value) -> bool {
    // null decodes into every Go type as its zero value.
    if value.is_null() {
        return true;
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || schema.get("format").and_then(Value::as_str) == Some("int-or-string")
    {
        return value.is_string() || value.is_number();
    }
    // resource.Quantity is published as a string but also decodes from a JSON number.
    if definition.is_some_and(|d| d.ends_with(".resource.Quantity")) {
        return value.is_string() || value.is_number();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") | Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        // Untyped (RawExtension, JSON, interface{}): anything goes.
        _ => true,
    }
}

/// Appends every field of `value` whose type its schema does not accept; nothing below a
/// mismatch is visited.
pub(crate) fn type_mismatches<'a>(
    schema: &'a Value,
    definition: Option<&str>,
    value: &Value,
    lookup: Lookup<'a>,
    out: &mut Vec<TypeMismatch>,
) {
    // The root is the definition itself, not a `$ref` to it: check it here to name its type.
    if let Value::Object(root) = schema
        && !accepts(root, definition, value)
    {
        out.push(TypeMismatch {
            path: String::new(),
            found: json_type(value),
            expected: go_type(root, definition, lookup),
        });
        return;
    }
    walk(schema, value, &mut String::new(), lookup, out, 0);
}

fn walk<'a>(
    schema: &'a Value,
    value: &Value,
    path: &mut String,
    lookup: Lookup<'a>,
    out: &mut Vec<TypeMismatch>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let (schema, definition) = resolve(schema, lookup);
    let Value::Object(schema) = schema else {
        return;
    };
    if !accepts(schema, definition, value) {
        out.push(TypeMismatch {
            path: path.clone(),
            found: json_type(value),
            expected: go_type(schema, definition, lookup),
        });
        return;
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in fields {
                let child_schema = properties.and_then(|p| p.get(key)).or(additional);
                if let Some(child_schema) = child_schema {
                    let len = crate::strict::enter_field(path, key);
                    walk(child_schema, child, path, lookup, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    let len = crate::strict::enter_index(path, i);
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

    fn check(definitions: &Map<String, Value>, name: &str, value: &Value) -> Vec<TypeMismatch> {
        let lookup = |n: &str| definitions.get(n);
        let mut out = Vec::new();
        if let Some(schema) = definitions.get(name) {
            type_mismatches(schema, Some(name), value, &lookup, &mut out);
        }
        out
    }

    fn defs() -> Map<String, Value> {
        let mut d = Map::new();
        d.insert(
            "io.k8s.api.batch.v1.Job".into(),
            json!({"type": "object", "properties": {
            "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
            "spec": {"$ref": "#/definitions/io.k8s.api.batch.v1.JobSpec"}}}),
        );
        d.insert("io.k8s.api.batch.v1.JobSpec".into(), json!({"type": "object", "properties": {
            "parallelism": {"type": "integer", "format": "int32"},
            "suspend": {"type": "boolean"},
            "ports": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.ContainerPort"}},
            "target": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
            "limits": {"type": "object", "additionalProperties": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}},
            "raw": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension"}}}));
        d.insert("io.k8s.api.core.v1.ContainerPort".into(), json!({"type": "object", "properties": {"containerPort": {"type": "integer", "format": "int32"}}}));
        d.insert(
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString".into(),
            json!({"type": "string", "format": "int-or-string"}),
        );
        d.insert(
            "io.k8s.apimachinery.pkg.api.resource.Quantity".into(),
            json!({"type": "string"}),
        );
        d.insert(
            "io.k8s.apimachinery.pkg.runtime.RawExtension".into(),
            json!({"type": "object"}),
        );
        d.insert(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into(),
            json!({"type": "object", "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}),
        );
        d
    }

    #[test]
    fn names_the_field_and_go_type_as_kube_does() {
        let d = defs();
        let found = check(&d, "io.k8s.api.batch.v1.Job", &json!({"spec": "x"}));
        assert_eq!(
            found,
            vec![TypeMismatch {
                path: "spec".into(),
                found: "string",
                expected: "v1.JobSpec".into()
            }]
        );
        let found = check(
            &d,
            "io.k8s.api.batch.v1.Job",
            &json!({"metadata": {"labels": "x"}, "spec": {"parallelism": "2", "suspend": 1, "ports": [{"containerPort": "80"}, 3], "limits": {"cpu": []}}}),
        );
        let got: Vec<(String, &str, String)> = found
            .into_iter()
            .map(|m| (m.path, m.found, m.expected))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "metadata.labels".into(),
                    "string",
                    "map[string]string".into()
                ),
                ("spec.parallelism".into(), "string", "int32".into()),
                ("spec.suspend".into(), "number", "bool".into()),
                (
                    "spec.ports[0].containerPort".into(),
                    "string",
                    "int32".into()
                ),
                ("spec.ports[1]".into(), "number", "v1.ContainerPort".into()),
                (
                    "spec.limits.cpu".into(),
                    "array",
                    "resource.Quantity".into()
                ),
            ]
        );
    }

    #[test]
    fn accepts_what_go_decodes() {
        let d = defs();
        let ok = json!({"metadata": null, "spec": {"parallelism": null, "target": 3, "limits": {"cpu": 1, "memory": "1Gi"}, "raw": {"anything": [1]}, "ports": [{"containerPort": 80, "unknown": {}}]}});
        assert_eq!(check(&d, "io.k8s.api.batch.v1.Job", &ok), vec![]);
        assert_eq!(
            check(
                &d,
                "io.k8s.api.batch.v1.Job",
                &json!({"spec": {"target": "50%"}})
            ),
            vec![]
        );
        assert_eq!(
            check(
                &d,
                "io.k8s.api.batch.v1.Job",
                &json!({"spec": {"target": true}})
            )
            .len(),
            1
        );
    }
}
