//! Workspace quotas (`quota.kubesphere.io/v1alpha2`): the API on the host and a member, the
//! admission webhook the platform registers in each cluster, and a quota refusing the pod
//! that would exceed it in any of the workspace's projects — pods written straight to the
//! member (never through the platform) and pods a ReplicaSet makes inside it.
use super::*;

const TENANT_API: &str = "/kapis/tenant.kubesphere.io/v1beta1";
const WEBHOOKS: &str =
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/orrery-workspace-quotas";

fn quotas(cluster: Option<&str>, ws: &str) -> String {
    let prefix = cluster
        .map(|c| format!("/clusters/{c}"))
        .unwrap_or_default();
    format!("{prefix}{TENANT_API}/workspaces/{ws}/resourcequotas")
}

fn pod(name: &str, memory: Option<&str>) -> Value {
    let resources = match memory {
        Some(m) => json!({"limits": {"memory": m}}),
        None => json!({}),
    };
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}]}})
}

/// Creates a pod straight in the member; the answer's status and body.
async fn create_pod(m: &kube::Client, ns: &str, body: Value) -> Result<(), kube::core::Status> {
    create_pod_with(m, ns, body, false).await
}

async fn create_pod_with(
    m: &kube::Client,
    ns: &str,
    body: Value,
    dry_run: bool,
) -> Result<(), kube::core::Status> {
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        m.clone(),
        ns,
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
    );
    let obj: kube::api::DynamicObject = serde_json::from_value(body).expect("pod");
    let pp = kube::api::PostParams {
        dry_run,
        ..Default::default()
    };
    match api.create(&pp, &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) => Err(*s),
        Err(e) => panic!("create pod: {e}"),
    }
}

async fn used(c: &Client, admin: &str, path: &str) -> Value {
    let (s, v) = c.get(path, admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["status"]["total"]["used"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_quota_holds_across_its_projects_in_a_member() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    join(c, &admin, "m1", &cert_kubeconfig(&m1, "m1")).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    create_user(c, &admin, "wsadmin").await;
    create_user(c, &admin, "viewer").await;
    placed_workspace(c, &admin, "ws", "wsadmin", "m1").await;
    let wsadmin = c.login("wsadmin", USER_PW).await;
    for ns in ["p1", "p2"] {
        member_project(c, &wsadmin, "m1", "ws", ns).await;
    }
    let member = member_client(&m1).await;
    let ns_api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(member.clone());
    ns_api
        .create(
            &Default::default(),
            &serde_json::from_value(json!({"metadata": {"name": "outside"}})).expect("ns"),
        )
        .await
        .expect("outside namespace");

    let m1_quotas = quotas(Some("m1"), "ws");
    quota_api_checks_and_confines(c, &admin, &wsadmin, &m1_quotas).await;

    webhook_registered_in_m1_only(c, &admin).await;

    pods_count_across_projects(c, &admin, &member, &m1_quotas).await;

    // Deleting a pod gives its share back (recalculated from the pods themselves).
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(member.clone(), "p1");
    pods.delete("a", &Default::default()).await.expect("delete");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let gone = pods.get_opt("a").await.expect("get").is_none();
        if gone && used(c, &admin, &format!("{m1_quotas}/ws")).await["pods"] == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "usage not recalculated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dry_runs_are_checked_not_charged(c, &admin, &member, &m1_quotas).await;
    a_replica_set_stops_at_the_quota(&member, &pods).await;

    // Raising the quota lets the ReplicaSet finish.
    c.ok(
        Method::PATCH,
        &format!("{m1_quotas}/ws"),
        &wsadmin,
        Some(json!({"spec": {"quota": {"hard": {"pods": "4"}}}})),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while pods
        .list(&Default::default())
        .await
        .expect("pods")
        .items
        .len()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "the ReplicaSet did not finish after the quota was raised"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Deleting the last quota removes the webhook.
    c.ok(Method::DELETE, &format!("{m1_quotas}/ws"), &wsadmin, None)
        .await;
    eventually(
        c,
        Method::GET,
        &format!("/clusters/m1{WEBHOOKS}"),
        &admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    drop(m1);
}

/// A quota of another workspace's namespaces, or without quantities, is refused; the quota
/// lives in m1, not the host; strangers see nothing of it, viewers read it and cannot change it.
async fn quota_api_checks_and_confines(c: &Client, admin: &str, wsadmin: &str, m1_quotas: &str) {
    // The API: a quota of another workspace's namespaces, or no quantities, is refused.
    let (s, v) = c
        .post(m1_quotas, wsadmin, json!({"metadata": {"name": "ws"},
            "spec": {"quota": {"hard": {"pods": "2"}}, "selector": {"kubesphere.io/workspace": "other"}}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = c
        .post(
            m1_quotas,
            wsadmin,
            json!({"metadata": {"name": "ws"}, "spec": {"quota": {"hard": {"pods": "lots"}}}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let created = c
        .ok(
            Method::POST,
            m1_quotas,
            wsadmin,
            Some(json!({"apiVersion": "quota.kubesphere.io/v1alpha2",
            "kind": "ResourceQuota", "metadata": {"name": "ws"},
            "spec": {"quota": {"hard": {"pods": "2", "limits.memory": "1Gi"}}}})),
        )
        .await;
    assert_eq!(
        created["spec"]["selector"],
        json!({"kubesphere.io/workspace": "ws"})
    );
    assert_eq!(
        created["metadata"]["labels"]["kubesphere.io/workspace"],
        "ws"
    );
    // It lives in m1, not the host; KubeSphere 3's v1alpha2 path answers too.
    let (s, _) = c.get(&format!("{}/ws", quotas(None, "ws")), admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v = c
        .ok(
            Method::GET,
            "/clusters/m1/kapis/tenant.kubesphere.io/v1alpha2/workspaces/ws/resourcequotas",
            admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["ws"]);
    // A stranger sees nothing of it; the workspace's viewers read it and cannot change it.
    let viewer = c.login("viewer", USER_PW).await;
    let (s, _) = c.get(&format!("{m1_quotas}/ws"), &viewer).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    add_member(
        c,
        admin,
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/ws/workspacemembers",
        "viewer",
        "ws-viewer",
    )
    .await;
    eventually(
        c,
        Method::GET,
        &format!("{m1_quotas}/ws"),
        &viewer,
        None,
        StatusCode::OK,
    )
    .await;
    let (s, _) = c
        .call(
            Method::PATCH,
            &format!("{m1_quotas}/ws"),
            Some(viewer.as_str()),
            Some(json!({"spec": {"quota": {"hard": {"pods": "100"}}}})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The platform registers its webhook in m1 (the host has no workspace quota, so no webhook).
async fn webhook_registered_in_m1_only(c: &Client, admin: &str) {
    // The platform registers its webhook in m1.
    let deadline = Instant::now() + Duration::from_secs(20);
    let hook = loop {
        let (s, v) = c.get(&format!("/clusters/m1{WEBHOOKS}"), admin).await;
        if s == StatusCode::OK {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no webhook registered in m1: {s} {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        hook["webhooks"][0]["rules"][0]["resources"],
        json!(["pods"]),
        "{hook}"
    );
    let (s, _) = c.get(WEBHOOKS, admin).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the host has no workspace quota, so no webhook"
    );
}

/// Pods written straight to m1 count across p1 and p2: the third is refused with kube's words;
/// a namespace outside the workspace is not limited by it.
async fn pods_count_across_projects(
    c: &Client,
    admin: &str,
    member: &kube::Client,
    m1_quotas: &str,
) {
    // Pods written straight to m1 count across p1 and p2: the third is refused with kube's words.
    create_pod(member, "p1", pod("a", Some("256Mi")))
        .await
        .expect("first pod");
    create_pod(member, "p2", pod("b", Some("256Mi")))
        .await
        .expect("second pod");
    let refused = create_pod(member, "p1", pod("c", Some("256Mi")))
        .await
        .expect_err("third pod");
    assert_eq!(refused.code, 403, "{refused:?}");
    assert!(
        refused
            .message
            .contains("exceeded quota: ws, requested: pods=1, used: pods=2, limited: pods=2"),
        "{}",
        refused.message
    );
    assert!(
        refused
            .message
            .contains("resourcequotas.quota.kubesphere.io"),
        "{}",
        refused.message
    );
    let refused = create_pod(member, "p2", pod("d", None))
        .await
        .expect_err("no limits");
    assert!(
        refused
            .message
            .contains("failed quota: ws: must specify limits.memory for: c"),
        "{}",
        refused.message
    );
    // A namespace outside the workspace is not limited by it.
    for i in 0..3 {
        create_pod(member, "outside", pod(&format!("o{i}"), None))
            .await
            .expect("outside the workspace");
    }
    let v = used(c, admin, &format!("{m1_quotas}/ws")).await;
    assert_eq!(v["pods"], "2", "{v}");
    assert_eq!(v["limits.memory"], "512Mi", "{v}");
}

/// A dry run is checked and not charged; the status says what each namespace uses.
async fn dry_runs_are_checked_not_charged(
    c: &Client,
    admin: &str,
    member: &kube::Client,
    m1_quotas: &str,
) {
    // A dry run is checked and not charged.
    create_pod_with(member, "p2", pod("dry", Some("1Gi")), true)
        .await
        .expect_err("a dry run past limits.memory is refused too");
    create_pod_with(member, "p2", pod("dry", Some("256Mi")), true)
        .await
        .expect("dry run");
    assert_eq!(
        used(c, admin, &format!("{m1_quotas}/ws")).await["pods"],
        "1"
    );
    let status = c
        .ok(Method::GET, &format!("{m1_quotas}/ws"), admin, None)
        .await;
    let by_ns: Vec<(String, String)> = status["status"]["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n["namespace"].as_str().unwrap_or_default().to_string(),
                n["used"]["pods"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        by_ns,
        [
            ("p1".to_string(), "0".to_string()),
            ("p2".to_string(), "1".to_string())
        ]
    );
}

/// A Deployment's ReplicaSet inside m1 gets one pod more, then kube's FailedCreate event.
async fn a_replica_set_stops_at_the_quota(
    member: &kube::Client,
    pods: &kube::Api<k8s_openapi::api::core::v1::Pod>,
) {
    // A Deployment's ReplicaSet inside m1 gets one pod more, then kube's FailedCreate event.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"memory": "128Mi"}}}]}}}});
    let deployments: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        member.clone(),
        "p1",
        &kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    deployments
        .create(
            &Default::default(),
            &serde_json::from_value(deploy).expect("deploy"),
        )
        .await
        .expect("deployment");
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(member.clone(), "p1");
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let list = events.list(&Default::default()).await.expect("events");
        if let Some(e) = list
            .items
            .iter()
            .find(|e| e.reason.as_deref() == Some("FailedCreate"))
        {
            break e.message.clone().unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "no FailedCreate event");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(failed.contains("exceeded quota: ws"), "{failed}");
    let in_p1 = pods
        .list(&Default::default())
        .await
        .expect("pods")
        .items
        .len();
    assert_eq!(in_p1, 1, "one web pod fits beside b in p2");
}
