//! Renders a [`PodView`] as the pod `status` the kubelet reports.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::ResourceExt;
use serde_json::{Value, json};

use super::model::{ContainerView, Exit, PodView, State};
use crate::hash::fnv64a;

/// Where the timeline is anchored: the real time the kubelet took the pod, and the scale.
#[derive(Clone, Copy, Debug)]
pub struct Anchor {
    /// Real wall-clock time of offset zero.
    pub wall: DateTime<Utc>,
    /// Simulated seconds per real second.
    pub scale: f64,
}

impl Anchor {
    /// The real wall-clock time of a simulated offset.
    pub fn at(&self, offset: Duration) -> DateTime<Utc> {
        self.wall + chrono::Duration::microseconds((offset.as_secs_f64() / self.scale * 1e6) as i64)
    }

    fn ts(&self, offset: Duration) -> String {
        self.at(offset).to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// A stable fake image digest.
pub fn image_id(image: &str) -> String {
    let h = fnv64a(image.as_bytes());
    let full = if image.contains('/') {
        image.to_string()
    } else {
        format!("docker.io/library/{image}")
    };
    let repo = full.split(['@', ':']).next().unwrap_or(&full).to_string();
    format!(
        "{repo}@sha256:{h:016x}{:016x}{h:016x}{:016x}",
        h.rotate_left(17),
        h.rotate_left(31)
    )
}

/// A stable fake container id for one instance of a container.
pub fn container_id(pod_uid: &str, name: &str, restart: u32) -> String {
    let a = fnv64a(format!("{pod_uid}/{name}/{restart}").as_bytes());
    format!(
        "containerd://{a:016x}{:016x}{:016x}{:016x}",
        a.rotate_left(7),
        a.rotate_left(23),
        a.rotate_left(41)
    )
}

fn terminated(a: &Anchor, e: &Exit, id: &str) -> Value {
    json!({"exitCode": e.code, "reason": e.reason(), "startedAt": a.ts(e.started), "finishedAt": a.ts(e.finished), "containerID": id})
}

fn waiting_message(
    pod: &Pod,
    c: &Container,
    reason: &str,
    backoff: Option<Duration>,
) -> Option<String> {
    let image = c.image.as_deref().unwrap_or("");
    match reason {
        "ErrImagePull" => Some(pull_error(image)),
        "ImagePullBackOff" => Some(format!("Back-off pulling image \"{image}\"")),
        "CrashLoopBackOff" => Some(format!(
            "back-off {} restarting failed container={} pod={}_{}({})",
            go_duration(backoff.unwrap_or_default()),
            c.name,
            pod.name_any(),
            pod.namespace().unwrap_or_default(),
            pod.uid().unwrap_or_default()
        )),
        _ => None,
    }
}

/// The kubelet's message for an image that does not exist.
pub fn pull_error(image: &str) -> String {
    let full = if image.contains('/') {
        image.to_string()
    } else {
        format!("docker.io/library/{image}")
    };
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
    )
}

/// A duration the way Go prints it (`10s`, `5m0s`).
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn container_status(pod: &Pod, c: &Container, v: &ContainerView, a: &Anchor, uid: &str) -> Value {
    let image = c.image.clone().unwrap_or_default();
    let id = container_id(uid, &c.name, v.restart_count);
    let state = match &v.state {
        State::Waiting { reason, backoff } => {
            let mut w = json!({"reason": reason});
            if let Some(m) = waiting_message(pod, c, reason, *backoff) {
                w["message"] = json!(m);
            }
            json!({"waiting": w})
        }
        State::Running { since } => json!({"running": {"startedAt": a.ts(*since)}}),
        State::Terminated(e) => json!({"terminated": terminated(a, e, &id)}),
    };
    let last = match &v.last {
        Some(e) => {
            json!({"terminated": terminated(a, e, &container_id(uid, &c.name, v.restart_count.saturating_sub(1)))})
        }
        None => json!({}),
    };
    let pulled = v.has_run();
    let mut s = json!({
        "name": c.name,
        "state": state,
        "lastState": last,
        "ready": v.ready,
        "restartCount": v.restart_count,
        "image": image,
        "imageID": if pulled { image_id(&image) } else { String::new() },
        "started": matches!(v.state, State::Running { .. }),
    });
    if pulled {
        s["containerID"] = json!(id);
    }
    s
}

fn condition(
    ty: &str,
    ok: bool,
    at: String,
    reason: Option<&str>,
    message: Option<String>,
) -> Value {
    let mut c = json!({"type": ty, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": at});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// The QoS class of a pod, from its requests and limits.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = &pod.spec else {
        return "BestEffort";
    };
    let mut any = false;
    let mut guaranteed = true;
    for c in &spec.containers {
        let r = c.resources.as_ref();
        let req = r.and_then(|r| r.requests.as_ref());
        let lim = r.and_then(|r| r.limits.as_ref());
        if req.is_some_and(|m| !m.is_empty()) || lim.is_some_and(|m| !m.is_empty()) {
            any = true;
        }
        for k in ["cpu", "memory"] {
            let l = lim.and_then(|m| m.get(k));
            let q = req.and_then(|m| m.get(k)).or(l);
            if l.is_none() || q != l {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The full pod `status` for a view.
pub fn render(
    pod: &Pod,
    view: &PodView,
    a: &Anchor,
    host_ip: &str,
    pod_ip: Option<&str>,
    scheduled_at: &str,
) -> Value {
    let uid = pod.uid().unwrap_or_default();
    let empty = Vec::new();
    let spec = pod.spec.as_ref();
    let inits = spec
        .and_then(|s| s.init_containers.as_ref())
        .unwrap_or(&empty);
    let mains = spec.map(|s| &s.containers).unwrap_or(&empty);
    let init_statuses: Vec<Value> = inits
        .iter()
        .zip(&view.init)
        .map(|(c, v)| container_status(pod, c, v, a, &uid))
        .collect();
    let statuses: Vec<Value> = mains
        .iter()
        .zip(&view.containers)
        .map(|(c, v)| container_status(pod, c, v, a, &uid))
        .collect();
    let mut status = json!({
        "phase": view.phase,
        "conditions": conditions(inits, mains, view, a, scheduled_at),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": a.ts(Duration::ZERO),
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
    });
    if let Some(ip) = pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    status
}

/// The pod's conditions, as the kubelet sets them: ready to start containers, initialized,
/// ready and containers ready (with the names of what is not), scheduled.
fn conditions(
    inits: &[Container],
    mains: &[Container],
    view: &PodView,
    a: &Anchor,
    scheduled_at: &str,
) -> Vec<Value> {
    let done = matches!(view.phase, "Succeeded" | "Failed");
    let not_ready: Vec<&str> = mains
        .iter()
        .zip(&view.containers)
        .filter(|(_, v)| !v.ready)
        .map(|(c, _)| c.name.as_str())
        .collect();
    let all_ready = not_ready.is_empty() && !mains.is_empty();
    let ready_at = if done {
        view.containers
            .iter()
            .filter_map(|v| v.finished().map(|e| e.finished))
            .max()
            .unwrap_or_default()
    } else {
        view.containers
            .iter()
            .filter(|v| v.ready == all_ready)
            .map(|v| v.ready_since)
            .max()
            .unwrap_or_default()
    };
    let (ready_reason, ready_msg) = if done {
        (Some("PodCompleted"), None)
    } else if all_ready {
        (None, None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                not_ready.join(" ")
            )),
        )
    };
    let incomplete: Vec<&str> = inits
        .iter()
        .zip(&view.init)
        .filter(|(_, v)| v.finished().is_none_or(|e| e.code != 0))
        .map(|(c, _)| c.name.as_str())
        .collect();
    let initialized = view.initialized_at.is_some();
    vec![
        condition(
            "PodReadyToStartContainers",
            !done,
            a.ts(Duration::ZERO),
            None,
            None,
        ),
        condition(
            "Initialized",
            initialized,
            a.ts(view.initialized_at.unwrap_or_default()),
            (!initialized).then_some("ContainersNotInitialized"),
            (!initialized).then(|| {
                format!(
                    "containers with incomplete status: [{}]",
                    incomplete.join(" ")
                )
            }),
        ),
        condition(
            "Ready",
            all_ready && !done,
            a.ts(ready_at),
            ready_reason,
            ready_msg.clone(),
        ),
        condition(
            "ContainersReady",
            all_ready && !done,
            a.ts(ready_at),
            ready_reason,
            ready_msg,
        ),
        json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": scheduled_at}),
    ]
}
