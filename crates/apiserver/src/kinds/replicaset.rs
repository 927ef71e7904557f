//! ReplicaSet.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `ReplicaSet` kind.
pub struct ReplicaSet;

const COLUMNS: &[Col] = &[
    c("Name"),
    int("Desired"),
    int("Current"),
    int("Ready"),
    c("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

impl Kind for ReplicaSet {
    fn spec(&self) -> Spec {
        spec("apps", "v1", "replicasets", "ReplicaSet")
            .short(&["rs"])
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
            json!(int_of(obj, &["spec", "replicas"])),
            json!(int_of(obj, &["status", "replicas"])),
            json!(int_of(obj, &["status", "readyReplicas"])),
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
        template_defaults(spec, "Always");
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_workload(obj)
    }
}
