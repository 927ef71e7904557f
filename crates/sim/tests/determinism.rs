//! With a seed, the same requests in the same order give the same placements and pod IPs.

mod common;

use std::time::Duration;

use common::{SimCluster, obj, wait_for};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

async fn run_once() -> Vec<(String, String, String)> {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    for (name, cpu) in [("a", "500m"), ("b", "1500m")] {
        sts.create(&PostParams::default(), &obj(json!({
            "metadata": {"name": name},
            "spec": {"replicas": 4, "podManagementPolicy": "Parallel", "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx",
                        "resources": {"requests": {"cpu": cpu}}}]}}},
        }))).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
        wait_for("pods with IPs", Duration::from_secs(30), || async {
            let l = pods
                .list(&ListParams::default().labels(&format!("app={name}")))
                .await
                .ok()?;
            (l.items.len() == 4
                && l.items
                    .iter()
                    .all(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()))
            .then_some(())
        })
        .await;
    }
    // Generated names are seeded by the API server, so Deployments are reproducible too.
    let deps: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    deps.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    wait_for(
        "deployment pods with IPs",
        Duration::from_secs(30),
        || async {
            let l = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .ok()?;
            (l.items.len() == 5
                && l.items
                    .iter()
                    .all(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()))
            .then_some(())
        },
    )
    .await;
    let mut out: Vec<(String, String, String)> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| {
            (
                p.name_any(),
                p.spec.as_ref().unwrap().node_name.clone().unwrap(),
                p.status.as_ref().unwrap().pod_ip.clone().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_placements_and_ips() {
    let first = run_once().await;
    let second = run_once().await;
    assert_eq!(first.len(), 13);
    assert_eq!(first, second);
}
