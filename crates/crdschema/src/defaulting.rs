//! Defaulting as kube's structural defaulting does it: a property's `default` fills it in
//! when absent (or null and not nullable), then defaulting continues inside, so defaults of
//! a freshly defaulted parent apply too. Nulls kube would prune (non-nullable, no default)
//! are dropped.

use serde_json::Value;

use crate::node::{Additional, Node};

fn non_nullable_null(v: &Value, node: &Node) -> bool {
    v.is_null() && !node.nullable
}

/// Applies defaults below `v`; `resource` marks the root, whose metadata is kube's.
pub(crate) fn apply(node: &Node, v: &mut Value, resource: bool) {
    match v {
        Value::Object(obj) => {
            for (k, p) in &node.properties {
                if resource && k == "metadata" {
                    continue;
                }
                let Some(d) = &p.default else { continue };
                match obj.get(k) {
                    Some(existing) if !non_nullable_null(existing, p) => {}
                    _ => {
                        obj.insert(k.clone(), d.clone());
                    }
                }
            }
            let additional = match &node.additional {
                Additional::Schema(s) => Some(s.as_ref()),
                _ => None,
            };
            obj.retain(|k, val| {
                let schema = node.properties.get(k).or(additional);
                !(val.is_null() && schema.is_some_and(|s| !s.nullable && s.default.is_none()))
            });
            for (k, val) in obj.iter_mut() {
                if resource && k == "metadata" {
                    continue;
                }
                if let Some(p) = node.properties.get(k) {
                    apply(p, val, false);
                } else if let Some(s) = additional {
                    if non_nullable_null(val, s)
                        && let Some(d) = &s.default
                    {
                        *val = d.clone();
                    }
                    apply(s, val, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(n) = &node.items {
                for item in items.iter_mut() {
                    if non_nullable_null(item, n)
                        && let Some(d) = &n.default
                    {
                        *item = d.clone();
                    }
                    apply(n, item, false);
                }
            }
        }
        _ => {}
    }
}
