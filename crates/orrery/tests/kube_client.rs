//! kube-rs against an embedded cluster: typed CRUD, dynamic discovery, watchers, optimistic
//! concurrency, consistent pagination, compaction (issue: embedded cluster, must-show 3).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::Discovery;
use kube::runtime::{WatchStreamExt, watcher};

use common::TestCluster;

fn cm(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                "suite".to_string(),
                "kube-rs".to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".to_string(), value.to_string())])),
        ..Default::default()
    }
}

#[tokio::test]
async fn typed_crud_and_conflicts() {
    let c = TestCluster::start(&[]);
    let client = c.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm("typed", "1"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    let got = api.get("typed").await.unwrap();
    assert_eq!(got.data.as_ref().unwrap()["v"], "1");

    let mut updated = got.clone();
    updated.data = Some(BTreeMap::from([("v".to_string(), "2".to_string())]));
    let after = api
        .replace("typed", &PostParams::default(), &updated)
        .await
        .unwrap();
    assert_ne!(
        after.metadata.resource_version,
        got.metadata.resource_version
    );

    // Replacing with the stale resourceVersion is a 409 Conflict.
    let mut stale = got.clone();
    stale.data = Some(BTreeMap::from([("v".to_string(), "stale".to_string())]));
    match api.replace("typed", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "Conflict");
        }
        other => panic!("expected 409, got {other:?}"),
    }
    // Creating the same name again is 409 AlreadyExists.
    match api.create(&PostParams::default(), &cm("typed", "x")).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    let patched = api
        .patch(
            "typed",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"w": "3"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.as_ref().unwrap()["w"], "3");
    let list = api
        .list(&ListParams::default().labels("suite=kube-rs"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    api.delete("typed", &DeleteParams::default()).await.unwrap();
    match api.get("typed").await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404),
        other => panic!("expected 404, got {other:?}"),
    }
    // A namespaced create in a missing namespace fails as in Kubernetes.
    let missing: Api<ConfigMap> = Api::namespaced(client, "does-not-exist");
    match missing.create(&PostParams::default(), &cm("x", "1")).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 404);
            assert!(
                s.message
                    .contains("namespaces \"does-not-exist\" not found"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 404, got {other:?}"),
    }
}

#[tokio::test]
async fn dynamic_objects_through_discovery() {
    let c = TestCluster::start(&[]);
    let client = c.client().await;
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
    let (ar, caps) = discovery.resolve_gvk(&gvk).expect("deployments discovered");
    assert_eq!(ar.plural, "deployments");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let obj: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "dyn"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(created.data["spec"]["replicas"], 1, "defaulted replicas");
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let ns_gvk = GroupVersionKind::gvk("", "v1", "Namespace");
    let (ns_ar, ns_caps) = discovery.resolve_gvk(&ns_gvk).unwrap();
    assert_eq!(ns_caps.scope, kube::discovery::Scope::Cluster);
    let nss: Api<DynamicObject> = Api::all_with(client, &ns_ar);
    assert!(nss.list(&ListParams::default()).await.unwrap().items.len() >= 4);
}

#[tokio::test]
async fn watcher_sees_every_change_in_order() {
    let c = TestCluster::start(&[]);
    let client = c.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch_api = api.clone();
    let task = tokio::spawn(async move {
        let stream = watcher(
            watch_api,
            watcher::Config::default().labels("suite=kube-rs"),
        )
        .touched_objects();
        futures::pin_mut!(stream);
        while let Some(Ok(obj)) = stream.next().await {
            let v = obj
                .data
                .as_ref()
                .and_then(|d| d.get("v").cloned())
                .unwrap_or_default();
            if tx
                .send((
                    obj.metadata.name.unwrap_or_default(),
                    v,
                    obj.metadata.resource_version.unwrap_or_default(),
                ))
                .is_err()
            {
                break;
            }
        }
    });
    api.create(&PostParams::default(), &cm("w", "0"))
        .await
        .unwrap();
    for i in 1..=20 {
        api.patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"v": i.to_string()}})),
        )
        .await
        .unwrap();
    }
    let mut last_rv = 0i64;
    let mut last_v = -1i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while last_v < 20 {
        let (name, v, rv) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("watch stalled")
            .expect("watch ended");
        assert_eq!(name, "w");
        let rv: i64 = rv.parse().unwrap();
        assert!(
            rv > last_rv,
            "revisions must increase: {rv} after {last_rv}"
        );
        let v: i64 = v.parse().unwrap();
        assert_eq!(v, last_v + 1, "every change, in order");
        last_rv = rv;
        last_v = v;
    }
    task.abort();
}

#[tokio::test]
async fn raw_watch_from_resource_version_with_bookmarks() {
    let c = TestCluster::start(&["--bookmark-interval", "0.2"]);
    let client = c.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = api
        .create(&PostParams::default(), &cm("b1", "1"))
        .await
        .unwrap();
    let rv = first.metadata.resource_version.clone().unwrap();
    api.create(&PostParams::default(), &cm("b2", "2"))
        .await
        .unwrap();
    let wp = WatchParams::default().timeout(10);
    let mut stream = api.watch(&wp, &rv).await.unwrap().boxed();
    let mut saw_b2 = false;
    let mut saw_bookmark = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(saw_b2 && saw_bookmark) {
        let ev = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .expect("timed out")
            .unwrap()
            .expect("ended");
        match ev {
            WatchEvent::Added(o) => {
                assert_ne!(
                    o.metadata.name.as_deref(),
                    Some("b1"),
                    "b1 is at the starting revision"
                );
                saw_b2 |= o.metadata.name.as_deref() == Some("b2");
            }
            WatchEvent::Bookmark(_) => saw_bookmark = true,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn pagination_is_consistent_while_writes_continue() {
    let c = TestCluster::start(&[]);
    let client = c.client().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "pages"}})).unwrap();
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "pages");
    for i in 0..50 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:03}"), "x"))
            .await
            .unwrap();
    }
    let first = api.list(&ListParams::default().limit(10)).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.metadata.remaining_item_count, Some(40));
    let snapshot_rv = first.metadata.resource_version.clone();
    let mut names: Vec<String> = first
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    let mut token = first.metadata.continue_.clone();
    let mut writes = 0;
    while let Some(t) = token.filter(|t| !t.is_empty()) {
        // Writes between pages must not show up in this list.
        api.create(&PostParams::default(), &cm(&format!("late-{writes}"), "y"))
            .await
            .unwrap();
        api.delete(&format!("cm-{:03}", 49 - writes), &DeleteParams::default())
            .await
            .unwrap();
        writes += 1;
        let page = api
            .list(&ListParams::default().limit(10).continue_token(&t))
            .await
            .unwrap();
        assert_eq!(
            page.metadata.resource_version, snapshot_rv,
            "every page at the first page's revision"
        );
        names.extend(page.items.iter().filter_map(|o| o.metadata.name.clone()));
        token = page.metadata.continue_.clone();
    }
    let expected: Vec<String> = (0..50).map(|i| format!("cm-{i:03}")).collect();
    assert_eq!(names, expected);
    assert!(writes >= 4);
}

#[tokio::test]
async fn compacted_revision_is_gone_then_relist_works() {
    let c = TestCluster::start(&["--compaction-interval", "0.2", "--retain-revisions", "5"]);
    let client = c.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = api
        .create(&PostParams::default(), &cm("old", "0"))
        .await
        .unwrap();
    let old_rv = first.metadata.resource_version.unwrap();
    let page = api.list(&ListParams::default().limit(1)).await.unwrap();
    let token = page.metadata.continue_.clone();
    for i in 0..30 {
        api.create(&PostParams::default(), &cm(&format!("filler-{i}"), "x"))
            .await
            .unwrap();
    }
    // Wait (bounded) for the compactor to pass the old revision.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let expired = loop {
        let r = api.watch(&WatchParams::default().timeout(2), &old_rv).await;
        let got_410 = match r {
            Ok(stream) => {
                let mut s = stream.boxed();
                match tokio::time::timeout(Duration::from_secs(2), s.try_next()).await {
                    Ok(Ok(Some(WatchEvent::Error(e)))) => Some(e),
                    Ok(Err(kube::Error::Api(e))) => Some(e),
                    _ => None,
                }
            }
            Err(kube::Error::Api(e)) => Some(e),
            Err(_) => None,
        };
        if let Some(e) = got_410 {
            break e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "history was never compacted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(expired.code, 410);
    assert_eq!(expired.reason, "Expired");
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        match api
            .list(&ListParams::default().limit(1).continue_token(&t))
            .await
        {
            Err(kube::Error::Api(s)) => assert_eq!(s.code, 410),
            other => panic!("expected 410 for a compacted continue token, got {other:?}"),
        }
    }
    match api
        .list(
            &ListParams::default()
                .at(&old_rv)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 410),
        other => panic!("expected 410 for an exact list at a compacted revision, got {other:?}"),
    }
    // A fresh list works and sees everything.
    let all = api.list(&ListParams::default()).await.unwrap();
    assert!(all.items.len() >= 31);
}
