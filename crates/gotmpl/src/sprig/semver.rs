//! Masterminds/semver v3 versions and constraints (`semver`, `semverCompare`).

use crate::funcs::FuncMap;

/// A parsed semantic version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version;

/// Whether `version` satisfies `constraint`.
pub fn constraint_matches(_constraint: &str, _version: &str) -> Result<bool, String> {
    Err("unimplemented".into())
}

pub(crate) fn register(_m: &mut FuncMap) {}
