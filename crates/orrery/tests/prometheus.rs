//! A real Prometheus (Debian's `prometheus`) scraping `orrery serve`: the embedded cluster's
//! `/metrics`, `/metrics/kube-state` and `/metrics/cadvisor` with a ServiceAccount token that
//! RBAC lets read them, and the platform's `/metrics` with an administrator's token. The usual
//! PromQL over pods, nodes and containers returns the simulated workloads (a Deployment of
//! three replicas and a crash-looping pod), every target is up, and the platform counts its
//! requests. Who may read the endpoints is checked too: a ServiceAccount without the grant and
//! a platform user who is not an administrator are refused.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

/// A child process killed (and reaped) on drop, so a failing assertion leaves nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `orrery serve` with its embedded cluster and simulated data plane.
struct Serve {
    _child: KillOnDrop,
    platform: String,
    kube: String,
    kubeconfig: PathBuf,
}

fn serve(dir: &Path) -> Serve {
    let child = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kube-listen",
            "127.0.0.1:0",
            "--admin-password",
            "Initial-passw0rd",
            "--nodes",
            "2",
            // Crash-loop back-off (10 s, 20 s, … simulated) passes five times faster.
            "--sim-time-scale",
            "5",
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery serve");
    let mut child = KillOnDrop(child);
    let ready =
        common::wait_serve_ready(&mut child.0, "orrery serve", Duration::from_secs(90), |r| {
            r.platform.is_some() && r.kube.is_some() && r.kubeconfig.is_some() && r.login
        });
    Serve {
        _child: child,
        platform: ready.platform.unwrap_or_default(),
        kube: ready.kube.unwrap_or_default(),
        kubeconfig: ready.kubeconfig.unwrap_or_default(),
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("kubectl output");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What Prometheus reads: RBAC as kube-prometheus grants it, the Deployment and the
/// crash-looping pod (`crashloop` in its image, a simulation convention).
const MANIFESTS: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: prometheus, namespace: kube-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nosy, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: prometheus}
rules:
- nonResourceURLs: ["/metrics", "/metrics/*"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["nodes/proxy"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: prometheus}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: prometheus}
subjects: [{kind: ServiceAccount, name: prometheus, namespace: kube-system}]
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        resources: {requests: {cpu: 200m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: crashy, namespace: shop}
spec:
  containers:
  - name: app
    image: example/crashloop:1
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `host:port` of a URL (the platform prints `http://`; its port also speaks HTTPS).
fn host_port(url: &str) -> String {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// The scrape configuration docs/observability.md documents, for this run's addresses.
fn prometheus_config(dir: &Path, kube: &str, platform: &str) -> String {
    let d = dir.display();
    let cluster_job = |job: &str, path: &str| {
        format!(
            r#"  - job_name: {job}
    scheme: https
    metrics_path: {path}
    honor_labels: true
    tls_config: {{ca_file: {d}/cluster-ca.crt}}
    authorization: {{credentials_file: {d}/cluster-token}}
    static_configs: [{{targets: ["{kube}"]}}]
"#
        )
    };
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
{}{}{}  - job_name: orrery
    scheme: https
    metrics_path: /metrics
    tls_config: {{insecure_skip_verify: true}}
    authorization: {{credentials_file: {d}/platform-token}}
    static_configs: [{{targets: ["{platform}"]}}]
"#,
        cluster_job("apiserver", "/metrics"),
        cluster_job("kube-state-metrics", "/metrics/kube-state"),
        cluster_job("cadvisor", "/metrics/cadvisor"),
    )
}

fn start_prometheus(dir: &Path, port: u16) -> KillOnDrop {
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}/prometheus.yml", dir.display()))
        .arg(format!("--storage.tsdb.path={}/tsdb", dir.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("Debian's prometheus is not installed: run scripts/install-test-deps.sh");
    KillOnDrop(child)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// Polls until `check` returns `Some` (bounded), panicking with `what` and the last answer.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not within {limit:?}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// An instant query's result vector.
async fn query(http: &reqwest::Client, prom: &str, expr: &str) -> Result<Vec<Value>, String> {
    let resp = http
        .get(format!("{prom}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let v: Value = resp.json().await.map_err(|e| e.to_string())?;
    if v["status"] != "success" {
        return Err(v.to_string());
    }
    Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
}

fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

async fn status_of(http: &reqwest::Client, url: &str, token: Option<&str>) -> u16 {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

async fn password_token(http: &reqwest::Client, url: &str, user: &str, pw: &str) -> String {
    let v: Value = http
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {v}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_embedded_cluster_and_the_platform() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let s = serve(dir);
    let http = http();

    kubectl(&s.kubeconfig, &["apply", "-f", "-"], Some(MANIFESTS));
    let sa_token = kubectl(
        &s.kubeconfig,
        &[
            "create",
            "token",
            "prometheus",
            "-n",
            "kube-system",
            "--duration=1h",
        ],
        None,
    );
    let nosy_token = kubectl(
        &s.kubeconfig,
        &[
            "create",
            "token",
            "nosy",
            "-n",
            "kube-system",
            "--duration=1h",
        ],
        None,
    );
    let ca_b64 = kubectl(
        &s.kubeconfig,
        &[
            "config",
            "view",
            "--raw",
            "-o",
            "jsonpath={.clusters[0].cluster.certificate-authority-data}",
        ],
        None,
    );
    let ca = base64::engine::general_purpose::STANDARD
        .decode(ca_b64.trim())
        .expect("cluster CA");
    std::fs::write(dir.join("cluster-ca.crt"), ca).expect("write CA");
    std::fs::write(dir.join("cluster-token"), &sa_token).expect("write token");
    let admin = password_token(&http, &s.platform, "admin", "Initial-passw0rd").await;
    std::fs::write(dir.join("platform-token"), &admin).expect("write token");

    who_may_read_metrics(&http, &s, &sa_token, &nosy_token, &admin).await;

    let port = free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        prometheus_config(dir, &host_port(&s.kube), &host_port(&s.platform)),
    )
    .expect("write prometheus.yml");
    let mut prometheus = start_prometheus(dir, port);
    let prom = format!("http://127.0.0.1:{port}");
    let limit = Duration::from_secs(120);
    let ready_url = format!("{prom}/-/ready");
    eventually("prometheus ready", limit, || {
        let exited = prometheus.0.try_wait().ok().flatten();
        let ready = status_of(&http, &ready_url, None);
        async move {
            if let Some(status) = exited {
                panic!("prometheus exited: {status}");
            }
            match ready.await {
                200 => Ok(()),
                code => Err(format!("status {code}")),
            }
        }
    })
    .await;

    eventually("every target up", limit, || async {
        let up = query(&http, &prom, "up").await?;
        let jobs: Vec<String> = up
            .iter()
            .filter(|s| value(s) == 1.0)
            .filter_map(|s| s["metric"]["job"].as_str().map(String::from))
            .collect();
        if up.len() == 4 && jobs.len() == 4 {
            Ok(())
        } else {
            Err(format!("{up:?}"))
        }
    })
    .await;

    cluster_series_scraped(&http, &prom, limit).await;

    server_and_platform_series_scraped(&http, &prom, limit).await;
}

/// Who may read: RBAC's non-resource URLs and nodes/proxy on the cluster, platform
/// administrators on the platform.
async fn who_may_read_metrics(
    http: &reqwest::Client,
    s: &Serve,
    sa_token: &str,
    nosy_token: &str,
    admin: &str,
) {
    // Who may read: RBAC's non-resource URLs and nodes/proxy on the cluster, platform
    // administrators on the platform.
    let kube = &s.kube;
    assert_eq!(
        status_of(http, &format!("{kube}/metrics/kube-state"), Some(sa_token)).await,
        200
    );
    assert_eq!(
        status_of(http, &format!("{kube}/metrics"), Some(nosy_token)).await,
        403
    );
    assert_eq!(
        status_of(http, &format!("{kube}/metrics/cadvisor"), Some(nosy_token)).await,
        403
    );
    assert_eq!(
        status_of(http, &format!("{kube}/metrics/cadvisor"), None).await,
        401
    );
    let node = kubectl(
        &s.kubeconfig,
        &["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"],
        None,
    );
    let proxy = format!("{kube}/api/v1/nodes/{node}/proxy/metrics/cadvisor");
    assert_eq!(status_of(http, &proxy, Some(nosy_token)).await, 403);
    let body = http
        .get(&proxy)
        .bearer_auth(sa_token)
        .send()
        .await
        .expect("node proxy")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        body.contains(&format!("machine_cpu_cores{{node=\"{node}\"}}")),
        "{body}"
    );
    let unknown = format!("{kube}/api/v1/nodes/no-such-node/proxy/metrics/cadvisor");
    assert_eq!(status_of(http, &unknown, Some(sa_token)).await, 404);
    let platform_metrics = format!("{}/metrics", s.platform);
    assert_eq!(status_of(http, &platform_metrics, None).await, 401);
    let user = serde_json::json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
        "metadata": {"name": "carol"}, "spec": {"email": "carol@example.com", "password": "Carol-passw0rd"}});
    let created = http
        .post(format!(
            "{}/kapis/iam.kubesphere.io/v1beta1/users",
            s.platform
        ))
        .bearer_auth(admin)
        .json(&user)
        .send()
        .await
        .expect("create user");
    assert!(
        created.status().is_success(),
        "create carol: {}",
        created.status()
    );
    let carol = password_token(http, &s.platform, "carol", "Carol-passw0rd").await;
    // One wrong password, which `orrery_login_failures_total` counts.
    let refused = http
        .post(format!("{}/oauth/token", s.platform))
        .form(&[
            ("grant_type", "password"),
            ("username", "carol"),
            ("password", "not-her-password"),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await
        .expect("token request");
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert_eq!(status_of(http, &platform_metrics, Some(&carol)).await, 403);
    assert_eq!(status_of(http, &platform_metrics, Some(admin)).await, 200);
}

/// Prometheus has the cluster's series: nodes, the Deployment's pods and replicas, their CPU and
/// memory, the crash-looping pod's restarts.
async fn cluster_series_scraped(http: &reqwest::Client, prom: &str, limit: Duration) {
    eventually("kube_node_info for both nodes", limit, || async {
        let r = query(http, prom, "kube_node_info").await?;
        if r.len() == 2 {
            Ok(())
        } else {
            Err(format!("{r:?}"))
        }
    })
    .await;

    eventually("the Deployment's three pods Running", limit, || async {
        let r = query(
            http,
            prom,
            r#"kube_pod_status_phase{namespace="shop",phase="Running"} == 1"#,
        )
        .await?;
        let web = r
            .iter()
            .filter(|s| {
                s["metric"]["pod"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("web-"))
            })
            .count();
        if web == 3 {
            Ok(())
        } else {
            Err(format!("{r:?}"))
        }
    })
    .await;

    eventually("the Deployment's replicas", limit, || async {
        let r = query(
            http,
            prom,
            r#"kube_deployment_status_replicas_available{namespace="shop",deployment="web"}"#,
        )
        .await?;
        match r.first() {
            Some(s) if value(s) == 3.0 => Ok(()),
            _ => Err(format!("{r:?}")),
        }
    })
    .await;

    eventually("CPU usage by namespace", limit, || async {
        let r = query(
            http,
            prom,
            "sum by (namespace) (rate(container_cpu_usage_seconds_total[1m]))",
        )
        .await?;
        match r.iter().find(|s| s["metric"]["namespace"] == "shop") {
            // Three containers requesting 0.2 core each use between 1 % and 71 % of it.
            Some(s) if value(s) > 0.0 && value(s) < 0.6 => Ok(()),
            _ => Err(format!("{r:?}")),
        }
    })
    .await;

    eventually("working-set memory of the pods", limit, || async {
        let r = query(
            http,
            prom,
            r#"sum(container_memory_working_set_bytes{namespace="shop"})"#,
        )
        .await?;
        match r.first() {
            Some(s) if value(s) > 0.0 => Ok(()),
            _ => Err(format!("{r:?}")),
        }
    })
    .await;

    eventually("the crash-looping pod's restarts increasing", limit, || async {
        let selector = r#"kube_pod_container_status_restarts_total{namespace="shop",pod="crashy"}"#;
        let grew = query(
            http,
            prom,
            &format!("max_over_time({selector}[10m]) - min_over_time({selector}[10m]) > 0"),
        )
        .await?;
        let waiting = query(
            http,
            prom,
            r#"max_over_time(kube_pod_container_status_waiting_reason{namespace="shop",pod="crashy",reason="CrashLoopBackOff"}[10m])"#,
        )
        .await?;
        if grew.len() == 1 && waiting.len() == 1 {
            Ok(())
        } else {
            Err(format!("{grew:?} {waiting:?}"))
        }
    })
    .await;
}

/// Prometheus has the API server's, the store's and the platform's own series.
async fn server_and_platform_series_scraped(http: &reqwest::Client, prom: &str, limit: Duration) {
    eventually("the API server's request counter", limit, || async {
        let r = query(
            http,
            prom,
            r#"sum(apiserver_request_total{job="apiserver",resource="pods",code=~"2.."})"#,
        )
        .await?;
        match r.first() {
            Some(s) if value(s) > 0.0 => Ok(()),
            _ => Err(format!("{r:?}")),
        }
    })
    .await;

    eventually("the store's commit latency", limit, || async {
        let r = query(
            http,
            prom,
            r#"histogram_quantile(0.99, sum by (le) (rate(orrery_store_commit_duration_seconds_bucket{job="apiserver"}[1m])))"#,
        )
        .await?;
        let stored = query(http, prom, r#"apiserver_storage_objects{resource="pods"}"#).await?;
        match (r.first(), stored.first()) {
            (Some(q), Some(n)) if value(q) > 0.0 && value(n) >= 4.0 => Ok(()),
            _ => Err(format!("{r:?} {stored:?}")),
        }
    })
    .await;

    eventually("the platform's own counters", limit, || async {
        let scrapes = query(
            http,
            prom,
            r#"orrery_http_requests_total{job="orrery",family="metrics",code="200"}"#,
        )
        .await?;
        let iam = query(
            http,
            prom,
            r#"orrery_http_requests_total{job="orrery",family="kapis/iam"}"#,
        )
        .await?;
        let ready = query(http, prom, r#"orrery_cluster_ready{cluster="host"} == 1"#).await?;
        let failures = query(
            http,
            prom,
            r#"orrery_login_failures_total{via="token"} >= 1"#,
        )
        .await?;
        let users = query(http, prom, r#"orrery_cache_objects{kind="User"} >= 2"#).await?;
        let passes = query(
            http,
            prom,
            r#"orrery_controller_pass_duration_seconds_count{controller="platform"} > 0"#,
        )
        .await?;
        if scrapes.first().is_some_and(|s| value(s) > 0.0)
            && !iam.is_empty()
            && ready.len() == 1
            && failures.len() == 1
            && users.len() == 1
            && passes.len() == 1
        {
            Ok(())
        } else {
            Err(format!(
                "{scrapes:?} {iam:?} {ready:?} {failures:?} {users:?} {passes:?}"
            ))
        }
    })
    .await;
}
