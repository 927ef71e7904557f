//! Monitoring: dashboards at every level and custom PromQL answered from the in-process store
//! (the leader sampling the simulated data plane), tenant confinement, sharing with a follower
//! and continuing after a failover; and the same dashboards answered from a real Prometheus
//! (Debian's `prometheus`) scraping the embedded cluster.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const MON: &str = "/kapis/monitoring.kubesphere.io/v1alpha3";

fn fast_sampling(pc: &mut platform::PlatformConfig) {
    pc.monitoring.interval = Duration::from_millis(500);
    pc.monitoring.retention_slots = 2000;
}

/// Waits (60 s at most) for `check` to return `Some`.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Like [`wait_for`], printing the last answer seen when it times out.
async fn wait_until(
    what: &str,
    c: &Client,
    path: &str,
    token: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (s, v) = c.get(path, token).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        if ok(&v) {
            return v;
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}; last answer: {last}");
}

async fn apply(kube: &kube::Client, ns: &str, obj: Value) {
    let gvk = obj["kind"].as_str().unwrap_or_default().to_string();
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (group, version, plural) = match gvk.as_str() {
        "Deployment" => ("apps", "v1", "deployments"),
        _ => ("", "v1", "pods"),
    };
    let ar = api_resource(group, version, &gvk, plural);
    let api: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(kube.clone(), ns, &ar);
    let obj: kube::api::DynamicObject = serde_json::from_value(obj).expect("object");
    api.create(&Default::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {gvk} {name}: {e}"));
}

fn deployment(name: &str, replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}]}}}})
}

/// A pod whose container crash-loops (sim conventions: the image contains `crashloop`).
fn crashing(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "example/crashloop:1"}]}})
}

/// `results[metric_name == m].data.result`.
fn result<'a>(v: &'a Value, m: &str) -> &'a Value {
    v["results"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["metric_name"] == m))
        .map(|x| &x["data"]["result"])
        .unwrap_or(&Value::Null)
}

fn value_of(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The single value of a metric (vector with one sample).
fn single(v: &Value, m: &str) -> Option<f64> {
    match result(v, m).as_array().map(Vec::as_slice) {
        Some([one]) => Some(value_of(one)),
        _ => None,
    }
}

/// label → value of a metric's samples.
fn by_label(v: &Value, m: &str, label: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = result(v, m)
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["metric"][label].as_str().unwrap_or_default().to_string(),
                value_of(s),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn pods_in(answer: &Value) -> Vec<String> {
    let mut out: Vec<String> = answer["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["metric"]["pod"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn q(expr: &str) -> String {
    url::form_urlencoded::byte_serialize(expr.as_bytes()).collect()
}

/// Two workspaces: `alice` manages w1 (project p1), `bob` views project p2 of w2; `carol` is a
/// member of nothing. p1 runs Deployment `web` (2 pods) and the crash-looping pod `crash`; p2
/// runs Deployment `other` (1 pod).
async fn workloads(env: &Env, admin: &str) -> (String, String, String) {
    let c = &env.http;
    for u in ["alice", "bob", "carol"] {
        create_user(c, admin, u).await;
    }
    create_workspace(c, admin, "w1", "alice").await;
    create_workspace(c, admin, "w2", "admin").await;
    create_project(c, admin, "w1", "p1").await;
    create_project(c, admin, "w2", "p2").await;
    add_member(
        c,
        admin,
        &format!("{IAM}/namespaces/p2/namespacemembers"),
        "bob",
        "viewer",
    )
    .await;
    let kube = env.kube().await;
    apply(&kube, "p1", deployment("web", 2)).await;
    apply(&kube, "p1", crashing("crash")).await;
    apply(&kube, "p2", deployment("other", 1)).await;
    (
        c.login("alice", USER_PW).await,
        c.login("bob", USER_PW).await,
        c.login("carol", USER_PW).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboards_answer_from_the_in_process_store_at_every_level_and_confine_tenants() {
    let (env, stop) = sim_env(fast_sampling).await;
    let admin = env.admin().await;
    let (alice, bob, carol) = workloads(&env, &admin).await;
    let c = &env.http;

    project_workload_and_pod_levels(c, &alice).await;

    workspace_cluster_and_node_levels(c, &admin, &alice).await;

    ranges_unknown_metrics_and_custom_promql(c, &admin, &alice).await;

    tenants_confined(c, &admin, &alice, &bob, &carol).await;

    stop.cancel();
}

/// Project level (the Deployment's pods and the crashing pod, with usage), workload level (the
/// Deployment's two pods only), pod level (the crash-looping pod's restarts increase).
async fn project_workload_and_pod_levels(c: &Client, alice: &str) {
    // Project level: the Deployment's pods and the crashing pod, with usage.
    let ns = wait_for("p1's pods with CPU and memory", || async {
        let (s, v) = c.get(&format!("{MON}/namespaces/p1/pods?metrics_filter=pod_cpu_usage|pod_memory_usage_wo_cache"), alice).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let cpu = by_label(&v, "pod_cpu_usage", "pod");
        let web: Vec<_> = cpu.iter().filter(|(p, x)| p.starts_with("web-") && *x > 0.0).collect();
        let mem = by_label(&v, "pod_memory_usage_wo_cache", "pod");
        let web_mem = mem.iter().filter(|(p, x)| p.starts_with("web-") && *x > 0.0).count();
        (web.len() == 2 && web_mem == 2).then_some(v)
    })
    .await;
    assert!(
        by_label(&ns, "pod_cpu_usage", "pod")
            .iter()
            .all(|(p, _)| p.starts_with("web-") || p == "crash"),
        "{ns}"
    );
    let project = wait_until(
        "p1's project dashboard",
        c,
        &format!("{MON}/namespaces/p1"),
        alice,
        |v| {
            single(v, "namespace_pod_count") == Some(3.0)
                && single(v, "namespace_cpu_usage").is_some_and(|x| x > 0.0)
        },
    )
    .await;
    assert!(
        single(&project, "namespace_memory_usage_wo_cache").is_some_and(|x| x > 0.0),
        "{project}"
    );

    // Workload level: the Deployment's two pods only.
    let workload = wait_until(
        "the web Deployment's dashboard",
        c,
        &format!("{MON}/namespaces/p1/workloads/deployments/web"),
        alice,
        |v| {
            single(v, "workload_pod_count") == Some(2.0)
                && single(v, "workload_cpu_usage").is_some_and(|x| x > 0.0)
                && single(v, "workload_memory_usage_wo_cache").is_some_and(|x| x > 0.0)
        },
    )
    .await;
    let pods = by_label(&workload, "pod_cpu_usage", "pod");
    assert_eq!(pods.len(), 2, "{workload}");
    assert!(pods.iter().all(|(p, _)| p.starts_with("web-")));

    // Pod level: the crash-looping pod's restarts increase.
    let first = wait_for("crash restarts", || async {
        let (_, v) = c
            .get(
                &format!("{MON}/namespaces/p1/pods/crash?metrics_filter=pod_restarts"),
                alice,
            )
            .await;
        single(&v, "pod_restarts").filter(|r| *r >= 1.0)
    })
    .await;
    wait_for("crash restarts increasing", || async {
        let (_, v) = c
            .get(
                &format!("{MON}/namespaces/p1/pods/crash?metrics_filter=pod_restarts"),
                alice,
            )
            .await;
        single(&v, "pod_restarts").filter(|r| *r > first)
    })
    .await;
}

/// Workspace level (w1's project); cluster and node levels for the admin: both nodes, every pod.
async fn workspace_cluster_and_node_levels(c: &Client, admin: &str, alice: &str) {
    // Workspace level: w1's project.
    let ws = wait_until(
        "w1's dashboard",
        c,
        &format!("{MON}/workspaces/w1"),
        alice,
        |v| single(v, "workspace_pod_count") == Some(3.0),
    )
    .await;
    assert!(
        single(&ws, "workspace_cpu_usage").is_some_and(|x| x > 0.0),
        "{ws}"
    );

    // Cluster and node levels (admin): both nodes, every pod.
    let cluster = wait_until(
        "the cluster dashboard",
        c,
        &format!("{MON}/cluster"),
        admin,
        |v| {
            single(v, "cluster_node_total") == Some(2.0)
                && single(v, "cluster_pod_count").is_some_and(|n| n >= 4.0)
                && single(v, "cluster_cpu_usage").is_some_and(|x| x > 0.0)
        },
    )
    .await;
    assert!(
        single(&cluster, "cluster_memory_usage_wo_cache").is_some_and(|x| x > 0.0),
        "{cluster}"
    );
    let (_, nodes) = c
        .get(
            &format!("{MON}/nodes?metrics_filter=node_cpu_usage|node_pod_count"),
            admin,
        )
        .await;
    assert_eq!(
        by_label(&nodes, "node_cpu_usage", "node").len(),
        2,
        "{nodes}"
    );
    let (_, host_alias) = c
        .get(
            &format!("/clusters/host{MON}/cluster?metrics_filter=cluster_node_total"),
            admin,
        )
        .await;
    assert_eq!(
        single(&host_alias, "cluster_node_total"),
        Some(2.0),
        "{host_alias}"
    );
}

/// A range is a matrix with a point per step; an unknown metric is an entry with an error;
/// custom PromQL at the cluster level for the admin, unsupported constructs named.
async fn ranges_unknown_metrics_and_custom_promql(c: &Client, admin: &str, alice: &str) {
    // A range: a matrix with a point per step (once a few samples exist).
    let range = wait_for("a range of at least three points", || async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (s, range) = c
            .get(&format!("{MON}/namespaces/p1?metrics_filter=namespace_memory_usage_wo_cache&start={}&end={now}&step=1s", now - 10), alice)
            .await;
        assert_eq!(s, StatusCode::OK, "{range}");
        assert_eq!(range["results"][0]["data"]["resultType"], "matrix", "{range}");
        range["results"][0]["data"]["result"][0]["values"]
            .as_array()
            .is_some_and(|v| v.len() >= 3)
            .then_some(range)
    })
    .await;
    assert!(
        range["results"][0]["data"]["result"][0]["values"][0][1]
            .as_str()
            .is_some_and(|v| v.parse::<f64>().is_ok_and(|x| x > 0.0)),
        "{range}"
    );

    // An unknown metric is an entry with an error; the others answer.
    let (s, mixed) = c
        .get(
            &format!("{MON}/namespaces/p1?metrics_filter=namespace_pod_count|no_such_metric"),
            alice,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(single(&mixed, "namespace_pod_count"), Some(3.0), "{mixed}");
    assert!(
        mixed["results"][1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no_such_metric")),
        "{mixed}"
    );

    // Custom PromQL: the cluster level for the admin; unsupported constructs are named.
    let (s, all) = c
        .get(
            &format!(
                "{MON}/targets/query?expr={}",
                q("container_memory_working_set_bytes")
            ),
            admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(all["status"], "success");
    assert!(
        pods_in(&all).iter().any(|p| p.starts_with("other-")),
        "{all}"
    );
    let (s, bad) = c
        .get(
            &format!(
                "{MON}/targets/query?expr={}",
                q("histogram_quantile(0.9, x)")
            ),
            admin,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    assert!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.contains("histogram_quantile")),
        "{bad}"
    );
}

/// Tenants: bob (viewer of p2) sees p2 only, whatever the PromQL says; every level of another
/// tenant's objects is refused, and the cluster's; no writes.
async fn tenants_confined(c: &Client, admin: &str, alice: &str, bob: &str, carol: &str) {
    // Tenants: bob (viewer of p2) sees p2 only, whatever the PromQL says.
    for expr in [
        r#"container_memory_working_set_bytes{namespace=~".+"}"#,
        r#"container_memory_working_set_bytes{namespace="p1"}"#,
        r#"container_memory_working_set_bytes or container_memory_working_set_bytes{namespace="p1"}"#,
        r#"{__name__=~"container_.+", namespace="p1" or pod=~"web-.+"}"#,
        r#"label_replace(container_memory_working_set_bytes{namespace="p1"}, "namespace", "p2", "", "")"#,
        r#"sum by (pod) (kube_pod_info)"#,
    ] {
        let (s, v) = c
            .get(
                &format!("{MON}/namespaces/p2/targets/query?expr={}", q(expr)),
                bob,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{expr}: {v}");
        let pods = pods_in(&v);
        assert!(pods.iter().all(|p| p.starts_with("other-")), "{expr}: {v}");
    }
    let (_, own) = c
        .get(
            &format!(
                "{MON}/namespaces/p2/targets/query?expr={}",
                q(r#"container_memory_working_set_bytes{namespace=~".+"}"#)
            ),
            bob,
        )
        .await;
    assert_eq!(pods_in(&own).len(), 1, "bob sees his own pod: {own}");
    // Every level of another tenant's objects is refused, and the cluster's.
    for path in [
        format!("{MON}/namespaces/p1"),
        format!("{MON}/namespaces/p1/pods"),
        format!("{MON}/namespaces/p1/pods/crash"),
        format!("{MON}/namespaces/p1/workloads/deployments/web"),
        format!("{MON}/namespaces/p1/targets/query?expr=up"),
        format!("{MON}/workspaces/w1"),
        format!("{MON}/cluster"),
        format!("{MON}/nodes"),
        format!("{MON}/nodes/node-0"),
        format!("{MON}/targets/query?expr=up"),
        format!("/clusters/host{MON}/namespaces/p1"),
    ] {
        for (who, token) in [("bob", &bob), ("carol", &carol)] {
            let (s, v) = c.get(&path, token).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{who} {path}: {v}");
        }
    }
    // alice manages w1, not w2's project.
    let (s, _) = c.get(&format!("{MON}/namespaces/p2"), alice).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get(&format!("{MON}/workspaces/w2"), alice).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Writes are not a thing here.
    let (s, _) = c.post(&format!("{MON}/cluster"), admin, json!({})).await;
    assert!(
        s == StatusCode::METHOD_NOT_ALLOWED
            || s == StatusCode::FORBIDDEN
            || s == StatusCode::NOT_FOUND,
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_answers_from_the_shared_store_and_a_new_leader_continues_the_series() {
    let (env, stop) = sim_env(fast_sampling).await;
    let admin = env.admin().await;
    let kube = env.kube().await;
    create_workspace(&env.http, &admin, "w1", "admin").await;
    create_project(&env.http, &admin, "w1", "p1").await;
    apply(&kube, "p1", deployment("web", 1)).await;
    let mut pc = test_config(
        kube_config(&env.kubeconfig).await,
        &env.dir.path().join("platform2"),
    );
    fast_sampling(&mut pc);
    let replica = platform::start(pc).await.expect("start replica");
    assert!(!*replica.leader.borrow(), "the first platform leads");
    let follower = Client::new(&replica.url());
    let token = follower.login("admin", ADMIN_PW).await;
    let counter = |c: Client, token: String| async move {
        let (_, v) = c
            .get(
                &format!(
                    "{MON}/namespaces/p1/targets/query?expr={}",
                    q("sum(container_cpu_usage_seconds_total)")
                ),
                &token,
            )
            .await;
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
    };
    // The follower does not sample; it answers from the leader's published copy.
    let before = wait_for("the follower's copy of the CPU counter", || {
        let (c, t) = (follower.clone(), token.clone());
        async move { counter(c, t).await.filter(|v| *v > 0.0) }
    })
    .await;
    // The leader goes; the follower takes over and the counter goes on from where it was.
    env.platform.shutdown().await;
    wait_for("the replica leads", || async {
        (*replica.leader.borrow()).then_some(())
    })
    .await;
    let after = wait_for("the counter growing under the new leader", || {
        let (c, t) = (follower.clone(), token.clone());
        async move { counter(c, t).await.filter(|v| *v > before) }
    })
    .await;
    assert!(after > before);
    // No reset: the counter never went down over the last minute (before and after the
    // failover), once the new leader has added a few points.
    let values = wait_for("a few points under the new leader", || {
        let (c, t) = (follower.clone(), token.clone());
        async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let (_, v) = c
                .get(
                    &format!(
                        "{MON}/namespaces/p1/targets/query?expr={}&start={}&end={now}&step=1s",
                        q("sum(container_cpu_usage_seconds_total)"),
                        now - 60
                    ),
                    &t,
                )
                .await;
            let values: Vec<f64> = v["data"]["result"][0]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p[1].as_str().and_then(|s| s.parse().ok()))
                .collect();
            (values.len() >= 4 && values.last().is_some_and(|l| *l > after)).then_some(values)
        }
    })
    .await;
    assert!(values.windows(2).all(|w| w[1] >= w[0]), "{values:?}");
    assert!(
        values[0] <= before,
        "the range reaches back before the failover: {values:?}"
    );
    replica.shutdown().await;
    stop.cancel();
}

/// A child process killed (and reaped) on drop.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's `prometheus` scraping the in-process cluster's kube-state-metrics and cAdvisor
/// endpoints every second with the cluster's admin token (read from its kubeconfig).
async fn start_prometheus(env: &Env) -> (KillOnDrop, String) {
    let text = std::fs::read_to_string(&env.kubeconfig).expect("kubeconfig");
    let kc: Value = serde_saphyr::from_str(&text).expect("kubeconfig YAML");
    let server = kc["clusters"][0]["cluster"]["server"]
        .as_str()
        .expect("server");
    let target = server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let token = kc["users"][0]["user"]["token"]
        .as_str()
        .expect("the test kubeconfig carries a token")
        .to_string();
    let dir = env.dir.path().join("prometheus");
    std::fs::create_dir_all(&dir).expect("prometheus dir");
    std::fs::write(dir.join("token"), token).expect("token");
    let d = dir.display();
    let job = |name: &str, path: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    metrics_path: {path}\n    honor_labels: true\n    tls_config: {{insecure_skip_verify: true}}\n    authorization: {{credentials_file: {d}/token}}\n    static_configs: [{{targets: [\"{target}\"]}}]\n"
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}",
        job("kube-state-metrics", "/metrics/kube-state"),
        job("cadvisor", "/metrics/cadvisor")
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={d}/prometheus.yml"))
        .arg(format!("--storage.tsdb.path={d}/tsdb"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("Debian's prometheus is not installed: run scripts/install-test-deps.sh");
    (KillOnDrop(child), format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_dashboards_answer_from_a_prometheus_configured_on_the_cluster() {
    let (env, stop) = sim_env(fast_sampling).await;
    let admin = env.admin().await;
    let (alice, bob, _carol) = workloads(&env, &admin).await;
    let (_prometheus, url) = start_prometheus(&env).await;
    let c = &env.http;
    // The host Cluster names its Prometheus.
    let ar = kube::api::ApiResource {
        group: "cluster.kubesphere.io".into(),
        version: "v1alpha1".into(),
        api_version: "cluster.kubesphere.io/v1alpha1".into(),
        kind: "Cluster".into(),
        plural: "clusters".into(),
    };
    let clusters: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(env.kube().await, &ar);
    clusters
        .patch(
            "host",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"annotations": {
                "monitoring.orrery.io/prometheus-url": url}}})),
        )
        .await
        .expect("annotate the host cluster");

    tenant_levels_from_prometheus(c, &alice).await;
    let cluster = wait_until(
        "the cluster from Prometheus",
        c,
        &format!("{MON}/cluster"),
        &admin,
        |v| {
            single(v, "cluster_node_total") == Some(2.0)
                && single(v, "cluster_pod_count").is_some_and(|n| n >= 4.0)
                && single(v, "cluster_cpu_usage").is_some_and(|x| x > 0.0)
        },
    )
    .await;
    assert!(
        single(&cluster, "cluster_memory_usage_wo_cache").is_some_and(|x| x > 0.0),
        "{cluster}"
    );
    let nodes = wait_until(
        "nodes from Prometheus",
        c,
        &format!("{MON}/nodes"),
        &admin,
        |v| {
            by_label(v, "node_cpu_usage", "node").len() == 2
                && by_label(v, "node_pod_count", "node").len() == 2
        },
    )
    .await;
    assert!(
        by_label(&nodes, "node_memory_usage_wo_cache", "node")
            .iter()
            .all(|(_, x)| *x > 0.0),
        "{nodes}"
    );
    // A range from Prometheus: a matrix.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (_, range) = c
        .get(&format!("{MON}/namespaces/p1?metrics_filter=namespace_memory_usage_wo_cache&start={}&end={now}&step=1s", now - 5), &alice)
        .await;
    assert_eq!(
        range["results"][0]["data"]["resultType"], "matrix",
        "{range}"
    );

    custom_queries_to_prometheus_confined(c, &admin, &bob).await;
    stop.cancel();
}

/// The project, workload, pod and workspace levels answered by Prometheus (network is what
/// only the Prometheus source has: its presence says who answers).
async fn tenant_levels_from_prometheus(c: &Client, alice: &str) {
    // Network is what only the Prometheus source has: its presence says who answers.
    let project = wait_until(
        "p1's project dashboard from Prometheus",
        c,
        &format!("{MON}/namespaces/p1"),
        alice,
        |v| {
            single(v, "namespace_pod_count") == Some(3.0)
                && single(v, "namespace_cpu_usage").is_some_and(|x| x > 0.0)
                && single(v, "namespace_memory_usage_wo_cache").is_some_and(|x| x > 0.0)
                && single(v, "namespace_net_bytes_received").is_some_and(|x| x > 0.0)
        },
    )
    .await;
    assert!(
        single(&project, "namespace_pod_restarts").is_some(),
        "{project}"
    );
    let workload = wait_until(
        "the web Deployment from Prometheus",
        c,
        &format!("{MON}/namespaces/p1/workloads/deployments/web"),
        alice,
        |v| {
            single(v, "workload_pod_count") == Some(2.0)
                && single(v, "workload_cpu_usage").is_some_and(|x| x > 0.0)
                && by_label(v, "pod_cpu_usage", "pod").len() == 2
        },
    )
    .await;
    assert!(
        by_label(&workload, "pod_memory_usage_wo_cache", "pod")
            .iter()
            .all(|(p, x)| p.starts_with("web-") && *x > 0.0),
        "{workload}"
    );
    wait_until(
        "crash restarts from Prometheus",
        c,
        &format!("{MON}/namespaces/p1/pods/crash?metrics_filter=pod_restarts"),
        alice,
        |v| single(v, "pod_restarts").is_some_and(|r| r >= 1.0),
    )
    .await;
    wait_until(
        "w1 from Prometheus",
        c,
        &format!("{MON}/workspaces/w1"),
        alice,
        |v| {
            single(v, "workspace_pod_count") == Some(3.0)
                && single(v, "workspace_cpu_usage").is_some_and(|x| x > 0.0)
        },
    )
    .await;
}

/// The custom query goes to Prometheus (its `up` series), and tenants stay confined.
async fn custom_queries_to_prometheus_confined(c: &Client, admin: &str, bob: &str) {
    // The custom query goes to Prometheus (its `up` series), and tenants stay confined.
    let (s, up) = c
        .get(&format!("{MON}/targets/query?expr={}", q("up")), admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert!(
        up["data"]["result"]
            .as_array()
            .is_some_and(|r| r.len() == 2),
        "{up}"
    );
    for expr in [
        r#"container_memory_working_set_bytes{namespace=~".+"}"#,
        r#"container_memory_working_set_bytes or container_memory_working_set_bytes{namespace="p1"}"#,
        r#"label_replace(kube_pod_info{namespace="p1"}, "namespace", "p2", "", "")"#,
        r#"up"#,
    ] {
        let (s, v) = c
            .get(
                &format!("{MON}/namespaces/p2/targets/query?expr={}", q(expr)),
                bob,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{expr}: {v}");
        assert!(
            pods_in(&v).iter().all(|p| p.starts_with("other-")),
            "{expr}: {v}"
        );
        if expr == "up" {
            assert_eq!(v["data"]["result"], json!([]), "up has no namespace: {v}");
        }
    }
    let (_, own) = c
        .get(
            &format!(
                "{MON}/namespaces/p2/targets/query?expr={}",
                q(r#"kube_pod_info{namespace=~".+"}"#)
            ),
            bob,
        )
        .await;
    assert_eq!(pods_in(&own).len(), 1, "{own}");
    let (s, _) = c.get(&format!("{MON}/namespaces/p1"), bob).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
