//! kube-state-metrics' series (v2 names and labels) computed from the objects in the store:
//! pods, containers, nodes, deployments, replica sets and namespaces, so PromQL written for
//! real clusters (`kube_pod_status_phase`, `kube_pod_container_status_restarts_total`,
//! `kube_node_info`, …) works on the embedded one.

use apimachinery::quantity::Quantity;
use serde_json::Value;

use super::snapshot::{Labels, Snapshot};

const POD_PHASES: [&str; 5] = ["Pending", "Succeeded", "Failed", "Running", "Unknown"];
const NAMESPACE_PHASES: [&str; 2] = ["Active", "Terminating"];

/// The objects the series are computed from.
#[derive(Debug, Default)]
pub struct Objects {
    /// Pods.
    pub pods: Vec<Value>,
    /// Nodes.
    pub nodes: Vec<Value>,
    /// Deployments.
    pub deployments: Vec<Value>,
    /// ReplicaSets.
    pub replicasets: Vec<Value>,
    /// Namespaces.
    pub namespaces: Vec<Value>,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn unix(v: &Value) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.timestamp() as f64)
}

fn bool_label(status: &Value) -> [(&'static str, f64); 3] {
    let st = status.as_str().unwrap_or("Unknown");
    [
        ("true", f64::from(u8::from(st == "True"))),
        ("false", f64::from(u8::from(st == "False"))),
        (
            "unknown",
            f64::from(u8::from(st != "True" && st != "False")),
        ),
    ]
}

/// kube-state-metrics' `resource` and `unit` labels and the value of a quantity.
fn resource_unit(resource: &str, quantity: &Value) -> Option<(String, &'static str, f64)> {
    let q = Quantity::parse(quantity.as_str()?).ok()?;
    let unit = match resource {
        "cpu" => "core",
        "memory" | "ephemeral-storage" | "storage" => "byte",
        r if r.starts_with("hugepages-") => "byte",
        _ => "integer",
    };
    // Label values use underscores, as kube-state-metrics sanitises resource names.
    Some((resource.replace(['-', '.', '/'], "_"), unit, q.as_f64()))
}

/// The controller owner of an object: (kind, name).
fn controller(obj: &Value) -> Option<(String, String)> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == true)
        .map(|o| (s(&o["kind"]), s(&o["name"])))
}

/// Adds every kube-state-metrics family for `objects` to `out`.
pub fn collect(objects: &Objects, out: &mut Snapshot) {
    pods(&objects.pods, out);
    nodes(&objects.nodes, out);
    deployments(&objects.deployments, out);
    replicasets(&objects.replicasets, out);
    namespaces(&objects.namespaces, out);
}

/// The pod and container families, registered once per snapshot.
struct PodFamilies {
    info: usize,
    owner: usize,
    created: usize,
    start: usize,
    phase: usize,
    ready: usize,
    scheduled: usize,
    c_info: usize,
    restarts: usize,
    waiting: usize,
    waiting_reason: usize,
    running: usize,
    terminated: usize,
    terminated_reason: usize,
    last_terminated_reason: usize,
    c_ready: usize,
    requests: usize,
    limits: usize,
}

impl PodFamilies {
    fn register(out: &mut Snapshot) -> Self {
        Self {
            info: out.gauge("kube_pod_info", "Information about pod."),
            owner: out.gauge("kube_pod_owner", "Information about the Pod's owner."),
            created: out.gauge("kube_pod_created", "Unix creation timestamp"),
            start: out.gauge(
                "kube_pod_start_time",
                "Start time in unix timestamp for a pod.",
            ),
            phase: out.gauge("kube_pod_status_phase", "The pods current phase."),
            ready: out.gauge(
                "kube_pod_status_ready",
                "Describes whether the pod is ready to serve requests.",
            ),
            scheduled: out.gauge(
                "kube_pod_status_scheduled",
                "Describes the status of the scheduling process for the pod.",
            ),
            c_info: out.gauge(
                "kube_pod_container_info",
                "Information about a container in a pod.",
            ),
            restarts: out.counter(
                "kube_pod_container_status_restarts",
                "The number of container restarts per container.",
            ),
            waiting: out.gauge(
                "kube_pod_container_status_waiting",
                "Describes whether the container is currently in waiting state.",
            ),
            waiting_reason: out.gauge(
                "kube_pod_container_status_waiting_reason",
                "Describes the reason the container is currently in waiting state.",
            ),
            running: out.gauge(
                "kube_pod_container_status_running",
                "Describes whether the container is currently in running state.",
            ),
            terminated: out.gauge(
                "kube_pod_container_status_terminated",
                "Describes whether the container is currently in terminated state.",
            ),
            terminated_reason: out.gauge(
                "kube_pod_container_status_terminated_reason",
                "Describes the reason the container is currently in terminated state.",
            ),
            last_terminated_reason: out.gauge(
                "kube_pod_container_status_last_terminated_reason",
                "Describes the last reason the container was in terminated state.",
            ),
            c_ready: out.gauge(
                "kube_pod_container_status_ready",
                "Describes whether the containers readiness check succeeded.",
            ),
            requests: out.gauge(
                "kube_pod_container_resource_requests",
                "The number of requested request resource by a container.",
            ),
            limits: out.gauge(
                "kube_pod_container_resource_limits",
                "The number of requested limit resource by a container.",
            ),
        }
    }
}

/// `base` with `extra` appended.
fn with(base: &Labels, extra: &[(&'static str, String)]) -> Labels {
    let mut l = base.clone();
    l.extend(extra.iter().cloned());
    l
}

fn pods(pods: &[Value], out: &mut Snapshot) {
    let f = PodFamilies::register(out);
    for p in pods {
        let meta = &p["metadata"];
        let base: Labels = vec![
            ("namespace", s(&meta["namespace"])),
            ("pod", s(&meta["name"])),
            ("uid", s(&meta["uid"])),
        ];
        pod_info_and_owners(p, &base, &f, out);
        pod_status(p, &base, &f, out);
        let node = s(&p["spec"]["nodeName"]);
        let statuses = p["status"]["containerStatuses"].as_array();
        for c in p["spec"]["containers"].as_array().into_iter().flatten() {
            let cl = with(&base, &[("container", s(&c["name"]))]);
            container_resources(c, &cl, &node, &f, out);
            if let Some(st) = statuses.and_then(|ss| ss.iter().find(|st| st["name"] == c["name"])) {
                container_status(st, &cl, &f, out);
            }
        }
    }
}

/// `kube_pod_info` and `kube_pod_owner`.
fn pod_info_and_owners(p: &Value, base: &Labels, f: &PodFamilies, out: &mut Snapshot) {
    let meta = &p["metadata"];
    let (owner_kind, owner_name) = controller(p).unwrap_or_default();
    out.add(
        f.info,
        with(
            base,
            &[
                ("host_ip", s(&p["status"]["hostIP"])),
                ("pod_ip", s(&p["status"]["podIP"])),
                ("node", s(&p["spec"]["nodeName"])),
                ("created_by_kind", owner_kind),
                ("created_by_name", owner_name),
                ("priority_class", s(&p["spec"]["priorityClassName"])),
                (
                    "host_network",
                    p["spec"]["hostNetwork"]
                        .as_bool()
                        .unwrap_or(false)
                        .to_string(),
                ),
            ],
        ),
        1.0,
    );
    let owners = meta["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if owners.is_empty() {
        // kube-state-metrics reports an owner-less pod with `<none>`.
        out.add(
            f.owner,
            with(
                base,
                &[
                    ("owner_kind", "<none>".into()),
                    ("owner_name", "<none>".into()),
                    ("owner_is_controller", "<none>".into()),
                ],
            ),
            1.0,
        );
    }
    for o in &owners {
        out.add(
            f.owner,
            with(
                base,
                &[
                    ("owner_kind", s(&o["kind"])),
                    ("owner_name", s(&o["name"])),
                    ("owner_is_controller", (o["controller"] == true).to_string()),
                ],
            ),
            1.0,
        );
    }
}

/// Creation and start times, the phase, and the Ready and PodScheduled conditions.
fn pod_status(p: &Value, base: &Labels, f: &PodFamilies, out: &mut Snapshot) {
    if let Some(t) = unix(&p["metadata"]["creationTimestamp"]) {
        out.add(f.created, base.clone(), t);
    }
    if let Some(t) = unix(&p["status"]["startTime"]) {
        out.add(f.start, base.clone(), t);
    }
    let current = p["status"]["phase"].as_str().unwrap_or("");
    for ph in POD_PHASES {
        let v = f64::from(u8::from(current == ph));
        out.add(f.phase, with(base, &[("phase", ph.into())]), v);
    }
    let conditions = p["status"]["conditions"].as_array();
    for (kind, family) in [("Ready", f.ready), ("PodScheduled", f.scheduled)] {
        let status = conditions
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .map(|c| c["status"].clone());
        if let Some(st) = status {
            for (label, v) in bool_label(&st) {
                out.add(family, with(base, &[("condition", label.into())]), v);
            }
        }
    }
}

/// A container's resource requests and limits.
fn container_resources(c: &Value, cl: &Labels, node: &str, f: &PodFamilies, out: &mut Snapshot) {
    for (family, kind) in [(f.requests, "requests"), (f.limits, "limits")] {
        for (res, q) in c["resources"][kind].as_object().into_iter().flatten() {
            if let Some((resource, unit, v)) = resource_unit(res, q) {
                let mut l = cl.clone();
                l.extend([
                    ("node", node.to_string()),
                    ("resource", resource),
                    ("unit", unit.to_string()),
                ]);
                out.add(family, l, v);
            }
        }
    }
}

/// A container's image, restarts, state and readiness from its status.
fn container_status(st: &Value, cl: &Labels, f: &PodFamilies, out: &mut Snapshot) {
    let mut il = cl.clone();
    il.extend([
        ("image", s(&st["image"])),
        ("image_id", s(&st["imageID"])),
        ("container_id", s(&st["containerID"])),
    ]);
    out.add(f.c_info, il, 1.0);
    out.add(f.restarts, cl.clone(), num(&st["restartCount"]));
    let state = &st["state"];
    let is = |k: &str| f64::from(u8::from(state[k].is_object()));
    out.add(f.waiting, cl.clone(), is("waiting"));
    out.add(f.running, cl.clone(), is("running"));
    out.add(f.terminated, cl.clone(), is("terminated"));
    out.add(
        f.c_ready,
        cl.clone(),
        f64::from(u8::from(st["ready"] == true)),
    );
    for (family, reason) in [
        (f.waiting_reason, &state["waiting"]["reason"]),
        (f.terminated_reason, &state["terminated"]["reason"]),
        (
            f.last_terminated_reason,
            &st["lastState"]["terminated"]["reason"],
        ),
    ] {
        if let Some(r) = reason.as_str() {
            let mut l = cl.clone();
            l.push(("reason", r.to_string()));
            out.add(family, l, 1.0);
        }
    }
}

fn nodes(nodes: &[Value], out: &mut Snapshot) {
    let info = out.gauge("kube_node_info", "Information about a cluster node.");
    let created = out.gauge("kube_node_created", "Unix creation timestamp");
    let capacity = out.gauge(
        "kube_node_status_capacity",
        "The capacity for different resources of a node.",
    );
    let allocatable = out.gauge(
        "kube_node_status_allocatable",
        "The allocatable for different resources of a node that are available for scheduling.",
    );
    let condition = out.gauge(
        "kube_node_status_condition",
        "The condition of a cluster node.",
    );
    let unschedulable = out.gauge(
        "kube_node_spec_unschedulable",
        "Whether a node can schedule new pods.",
    );
    for n in nodes {
        let name = s(&n["metadata"]["name"]);
        let base: Labels = vec![("node", name.clone())];
        let ni = &n["status"]["nodeInfo"];
        let internal_ip = n["status"]["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
            .map(|a| s(&a["address"]))
            .unwrap_or_default();
        let mut l = base.clone();
        l.extend([
            ("kernel_version", s(&ni["kernelVersion"])),
            ("os_image", s(&ni["osImage"])),
            (
                "container_runtime_version",
                s(&ni["containerRuntimeVersion"]),
            ),
            ("kubelet_version", s(&ni["kubeletVersion"])),
            ("kubeproxy_version", s(&ni["kubeProxyVersion"])),
            ("provider_id", s(&n["spec"]["providerID"])),
            ("pod_cidr", s(&n["spec"]["podCIDR"])),
            ("system_uuid", s(&ni["systemUUID"])),
            ("internal_ip", internal_ip),
        ]);
        out.add(info, l, 1.0);
        if let Some(t) = unix(&n["metadata"]["creationTimestamp"]) {
            out.add(created, base.clone(), t);
        }
        for (family, field) in [(capacity, "capacity"), (allocatable, "allocatable")] {
            for (res, q) in n["status"][field].as_object().into_iter().flatten() {
                if let Some((resource, unit, v)) = resource_unit(res, q) {
                    let mut l = base.clone();
                    l.extend([("resource", resource), ("unit", unit.to_string())]);
                    out.add(family, l, v);
                }
            }
        }
        for c in n["status"]["conditions"].as_array().into_iter().flatten() {
            for (label, v) in bool_label(&c["status"]) {
                let mut l = base.clone();
                l.extend([("condition", s(&c["type"])), ("status", label.to_string())]);
                out.add(condition, l, v);
            }
        }
        let cordoned = n["spec"]["unschedulable"].as_bool().unwrap_or(false);
        out.add(unschedulable, base, f64::from(u8::from(cordoned)));
    }
}

fn deployments(deployments: &[Value], out: &mut Snapshot) {
    let spec = out.gauge(
        "kube_deployment_spec_replicas",
        "Number of desired pods for a deployment.",
    );
    let fields = [
        (
            out.gauge(
                "kube_deployment_status_replicas",
                "The number of replicas per deployment.",
            ),
            "replicas",
        ),
        (
            out.gauge(
                "kube_deployment_status_replicas_available",
                "The number of available replicas per deployment.",
            ),
            "availableReplicas",
        ),
        (
            out.gauge(
                "kube_deployment_status_replicas_unavailable",
                "The number of unavailable replicas per deployment.",
            ),
            "unavailableReplicas",
        ),
        (
            out.gauge(
                "kube_deployment_status_replicas_updated",
                "The number of updated replicas per deployment.",
            ),
            "updatedReplicas",
        ),
        (
            out.gauge(
                "kube_deployment_status_replicas_ready",
                "The number of ready replicas per deployment.",
            ),
            "readyReplicas",
        ),
        (
            out.gauge(
                "kube_deployment_status_observed_generation",
                "The generation observed by the deployment controller.",
            ),
            "observedGeneration",
        ),
    ];
    let generation = out.gauge(
        "kube_deployment_metadata_generation",
        "Sequence number representing a specific generation of the desired state.",
    );
    for d in deployments {
        let base: Labels = vec![
            ("namespace", s(&d["metadata"]["namespace"])),
            ("deployment", s(&d["metadata"]["name"])),
        ];
        // An unset `spec.replicas` defaults to 1.
        out.add(
            spec,
            base.clone(),
            d["spec"]["replicas"].as_f64().unwrap_or(1.0),
        );
        for (family, field) in fields {
            out.add(family, base.clone(), num(&d["status"][field]));
        }
        out.add(generation, base, num(&d["metadata"]["generation"]));
    }
}

fn replicasets(replicasets: &[Value], out: &mut Snapshot) {
    let owner = out.gauge(
        "kube_replicaset_owner",
        "Information about the ReplicaSet's owner.",
    );
    let spec = out.gauge(
        "kube_replicaset_spec_replicas",
        "Number of desired pods for a ReplicaSet.",
    );
    let ready = out.gauge(
        "kube_replicaset_status_ready_replicas",
        "The number of ready replicas per ReplicaSet.",
    );
    for r in replicasets {
        let base: Labels = vec![
            ("namespace", s(&r["metadata"]["namespace"])),
            ("replicaset", s(&r["metadata"]["name"])),
        ];
        let (kind, name) = controller(r).unwrap_or_else(|| ("<none>".into(), "<none>".into()));
        let mut l = base.clone();
        l.extend([
            ("owner_kind", kind),
            ("owner_name", name),
            ("owner_is_controller", controller(r).is_some().to_string()),
        ]);
        out.add(owner, l, 1.0);
        out.add(
            spec,
            base.clone(),
            r["spec"]["replicas"].as_f64().unwrap_or(1.0),
        );
        out.add(ready, base, num(&r["status"]["readyReplicas"]));
    }
}

fn namespaces(namespaces: &[Value], out: &mut Snapshot) {
    let labels = out.gauge(
        "kube_namespace_labels",
        "Kubernetes labels converted to Prometheus labels.",
    );
    let created = out.gauge("kube_namespace_created", "Unix creation timestamp");
    let phase = out.gauge(
        "kube_namespace_status_phase",
        "kubernetes namespace status phase.",
    );
    for n in namespaces {
        let base: Labels = vec![("namespace", s(&n["metadata"]["name"]))];
        // As kube-state-metrics with no label allow-list: the series exists, without labels.
        out.add(labels, base.clone(), 1.0);
        if let Some(t) = unix(&n["metadata"]["creationTimestamp"]) {
            out.add(created, base.clone(), t);
        }
        let current = n["status"]["phase"].as_str().unwrap_or("Active");
        for ph in NAMESPACE_PHASES {
            let mut l = base.clone();
            l.push(("phase", ph.to_string()));
            out.add(phase, l, f64::from(u8::from(current == ph)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(snapshot: &Snapshot, name: &str, want: &[(&str, &str)]) -> Option<f64> {
        snapshot
            .samples(name)
            .into_iter()
            .find(|(labels, _)| {
                want.iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| v)
    }

    /// A family, labels one of its samples carries, and that sample's value.
    type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

    /// One pod crash-looping on one node, its deployment, and a terminating namespace.
    fn fixture() -> Objects {
        Objects {
            pods: vec![json!({
                "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc", "controller": true}]},
                "spec": {"nodeName": "node-1", "containers": [{"name": "app",
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"nvidia.com/gpu": "1"}}}]},
                "status": {"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [{"name": "app", "restartCount": 4, "ready": false,
                        "image": "crashloop:1",
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"reason": "Error"}}}]}
            })],
            nodes: vec![json!({"metadata": {"name": "node-1"},
                "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                           "conditions": [{"type": "Ready", "status": "True"}],
                           "nodeInfo": {"kubeletVersion": "v1.33.0"}}})],
            deployments: vec![
                json!({"metadata": {"name": "web", "namespace": "shop", "generation": 2},
                "spec": {"replicas": 3}, "status": {"replicas": 3, "availableReplicas": 2}}),
            ],
            replicasets: vec![],
            namespaces: vec![
                json!({"metadata": {"name": "shop"}, "status": {"phase": "Terminating"}}),
            ],
        }
    }

    #[test]
    fn pods_nodes_and_deployments_in_kube_state_metrics_shapes() {
        let mut out = Snapshot::default();
        collect(&fixture(), &mut out);
        let pod = [("namespace", "shop"), ("pod", "web-1")];
        let running = [pod[0], pod[1], ("phase", "Running")];
        let pending = [pod[0], pod[1], ("phase", "Pending")];
        let expected: [Expected; 18] = [
            (
                "kube_pod_info",
                &[
                    ("node", "node-1"),
                    ("created_by_kind", "ReplicaSet"),
                    ("created_by_name", "web-abc"),
                ],
                1.0,
            ),
            ("kube_pod_status_phase", &running, 1.0),
            ("kube_pod_status_phase", &pending, 0.0),
            ("kube_pod_status_ready", &[("condition", "false")], 1.0),
            ("kube_pod_status_ready", &[("condition", "true")], 0.0),
            (
                "kube_pod_container_status_restarts",
                &[("container", "app")],
                4.0,
            ),
            (
                "kube_pod_container_status_waiting_reason",
                &[("reason", "CrashLoopBackOff")],
                1.0,
            ),
            ("kube_pod_container_status_running", &pod, 0.0),
            (
                "kube_pod_container_status_last_terminated_reason",
                &[("reason", "Error")],
                1.0,
            ),
            (
                "kube_pod_container_resource_requests",
                &[("resource", "cpu"), ("unit", "core")],
                0.25,
            ),
            (
                "kube_pod_container_resource_limits",
                &[("resource", "nvidia_com_gpu"), ("unit", "integer")],
                1.0,
            ),
            (
                "kube_pod_owner",
                &[
                    ("owner_kind", "ReplicaSet"),
                    ("owner_is_controller", "true"),
                ],
                1.0,
            ),
            (
                "kube_node_info",
                &[("node", "node-1"), ("kubelet_version", "v1.33.0")],
                1.0,
            ),
            (
                "kube_node_status_capacity",
                &[("resource", "memory"), ("unit", "byte")],
                8.0 * 1024.0 * 1024.0 * 1024.0,
            ),
            (
                "kube_node_status_condition",
                &[("condition", "Ready"), ("status", "true")],
                1.0,
            ),
            (
                "kube_deployment_spec_replicas",
                &[("deployment", "web")],
                3.0,
            ),
            (
                "kube_deployment_status_replicas_available",
                &[("deployment", "web")],
                2.0,
            ),
            (
                "kube_namespace_status_phase",
                &[("namespace", "shop"), ("phase", "Terminating")],
                1.0,
            ),
        ];
        for (family, labels, want) in expected {
            assert_eq!(
                value(&out, family, labels),
                Some(want),
                "{family} {labels:?}"
            );
        }
    }
}
