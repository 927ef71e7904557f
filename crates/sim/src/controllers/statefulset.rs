//! StatefulSet: pods `<name>-0..n-1` with stable names, created in order (OrderedReady waits
//! for each to be Running and Ready) or all at once (Parallel), PVCs `<template>-<name>-<i>` from
//! volumeClaimTemplates, scale-down from the highest ordinal, rolling updates by revision hash.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{
    create_json, is_active, is_ready, owner_ref, pod_from_template, pods_by_owner, write_status,
};
use crate::engine::{Ctx, Reconcile};
use crate::events::Involved;
use crate::hash::{canonical, pod_template_hash};

const COMPONENT: &str = "statefulset-controller";

/// StatefulSet controller state.
#[derive(Default)]
pub(crate) struct StatefulSets {
    created: std::collections::HashMap<String, Instant>,
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
        let mut next = None;
        for set in sets {
            if set.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let ns = set.namespace().unwrap_or_default();
            let name = set.name_any();
            let spec = set.spec.clone().unwrap_or_default();
            let replicas = spec.replicas.unwrap_or(1).max(0);
            let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
            let revision = format!(
                "{name}-{}",
                pod_template_hash(
                    &canonical(&serde_json::to_value(&spec.template).unwrap_or_default()),
                    None
                )
            );
            let empty = Vec::new();
            let owned: Vec<&Arc<Pod>> = by_owner
                .get(&set.uid().unwrap_or_default())
                .unwrap_or(&empty)
                .iter()
                .collect();
            let mut by_ord: std::collections::BTreeMap<i32, &Arc<Pod>> = owned
                .iter()
                .filter_map(|p| ordinal(&p.name_any(), &name).map(|o| (o, *p)))
                .collect();
            let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
            let mut blocked = false;
            for i in 0..replicas {
                let pod_name = format!("{name}-{i}");
                match by_ord.get(&i) {
                    Some(p) => {
                        if !(parallel || is_active(p) && is_ready(p)) {
                            blocked = true;
                            break;
                        }
                    }
                    None => {
                        if self.created.contains_key(&format!("{ns}/{pod_name}")) {
                            blocked = !parallel;
                            if blocked { break } else { continue }
                        }
                        for tpl in spec.volume_claim_templates.iter().flatten() {
                            let tname = tpl.metadata.name.clone().unwrap_or_default();
                            let mut claim = serde_json::to_value(tpl).unwrap_or_default();
                            claim["apiVersion"] = json!("v1");
                            claim["kind"] = json!("PersistentVolumeClaim");
                            claim["metadata"] = json!({"name": format!("{tname}-{pod_name}"), "namespace": ns,
                                "labels": spec.selector.match_labels.clone().unwrap_or_default()});
                            if let Some(st) = claim.as_object_mut() {
                                st.remove("status");
                            }
                            if let Err(e) = create_json(&claims_api, claim).await {
                                tracing::debug!(error = %e, "claim not created");
                            }
                        }
                        let mut template = spec.template.clone();
                        if let Some(ps) = template.spec.as_mut() {
                            ps.hostname = Some(pod_name.clone());
                            ps.subdomain = Some(spec.service_name.clone().unwrap_or_default())
                                .filter(|s| !s.is_empty());
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
                            ("controller-revision-hash", revision.clone()),
                        ];
                        let pod = pod_from_template(
                            &template,
                            &ns,
                            owner_ref(set.as_ref()),
                            Some(&pod_name),
                            None,
                            &labels,
                        );
                        match create_json(&pods_api, pod).await {
                            Ok(_) => {
                                let msg = format!(
                                    "create Pod {pod_name} in StatefulSet {name} successful"
                                );
                                ctx.events.normal(
                                    COMPONENT,
                                    Involved::of(set.as_ref()),
                                    "SuccessfulCreate",
                                    msg,
                                );
                                self.created
                                    .insert(format!("{ns}/{pod_name}"), Instant::now());
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "stateful pod not created");
                                next = Some(Instant::now() + Duration::from_secs(2));
                            }
                        }
                        if !parallel {
                            blocked = true;
                            break;
                        }
                    }
                }
            }
            // Scale down from the highest ordinal, one at a time unless Parallel.
            let extra: Vec<i32> = by_ord
                .keys()
                .rev()
                .copied()
                .filter(|o| *o >= replicas)
                .collect();
            for o in extra.iter().take(if parallel { usize::MAX } else { 1 }) {
                if let Some(p) = by_ord.remove(o)
                    && p.metadata.deletion_timestamp.is_none()
                    && pods_api
                        .delete(&p.name_any(), &DeleteParams::default())
                        .await
                        .is_ok()
                {
                    let msg = format!(
                        "delete Pod {} in StatefulSet {name} successful",
                        p.name_any()
                    );
                    ctx.events.normal(
                        COMPONENT,
                        Involved::of(set.as_ref()),
                        "SuccessfulDelete",
                        msg,
                    );
                }
            }
            // Rolling update: replace the highest outdated pod once everything is ready.
            let on_delete = spec
                .update_strategy
                .as_ref()
                .and_then(|u| u.type_.as_deref())
                == Some("OnDelete");
            let all_ready = by_ord.len() as i32 == replicas && by_ord.values().all(|p| is_ready(p));
            if !on_delete
                && !blocked
                && all_ready
                && let Some(p) = by_ord
                    .values()
                    .rev()
                    .find(|p| p.labels().get("controller-revision-hash") != Some(&revision))
            {
                let _ = pods_api
                    .delete(&p.name_any(), &DeleteParams::default())
                    .await;
            }
            let current: Vec<&&Arc<Pod>> = by_ord.values().filter(|p| is_active(p)).collect();
            let updated = current
                .iter()
                .filter(|p| p.labels().get("controller-revision-hash") == Some(&revision))
                .count();
            let ready = current.iter().filter(|p| is_ready(p)).count();
            let status = json!({
                "observedGeneration": set.metadata.generation.unwrap_or(0),
                "replicas": current.len(),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "currentReplicas": updated,
                "updatedReplicas": updated,
                "currentRevision": revision,
                "updateRevision": revision,
                "collisionCount": 0,
            });
            let current_status = set
                .status
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok());
            let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
            write_status(&api, set.as_ref(), current_status, status).await;
        }
        next
    }
}
