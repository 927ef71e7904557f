//! A member that goes down turns not Ready, answers 503 and recovers by itself.
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_goes_down_turns_not_ready_and_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let m2 = OrreryCluster::start_async(&dir.path().join("m2")).await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    join(c, &admin, "m1", &m1.kubeconfig_text()).await;
    join(c, &admin, "m2", &m2.kubeconfig_text()).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    wait_ready(c, &admin, "m2", true, Duration::from_secs(30)).await;
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces",
        &admin,
        None,
        StatusCode::OK,
    )
    .await;

    m1.stop();
    let down = wait_ready(c, &admin, "m1", false, Duration::from_secs(30)).await;
    let cond = down["status"]["conditions"][0].clone();
    assert!(
        cond["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{cond}"
    );
    let started = Instant::now();
    let (s, v) = c.get("/clusters/m1/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not ready"),
        "{v}"
    );
    println!(
        "503 from a stopped member answered in {:?}",
        started.elapsed()
    );
    // The other clusters are unaffected.
    let (s, _) = c.get("/clusters/m2/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get("/clusters/host/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::OK);
    wait_ready(c, &admin, "m2", true, Duration::from_secs(1)).await;

    let m1 = tokio::task::spawn_blocking(move || {
        m1.restart();
        m1
    })
    .await
    .expect("restart");
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces",
        &admin,
        None,
        StatusCode::OK,
    )
    .await;
    // The member's caches resynced: a namespace made while the platform was not looking shows
    // up in them.
    let ns: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(member_client(&m1).await);
    let obj: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "after-restart"}})).expect("ns");
    ns.create(&Default::default(), &obj).await.expect("create");
    let member = env.platform.state.clusters.get("m1").expect("member");
    let seen = member
        .caches
        .namespaces
        .wait_for(Duration::from_secs(20), |c| {
            c.get("after-restart").is_some()
        })
        .await;
    assert!(seen, "the member's namespace cache did not resync");
    let search = "/kapis/search.orrery.io/v1alpha1/resources?kind=namespaces&name=after-restart";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c.ok(Method::GET, search, &admin, None).await;
        if v["totalItems"] == 1 && v["items"][0]["cluster"] == "m1" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "search index did not resync: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((m1, m2));
}

/// A member that hangs (SIGSTOP: its socket still accepts, nothing answers) is cut off by the
/// requests that fail on it, long before a periodic health check would notice: after the
/// first failing request, requests to it answer 503 within 1 s; other clusters are served
/// meanwhile; after SIGCONT it is served again without anyone's help.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_hangs_is_cut_off_by_its_failing_requests_and_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let env = Env::start_with(|c| {
        fast_clusters(c, vec![]);
        // The periodic check is slow here, so that only the requests can notice the hang.
        c.clusters.health_period = Duration::from_secs(120);
        c.clusters.backoff_max = Duration::from_secs(120);
    })
    .await;
    let c = &env.http;
    let admin = env.admin().await;
    join(c, &admin, "m1", &m1.kubeconfig_text()).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    // ConfigMaps: never answered from the platform's caches, always from the member.
    let path = "/clusters/m1/api/v1/namespaces/default/configmaps";
    eventually(c, Method::GET, path, &admin, None, StatusCode::OK).await;

    m1.signal("STOP");
    // The first request waits until the member is found not answering (a request slower
    // than 2 s has it probed), then fails.
    let started = Instant::now();
    let (s, v) = c.get(path, &admin).await;
    let first = started.elapsed();
    assert!(
        matches!(
            s,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT | StatusCode::BAD_GATEWAY
        ),
        "{s} {v}"
    );
    // Every later one is refused at once, with a Status saying why.
    let mut later = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (s, v) = c.get(path, &admin).await;
        later.push(started.elapsed());
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or_default()
                .contains("not answering"),
            "{v}"
        );
    }
    let slowest = later.iter().max().copied().unwrap_or_default();
    println!("hung member: first request failed after {first:?}; later 503s within {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "a 503 took {slowest:?}");
    // The host is served meanwhile.
    let (s, _) = c.get("/clusters/host/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::OK);

    m1.signal("CONT");
    // Recovery needs nobody: the breaker's own probes close it.
    eventually(c, Method::GET, path, &admin, None, StatusCode::OK).await;
    drop(m1);
}
