//! The namespaces every cluster starts with, and the namespace lifecycle: a deleted namespace
//! is Terminating until everything in it is gone, then it goes too.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::delete::DeleteOptions;
use crate::object::{meta, with_resource_version};

/// Namespaces present from the start.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that do not exist yet (their uids never change afterwards).
pub async fn bootstrap(cluster: &Arc<Cluster>) -> Result<(), store::StoreError> {
    for ns in SYSTEM_NAMESPACES {
        let key = crate::registry::keys::object("", "namespaces", None, ns);
        if cluster.store.get(&key).is_some() {
            continue;
        }
        let obj = json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": ns,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": crate::object::now_rfc3339(),
                "labels": {"kubernetes.io/metadata.name": ns},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        match cluster
            .store
            .create(&key, Box::new(move |rev| with_resource_version(obj, rev)))
            .await
        {
            Ok(_) | Err(store::StoreError::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Wakes the namespace controller (after a namespace was marked for deletion).
pub fn kick(cluster: &Cluster) {
    cluster.namespace_kick.notify_one();
}

/// Runs the namespace controller until shutdown.
pub async fn run(cluster: Arc<Cluster>) {
    loop {
        let pending = match reconcile_all(&cluster).await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(error = %e, "namespace controller pass failed");
                true
            }
        };
        // Only poll while a namespace waits on finalizers of its contents; otherwise sleep
        // until a deletion wakes us.
        let retry = if pending {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            _ = cluster.shutdown.cancelled() => return,
            _ = cluster.namespace_kick.notified() => {}
            _ = tokio::time::sleep(retry) => {}
        }
    }
}

/// One pass over terminating namespaces; true if some are still waiting.
async fn reconcile_all(cluster: &Arc<Cluster>) -> Result<bool, String> {
    let mut pending = false;
    let listed = cluster
        .store
        .list(
            &crate::registry::keys::prefix("", "namespaces"),
            None,
            0,
            None,
        )
        .map_err(|e| e.to_string())?;
    for kv in listed.items {
        let Ok(ns) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        if !meta(&ns).is_some_and(|m| m.contains_key("deletionTimestamp")) {
            continue;
        }
        let name = ns["metadata"]["name"].as_str().unwrap_or("").to_string();
        if delete_contents(cluster, &name).await? {
            finalize(cluster, &kv.key, kv.mod_revision, ns).await?;
        } else {
            pending = true;
        }
    }
    Ok(pending)
}

/// Deletes everything in the namespace; true once nothing is left.
async fn delete_contents(cluster: &Arc<Cluster>, namespace: &str) -> Result<bool, String> {
    let registry = cluster.registry.snapshot();
    let mut empty = true;
    let mut seen_prefixes = std::collections::HashSet::new();
    for res in registry
        .resources
        .iter()
        .filter(|r| r.namespaced && r.stored)
    {
        let prefix = res.namespace_prefix(namespace);
        if !seen_prefixes.insert(prefix.clone()) {
            continue;
        }
        let listed = cluster
            .store
            .list(&prefix, None, 0, None)
            .map_err(|e| e.to_string())?;
        for kv in listed.items {
            empty = false;
            let name = kv.key.rsplit('/').next().unwrap_or("").to_string();
            match crate::delete::delete(
                cluster,
                res,
                Some(namespace),
                &name,
                &DeleteOptions::default(),
            )
            .await
            {
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e.message),
            }
        }
    }
    Ok(empty)
}

async fn finalize(
    cluster: &Arc<Cluster>,
    key: &str,
    rev: store::Revision,
    mut ns: Value,
) -> Result<(), String> {
    if let Some(f) = ns["spec"]["finalizers"].as_array_mut() {
        f.retain(|x| x != "kubernetes");
    }
    let remaining_spec = ns["spec"]["finalizers"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    let remaining_meta = ns["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    let result = if remaining_spec || remaining_meta {
        cluster
            .store
            .update(
                key,
                Some(rev),
                Box::new(move |_, r| Ok(with_resource_version(ns, r))),
            )
            .await
            .map(|_| ())
    } else {
        cluster
            .store
            .delete(
                key,
                Some(rev),
                Box::new(move |_, r| with_resource_version(ns, r)),
            )
            .await
            .map(|_| ())
    };
    match result {
        Ok(()) | Err(store::StoreError::Conflict { .. }) | Err(store::StoreError::NotFound) => {
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}
