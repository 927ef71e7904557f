//! The platform's version and the contract between two adjacent versions running side by side
//! during a rolling upgrade (docs/deploy.md, "Upgrading").
//!
//! - Only adjacent minor versions meet: a replica refuses to start against a host whose
//!   platform objects were installed by a version more than one minor away ([`Skew::TooFar`]).
//! - The host records which version installed its CRDs ([`VERSION_ANNOTATION`] on each). A
//!   replica older than that leaves them — and the built-in roles and templates — as the newer
//!   one installed them (never a downgrade); a newer one installs its own.
//! - Formats shared between replicas carry a version: tokens the claim `ofv`
//!   ([`TOKEN_FORMAT`]); a replica refuses (401, "log in again") a token of a format newer than
//!   it knows instead of misreading it, and a new format is issued only one release after the
//!   release that first accepts it. Unknown JSON fields are kept: the platform changes its
//!   objects with merge patches of the fields it owns, so fields a newer version added survive
//!   an older leader.
//! - A CRD's new version is served one release before it becomes the storage version, so the
//!   older replica always reads what the newer one stores; the leader then migrates stored
//!   objects ([`crate::controllers::storage`]).

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The annotation on each platform CRD naming the version that installed it.
pub const VERSION_ANNOTATION: &str = "orrery.io/platform-version";
/// The Lease annotation naming the leader's version.
pub const LEADER_VERSION_ANNOTATION: &str = "orrery.io/platform-version";
/// The newest token format this build reads, and the one it issues.
pub const TOKEN_FORMAT: u32 = 1;

/// A release's major and minor version (patches never change formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
}

impl Release {
    /// `MAJOR.MINOR[.PATCH][-pre][+build]`, with an optional leading `v`.
    pub fn parse(s: &str) -> Option<Release> {
        let s = s.trim().trim_start_matches('v');
        let core = s.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        if let Some(p) = parts.next() {
            p.parse::<u64>().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Release { major, minor })
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// How this replica's release stands to the one recorded in the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    /// The same minor version.
    Same,
    /// This replica is one minor newer (an upgrade in progress, or done).
    Newer,
    /// This replica is one minor older (an upgrade in progress, or a rollback).
    Older,
    /// More than one minor apart: not supported.
    TooFar,
}

/// Whether `newer` directly follows `older` (the next minor, or the next major's first).
fn adjacent(older: Release, newer: Release) -> bool {
    (newer.major == older.major && newer.minor == older.minor + 1)
        || (newer.major == older.major + 1 && newer.minor == 0)
}

/// How `mine` stands to `recorded`.
pub fn skew(mine: Release, recorded: Release) -> Skew {
    match mine.cmp(&recorded) {
        std::cmp::Ordering::Equal => Skew::Same,
        std::cmp::Ordering::Greater if adjacent(recorded, mine) => Skew::Newer,
        std::cmp::Ordering::Less if adjacent(mine, recorded) => Skew::Older,
        _ => Skew::TooFar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(s: &str) -> Release {
        Release::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn releases_parse() {
        assert_eq!(r("0.1.0"), Release { major: 0, minor: 1 });
        assert_eq!(r("v1.2"), Release { major: 1, minor: 2 });
        assert_eq!(r("1.2.3-rc.1+abc"), Release { major: 1, minor: 2 });
        for bad in ["", "1", "a.b", "1.2.x", "1.2.3.4", "-1.0"] {
            assert!(Release::parse(bad).is_none(), "{bad}");
        }
        assert!(
            Release::parse(VERSION).is_some(),
            "this build's version parses"
        );
    }

    #[test]
    fn only_adjacent_minors_meet() {
        assert_eq!(skew(r("0.2.0"), r("0.2.7")), Skew::Same);
        assert_eq!(skew(r("0.2.0"), r("0.1.3")), Skew::Newer);
        assert_eq!(skew(r("0.1.3"), r("0.2.0")), Skew::Older);
        assert_eq!(skew(r("0.3.0"), r("0.1.0")), Skew::TooFar);
        assert_eq!(skew(r("0.1.0"), r("0.3.0")), Skew::TooFar);
        assert_eq!(skew(r("1.0.0"), r("0.9.4")), Skew::Newer);
        assert_eq!(skew(r("1.1.0"), r("0.9.4")), Skew::TooFar);
        assert_eq!(skew(r("0.9.0"), r("1.0.0")), Skew::Older);
    }

    proptest! {
        #[test]
        fn skew_is_symmetric(a in 0u64..4, b in 0u64..6, c in 0u64..4, d in 0u64..6) {
            let (x, y) = (Release { major: a, minor: b }, Release { major: c, minor: d });
            let back = match skew(x, y) {
                Skew::Same => Skew::Same,
                Skew::Newer => Skew::Older,
                Skew::Older => Skew::Newer,
                Skew::TooFar => Skew::TooFar,
            };
            prop_assert_eq!(skew(y, x), back);
        }

        #[test]
        fn parse_takes_any_text(s in "\\PC{0,20}") {
            let _ = Release::parse(&s);
        }
    }
}
