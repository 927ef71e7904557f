//! CRD schemas are user input: whatever they contain, the documents stay well-formed.

use openapi::{CrdSchema, OpenApi};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

fn openapi() -> &'static OpenApi {
    static OPENAPI: OnceLock<OpenApi> = OnceLock::new();
    OPENAPI.get_or_init(OpenApi::builtin)
}

/// Schema-shaped JSON: keywords that matter to the converters, plus hostile property names.
fn schema() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!({"type": "string"})),
        Just(json!({"type": "integer", "nullable": true})),
        Just(
            json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]})
        ),
        Just(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})),
        Just(json!({"$ref": "#/definitions/io.k8s.api.core.v1.Pod"})),
        Just(json!(true)),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map("[a-z$./~]{1,6}", inner.clone(), 0..4).prop_map(|props| {
                json!({"type": "object", "properties": props.into_iter().collect::<Map<String, Value>>()})
            }),
            inner.clone().prop_map(|items| json!({"type": "array", "items": items})),
            inner.clone().prop_map(|extra| json!({"type": "object", "additionalProperties": extra})),
            prop::collection::vec(inner, 0..3).prop_map(|all| json!({"allOf": all, "x-kubernetes-embedded-resource": true})),
        ]
    })
}

fn crd(group: String, kind: String, schema: Value) -> CrdSchema {
    CrdSchema {
        group,
        version: "v1".into(),
        list_kind: format!("{kind}List"),
        plural: kind.to_lowercase(),
        kind,
        namespaced: true,
        schema,
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    // Property names are data, not keywords.
                    ("properties", Value::Object(props)) => {
                        props.values().for_each(|p| collect_refs(p, out))
                    }
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|child| collect_refs(child, out)),
        _ => {}
    }
}

fn parse(bytes: &[u8]) -> Result<Value, TestCaseError> {
    serde_json::from_slice(bytes).map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn documents_stay_well_formed(
        group in "[a-z]{1,8}(\\.[a-z]{1,5}){0,2}",
        kind in "[A-Z][a-z]{0,8}",
        schema in schema(),
        object in schema(),
    ) {
        let crds = [crd(group.clone(), kind.clone(), schema)];
        let v2 = parse(&openapi().v2(&crds))?;
        prop_assert!(v2["definitions"].get(openapi::definition_name(&group, "v1", &kind)).is_some());
        let index = parse(&openapi().v3_index(&crds))?;
        let path = format!("apis/{group}/v1");
        prop_assert!(index["paths"].get(&path).is_some());
        let doc = openapi().v3_group_version(&path, &crds);
        prop_assert!(doc.is_some());
        let doc = parse(&doc.unwrap_or_default())?;
        prop_assert_eq!(&doc["openapi"], &json!("3.0.0"));
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        for reference in refs {
            let name = reference.strip_prefix("#/components/schemas/").unwrap_or_default();
            prop_assert!(doc["components"]["schemas"].get(name).is_some(), "dangling {}", reference);
        }
        // Random objects never make the strict check fail or loop.
        let found = openapi().unknown_fields(&group, "v1", &kind, &object, &crds);
        prop_assert!(found.is_some());
    }
}
