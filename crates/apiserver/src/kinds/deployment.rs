//! Deployment.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `Deployment` kind.
pub struct Deployment;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Ready"),
    int("Up-to-date"),
    int("Available"),
    c("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

impl Kind for Deployment {
    fn spec(&self) -> Spec {
        spec("apps", "v1", "deployments", "Deployment")
            .short(&["deploy"])
            .all()
            .status()
            .scale()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
        vec![
            name(obj),
            json!(format!(
                "{}/{}",
                int_of(obj, &["status", "readyReplicas"]),
                int_of(obj, &["spec", "replicas"])
            )),
            json!(int_of(obj, &["status", "updatedReplicas"])),
            json!(int_of(obj, &["status", "availableReplicas"])),
            age,
            json!(cs),
            json!(is),
            json!(label_selector(s(obj, &["spec", "selector"]))),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        let Some(spec) = obj_mut(obj, "spec") else {
            return;
        };
        set_default(spec, "replicas", json!(1));
        set_default(spec, "revisionHistoryLimit", json!(10));
        set_default(spec, "progressDeadlineSeconds", json!(600));
        set_default(
            spec,
            "strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
        );
        if let Some(st) = spec.get_mut("strategy").and_then(Value::as_object_mut)
            && st.get("type").and_then(Value::as_str) == Some("RollingUpdate")
        {
            let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                set_default(ru, "maxUnavailable", json!("25%"));
                set_default(ru, "maxSurge", json!("25%"));
            }
        }
        template_defaults(spec, "Always");
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_workload(obj)
    }
}
