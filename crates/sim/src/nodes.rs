//! Virtual nodes: created once with capacity, labels, addresses and nodeInfo, then kept alive by
//! one timer that renews every node's Lease (and, every five minutes, the Ready heartbeat).

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::engine::Ctx;
use crate::hash::fnv64a;
use crate::quantity::{format_bytes_ki, parse_bytes};
use crate::{SimConfig, SimError};

/// Annotation on nodes whose pods the simulated kubelet runs.
pub const SIMULATED: &str = "sim.orrery.io/simulated";
/// The simulated kubelet's version.
pub const KUBELET_VERSION: &str = "v1.33.0";
/// How often the Ready condition's heartbeat is refreshed (kubelet's nodeStatusReportFrequency).
const STATUS_REPORT: Duration = Duration::from_secs(300);

/// Whether the simulation runs this node's pods.
pub fn is_simulated(node: &Node) -> bool {
    node.annotations()
        .get(SIMULATED)
        .is_some_and(|v| v == "true")
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn hex_id(seed: u64, what: &str, name: &str) -> String {
    let a = fnv64a(format!("{seed}/{what}/{name}/a").as_bytes());
    let b = fnv64a(format!("{seed}/{what}/{name}/b").as_bytes());
    format!("{a:016x}{b:016x}")
}

/// The node object `i` of the configuration (metadata and spec).
pub fn node_object(config: &SimConfig, i: usize) -> Value {
    let name = format!("{}{i}", config.node_prefix);
    let zone = format!(
        "{}-{}",
        config.region,
        (b'a' + (i % config.zones.max(1)) as u8 % 26) as char
    );
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": config.region,
                "node.kubernetes.io/instance-type": config.instance_type,
                "type": "sim",
            },
            "annotations": {
                SIMULATED: "true",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": format!("10.244.{i}.0/24"),
            "podCIDRs": [format!("10.244.{i}.0/24")],
            "providerID": format!("orrery://{name}"),
        },
    })
}

/// The status of node `i`, with heartbeats at `at`.
pub fn node_status(config: &SimConfig, seed: u64, i: usize, at: &str) -> Value {
    let name = format!("{}{i}", config.node_prefix);
    let memory = parse_bytes(&config.node_memory).unwrap_or(0);
    let capacity = json!({
        "cpu": config.node_cpu,
        "memory": format_bytes_ki(memory),
        "pods": config.node_pods.to_string(),
        "ephemeral-storage": "104857600Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    });
    let cond = |ty: &str, status: &str, reason: &str, message: &str| {
        json!({"type": ty, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": at, "lastTransitionTime": at})
    };
    json!({
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": format!("172.18.{}.{}", i / 250, i % 250 + 2)},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": hex_id(seed, "machine", &name),
            "systemUUID": hex_id(seed, "uuid", &name),
            "bootID": hex_id(seed, "boot", &name),
            "kernelVersion": "6.1.0-orrery-sim",
            "osImage": "Orrery simulated node",
            "containerRuntimeVersion": "containerd://1.7.24",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "phase": "Running",
    })
}

/// Creates the configured nodes that do not exist yet and (re)writes their status.
pub async fn ensure_nodes(client: &Client, config: &SimConfig, seed: u64) -> Result<(), SimError> {
    let api: Api<Node> = Api::all(client.clone());
    let at = now();
    for i in 0..config.nodes {
        let obj = node_object(config, i);
        let node: Node =
            serde_json::from_value(obj).map_err(|e| SimError::Config(e.to_string()))?;
        let name = node.name_any();
        match api.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        let status = json!({"status": node_status(config, seed, i, &at)});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
    }
    Ok(())
}

/// Renews every simulated node's Lease on one timer until shutdown.
pub async fn heartbeats(ctx: Arc<Ctx>, shutdown: CancellationToken) {
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let mut tick = tokio::time::interval(ctx.config.lease_renew_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let renew = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let report_status = last_status.elapsed() >= STATUS_REPORT;
        if report_status {
            last_status = std::time::Instant::now();
        }
        let mut simulated: Vec<Arc<Node>> = ctx
            .nodes
            .state()
            .into_iter()
            .filter(|n| is_simulated(n))
            .collect();
        simulated.sort_by_key(|n| n.name_any());
        for node in simulated {
            let name = node.name_any();
            let patch = json!({"spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}});
            match leases
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    let lease = json!({
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [{
                            "apiVersion": "v1", "kind": "Node", "name": name, "uid": node.uid().unwrap_or_default(),
                        }]},
                        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew},
                    });
                    if let Ok(lease) = serde_json::from_value::<Lease>(lease)
                        && let Err(e) = leases.create(&PostParams::default(), &lease).await
                    {
                        tracing::debug!(error = %e, node = %name, "lease not created");
                    }
                }
                Err(e) => tracing::debug!(error = %e, node = %name, "lease not renewed"),
                Ok(_) => {}
            }
            if report_status {
                heartbeat_status(&nodes, &node).await;
            }
        }
    }
}

/// Refreshes `lastHeartbeatTime` of every condition, keeping the rest of the status.
async fn heartbeat_status(nodes: &Api<Node>, node: &Node) {
    let Some(conditions) = node.status.as_ref().and_then(|s| s.conditions.clone()) else {
        return;
    };
    let at = now();
    let mut conditions = serde_json::to_value(conditions).unwrap_or(Value::Null);
    if let Some(list) = conditions.as_array_mut() {
        for c in list {
            c["lastHeartbeatTime"] = json!(at);
        }
    }
    let patch = json!({"status": {"conditions": conditions}});
    if let Err(e) = nodes
        .patch_status(
            &node.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::debug!(error = %e, "node heartbeat not written");
    }
}
