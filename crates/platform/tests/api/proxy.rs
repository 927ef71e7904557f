//! The native API proxy: CRUD, watch and Kubernetes-shaped errors.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_proxy_crud_and_watch() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "dev").await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/p/namespacemembers"),
        "dev",
        "operator",
    )
    .await;
    let dev = c.login("dev", USER_PW).await;
    // Discovery is open to every user.
    for p in ["/api", "/apis", "/api/v1", "/version"] {
        let (s, _) = c.get(p, &dev).await;
        assert_eq!(s, StatusCode::OK, "{p}");
    }
    // A watch stream through the proxy sees a write.
    let watch = c
        .inner
        .get(format!(
            "{}/api/v1/namespaces/p/configmaps?watch=true",
            c.base
        ))
        .bearer_auth(&dev)
        .send()
        .await
        .expect("watch");
    assert_eq!(watch.status(), StatusCode::OK);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"}, "data": {"k": "v"}});
    let (s, v) = c.post("/api/v1/namespaces/p/configmaps", &dev, cm).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut stream = watch.bytes_stream();
    use futures::StreamExt;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains("cm1") {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("watch ended before the event: {other:?} {seen}"),
        }
    }
    assert!(seen.contains("\"ADDED\""), "{seen}");
    // Update and delete pass through; the answer is the host's.
    let v = c
        .ok(
            Method::GET,
            "/api/v1/namespaces/p/configmaps/cm1",
            &dev,
            None,
        )
        .await;
    assert_eq!(v["data"]["k"], "v");
    let (s, v) = c.call(Method::PUT, "/api/v1/namespaces/p/configmaps/cm1", Some(&dev), Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1", "resourceVersion": "1"}, "data": {}}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["kind"], "Status");
    let (s, _) = c.delete("/api/v1/namespaces/p/configmaps/cm1", &dev).await;
    assert_eq!(s, StatusCode::OK);
    // Elsewhere: a Kubernetes-shaped 403.
    let (s, v) = c
        .get("/api/v1/namespaces/kube-system/configmaps", &dev)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str(), v["code"].as_u64()),
        (Some("Status"), Some("Forbidden"), Some(403))
    );
    let (s, _) = c
        .get("/api/v1/watch/namespaces/kube-system/configmaps", &dev)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get("/api/v1/configmaps?watch=1", &dev).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get("/api/v1/nodes", &dev).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
