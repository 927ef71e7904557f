//! The workload controllers. Each runs full passes over its reflector store (see `engine`),
//! creates objects in a deterministic order, and remembers what it just wrote (expectations)
//! so a stale store never makes it act twice.

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod history;
pub mod hpa;
pub mod job;
pub mod replicaset;
pub mod statefulset;
pub mod volumes;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::patch::merge_diff;

/// How long an expectation is trusted before the store is believed instead.
const EXPECTATION_TTL: Duration = Duration::from_secs(30);

/// Names an owner created or deleted that the store does not reflect yet.
#[derive(Default)]
pub(crate) struct Expectations {
    pending: HashMap<String, (HashSet<String>, HashSet<String>, Instant)>,
}

impl Expectations {
    /// Whether the store reflects everything `owner` did (`present` says whether a name is in
    /// the store); forgets satisfied or expired expectations.
    pub fn satisfied(&mut self, owner: &str, present: impl Fn(&str) -> bool) -> bool {
        let Some((adds, dels, at)) = self.pending.get_mut(owner) else {
            return true;
        };
        adds.retain(|n| !present(n));
        dels.retain(|n| present(n));
        if (adds.is_empty() && dels.is_empty()) || at.elapsed() > EXPECTATION_TTL {
            self.pending.remove(owner);
            return true;
        }
        false
    }

    /// Records a created object.
    pub fn created(&mut self, owner: &str, name: String) {
        self.entry(owner).0.insert(name);
    }

    /// Records a deleted object.
    pub fn deleted(&mut self, owner: &str, name: String) {
        self.entry(owner).1.insert(name);
    }

    fn entry(&mut self, owner: &str) -> &mut (HashSet<String>, HashSet<String>, Instant) {
        let e = self
            .pending
            .entry(owner.to_string())
            .or_insert_with(|| (HashSet::new(), HashSet::new(), Instant::now()));
        e.2 = Instant::now();
        e
    }

    /// Drops owners not in `live`.
    pub fn retain(&mut self, live: &HashSet<String>) {
        self.pending.retain(|k, _| live.contains(k));
    }
}

/// The uid of `obj`'s controlling owner.
pub fn controller_uid<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta()
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// A controller ownerReference to `owner`.
pub fn owner_ref<K: Resource<DynamicType = ()>>(owner: &K) -> Value {
    json!([{
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "name": owner.name_any(),
        "uid": owner.uid().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

/// Whether a pod is Succeeded or Failed.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether a pod counts as a live replica (not finished, not being deleted).
pub fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// When the pod's Ready condition became True, if it is.
pub fn ready_since(pod: &Pod) -> Option<DateTime<Utc>> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (c.status == "True").then(|| {
        c.last_transition_time
            .as_ref()
            .map(|t| crate::clock::from_k8s(&t.0))
            .unwrap_or_default()
    })
}

/// Whether a pod is Ready.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Whether a pod has been Ready for `min_ready` (simulated, given as real time here).
pub fn is_available(pod: &Pod, min_ready: Duration, now: DateTime<Utc>) -> bool {
    ready_since(pod).is_some_and(|t| {
        min_ready.is_zero() || t + chrono::Duration::from_std(min_ready).unwrap_or_default() <= now
    })
}

/// A pod object from a template.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    owner_refs: Value,
    name: Option<&str>,
    generate_name: Option<&str>,
    extra_labels: &[(&str, String)],
) -> Value {
    let mut meta = template
        .metadata
        .clone()
        .map(|m| serde_json::to_value(m).unwrap_or(json!({})))
        .unwrap_or(json!({}));
    if !meta.is_object() {
        meta = json!({});
    }
    meta["namespace"] = json!(namespace);
    meta["ownerReferences"] = owner_refs;
    if let Some(n) = name {
        meta["name"] = json!(n);
    }
    if let Some(g) = generate_name {
        meta["generateName"] = json!(g);
    }
    for (k, v) in extra_labels {
        meta["labels"][*k] = json!(v);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.spec.clone()})
}

/// Creates an object given as JSON; returns its name. `AlreadyExists` counts as success.
pub async fn create_json<K>(api: &Api<K>, obj: Value) -> Result<String, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let wanted = obj["metadata"]["name"].as_str().map(String::from);
    let typed: K = serde_json::from_value(obj).map_err(kube::Error::SerdeError)?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(created) => Ok(created.meta().name.clone().unwrap_or_default()),
        Err(kube::Error::Api(s)) if s.code == 409 && wanted.is_some() => {
            Ok(wanted.unwrap_or_default())
        }
        Err(e) => Err(e),
    }
}

/// Writes `desired` as the status of `obj` if it differs from what the object shows.
pub async fn write_status<K>(api: &Api<K>, obj: &K, current: Option<Value>, desired: Value)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let current = current.unwrap_or(json!({}));
    let Some(diff) = merge_diff(&current, &desired) else {
        return;
    };
    let patch = json!({"status": diff});
    if let Err(e) = api
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::debug!(error = %e, name = %obj.name_any(), "status not written");
    }
}

/// Keeps `lastTransitionTime` of conditions whose status did not change.
pub fn keep_transition_times(old: Option<&Value>, new: &mut Value) {
    let (Some(old), Some(list)) = (old.and_then(|o| o.as_array()), new.as_array_mut()) else {
        return;
    };
    for c in list {
        if let Some(prev) = old.iter().find(|o| o["type"] == c["type"])
            && prev["status"] == c["status"]
        {
            c["lastTransitionTime"] = prev["lastTransitionTime"].clone();
            if prev["reason"] == c["reason"] && prev.get("lastUpdateTime").is_some() {
                c["lastUpdateTime"] = prev["lastUpdateTime"].clone();
            }
        }
    }
}

/// Now, formatted as Kubernetes timestamps are.
pub fn now_ts() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Pods grouped by their controller's uid.
pub fn pods_by_owner(pods: &[std::sync::Arc<Pod>]) -> HashMap<String, Vec<std::sync::Arc<Pod>>> {
    let mut by: HashMap<String, Vec<std::sync::Arc<Pod>>> = HashMap::new();
    for p in pods {
        if let Some(uid) = controller_uid(p.as_ref()) {
            by.entry(uid.to_string()).or_default().push(p.clone());
        }
    }
    by
}
