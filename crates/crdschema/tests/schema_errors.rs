//! Non-structural schemas are refused with kube's messages.

use crdschema::Schema;
use serde_json::{Value, json};

fn errors(s: Value) -> Vec<String> {
    match Schema::compile_at(&s, "spec.versions[0].schema.openAPIV3Schema") {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

const P: &str = "spec.versions[0].schema.openAPIV3Schema";

#[test]
fn accepts_a_typical_schema() {
    assert!(errors(json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
            "spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "minimum": 0},
                "port": {"x-kubernetes-int-or-string": true},
                "raw": {"x-kubernetes-preserve-unknown-fields": true},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
            }},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }
    }))
    .is_empty());
}

#[test]
fn property_without_type() {
    assert_eq!(
        errors(json!({"type": "object", "properties": {"a": {}}})),
        [format!(
            "{P}.properties[a].type: Required value: must not be empty for specified object fields"
        )]
    );
}

#[test]
fn root_must_be_an_object() {
    assert_eq!(
        errors(json!({"type": "string"})),
        [format!(
            r#"{P}.type: Invalid value: "string": must be object at the root"#
        )]
    );
}

#[test]
fn structural_violations() {
    let got = errors(json!({
        "type": "object",
        "properties": {
            "list": {"type": "array"},
            "both": {"type": "object", "properties": {"a": {"type": "string"}},
                     "additionalProperties": {"type": "string"}},
            "pattern": {"type": "string", "pattern": "("},
            "keep": {"type": "object", "x-kubernetes-preserve-unknown-fields": false},
            "ios": {"type": "string", "x-kubernetes-int-or-string": true},
            "lt": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object"}},
            "any": {"type": "string", "anyOf": [{"type": "string"}]},
            "ref": {"$ref": "#/definitions/x"}
        }
    }));
    let expect_prefixes = [
        "properties[any].anyOf[0].type: Forbidden: must be empty to be structural",
        "properties[both].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
        r#"properties[ios].type: Invalid value: "string": must be empty if x-kubernetes-int-or-string is true"#,
        "properties[keep].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
        "properties[list].items: Required value: must be specified",
        "properties[lt].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
        r#"properties[pattern].pattern: Invalid value: "(": must be a valid regular expression, but isn't"#,
        "properties[ref].$ref: Forbidden: $ref is not supported",
    ];
    for want in expect_prefixes {
        let want = format!("{P}.{want}");
        assert!(
            got.iter().any(|g| g.starts_with(&want)),
            "missing {want}\nin {got:#?}"
        );
    }
}

#[test]
fn metadata_may_only_narrow_name() {
    assert_eq!(
        errors(
            json!({"type": "object", "properties": {"metadata": {"type": "object",
            "properties": {"labels": {"type": "object"}}}}})
        ),
        [format!(
            "{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
        )]
    );
}

#[test]
fn defaults_must_validate() {
    assert_eq!(
        errors(json!({"type": "object", "properties": {
            "n": {"type": "integer", "maximum": 3, "default": 5},
            "ok": {"type": "object", "default": {}, "required": ["a"],
                   "properties": {"a": {"type": "string", "default": "x"}}}
        }})),
        [format!(
            "{P}.properties[n].default: Invalid value: 5: default in body should be less than or equal to 3"
        )]
    );
}
