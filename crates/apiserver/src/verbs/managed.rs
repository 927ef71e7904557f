//! `managedFields`: who owns which field. Ordinary writes record an `Update` entry for their
//! field manager; server-side apply (`application/apply-patch+yaml`) merges a configuration,
//! owns what it applies and refuses to take fields other managers own unless forced.

use apimachinery::apply::{self, FieldSet, PathElement, Request};
use apimachinery::status::ApiError;
use serde_json::Value;

use crate::registry::Resource;
use crate::write::{UpdateScope, WriteOptions};

fn reset_fields(res: &Resource, scope: UpdateScope) -> FieldSet {
    let mut s = FieldSet::new();
    if res.status {
        match scope {
            // Writes to the main resource do not touch status, and status writes only status.
            UpdateScope::Main => s.insert(&[PathElement::Field("status".into())]),
            UpdateScope::Status => {
                s.insert(&[PathElement::Field("spec".into())]);
            }
        }
    }
    s
}

fn apply_error(e: apply::ApplyError) -> ApiError {
    e.to_api_error()
}

/// The manager name of a request: `fieldManager`, else the User-Agent's program name.
pub fn manager_name(opts: &WriteOptions) -> String {
    opts.field_manager
        .clone()
        .unwrap_or_else(|| "unknown".to_string())
}

fn request<'a>(
    res: &'a Resource,
    manager: &'a str,
    api_version: &'a str,
    subresource: &'a str,
    now: &'a str,
    ignored: &'a FieldSet,
) -> Request<'a> {
    Request {
        manager,
        api_version,
        subresource,
        now,
        ignored,
        schema: if res.custom {
            None
        } else {
            apimachinery::patch::builtin_patch_schema(&res.group, &res.kind)
        },
    }
}

/// Records an ordinary write's ownership in `new` (`live` is `{}` on create).
pub fn record_update(
    res: &Resource,
    live: &Value,
    new: &mut Value,
    scope: UpdateScope,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    if opts.apply {
        return Ok(());
    }
    let manager = manager_name(opts);
    let av = res.api_version();
    let now = crate::object::now_rfc3339();
    let ignored = reset_fields(res, scope);
    let sub = if scope == UpdateScope::Status {
        "status"
    } else {
        ""
    };
    let outcome = apply::update(live, new, &request(res, &manager, &av, sub, &now, &ignored))
        .map_err(apply_error)?;
    *new = outcome.object;
    apply::write_managed_fields(new, &outcome.managed_fields);
    Ok(())
}

/// Server-side apply of `config` onto `live` (`{}` when the object does not exist yet).
pub fn server_side_apply(
    res: &Resource,
    live: &Value,
    config: &Value,
    force: bool,
    scope: UpdateScope,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    let manager = opts
        .field_manager
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager")
        })?;
    let av = res.api_version();
    let now = crate::object::now_rfc3339();
    let ignored = reset_fields(res, scope);
    let sub = if scope == UpdateScope::Status {
        "status"
    } else {
        ""
    };
    let outcome = apply::apply(
        live,
        config,
        force,
        &request(res, &manager, &av, sub, &now, &ignored),
    )
    .map_err(apply_error)?;
    let mut obj = outcome.object;
    apply::write_managed_fields(&mut obj, &outcome.managed_fields);
    Ok(obj)
}
