//! StatefulSet: pods `<name>-0..n-1` with stable names, created in order (OrderedReady waits
//! for each to be Running and Ready) or all at once (Parallel), PVCs `<template>-<name>-<i>` from
//! volumeClaimTemplates, scale-down from the highest ordinal, rolling updates by revision hash.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::history::{History, Owner};
use super::{
    create_json, is_active, is_ready, owner_ref, pod_from_template, pods_by_owner, write_status,
};
use crate::engine::{Ctx, NextWake, Reconcile};
use crate::events::Involved;
use crate::hash::{canonical, pod_template_hash};

const COMPONENT: &str = "statefulset-controller";

/// StatefulSet controller state.
#[derive(Default)]
pub(crate) struct StatefulSets {
    created: std::collections::HashMap<String, Instant>,
    history: History,
}

fn ordinal(name: &str, set: &str) -> Option<i32> {
    name.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

impl Reconcile for StatefulSets {
    const NAME: &'static str = "statefulset";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let pods = ctx.pods.state();
        let by_owner = pods_by_owner(&pods);
        let mut sets = ctx.statefulsets.state();
        sets.sort_by_key(|s| (s.namespace(), s.name_any()));
        self.created
            .retain(|_, at| at.elapsed() < Duration::from_secs(30));
        let live: std::collections::HashSet<String> = sets.iter().filter_map(|s| s.uid()).collect();
        self.history.retain(&live);
        let mut wake = NextWake::default();
        for set in sets {
            if set.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let owned = by_owner
                .get(&set.uid().unwrap_or_default())
                .map(Vec::as_slice)
                .unwrap_or_default();
            self.reconcile(ctx, &set, owned, &mut wake).await;
        }
        wake.get()
    }
}

/// What a StatefulSet's spec asks of this pass.
struct Plan {
    ns: String,
    name: String,
    spec: StatefulSetSpec,
    replicas: i32,
    parallel: bool,
    /// `<name>-<hash of the pod template>`, the revision pods are labelled with.
    revision: String,
}

impl Plan {
    fn of(set: &StatefulSet) -> Plan {
        let name = set.name_any();
        let spec = set.spec.clone().unwrap_or_default();
        let revision = format!(
            "{name}-{}",
            pod_template_hash(
                &canonical(&serde_json::to_value(&spec.template).unwrap_or_default()),
                None
            )
        );
        Plan {
            ns: set.namespace().unwrap_or_default(),
            replicas: spec.replicas.unwrap_or(1).max(0),
            parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
            name,
            spec,
            revision,
        }
    }
}

impl StatefulSets {
    /// Reconciles one StatefulSet: creates missing ordinals (in order unless Parallel),
    /// removes the highest extra ones, replaces one outdated pod when all are ready, and
    /// writes the status.
    async fn reconcile(
        &mut self,
        ctx: &Ctx,
        set: &Arc<StatefulSet>,
        owned: &[Arc<Pod>],
        wake: &mut NextWake,
    ) {
        let plan = Plan::of(set);
        let hash = plan
            .revision
            .rsplit('-')
            .next()
            .unwrap_or_default()
            .to_string();
        let owner = Owner {
            ns: &plan.ns,
            uid: &set.uid().unwrap_or_default(),
            owner_ref: owner_ref(set.as_ref()),
            name: &plan.revision,
            hash: &hash,
            template: serde_json::to_value(&plan.spec.template).unwrap_or_default(),
            limit: plan.spec.revision_history_limit,
        };
        self.history.record(ctx, owner).await;
        let mut by_ord: BTreeMap<i32, &Arc<Pod>> = owned
            .iter()
            .filter_map(|p| ordinal(&p.name_any(), &plan.name).map(|o| (o, p)))
            .collect();
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &plan.ns);
        let blocked = self.scale_up(ctx, set, &plan, &by_ord, wake).await;
        scale_down(ctx, set, &plan, &pods_api, &mut by_ord).await;
        roll(&plan, &pods_api, &by_ord, blocked).await;
        write_set_status(ctx, set, &plan, &by_ord).await;
    }

    /// Creates the missing ordinals below `replicas`; true when an ordinal that is not yet
    /// Running and Ready blocks the ones after it (OrderedReady).
    async fn scale_up(
        &mut self,
        ctx: &Ctx,
        set: &StatefulSet,
        plan: &Plan,
        by_ord: &BTreeMap<i32, &Arc<Pod>>,
        wake: &mut NextWake,
    ) -> bool {
        for i in 0..plan.replicas {
            let pod_name = format!("{}-{i}", plan.name);
            match by_ord.get(&i) {
                Some(p) => {
                    if !(plan.parallel || is_active(p) && is_ready(p)) {
                        return true;
                    }
                }
                None => {
                    if self
                        .created
                        .contains_key(&format!("{}/{pod_name}", plan.ns))
                    {
                        if plan.parallel {
                            continue;
                        }
                        return true;
                    }
                    self.create_pod(ctx, set, plan, i, wake).await;
                    if !plan.parallel {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Creates ordinal `i`: its claims from `volumeClaimTemplates`, then the pod with its
    /// stable hostname and the claims mounted.
    async fn create_pod(
        &mut self,
        ctx: &Ctx,
        set: &StatefulSet,
        plan: &Plan,
        i: i32,
        wake: &mut NextWake,
    ) {
        let (ns, spec) = (&plan.ns, &plan.spec);
        let pod_name = format!("{}-{i}", plan.name);
        create_claims(ctx, plan, &pod_name).await;
        let mut template = spec.template.clone();
        if let Some(ps) = template.spec.as_mut() {
            ps.hostname = Some(pod_name.clone());
            ps.subdomain =
                Some(spec.service_name.clone().unwrap_or_default()).filter(|s| !s.is_empty());
            for tpl in spec.volume_claim_templates.iter().flatten() {
                let tname = tpl.metadata.name.clone().unwrap_or_default();
                let vols = ps.volumes.get_or_insert_with(Vec::new);
                if !vols.iter().any(|v| v.name == tname) {
                    vols.push(serde_json::from_value(json!({"name": tname, "persistentVolumeClaim": {"claimName": format!("{tname}-{pod_name}")}})).unwrap_or_default());
                }
            }
        }
        let labels = [
            ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
            ("apps.kubernetes.io/pod-index", i.to_string()),
            ("controller-revision-hash", plan.revision.clone()),
        ];
        let pod = pod_from_template(
            &template,
            ns,
            owner_ref(set),
            Some(&pod_name),
            None,
            &labels,
        );
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
        match create_json(&pods_api, pod).await {
            Ok(_) => {
                let msg = format!(
                    "create Pod {pod_name} in StatefulSet {} successful",
                    plan.name
                );
                ctx.events
                    .normal(COMPONENT, Involved::of(set), "SuccessfulCreate", msg);
                self.created
                    .insert(format!("{ns}/{pod_name}"), Instant::now());
            }
            Err(e) => {
                tracing::debug!(error = %e, "stateful pod not created");
                wake.after(Duration::from_secs(2));
            }
        }
    }
}

/// Creates the claims `<template>-<pod>` a pod's `volumeClaimTemplates` name (existing ones
/// are left as they are).
async fn create_claims(ctx: &Ctx, plan: &Plan, pod_name: &str) {
    let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &plan.ns);
    for tpl in plan.spec.volume_claim_templates.iter().flatten() {
        let tname = tpl.metadata.name.clone().unwrap_or_default();
        let mut claim = serde_json::to_value(tpl).unwrap_or_default();
        claim["apiVersion"] = json!("v1");
        claim["kind"] = json!("PersistentVolumeClaim");
        claim["metadata"] = json!({"name": format!("{tname}-{pod_name}"), "namespace": plan.ns,
            "labels": plan.spec.selector.match_labels.clone().unwrap_or_default()});
        if let Some(st) = claim.as_object_mut() {
            st.remove("status");
        }
        if let Err(e) = create_json(&claims_api, claim).await {
            tracing::debug!(error = %e, "claim not created");
        }
    }
}

/// Scales down from the highest ordinal, one at a time unless Parallel.
async fn scale_down(
    ctx: &Ctx,
    set: &StatefulSet,
    plan: &Plan,
    pods_api: &Api<Pod>,
    by_ord: &mut BTreeMap<i32, &Arc<Pod>>,
) {
    let extra: Vec<i32> = by_ord
        .keys()
        .rev()
        .copied()
        .filter(|o| *o >= plan.replicas)
        .collect();
    for o in extra
        .iter()
        .take(if plan.parallel { usize::MAX } else { 1 })
    {
        if let Some(p) = by_ord.remove(o)
            && p.metadata.deletion_timestamp.is_none()
            && pods_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
                .is_ok()
        {
            let msg = format!(
                "delete Pod {} in StatefulSet {} successful",
                p.name_any(),
                plan.name
            );
            ctx.events
                .normal(COMPONENT, Involved::of(set), "SuccessfulDelete", msg);
        }
    }
}

/// Rolling update: replaces the highest outdated pod once everything is ready.
async fn roll(plan: &Plan, pods_api: &Api<Pod>, by_ord: &BTreeMap<i32, &Arc<Pod>>, blocked: bool) {
    let on_delete = plan
        .spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    let all_ready = by_ord.len() as i32 == plan.replicas && by_ord.values().all(|p| is_ready(p));
    if !on_delete
        && !blocked
        && all_ready
        && let Some(p) = by_ord
            .values()
            .rev()
            .find(|p| p.labels().get("controller-revision-hash") != Some(&plan.revision))
    {
        let _ = pods_api
            .delete(&p.name_any(), &DeleteParams::default())
            .await;
    }
}

/// Writes the StatefulSet's counts and revisions.
async fn write_set_status(
    ctx: &Ctx,
    set: &StatefulSet,
    plan: &Plan,
    by_ord: &BTreeMap<i32, &Arc<Pod>>,
) {
    let current: Vec<&&Arc<Pod>> = by_ord.values().filter(|p| is_active(p)).collect();
    let updated = current
        .iter()
        .filter(|p| p.labels().get("controller-revision-hash") == Some(&plan.revision))
        .count();
    let ready = current.iter().filter(|p| is_ready(p)).count();
    let status = json!({
        "observedGeneration": set.metadata.generation.unwrap_or(0),
        "replicas": current.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": updated,
        "updatedReplicas": updated,
        "currentRevision": plan.revision,
        "updateRevision": plan.revision,
        "collisionCount": 0,
    });
    let current_status = set
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok());
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &plan.ns);
    write_status(&api, set, current_status, status).await;
}
