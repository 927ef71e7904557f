//! Validation refusals, kubeconfig replacement and deleting a Cluster.
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_refuses_with_clear_messages() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "alice").await;
    let alice = c.login("alice", USER_PW).await;
    let good = m1.kubeconfig_text();
    let host_kc = std::fs::read_to_string(&env.kubeconfig).expect("host kubeconfig");
    let not_allowed = exec_kubeconfig(&m1, "m1", "/bin/sh");
    refusals(c, &admin, &alice, &m1, &host_kc).await;
    join_once(c, &admin, &good).await;
    replace_kubeconfig(c, &admin, &alice, &m1, &host_kc).await;
    let kube = env.kube().await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(kube.clone(), "kubesphere-system");
    kubeconfig_stored_with_the_certificate(c, &admin, &secrets).await;
    kubeconfig_edited_behind_the_platform(c, &admin, &secrets, &not_allowed).await;
    deleting_clusters(c, &admin, &secrets).await;
    drop(m1);
}

/// Every way to get validation or joining wrong is refused with a clear message, and leaves
/// nothing behind.
async fn refusals(c: &Client, admin: &str, alice: &str, m1: &OrreryCluster, host_kc: &str) {
    let good = m1.kubeconfig_text();
    let unreachable = good.replace(&m1.url, "https://127.0.0.1:1");
    let bad_token = good.replace(&m1.admin_token(), "not-a-valid-token");
    let not_allowed = exec_kubeconfig(m1, "m1", "/bin/sh");
    let cases: [(&str, &str, &str, StatusCode, &str); 7] = [
        (
            "non-admin",
            alice,
            good.as_str(),
            StatusCode::FORBIDDEN,
            "User \"alice\" cannot create resource \"clusters\"",
        ),
        (
            "malformed",
            admin,
            "clusters: [unclosed",
            StatusCode::BAD_REQUEST,
            "malformed kubeconfig",
        ),
        (
            "unreachable",
            admin,
            unreachable.as_str(),
            StatusCode::BAD_REQUEST,
            "unreachable",
        ),
        (
            "bad credentials",
            admin,
            bad_token.as_str(),
            StatusCode::BAD_REQUEST,
            "refused the credentials",
        ),
        (
            "exec not allowed",
            admin,
            not_allowed.as_str(),
            StatusCode::BAD_REQUEST,
            "\"/bin/sh\" is not allowed",
        ),
        (
            "the host itself",
            admin,
            host_kc,
            StatusCode::CONFLICT,
            "already joined: it is the host cluster",
        ),
        (
            "empty",
            admin,
            "",
            StatusCode::BAD_REQUEST,
            "kubeconfig is required",
        ),
    ];
    for (what, token, kc, code, message) in cases {
        let (s, v) = c.post(VALIDATION, token, cluster_body("m1", kc)).await;
        assert_eq!(s, code, "{what}: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.contains(message), "{what}: {msg:?} lacks {message:?}");
        // Joining refuses the same way and leaves nothing behind.
        let (s, _) = c.post(CLUSTERS, token, cluster_body("m1", kc)).await;
        assert_eq!(s, code, "{what} (join)");
    }
    let (s, _) = c.get(&format!("{CLUSTERS}/m1"), admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A good kubeconfig validates and joins; the same cluster under another name is refused.
async fn join_once(c: &Client, admin: &str, good: &str) {
    let (s, v) = c.post(VALIDATION, admin, cluster_body("m1", good)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    join(c, admin, "m1", good).await;
    wait_ready(c, admin, "m1", true, Duration::from_secs(30)).await;
    // The same cluster under another name is refused (same kube-system uid).
    let (s, v) = c.post(VALIDATION, admin, cluster_body("again", good)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already joined as \"m1\""),
        "{v}"
    );
    let (s, _) = c.post(CLUSTERS, admin, cluster_body("again", good)).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

/// The kubeconfig can be replaced, but not by one for another cluster.
async fn replace_kubeconfig(
    c: &Client,
    admin: &str,
    alice: &str,
    m1: &OrreryCluster,
    host_kc: &str,
) {
    // The kubeconfig can be replaced, but not by one for another cluster.
    let put = "/kapis/cluster.kubesphere.io/v1alpha1/clusters/m1/kubeconfig";
    let (s, v) = c
        .put(
            put,
            admin,
            json!({"kubeconfig": B64.encode(cert_kubeconfig(m1, "m1"))}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = c
        .put(put, alice, json!({"kubeconfig": m1.kubeconfig_text()}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.put(put, admin, json!({"kubeconfig": host_kc})).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

/// The replacement is stored in the Secret, and the member still answers.
async fn kubeconfig_stored_with_the_certificate(
    c: &Client,
    admin: &str,
    secrets: &kube::Api<k8s_openapi::api::core::v1::Secret>,
) {
    let stored = secrets
        .get("orrery-cluster-m1-kubeconfig")
        .await
        .expect("secret");
    let config = stored
        .data
        .and_then(|d| d.get("config").cloned())
        .expect("config");
    assert!(String::from_utf8_lossy(&config.0).contains("client-certificate-data"));
    // After the replacement the member still answers.
    wait_ready(c, admin, "m1", true, Duration::from_secs(30)).await;
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces/kube-system",
        admin,
        None,
        StatusCode::OK,
    )
    .await;
}

/// A kubeconfig written into the Secret behind the platform's back is still checked.
async fn kubeconfig_edited_behind_the_platform(
    c: &Client,
    admin: &str,
    secrets: &kube::Api<k8s_openapi::api::core::v1::Secret>,
    not_allowed: &str,
) {
    // A kubeconfig written into the Secret behind the platform's back is still checked: a
    // disallowed exec plugin never runs, the cluster turns not Ready and its proxy answers 503.
    let mut edited = secrets
        .get("orrery-cluster-m1-kubeconfig")
        .await
        .expect("secret");
    edited.data = Some(
        [(
            "config".to_string(),
            k8s_openapi::ByteString(not_allowed.as_bytes().to_vec()),
        )]
        .into(),
    );
    secrets
        .replace("orrery-cluster-m1-kubeconfig", &Default::default(), &edited)
        .await
        .expect("replace secret");
    let down = wait_ready(c, admin, "m1", false, Duration::from_secs(30)).await;
    assert_eq!(
        down["status"]["conditions"][0]["reason"], "InvalidKubeconfig",
        "{down}"
    );
    let (s, v) = c.get("/clusters/m1/api/v1/namespaces", admin).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
}

/// Deleting a member removes its Secret and route; the host registers itself again.
async fn deleting_clusters(
    c: &Client,
    admin: &str,
    secrets: &kube::Api<k8s_openapi::api::core::v1::Secret>,
) {
    // Deleting the Cluster removes its Secret (finalizer) and the proxy route.
    let (s, v) = c.delete(&format!("{CLUSTERS}/m1"), admin).await;
    assert!(s.is_success(), "{v}");
    eventually(
        c,
        Method::GET,
        &format!("{CLUSTERS}/m1"),
        admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        secrets
            .get_opt("orrery-cluster-m1-kubeconfig")
            .await
            .expect("get")
            .is_none()
    );
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces",
        admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    // The host registers itself again if its Cluster is deleted.
    let (_, before) = c.get(&format!("{CLUSTERS}/host"), admin).await;
    let (s, v) = c.delete(&format!("{CLUSTERS}/host"), admin).await;
    assert!(s.is_success(), "{v}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, v) = c.get(&format!("{CLUSTERS}/host"), admin).await;
        if s == StatusCode::OK && v["metadata"]["uid"] != before["metadata"]["uid"] {
            break;
        }
        assert!(Instant::now() < deadline, "host not registered again: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_ready(c, admin, "host", true, Duration::from_secs(30)).await;
}
