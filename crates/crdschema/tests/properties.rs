//! Untrusted input: arbitrary JSON against arbitrary small schemas never panics, and
//! pruning is idempotent.

use crdschema::Schema;
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z0-9:./ -]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn schema_node() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!({"type": "string", "maxLength": 3, "pattern": "^[a-z]*$"})),
        Just(json!({"type": "string", "format": "date-time", "enum": ["a", "b"]})),
        Just(json!({"type": "integer", "minimum": 0, "maximum": 5, "multipleOf": 2, "default": 2})),
        Just(json!({"type": "number", "exclusiveMaximum": true, "maximum": 1.5, "nullable": true})),
        Just(json!({"type": "boolean", "default": true})),
        Just(json!({"x-kubernetes-int-or-string": true})),
        Just(json!({"x-kubernetes-preserve-unknown-fields": true})),
        Just(json!({"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 3"}]})),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), prop::option::of(Just("set"))).prop_map(|(items, lt)| {
                let mut s = json!({"type": "array", "items": items, "maxItems": 3});
                if let Some(lt) = lt
                    && items
                        .get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t != "object" && t != "array")
                {
                    s["x-kubernetes-list-type"] = json!(lt);
                }
                s
            }),
            prop::collection::btree_map("[a-c]{1,2}", inner.clone(), 0..3).prop_map(
                |props| json!({
                    "type": "object",
                    "properties": props,
                    "required": ["a"],
                    "x-kubernetes-validations": [{"rule": "has(self.a) || size(self) >= 0",
                                                  "messageExpression": "'x' + string(size(self))"}]
                })
            ),
            inner
                .clone()
                .prop_map(|v| json!({"type": "object", "additionalProperties": v, "default": {}})),
            inner.prop_map(
                |v| json!({"type": "object", "x-kubernetes-embedded-resource": true,
                                      "x-kubernetes-preserve-unknown-fields": true,
                                      "properties": {"spec": v}})
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_and_prune_is_idempotent(spec in schema_node(), obj in json_value(), old in json_value()) {
        let schema = json!({"type": "object", "properties": {"spec": spec}});
        // Every generated schema is structural, so compiling must succeed.
        let s = Schema::compile(&schema).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut o = json!({"apiVersion": "x/v1", "kind": "X", "spec": obj});
        let old = json!({"apiVersion": "x/v1", "kind": "X", "spec": old});
        let unknown = s.unknown_fields(&o);
        s.prune(&mut o);
        let once = o.clone();
        s.prune(&mut o);
        prop_assert_eq!(&once, &o);
        prop_assert!(s.unknown_fields(&o).is_empty(), "left {:?} (first pass saw {:?})", s.unknown_fields(&o), unknown);
        s.default(&mut o);
        let _ = s.validate(&o, None);
        let _ = s.validate(&o, Some(&old));
    }

    #[test]
    fn arbitrary_json_as_a_schema_never_panics(raw in json_value(), obj in json_value()) {
        if let Ok(s) = Schema::compile(&raw) {
            let mut o = obj;
            s.prune(&mut o);
            s.default(&mut o);
            let _ = s.validate(&o, None);
        }
    }
}
