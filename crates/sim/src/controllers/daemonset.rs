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

use super::history::{History, Owner};
use super::{
    Expectations, create_json, is_active, is_ready, owner_ref, pod_from_template, pods_by_owner,
    write_status,
};
use crate::engine::{Ctx, NextWake, Reconcile};
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
    history: History,
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
        self.history.retain(&live);
        let mut wake = NextWake::default();
        for ds in sets {
            if ds.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let owned: Vec<&Arc<Pod>> = by_owner
                .get(&ds.uid().unwrap_or_default())
                .into_iter()
                .flatten()
                .filter(|p| is_active(p))
                .collect();
            self.reconcile(ctx, &ds, &owned, &nodes, &mut wake).await;
        }
        wake.get()
    }
}

impl DaemonSets {
    /// Reconciles one DaemonSet: a pod pinned to each eligible node that has none, extra and
    /// misscheduled pods deleted, and the status counts.
    async fn reconcile(
        &mut self,
        ctx: &Ctx,
        ds: &Arc<DaemonSet>,
        owned: &[&Arc<Pod>],
        nodes: &[NodeInfo],
        wake: &mut NextWake,
    ) {
        let uid = ds.uid().unwrap_or_default();
        let names: HashSet<String> = owned.iter().map(|p| p.name_any()).collect();
        if !self.expectations.satisfied(&uid, |n| names.contains(n)) {
            wake.after(Duration::from_secs(1));
            return;
        }
        let spec = ds.spec.clone().unwrap_or_default();
        let eligible = eligible_nodes(&spec.template, nodes);
        let mut on_node: HashMap<String, Vec<&Arc<Pod>>> = HashMap::new();
        for p in owned {
            if let Some(n) = pinned_node(p) {
                on_node.entry(n).or_default().push(p);
            }
        }
        let hash = pod_template_hash(
            &canonical(&serde_json::to_value(&spec.template).unwrap_or_default()),
            None,
        );
        let ns = ds.namespace().unwrap_or_default();
        let name = format!("{}-{hash}", ds.name_any());
        let owner = Owner {
            ns: &ns,
            uid: &uid,
            owner_ref: owner_ref(ds.as_ref()),
            name: &name,
            hash: &hash,
            template: serde_json::to_value(&spec.template).unwrap_or_default(),
            limit: spec.revision_history_limit,
        };
        self.history.record(ctx, owner).await;
        for n in &eligible {
            if !on_node.contains_key(&n.name) {
                self.create_pod(ctx, ds, &n.name, &hash).await;
            }
        }
        let eligible_names: HashSet<&str> = eligible.iter().map(|n| n.name.as_str()).collect();
        let misscheduled = self.delete_extra(ctx, ds, &on_node, &eligible_names).await;
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
        let api: Api<DaemonSet> =
            Api::namespaced(ctx.client.clone(), &ds.namespace().unwrap_or_default());
        write_status(&api, ds.as_ref(), current, status).await;
    }

    /// Creates the daemon pod for `node`: the template with kube's daemon tolerations and
    /// required node affinity on the node's name.
    async fn create_pod(&mut self, ctx: &Ctx, ds: &DaemonSet, node: &str, hash: &str) {
        let ns = ds.namespace().unwrap_or_default();
        let spec = ds.spec.clone().unwrap_or_default();
        let mut t = spec.template.clone();
        if let Some(ps) = t.spec.as_mut() {
            ps.tolerations =
                serde_json::from_value(daemon_tolerations())
                    .ok()
                    .map(|mut d: Vec<_>| {
                        d.extend(ps.tolerations.clone().unwrap_or_default());
                        d
                    });
            ps.affinity = serde_json::from_value(json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}})).ok();
        }
        let labels = [
            ("controller-revision-hash", hash.to_string()),
            (
                "pod-template-generation",
                ds.metadata.generation.unwrap_or(1).to_string(),
            ),
        ];
        let pod = pod_from_template(
            &t,
            &ns,
            owner_ref(ds),
            None,
            Some(&format!("{}-", ds.name_any())),
            &labels,
        );
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        match create_json(&pods_api, pod).await {
            Ok(name) => {
                ctx.events.normal(
                    COMPONENT,
                    Involved::of(ds),
                    "SuccessfulCreate",
                    format!("Created pod: {name}"),
                );
                self.expectations
                    .created(&ds.uid().unwrap_or_default(), name);
            }
            Err(e) => tracing::debug!(error = %e, "daemon pod not created"),
        }
    }

    /// Deletes all but one pod per eligible node and every pod on an ineligible node;
    /// returns how many nodes had pods they should not.
    async fn delete_extra(
        &mut self,
        ctx: &Ctx,
        ds: &DaemonSet,
        on_node: &HashMap<String, Vec<&Arc<Pod>>>,
        eligible: &HashSet<&str>,
    ) -> usize {
        let uid = ds.uid().unwrap_or_default();
        let pods_api: Api<Pod> =
            Api::namespaced(ctx.client.clone(), &ds.namespace().unwrap_or_default());
        let mut misscheduled = 0;
        for (node, ps) in on_node {
            let keep = usize::from(eligible.contains(node.as_str()));
            misscheduled += usize::from(keep == 0);
            for p in ps.iter().skip(keep) {
                if pods_api
                    .delete(&p.name_any(), &DeleteParams::default())
                    .await
                    .is_ok()
                {
                    ctx.events.normal(
                        COMPONENT,
                        Involved::of(ds),
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                    self.expectations.deleted(&uid, p.name_any());
                }
            }
        }
        misscheduled
    }
}

/// The nodes a daemon pod of `template` may run on (node selector, required affinity, and
/// taints beyond the daemon tolerations).
fn eligible_nodes<'a>(
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
    nodes: &'a [NodeInfo],
) -> Vec<&'a NodeInfo> {
    let mut probe: Pod = serde_json::from_value(
        json!({"metadata": {}, "spec": {"containers": [], "tolerations": daemon_tolerations()}}),
    )
    .unwrap_or_default();
    if let (Some(ps), Some(ts)) = (probe.spec.as_mut(), template.spec.as_ref()) {
        ps.node_selector = ts.node_selector.clone();
        ps.affinity = ts.affinity.clone();
        ps.tolerations
            .get_or_insert_with(Vec::new)
            .extend(ts.tolerations.clone().unwrap_or_default());
    }
    nodes
        .iter()
        .filter(|n| matches_node_selector(&probe, n) && untolerated_taint(&probe, n).is_none())
        .collect()
}
