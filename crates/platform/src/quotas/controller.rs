//! Workspace quotas' controller (leader only), for every ready cluster:
//! - keeps the validating webhook that sends the cluster's writes to [`super::admission`]
//!   registered while the cluster has a workspace quota, its rules narrowed to the resources
//!   the quotas track, and removes it when the last quota goes;
//! - recalculates each quota's status from the objects in the namespaces it selects (which
//!   gives back what deleted objects held, and corrects charges for creates that a later
//!   admission step refused).
//!
//! The webhook's `failurePolicy` is `Ignore`: while no platform replica answers, the clusters
//! keep working and quotas are not enforced; the next recalculation shows any overshoot in
//! `status`. A cluster's API server must reach the platform at its public URL over HTTPS.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha2::Digest;

use super::{
    ADMISSION_PREFIX, WEBHOOK_CONFIG, WEBHOOK_NAME, WORKSPACE_LABEL, hard_of, status_of,
    tracked_resources, usage_by_namespace,
};
use crate::clusters::Member;
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// The annotation recording which desired webhook a configuration was written from (the API
/// server defaults fields, so the object itself never compares equal).
const SPEC_HASH: &str = "quota.orrery.io/spec-hash";

/// When each cluster's quotas were last recalculated.
#[derive(Default)]
pub struct Recalculated {
    at: HashMap<String, Instant>,
}

static WARNED_NO_TLS: AtomicBool = AtomicBool::new(false);

/// One pass over every ready cluster; usage is recalculated at most every `period`.
pub async fn reconcile(
    state: &AppState,
    last: &mut Recalculated,
    period: Duration,
) -> Result<(), PlatformError> {
    let mut first_error = None;
    for member in state.clusters.all() {
        if !member.is_ready() || !member.caches.workspace_quotas.is_synced() {
            continue;
        }
        if let Err(e) = register(state, &member).await {
            tracing::warn!(cluster = %member.name, error = %e, "workspace quota webhook");
            first_error.get_or_insert(e);
        }
        let due = last
            .at
            .get(&member.name)
            .is_none_or(|t| t.elapsed() >= period);
        if due {
            last.at.insert(member.name.clone(), Instant::now());
            if let Err(e) = recalculate(&member).await {
                tracing::warn!(cluster = %member.name, error = %e, "workspace quota usage");
                first_error.get_or_insert(e);
            }
        }
    }
    last.at.retain(|name, _| state.clusters.get(name).is_some());
    first_error.map_or(Ok(()), Err)
}

/// The webhook configuration cluster `member` should have, if any.
pub fn desired_webhook(state: &AppState, member: &Member) -> Option<Value> {
    let quotas = member.caches.workspace_quotas.list();
    if quotas.is_empty() {
        return None;
    }
    let Some(ca) = state.settings.ca_pem.as_deref() else {
        if !WARNED_NO_TLS.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "workspace quotas are not enforced: the platform serves no HTTPS, which admission webhooks need"
            );
        }
        return None;
    };
    let mut tracked: BTreeSet<String> = BTreeSet::new();
    for q in &quotas {
        tracked.extend(hard_of(&q.obj).into_keys());
    }
    let mut by_group: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (group, plural) in tracked_resources(&tracked) {
        by_group.entry(group).or_default().insert(plural);
    }
    let mut rules = Vec::new();
    for (group, plurals) in by_group {
        // Objects are charged when created; Services and PVCs also when an update adds load
        // balancers, node ports or storage.
        let (updated, created): (Vec<String>, Vec<String>) = plurals
            .into_iter()
            .partition(|p| group.is_empty() && (p == "services" || p == "persistentvolumeclaims"));
        for (plurals, operations) in [
            (created, vec!["CREATE"]),
            (updated, vec!["CREATE", "UPDATE"]),
        ] {
            if !plurals.is_empty() {
                rules.push(
                    json!({"apiGroups": [group], "apiVersions": ["*"], "resources": plurals,
                    "operations": operations, "scope": "Namespaced"}),
                );
            }
        }
    }
    let url = format!(
        "{}{ADMISSION_PREFIX}/{}/{}",
        state.settings.public_url.trim_end_matches('/'),
        state.settings.admission_key,
        member.name
    );
    let webhooks = json!([{
        "name": WEBHOOK_NAME,
        "clientConfig": {"url": url, "caBundle": B64.encode(ca.as_bytes())},
        "rules": rules,
        "namespaceSelector": {"matchExpressions": [{"key": WORKSPACE_LABEL, "operator": "Exists"}]},
        "failurePolicy": "Ignore",
        "matchPolicy": "Equivalent",
        "sideEffects": "NoneOnDryRun",
        "timeoutSeconds": 10,
        "admissionReviewVersions": ["v1"],
    }]);
    let hash = format!(
        "{:x}",
        sha2::Sha256::digest(webhooks.to_string().as_bytes())
    );
    Some(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIG,
            "labels": {"app.kubernetes.io/managed-by": "orrery"},
            "annotations": {SPEC_HASH: hash}},
        "webhooks": webhooks,
    }))
}

/// Creates, updates or removes the cluster's webhook configuration.
async fn register(state: &AppState, member: &Member) -> Result<(), PlatformError> {
    let current = kubeapi::get(
        &member.client,
        Kind::ValidatingWebhook,
        None,
        WEBHOOK_CONFIG,
    )
    .await?;
    match (desired_webhook(state, member), current) {
        (None, None) => Ok(()),
        (None, Some(_)) => {
            kubeapi::delete(
                &member.client,
                Kind::ValidatingWebhook,
                None,
                WEBHOOK_CONFIG,
            )
            .await
        }
        (Some(want), None) => {
            match kubeapi::create(&member.client, Kind::ValidatingWebhook, None, want).await {
                Err(e) if kubeapi::is_conflict(&e) => Ok(()),
                other => other.map(|_| ()),
            }
        }
        (Some(want), Some(mut have)) => {
            if have["metadata"]["annotations"][SPEC_HASH]
                == want["metadata"]["annotations"][SPEC_HASH]
            {
                return Ok(());
            }
            have["metadata"]["annotations"][SPEC_HASH] =
                want["metadata"]["annotations"][SPEC_HASH].clone();
            have["webhooks"] = want["webhooks"].clone();
            match kubeapi::replace(&member.client, Kind::ValidatingWebhook, None, have).await {
                Err(e) if kubeapi::is_conflict(&e) => Ok(()),
                other => other.map(|_| ()),
            }
        }
    }
}

/// Writes each quota's status as the objects in its namespaces account for it.
async fn recalculate(member: &Member) -> Result<(), PlatformError> {
    let quotas = member.caches.workspace_quotas.list();
    if quotas.is_empty() {
        return Ok(());
    }
    let index = member
        .discovery
        .index()
        .await
        .map_err(PlatformError::Invalid)?;
    for entry in quotas {
        let quota = &entry.obj;
        let selected = super::selected_namespaces(member, quota);
        let tracked: Vec<String> = hard_of(quota).into_keys().collect();
        let by_ns = usage_by_namespace(&member.client, &index, &selected, &tracked).await?;
        let status = status_of(quota, &by_ns);
        if quota["status"] == status {
            continue;
        }
        let mut updated = quota.clone();
        updated["status"] = status;
        // A conflict means an admission charged it meanwhile: the next pass counts again.
        match kubeapi::replace_status(&member.client, Kind::WorkspaceQuota, None, updated).await {
            Err(e) if kubeapi::is_conflict(&e) || kubeapi::is_not_found(&e) => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}
