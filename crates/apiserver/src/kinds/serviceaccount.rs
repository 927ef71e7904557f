//! ServiceAccount.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `ServiceAccount` kind.
pub struct ServiceAccount;

const COLUMNS: &[Col] = &[c("Name"), int("Secrets"), c("Age")];

impl Kind for ServiceAccount {
    fn spec(&self) -> Spec {
        spec("", "v1", "serviceaccounts", "ServiceAccount").short(&["sa"])
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        vec![name(obj), json!(count(obj, &["secrets"])), age]
    }
}
