//! DaemonSet.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `DaemonSet` kind.
pub struct DaemonSet;

const COLUMNS: &[Col] = &[
    c("Name"),
    int("Desired"),
    int("Current"),
    int("Ready"),
    int("Up-to-date"),
    int("Available"),
    c("Node Selector"),
    c("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

impl Kind for DaemonSet {
    fn spec(&self) -> Spec {
        spec("apps", "v1", "daemonsets", "DaemonSet")
            .short(&["ds"])
            .all()
            .status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
        vec![
            name(obj),
            json!(int_of(obj, &["status", "desiredNumberScheduled"])),
            json!(int_of(obj, &["status", "currentNumberScheduled"])),
            json!(int_of(obj, &["status", "numberReady"])),
            json!(int_of(obj, &["status", "updatedNumberScheduled"])),
            json!(int_of(obj, &["status", "numberAvailable"])),
            json!(label_set(s(
                obj,
                &["spec", "template", "spec", "nodeSelector"]
            ))),
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
        set_default(spec, "revisionHistoryLimit", json!(10));
        set_default(
            spec,
            "updateStrategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
        );
        template_defaults(spec, "Always");
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_workload(obj)
    }
}
