//! CustomResourceDefinition: its structural checks live with the CRD machinery in `crd.rs`.

use apimachinery::validation::FieldError;
use serde_json::Value;

use super::*;

/// The `CustomResourceDefinition` kind.
pub struct CustomResourceDefinition;

impl Kind for CustomResourceDefinition {
    fn spec(&self) -> Spec {
        spec(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
        )
        .cluster()
        .short(&["crd", "crds"])
        .status()
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        crate::crd::validate_definition(obj)
    }
}
