//! Output formats other than the plain object: `Table` (what kubectl prints) and
//! `PartialObjectMetadata`.

use serde_json::{Value, json};

use crate::registry::Resource;

/// What the client asked for in its `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The objects themselves.
    Object,
    /// A `meta.k8s.io/v1` Table; rows carry `PartialObjectMetadata` (or the object).
    Table {
        /// `includeObject=Object` puts whole objects in rows.
        include_object: bool,
        /// `includeObject=None` puts nothing in rows.
        include_none: bool,
    },
    /// `PartialObjectMetadata` / `PartialObjectMetadataList`.
    Metadata,
}

impl Output {
    /// Reads the `Accept` header and the `includeObject` query parameter.
    pub fn negotiate(accept: Option<&str>, include_object: Option<&str>) -> Output {
        let accept = accept.unwrap_or("");
        for part in accept.split(',') {
            let part = part.trim();
            let params: Vec<&str> = part.split(';').map(str::trim).collect();
            let has = |p: &str| params.iter().any(|x| x.eq_ignore_ascii_case(p));
            let mt = params.first().copied().unwrap_or("");
            if mt != "application/json" && mt != "*/*" {
                continue;
            }
            if has("as=Table") && (has("g=meta.k8s.io")) {
                return Output::Table {
                    include_object: include_object == Some("Object"),
                    include_none: include_object == Some("None"),
                };
            }
            if (has("as=PartialObjectMetadata") || has("as=PartialObjectMetadataList"))
                && has("g=meta.k8s.io")
            {
                return Output::Metadata;
            }
            if !params.iter().any(|p| p.starts_with("as=")) {
                return Output::Object;
            }
        }
        Output::Object
    }
}

/// Kubernetes' `HumanDuration` (what the AGE column shows), from [`gofmt`].
pub use gofmt::human_duration;

/// The AGE of an object from its `creationTimestamp`.
pub fn age(obj: &Value) -> String {
    let ts = obj
        .get("metadata")
        .and_then(|m| m.get("creationTimestamp"))
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    match ts {
        Some(t) => {
            human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        }
        None => "<unknown>".into(),
    }
}

/// The one field of a stored object a metadata answer needs, borrowed as its raw JSON; every
/// other field is skipped by the parser, never built.
#[derive(serde::Deserialize)]
struct StoredMetadata<'a> {
    #[serde(borrow)]
    metadata: Option<&'a serde_json::value::RawValue>,
}

/// The start of a `PartialObjectMetadata`, up to its `metadata` value.
const PARTIAL_HEAD: &[u8] =
    b"{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":";

/// Appends the `PartialObjectMetadata` of a stored object (its JSON bytes) to `out`: the stored
/// `metadata` bytes as they are, nothing else of the object decoded or encoded. On an error
/// (bytes that are not a JSON object) `out` is left as it was.
pub fn put_partial_metadata(out: &mut Vec<u8>, stored: &[u8]) -> Result<(), serde_json::Error> {
    let parsed: StoredMetadata<'_> = serde_json::from_slice(stored)?;
    let meta = parsed.metadata.map_or("{}", |m| m.get()).as_bytes();
    out.reserve(PARTIAL_HEAD.len() + meta.len() + 1);
    out.extend_from_slice(PARTIAL_HEAD);
    out.extend_from_slice(meta);
    out.push(b'}');
    Ok(())
}

/// The `PartialObjectMetadata` of a stored object, as [`put_partial_metadata`] writes it.
pub fn partial_metadata_bytes(stored: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    put_partial_metadata(&mut out, stored)?;
    Ok(out)
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

fn row(res: &Resource, output: &Output, obj: &Value) -> Value {
    let obj = &*crate::versions::served_ref(res, obj);
    let cells = cells(res, obj);
    let object = match output {
        Output::Table {
            include_object: true,
            ..
        } => obj.clone(),
        Output::Table {
            include_none: true, ..
        } => Value::Null,
        _ => partial_metadata(obj),
    };
    let mut r = json!({"cells": cells});
    if !object.is_null() {
        r["object"] = object;
    }
    r
}

/// A Table (or metadata list) for a list of objects.
pub fn render_list(res: &Resource, output: &Output, objects: &[Value], list_meta: Value) -> Value {
    match output {
        Output::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "items": objects
                .iter()
                .map(|o| partial_metadata(&crate::versions::served_ref(res, o)))
                .collect::<Vec<_>>(),
        }),
        _ => json!({
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "columnDefinitions": definitions(res),
            "rows": objects.iter().map(|o| row(res, output, o)).collect::<Vec<_>>(),
        }),
    }
}

/// A Table (or metadata) for one object, as `get` and watch events return it.
pub fn render_one(res: &Resource, output: &Output, obj: &Value) -> Value {
    match output {
        // At the version asked: a converted kind's metadata can differ (a v1 HPA's annotations).
        Output::Metadata => partial_metadata(&crate::versions::served_ref(res, obj)),
        Output::Object => crate::versions::served_ref(res, obj).into_owned(),
        Output::Table { .. } => {
            let rv = obj
                .get("metadata")
                .and_then(|m| m.get("resourceVersion"))
                .cloned()
                .unwrap_or(Value::Null);
            json!({
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": rv},
                "columnDefinitions": definitions(res),
                "rows": [row(res, output, obj)],
            })
        }
    }
}

fn custom_definitions(cols: &[Value]) -> Value {
    let mut out = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for c in cols {
        out.push(json!({
            "name": c["name"],
            "type": c["type"],
            "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")),
            "priority": c.get("priority").cloned().unwrap_or(json!(0)),
        }));
    }
    Value::Array(out)
}

/// `columnDefinitions` of a resource's Table.
pub fn definitions(res: &Resource) -> Value {
    if let Some(cols) = res.printer_columns.as_array().filter(|c| !c.is_empty()) {
        return custom_definitions(cols);
    }
    let cols: Vec<Value> = res
        .rules
        .columns()
        .iter()
        .map(|col| {
            json!({
                "name": col.name,
                "type": col.ty,
                "format": if col.name == "Name" { "name" } else { "" },
                "description": "",
                "priority": col.priority,
            })
        })
        .collect();
    Value::Array(cols)
}

/// The cells of one row: a custom resource's from its printer columns, a built-in kind's from
/// the kind.
fn cells(res: &Resource, obj: &Value) -> Vec<Value> {
    if res
        .printer_columns
        .as_array()
        .is_some_and(|c| !c.is_empty())
    {
        let mut out = vec![crate::kinds::name(obj)];
        out.extend(crdschema::printer_cells(&res.printer_columns, obj));
        return out;
    }
    res.rules.cells(obj, Value::String(age(obj)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_table() {
        let a = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert!(matches!(
            Output::negotiate(Some(a), None),
            Output::Table { .. }
        ));
        assert_eq!(
            Output::negotiate(Some("application/json"), None),
            Output::Object
        );
        assert_eq!(Output::negotiate(None, None), Output::Object);
    }

    /// A metadata answer is the stored `metadata` byte for byte (escapes, number forms and
    /// key order as stored; a decode and re-encode would rewrite them) under the
    /// `PartialObjectMetadata` kind, and nothing of `spec`, `status` or other fields.
    #[test]
    fn partial_metadata_copies_the_stored_metadata() {
        let meta = r#"{"name":"caf\u00e9","labels":{"tier":"gold"},"annotations":{"n":"1.50"},"generation":1e0,"managedFields":[{"manager":"m","fieldsV1":{"f:spec":{}}}]}"#;
        let stored = format!(
            r#"{{"apiVersion":"example.com/v1","kind":"Widget","spec":{{"secret":"s3cr3t","metadata":{{"name":"inner"}}}},"metadata":{meta},"status":{{"phase":"Shiny"}}}}"#
        );
        let out = partial_metadata_bytes(stored.as_bytes()).expect("an object");
        let text = String::from_utf8(out.clone()).expect("utf-8");
        assert_eq!(
            text,
            format!(
                r#"{{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{meta}}}"#
            )
        );
        assert!(
            !text.contains("s3cr3t") && !text.contains("Shiny"),
            "{text}"
        );
        let v: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(v["metadata"]["name"], "café");
        // The same answer as the object-based rendering gives, once read.
        let obj: Value = serde_json::from_str(&stored).expect("JSON");
        assert_eq!(v, partial_metadata(&obj));
        // No metadata: an empty one; not an object: an error and nothing written.
        assert_eq!(
            partial_metadata_bytes(br#"{"kind":"X"}"#).expect("object"),
            br#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{}}"#
        );
        let mut out = b"kept".to_vec();
        assert!(put_partial_metadata(&mut out, b"[1,2").is_err());
        assert_eq!(out, b"kept");
    }
}
