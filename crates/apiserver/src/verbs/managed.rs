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

/// The field manager kube-apiserver derives from a User-Agent when a request names none: the
/// characters before the first `/`, non-printable ones left out, cut to the 128 bytes a
/// manager name may have (`kubectl/v1.32.4 (linux/amd64)` → `kubectl`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let program = user_agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in program
        .chars()
        .filter(|c| !c.is_control() && (*c == ' ' || !c.is_whitespace()))
    {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
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
    // In place: the object is neither copied nor rebuilt, only its managedFields replaced.
    let managed =
        apply::update_in_place(live, new, &request(res, &manager, &av, sub, &now, &ignored))
            .map_err(apply_error)?;
    apply::write_managed_fields(new, &managed);
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

#[cfg(test)]
mod user_agent_tests {
    use super::manager_from_user_agent;

    #[test]
    fn the_program_name_before_the_first_slash() {
        assert_eq!(
            manager_from_user_agent("kubectl/v1.32.4 (linux/amd64) kubernetes/abc"),
            "kubectl"
        );
        assert_eq!(
            manager_from_user_agent("OpenAPI-Generator/31.0.0/python"),
            "OpenAPI-Generator"
        );
        assert_eq!(manager_from_user_agent("Helm/3.17.0"), "Helm");
        assert_eq!(manager_from_user_agent("curl"), "curl");
        assert_eq!(manager_from_user_agent("a\u{7}b\tc/1"), "abc");
        assert_eq!(manager_from_user_agent(""), "");
        let long = "é".repeat(100);
        let m = manager_from_user_agent(&long);
        assert!(m.len() <= 128 && m.len() == 128, "{}", m.len());
    }
}
