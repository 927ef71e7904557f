//! Group membership from GroupBindings, as KubeSphere keeps it: every user a GroupBinding lists
//! is a member of its group, i.e. the group is in the user's `spec.groups` — what a login puts
//! in the identity, so that bindings whose subject is that Group grant the user access. A
//! group leaves `spec.groups` when no binding lists the user any more; groups set on the user
//! by other means (an identity provider, an administrator) are left alone, which is why the
//! groups this controller added are recorded on the user.

use std::collections::BTreeSet;

use kube::Client;
use serde_json::{Value, json};

use crate::cache::{Caches, Entry};
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;

/// The annotation recording which of a user's groups come from GroupBindings.
pub const BOUND_ANNOTATION: &str = "iam.orrery.io/bound-groups";

/// KubeSphere's finalizer on GroupBindings (the name is spelled so).
pub const GROUP_BINDING_FINALIZER: &str = "finalizers.kubesphere.io/groupsbindings";

fn deleting(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The groups whose live GroupBindings list `user`, and those whose bindings listing `user`
/// are being deleted.
fn memberships(caches: &Caches, user: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut bound = BTreeSet::new();
    let mut leaving = BTreeSet::new();
    for b in caches.group_bindings.by_index(&format!("User:{user}")) {
        let Some(group) = b.obj["groupRef"]["name"].as_str() else {
            continue;
        };
        if deleting(&b.obj) {
            leaving.insert(group.to_string());
        } else {
            bound.insert(group.to_string());
        }
    }
    (bound, leaving)
}

/// A user's groups after the bindings changed: `current` without the groups bindings added
/// before (`previously`) or whose bindings are going (`leaving`), then every `bound` group,
/// in their first order.
pub fn desired_groups(
    current: &[String],
    previously: &BTreeSet<String>,
    leaving: &BTreeSet<String>,
    bound: &BTreeSet<String>,
) -> Vec<String> {
    let mut out: Vec<String> = current
        .iter()
        .filter(|g| bound.contains(*g) || !(previously.contains(*g) || leaving.contains(*g)))
        .cloned()
        .collect();
    for g in bound {
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    out
}

fn recorded(user: &Entry) -> BTreeSet<String> {
    user.obj["metadata"]["annotations"][BOUND_ANNOTATION]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

/// One pass: every user's groups follow the GroupBindings, then GroupBindings being deleted
/// lose KubeSphere's finalizer.
pub async fn reconcile(client: &Client, caches: &Caches) -> Result<(), PlatformError> {
    if !(caches.users.is_synced() && caches.group_bindings.is_synced()) {
        return Ok(());
    }
    for u in caches.users.list() {
        if deleting(&u.obj) {
            continue;
        }
        let current = strings(&u.obj["spec"]["groups"]);
        let previously = recorded(&u);
        let (bound, leaving) = memberships(caches, u.name());
        let want = desired_groups(&current, &previously, &leaving, &bound);
        if want == current && previously == bound {
            continue;
        }
        let record = bound.iter().cloned().collect::<Vec<_>>().join(",");
        let record = if record.is_empty() {
            Value::Null
        } else {
            record.into()
        };
        let patch = json!({
            "metadata": {"annotations": {BOUND_ANNOTATION: record}},
            "spec": {"groups": want},
        });
        kubeapi::merge_patch(client, Kind::User, None, u.name(), patch).await?;
    }
    for b in caches.group_bindings.list() {
        if deleting(&b.obj) {
            super::finalizers::release(
                client,
                Kind::GroupBinding,
                &b.obj,
                &[GROUP_BINDING_FINALIZER],
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bound_groups_are_added_and_others_kept() {
        let got = desired_groups(&list(&["ldap-devs"]), &set(&[]), &set(&[]), &set(&["g1"]));
        assert_eq!(got, list(&["ldap-devs", "g1"]));
    }

    #[test]
    fn an_unbound_group_leaves_but_a_hand_set_one_stays() {
        // g1 came from a binding that is gone; ldap-devs was set by other means.
        let got = desired_groups(
            &list(&["ldap-devs", "g1"]),
            &set(&["g1"]),
            &set(&[]),
            &set(&[]),
        );
        assert_eq!(got, list(&["ldap-devs"]));
    }

    #[test]
    fn a_deleted_kubesphere_binding_takes_its_group_unless_another_binds_it() {
        // Imported from KubeSphere: the group is in spec.groups, nothing recorded.
        let current = list(&["g1", "g2"]);
        let got = desired_groups(&current, &set(&[]), &set(&["g1", "g2"]), &set(&["g2"]));
        assert_eq!(got, list(&["g2"]));
    }

    #[test]
    fn nothing_changes_when_in_step() {
        let current = list(&["g1", "g2"]);
        let got = desired_groups(
            &current,
            &set(&["g1", "g2"]),
            &set(&[]),
            &set(&["g1", "g2"]),
        );
        assert_eq!(got, current);
    }
}
