//! The garbage collector: dependents whose owners are gone are deleted (background), owners
//! deleted in the foreground wait for their dependents, and orphaning owners release them.
//!
//! It follows every change in the store and keeps an owner graph in memory (object uid → key,
//! owner uid → dependents), so a deletion never scans the whole store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use store::EventType;

use crate::cluster::Cluster;
use crate::delete::DeleteOptions;
use crate::registry::Resource;

#[derive(Deserialize, Default)]
struct MetaOnly {
    #[serde(default)]
    metadata: GcMeta,
}

/// A field written as `null` reads as empty, as Kubernetes reads it; failing on it would lose
/// the whole object's uid from the owner graph and collect its dependents.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GcMeta {
    #[serde(default, deserialize_with = "null_as_default")]
    uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    owner_references: Vec<OwnerRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    finalizers: Vec<String>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct OwnerRef {
    uid: String,
    #[serde(default)]
    block_owner_deletion: Option<bool>,
}

#[derive(Default)]
struct Graph {
    /// uid → store key of every live object.
    keys: HashMap<String, String>,
    /// store key → (uid, owner references).
    owners: HashMap<String, (String, Vec<OwnerRef>)>,
    /// owner uid → keys of dependents.
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn remove(&mut self, key: &str) {
        if let Some((uid, refs)) = self.owners.remove(key) {
            if self.keys.get(&uid).is_some_and(|k| k == key) {
                self.keys.remove(&uid);
            }
            for r in refs {
                if let Some(d) = self.dependents.get_mut(&r.uid) {
                    d.remove(key);
                    if d.is_empty() {
                        self.dependents.remove(&r.uid);
                    }
                }
            }
        }
    }

    fn upsert(&mut self, key: &str, meta: &GcMeta) {
        self.remove(key);
        if meta.uid.is_empty() {
            return;
        }
        self.keys.insert(meta.uid.clone(), key.to_string());
        for r in &meta.owner_references {
            self.dependents
                .entry(r.uid.clone())
                .or_default()
                .insert(key.to_string());
        }
        self.owners.insert(
            key.to_string(),
            (meta.uid.clone(), meta.owner_references.clone()),
        );
    }

    /// Dependents none of whose owners exist any more.
    fn orphaned_dependents_of(&self, owner_uid: &str) -> Vec<String> {
        let Some(deps) = self.dependents.get(owner_uid) else {
            return Vec::new();
        };
        deps.iter()
            .filter(|k| {
                self.owners
                    .get(*k)
                    .is_some_and(|(_, refs)| refs.iter().all(|r| !self.keys.contains_key(&r.uid)))
            })
            .cloned()
            .collect()
    }
}

/// Finds the served resource a store key belongs to, with its namespace and name.
fn resource_of_key(
    cluster: &Cluster,
    key: &str,
) -> Option<(Arc<Resource>, Option<String>, String)> {
    let (group, plural, tail) = crate::registry::keys::split(key)?;
    let state = cluster.registry.snapshot();
    let res = state
        .resources
        .iter()
        .find(|r| r.group == group && r.plural == plural)?
        .clone();
    let (ns, name) = if res.namespaced {
        let (ns, name) = tail.split_once('/')?;
        (Some(ns.to_string()), name.to_string())
    } else {
        (None, tail.to_string())
    };
    Some((res, ns, name))
}

fn meta_of(bytes: &[u8]) -> GcMeta {
    serde_json::from_slice::<MetaOnly>(bytes)
        .map(|m| m.metadata)
        .unwrap_or_default()
}

/// Runs the garbage collector until shutdown.
pub async fn run(cluster: Arc<Cluster>) {
    loop {
        let mut graph = Graph::default();
        let Ok(listed) = cluster
            .store
            .list(crate::registry::keys::ROOT, None, 0, None)
        else {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        };
        let mut pending: Vec<String> = Vec::new();
        for kv in &listed.items {
            let meta = meta_of(&kv.value);
            graph.upsert(&kv.key, &meta);
            if meta.deletion_timestamp.is_some() {
                pending.push(kv.key.to_string());
            }
        }
        // Objects whose owners are all gone (e.g. deleted while we were not running).
        let absent: Vec<String> = graph
            .owners
            .iter()
            .filter(|(_, (_, refs))| {
                !refs.is_empty() && refs.iter().all(|r| !graph.keys.contains_key(&r.uid))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in absent {
            delete_key(&cluster, &key, None).await;
        }
        for key in pending {
            process_terminating(&cluster, &graph, &key).await;
        }
        let Ok(mut watcher) = cluster
            .store
            .watch(crate::registry::keys::ROOT, listed.revision)
        else {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        };
        loop {
            let ev = tokio::select! {
                _ = cluster.shutdown.cancelled() => return,
                ev = watcher.next() => ev,
            };
            let ev = match ev {
                Some(Ok(ev)) => ev,
                Some(Err(_)) => break,
                None => return,
            };
            let key = ev.kv.key.to_string();
            match ev.kind {
                EventType::Deleted => {
                    let uid = graph.owners.get(&key).map(|(u, _)| u.clone());
                    graph.remove(&key);
                    if let Some(uid) = uid {
                        for dep in graph.orphaned_dependents_of(&uid) {
                            delete_key(&cluster, &dep, None).await;
                        }
                        // Owners in the foreground wait on this dependent.
                        let owners: Vec<String> = owners_of_event(&ev.kv.value);
                        for o in owners {
                            if let Some(owner_key) = graph.keys.get(&o).cloned() {
                                process_terminating(&cluster, &graph, &owner_key).await;
                            }
                        }
                    }
                }
                EventType::Created | EventType::Updated => {
                    let meta = meta_of(&ev.kv.value);
                    graph.upsert(&key, &meta);
                    if !meta.owner_references.is_empty()
                        && meta
                            .owner_references
                            .iter()
                            .all(|r| !graph.keys.contains_key(&r.uid))
                    {
                        delete_key(&cluster, &key, None).await;
                    }
                    if meta.deletion_timestamp.is_some() {
                        process_terminating(&cluster, &graph, &key).await;
                    }
                }
            }
        }
    }
}

fn owners_of_event(bytes: &[u8]) -> Vec<String> {
    meta_of(bytes)
        .owner_references
        .into_iter()
        .map(|r| r.uid)
        .collect()
}

async fn delete_key(cluster: &Arc<Cluster>, key: &str, propagation: Option<&str>) {
    let Some((res, ns, name)) = resource_of_key(cluster, key) else {
        return;
    };
    let opts = DeleteOptions {
        propagation: propagation.map(String::from),
        ..Default::default()
    };
    if let Err(e) = crate::delete::delete(cluster, &res, ns.as_deref(), &name, &opts).await
        && e.code != 404
    {
        tracing::debug!(key, error = %e.message, "garbage collection delete failed");
    }
}

/// Handles an owner being deleted with the `foregroundDeletion` or `orphan` finalizer.
async fn process_terminating(cluster: &Arc<Cluster>, graph: &Graph, key: &str) {
    let Some(kv) = cluster.store.get(key) else {
        return;
    };
    let meta = meta_of(&kv.value);
    if meta.deletion_timestamp.is_none() {
        return;
    }
    let deps: Vec<String> = graph
        .dependents
        .get(&meta.uid)
        .map(|d| d.iter().cloned().collect())
        .unwrap_or_default();
    if meta.finalizers.iter().any(|f| f == "orphan") {
        for dep in &deps {
            remove_owner_ref(cluster, dep, &meta.uid).await;
        }
        remove_finalizer(cluster, key, "orphan").await;
    } else if meta.finalizers.iter().any(|f| f == "foregroundDeletion") {
        let blocking: Vec<&String> = deps
            .iter()
            .filter(|d| {
                graph.owners.get(*d).is_some_and(|(_, refs)| {
                    refs.iter()
                        .any(|r| r.uid == meta.uid && r.block_owner_deletion == Some(true))
                })
            })
            .collect();
        for dep in &deps {
            delete_key(cluster, dep, Some("Foreground")).await;
        }
        if blocking.is_empty() || deps.iter().all(|d| cluster.store.get(d).is_none()) {
            remove_finalizer(cluster, key, "foregroundDeletion").await;
        }
    }
}

async fn edit(cluster: &Arc<Cluster>, key: &str, f: impl Fn(&mut Value) -> bool) {
    let Some((res, ns, name)) = resource_of_key(cluster, key) else {
        return;
    };
    for _ in 0..8 {
        let Some(kv) = cluster.store.get(key) else {
            return;
        };
        let Ok(old) = serde_json::from_slice::<Value>(&kv.value) else {
            return;
        };
        let mut new = old.clone();
        if !f(&mut new) {
            return;
        }
        let opts = crate::write::WriteOptions::default();
        match crate::write::commit_update(
            cluster,
            &res,
            crate::write::Stored {
                key,
                object: &old,
                revision: kv.mod_revision,
            },
            new,
            crate::write::UpdateScope::Main,
            &opts,
        )
        .await
        {
            Err(e) if e.code == 409 => continue,
            Err(e) => {
                tracing::debug!(key, name, ns = ?ns, error = %e.message, "garbage collector update failed");
                return;
            }
            Ok(_) => return,
        }
    }
}

async fn remove_finalizer(cluster: &Arc<Cluster>, key: &str, finalizer: &str) {
    edit(cluster, key, |obj| {
        let Some(f) = obj["metadata"]["finalizers"].as_array_mut() else {
            return false;
        };
        let before = f.len();
        f.retain(|x| x != finalizer);
        let changed = f.len() != before;
        if f.is_empty()
            && let Some(m) = obj["metadata"].as_object_mut()
        {
            m.remove("finalizers");
        }
        changed
    })
    .await;
}

async fn remove_owner_ref(cluster: &Arc<Cluster>, key: &str, owner_uid: &str) {
    edit(cluster, key, |obj| {
        let Some(refs) = obj["metadata"]["ownerReferences"].as_array_mut() else {
            return false;
        };
        let before = refs.len();
        refs.retain(|r| r["uid"] != owner_uid);
        let changed = refs.len() != before;
        if refs.is_empty()
            && let Some(m) = obj["metadata"].as_object_mut()
        {
            m.remove("ownerReferences");
        }
        changed
    })
    .await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn null_lists_read_as_empty_and_keep_the_uid() {
        let m = super::meta_of(
            br#"{"metadata":{"uid":"u1","ownerReferences":null,"finalizers":null}}"#,
        );
        assert_eq!(m.uid, "u1");
        assert!(m.owner_references.is_empty() && m.finalizers.is_empty());
    }
}
