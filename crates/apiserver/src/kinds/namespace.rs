//! Namespace.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `Namespace` kind.
pub struct Namespace;

const COLUMNS: &[Col] = &[c("Name"), c("Status"), c("Age")];

impl Kind for Namespace {
    fn spec(&self) -> Spec {
        spec("", "v1", "namespaces", "Namespace")
            .cluster()
            .short(&["ns"])
            .status()
            .names(NameRule::Label)
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        vec![
            name(obj),
            json!(str_or(obj, &["status", "phase"], "Active")),
            age,
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        if let Some(spec) = obj_mut(obj, "spec") {
            set_default(spec, "finalizers", json!(["kubernetes"]));
        }
        if let Some(status) = obj_mut(obj, "status") {
            set_default(status, "phase", json!("Active"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_active_with_the_kubernetes_finalizer() {
        let mut ns = json!({"metadata": {"name": "n"}});
        Namespace.defaults(&mut ns);
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(Namespace.spec().name_rule, NameRule::Label);
    }
}
