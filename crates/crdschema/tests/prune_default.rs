//! Pruning (preserve-unknown-fields, embedded resources) and defaulting (nested, arrays,
//! nullable).

use crdschema::Schema;
use serde_json::{Value, json};

fn compile(s: Value) -> Schema {
    Schema::compile(&s).unwrap_or_else(|e| panic!("schema did not compile: {e}"))
}

fn pruning_schema() -> Schema {
    compile(json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {
                "known": {"type": "string"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "mixed": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                          "properties": {"inner": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                             "properties": {"spec": {"type": "object", "properties": {"x": {"type": "integer"}}}}}
            }}
        }
    }))
}

#[test]
fn prunes_unknown_fields_but_not_preserved_or_root_ones() {
    let s = pruning_schema();
    let mut obj = json!({
        "apiVersion": "x/v1", "kind": "X",
        "metadata": {"name": "a", "labels": {"k": "v"}, "whatever": 1},
        "extra": true,
        "spec": {
            "known": "k", "unknown": 1,
            "free": {"anything": {"goes": [1, 2]}},
            "mixed": {"kept": 1, "inner": {"a": "x", "dropped": 2}},
            "labels": {"any": "key"},
            "items": [{"n": 1, "m": 2}, {"m": 3}],
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                         "spec": {"x": 1, "y": 2}, "status": {}}
        }
    });
    assert_eq!(
        s.unknown_fields(&obj),
        [
            "extra",
            "spec.unknown",
            "spec.mixed.inner.dropped",
            "spec.items[0].m",
            "spec.items[1].m",
            "spec.template.spec.y",
            "spec.template.status"
        ]
    );
    s.prune(&mut obj);
    assert_eq!(
        obj,
        json!({
            "apiVersion": "x/v1", "kind": "X",
            "metadata": {"name": "a", "labels": {"k": "v"}, "whatever": 1},
            "spec": {
                "known": "k",
                "free": {"anything": {"goes": [1, 2]}},
                "mixed": {"kept": 1, "inner": {"a": "x"}},
                "labels": {"any": "key"},
                "items": [{"n": 1}, {}],
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                             "spec": {"x": 1}}
            }
        })
    );
    assert!(s.unknown_fields(&obj).is_empty());
}

#[test]
fn object_without_properties_prunes_everything() {
    let s = compile(json!({"type": "object", "properties": {"spec": {"type": "object"}}}));
    let mut obj = json!({"spec": {"a": 1}});
    s.prune(&mut obj);
    assert_eq!(obj, json!({"spec": {}}));
}

fn defaulting_schema() -> Schema {
    compile(json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "default": {}, "properties": {
                "replicas": {"type": "integer", "default": 1},
                "strategy": {"type": "object", "default": {"type": "Rolling"}, "properties": {
                    "type": {"type": "string"},
                    "maxSurge": {"type": "integer", "default": 25}
                }},
                "ports": {"type": "array", "items": {"type": "object", "properties": {
                    "protocol": {"type": "string", "default": "TCP"},
                    "port": {"type": "integer"}
                }}},
                "note": {"type": "string", "nullable": true, "default": "n"},
                "plain": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string", "default": "x"}}
            }}
        }
    }))
}

#[test]
fn defaults_nested_objects_and_newly_defaulted_parents() {
    let s = defaulting_schema();
    let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}});
    s.default(&mut obj);
    assert_eq!(
        obj["spec"],
        json!({"replicas": 1, "strategy": {"type": "Rolling", "maxSurge": 25}, "note": "n"})
    );
    let mut obj = json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}});
    s.default(&mut obj);
    assert_eq!(obj["spec"]["replicas"], json!(3));
    assert_eq!(
        obj["spec"]["strategy"],
        json!({"type": "Recreate", "maxSurge": 25})
    );
}

#[test]
fn defaults_inside_arrays_of_objects() {
    let s = defaulting_schema();
    let mut obj = json!({"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}});
    s.default(&mut obj);
    assert_eq!(
        obj["spec"]["ports"],
        json!([{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}])
    );
}

#[test]
fn nulls_are_defaulted_kept_or_dropped_by_nullability() {
    let s = defaulting_schema();
    let mut obj = json!({"spec": {"replicas": null, "note": null, "plain": null,
                                  "labels": {"a": null, "b": "y"}}});
    s.default(&mut obj);
    // Non-nullable null with a default: defaulted. Nullable: kept. No default: dropped.
    assert_eq!(obj["spec"]["replicas"], json!(1));
    assert_eq!(obj["spec"]["note"], Value::Null);
    assert!(obj["spec"].get("plain").is_none());
    assert_eq!(obj["spec"]["labels"], json!({"a": "x", "b": "y"}));
}
