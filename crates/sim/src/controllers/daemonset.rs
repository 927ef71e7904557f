//! DaemonSet: one pod per eligible node (node selector, required affinity, taints), pinned to
//! its node with required node affinity on `metadata.name` as kube does, then scheduled by the
//! scheduler.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{
    Expectations, create_json, is_active, is_ready, owner_ref, pod_from_template, pods_by_owner,
    write_status,
};
use crate::engine::{Ctx, Reconcile};
use crate::events::Involved;
use crate::hash::{canonical, pod_template_hash};
use crate::scheduler::fit::{NodeInfo, matches_node_selector, untolerated_taint};

const COMPONENT: &str = "daemonset-controller";

/// Tolerations kube adds to every DaemonSet pod.
fn daemon_tolerations() -> serde_json::Value {
    json!([
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ])
}

/// DaemonSet controller state.
#[derive(Default)]
pub(crate) struct DaemonSets {
    expectations: Expectations,
}

/// The node a daemon pod is pinned to.
fn pinned_node(p: &Pod) -> Option<String> {
    if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
        return Some(n);
    }
    let terms = p
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?;
    terms
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|f| f.key == "metadata.name")
        .and_then(|f| f.values.as_ref()?.first().cloned())
}

impl Reconcile for DaemonSets {
    const NAME: &'static str = "daemonset";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let pods = ctx.pods.state();
        let by_owner = pods_by_owner(&pods);
        let mut nodes: Vec<NodeInfo> = ctx.nodes.state().iter().map(|n| NodeInfo::new(n)).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut sets = ctx.daemonsets.state();
        sets.sort_by_key(|s| (s.namespace(), s.name_any()));
        let live: HashSet<String> = sets.iter().filter_map(|s| s.uid()).collect();
        self.expectations.retain(&live);
        let mut next = None;
        for ds in sets {
            if ds.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let uid = ds.uid().unwrap_or_default();
            let ns = ds.namespace().unwrap_or_default();
            let empty = Vec::new();
            let owned: Vec<&Arc<Pod>> = by_owner
                .get(&uid)
                .unwrap_or(&empty)
                .iter()
                .filter(|p| is_active(p))
                .collect();
            let names: HashSet<String> = owned.iter().map(|p| p.name_any()).collect();
            if !self.expectations.satisfied(&uid, |n| names.contains(n)) {
                next = Some(Instant::now() + Duration::from_secs(1));
                continue;
            }
            let spec = ds.spec.clone().unwrap_or_default();
            let mut template = spec.template.clone();
            let probe: Pod = serde_json::from_value(json!({"metadata": {}, "spec": {"containers": [], "tolerations": daemon_tolerations()}})).unwrap_or_default();
            let mut probe = probe;
            if let (Some(ps), Some(ts)) = (probe.spec.as_mut(), template.spec.as_ref()) {
                ps.node_selector = ts.node_selector.clone();
                ps.affinity = ts.affinity.clone();
                ps.tolerations
                    .get_or_insert_with(Vec::new)
                    .extend(ts.tolerations.clone().unwrap_or_default());
            }
            let eligible: Vec<&NodeInfo> = nodes
                .iter()
                .filter(|n| {
                    matches_node_selector(&probe, n) && untolerated_taint(&probe, n).is_none()
                })
                .collect();
            let mut on_node: HashMap<String, Vec<&Arc<Pod>>> = HashMap::new();
            for p in &owned {
                if let Some(n) = pinned_node(p) {
                    on_node.entry(n).or_default().push(p);
                }
            }
            let hash = pod_template_hash(
                &canonical(&serde_json::to_value(&spec.template).unwrap_or_default()),
                None,
            );
            let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            if let Some(ps) = template.spec.as_mut() {
                ps.tolerations =
                    serde_json::from_value(daemon_tolerations())
                        .ok()
                        .map(|mut d: Vec<_>| {
                            d.extend(ps.tolerations.clone().unwrap_or_default());
                            d
                        });
            }
            for n in &eligible {
                if on_node.contains_key(&n.name) {
                    continue;
                }
                let mut t = template.clone();
                if let Some(ps) = t.spec.as_mut() {
                    ps.affinity = serde_json::from_value(json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n.name]}]}]}}})).ok();
                }
                let labels = [
                    ("controller-revision-hash", hash.clone()),
                    (
                        "pod-template-generation",
                        ds.metadata.generation.unwrap_or(1).to_string(),
                    ),
                ];
                let pod = pod_from_template(
                    &t,
                    &ns,
                    owner_ref(ds.as_ref()),
                    None,
                    Some(&format!("{}-", ds.name_any())),
                    &labels,
                );
                match create_json(&pods_api, pod).await {
                    Ok(name) => {
                        ctx.events.normal(
                            COMPONENT,
                            Involved::of(ds.as_ref()),
                            "SuccessfulCreate",
                            format!("Created pod: {name}"),
                        );
                        self.expectations.created(&uid, name);
                    }
                    Err(e) => tracing::debug!(error = %e, "daemon pod not created"),
                }
            }
            let eligible_names: HashSet<&str> = eligible.iter().map(|n| n.name.as_str()).collect();
            let mut misscheduled = 0;
            for (node, ps) in &on_node {
                let keep = if eligible_names.contains(node.as_str()) {
                    1
                } else {
                    0
                };
                misscheduled += usize::from(keep == 0);
                for p in ps.iter().skip(keep) {
                    if pods_api
                        .delete(&p.name_any(), &DeleteParams::default())
                        .await
                        .is_ok()
                    {
                        ctx.events.normal(
                            COMPONENT,
                            Involved::of(ds.as_ref()),
                            "SuccessfulDelete",
                            format!("Deleted pod: {}", p.name_any()),
                        );
                        self.expectations.deleted(&uid, p.name_any());
                    }
                }
            }
            let scheduled: Vec<&&Arc<Pod>> = owned
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
                .collect();
            let ready = scheduled.iter().filter(|p| is_ready(p)).count();
            let updated = scheduled
                .iter()
                .filter(|p| p.labels().get("controller-revision-hash") == Some(&hash))
                .count();
            let status = json!({
                "observedGeneration": ds.metadata.generation.unwrap_or(0),
                "desiredNumberScheduled": eligible.len(),
                "currentNumberScheduled": scheduled.len(),
                "numberMisscheduled": misscheduled,
                "numberReady": ready,
                "numberAvailable": ready,
                "numberUnavailable": eligible.len().saturating_sub(ready),
                "updatedNumberScheduled": updated,
            });
            let current = ds
                .status
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok());
            let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
            write_status(&api, ds.as_ref(), current, status).await;
        }
        next
    }
}
