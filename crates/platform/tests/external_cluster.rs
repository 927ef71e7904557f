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

/// A KubeSphere 4.1 CRD as its host holds it: two served versions (`v1alpha2` stored,
/// `v1beta1`) and KubeSphere's conversion webhook.
fn kubesphere_crd(plural: &str, kind: &str, scope: &str) -> serde_json::Value {
    let schema = json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.iam.kubesphere.io")},
        "spec": {"group": "iam.kubesphere.io", "scope": scope,
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
            "conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                "clientConfig": {"service": {"namespace": "kubesphere-system", "name": "ks-controller-manager", "path": "/convert"}}}},
            "versions": [
                {"name": "v1alpha2", "served": true, "storage": true, "schema": schema},
                {"name": "v1beta1", "served": true, "storage": false, "schema": schema}]}})
}

/// `orrery serve --kubeconfig` taking over a KubeSphere host: its multi-version CRDs and the
/// objects stored at the old version keep working, read at both versions, and nothing Orrery
/// does not own is rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_takes_over_kubesphere_crds_and_objects() {
    use kube::api::{Api, ApiResource, DynamicObject};
    let dir = tempfile::tempdir().expect("tmp");
    let process = OrreryCluster::start_async(&dir.path().join("cluster")).await;
    let kubeconfig = process.kubeconfig.clone();
    let kube = kube::Client::try_from(kube_config(&kubeconfig).await).expect("client");
    let crds: Api<DynamicObject> = platform::kinds::Kind::Crd.api(&kube, None);
    for (plural, kind) in [("users", "User"), ("globalroles", "GlobalRole")] {
        let crd: DynamicObject =
            serde_json::from_value(kubesphere_crd(plural, kind, "Cluster")).expect("crd");
        crds.create(&Default::default(), &crd)
            .await
            .expect("create crd");
    }
    let at = |version: &str, kind: &str, plural: &str| ApiResource {
        group: "iam.kubesphere.io".into(),
        version: version.into(),
        api_version: format!("iam.kubesphere.io/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    };
    let users_v1alpha2: Api<DynamicObject> =
        Api::all_with(kube.clone(), &at("v1alpha2", "User", "users"));
    let hash = bcrypt::hash(USER_PW, 4).expect("bcrypt");
    let user: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "iam.kubesphere.io/v1alpha2", "kind": "User",
        "metadata": {"name": "old-timer", "annotations": {"kubesphere.io/creator": "admin",
            "iam.kubesphere.io/last-password-change-time": "2025-01-02T03:04:05Z"}},
        "spec": {"email": "old@example.com", "password": hash, "lang": "zh"},
        "status": {"state": "Active"}}))
    .expect("user");
    let mut created = None;
    for _ in 0..100 {
        match users_v1alpha2.create(&Default::default(), &user).await {
            Ok(u) => {
                created = Some(u);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let before = serde_json::to_value(created.expect("the v1alpha2 user")).expect("json");

    let config = test_config(kube_config(&kubeconfig).await, &dir.path().join("platform"));
    let p = platform::start(config)
        .await
        .expect("the platform takes over");
    let c = Client::new(&p.url());
    c.login("old-timer", USER_PW).await;
    // Both versions still served, the old one no longer by a webhook nobody runs.
    let crd = crds.get("users.iam.kubesphere.io").await.expect("crd");
    let crd = serde_json::to_value(crd).expect("json");
    let versions: Vec<(String, bool)> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["name"].as_str().unwrap_or_default().to_string(),
                v["served"] == true,
            )
        })
        .collect();
    assert!(
        versions.contains(&("v1alpha2".into(), true)),
        "{versions:?}"
    );
    assert!(versions.contains(&("v1beta1".into(), true)), "{versions:?}");
    assert_eq!(crd["spec"]["conversion"]["strategy"], "None", "{crd}");
    let old = users_v1alpha2
        .get("old-timer")
        .await
        .expect("read at v1alpha2");
    let old = serde_json::to_value(old).expect("json");
    let users_v1beta1: Api<DynamicObject> =
        Api::all_with(kube.clone(), &at("v1beta1", "User", "users"));
    let new = serde_json::to_value(
        users_v1beta1
            .get("old-timer")
            .await
            .expect("read at v1beta1"),
    )
    .expect("json");
    for v in [&old, &new] {
        assert_eq!(v["spec"]["email"], "old@example.com", "{v}");
        assert_eq!(
            v["spec"]["password"], before["spec"]["password"],
            "the hash is not rewritten"
        );
        assert_eq!(
            v["metadata"]["annotations"], before["metadata"]["annotations"],
            "{v}"
        );
    }
    // kubectl reads both versions too.
    let out = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig.to_string_lossy(),
            "get",
            "users.v1alpha2.iam.kubesphere.io",
            "old-timer",
            "-o",
            "jsonpath={.spec.email}",
        ])
        .output()
        .expect("kubectl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "old@example.com",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(p);
}
