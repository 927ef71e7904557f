//! Sharing the in-process stores between replicas through host ConfigMaps.
//!
//! Only the leader samples. After each round it writes each cluster's store ([`Store::encode`])
//! into ConfigMaps in `kubesphere-system`: parts `orrery-monitoring-{cluster}-{i}` (binaryData
//! `store`, at most [`PART_BYTES`] each, at most [`MAX_PARTS`]) and then the manifest
//! `orrery-monitoring-{cluster}` (data `parts`, `sha256`, `lastSlot`), labelled
//! `orrery.io/monitoring-store`. The other replicas read the manifests every interval and load
//! a copy whose digest matches its parts (a copy read while the leader rewrites it fails the
//! check and is read again next time). A replica that becomes leader loads the latest copy
//! first, so the series (and the CPU counters) continue where the last leader left them.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams};
use sha2::{Digest, Sha256};

use super::store::Store;
use crate::http::AppState;
use crate::tokens::SYSTEM_NAMESPACE;

/// Bytes per part (ConfigMaps hold at most 1 MiB).
pub const PART_BYTES: usize = 900 * 1024;
/// Parts per cluster; a larger store is not shared (a warning says so).
pub const MAX_PARTS: usize = 96;
/// The label on every ConfigMap of the shared stores.
pub const LABEL: &str = "orrery.io/monitoring-store";
const CLUSTER_LABEL: &str = "orrery.io/monitoring-cluster";
const MANAGER: &str = "orrery-monitoring";

fn manifest_name(cluster: &str) -> String {
    format!("orrery-monitoring-{cluster}")
}

fn part_name(cluster: &str, i: usize) -> String {
    format!("orrery-monitoring-{cluster}-{i}")
}

fn digest(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn meta(name: String, cluster: &str, role: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(SYSTEM_NAMESPACE.to_string()),
        labels: Some(BTreeMap::from([
            (LABEL.to_string(), role.to_string()),
            (CLUSTER_LABEL.to_string(), cluster.to_string()),
        ])),
        ..Default::default()
    }
}

async fn apply(api: &Api<ConfigMap>, cm: &ConfigMap) -> Result<(), String> {
    let name = cm.metadata.name.clone().unwrap_or_default();
    let params = PatchParams::apply(MANAGER).force();
    crate::kubeapi::timed(
        "write monitoring store",
        api.patch(&name, &params, &Patch::Apply(cm)),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Publishes every store that changed since it was last published or loaded.
pub async fn publish_all(state: &AppState) {
    let mon = &state.monitoring;
    let api: Api<ConfigMap> = Api::namespaced(state.client.clone(), SYSTEM_NAMESPACE);
    for cluster in mon.store_clusters() {
        let (bytes, last_slot) = {
            let store = mon.store(&cluster);
            let s = store.read().unwrap_or_else(|p| p.into_inner());
            (s.encode(), s.last_slot())
        };
        let sha = digest(&bytes);
        if mon.shared_digest(&cluster).as_deref() == Some(sha.as_str()) {
            continue;
        }
        let parts: Vec<&[u8]> = bytes.chunks(PART_BYTES).collect();
        if parts.len() > MAX_PARTS {
            tracing::warn!(cluster = %cluster, bytes = bytes.len(), "monitoring store too large to share with other replicas");
            continue;
        }
        let mut failed = None;
        for (i, part) in parts.iter().enumerate() {
            let cm = ConfigMap {
                metadata: meta(part_name(&cluster, i), &cluster, "part"),
                binary_data: Some(BTreeMap::from([(
                    "store".to_string(),
                    ByteString(part.to_vec()),
                )])),
                ..Default::default()
            };
            if let Err(e) = apply(&api, &cm).await {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() {
            let cm = ConfigMap {
                metadata: meta(manifest_name(&cluster), &cluster, "manifest"),
                data: Some(BTreeMap::from([
                    ("parts".to_string(), parts.len().to_string()),
                    ("sha256".to_string(), sha.clone()),
                    (
                        "lastSlot".to_string(),
                        last_slot.map_or(String::new(), |s| s.to_string()),
                    ),
                ])),
                ..Default::default()
            };
            failed = apply(&api, &cm).await.err();
        }
        match failed {
            Some(e) => {
                tracing::warn!(cluster = %cluster, error = %e, "publishing the monitoring store")
            }
            None => mon.set_shared_digest(&cluster, sha),
        }
    }
}

/// Loads the published stores that differ from what this replica has; when `newer_only`, only
/// a copy that reaches a later slot than the local store (a new leader keeps its own if it is
/// ahead).
pub async fn load_all(state: &AppState, newer_only: bool) {
    let mon = &state.monitoring;
    let api: Api<ConfigMap> = Api::namespaced(state.client.clone(), SYSTEM_NAMESPACE);
    let lp = ListParams::default().labels(&format!("{LABEL}=manifest"));
    let manifests = match crate::kubeapi::timed("list monitoring stores", api.list(&lp)).await {
        Ok(l) => l.items,
        Err(e) => {
            tracing::debug!(error = %e, "reading the shared monitoring stores");
            return;
        }
    };
    for m in manifests {
        let Some(cluster) = m
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(CLUSTER_LABEL))
            .cloned()
        else {
            continue;
        };
        let data = m.data.unwrap_or_default();
        let Some(sha) = data.get("sha256").cloned() else {
            continue;
        };
        if mon.shared_digest(&cluster).as_deref() == Some(sha.as_str()) {
            continue;
        }
        if newer_only {
            let theirs: Option<u32> = data.get("lastSlot").and_then(|s| s.parse().ok());
            let ours = mon
                .store(&cluster)
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .last_slot();
            if ours.is_some() && theirs <= ours {
                continue;
            }
        }
        let n: usize = data
            .get("parts")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
            .min(MAX_PARTS);
        let mut bytes = Vec::new();
        let mut complete = true;
        for i in 0..n {
            match crate::kubeapi::timed(
                "read monitoring store",
                api.get_opt(&part_name(&cluster, i)),
            )
            .await
            {
                Ok(Some(part)) => match part.binary_data.and_then(|mut d| d.remove("store")) {
                    Some(b) => bytes.extend_from_slice(&b.0),
                    None => complete = false,
                },
                _ => complete = false,
            }
            if !complete {
                break;
            }
        }
        // Parts being rewritten do not match the manifest: read again next round.
        if !complete || digest(&bytes) != sha {
            continue;
        }
        let Some(store) = Store::decode(&bytes) else {
            tracing::warn!(cluster = %cluster, "the shared monitoring store does not decode");
            continue;
        };
        mon.replace_store(&cluster, store);
        mon.set_shared_digest(&cluster, sha);
    }
}
