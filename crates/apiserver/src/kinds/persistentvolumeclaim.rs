//! PersistentVolumeClaim.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `PersistentVolumeClaim` kind.
pub struct PersistentVolumeClaim;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Status"),
    c("Volume"),
    c("Capacity"),
    c("Access Modes"),
    c("StorageClass"),
    c("VolumeAttributesClass"),
    c("Age"),
];

impl Kind for PersistentVolumeClaim {
    fn spec(&self) -> Spec {
        spec("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
            .short(&["pvc"])
            .status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        vec![
            name(obj),
            json!(str_or(obj, &["status", "phase"], "Pending")),
            json!(str_or(obj, &["spec", "volumeName"], "")),
            json!(str_or(obj, &["status", "capacity", "storage"], "")),
            json!(access_modes(s(obj, &["status", "accessModes"]))),
            json!(str_or(obj, &["spec", "storageClassName"], "<unset>")),
            json!("<unset>"),
            age,
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        if let Some(spec) = obj_mut(obj, "spec") {
            set_default(spec, "volumeMode", json!("Filesystem"));
        }
    }
}
