//! An in-process embedded cluster with the simulation running against it.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// A running API server plus simulation; stops both on drop.
pub struct SimCluster {
    pub client: kube::Client,
    pub shutdown: CancellationToken,
    _cluster: apiserver::RunningCluster,
    _tmp: tempfile::TempDir,
}

impl SimCluster {
    /// Starts an API server on a free port and the simulation with `config`.
    pub async fn start(config: sim::SimConfig) -> SimCluster {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cc = apiserver::ClusterConfig::new(tmp.path());
        cc.listen = "127.0.0.1:0".parse().expect("addr");
        cc.durable = false;
        cc.seed = config.seed;
        cc.data_plane = Some(std::sync::Arc::new(sim::SimDataPlane {
            time_scale: config.time_scale,
        }));
        let cluster = apiserver::start(cc).await.expect("start apiserver");
        let kc = kube::config::Kubeconfig::read_from(&cluster.kubeconfig_path).expect("kubeconfig");
        let config_k = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kube config");
        let client = kube::Client::try_from(config_k).expect("client");
        let shutdown = CancellationToken::new();
        let (c, s) = (client.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = sim::run(c, config, s).await {
                panic!("sim stopped: {e}");
            }
        });
        SimCluster {
            client,
            shutdown,
            _cluster: cluster,
            _tmp: tmp,
        }
    }

    /// A config for tests: 3 nodes, time sped up `scale` times.
    pub fn config(scale: f64) -> sim::SimConfig {
        sim::SimConfig {
            time_scale: scale,
            seed: Some(7),
            ..Default::default()
        }
    }
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Polls `check` until it returns `Some`, failing after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Parses YAML-ish JSON into a typed object.
pub fn obj<K: serde::de::DeserializeOwned>(v: serde_json::Value) -> K {
    serde_json::from_value(v).expect("object")
}
