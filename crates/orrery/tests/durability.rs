//! SIGKILL during concurrent writes loses nothing acknowledged (issue: embedded cluster,
//! must-show 4).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

use common::TestCluster;

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = TestCluster::start_in(dir.path(), &[]);
    let client = c.client().await;
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(format!("w{w}-{i}")),
                        ..Default::default()
                    },
                    data: Some(BTreeMap::from([("payload".to_string(), "x".repeat(512))])),
                    ..Default::default()
                };
                match api.create(&PostParams::default(), &cm).await {
                    Ok(created) => {
                        let rv = created
                            .metadata
                            .resource_version
                            .unwrap_or_default()
                            .parse()
                            .unwrap_or(0);
                        acked.lock().unwrap().push((format!("w{w}-{i}"), rv));
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    // Let writes flow, then kill the process in the middle of them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while acked.lock().unwrap().len() < 300 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.kill9();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "too few writes before the kill: {}",
        acked.len()
    );
    let max_rv = acked.iter().map(|(_, rv)| *rv).max().unwrap_or(0);
    drop(c);

    let c = TestCluster::start_in(dir.path(), &[]);
    let client = c.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let present: std::collections::HashSet<String> = list
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    let missing: Vec<&String> = acked
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !present.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    for (name, rv) in &acked {
        let got = api.get(name).await.unwrap();
        assert_eq!(
            got.metadata
                .resource_version
                .unwrap()
                .parse::<i64>()
                .unwrap(),
            *rv,
            "{name} kept its revision"
        );
    }
    let after = api
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("after-restart".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rv: i64 = after.metadata.resource_version.unwrap().parse().unwrap();
    assert!(rv > max_rv, "revisions only increase: {rv} <= {max_rv}");
    let list_rv: i64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(list_rv >= max_rv);
}
