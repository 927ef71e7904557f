//! CEL `x-kubernetes-validations`: self, oldSelf transitions, messages, macros, libraries.

use crdschema::Schema;
use serde_json::{Value, json};

fn compile(s: Value) -> Schema {
    Schema::compile(&s).unwrap_or_else(|e| panic!("schema did not compile: {e}"))
}

fn spec_schema(spec: Value) -> Schema {
    compile(json!({"type": "object", "properties": {"spec": spec}}))
}

fn check(s: &Schema, spec: Value, old: Option<Value>) -> Vec<String> {
    let obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "spec": spec});
    let old = old.map(|o| json!({"apiVersion": "x/v1", "kind": "X", "spec": o}));
    s.validate(&obj, old.as_ref())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn failing_rule_reports_its_message_on_the_node() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.min <= self.max", "message": "min must not exceed max"}]
    }));
    assert_eq!(
        check(&s, json!({"min": 5, "max": 1}), None),
        [r#"spec: Invalid value: "object": min must not exceed max"#]
    );
    assert!(check(&s, json!({"min": 1, "max": 5}), None).is_empty());
}

#[test]
fn default_message_names_the_rule() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"replicas": {"type": "integer",
            "x-kubernetes-validations": [{"rule": "self >= 0"}]}}
    }));
    assert_eq!(
        check(&s, json!({"replicas": -1}), None),
        [r#"spec.replicas: Invalid value: "integer": failed rule: self >= 0"#]
    );
}

#[test]
fn message_expression_field_path_and_reason() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.size < 10", "messageExpression": "'size is ' + string(self.size)",
             "fieldPath": ".size"},
            {"rule": "has(self.name)", "message": "name is required", "reason": "FieldValueRequired",
             "fieldPath": ".name"},
            {"rule": "self.size != 13", "message": "unlucky", "reason": "FieldValueForbidden"}
        ]
    }));
    assert_eq!(
        check(&s, json!({"size": 13}), None),
        [
            r#"spec.size: Invalid value: "object": size is 13"#,
            "spec.name: Required value: name is required",
            "spec: Forbidden: unlucky"
        ]
    );
}

#[test]
fn message_expression_falls_back_when_unusable() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"size": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.size < 10", "message": "too big", "messageExpression": "''"}
        ]
    }));
    assert_eq!(
        check(&s, json!({"size": 11}), None),
        [r#"spec: Invalid value: "object": too big"#]
    );
}

#[test]
fn transition_rules_need_the_old_object() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"replicas": {"type": "integer"},
            "mode": {"type": "string",
                     "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "mode is immutable"}]}},
        "x-kubernetes-validations": [
            {"rule": "self.replicas >= oldSelf.replicas", "message": "cannot scale down"}
        ]
    }));
    // Create: transition rules are skipped.
    assert!(check(&s, json!({"replicas": 1, "mode": "a"}), None).is_empty());
    assert_eq!(
        check(
            &s,
            json!({"replicas": 1, "mode": "b"}),
            Some(json!({"replicas": 3, "mode": "a"}))
        ),
        [
            r#"spec: Invalid value: "object": cannot scale down"#,
            r#"spec.mode: Invalid value: "string": mode is immutable"#
        ]
    );
    // A field absent from the old object has no oldSelf, so its rule is skipped.
    assert!(
        check(
            &s,
            json!({"replicas": 3, "mode": "b"}),
            Some(json!({"replicas": 3}))
        )
        .is_empty()
    );
}

#[test]
fn optional_old_self_sees_none_on_create() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"v": {"type": "integer"}},
        "x-kubernetes-validations": [{
            "rule": "!oldSelf.hasValue() || self.v >= oldSelf.value().v",
            "message": "v may only grow", "optionalOldSelf": true
        }, {
            "rule": "oldSelf.hasValue() || self.v == 1",
            "message": "must start at 1", "optionalOldSelf": true
        }]
    }));
    assert_eq!(
        check(&s, json!({"v": 2}), None),
        [r#"spec: Invalid value: "object": must start at 1"#]
    );
    assert!(check(&s, json!({"v": 1}), None).is_empty());
    assert_eq!(
        check(&s, json!({"v": 1}), Some(json!({"v": 5}))),
        [r#"spec: Invalid value: "object": v may only grow"#]
    );
}

#[test]
fn map_lists_correlate_old_items_by_key() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"ports": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                      "x-kubernetes-validations": [{"rule": "self.port == oldSelf.port", "message": "port is immutable"}]}
        }}
    }));
    let old = json!({"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]});
    // Reordered but unchanged: correlated by name, so no error.
    assert!(
        check(
            &s,
            json!({"ports": [{"name": "b", "port": 2}, {"name": "a", "port": 1}]}),
            Some(old.clone())
        )
        .is_empty()
    );
    assert_eq!(
        check(&s, json!({"ports": [{"name": "b", "port": 3}]}), Some(old)),
        [r#"spec.ports[0]: Invalid value: "object": port is immutable"#]
    );
}

#[test]
fn macros_and_has() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "string"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "opt": {"type": "string"}
        },
        "x-kubernetes-validations": [
            {"rule": "self.items.all(i, i.size() < 5)", "message": "all"},
            {"rule": "self.items.exists(i, i == 'a')", "message": "exists"},
            {"rule": "self.items.exists_one(i, i == 'b')", "message": "exists_one"},
            {"rule": "self.items.map(i, i + '!').size() == self.items.size()", "message": "map"},
            {"rule": "self.items.filter(i, i.startsWith('z')).size() == 0", "message": "filter"},
            {"rule": "!has(self.opt) || self.opt != ''", "message": "has"},
            {"rule": "self.labels.all(k, k.matches('^[a-z]+$'))", "message": "keys"}
        ]
    }));
    assert!(
        check(
            &s,
            json!({"items": ["a", "b"], "labels": {"app": "x"}}),
            None
        )
        .is_empty()
    );
    let got = check(
        &s,
        json!({"items": ["toolong", "b", "b", "zed"], "labels": {"App": "x"}, "opt": ""}),
        None,
    );
    let msgs: Vec<&str> = got
        .iter()
        .map(|m| m.rsplit(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        msgs,
        ["all", "exists", "exists_one", "filter", "has", "keys"]
    );
}

#[test]
fn kubernetes_libraries_are_available() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"url": {"type": "string"}, "mem": {"type": "string"}, "name": {"type": "string"},
                       "when": {"type": "string", "format": "date-time"},
                       "timeout": {"type": "string", "format": "duration"}},
        "x-kubernetes-validations": [
            {"rule": "isURL(self.url) && url(self.url).getScheme() == 'https'", "message": "url"},
            {"rule": "quantity(self.mem).isLessThan(quantity('1Gi'))", "message": "quantity"},
            {"rule": "self.name.lowerAscii() == self.name", "message": "strings"},
            {"rule": "self.when > timestamp('2020-01-01T00:00:00Z')", "message": "timestamp"},
            {"rule": "self.timeout <= duration('1h')", "message": "duration"}
        ]
    }));
    assert!(
        check(
            &s,
            json!({"url": "https://x.io", "mem": "512Mi", "name": "abc",
                   "when": "2024-01-01T00:00:00Z", "timeout": "30m"}),
            None
        )
        .is_empty()
    );
    let got = check(
        &s,
        json!({"url": "http://x.io", "mem": "2Gi", "name": "ABC",
               "when": "2019-01-01T00:00:00Z", "timeout": "2h"}),
        None,
    );
    assert_eq!(got.len(), 5, "{got:?}");
}

#[test]
fn escaped_property_names_and_root_fields() {
    let s = compile(json!({
        "type": "object",
        "properties": {"spec": {"type": "object",
            "properties": {"x-y": {"type": "integer"}, "namespace": {"type": "string"}},
            "x-kubernetes-validations": [
                {"rule": "self.x__dash__y > 0", "message": "dash"},
                {"rule": "self.__namespace__ != 'kube-system'", "message": "keyword"}
            ]}},
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('a')", "message": "name"}]
    }));
    let obj = json!({"metadata": {"name": "b", "labels": {"x": "y"}},
                     "spec": {"x-y": 0, "namespace": "kube-system"}});
    let got: Vec<String> = s
        .validate(&obj, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            r#"<nil>: Invalid value: "object": name"#,
            r#"spec: Invalid value: "object": dash"#,
            r#"spec: Invalid value: "object": keyword"#
        ]
    );
}

#[test]
fn type_errors_skip_rules() {
    let s = spec_schema(json!({
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.n > 0"}]
    }));
    assert_eq!(
        check(&s, json!({"n": "x"}), None),
        [
            r#"spec.n: Invalid value: "string": spec.n in body must be of type integer: "string""#,
            r#"<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#
        ]
    );
}

#[test]
fn bad_rules_refuse_the_schema() {
    let err = Schema::compile(&json!({
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.a >"}, {"rule": ""},
                                     {"rule": "true", "reason": "Nope"}]
    }))
    .err()
    .map(|e| e.errors.iter().map(ToString::to_string).collect::<Vec<_>>())
    .unwrap_or_default();
    assert_eq!(err.len(), 3, "{err:?}");
    assert!(err[0].starts_with(r#"openAPIV3Schema.x-kubernetes-validations[0].rule: Invalid value: "self.a >": compilation failed"#));
    assert_eq!(
        err[1],
        "openAPIV3Schema.x-kubernetes-validations[1].rule: Required value: rule is not specified"
    );
    assert!(err[2].starts_with(r#"openAPIV3Schema.x-kubernetes-validations[2].reason: Invalid value: "Nope": supported values:"#));
}
