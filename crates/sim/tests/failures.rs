//! The documented failure conventions: images that never pull, containers that crash-loop,
//! pods that cannot be scheduled.

mod common;

use std::time::Duration;

use common::{SimCluster, obj, wait_for};
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(30);

fn pod(name: &str, container: serde_json::Value) -> Pod {
    obj(json!({"metadata": {"name": name}, "spec": {"containers": [container]}}))
}

async fn status(api: &Api<Pod>, name: &str) -> Option<(String, ContainerStatus)> {
    let p = api.get(name).await.ok()?;
    let st = p.status?;
    Some((st.phase?, st.container_statuses?.into_iter().next()?))
}

fn waiting_reason(cs: &ContainerStatus) -> Option<String> {
    cs.state.as_ref()?.waiting.as_ref()?.reason.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_that_never_pulls_backs_off() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod("nopull", json!({"name": "app", "image": "nginx:bad"})),
    )
    .await
    .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    wait_for("ErrImagePull then ImagePullBackOff", LIMIT, || {
        let pods = pods.clone();
        let seen = seen.clone();
        async move {
            let (phase, cs) = status(&pods, "nopull").await?;
            assert_eq!(phase, "Pending");
            assert!(!cs.ready);
            let mut seen = seen.lock().unwrap();
            if let Some(r) = waiting_reason(&cs) {
                seen.insert(r);
            }
            (seen.contains("ErrImagePull") && seen.contains("ImagePullBackOff")).then_some(())
        }
    })
    .await;
    let (_, cs) = status(&pods, "nopull").await.unwrap();
    assert!(
        cs.state
            .unwrap()
            .waiting
            .unwrap()
            .message
            .unwrap()
            .contains("nginx:bad")
    );
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    wait_for("Failed pull events", LIMIT, || async {
        let l = events.list(&ListParams::default()).await.ok()?;
        l.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("Failed")
                    && e.message.as_deref() == Some("Error: ErrImagePull")
            })
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_container_loops_with_growing_restarts() {
    let c = SimCluster::start(SimCluster::config(40.0)).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod(
            "crash",
            json!({"name": "app", "image": "busybox", "args": ["sh", "-c", "exit 1 # CRASH"]}),
        ),
    )
    .await
    .unwrap();
    let cs = wait_for("CrashLoopBackOff with 2 restarts", LIMIT, || async {
        let (phase, cs) = status(&pods, "crash").await?;
        assert_ne!(phase, "Succeeded");
        (waiting_reason(&cs).as_deref() == Some("CrashLoopBackOff") && cs.restart_count >= 2)
            .then_some(cs)
    })
    .await;
    let last = cs.last_state.unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert!(
        cs.state
            .unwrap()
            .waiting
            .unwrap()
            .message
            .unwrap()
            .starts_with("back-off 40s restarting failed container=app pod=crash_default(")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_too_big_for_any_node_is_unschedulable() {
    let c = SimCluster::start(SimCluster::config(20.0)).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod(
            "huge",
            json!({"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "64"}}}),
        ),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &obj(json!({"metadata": {"name": "picky"}, "spec": {
        "nodeSelector": {"disktype": "ssd"}, "containers": [{"name": "app", "image": "nginx"}]}})),
    )
    .await
    .unwrap();
    let cond = wait_for("PodScheduled=False", LIMIT, || async {
        let p = pods.get("huge").await.ok()?;
        p.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    })
    .await;
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(
        cond.message.as_deref(),
        Some("0/3 nodes are available: 3 Insufficient cpu.")
    );
    let picky = wait_for("picky unschedulable", LIMIT, || async {
        let p = pods.get("picky").await.ok()?;
        p.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    })
    .await;
    assert_eq!(
        picky.message.as_deref(),
        Some("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    );
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    wait_for("FailedScheduling event", LIMIT, || async {
        let l = events.list(&ListParams::default()).await.ok()?;
        l.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("FailedScheduling")
                    && e.type_.as_deref() == Some("Warning")
            })
            .then_some(())
    })
    .await;
    assert!(
        pods.get("huge")
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .is_none()
    );
}
