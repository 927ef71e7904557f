//! Field validation errors and the name, label and object-metadata checks kube-apiserver
//! applies to every object (k8s.io/apimachinery/pkg/util/validation and pkg/api/validation).

mod meta;
mod names;

pub use meta::{
    NameRule, TOTAL_ANNOTATION_SIZE_LIMIT, validate_annotations, validate_labels,
    validate_object_meta, validate_update_object_meta,
};
pub use names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_path_segment_name, is_valid_path_segment_prefix,
};

use std::fmt;

use serde_json::Value;

use crate::go_quote;

/// The type of a field validation error (`field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// `FieldValueInvalid`: a malformed value.
    Invalid,
    /// `FieldValueRequired`: a missing value.
    Required,
    /// `FieldValueNotSupported`: a value outside an enumeration.
    NotSupported,
    /// `FieldValueDuplicate`: a value that must be unique.
    Duplicate,
    /// `FieldValueTooLong`: a value longer than allowed.
    TooLong,
    /// `FieldValueForbidden`: a value not allowed here.
    Forbidden,
    /// `FieldValueTooMany`: a list with too many items.
    TooMany,
    /// `InternalError`: a failure unrelated to the input.
    Internal,
    /// `FieldValueNotFound`: a referenced value that does not exist.
    NotFound,
    /// `FieldValueTypeInvalid`: a value of the wrong schema type.
    TypeInvalid,
}

impl FieldErrorKind {
    /// The cause type kube puts in `Status.details.causes[].reason`.
    pub fn cause_type(self) -> &'static str {
        match self {
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::Internal => "InternalError",
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human-readable prefix of the message, e.g. `Invalid value`.
    pub fn description(self) -> &'static str {
        match self {
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Internal => "Internal error",
            FieldErrorKind::NotFound => "Not found",
        }
    }
}

/// One field validation error (`field.Error`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What kind of problem this is.
    pub kind: FieldErrorKind,
    /// The field path, e.g. `metadata.labels`.
    pub field: String,
    /// The offending value; `None` prints as kube prints a nil value.
    pub bad_value: Option<Value>,
    /// Extra explanation appended after the value.
    pub detail: String,
}

impl FieldError {
    fn build(kind: FieldErrorKind, field: &str, bad_value: Option<Value>, detail: &str) -> Self {
        FieldError {
            kind,
            field: field.to_string(),
            bad_value,
            detail: detail.to_string(),
        }
    }

    /// `field.Invalid`.
    pub fn invalid(field: &str, value: impl Into<Value>, detail: &str) -> Self {
        Self::build(FieldErrorKind::Invalid, field, Some(value.into()), detail)
    }

    /// `field.TypeInvalid`.
    pub fn type_invalid(field: &str, value: impl Into<Value>, detail: &str) -> Self {
        Self::build(
            FieldErrorKind::TypeInvalid,
            field,
            Some(value.into()),
            detail,
        )
    }

    /// `field.Required`.
    pub fn required(field: &str, detail: &str) -> Self {
        Self::build(
            FieldErrorKind::Required,
            field,
            Some(Value::from("")),
            detail,
        )
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::build(
            FieldErrorKind::Forbidden,
            field,
            Some(Value::from("")),
            detail,
        )
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: &str, value: impl Into<Value>) -> Self {
        Self::build(FieldErrorKind::Duplicate, field, Some(value.into()), "")
    }

    /// `field.NotFound`.
    pub fn not_found(field: &str, value: impl Into<Value>) -> Self {
        Self::build(FieldErrorKind::NotFound, field, Some(value.into()), "")
    }

    /// `field.NotSupported`: lists the supported values, quoted, in the detail.
    pub fn not_supported(field: &str, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::build(
            FieldErrorKind::NotSupported,
            field,
            Some(value.into()),
            &detail,
        )
    }

    /// `field.TooLong`: the value itself is never echoed.
    pub fn too_long(field: &str, max_length: Option<usize>) -> Self {
        let detail = match max_length {
            Some(n) => format!("may not be more than {n} bytes"),
            None => "value is too long".to_string(),
        };
        Self::build(
            FieldErrorKind::TooLong,
            field,
            Some(Value::from("<value omitted>")),
            &detail,
        )
    }

    /// `field.TooMany`.
    pub fn too_many(field: &str, actual: usize, max: Option<usize>) -> Self {
        let detail = match max {
            Some(n) => format!("must have at most {n} items"),
            None => "has too many items".to_string(),
        };
        Self::build(FieldErrorKind::TooMany, field, Some(actual.into()), &detail)
    }

    /// `field.InternalError`.
    pub fn internal(field: &str, detail: &str) -> Self {
        Self::build(FieldErrorKind::Internal, field, None, detail)
    }

    /// The message without the field name (`ErrorBody()`), used for Status causes.
    pub fn body(&self) -> String {
        let mut s = match self.kind {
            FieldErrorKind::Required
            | FieldErrorKind::Forbidden
            | FieldErrorKind::TooLong
            | FieldErrorKind::Internal => self.kind.description().to_string(),
            _ => format!(
                "{}: {}",
                self.kind.description(),
                go_value(self.bad_value.as_ref())
            ),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// Prints a bad value as kube 1.33's `ErrorBody` does: strings quoted, scalars bare, string
/// lists in Go syntax; other composites (Go structs there) are shown as JSON.
fn go_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => go_quote("null"),
        Some(Value::String(s)) => go_quote(s),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            let quoted: Vec<String> = items
                .iter()
                .map(|i| go_quote(i.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        Some(other) => other.to_string(),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// kube's aggregate message for an error list (`ErrorList.ToAggregate().Error()`): duplicates
/// dropped, one message bare, several as `[a, b]`; `None` for no errors.
pub fn aggregate_messages(errors: &[FieldError]) -> Option<String> {
    let mut seen: Vec<String> = Vec::with_capacity(errors.len());
    for e in errors {
        let msg = e.to_string();
        if !seen.contains(&msg) {
            seen.push(msg);
        }
    }
    match seen.len() {
        0 => None,
        1 => seen.pop(),
        _ => Some(format!("[{}]", seen.join(", "))),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
