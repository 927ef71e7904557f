//! What `kubectl logs`, `kubectl top` and `kubectl delete` see of simulated pods, through the
//! API server's `pods/log`, `metrics.k8s.io` and graceful deletion.

mod common;

use std::time::Duration;

use common::{SimCluster, obj, wait_for};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(30);

async fn running(pods: &Api<Pod>, name: &str) -> Option<()> {
    let p = pods.get(name).await.ok()?;
    (p.status?.phase.as_deref() == Some("Running")).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_metrics_and_graceful_deletion() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    pods.create(&PostParams::default(), &obj(json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}]},
    }))).await.unwrap();
    wait_for("web running", LIMIT, || running(&pods, "web")).await;
    let logs = wait_for("log lines", LIMIT, || async {
        let l = pods
            .logs(
                "web",
                &LogParams {
                    tail_lines: Some(5),
                    timestamps: true,
                    ..Default::default()
                },
            )
            .await
            .ok()?;
        (l.lines().count() == 5).then_some(l)
    })
    .await;
    assert!(
        logs.lines()
            .all(|l| l.split(' ').next().is_some_and(|t| t.ends_with('Z'))),
        "{logs}"
    );

    let metrics: serde_json::Value = wait_for("pod metrics", LIMIT, || {
        let client = c.client.clone();
        let req = http::Request::get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
            .body(Vec::<u8>::new())
            .unwrap();
        async move {
            let v: serde_json::Value = client.request(req).await.ok()?;
            (v["items"].as_array()?.len() == 1).then_some(v)
        }
    })
    .await;
    let cpu = metrics["items"][0]["containers"][0]["usage"]["cpu"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cpu.ends_with('n'), "{cpu}");

    // Deletion is graceful: the kubelet stops the containers and then removes the pod.
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("pod gone", LIMIT, || async {
        pods.get("web").await.is_err().then_some(())
    })
    .await;
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    wait_for("kubelet and scheduler events", LIMIT, || async {
        let l = events.list(&ListParams::default()).await.ok()?;
        let reasons: Vec<&str> = l.items.iter().filter_map(|e| e.reason.as_deref()).collect();
        ["Scheduled", "Pulled", "Created", "Started", "Killing"]
            .iter()
            .all(|r| reasons.contains(r))
            .then_some(())
    })
    .await;
}
