//! PersistentVolume.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `PersistentVolume` kind.
pub struct PersistentVolume;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Capacity"),
    c("Access Modes"),
    c("Reclaim Policy"),
    c("Status"),
    c("Claim"),
    c("StorageClass"),
    c("VolumeAttributesClass"),
    c("Reason"),
    c("Age"),
];

impl Kind for PersistentVolume {
    fn spec(&self) -> Spec {
        spec("", "v1", "persistentvolumes", "PersistentVolume")
            .cluster()
            .short(&["pv"])
            .status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let claim = match (
            s(obj, &["spec", "claimRef", "namespace"]).as_str(),
            s(obj, &["spec", "claimRef", "name"]).as_str(),
        ) {
            (Some(ns), Some(n)) => format!("{ns}/{n}"),
            _ => String::new(),
        };
        vec![
            name(obj),
            json!(str_or(obj, &["spec", "capacity", "storage"], "")),
            json!(access_modes(s(obj, &["spec", "accessModes"]))),
            json!(str_or(obj, &["spec", "persistentVolumeReclaimPolicy"], "")),
            json!(str_or(obj, &["status", "phase"], "")),
            json!(claim),
            json!(str_or(obj, &["spec", "storageClassName"], "")),
            json!("<unset>"),
            json!(str_or(obj, &["status", "reason"], "")),
            age,
        ]
    }
}
