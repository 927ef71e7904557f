//! Cluster-scoped resources have no `namespaces/{ns}/` form (issue 11): every one the cluster
//! serves, taken from its own discovery, answers 404 there for every verb, as kube-apiserver
//! does, and nothing changes.

mod common;

use kube::discovery::{Discovery, Scope};

use common::TestCluster;

async fn raw(client: &kube::Client, method: http::Method, path: &str, body: Vec<u8>) -> u16 {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    match client.request_text(req).await {
        Ok(_) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("{path}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_scoped_resources_under_a_namespace_path_do_not_exist() {
    let cluster = TestCluster::start(&[]);
    let client = cluster.client().await;
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let before = cluster.ok(&[
        "get",
        "clusterroles,clusterrolebindings,namespaces,nodes",
        "-o",
        "name",
    ]);
    let mut checked = 0;
    for group in discovery.groups() {
        for version in group.versions() {
            for (res, caps) in group.versioned_resources(version) {
                if caps.scope != Scope::Cluster {
                    continue;
                }
                let base = if res.group.is_empty() {
                    format!("/api/{}", res.version)
                } else {
                    format!("/apis/{}/{}", res.group, res.version)
                };
                let list = format!("{base}/namespaces/default/{}", res.plural);
                let one = format!("{list}/kube-system");
                let body = serde_json::to_vec(&serde_json::json!({
                    "apiVersion": res.api_version, "kind": res.kind,
                    "metadata": {"name": "via-namespace-path"}
                }))
                .expect("body");
                for (method, path, body) in [
                    (http::Method::GET, list.clone(), Vec::new()),
                    (http::Method::GET, format!("{list}?watch=true"), Vec::new()),
                    (http::Method::GET, one.clone(), Vec::new()),
                    (http::Method::POST, list.clone(), body.clone()),
                    (http::Method::PUT, one.clone(), body.clone()),
                    (http::Method::PATCH, one.clone(), b"{}".to_vec()),
                    (http::Method::DELETE, one.clone(), Vec::new()),
                    (http::Method::DELETE, list.clone(), Vec::new()),
                ] {
                    let code = raw(&client, method.clone(), &path, body).await;
                    assert_eq!(code, 404, "{method} {path}");
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} cluster-scoped resources in discovery"
    );
    let after = cluster.ok(&[
        "get",
        "clusterroles,clusterrolebindings,namespaces,nodes",
        "-o",
        "name",
    ]);
    assert_eq!(before, after);
    // The Namespace object's own paths are unaffected.
    let code = raw(
        &client,
        http::Method::GET,
        "/api/v1/namespaces/kube-system",
        Vec::new(),
    )
    .await;
    assert_eq!(code, 200);
}
