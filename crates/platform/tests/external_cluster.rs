//! The platform against a separately started `orrery cluster` process, reached only through
//! its kubeconfig: login, workspaces, projects, members and isolation.
mod common;

use common::process::OrreryCluster;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_against_an_orrery_cluster_process() {
    let dir = tempfile::tempdir().expect("tmp");
    let process = OrreryCluster::start_async(&dir.path().join("cluster")).await;
    let kubeconfig = process.kubeconfig.clone();
    let config = test_config(kube_config(&kubeconfig).await, &dir.path().join("platform"));
    let p = platform::start(config)
        .await
        .expect("platform against the process");
    let c = Client::new(&p.url());
    let admin = c.login("admin", ADMIN_PW).await;
    for u in ["alice", "bob"] {
        create_user(&c, &admin, u).await;
    }
    create_workspace(&c, &admin, "a", "alice").await;
    create_workspace(&c, &admin, "b", "bob").await;
    let alice = c.login("alice", USER_PW).await;
    let bob = c.login("bob", USER_PW).await;
    create_project(&c, &alice, "a", "a-dev").await;
    create_project(&c, &bob, "b", "b-dev").await;
    add_member(
        &c,
        &alice,
        &format!("{IAM}/namespaces/a-dev/namespacemembers"),
        "bob",
        "viewer",
    )
    .await;
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), &alice, None)
                .await
        ),
        ["a"]
    );
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), &bob, None)
                .await
        ),
        ["a", "b"]
    );
    // alice writes in her project, bob may only read it; neither reaches the other's workspace.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}});
    let (s, v) = c
        .post("/api/v1/namespaces/a-dev/configmaps", &alice, cm.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = c
        .get("/api/v1/namespaces/a-dev/configmaps/conf", &bob)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c
        .post("/api/v1/namespaces/a-dev/configmaps", &bob, cm.clone())
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in [
        "/api/v1/namespaces/b-dev/configmaps",
        "/api/v1/namespaces/b-dev/configmaps?watch=true&timeoutSeconds=1",
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b",
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/b/workspacemembers",
    ] {
        let (s, _) = c.get(path, &alice).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = c.get("/api/v1/namespaces/b-dev/configmaps", &bob).await;
    assert_eq!(s, StatusCode::OK);
    let members = c
        .ok(
            Method::GET,
            &format!("{IAM}/workspaces/a/workspacemembers"),
            &alice,
            None,
        )
        .await;
    assert_eq!(names(&members), ["alice"]);
    p.shutdown().await;
}
