//! ReplicaSet: keeps `spec.replicas` live pods (generateName `<rs>-`, controller
//! ownerReference), deletes the least valuable pods first on scale-down, and reports status.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{
    Expectations, create_json, is_active, is_available, is_ready, owner_ref, pod_from_template,
    pods_by_owner, write_status,
};
use crate::engine::{Ctx, NextWake, Reconcile};
use crate::events::Involved;
use crate::scheduler::fit::selector_matches;

const COMPONENT: &str = "replicaset-controller";
/// Most pods created or deleted for one ReplicaSet in one pass (kube's burst).
const BURST: usize = 500;
/// Most pods created in one pass over all ReplicaSets, so statuses keep flowing while a
/// large scale-up is under way (the next pass continues at once).
const PASS_BUDGET: usize = 500;

/// ReplicaSet controller state.
#[derive(Default)]
pub(crate) struct ReplicaSets {
    expectations: Expectations,
}

/// Orders pods so that the ones to delete first come first, like kube's `ActivePods` sort:
/// unscheduled, pending, not ready, most restarted, newest.
pub fn deletion_rank(pod: &Pod) -> impl Ord {
    let assigned = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    let phase = match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Running") => 2,
        _ => 1,
    };
    let restarts: i32 = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).sum())
        .unwrap_or(0);
    let created = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .unwrap_or(0);
    (
        assigned,
        phase,
        is_ready(pod),
        std::cmp::Reverse(restarts),
        std::cmp::Reverse(created),
        pod.name_any(),
    )
}

impl Reconcile for ReplicaSets {
    const NAME: &'static str = "replicaset";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let pods = ctx.pods.state();
        let by_owner = pods_by_owner(&pods);
        let mut rss = ctx.replicasets.state();
        rss.sort_by_key(|r| (r.namespace(), r.name_any()));
        let live: HashSet<String> = rss.iter().filter_map(|r| r.uid()).collect();
        self.expectations.retain(&live);
        let mut wake = NextWake::default();
        let mut budget = PASS_BUDGET;
        for rs in rss {
            if rs.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let owned = by_owner
                .get(&rs.uid().unwrap_or_default())
                .map(Vec::as_slice)
                .unwrap_or_default();
            self.reconcile(ctx, &rs, owned, &mut budget, &mut wake)
                .await;
        }
        wake.get()
    }
}

impl ReplicaSets {
    /// Reconciles one ReplicaSet: creates or deletes pods (at most `BURST`, and creations
    /// within the pass's `budget`) towards `replicas`, then writes the status.
    async fn reconcile(
        &mut self,
        ctx: &Ctx,
        rs: &Arc<ReplicaSet>,
        owned: &[Arc<Pod>],
        budget: &mut usize,
        wake: &mut NextWake,
    ) {
        let uid = rs.uid().unwrap_or_default();
        let names: HashSet<String> = owned.iter().map(|p| p.name_any()).collect();
        if !self.expectations.satisfied(&uid, |n| names.contains(n)) {
            wake.after(Duration::from_secs(1));
            return;
        }
        let mut active: Vec<&Arc<Pod>> = owned.iter().filter(|p| is_active(p)).collect();
        let spec = rs.spec.as_ref();
        let desired = spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as usize;
        if active.len() < desired
            && let Some(template) = spec.and_then(|s| s.template.as_ref())
        {
            let missing = desired - active.len();
            if missing > *budget {
                wake.at(Instant::now());
            }
            let n = missing.min(BURST).min(*budget);
            *budget -= self.create_pods(ctx, rs, template, n, wake).await;
        } else if active.len() > desired {
            active.sort_by_cached_key(|p| deletion_rank(p));
            let extra = (active.len() - desired).min(BURST);
            self.delete_pods(ctx, rs, &active[..extra]).await;
        }
        write_rs_status(ctx, rs, owned, wake).await;
    }

    /// Creates up to `n` pods from the template, stopping at the first failure; returns how
    /// many creations were attempted.
    async fn create_pods(
        &mut self,
        ctx: &Ctx,
        rs: &ReplicaSet,
        template: &k8s_openapi::api::core::v1::PodTemplateSpec,
        n: usize,
        wake: &mut NextWake,
    ) -> usize {
        let ns = rs.namespace().unwrap_or_default();
        let uid = rs.uid().unwrap_or_default();
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        for attempted in 1..=n {
            let pod = pod_from_template(
                template,
                &ns,
                owner_ref(rs),
                None,
                Some(&format!("{}-", rs.name_any())),
                &[],
            );
            match create_json(&pods_api, pod).await {
                Ok(name) => {
                    ctx.events.normal(
                        COMPONENT,
                        Involved::of(rs),
                        "SuccessfulCreate",
                        format!("Created pod: {name}"),
                    );
                    self.expectations.created(&uid, name);
                }
                Err(e) => {
                    ctx.events.warning(
                        COMPONENT,
                        Involved::of(rs),
                        "FailedCreate",
                        format!("Error creating: {e}"),
                    );
                    wake.after(Duration::from_secs(2));
                    return attempted;
                }
            }
        }
        n
    }

    /// Deletes the given pods (already ordered by kube's deletion rank).
    async fn delete_pods(&mut self, ctx: &Ctx, rs: &ReplicaSet, pods: &[&Arc<Pod>]) {
        let uid = rs.uid().unwrap_or_default();
        let pods_api: Api<Pod> =
            Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
        for p in pods {
            match pods_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {
                    ctx.events.normal(
                        COMPONENT,
                        Involved::of(rs),
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                    self.expectations.deleted(&uid, p.name_any());
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => tracing::debug!(error = %e, "pod not deleted"),
            }
        }
    }
}

/// Writes the counts (replicas, fully labeled, ready, available after `minReadySeconds`);
/// asks to run again when a ready pod is about to become available.
async fn write_rs_status(ctx: &Ctx, rs: &ReplicaSet, owned: &[Arc<Pod>], wake: &mut NextWake) {
    let now = ctx.clock.wall_now();
    let spec = rs.spec.as_ref();
    let min_ready =
        Duration::from_secs(spec.and_then(|s| s.min_ready_seconds).unwrap_or(0).max(0) as u64);
    let min_ready_real = ctx.clock.real(min_ready);
    let active: Vec<&Arc<Pod>> = owned.iter().filter(|p| is_active(p)).collect();
    let labeled = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .map(|m| m.labels.clone().unwrap_or_default())
        .unwrap_or_default();
    let sel = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some(labeled),
        match_expressions: None,
    };
    let available = active
        .iter()
        .filter(|p| is_available(p, min_ready_real, now))
        .count();
    if active
        .iter()
        .any(|p| is_ready(p) && !is_available(p, min_ready_real, now))
    {
        wake.after(min_ready_real.min(Duration::from_secs(1)));
    }
    let status = json!({
        "replicas": active.len(),
        "fullyLabeledReplicas": active.iter().filter(|p| selector_matches(&sel, p.labels())).count(),
        "readyReplicas": active.iter().filter(|p| is_ready(p)).count(),
        "availableReplicas": available,
        "observedGeneration": rs.metadata.generation.unwrap_or(0),
    });
    let current = rs
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok());
    let rs_api: Api<ReplicaSet> =
        Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    write_status(&rs_api, rs, current, status).await;
}

#[allow(dead_code)]
fn _assert_types(_: &ReplicaSet) {}
