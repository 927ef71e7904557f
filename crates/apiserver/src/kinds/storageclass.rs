//! StorageClass.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `StorageClass` kind.
pub struct StorageClass;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Provisioner"),
    c("ReclaimPolicy"),
    c("VolumeBindingMode"),
    c("AllowVolumeExpansion"),
    c("Age"),
];

impl Kind for StorageClass {
    fn spec(&self) -> Spec {
        spec("storage.k8s.io", "v1", "storageclasses", "StorageClass")
            .cluster()
            .short(&["sc"])
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let mut n = str_or(obj, &["metadata", "name"], "").to_string();
        if s(
            obj,
            &[
                "metadata",
                "annotations",
                "storageclass.kubernetes.io/is-default-class",
            ],
        )
        .as_str()
            == Some("true")
        {
            n.push_str(" (default)");
        }
        vec![
            json!(n),
            json!(str_or(obj, &["provisioner"], "")),
            json!(str_or(obj, &["reclaimPolicy"], "Delete")),
            json!(str_or(obj, &["volumeBindingMode"], "Immediate")),
            json!(if s(obj, &["allowVolumeExpansion"]) == &Value::Bool(true) {
                "true"
            } else {
                "false"
            }),
            age,
        ]
    }
}
