//! Pure Kubernetes API machinery for Orrery's embedded API server: `Status` errors
//! ([`status`]), name and metadata validation ([`validation`]), label and field selectors
//! ([`selector`]), JSON, merge and strategic merge patches ([`patch`]), server-side apply
//! field management ([`apply`]), YAML bodies decoded with bounded work ([`yaml`]). No I/O: objects are
//! `serde_json::Value`s, and every behaviour follows kube-apiserver's to the letter.
//! Start with [`ApiError`] for errors and [`LabelSelector::parse`] for list filtering.

pub mod apply;
pub mod patch;
pub mod quantity;
pub mod quota;
pub mod rbac;
pub mod selector;
pub mod status;
pub mod validation;
pub mod yaml;

/// Go's `strconv.Quote` (from [`gofmt`], where every crate finds it).
pub use gofmt::quote as go_quote;
pub use patch::{
    PatchError, PatchSchema, builtin_patch_schema, json_patch, merge_patch, strategic_merge_patch,
};
pub use selector::{FieldSelector, LabelSelector, SelectorError};
/// Re-exported so callers build the `Value`s this crate takes with the same serde_json.
pub use serde_json;
pub use status::{ApiError, StatusCause, StatusDetails};
pub use validation::{FieldError, FieldErrorKind, NameRule};
