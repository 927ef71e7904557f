//! Dependency version matching as Helm does it (`IsCompatibleRange`), on top of `gotmpl`'s
//! Masterminds/semver port (the same code `semverCompare` uses).

/// Whether `version` satisfies `constraint`; invalid input never matches (as in Helm).
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    gotmpl::sprig::constraint_matches(constraint, version).unwrap_or(false)
}

/// Whether `s` is a version Masterminds/semver accepts (`1`, `v1.2`, `1.2.3-rc.1+b`).
pub fn is_version(s: &str) -> bool {
    gotmpl::sprig::Version::parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_dependency_versions() {
        assert!(is_compatible_range("1.42.*", "1.42.0"));
        assert!(!is_compatible_range("1.42.*", "1.43.0"));
        assert!(is_compatible_range("2.x.x", "2.31.10"));
        assert!(!is_compatible_range("2.x.x", "3.0.0"));
        assert!(is_compatible_range("12.0.18", "12.0.18"));
        assert!(!is_compatible_range("latest", "0.1.0"));
        assert!(is_compatible_range("~1.2.3", "1.2.9"));
        assert!(!is_compatible_range("~1.2.3", "1.3.0"));
        assert!(is_compatible_range("^1.2.3", "1.9.0"));
        assert!(is_compatible_range(">=1.0.0 <2.0.0", "1.5.0"));
        assert!(is_compatible_range("<1 || >=3", "3.1.0"));
        assert!(is_compatible_range("1.0 - 1.4", "1.4.7"));
        assert!(!is_compatible_range(">=1.0.0", "1.2.0-rc.1"));
    }
}
