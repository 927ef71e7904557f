//! StatefulSet.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `StatefulSet` kind.
pub struct StatefulSet;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Ready"),
    c("Age"),
    wide("Containers"),
    wide("Images"),
];

impl Kind for StatefulSet {
    fn spec(&self) -> Spec {
        spec("apps", "v1", "statefulsets", "StatefulSet")
            .short(&["sts"])
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
            age,
            json!(cs),
            json!(is),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        let Some(spec) = obj_mut(obj, "spec") else {
            return;
        };
        set_default(spec, "replicas", json!(1));
        set_default(spec, "podManagementPolicy", json!("OrderedReady"));
        set_default(spec, "revisionHistoryLimit", json!(10));
        set_default(
            spec,
            "updateStrategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
        );
        set_default(
            spec,
            "persistentVolumeClaimRetentionPolicy",
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
        );
        template_defaults(spec, "Always");
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_workload(obj)
    }
}
