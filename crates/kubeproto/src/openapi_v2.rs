//! `/openapi/v2` as protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`):
//! the Swagger 2.0 document encoded as gnostic's `openapi.v2.Document`, which client-go's
//! discovery client asks for and nothing else (kubectl's client-side validation reads it,
//! e.g. for the items of a `kind: List`). Field numbers follow gnostic's `OpenAPIv2.proto`.
//! Values gnostic keeps as `Any` (defaults, examples, enums, `x-` extensions) carry their
//! YAML text; JSON is YAML, so they carry their JSON.

use serde_json::{Map, Value};

use crate::wire::{put_fixed64_field, put_len, put_varint_field};

/// Nesting deeper than this is cut (schemas are acyclic JSON, already bounded in practice).
const MAX_DEPTH: usize = 64;

/// Encodes a Swagger 2.0 document (JSON) as a gnostic `openapi.v2.Document`.
pub fn encode_openapi_v2(doc: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(d) = doc.as_object() else {
        return out;
    };
    string(&mut out, 1, d.get("swagger"));
    message(&mut out, 2, d.get("info"), info);
    string(&mut out, 3, d.get("host"));
    string(&mut out, 4, d.get("basePath"));
    strings(&mut out, 5, d.get("schemes"));
    strings(&mut out, 6, d.get("consumes"));
    strings(&mut out, 7, d.get("produces"));
    message(&mut out, 8, d.get("paths"), paths);
    named_map(&mut out, 9, d.get("definitions"), |o, v| schema(o, v, 0));
    named_map(&mut out, 10, d.get("parameters"), parameter);
    named_map(&mut out, 11, d.get("responses"), response);
    for req in array(d.get("security")) {
        sub(&mut out, 12, |o| security_requirement(o, req));
    }
    named_map(
        &mut out,
        13,
        d.get("securityDefinitions"),
        security_definition,
    );
    for tag in array(d.get("tags")) {
        sub(&mut out, 14, |o| {
            string(o, 1, tag.get("name"));
            string(o, 2, tag.get("description"));
            message(o, 3, tag.get("externalDocs"), external_docs);
            extensions(o, 4, tag);
        });
    }
    message(&mut out, 15, d.get("externalDocs"), external_docs);
    extensions(&mut out, 16, doc);
    out
}

fn array(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// A length-delimited sub-message written by `f`.
fn sub(out: &mut Vec<u8>, num: u32, f: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    f(&mut inner);
    put_len(out, num, &inner);
}

fn message(out: &mut Vec<u8>, num: u32, v: Option<&Value>, f: impl FnOnce(&mut Vec<u8>, &Value)) {
    if let Some(v) = v.filter(|v| v.is_object()) {
        sub(out, num, |o| f(o, v));
    }
}

fn string(out: &mut Vec<u8>, num: u32, v: Option<&Value>) {
    if let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) {
        put_len(out, num, s.as_bytes());
    }
}

fn strings(out: &mut Vec<u8>, num: u32, v: Option<&Value>) {
    for s in array(v).filter_map(Value::as_str) {
        put_len(out, num, s.as_bytes());
    }
}

fn boolean(out: &mut Vec<u8>, num: u32, v: Option<&Value>) {
    if v.and_then(Value::as_bool) == Some(true) {
        put_varint_field(out, num, 1);
    }
}

fn double(out: &mut Vec<u8>, num: u32, v: Option<&Value>) {
    if let Some(f) = v.and_then(Value::as_f64).filter(|f| *f != 0.0) {
        put_fixed64_field(out, num, f.to_bits());
    }
}

fn int64(out: &mut Vec<u8>, num: u32, v: Option<&Value>) {
    if let Some(n) = v.and_then(Value::as_i64).filter(|n| *n != 0) {
        put_varint_field(out, num, n as u64);
    }
}

/// gnostic's `Any`: the value's YAML (here its JSON, which is YAML) in field 2.
fn any(out: &mut Vec<u8>, num: u32, v: Option<&Value>) {
    if let Some(v) = v {
        let text = serde_json::to_string(v).unwrap_or_default();
        sub(out, num, |o| put_len(o, 2, text.as_bytes()));
    }
}

fn anys(out: &mut Vec<u8>, num: u32, v: Option<&Value>) {
    for item in array(v) {
        any(out, num, Some(item));
    }
}

/// The `x-…` members of an object as repeated `NamedAny`.
fn extensions(out: &mut Vec<u8>, num: u32, v: &Value) {
    for (k, val) in v.as_object().into_iter().flatten() {
        if k.starts_with("x-") {
            sub(out, num, |o| {
                put_len(o, 1, k.as_bytes());
                any(o, 2, Some(val));
            });
        }
    }
}

/// A JSON object as a message holding repeated `Named…` entries in field 1.
fn named_map(out: &mut Vec<u8>, num: u32, v: Option<&Value>, f: impl Fn(&mut Vec<u8>, &Value)) {
    let Some(m) = v.and_then(Value::as_object) else {
        return;
    };
    sub(out, num, |o| named_entries(o, 1, m, &f));
}

fn named_entries(
    out: &mut Vec<u8>,
    num: u32,
    m: &Map<String, Value>,
    f: &impl Fn(&mut Vec<u8>, &Value),
) {
    for (k, val) in m {
        sub(out, num, |o| {
            put_len(o, 1, k.as_bytes());
            sub(o, 2, |o| f(o, val));
        });
    }
}

fn info(out: &mut Vec<u8>, v: &Value) {
    string(out, 1, v.get("title"));
    string(out, 2, v.get("version"));
    string(out, 3, v.get("description"));
    string(out, 4, v.get("termsOfService"));
    message(out, 5, v.get("contact"), |o, c| {
        string(o, 1, c.get("name"));
        string(o, 2, c.get("url"));
        string(o, 3, c.get("email"));
        extensions(o, 4, c);
    });
    message(out, 6, v.get("license"), |o, l| {
        string(o, 1, l.get("name"));
        string(o, 2, l.get("url"));
        extensions(o, 3, l);
    });
    extensions(out, 7, v);
}

fn external_docs(out: &mut Vec<u8>, v: &Value) {
    string(out, 1, v.get("description"));
    string(out, 2, v.get("url"));
    extensions(out, 3, v);
}

fn paths(out: &mut Vec<u8>, v: &Value) {
    extensions(out, 1, v);
    for (path, item) in v.as_object().into_iter().flatten() {
        if path.starts_with('/') {
            sub(out, 2, |o| {
                put_len(o, 1, path.as_bytes());
                sub(o, 2, |o| path_item(o, item));
            });
        }
    }
}

fn path_item(out: &mut Vec<u8>, v: &Value) {
    string(out, 1, v.get("$ref"));
    for (num, method) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        message(out, num, v.get(method), operation);
    }
    for p in array(v.get("parameters")) {
        sub(out, 9, |o| parameters_item(o, p));
    }
    extensions(out, 10, v);
}

fn operation(out: &mut Vec<u8>, v: &Value) {
    strings(out, 1, v.get("tags"));
    string(out, 2, v.get("summary"));
    string(out, 3, v.get("description"));
    message(out, 4, v.get("externalDocs"), external_docs);
    string(out, 5, v.get("operationId"));
    strings(out, 6, v.get("produces"));
    strings(out, 7, v.get("consumes"));
    for p in array(v.get("parameters")) {
        sub(out, 8, |o| parameters_item(o, p));
    }
    message(out, 9, v.get("responses"), |o, r| {
        for (code, value) in r.as_object().into_iter().flatten() {
            if code.starts_with("x-") {
                continue;
            }
            sub(o, 1, |o| {
                put_len(o, 1, code.as_bytes());
                sub(o, 2, |o| {
                    if value.get("$ref").is_some() {
                        sub(o, 2, |o| json_reference(o, value));
                    } else {
                        sub(o, 1, |o| response(o, value));
                    }
                });
            });
        }
        extensions(o, 2, r);
    });
    strings(out, 10, v.get("schemes"));
    boolean(out, 11, v.get("deprecated"));
    for req in array(v.get("security")) {
        sub(out, 12, |o| security_requirement(o, req));
    }
    extensions(out, 13, v);
}

fn json_reference(out: &mut Vec<u8>, v: &Value) {
    string(out, 1, v.get("$ref"));
    string(out, 2, v.get("description"));
}

fn parameters_item(out: &mut Vec<u8>, v: &Value) {
    if v.get("$ref").is_some() {
        sub(out, 2, |o| json_reference(o, v));
    } else {
        sub(out, 1, |o| parameter(o, v));
    }
}

fn parameter(out: &mut Vec<u8>, v: &Value) {
    let location = v.get("in").and_then(Value::as_str).unwrap_or_default();
    if location == "body" {
        sub(out, 1, |o| {
            string(o, 1, v.get("description"));
            string(o, 2, v.get("name"));
            string(o, 3, v.get("in"));
            boolean(o, 4, v.get("required"));
            message(o, 5, v.get("schema"), |o, s| schema(o, s, 0));
            extensions(o, 6, v);
        });
        return;
    }
    // NonBodyParameter's oneof: header 1, formData 2, query 3, path 4; query and formData
    // carry `allowEmptyValue` as field 5 and number the rest one higher.
    let (choice, allow_empty) = match location {
        "header" => (1, false),
        "formData" => (2, true),
        "query" => (3, true),
        _ => (4, false),
    };
    sub(out, 2, |o| {
        sub(o, choice, |o| {
            boolean(o, 1, v.get("required"));
            string(o, 2, v.get("in"));
            string(o, 3, v.get("description"));
            string(o, 4, v.get("name"));
            let shift = if allow_empty {
                boolean(o, 5, v.get("allowEmptyValue"));
                1
            } else {
                0
            };
            primitive_fields(o, v, 5 + shift, 0);
            extensions(o, 22 + shift, v);
        });
    });
}

/// The members a non-body parameter, a header and primitive items share, numbered from
/// `first` (`type` … `multipleOf`).
fn primitive_fields(out: &mut Vec<u8>, v: &Value, first: u32, depth: usize) {
    string(out, first, v.get("type"));
    string(out, first + 1, v.get("format"));
    message(out, first + 2, v.get("items"), |o, i| {
        primitives_items(o, i, depth + 1)
    });
    string(out, first + 3, v.get("collectionFormat"));
    any(out, first + 4, v.get("default"));
    double(out, first + 5, v.get("maximum"));
    boolean(out, first + 6, v.get("exclusiveMaximum"));
    double(out, first + 7, v.get("minimum"));
    boolean(out, first + 8, v.get("exclusiveMinimum"));
    int64(out, first + 9, v.get("maxLength"));
    int64(out, first + 10, v.get("minLength"));
    string(out, first + 11, v.get("pattern"));
    int64(out, first + 12, v.get("maxItems"));
    int64(out, first + 13, v.get("minItems"));
    boolean(out, first + 14, v.get("uniqueItems"));
    anys(out, first + 15, v.get("enum"));
    double(out, first + 16, v.get("multipleOf"));
}

fn primitives_items(out: &mut Vec<u8>, v: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    primitive_fields(out, v, 1, depth);
    extensions(out, 18, v);
}

fn response(out: &mut Vec<u8>, v: &Value) {
    string(out, 1, v.get("description"));
    message(out, 2, v.get("schema"), |o, s| {
        if s.get("type").and_then(Value::as_str) == Some("file") {
            sub(o, 2, |o| {
                string(o, 1, s.get("format"));
                string(o, 2, s.get("title"));
                string(o, 3, s.get("description"));
                any(o, 4, s.get("default"));
                strings(o, 5, s.get("required"));
                string(o, 6, s.get("type"));
                boolean(o, 7, s.get("readOnly"));
                message(o, 8, s.get("externalDocs"), external_docs);
                any(o, 9, s.get("example"));
                extensions(o, 10, s);
            });
        } else {
            sub(o, 1, |o| schema(o, s, 0));
        }
    });
    named_map(out, 3, v.get("headers"), |o, h| {
        primitive_fields(o, h, 1, 0);
        string(o, 18, h.get("description"));
        extensions(o, 19, h);
    });
    if let Some(m) = v.get("examples").and_then(Value::as_object) {
        sub(out, 4, |o| {
            for (k, val) in m {
                sub(o, 1, |o| {
                    put_len(o, 1, k.as_bytes());
                    any(o, 2, Some(val));
                });
            }
        });
    }
    extensions(out, 5, v);
}

fn schema(out: &mut Vec<u8>, v: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let next = depth + 1;
    string(out, 1, v.get("$ref"));
    string(out, 2, v.get("format"));
    string(out, 3, v.get("title"));
    string(out, 4, v.get("description"));
    any(out, 5, v.get("default"));
    double(out, 6, v.get("multipleOf"));
    double(out, 7, v.get("maximum"));
    boolean(out, 8, v.get("exclusiveMaximum"));
    double(out, 9, v.get("minimum"));
    boolean(out, 10, v.get("exclusiveMinimum"));
    int64(out, 11, v.get("maxLength"));
    int64(out, 12, v.get("minLength"));
    string(out, 13, v.get("pattern"));
    int64(out, 14, v.get("maxItems"));
    int64(out, 15, v.get("minItems"));
    boolean(out, 16, v.get("uniqueItems"));
    int64(out, 17, v.get("maxProperties"));
    int64(out, 18, v.get("minProperties"));
    strings(out, 19, v.get("required"));
    anys(out, 20, v.get("enum"));
    match v.get("additionalProperties") {
        Some(Value::Bool(b)) => sub(out, 21, |o| put_varint_field(o, 2, u64::from(*b))),
        Some(s @ Value::Object(_)) => sub(out, 21, |o| sub(o, 1, |o| schema(o, s, next))),
        _ => {}
    }
    match v.get("type") {
        Some(Value::String(t)) => sub(out, 22, |o| put_len(o, 1, t.as_bytes())),
        Some(t @ Value::Array(_)) => sub(out, 22, |o| strings(o, 1, Some(t))),
        _ => {}
    }
    match v.get("items") {
        Some(i @ Value::Object(_)) => sub(out, 23, |o| sub(o, 1, |o| schema(o, i, next))),
        Some(Value::Array(items)) => sub(out, 23, |o| {
            for i in items {
                sub(o, 1, |o| schema(o, i, next));
            }
        }),
        _ => {}
    }
    for s in array(v.get("allOf")) {
        sub(out, 24, |o| schema(o, s, next));
    }
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        sub(out, 25, |o| {
            named_entries(o, 1, props, &|o: &mut Vec<u8>, s: &Value| {
                schema(o, s, next)
            })
        });
    }
    string(out, 26, v.get("discriminator"));
    boolean(out, 27, v.get("readOnly"));
    message(out, 28, v.get("xml"), |o, x| {
        string(o, 1, x.get("name"));
        string(o, 2, x.get("namespace"));
        string(o, 3, x.get("prefix"));
        boolean(o, 4, x.get("attribute"));
        boolean(o, 5, x.get("wrapped"));
        extensions(o, 6, x);
    });
    message(out, 29, v.get("externalDocs"), external_docs);
    any(out, 30, v.get("example"));
    extensions(out, 31, v);
}

fn security_requirement(out: &mut Vec<u8>, v: &Value) {
    for (name, scopes) in v.as_object().into_iter().flatten() {
        sub(out, 1, |o| {
            put_len(o, 1, name.as_bytes());
            sub(o, 2, |o| strings(o, 1, Some(scopes)));
        });
    }
}

fn security_definition(out: &mut Vec<u8>, v: &Value) {
    let ty = v.get("type").and_then(Value::as_str).unwrap_or_default();
    let flow = v.get("flow").and_then(Value::as_str).unwrap_or_default();
    let choice = match (ty, flow) {
        ("basic", _) => 1,
        ("apiKey", _) => 2,
        ("oauth2", "implicit") => 3,
        ("oauth2", "password") => 4,
        ("oauth2", "application") => 5,
        ("oauth2", _) => 6,
        _ => return,
    };
    sub(out, choice, |o| match choice {
        1 => {
            string(o, 1, v.get("type"));
            string(o, 2, v.get("description"));
            extensions(o, 3, v);
        }
        2 => {
            string(o, 1, v.get("type"));
            string(o, 2, v.get("name"));
            string(o, 3, v.get("in"));
            string(o, 4, v.get("description"));
            extensions(o, 5, v);
        }
        _ => {
            string(o, 1, v.get("type"));
            string(o, 2, v.get("flow"));
            if let Some(scopes) = v.get("scopes").and_then(Value::as_object) {
                // Oauth2Scopes: repeated NamedString {name 1, value 2}.
                sub(o, 3, |o| {
                    for (k, s) in scopes {
                        sub(o, 1, |o| {
                            put_len(o, 1, k.as_bytes());
                            string(o, 2, Some(s));
                        });
                    }
                });
            }
            let mut n = 4;
            if matches!(choice, 3 | 6) {
                string(o, n, v.get("authorizationUrl"));
                n += 1;
            }
            if choice != 3 {
                string(o, n, v.get("tokenUrl"));
                n += 1;
            }
            string(o, n, v.get("description"));
            extensions(o, n + 1, v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Reader, Wire};
    use serde_json::json;

    /// The fields of one message, as (number, wire value).
    fn fields(bytes: &[u8]) -> Vec<(u32, Wire<'_>)> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while let Ok(Some(f)) = r.field() {
            out.push(f);
        }
        out
    }

    fn len(bytes: &[u8], num: u32) -> Vec<&[u8]> {
        fields(bytes)
            .into_iter()
            .filter_map(|(n, w)| match w {
                Wire::Len(b) if n == num => Some(b),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn definitions_carry_types_properties_refs_and_extensions() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.35.0"},
            "paths": {"/api/v1/pods": {"get": {"operationId": "listPods",
                "parameters": [{"name": "limit", "in": "query", "type": "integer"}],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/PodList"}}}}}},
            "definitions": {"io.k8s.api.core.v1.Pod": {
                "type": "object", "required": ["spec"],
                "properties": {"spec": {"$ref": "#/definitions/PodSpec"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}]}},
        });
        let pb = encode_openapi_v2(&doc);
        assert_eq!(len(&pb, 1), [b"2.0".as_slice()]);
        let info = len(&pb, 2)[0];
        assert_eq!(len(info, 1), [b"Kubernetes".as_slice()]);
        // definitions → NamedSchema{name, Schema}
        let defs = len(&pb, 9)[0];
        let named = len(defs, 1)[0];
        assert_eq!(len(named, 1), [b"io.k8s.api.core.v1.Pod".as_slice()]);
        let schema = len(named, 2)[0];
        assert_eq!(len(len(schema, 22)[0], 1), [b"object".as_slice()], "type");
        assert_eq!(len(schema, 19), [b"spec".as_slice()], "required");
        let props = len(schema, 25)[0];
        let entries = len(props, 1);
        assert_eq!(entries.len(), 2);
        let spec = len(
            entries
                .iter()
                .find(|e| len(e, 1)[0] == b"spec")
                .expect("spec"),
            2,
        )[0];
        assert_eq!(len(spec, 1), [b"#/definitions/PodSpec".as_slice()], "$ref");
        let ext = len(schema, 31)[0];
        assert_eq!(len(ext, 1), [b"x-kubernetes-group-version-kind".as_slice()]);
        let yaml = len(len(ext, 2)[0], 2)[0];
        let parsed: Value = serde_json::from_slice(yaml).expect("the Any's text");
        assert_eq!(parsed[0]["kind"], "Pod");
        // paths → NamedPathItem{name, PathItem{get: Operation}}
        let paths = len(&pb, 8)[0];
        let item = len(paths, 2)[0];
        assert_eq!(len(item, 1), [b"/api/v1/pods".as_slice()]);
        let get = len(len(len(item, 2)[0], 2)[0], 5);
        assert_eq!(get, [b"listPods".as_slice()]);
    }

    #[test]
    fn not_an_object_encodes_nothing() {
        assert!(encode_openapi_v2(&json!([1, 2])).is_empty());
    }
}
