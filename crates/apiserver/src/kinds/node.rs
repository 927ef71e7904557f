//! Node.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `Node` kind.
pub struct Node;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Status"),
    c("Roles"),
    c("Age"),
    c("Version"),
    wide("Internal-IP"),
    wide("External-IP"),
    wide("OS-Image"),
    wide("Kernel-Version"),
    wide("Container-Runtime"),
];

impl Kind for Node {
    fn spec(&self) -> Spec {
        spec("", "v1", "nodes", "Node")
            .cluster()
            .short(&["no"])
            .status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let conds = s(obj, &["status", "conditions"])
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ready = conds
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
        let mut status = match ready.and_then(|c| c.get("status")).and_then(Value::as_str) {
            Some("True") => "Ready".to_string(),
            Some(_) => "NotReady".to_string(),
            None => "Unknown".to_string(),
        };
        if s(obj, &["spec", "unschedulable"]) == &Value::Bool(true) {
            status.push_str(",SchedulingDisabled");
        }
        let roles: Vec<String> = s(obj, &["metadata", "labels"])
            .as_object()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let addr = |t: &str| -> String {
            s(obj, &["status", "addresses"])
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|x| x.get("type").and_then(Value::as_str) == Some(t))
                })
                .and_then(|x| x.get("address").and_then(Value::as_str))
                .unwrap_or("<none>")
                .to_string()
        };
        vec![
            name(obj),
            json!(status),
            json!(if roles.is_empty() {
                "<none>".to_string()
            } else {
                roles.join(",")
            }),
            age,
            json!(str_or(obj, &["status", "nodeInfo", "kubeletVersion"], "")),
            json!(addr("InternalIP")),
            json!(addr("ExternalIP")),
            json!(str_or(obj, &["status", "nodeInfo", "osImage"], "")),
            json!(str_or(obj, &["status", "nodeInfo", "kernelVersion"], "")),
            json!(str_or(
                obj,
                &["status", "nodeInfo", "containerRuntimeVersion"],
                ""
            )),
        ]
    }
}
