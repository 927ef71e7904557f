//! The search index against a real API server: custom resources, ConfigMaps and Secrets are
//! listed and watched as `PartialObjectMetadata` (the server sends their metadata, nothing
//! else) and stay searchable by name and label as they change.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, WatchParams};
use kube::core::{Request, WatchEvent};
use platform::search::index::ClusterIndex;
use platform::search::{self, SearchCluster, SearchQuery};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::common;

/// Every request a client sent: its path and query, and its `Accept` header.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A client layer that writes down each request's URI and `Accept` header.
#[derive(Clone)]
struct Recording<S> {
    inner: S,
    seen: Seen,
}

impl<S: tower::Service<http::Request<B>>, B> tower::Service<http::Request<B>> for Recording<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> S::Future {
        let accept = req.headers().get(http::header::ACCEPT);
        let accept = accept.and_then(|a| a.to_str().ok()).unwrap_or_default();
        let entry = (req.uri().to_string(), accept.to_string());
        self.seen.lock().expect("lock").push(entry);
        self.inner.call(req)
    }
}

/// A kube client for `cluster` whose requests are recorded in the returned list.
async fn recording_client(cluster: &apiserver::RunningCluster) -> (kube::Client, Seen) {
    let config = common::kube_config(&cluster.kubeconfig_path).await;
    let seen = Seen::default();
    let record = seen.clone();
    let layer = tower::layer::layer_fn(move |inner| Recording {
        inner,
        seen: record.clone(),
    });
    let client = kube::client::ClientBuilder::try_from(config)
        .expect("client")
        .with_layer(&layer)
        .build();
    (client, seen)
}

fn widgets() -> ApiResource {
    common::api_resource("example.com", "v1", "Widget", "widgets")
}

/// Installs the Widget CRD (namespaced, a status subresource) and the namespace `shop`, and
/// waits until widgets can be created.
async fn install_widgets(client: &kube::Client) -> Api<DynamicObject> {
    let crds = common::api_resource(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"spec": open, "status": open}}}}]}});
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &crds);
    create(&api, crd).await;
    let namespaces = common::api_resource("", "v1", "Namespace", "namespaces");
    let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &namespaces);
    create(&namespaces, json!({"metadata": {"name": "shop"}})).await;
    let api = Api::namespaced_with(client.clone(), "shop", &widgets());
    let probe = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "probe"}});
    common::eventually("widgets are served", || {
        let (api, probe) = (api.clone(), probe.clone());
        async move { api.create(&Default::default(), &from(probe)).await.is_ok() }
    })
    .await;
    api
}

fn from(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("an object")
}

async fn create(api: &Api<DynamicObject>, v: Value) -> DynamicObject {
    api.create(&Default::default(), &from(v))
        .await
        .expect("create")
}

/// What `query` finds in `index`.
fn hits(index: &ClusterIndex, query: &str) -> Vec<search::Hit> {
    let no_ws = |_: &str| None;
    let clusters = [SearchCluster {
        name: "host",
        index,
        workspace_of: &no_ws,
        workspace_namespaces: None,
    }];
    let q = SearchQuery::parse(query).expect("query");
    search::run(&q, &clusters, |_, _, _| true).1
}

/// The names of what `query` finds in `index`.
fn found(index: &ClusterIndex, query: &str) -> Vec<String> {
    let hits = hits(index, query);
    hits.iter().map(|h| h.obj.name.to_string()).collect()
}

/// Waits until `query` finds exactly `want` in `index`.
async fn finds(index: &ClusterIndex, query: &str, want: &[&str]) {
    common::eventually(&format!("{query} finds {want:?}"), || async {
        found(index, query) == want
    })
    .await;
}

/// A widget with a label, a secret in its spec and a phase in its status.
async fn blue_widget(api: &Api<DynamicObject>) {
    create(
        api,
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "blue-widget", "labels": {"tier": "gold"}},
            "spec": {"password": "s3cr3t-spec"}}),
    )
    .await;
    let status = json!({"status": {"phase": "Shiny"}});
    api.patch_status(
        "blue-widget",
        &PatchParams::default(),
        &Patch::Merge(&status),
    )
    .await
    .expect("status");
}

/// Relabels the widget, then deletes it.
async fn relabel_then_delete(index: &ClusterIndex, api: &Api<DynamicObject>) {
    let relabel = json!({"metadata": {"labels": {"tier": "silver"}}});
    api.patch(
        "blue-widget",
        &PatchParams::default(),
        &Patch::Merge(&relabel),
    )
    .await
    .expect("relabel");
    finds(index, "labelSelector=tier%3Dsilver", &["blue-widget"]).await;
    assert!(found(index, "labelSelector=tier%3Dgold").is_empty());
    api.delete("blue-widget", &Default::default())
        .await
        .expect("delete");
    finds(index, "name=blue-widget", &[]).await;
}

/// The index finds custom resources by name, kind and label and follows their changes, from
/// metadata-only lists and watches (`Accept: …;as=PartialObjectMetadata…`) of custom
/// resources, ConfigMaps and Secrets; the other built-in kinds are read whole.
#[tokio::test]
async fn custom_resources_are_indexed_from_their_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = common::start_cluster(dir.path()).await;
    let (client, seen) = recording_client(&cluster).await;
    let api = install_widgets(&client).await;
    blue_widget(&api).await;
    let index = Arc::new(ClusterIndex::new());
    let stop = CancellationToken::new();
    tokio::spawn(index.clone().run(client.clone(), stop.clone()));
    finds(
        &index,
        "kind=widgets.example.com&name=blue",
        &["blue-widget"],
    )
    .await;
    finds(&index, "labelSelector=tier%3Dgold", &["blue-widget"]).await;
    let hit = hits(&index, "name=blue-widget").remove(0).obj;
    assert_eq!(hit.namespace.as_deref(), Some("shop"));
    assert!(hit.created > 0 && hit.status.is_none(), "{hit:?}");
    relabel_then_delete(&index, &api).await;
    stop.cancel();
    let seen = seen.lock().expect("lock").clone();
    let index_reads = |path: &str| -> Vec<(String, String)> {
        let reads = seen
            .iter()
            .filter(|(uri, _)| uri.starts_with(path) && uri.contains('?'));
        reads.cloned().collect()
    };
    for path in [
        "/apis/example.com/v1/widgets?",
        "/api/v1/configmaps?",
        "/api/v1/secrets?",
    ] {
        let reads = index_reads(path);
        assert!(
            reads.iter().any(|(uri, _)| uri.contains("watch=true")) && reads.len() >= 2,
            "{path}: {reads:?}"
        );
        for (uri, accept) in reads {
            assert!(
                accept.contains("as=PartialObjectMetadata") && accept.contains("g=meta.k8s.io"),
                "{uri} asked for {accept:?}"
            );
        }
    }
    let pods = index_reads("/api/v1/pods?");
    assert!(
        !pods.is_empty() && pods.iter().all(|(_, a)| !a.contains("as=")),
        "{pods:?}"
    );
}

/// kube-rs's metadata list and watch of custom resources get `PartialObjectMetadata`: the
/// objects' metadata (name, labels, resourceVersion…) and nothing of their spec or status.
#[tokio::test]
async fn custom_resource_metadata_lists_and_watches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = common::start_cluster(dir.path()).await;
    let (client, _) = recording_client(&cluster).await;
    let api = install_widgets(&client).await;
    blue_widget(&api).await;
    let request = Request::new("/apis/example.com/v1/namespaces/shop/widgets");
    let list = request
        .list_metadata(&ListParams::default().labels("tier=gold"))
        .expect("request");
    let list: Value = client.request(list).await.expect("list");
    assert_eq!(list["kind"], "PartialObjectMetadataList", "{list}");
    let item = &list["items"][0];
    assert_eq!(
        (
            &item["kind"],
            &item["apiVersion"],
            &item["metadata"]["name"]
        ),
        (
            &json!("PartialObjectMetadata"),
            &json!("meta.k8s.io/v1"),
            &json!("blue-widget")
        ),
    );
    assert!(item["spec"].is_null() && item["status"].is_null(), "{item}");
    assert!(!list.to_string().contains("s3cr3t-spec"), "{list}");
    let rv = list["metadata"]["resourceVersion"].as_str().expect("rv");
    let watch = request
        .watch_metadata(&WatchParams::default().timeout(10), rv)
        .expect("request");
    let mut events = Box::pin(client.request_events::<Value>(watch).await.expect("watch"));
    let status = json!({"status": {"phase": "Dull"}});
    let patched = api
        .patch_status(
            "blue-widget",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .expect("status");
    // The next event that is not a bookmark (the watch ends after 10 s).
    let obj = loop {
        match futures::StreamExt::next(&mut events).await {
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            Some(Ok(WatchEvent::Modified(obj))) => break obj,
            other => panic!("not MODIFIED: {other:?}"),
        }
    };
    assert_eq!(obj["kind"], "PartialObjectMetadata", "{obj}");
    assert_eq!(
        obj["metadata"]["resourceVersion"].as_str(),
        patched.metadata.resource_version.as_deref()
    );
    assert!(obj["spec"].is_null() && obj["status"].is_null(), "{obj}");
    // kube-rs's own typed metadata list reads the same answer.
    let metas = api
        .list_metadata(&ListParams::default())
        .await
        .expect("list");
    let names: Vec<_> = metas
        .items
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    assert_eq!(names, ["blue-widget", "probe"]);
}
