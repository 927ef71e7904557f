//! The review lifecycle of app versions (SPEC §3), pure: draft → submitted → (rejected →
//! submitted) → passed → active ↔ suspended, and who may move a version along it.

/// A version's review state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Being prepared in its workspace.
    Draft,
    /// Waiting for a reviewer.
    Submitted,
    /// Sent back by a reviewer, with a message.
    Rejected,
    /// Approved, not yet in the store.
    Passed,
    /// In the store.
    Active,
    /// Taken out of the store (releases keep running).
    Suspended,
}

impl State {
    /// KubeSphere's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::Rejected => "rejected",
            State::Passed => "passed",
            State::Active => "active",
            State::Suspended => "suspended",
        }
    }

    /// Reads KubeSphere's word (a missing state is a draft).
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "" | "draft" => State::Draft,
            "submitted" => State::Submitted,
            "rejected" => State::Rejected,
            "passed" => State::Passed,
            "active" => State::Active,
            "suspended" => State::Suspended,
            _ => return None,
        })
    }
}

/// The right a transition needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// The workspace's app developers: submit a draft, withdraw a submission.
    Submit,
    /// Reviewers: pass or reject a submission.
    Review,
    /// Store managers: publish a passed version, suspend and recover it.
    Publish,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The target is not a state.
    UnknownState(String),
    /// The version cannot go there from where it is.
    NotFrom {
        /// Where it is.
        from: State,
        /// Where it was asked to go.
        to: State,
    },
    /// A rejection must say why.
    MessageRequired,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::UnknownState(s) => write!(
                f,
                "{s:?} is not a state (draft, submitted, rejected, passed, active, suspended)"
            ),
            Refusal::NotFrom { from, to } => write!(
                f,
                "a {} version cannot become {}",
                from.as_str(),
                to.as_str()
            ),
            Refusal::MessageRequired => f.write_str("a rejection needs a message"),
        }
    }
}

/// Checks moving a version from `from` to the state named `to`: the new state and the right
/// it takes, or why not.
pub fn transition(from: State, to: &str, message: &str) -> Result<(State, Right), Refusal> {
    let to_state = State::parse(to).ok_or_else(|| Refusal::UnknownState(to.to_string()))?;
    use State::*;
    let right = match (from, to_state) {
        (Draft | Rejected, Submitted) => Right::Submit,
        (Submitted, Draft) => Right::Submit,
        (Submitted, Passed) => Right::Review,
        (Submitted, Rejected) => {
            if message.trim().is_empty() {
                return Err(Refusal::MessageRequired);
            }
            Right::Review
        }
        (Passed | Suspended, Active) => Right::Publish,
        (Active, Suspended) => Right::Publish,
        (from, to) => return Err(Refusal::NotFrom { from, to }),
    };
    Ok((to_state, right))
}

/// An app's state from its versions': `active` while any version is in the store, else
/// `suspended` if one was, else `draft`. An app suspended as a whole stays suspended.
pub fn app_state(suspended: bool, versions: impl IntoIterator<Item = State>) -> &'static str {
    if suspended {
        return "suspended";
    }
    let mut any_suspended = false;
    for v in versions {
        match v {
            State::Active => return "active",
            State::Suspended => any_suspended = true,
            _ => {}
        }
    }
    if any_suspended { "suspended" } else { "draft" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_path_and_who_walks_it() {
        use State::*;
        let steps = [
            (Draft, "submitted", Submitted, Right::Submit),
            (Submitted, "draft", Draft, Right::Submit),
            (Submitted, "passed", Passed, Right::Review),
            (Rejected, "submitted", Submitted, Right::Submit),
            (Passed, "active", Active, Right::Publish),
            (Active, "suspended", Suspended, Right::Publish),
            (Suspended, "active", Active, Right::Publish),
        ];
        for (from, to, want, right) in steps {
            assert_eq!(
                transition(from, to, ""),
                Ok((want, right)),
                "{from:?} → {to}"
            );
        }
        assert_eq!(
            transition(Submitted, "rejected", "the chart pulls :latest"),
            Ok((Rejected, Right::Review))
        );
    }

    #[test]
    fn shortcuts_and_nonsense_are_refused() {
        use State::*;
        for (from, to) in [
            (Draft, "passed"),
            (Draft, "active"),
            (Submitted, "active"),
            (Rejected, "passed"),
            (Passed, "submitted"),
            (Active, "draft"),
            (Suspended, "passed"),
            (Active, "active"),
        ] {
            assert!(
                matches!(transition(from, to, "m"), Err(Refusal::NotFrom { .. })),
                "{from:?} → {to}"
            );
        }
        assert_eq!(
            transition(Submitted, "rejected", "  "),
            Err(Refusal::MessageRequired)
        );
        assert_eq!(
            transition(Draft, "published", ""),
            Err(Refusal::UnknownState("published".into()))
        );
    }

    #[test]
    fn an_app_is_active_while_a_version_is() {
        use State::*;
        assert_eq!(app_state(false, [Draft, Active, Suspended]), "active");
        assert_eq!(app_state(false, [Draft, Suspended]), "suspended");
        assert_eq!(app_state(false, [Draft, Passed]), "draft");
        assert_eq!(app_state(true, [Active]), "suspended");
        assert_eq!(app_state(false, []), "draft");
    }
}
