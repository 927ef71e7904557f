//! Deployment: one ReplicaSet per pod template (`<name>-<pod-template-hash>`), rolled out with
//! RollingUpdate (maxSurge/maxUnavailable) or Recreate, revision annotations and history,
//! pause, and kube's status conditions and counts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use super::{controller_uid, create_json, keep_transition_times, now_ts, owner_ref, write_status};
use crate::engine::{Ctx, Reconcile};
use crate::events::Involved;
use crate::hash::{canonical, pod_template_hash};

const COMPONENT: &str = "deployment-controller";
/// The revision annotation on Deployments and their ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

/// Deployment controller state: the ReplicaSets it wrote, newer than the store may show.
#[derive(Default)]
pub(crate) struct Deployments {
    written: HashMap<(String, String), Arc<ReplicaSet>>,
}

/// Resolves an int-or-percent against `total`, rounding up or down.
pub fn resolve(v: Option<&IntOrString>, total: i32, round_up: bool, default: i32) -> i32 {
    match v {
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            match s.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
                Some(p) => {
                    let x = p * f64::from(total) / 100.0;
                    (if round_up { x.ceil() } else { x.floor() }) as i32
                }
                None => default,
            }
        }
        None => default,
    }
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn template_without_hash(rs: &ReplicaSet) -> Value {
    let mut t = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .map(|t| serde_json::to_value(t).unwrap_or_default())
        .unwrap_or_default();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
        if labels.is_empty()
            && let Some(m) = t.pointer_mut("/metadata").and_then(Value::as_object_mut)
        {
            m.remove("labels");
        }
    }
    canonical(&t)
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn status_of(rs: &ReplicaSet) -> (i32, i32, i32) {
    let s = rs.status.as_ref();
    (
        s.map(|s| s.replicas).unwrap_or(0),
        s.and_then(|s| s.ready_replicas).unwrap_or(0),
        s.and_then(|s| s.available_replicas).unwrap_or(0),
    )
}

/// What a Deployment's spec asks of this pass.
struct Plan {
    ns: String,
    desired: i32,
    paused: bool,
    /// The pod template, canonical, to compare with the ReplicaSets'.
    template: Value,
    recreate: bool,
    surge: i32,
    unavailable: i32,
    /// The highest revision among the Deployment's ReplicaSets.
    max_rev: i64,
}

impl Plan {
    fn of(d: &Deployment, rss: &[Arc<ReplicaSet>]) -> Plan {
        let spec = d.spec.clone().unwrap_or_default();
        let desired = spec.replicas.unwrap_or(1).max(0);
        let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
        let ru = spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref());
        let mut surge = resolve(
            ru.and_then(|r| r.max_surge.as_ref()),
            desired,
            true,
            (desired + 3) / 4,
        );
        let mut unavailable = resolve(
            ru.and_then(|r| r.max_unavailable.as_ref()),
            desired,
            false,
            desired / 4,
        );
        if recreate {
            surge = 0;
            unavailable = desired;
        } else if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        Plan {
            ns: d.namespace().unwrap_or_default(),
            desired,
            paused: spec.paused.unwrap_or(false),
            template: canonical(&serde_json::to_value(&spec.template).unwrap_or_default()),
            recreate,
            surge,
            unavailable,
            max_rev: rss.iter().map(|r| revision(r)).max().unwrap_or(0),
        }
    }
}

/// Sets the Deployment's revision annotation to its current ReplicaSet's.
async fn annotate_revision(ctx: &Ctx, d: &Deployment, n: &ReplicaSet) {
    let rev = revision(n).to_string();
    if d.annotations().get(REVISION) == Some(&rev) {
        return;
    }
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"annotations": {REVISION: rev}}});
    let _ = api
        .patch(
            &d.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await;
}

impl Deployments {
    fn remember(&mut self, rs: ReplicaSet) -> Arc<ReplicaSet> {
        let rs = Arc::new(rs);
        self.written.insert(
            (rs.namespace().unwrap_or_default(), rs.name_any()),
            rs.clone(),
        );
        rs
    }

    async fn scale(
        &mut self,
        ctx: &Ctx,
        d: &Deployment,
        rs: &ReplicaSet,
        to: i32,
        annotations: Value,
    ) -> Option<Arc<ReplicaSet>> {
        let from = spec_replicas(rs);
        let api: Api<ReplicaSet> =
            Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
        let patch = json!({"metadata": {"annotations": annotations}, "spec": {"replicas": to}});
        match api
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(updated) => {
                if from != to {
                    let dir = if to > from { "up" } else { "down" };
                    let msg = format!(
                        "Scaled {dir} replica set {} from {from} to {to}",
                        rs.name_any()
                    );
                    ctx.events
                        .normal(COMPONENT, Involved::of(d), "ScalingReplicaSet", msg);
                }
                Some(self.remember(updated))
            }
            Err(e) => {
                tracing::debug!(error = %e, "replica set not scaled");
                None
            }
        }
    }

    /// Reconciles one Deployment against its ReplicaSets: makes (or re-promotes) the
    /// ReplicaSet of the current template, rolls replicas over to it, prunes history, and
    /// writes the revision and status.
    async fn reconcile(
        &mut self,
        ctx: &Ctx,
        d: &Deployment,
        mut rss: Vec<Arc<ReplicaSet>>,
    ) -> Option<Instant> {
        let plan = Plan::of(d, &rss);
        let new_idx = rss
            .iter()
            .position(|r| template_without_hash(r) == plan.template);
        let new_rs = new_idx.map(|i| rss.remove(i));
        let mut old: Vec<Arc<ReplicaSet>> = rss;
        old.sort_by_key(|r| (revision(r), r.name_any()));
        let (mut new_rs, created_new) = self.current_replica_set(ctx, d, &plan, new_rs, &old).await;
        if let Some(n) = new_rs.clone() {
            if !plan.paused {
                new_rs = self.roll(ctx, d, &plan, n, &mut old).await;
            } else if old.iter().all(|r| spec_replicas(r) == 0) && spec_replicas(&n) != plan.desired
            {
                new_rs = self
                    .scale(ctx, d, &n, plan.desired, json!({}))
                    .await
                    .or(new_rs);
            }
        }
        self.prune_history(ctx, d, &old).await;
        if let Some(n) = &new_rs {
            annotate_revision(ctx, d, n).await;
        }
        self.write_deployment_status(
            ctx,
            d,
            new_rs.as_deref(),
            &old,
            plan.desired,
            plan.unavailable,
            plan.paused,
            created_new,
        )
        .await
    }

    /// The ReplicaSet of the current template: created when there is none (the name it was
    /// created under is returned too), or promoted to the newest revision when the template
    /// went back to an older one (a rollback).
    async fn current_replica_set(
        &mut self,
        ctx: &Ctx,
        d: &Deployment,
        plan: &Plan,
        new_rs: Option<Arc<ReplicaSet>>,
        old: &[Arc<ReplicaSet>],
    ) -> (Option<Arc<ReplicaSet>>, Option<String>) {
        match new_rs {
            None if !plan.paused => match self.create_replica_set(ctx, d, plan, old).await {
                Some(rs) => {
                    let name = rs.name_any();
                    (Some(rs), Some(name))
                }
                None => (None, None),
            },
            Some(n) if revision(&n) < plan.max_rev && !plan.paused => {
                let promoted = self
                    .scale(
                        ctx,
                        d,
                        &n,
                        spec_replicas(&n),
                        json!({REVISION: (plan.max_rev + 1).to_string()}),
                    )
                    .await;
                (promoted.or(Some(n)), None)
            }
            other => (other, None),
        }
    }

    /// Creates `<name>-<pod-template-hash>` for the current template, starting with as many
    /// replicas as maxSurge allows beside the old ones.
    async fn create_replica_set(
        &mut self,
        ctx: &Ctx,
        d: &Deployment,
        plan: &Plan,
        old: &[Arc<ReplicaSet>],
    ) -> Option<Arc<ReplicaSet>> {
        let spec = d.spec.clone().unwrap_or_default();
        let (desired, surge) = (plan.desired, plan.surge);
        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = pod_template_hash(&plan.template, collision);
        let name = format!("{}-{hash}", d.name_any());
        let old_total: i32 = old.iter().map(|r| spec_replicas(r)).sum();
        let initial = if old_total == 0 {
            desired
        } else if plan.recreate {
            0
        } else {
            (desired + surge - old_total).clamp(0, desired)
        };
        let mut t = serde_json::to_value(&spec.template).unwrap_or_default();
        t["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let mut selector = serde_json::to_value(&spec.selector).unwrap_or_default();
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": name, "namespace": plan.ns, "labels": t["metadata"]["labels"].clone(),
                "annotations": {REVISION: (plan.max_rev + 1).to_string(), "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                                "deployment.kubernetes.io/max-replicas": (desired + surge).to_string()},
                "ownerReferences": owner_ref(d),
            },
            "spec": {"replicas": initial, "minReadySeconds": spec.min_ready_seconds.unwrap_or(0), "selector": selector, "template": t},
        });
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &plan.ns);
        if let Err(e) = create_json(&api, rs).await {
            tracing::debug!(error = %e, "replica set not created");
            return None;
        }
        let got = api.get(&name).await.ok()?;
        if initial > 0 {
            ctx.events.normal(
                COMPONENT,
                Involved::of(d),
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {initial}"),
            );
        }
        Some(self.remember(got))
    }

    /// One step of the rollout towards the new ReplicaSet `n` (Recreate or RollingUpdate).
    async fn roll(
        &mut self,
        ctx: &Ctx,
        d: &Deployment,
        plan: &Plan,
        n: Arc<ReplicaSet>,
        old: &mut [Arc<ReplicaSet>],
    ) -> Option<Arc<ReplicaSet>> {
        let anns = json!({"deployment.kubernetes.io/desired-replicas": plan.desired.to_string(),
                          "deployment.kubernetes.io/max-replicas": (plan.desired + plan.surge).to_string()});
        if plan.recreate {
            return self.recreate(ctx, d, plan, n, old, anns).await;
        }
        // Scale the new ReplicaSet up within maxSurge.
        let old_total: i32 = old.iter().map(|r| spec_replicas(r)).sum();
        let total = old_total + spec_replicas(&n);
        let cur = spec_replicas(&n);
        let desired = plan.desired;
        let target = if cur > desired {
            desired
        } else {
            cur + (desired + plan.surge - total).max(0).min(desired - cur)
        };
        let mut new_rs = Some(n.clone());
        if target != cur {
            new_rs = self.scale(ctx, d, &n, target, anns).await.or(new_rs);
        }
        let n2 = new_rs.clone().unwrap_or(n);
        self.scale_down_old(ctx, d, plan, &n2, old).await;
        new_rs
    }

    /// Recreate: every old ReplicaSet to zero, and the new one to `desired` once their pods
    /// are gone.
    async fn recreate(
        &mut self,
        ctx: &Ctx,
        d: &Deployment,
        plan: &Plan,
        n: Arc<ReplicaSet>,
        old: &mut [Arc<ReplicaSet>],
        anns: Value,
    ) -> Option<Arc<ReplicaSet>> {
        let old_total: i32 = old.iter().map(|r| spec_replicas(r)).sum();
        for r in old.iter_mut() {
            if spec_replicas(r) > 0
                && let Some(u) = self.scale(ctx, d, r, 0, json!({})).await
            {
                *r = u;
            }
        }
        let old_running: i32 = old.iter().map(|r| status_of(r).0).sum();
        let new_rs = Some(n.clone());
        if old_total == 0 && old_running == 0 && spec_replicas(&n) != plan.desired {
            return self.scale(ctx, d, &n, plan.desired, anns).await.or(new_rs);
        }
        new_rs
    }

    /// Scales old ReplicaSets down within maxUnavailable: unhealthy pods first, then
    /// available ones while the minimum stays available.
    async fn scale_down_old(
        &mut self,
        ctx: &Ctx,
        d: &Deployment,
        plan: &Plan,
        n2: &ReplicaSet,
        old: &mut [Arc<ReplicaSet>],
    ) {
        let all_total = old.iter().map(|r| spec_replicas(r)).sum::<i32>() + spec_replicas(n2);
        let min_available = plan.desired - plan.unavailable;
        let new_unavailable = spec_replicas(n2) - status_of(n2).2;
        let mut budget = all_total - min_available - new_unavailable;
        for pass in 0..2 {
            for r in old.iter_mut() {
                if budget <= 0 {
                    break;
                }
                let reps = spec_replicas(r);
                let (_, _, avail) = status_of(r);
                let cut = if pass == 0 {
                    (reps - avail).max(0)
                } else {
                    reps
                };
                let cut = cut.min(budget);
                if cut > 0
                    && let Some(u) = self.scale(ctx, d, r, reps - cut, json!({})).await
                {
                    budget -= cut;
                    *r = u;
                }
            }
            if pass == 0 {
                let available_total: i32 =
                    old.iter().map(|o| status_of(o).2).sum::<i32>() + status_of(n2).2;
                budget = budget.min(available_total - min_available);
            }
        }
    }

    /// Deletes the oldest fully scaled-down ReplicaSets beyond `revisionHistoryLimit`.
    async fn prune_history(&mut self, ctx: &Ctx, d: &Deployment, old: &[Arc<ReplicaSet>]) {
        let spec = d.spec.clone().unwrap_or_default();
        let ns = d.namespace().unwrap_or_default();
        let limit = spec.revision_history_limit.unwrap_or(10).max(0) as usize;
        let dead: Vec<&Arc<ReplicaSet>> = old
            .iter()
            .filter(|r| spec_replicas(r) == 0 && status_of(r).0 == 0)
            .collect();
        if dead.len() <= limit {
            return;
        }
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        for r in dead.iter().take(dead.len() - limit) {
            let dp = DeleteParams {
                propagation_policy: Some(kube::api::PropagationPolicy::Background),
                ..Default::default()
            };
            if api.delete(&r.name_any(), &dp).await.is_ok() {
                self.written.remove(&(ns.clone(), r.name_any()));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_deployment_status(
        &self,
        ctx: &Ctx,
        d: &Deployment,
        new_rs: Option<&ReplicaSet>,
        old: &[Arc<ReplicaSet>],
        desired: i32,
        unavailable: i32,
        paused: bool,
        created_new: Option<String>,
    ) -> Option<Instant> {
        let all: Vec<&ReplicaSet> = old.iter().map(|r| r.as_ref()).chain(new_rs).collect();
        let replicas: i32 = all.iter().map(|r| status_of(r).0).sum();
        let ready: i32 = all.iter().map(|r| status_of(r).1).sum();
        let available: i32 = all.iter().map(|r| status_of(r).2).sum();
        let updated = new_rs.map(|r| status_of(r).0).unwrap_or(0);
        let old_pods: i32 = old.iter().map(|r| status_of(r).0).sum();
        let now = now_ts();
        let min_ok = available >= desired - unavailable;
        let avail_cond = if min_ok {
            json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."})
        } else {
            json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
        };
        let rs_name = new_rs.map(|r| r.name_any()).unwrap_or_default();
        let complete = new_rs.is_some()
            && updated == desired
            && replicas == desired
            && available == desired
            && old_pods == 0;
        let prev = d
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Progressing"))
            .cloned();
        let deadline = d
            .spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds)
            .unwrap_or(600);
        let mut wake = None;
        let progressing = if paused {
            json!({"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused", "message": "Deployment is paused"})
        } else if let Some(n) = created_new {
            json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated", "message": format!("Created new replica set \"{n}\"")})
        } else if complete {
            json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed.")})
        } else {
            let since = prev
                .as_ref()
                .and_then(|c| c.last_update_time.as_ref())
                .map(|t| crate::clock::from_k8s(&t.0));
            let limit = ctx.clock.real(Duration::from_secs(deadline.max(0) as u64));
            let expired = since.is_some_and(|s| {
                ctx.clock.wall_now() - s > chrono::Duration::from_std(limit).unwrap_or_default()
            });
            if expired
                || prev
                    .as_ref()
                    .is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
            {
                json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": format!("ReplicaSet \"{rs_name}\" has timed out progressing.")})
            } else {
                if let Some(s) = since {
                    wake = Some(
                        ctx.clock
                            .instant_at(s + chrono::Duration::from_std(limit).unwrap_or_default())
                            + Duration::from_millis(50),
                    );
                }
                json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet \"{rs_name}\" is progressing.")})
            }
        };
        let mut conditions = json!([avail_cond, progressing]);
        for c in conditions.as_array_mut().into_iter().flatten() {
            c["lastUpdateTime"] = json!(now);
            c["lastTransitionTime"] = json!(now);
        }
        let current = d.status.as_ref().and_then(|s| serde_json::to_value(s).ok());
        keep_transition_times(
            current.as_ref().and_then(|c| c.get("conditions")),
            &mut conditions,
        );
        // New pods updated or available count as progress: the deadline restarts from now.
        let st = d.status.as_ref();
        let progressed = st.is_none_or(|s| {
            s.updated_replicas != Some(updated) || s.available_replicas != Some(available)
        });
        if progressed
            && let Some(p) = conditions
                .as_array_mut()
                .and_then(|cs| cs.iter_mut().find(|c| c["type"] == "Progressing"))
        {
            p["lastUpdateTime"] = json!(now);
        }
        let mut status = json!({
            "observedGeneration": d.metadata.generation.unwrap_or(0),
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": (desired - available).max(0),
            "conditions": conditions,
        });
        if let Some(c) = d.status.as_ref().and_then(|s| s.collision_count) {
            status["collisionCount"] = json!(c);
        }
        let api: Api<Deployment> =
            Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
        write_status(&api, d, current, status).await;
        wake
    }
}

impl Reconcile for Deployments {
    const NAME: &'static str = "deployment";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let mut by_owner: HashMap<String, Vec<Arc<ReplicaSet>>> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for rs in ctx.replicasets.state() {
            let key = (rs.namespace().unwrap_or_default(), rs.name_any());
            let newer = self.written.get(&key).filter(|w| {
                let rv = |r: &ReplicaSet| {
                    r.resource_version()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                w.uid() == rs.uid() && rv(w) > rv(&rs)
            });
            let rs = newer.cloned().unwrap_or(rs);
            seen.insert(key);
            if let Some(uid) = controller_uid(rs.as_ref()) {
                by_owner.entry(uid.to_string()).or_default().push(rs);
            }
        }
        // Written ReplicaSets the store has not shown yet still count.
        for (key, rs) in &self.written {
            if !seen.contains(key)
                && let Some(uid) = controller_uid(rs.as_ref())
            {
                by_owner
                    .entry(uid.to_string())
                    .or_default()
                    .push(rs.clone());
            }
        }
        let mut deps = ctx.deployments.state();
        deps.sort_by_key(|d| (d.namespace(), d.name_any()));
        let mut next: Option<Instant> = None;
        for d in deps {
            if d.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let rss = by_owner
                .remove(&d.uid().unwrap_or_default())
                .unwrap_or_default();
            if let Some(at) = self.reconcile(ctx, &d, rss).await {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        // Forget written copies once the store caught up.
        let store: HashMap<(String, String), u64> = ctx
            .replicasets
            .state()
            .iter()
            .map(|r| {
                (
                    (r.namespace().unwrap_or_default(), r.name_any()),
                    r.resource_version()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                )
            })
            .collect();
        self.written.retain(|k, w| {
            let wrv: u64 = w
                .resource_version()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            store.get(k).is_none_or(|rv| *rv < wrv)
        });
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_rounds_up_unavailable_rounds_down() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(resolve(Some(&pct("25%")), 10, true, 0), 3);
        assert_eq!(resolve(Some(&pct("25%")), 10, false, 0), 2);
        assert_eq!(resolve(Some(&IntOrString::Int(4)), 10, false, 0), 4);
        assert_eq!(resolve(Some(&pct("x%")), 10, false, 7), 7);
        assert_eq!(resolve(None, 10, false, 1), 1);
    }

    #[test]
    fn template_comparison_ignores_the_hash_label() {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "web-abc"},
            "spec": {"selector": {}, "template": {"metadata": {"labels": {"app": "web", HASH_LABEL: "abc"}}, "spec": {"containers": [{"name": "c"}]}}},
        }))
        .unwrap();
        let template = canonical(
            &json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}),
        );
        assert_eq!(template_without_hash(&rs), template);
    }
}
