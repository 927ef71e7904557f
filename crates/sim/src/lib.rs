//! The simulated data plane of Orrery's embedded cluster: virtual nodes, a scheduler, a kubelet
//! simulation and the workload controllers (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
//! CronJob, endpoints, volumes, HorizontalPodAutoscaler), all written as ordinary controllers
//! over the Kubernetes API (kube-rs), the way KWOK simulates nodes, so they could drive a real
//! control plane too.
//!
//! Start with [`run`] and [`SimConfig`]. The API server reaches the simulated containers' logs
//! and usage through [`SimDataPlane`], its [`apiserver::DataPlane`] (wired by `orrery`).
//! Failure conventions are in `README.md` and [`conventions`].

pub mod clock;
mod controllers;
pub mod conventions;
mod dataplane;
mod engine;
mod events;
pub mod hash;
pub mod kubelet;
pub mod logs;
pub mod metrics;
mod nodes;
mod patch;
pub mod quantity;
pub mod scheduler;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use clock::SimClock;
pub use dataplane::SimDataPlane;

/// Why the simulation stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A request to the API server failed in a way the simulation cannot ride out.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The configuration makes no sense.
    #[error("invalid simulation config: {0}")]
    Config(String),
}

/// How the simulated data plane behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How many virtual nodes to create (names `<node_prefix><i>`).
    pub nodes: usize,
    /// Simulated seconds per real second: 10 makes everything the simulation waits for ten
    /// times faster (container start, probe delays, back-off, Job durations, CronJob schedules).
    pub time_scale: f64,
    /// Seed for everything the simulation derives pseudo-randomly (node ids, metrics phases).
    pub seed: Option<u64>,
    /// CPU capacity of each node (a Kubernetes quantity, e.g. `"4"`).
    pub node_cpu: String,
    /// Memory capacity of each node (e.g. `"16Gi"`).
    pub node_memory: String,
    /// Pod capacity of each node.
    pub node_pods: u32,
    /// Node name prefix; node `i` is `<prefix><i>`.
    pub node_prefix: String,
    /// Region label of every node.
    pub region: String,
    /// How many zones the nodes are spread over (`<region>-a`, `-b`, …).
    pub zones: usize,
    /// `node.kubernetes.io/instance-type` label of every node.
    pub instance_type: String,
    /// How often node Leases are renewed (real time, not scaled: it is about liveness).
    pub lease_renew_interval: Duration,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            nodes: 3,
            time_scale: 1.0,
            seed: None,
            node_cpu: "4".into(),
            node_memory: "16Gi".into(),
            node_pods: 110,
            node_prefix: "orrery-node-".into(),
            region: "orrery-region".into(),
            zones: 3,
            instance_type: "sim.standard-4".into(),
            lease_renew_interval: Duration::from_secs(10),
        }
    }
}

impl SimConfig {
    /// Checks the values a CLI could get wrong.
    pub fn validate(&self) -> Result<(), SimError> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(SimError::Config(format!(
                "time scale must be > 0, got {}",
                self.time_scale
            )));
        }
        if quantity::parse_cpu_millis(&self.node_cpu).is_none() {
            return Err(SimError::Config(format!(
                "node cpu {:?} is not a quantity",
                self.node_cpu
            )));
        }
        if quantity::parse_bytes(&self.node_memory).is_none() {
            return Err(SimError::Config(format!(
                "node memory {:?} is not a quantity",
                self.node_memory
            )));
        }
        if self.nodes > 4096 {
            return Err(SimError::Config(
                "at most 4096 nodes (pod CIDRs are 10.244.N.0/24)".into(),
            ));
        }
        Ok(())
    }
}

/// Creates the nodes and the default StorageClass, then runs every controller until
/// `shutdown` is cancelled.
pub async fn run(
    client: kube::Client,
    config: SimConfig,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    config.validate()?;
    engine::run(client, config, shutdown).await
}
