//! Pruning: fields the structural schema does not specify are dropped, except below
//! `x-kubernetes-preserve-unknown-fields` and the `apiVersion`/`kind`/`metadata` of the
//! root and of embedded resources.

use serde_json::Value;

use crate::node::{Additional, Node};
use crate::path::{child, index};

/// Whether `key` survives pruning in an object described by `node`.
fn kept(node: &Node, key: &str, resource: bool) -> bool {
    resource && matches!(key, "apiVersion" | "kind" | "metadata")
        || node.preserve_unknown
        || node.properties.contains_key(key)
        || !matches!(node.additional, Additional::Absent)
}

/// Drops unknown fields below `v`; `resource` marks the root or an embedded resource.
pub(crate) fn prune(node: &Node, v: &mut Value, resource: bool) {
    match v {
        Value::Object(obj) => {
            let resource = resource || node.embedded;
            obj.retain(|k, _| kept(node, k, resource));
            for (k, val) in obj.iter_mut() {
                if resource && k == "metadata" {
                    // Metadata is kube's to prune, not the schema's.
                    continue;
                }
                if let Some(n) = node.field(k) {
                    prune(n, val, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(n) = &node.items {
                for item in items {
                    prune(n, item, false);
                }
            }
        }
        _ => {}
    }
}

/// The paths pruning would drop below `v`, in kube's `spec.items[0].foo` form.
pub(crate) fn unknown(node: &Node, v: &Value, path: &str, resource: bool, out: &mut Vec<String>) {
    match v {
        Value::Object(obj) => {
            let resource = resource || node.embedded;
            for (k, val) in obj {
                let p = child(path, k);
                if !kept(node, k, resource) {
                    out.push(p);
                    continue;
                }
                if resource && k == "metadata" {
                    continue;
                }
                if let Some(n) = node.field(k) {
                    unknown(n, val, &p, false, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(n) = &node.items {
                for (i, item) in items.iter().enumerate() {
                    unknown(n, item, &index(path, i), false, out);
                }
            }
        }
        _ => {}
    }
}
