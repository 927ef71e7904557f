//! Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs driven by the
//! simulation against an in-process API server.

mod common;

use std::time::Duration;

use common::{SimCluster, obj, wait_for};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

fn running_ready(p: &Pod) -> bool {
    let st = p.status.as_ref();
    st.and_then(|s| s.phase.as_deref()) == Some("Running")
        && st.and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_pods_run_on_nodes() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let listed = wait_for("3 nodes", Duration::from_secs(10), || async {
        let l = nodes.list(&ListParams::default()).await.ok()?;
        (l.items.len() == 3).then_some(l)
    })
    .await;
    assert!(listed.items.iter().all(|n| n.status.as_ref().unwrap().node_info.as_ref().unwrap().kubelet_version == "v1.33.0"));
    let rs: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    rs.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
    }))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let ready = wait_for("3 ready pods", Duration::from_secs(20), || async {
        let l = pods.list(&ListParams::default().labels("app=web")).await.ok()?;
        (l.items.len() == 3 && l.items.iter().all(running_ready)).then_some(l.items)
    })
    .await;
    let mut placed: Vec<String> = ready.iter().map(|p| p.spec.as_ref().unwrap().node_name.clone().unwrap()).collect();
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len(), 3, "spread over the nodes");
    for p in &ready {
        let st = p.status.as_ref().unwrap();
        assert!(st.pod_ip.as_deref().unwrap().starts_with("10.244."));
        assert!(p.name_any_prefix("web-"));
    }
}

trait NamePrefix {
    fn name_any_prefix(&self, prefix: &str) -> bool;
}

impl NamePrefix for Pod {
    fn name_any_prefix(&self, prefix: &str) -> bool {
        self.metadata.name.as_deref().is_some_and(|n| n.starts_with(prefix))
    }
}
