//! The checks kube runs after OpenAPI validation, walking the structural skeleton with the
//! old object alongside: embedded resources need `apiVersion` and `kind`, `set` and `map`
//! lists must not repeat, and CEL rules run with `oldSelf` where the old value correlates
//! (through properties, map keys and `map` lists; never through other lists).

use apimachinery::FieldError;
use serde_json::Value;

use crate::cel;
use crate::node::Node;
use crate::path::{child, index};
use crate::validate::json_equal;

/// Errors of the walk, kept apart because kube reports them in this order.
#[derive(Default)]
pub(crate) struct Found {
    pub embedded: Vec<FieldError>,
    pub lists: Vec<FieldError>,
    pub cel: Vec<FieldError>,
}

/// Walks `v` (and `old`) under `node`; `run_cel` is false when blocking errors skip CEL.
pub(crate) fn walk(
    node: &Node,
    v: &Value,
    old: Option<&Value>,
    path: &str,
    root: bool,
    run_cel: bool,
    found: &mut Found,
) {
    if v.is_null() {
        return;
    }
    if run_cel {
        cel::evaluate(node, v, old, path, root, &mut found.cel);
    }
    match v {
        Value::Object(obj) => {
            if node.embedded {
                for k in ["apiVersion", "kind"] {
                    let present = obj
                        .get(k)
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty());
                    if !present {
                        found
                            .embedded
                            .push(FieldError::required(&child(path, k), "must not be empty"));
                    }
                }
            }
            for (k, val) in obj {
                if (root || node.embedded) && k == "metadata" {
                    continue;
                }
                if let Some(n) = node.field(k) {
                    let old_val = old.and_then(|o| o.get(k));
                    walk(n, val, old_val, &child(path, k), false, run_cel, found);
                }
            }
        }
        Value::Array(items) => {
            list_uniqueness(node, items, path, &mut found.lists);
            let Some(item_node) = &node.items else { return };
            let old_items = old.and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                let old_item = match (node.list_type.as_deref(), old_items) {
                    (Some("map"), Some(olds)) => olds
                        .iter()
                        .find(|o| same_keys(&node.list_map_keys, item, o)),
                    _ => None,
                };
                walk(
                    item_node,
                    item,
                    old_item,
                    &index(path, i),
                    false,
                    run_cel,
                    found,
                );
            }
        }
        _ => {}
    }
}

fn same_keys(keys: &[String], a: &Value, b: &Value) -> bool {
    keys.iter().all(|k| match (a.get(k), b.get(k)) {
        (Some(x), Some(y)) => json_equal(x, y),
        (None, None) => true,
        _ => false,
    })
}

fn list_uniqueness(node: &Node, items: &[Value], path: &str, out: &mut Vec<FieldError>) {
    match node.list_type.as_deref() {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].iter().any(|p| json_equal(p, item)) {
                    out.push(FieldError::duplicate(&index(path, i), item.clone()));
                }
            }
        }
        Some("map") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i]
                    .iter()
                    .any(|p| same_keys(&node.list_map_keys, p, item))
                {
                    let mut keys = serde_json::Map::new();
                    for k in &node.list_map_keys {
                        if let Some(v) = item.get(k) {
                            keys.insert(k.clone(), v.clone());
                        }
                    }
                    out.push(FieldError::duplicate(&index(path, i), Value::Object(keys)));
                }
            }
        }
        _ => {}
    }
}
