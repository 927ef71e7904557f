//! The kubelet simulation: for every pod bound to a simulated node, evaluates the pod's
//! timeline ([`model`]) and reports its status ([`status`]), pod IPs from the node's pod CIDR,
//! container events, and graceful termination of deleted pods.

pub mod model;
pub mod status;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use crate::conventions;
use crate::engine::{CreationOrder, Ctx, NextWake, Reconcile};
use crate::events::Involved;
use crate::nodes::is_simulated;
use crate::patch::merge_diff;
use model::{ContainerView, State};
use status::Anchor;

/// What the kubelet remembers about a pod it runs.
struct PodRun {
    anchor: Anchor,
    node: String,
    ip: Option<String>,
    ip_index: Option<u8>,
    resource_version: String,
    written: Option<Value>,
    next: Option<Instant>,
    seen: Vec<(u32, &'static str)>,
    finalize_at: Option<Instant>,
}

/// Kubelet state between passes.
#[derive(Default)]
pub(crate) struct Kubelet {
    runs: HashMap<String, PodRun>,
    ips: HashMap<String, BTreeSet<u8>>,
    order: CreationOrder,
}

struct NodeNet {
    host_ip: String,
    cidr_prefix: Option<String>,
}

fn kind_of(v: &ContainerView) -> &'static str {
    match &v.state {
        State::Waiting {
            reason: "ErrImagePull",
            ..
        } => "pull-error",
        State::Waiting {
            reason: "ImagePullBackOff",
            ..
        } => "pull-backoff",
        State::Waiting {
            reason: "CrashLoopBackOff",
            ..
        } => "crash-backoff",
        State::Waiting { .. } => "waiting",
        State::Running { .. } => "running",
        State::Terminated(_) => "terminated",
    }
}

impl Kubelet {
    fn allocate_ip(&mut self, node: &str, prefix: &str) -> Option<(String, u8)> {
        let used = self.ips.entry(node.to_string()).or_default();
        let free = (2u8..=254).find(|i| !used.contains(i))?;
        used.insert(free);
        Some((format!("{prefix}{free}"), free))
    }

    /// Emits the events for a container moving from `before` to `now`.
    fn container_events(
        ctx: &Ctx,
        pod: &Pod,
        node: &str,
        c: &Container,
        field: String,
        before: (u32, &str),
        v: &ContainerView,
    ) {
        let now = (v.restart_count, kind_of(v));
        if now == before {
            return;
        }
        let image = c.image.clone().unwrap_or_default();
        let at = || Involved::of(pod).field(field.clone());
        let ev = |warning: bool, reason: &str, msg: String| {
            ctx.events.kubelet(node, at(), warning, reason, msg)
        };
        let ran = |k: &str| matches!(k, "running" | "terminated" | "crash-backoff");
        match now.1 {
            k if ran(k) && (before.0 < now.0 || !ran(before.1)) => {
                if before.0 == 0 && now.0 == 0 && c.image_pull_policy.as_deref() == Some("Always") {
                    ev(false, "Pulling", format!("Pulling image \"{image}\""));
                    ev(
                        false,
                        "Pulled",
                        format!(
                            "Successfully pulled image \"{image}\" in 1s (1s including waiting). Image size: 0 bytes."
                        ),
                    );
                } else {
                    ev(
                        false,
                        "Pulled",
                        format!("Container image \"{image}\" already present on machine"),
                    );
                }
                ev(false, "Created", format!("Created container: {}", c.name));
                ev(false, "Started", format!("Started container {}", c.name));
                if now.1 == "crash-backoff" {
                    ev(true, "BackOff", backoff_message(pod, c));
                }
            }
            "crash-backoff" => ev(true, "BackOff", backoff_message(pod, c)),
            "pull-error" => {
                ev(false, "Pulling", format!("Pulling image \"{image}\""));
                ev(
                    true,
                    "Failed",
                    format!(
                        "Failed to pull image \"{image}\": {}",
                        status::pull_error(&image)
                    ),
                );
                ev(true, "Failed", "Error: ErrImagePull".into());
            }
            "pull-backoff" => {
                ev(
                    false,
                    "BackOff",
                    format!("Back-off pulling image \"{image}\""),
                );
                ev(true, "Failed", "Error: ImagePullBackOff".into());
            }
            _ => {}
        }
    }
}

fn backoff_message(pod: &Pod, c: &Container) -> String {
    format!(
        "Back-off restarting failed container {} in pod {}_{}({})",
        c.name,
        pod.name_any(),
        pod.namespace().unwrap_or_default(),
        pod.uid().unwrap_or_default()
    )
}

impl Reconcile for Kubelet {
    const NAME: &'static str = "kubelet";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let nets = node_nets(ctx);
        let mut live = HashSet::new();
        let mut mine: Vec<_> = ctx
            .pods
            .state()
            .into_iter()
            .filter(|p| {
                live.insert(p.uid().unwrap_or_default());
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_ref())
                    .is_some_and(|n| nets.contains_key(n))
            })
            .map(|p| (self.order.key(p.as_ref()), p))
            .collect();
        mine.sort_by(|a, b| a.0.cmp(&b.0));
        let mut work = Work {
            now: Instant::now(),
            now_wall: ctx.clock.wall_now(),
            writes: Vec::new(),
            deletes: Vec::new(),
            wake: NextWake::default(),
        };
        for (_, pod) in mine {
            let node = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            if let Some(net) = nets.get(&node) {
                self.sync_pod(ctx, &pod, &node, net, &mut work);
            }
        }
        self.forget_gone(&live);
        self.write_statuses(ctx, &mut work).await;
        finalize(ctx, &work.deletes).await;
        work.wake.get()
    }
}

/// What one kubelet pass decided: status patches and final deletions to send, and when to
/// run next.
struct Work {
    now: Instant,
    now_wall: chrono::DateTime<chrono::Utc>,
    writes: Vec<(Arc<Pod>, Value)>,
    deletes: Vec<Arc<Pod>>,
    wake: NextWake,
}

/// The simulated nodes' host IPs and pod CIDR prefixes.
fn node_nets(ctx: &Ctx) -> HashMap<String, NodeNet> {
    ctx.nodes
        .state()
        .iter()
        .filter(|n| is_simulated(n))
        .map(|n| {
            let addr = n
                .status
                .as_ref()
                .and_then(|s| s.addresses.as_ref())
                .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"));
            let cidr = n.spec.as_ref().and_then(|s| s.pod_cidr.as_deref());
            let prefix = cidr
                .and_then(|c| c.strip_suffix(".0/24"))
                .map(|p| format!("{p}."));
            (
                n.name_any(),
                NodeNet {
                    host_ip: addr.map(|a| a.address.clone()).unwrap_or_default(),
                    cidr_prefix: prefix,
                },
            )
        })
        .collect()
}

impl Kubelet {
    /// One pod on one of the simulated nodes: starts running it the first time it is seen,
    /// finishes it when it is being deleted, and otherwise renders its status at the current
    /// simulated time (events for container changes, a patch when the status changed).
    fn sync_pod(&mut self, ctx: &Ctx, pod: &Arc<Pod>, node: &str, net: &NodeNet, work: &mut Work) {
        let uid = pod.uid().unwrap_or_default();
        if !self.runs.contains_key(&uid) {
            self.start_run(ctx, pod, node, net, work);
        }
        let Some(run) = self.runs.get_mut(&uid) else {
            return;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            terminate(ctx, pod, node, run, work);
            return;
        }
        let rv = pod.resource_version().unwrap_or_default();
        if rv == run.resource_version && run.next.is_none_or(|n| n > work.now) {
            work.wake.at_opt(run.next);
            return;
        }
        run.resource_version = rv;
        let t = (work.now_wall - run.anchor.wall)
            .to_std()
            .map(|d| ctx.clock.sim(d))
            .unwrap_or_default();
        let view = model::pod_at(pod, t);
        record_container_events(ctx, pod, node, run, &view);
        let scheduled_at = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_ == "PodScheduled" && c.status == "True")
            })
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| crate::clock::from_k8s(&t.0))
            .unwrap_or(run.anchor.wall)
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let rendered = status::render(
            pod,
            &view,
            &run.anchor,
            &net.host_ip,
            run.ip.as_deref(),
            &scheduled_at,
        );
        let current = pod
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(json!({}));
        if run.written.as_ref() != Some(&rendered) {
            if let Some(diff) = merge_diff(&current, &rendered) {
                work.writes.push((pod.clone(), diff));
            }
            run.written = Some(rendered);
        }
        run.next = view
            .next_change
            .map(|off| ctx.clock.instant_at(run.anchor.at(off)));
        work.wake.at_opt(run.next);
    }

    /// Starts running a pod the kubelet has not seen: its IP (the host's, the one it already
    /// has after a restart, or a new one from the node's CIDR) and the time its simulated
    /// life is anchored at.
    fn start_run(&mut self, ctx: &Ctx, pod: &Pod, node: &str, net: &NodeNet, work: &Work) {
        let st = pod.status.as_ref();
        let prior_ip = st.and_then(|s| s.pod_ip.clone());
        let prior_start = st
            .and_then(|s| s.start_time.as_ref())
            .map(|t| crate::clock::from_k8s(&t.0));
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let (ip, ip_index) = if host_network {
            (Some(net.host_ip.clone()), None)
        } else if let (Some(ip), Some(_)) = (&prior_ip, prior_start) {
            let idx = ip.rsplit('.').next().and_then(|i| i.parse::<u8>().ok());
            if let Some(i) = idx {
                self.ips.entry(node.to_string()).or_default().insert(i);
            }
            (Some(ip.clone()), idx)
        } else {
            match net
                .cidr_prefix
                .as_deref()
                .and_then(|p| self.allocate_ip(node, p))
            {
                Some((ip, i)) => (Some(ip), Some(i)),
                None => (None, None),
            }
        };
        let anchor_wall = match (prior_ip, prior_start) {
            (Some(_), Some(t)) => t,
            _ => work.now_wall,
        };
        self.runs.insert(
            pod.uid().unwrap_or_default(),
            PodRun {
                anchor: Anchor {
                    wall: anchor_wall,
                    scale: ctx.clock.scale(),
                },
                node: node.to_string(),
                ip,
                ip_index,
                resource_version: String::new(),
                written: None,
                next: Some(work.now),
                seen: Vec::new(),
                finalize_at: None,
            },
        );
    }

    /// Drops the runs of pods that no longer exist and frees their IPs.
    fn forget_gone(&mut self, live: &HashSet<String>) {
        let gone: Vec<String> = self
            .runs
            .keys()
            .filter(|u| !live.contains(*u))
            .cloned()
            .collect();
        for uid in gone {
            if let Some(run) = self.runs.remove(&uid)
                && let Some(i) = run.ip_index
                && let Some(set) = self.ips.get_mut(&run.node)
            {
                set.remove(&i);
            }
        }
        self.order.retain(live);
    }

    /// Sends the status patches, 16 at a time; a failed one is retried in a second.
    async fn write_statuses(&mut self, ctx: &Ctx, work: &mut Work) {
        let client = ctx.client.clone();
        let writes = std::mem::take(&mut work.writes);
        let status_writes = futures::stream::iter(writes.into_iter().map(|(pod, diff)| {
            let api: Api<Pod> =
                Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
            async move {
                let patch = json!({"status": diff});
                let params = PatchParams::default();
                match api.patch_status(&pod.name_any(), &params, &Patch::Merge(&patch)).await {
                    Ok(_) => None,
                    Err(kube::Error::Api(s)) if s.code == 404 => None,
                    Err(e) => {
                        tracing::debug!(error = %e, pod = %pod.name_any(), "pod status not written");
                        pod.uid()
                    }
                }
            }
        }))
        .buffer_unordered(16)
        .collect::<Vec<Option<String>>>();
        let retry_at = work.now + Duration::from_secs(1);
        for uid in status_writes.await.into_iter().flatten() {
            if let Some(run) = self.runs.get_mut(&uid) {
                run.written = None;
                run.next = Some(retry_at);
                work.wake.at(retry_at);
            }
        }
    }
}

/// A pod being deleted: its containers are stopped (Killing events, once), and after the
/// shutdown delay the pod is finally deleted (retried every 5 s until it is gone).
fn terminate(ctx: &Ctx, pod: &Arc<Pod>, node: &str, run: &mut PodRun, work: &mut Work) {
    let now = work.now;
    let at = *run.finalize_at.get_or_insert_with(|| {
        let spec = pod.spec.as_ref();
        for c in spec.map(|s| s.containers.as_slice()).unwrap_or(&[]) {
            let msg = format!("Stopping container {}", c.name);
            ctx.events.kubelet(
                node,
                Involved::of(pod.as_ref()).field(format!("spec.containers{{{}}}", c.name)),
                false,
                "Killing",
                msg,
            );
        }
        now + ctx.clock.real(conventions::shutdown_delay(pod))
    });
    if now >= at {
        work.deletes.push(pod.clone());
        run.finalize_at = Some(now + Duration::from_secs(5));
    }
    work.wake.at_opt(run.finalize_at);
}

/// Events for what changed in each container since the last pass (init containers first).
fn record_container_events(
    ctx: &Ctx,
    pod: &Pod,
    node: &str,
    run: &mut PodRun,
    view: &model::PodView,
) {
    let spec = pod.spec.as_ref();
    let empty = Vec::new();
    let inits = spec
        .and_then(|s| s.init_containers.as_ref())
        .unwrap_or(&empty);
    let mains = spec.map(|s| &s.containers).unwrap_or(&empty);
    let fields = inits
        .iter()
        .map(|c| (c, format!("spec.initContainers{{{}}}", c.name)))
        .chain(
            mains
                .iter()
                .map(|c| (c, format!("spec.containers{{{}}}", c.name))),
        );
    let views: Vec<&ContainerView> = view.init.iter().chain(view.containers.iter()).collect();
    run.seen.resize(views.len(), (0, "waiting"));
    for (i, ((c, field), v)) in fields.zip(views.iter()).enumerate() {
        Kubelet::container_events(ctx, pod, node, c, field, run.seen[i], v);
        run.seen[i] = (v.restart_count, kind_of(v));
    }
}

/// Deletes pods whose containers have stopped (grace period 0: the kubelet's final delete).
async fn finalize(ctx: &Ctx, deletes: &[Arc<Pod>]) {
    for pod in deletes {
        let api: Api<Pod> =
            Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        if let Err(e) = api.delete(&pod.name_any(), &dp).await {
            tracing::debug!(error = %e, pod = %pod.name_any(), "pod not finalized");
        }
    }
}
