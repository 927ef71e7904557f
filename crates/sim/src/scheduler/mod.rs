//! The scheduler: binds pending pods (schedulerName `default-scheduler`, no `spec.nodeName`) to
//! the least allocated node that fits, in creation order, or marks them `Unschedulable` with a
//! `FailedScheduling` event.

pub mod fit;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::engine::{CreationOrder, Ctx, Reconcile};
use crate::events::Involved;
use fit::NodeInfo;

const COMPONENT: &str = "default-scheduler";

/// Scheduler state between passes.
#[derive(Default)]
pub(crate) struct Scheduler {
    /// Pods bound by us that the store does not show bound yet.
    assumed: HashMap<String, String>,
    /// Last unschedulable message written per pod uid.
    reported: HashMap<String, String>,
    order: CreationOrder,
    /// Whether `pods/binding` is served (learned from the first attempt).
    binding_served: Option<bool>,
}

fn is_pending(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let scheduler = spec
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or(COMPONENT);
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending");
    scheduler == COMPONENT
        && spec
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("")
            .is_empty()
        && pod.metadata.deletion_timestamp.is_none()
        && !matches!(phase, "Succeeded" | "Failed")
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The names of PVCs the pod mounts that are not Bound yet.
fn unbound_claims(ctx: &Ctx, pod: &Pod) -> bool {
    let ns = pod.namespace().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|v| {
            let Some(claim) = &v.persistent_volume_claim else {
                return false;
            };
            let key = kube::runtime::reflector::ObjectRef::new(&claim.claim_name).within(&ns);
            !ctx.pvcs.get(&key).is_some_and(|pvc| {
                pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
            })
        })
}

impl Scheduler {
    async fn bind(&mut self, ctx: &Ctx, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        let ns = pod.namespace().unwrap_or_default();
        let name = pod.name_any();
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        if self.binding_served != Some(false) {
            let body = json!({
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": name, "namespace": ns, "uid": pod.uid()},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            match api
                .create_subresource::<_, serde_json::Value>(
                    "binding",
                    &name,
                    &PostParams::default(),
                    &body,
                )
                .await
            {
                Ok(_) => {
                    self.binding_served = Some(true);
                    return Ok(());
                }
                Err(kube::Error::Api(s))
                    if s.code == 404
                        && s.message.contains("could not find the requested resource") =>
                {
                    tracing::info!("pods/binding is not served; binding by patching spec.nodeName");
                    self.binding_served = Some(false);
                }
                Err(kube::Error::Api(s)) if s.code == 405 => {
                    self.binding_served = Some(false);
                }
                Err(e) => return Err(e),
            }
        }
        let patch = json!({"spec": {"nodeName": node}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    async fn report_unschedulable(&mut self, ctx: &Ctx, pod: &Pod, message: String) {
        let uid = pod.uid().unwrap_or_default();
        if self.reported.get(&uid) == Some(&message) {
            return;
        }
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
            .and_then(|c| c.message.clone());
        if current.as_deref() != Some(message.as_str()) {
            let api: Api<Pod> =
                Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
            let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
            let patch = json!({"status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": message, "lastProbeTime": null, "lastTransitionTime": now,
            }]}});
            if let Err(e) = api
                .patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                tracing::debug!(error = %e, "unschedulable condition not written");
            }
            ctx.events.warning(
                COMPONENT,
                Involved::of(pod),
                "FailedScheduling",
                message.clone(),
            );
        }
        self.reported.insert(uid, message);
    }
}

impl Reconcile for Scheduler {
    const NAME: &'static str = "scheduler";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let mut nodes: Vec<_> = ctx
            .nodes
            .state()
            .into_iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .collect();
        nodes.sort_by_key(|n| n.name_any());
        let mut infos: Vec<NodeInfo> = nodes.iter().map(|n| NodeInfo::new(n)).collect();
        let index: HashMap<String, usize> = infos
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let pods = ctx.pods.state();
        let mut live = HashSet::new();
        let mut pending = Vec::new();
        for pod in &pods {
            let uid = pod.uid().unwrap_or_default();
            live.insert(uid.clone());
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty());
            if bound.is_some() {
                self.assumed.remove(&uid);
                self.reported.remove(&uid);
            }
            let node = bound.or_else(|| self.assumed.get(&uid).cloned());
            match node {
                Some(node) => {
                    if !is_terminal(pod)
                        && let Some(i) = index.get(&node)
                    {
                        infos[*i].add(pod);
                    }
                }
                None if is_pending(pod) => pending.push(pod.clone()),
                None => {}
            }
        }
        self.assumed.retain(|uid, _| live.contains(uid));
        self.reported.retain(|uid, _| live.contains(uid));
        self.order.retain(&live);
        let mut keyed: Vec<_> = pending
            .into_iter()
            .map(|p| (self.order.key(p.as_ref()), p))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut retry = None;
        for (_, pod) in keyed {
            if unbound_claims(ctx, &pod) {
                let msg = format!(
                    "0/{} nodes are available: pod has unbound immediate PersistentVolumeClaims.",
                    infos.len()
                );
                self.report_unschedulable(ctx, &pod, msg).await;
                continue;
            }
            match fit::choose(&pod, &infos) {
                Ok(i) => {
                    let node = infos[i].name.clone();
                    match self.bind(ctx, &pod, &node).await {
                        Ok(()) => {
                            infos[i].add(&pod);
                            self.assumed
                                .insert(pod.uid().unwrap_or_default(), node.clone());
                            let msg = format!(
                                "Successfully assigned {}/{} to {node}",
                                pod.namespace().unwrap_or_default(),
                                pod.name_any()
                            );
                            ctx.events.normal(
                                COMPONENT,
                                Involved::of(pod.as_ref()),
                                "Scheduled",
                                msg,
                            );
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, pod = %pod.name_any(), "binding failed");
                            retry = Some(Instant::now() + std::time::Duration::from_secs(1));
                        }
                    }
                }
                Err(message) => self.report_unschedulable(ctx, &pod, message).await,
            }
        }
        retry
    }
}
