//! Label selectors (`k8s.io/apimachinery/pkg/labels`) and field selectors
//! (`k8s.io/apimachinery/pkg/fields`), parsed and matched exactly as kube-apiserver does.

mod field;
mod kind_fields;
mod label;
mod lexer;

pub use field::{FieldOperator, FieldRequirement, FieldSelector};
pub use kind_fields::{field_value, selectable_fields};
pub use label::{LabelSelector, Labels, Operator, Requirement};

use crate::status::ApiError;

/// A selector that kube would reject; the message is kube's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectorError {
    /// kube's error message, e.g. `found ',', expected: identifier after ','`.
    pub message: String,
}

impl SelectorError {
    fn new(message: impl Into<String>) -> Self {
        SelectorError {
            message: message.into(),
        }
    }

    /// The 400 BadRequest kube-apiserver answers a list with this selector with.
    pub fn to_api_error(&self) -> ApiError {
        ApiError::bad_request(self.message.clone())
    }
}

impl From<SelectorError> for ApiError {
    fn from(e: SelectorError) -> Self {
        e.to_api_error()
    }
}
