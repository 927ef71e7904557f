//! Cluster reconcilers (leader only): the host registers itself, a kubeconfig left in a
//! Cluster's spec moves into a Secret, a proxy Cluster gets a join token for its agent, and a
//! deleted Cluster is cleaned up after.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kube::Client;
use serde_json::{Value, json};

use super::{FINALIZER, HOST_LABEL, KUBECONFIG_LABEL, secret_name};
use crate::cache::Caches;
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// Installs the platform's CRDs in a member (joining installs them).
pub async fn install_crds(client: &Client) -> Result<(), PlatformError> {
    crate::bootstrap::install_crds(client).await
}

/// Creates the host's own Cluster unless it exists (idempotent, safe across replicas).
pub async fn register_host(client: &Client, name: &str) -> Result<(), PlatformError> {
    let host = json!({
        "metadata": {"name": name, "labels": {HOST_LABEL: ""}},
        "spec": {"provider": "orrery", "enable": true, "connection": {"type": "direct"}},
    });
    kubeapi::ensure(client, Kind::Cluster, None, host, &[]).await
}

/// Writes (creates or replaces) the Secret holding cluster `name`'s kubeconfig (YAML text).
pub async fn store_kubeconfig(
    client: &Client,
    name: &str,
    kubeconfig: &str,
) -> Result<Value, PlatformError> {
    let secret = json!({
        "metadata": {"name": secret_name(name), "namespace": SYSTEM_NAMESPACE,
            "labels": {KUBECONFIG_LABEL: name}},
        "type": "Opaque",
        "data": {"config": B64.encode(kubeconfig.as_bytes())},
    });
    match kubeapi::create(client, Kind::Secret, Some(SYSTEM_NAMESPACE), secret.clone()).await {
        Err(e) if kubeapi::is_conflict(&e) => {
            let mut current = kubeapi::get(
                client,
                Kind::Secret,
                Some(SYSTEM_NAMESPACE),
                &secret_name(name),
            )
            .await?
            .ok_or_else(|| PlatformError::Invalid("kubeconfig secret vanished".into()))?;
            current["data"] = secret["data"].clone();
            current["metadata"]["labels"][KUBECONFIG_LABEL] = name.into();
            kubeapi::replace(client, Kind::Secret, Some(SYSTEM_NAMESPACE), current).await
        }
        other => other,
    }
}

/// The `spec.connection` patch that points a Cluster at its Secret and clears the spec's copy.
pub fn secret_ref_patch(name: &str) -> Value {
    json!({"metadata": {"finalizers": [FINALIZER]},
        "spec": {"connection": {"kubeconfig": null,
            "kubeconfigSecretRef": {"namespace": SYSTEM_NAMESPACE, "name": secret_name(name)}}}})
}

/// Decodes a kubeconfig from a Cluster's `spec.connection.kubeconfig` (base64, or YAML).
pub fn spec_kubeconfig(cluster: &Value) -> Option<String> {
    let raw = cluster["spec"]["connection"]["kubeconfig"].as_str()?;
    if raw.trim().is_empty() {
        return None;
    }
    super::connect::decode(raw).ok()
}

fn with_finalizer(cluster: &Value, keep: bool) -> Value {
    let mut list: Vec<Value> = cluster["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f != FINALIZER)
        .collect();
    if keep {
        list.push(FINALIZER.into());
    }
    Value::Array(list)
}

/// The Cluster label a `Label` object puts on each cluster it lists (value empty): selectors
/// (workspace placement, lists) can then pick clusters by Label.
pub const LABEL_PREFIX: &str = "label.cluster.kubesphere.io/";

/// Brings every Cluster's `label.cluster.kubesphere.io/<label>` keys in line with the Labels
/// that list it (a deleted Label, or a cluster taken off its list, loses the key).
async fn apply_labels(client: &Client, caches: &Caches) -> Result<(), PlatformError> {
    let labels = caches.cluster_labels.list();
    for c in caches.clusters.list() {
        let name = c.name();
        let want: Vec<String> = labels
            .iter()
            .filter(|l| {
                l.obj["spec"]["clusters"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|x| x == name))
            })
            .map(|l| format!("{LABEL_PREFIX}{}", l.name()))
            .collect();
        let have: Vec<String> = c.obj["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .filter(|k| k.starts_with(LABEL_PREFIX))
            .collect();
        let mut patch = serde_json::Map::new();
        for k in want.iter().filter(|k| !have.contains(k)) {
            patch.insert(k.clone(), "".into());
        }
        for k in have.iter().filter(|k| !want.contains(k)) {
            patch.insert(k.clone(), Value::Null);
        }
        if !patch.is_empty() {
            let patch = json!({"metadata": {"labels": patch}});
            kubeapi::merge_patch(client, Kind::Cluster, None, name, patch).await?;
        }
    }
    Ok(())
}

/// Gives a proxy Cluster a join token (a new one after the last was revoked by deleting its
/// Secret) and names the Secret in the Cluster's annotation.
async fn issue_join_token(
    client: &Client,
    caches: &Caches,
    cluster: &Value,
    name: &str,
) -> Result<(), PlatformError> {
    use super::tunnel::{TOKEN_ANNOTATION, ensure_token, token_secret_name};
    if caches.kubeconfigs.is_synced() {
        ensure_token(client, caches, name).await?;
    }
    let want = format!("{SYSTEM_NAMESPACE}/{}", token_secret_name(name));
    if cluster["metadata"]["annotations"][TOKEN_ANNOTATION] != want.as_str() {
        let patch = json!({"metadata": {"annotations": {TOKEN_ANNOTATION: want}}});
        kubeapi::merge_patch(client, Kind::Cluster, None, name, patch).await?;
    }
    Ok(())
}

/// One pass: the host's Cluster exists, spec kubeconfigs move into Secrets, deleted Clusters
/// are cleaned up after, Labels are applied.
pub async fn reconcile(
    client: &Client,
    caches: &Caches,
    host_name: &str,
) -> Result<(), PlatformError> {
    if !caches.clusters.is_synced() {
        return Ok(());
    }
    if caches.clusters.get(host_name).is_none() {
        register_host(client, host_name).await?;
    }
    if caches.cluster_labels.is_synced() {
        apply_labels(client, caches).await?;
    }
    for c in caches.clusters.list() {
        let name = c.name().to_string();
        let deleting = !c.obj["metadata"]["deletionTimestamp"].is_null();
        let has_finalizer = c.obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == FINALIZER));
        if deleting {
            if has_finalizer {
                kubeapi::delete(
                    client,
                    Kind::Secret,
                    Some(SYSTEM_NAMESPACE),
                    &secret_name(&name),
                )
                .await?;
                let token = super::tunnel::token_secret_name(&name);
                kubeapi::delete(client, Kind::Secret, Some(SYSTEM_NAMESPACE), &token).await?;
                let patch = json!({"metadata": {"finalizers": with_finalizer(&c.obj, false),
                        "resourceVersion": c.obj["metadata"]["resourceVersion"]}});
                match kubeapi::merge_patch(client, Kind::Cluster, None, &name, patch).await {
                    Err(e) if kubeapi::is_conflict(&e) || kubeapi::is_not_found(&e) => {}
                    other => {
                        other?;
                    }
                }
            }
            continue;
        }
        if super::tunnel::is_proxy(&c.obj) && c.label(HOST_LABEL).is_none() {
            issue_join_token(client, caches, &c.obj, &name).await?;
        }
        if let Some(kc) = spec_kubeconfig(&c.obj) {
            store_kubeconfig(client, &name, &kc).await?;
            let mut patch = secret_ref_patch(&name);
            patch["metadata"]["finalizers"] = with_finalizer(&c.obj, true);
            kubeapi::merge_patch(client, Kind::Cluster, None, &name, patch).await?;
        } else if !has_finalizer && c.label(HOST_LABEL).is_none() {
            let patch = json!({"metadata": {"finalizers": with_finalizer(&c.obj, true)}});
            kubeapi::merge_patch(client, Kind::Cluster, None, &name, patch).await?;
        }
    }
    Ok(())
}
