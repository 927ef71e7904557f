//! Pod.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `Pod` kind.
pub struct Pod;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Ready"),
    c("Status"),
    c("Restarts"),
    c("Age"),
    wide("IP"),
    wide("Node"),
    wide("Nominated Node"),
    wide("Readiness Gates"),
];

impl Kind for Pod {
    fn spec(&self) -> Spec {
        spec("", "v1", "pods", "Pod").short(&["po"]).all().status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let statuses = s(obj, &["status", "containerStatuses"])
            .as_array()
            .cloned()
            .unwrap_or_default();
        let total = s(obj, &["spec", "containers"])
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        let ready = statuses
            .iter()
            .filter(|c| c.get("ready") == Some(&Value::Bool(true)))
            .count();
        let restarts: i64 = statuses
            .iter()
            .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
            .sum();
        vec![
            name(obj),
            json!(format!("{ready}/{total}")),
            json!(pod_status(obj)),
            json!(restarts.to_string()),
            age,
            json!(str_or(obj, &["status", "podIP"], "<none>")),
            json!(str_or(obj, &["spec", "nodeName"], "<none>")),
            json!("<none>"),
            json!("<none>"),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        if let Some(spec) = obj_mut(obj, "spec") {
            pod_spec(spec, "Always");
            set_default(spec, "enableServiceLinks", json!(true));
            set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            set_default(spec, "priority", json!(0));
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        containers(&obj["spec"], "spec", &mut errors);
        errors
    }
}
