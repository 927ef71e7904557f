//! Keyword-by-keyword validation with kube's exact messages.

use crdschema::Schema;
use serde_json::{Value, json};

fn schema(spec_props: Value) -> Schema {
    let s = json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": spec_props}
        }
    });
    match Schema::compile(&s) {
        Ok(s) => s,
        Err(e) => panic!("schema did not compile: {e}"),
    }
}

fn messages(s: &Schema, obj: &Value) -> Vec<String> {
    s.validate(obj, None)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn one(spec_props: Value, spec: Value) -> Vec<String> {
    messages(
        &schema(spec_props),
        &json!({"apiVersion": "x/v1", "kind": "X", "spec": spec}),
    )
}

#[test]
fn enum_reports_supported_values() {
    let got = one(
        json!({"color": {"type": "string", "enum": ["red", "blue"]}}),
        json!({"color": "green"}),
    );
    assert_eq!(
        got,
        [r#"spec.color: Unsupported value: "green": supported values: "red", "blue""#]
    );
    assert!(
        one(
            json!({"color": {"type": "string", "enum": ["red", "blue"]}}),
            json!({"color": "red"})
        )
        .is_empty()
    );
    let got = one(
        json!({"n": {"type": "integer", "enum": [1, 2]}}),
        json!({"n": 3}),
    );
    assert_eq!(
        got,
        [r#"spec.n: Unsupported value: 3: supported values: "1", "2""#]
    );
}

#[test]
fn maximum_and_minimum() {
    let props = json!({"replicas": {"type": "integer", "minimum": 1, "maximum": 10}});
    assert_eq!(
        one(props.clone(), json!({"replicas": 11})),
        [
            "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
        ]
    );
    assert_eq!(
        one(props.clone(), json!({"replicas": 0})),
        [
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
        ]
    );
    assert!(one(props, json!({"replicas": 10})).is_empty());
    let excl = json!({"r": {"type": "number", "minimum": 0.5, "exclusiveMinimum": true,
                             "maximum": 2, "exclusiveMaximum": true}});
    assert_eq!(
        one(excl.clone(), json!({"r": 0.5})),
        ["spec.r: Invalid value: 0.5: spec.r in body should be greater than 0.5"]
    );
    assert_eq!(
        one(excl, json!({"r": 2})),
        ["spec.r: Invalid value: 2: spec.r in body should be less than 2"]
    );
}

#[test]
fn multiple_of() {
    assert_eq!(
        one(
            json!({"n": {"type": "integer", "multipleOf": 5}}),
            json!({"n": 7})
        ),
        ["spec.n: Invalid value: 7: spec.n in body should be a multiple of 5"]
    );
    assert!(
        one(
            json!({"n": {"type": "integer", "multipleOf": 5}}),
            json!({"n": 10})
        )
        .is_empty()
    );
}

#[test]
fn string_lengths_and_pattern() {
    let props = json!({"name": {"type": "string", "minLength": 1, "maxLength": 5,
                                "pattern": "^[a-z]+$"}});
    assert_eq!(
        one(props.clone(), json!({"name": ""})),
        [r#"spec.name: Invalid value: "": spec.name in body should be at least 1 chars long"#]
    );
    assert_eq!(
        one(props.clone(), json!({"name": "abcdefg"})),
        ["spec.name: Too long: may not be more than 5 bytes"]
    );
    assert_eq!(
        one(props.clone(), json!({"name": "AB"})),
        [r#"spec.name: Invalid value: "AB": spec.name in body should match '^[a-z]+$'"#]
    );
    // Lengths count characters, not bytes.
    assert!(one(props, json!({"name": "ééééé"})).len() == 1);
    assert!(
        one(
            json!({"n": {"type": "string", "maxLength": 5}}),
            json!({"n": "ééééé"})
        )
        .is_empty()
    );
}

#[test]
fn types() {
    let props = json!({"replicas": {"type": "integer"}, "flag": {"type": "boolean"},
                       "ratio": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}}});
    assert_eq!(
        one(props.clone(), json!({"replicas": "three"})),
        [
            r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
        ]
    );
    assert_eq!(
        one(props.clone(), json!({"flag": 1})),
        [
            r#"spec.flag: Invalid value: "integer": spec.flag in body must be of type boolean: "integer""#
        ]
    );
    assert_eq!(
        one(props.clone(), json!({"replicas": 1.5})),
        [
            r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#
        ]
    );
    // An integral float is an integer; an integer is a number.
    assert!(one(props.clone(), json!({"replicas": 2.0, "ratio": 3})).is_empty());
    assert_eq!(
        one(props.clone(), json!({"tags": ["a", 1]})),
        [
            r#"spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer""#
        ]
    );
    assert_eq!(
        one(props, json!({"replicas": null})),
        [
            r#"spec.replicas: Invalid value: "null": spec.replicas in body must be of type integer: "null""#
        ]
    );
}

#[test]
fn nullable_allows_null() {
    assert!(
        one(
            json!({"x": {"type": "string", "nullable": true}}),
            json!({"x": null})
        )
        .is_empty()
    );
}

#[test]
fn int_or_string() {
    let props = json!({"port": {"x-kubernetes-int-or-string": true}});
    assert!(one(props.clone(), json!({"port": 80})).is_empty());
    assert!(one(props.clone(), json!({"port": "http"})).is_empty());
    assert_eq!(
        one(props, json!({"port": true})),
        [
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#
        ]
    );
}

#[test]
fn required_fields() {
    let s = Schema::compile(&json!({
        "type": "object",
        "required": ["spec"],
        "properties": {"spec": {"type": "object", "required": ["name", "size"],
            "properties": {"name": {"type": "string"}, "size": {"type": "integer"}}}}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        messages(&s, &json!({"kind": "X"})),
        ["spec: Required value"]
    );
    assert_eq!(
        messages(&s, &json!({"spec": {}})),
        ["spec.name: Required value", "spec.size: Required value"]
    );
}

#[test]
fn item_and_property_counts() {
    let props = json!({
        "list": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}},
        "map": {"type": "object", "minProperties": 1, "maxProperties": 2,
                "additionalProperties": {"type": "string"}}
    });
    assert_eq!(
        one(props.clone(), json!({"list": [1, 2, 3]})),
        ["spec.list: Too many: 3: must have at most 2 items"]
    );
    assert_eq!(
        one(props.clone(), json!({"list": []})),
        ["spec.list: Invalid value: 0: spec.list in body should have at least 1 items"]
    );
    assert_eq!(
        one(
            props.clone(),
            json!({"map": {"a": "1", "b": "2", "c": "3"}})
        ),
        ["spec.map: Too many: 3: must have at most 2 items"]
    );
    assert_eq!(
        one(props.clone(), json!({"map": {}})),
        ["spec.map: Invalid value: 0: spec.map in body should have at least 1 properties"]
    );
    assert_eq!(
        one(props, json!({"map": {"a": 1}})),
        [
            r#"spec.map.a: Invalid value: "integer": spec.map.a in body must be of type string: "integer""#
        ]
    );
}

#[test]
fn formats() {
    let props = json!({"id": {"type": "string", "format": "uuid"},
                       "at": {"type": "string", "format": "date-time"},
                       "n": {"type": "integer", "format": "int32"},
                       "free": {"type": "string", "format": "not-a-format"}});
    assert_eq!(
        one(props.clone(), json!({"id": "nope"})),
        [r#"spec.id: Invalid value: "nope": spec.id in body must be of type uuid: "nope""#]
    );
    assert_eq!(
        one(props.clone(), json!({"at": "yesterday"})),
        [
            r#"spec.at: Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday""#
        ]
    );
    assert!(
        one(
            props.clone(),
            json!({"id": "123e4567-e89b-12d3-a456-426614174000", "at": "2024-05-01T10:00:00Z",
                   "free": "whatever", "n": 5})
        )
        .is_empty()
    );
    assert_eq!(
        one(props, json!({"n": 4_000_000_000u64})),
        [
            r#"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.n"#
        ]
    );
}

#[test]
fn combinators() {
    let props = json!({"delta": {"type": "string", "anyOf": [{"maxLength": 5}, {"pattern": "^x"}]},
                       "one": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]},
                       "all": {"type": "integer", "allOf": [{"minimum": 0}, {"maximum": 10}]},
                       "not": {"type": "string", "not": {"enum": ["forbidden"]}}});
    assert_eq!(
        one(props.clone(), json!({"delta": "foobarbaz"})),
        [
            r#"<nil>: Invalid value: "": "spec.delta" must validate at least one schema (anyOf)"#,
            "spec.delta: Too long: may not be more than 5 bytes"
        ]
    );
    assert!(one(props.clone(), json!({"delta": "xoobarbaz"})).is_empty());
    assert_eq!(
        one(props.clone(), json!({"one": 5})),
        [
            r#"<nil>: Invalid value: "": "spec.one" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
        ]
    );
    assert!(one(props.clone(), json!({"one": 11})).is_empty());
    assert_eq!(
        one(props.clone(), json!({"all": 11})),
        [
            "spec.all: Invalid value: 11: spec.all in body should be less than or equal to 10",
            r#"<nil>: Invalid value: "": "spec.all" must validate all the schemas (allOf)"#
        ]
    );
    assert_eq!(
        one(props, json!({"not": "forbidden"})),
        [r#"<nil>: Invalid value: "": "spec.not" must not validate the schema (not)"#]
    );
}

#[test]
fn list_types_reject_duplicates() {
    let props = json!({
        "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"],
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}
    });
    assert_eq!(
        one(props.clone(), json!({"set": ["a", "b", "a"]})),
        [r#"spec.set[2]: Duplicate value: "a""#]
    );
    assert_eq!(
        one(
            props.clone(),
            json!({"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]})
        ),
        [r#"spec.ports[1]: Duplicate value: {"name":"a"}"#]
    );
    assert!(
        one(
            props,
            json!({"ports": [{"name": "a"}, {"name": "b"}], "set": ["a", "b"]})
        )
        .is_empty()
    );
}

#[test]
fn embedded_resources_need_kind_and_api_version() {
    let props = json!({"template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                    "x-kubernetes-preserve-unknown-fields": true}});
    assert_eq!(
        one(
            props.clone(),
            json!({"template": {"metadata": {"name": "x"}}})
        ),
        [
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.template.kind: Required value: must not be empty"
        ]
    );
    assert!(
        one(
            props,
            json!({"template": {"apiVersion": "v1", "kind": "Pod"}})
        )
        .is_empty()
    );
}

#[test]
fn metadata_is_left_to_the_api_server_except_name() {
    let s = Schema::compile(&json!({
        "type": "object",
        "properties": {"metadata": {"type": "object",
            "properties": {"name": {"type": "string", "maxLength": 5}}}}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        messages(
            &s,
            &json!({"metadata": {"name": "abc", "labels": {"a": "b"}}})
        )
        .is_empty()
    );
    assert_eq!(
        messages(&s, &json!({"metadata": {"name": "abcdefgh"}})),
        ["metadata.name: Too long: may not be more than 5 bytes"]
    );
}

#[test]
fn validating_in_place_narrows_metadata_only_while_checking_and_puts_it_back() {
    let s = match Schema::compile(&json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}},
            "spec": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}
        }
    })) {
        Ok(s) => s,
        Err(e) => panic!("schema did not compile: {e}"),
    };
    let obj = json!({
        "apiVersion": "x/v1", "kind": "X",
        "metadata": {"name": "toolong", "labels": {"a": "b"}, "managedFields": [{"manager": "m"}]},
        "spec": {"n": 0}
    });
    let mut in_place = obj.clone();
    let errors: Vec<String> = s
        .validate_in_place(&mut in_place, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors, messages(&s, &obj));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("metadata.name")),
        "{errors:?}"
    );
    // Unchanged, its metadata's fields in their order.
    assert_eq!(
        serde_json::to_string(&in_place).ok(),
        serde_json::to_string(&obj).ok()
    );
}
