//! Lease.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `Lease` kind.
pub struct Lease;

const COLUMNS: &[Col] = &[c("Name"), c("Holder"), c("Age")];

impl Kind for Lease {
    fn spec(&self) -> Spec {
        spec("coordination.k8s.io", "v1", "leases", "Lease")
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        vec![
            name(obj),
            json!(str_or(obj, &["spec", "holderIdentity"], "")),
            age,
        ]
    }
}
