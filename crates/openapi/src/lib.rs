//! OpenAPI v2 and v3 documents for Orrery's embedded Kubernetes API server.
//!
//! kubectl and client libraries read these documents for client-side validation,
//! `kubectl explain`, and strategic merge patches in client-side `kubectl apply`, so they
//! mirror kube-apiserver 1.33's: definitions named `io.k8s.api.core.v1.Pod`, the
//! `x-kubernetes-group-version-kind` extension on every top-level kind and operation, and
//! the list/patch extensions on fields. Start at [`OpenApi::builtin`]; schemas come from
//! `k8s-openapi` (via `schemars`), the patch extensions from a table taken from kube, custom
//! resources from [`CrdSchema`]s (see [`CrdSchema::from_crd`]).
//!
//! kubectl 1.33 sees the `fieldValidation` parameter on our PATCH operations (as on kube's),
//! so it skips client-side validation and sends `?fieldValidation=Strict`; the API server
//! answers that with [`OpenApi::unknown_fields`]. Documents are built once and served from
//! cached bytes; those depending on CRDs are memoised per group-version.

mod catalog;
mod crd;
mod custom;
mod document;
mod list_meta;
mod meta;
mod paths;
mod registry;
mod schema_walk;
mod strict;
mod types;
mod v2;
mod v3;

pub use crd::{CrdError, CrdSchema, definition_name};
pub use document::OpenApi;
pub use types::TypeMismatch;

/// The Kubernetes version the documents describe (their `info.version`).
pub const KUBERNETES_VERSION: &str = "v1.33.0";
