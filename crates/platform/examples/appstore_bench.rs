//! App Store benchmark (SPEC §5, issue 13): syncing a Helm repository whose `index.yaml` lists
//! CHARTS charts × VERSIONS versions (time from adding the repository to `successful`, the
//! peak memory it added, and the CPU time the platform and the cluster spent on it); the
//! store's list and search p50/p99 as a user browsing it; and the time from "deploy" to
//! `created` for argo-cd against real Helm's install of the same chart (helm-python-sdk,
//! `scripts/helm-reference`) into the same cluster, in the same run.
//!
//! Run: `cargo build --release -p orrery && ORRERY_BIN=target/release/orrery cargo run --release
//! -p platform --example appstore_bench [CHARTS] [VERSIONS]` (defaults 1000 × 15; the host is an
//! `orrery cluster` process, whose simulated data plane runs argo-cd's hook Jobs).
//! `APPSTORE_BENCH_ONLY=sync` stops after the sync's line (repeated runs, profiles).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
const PASSWORD: &str = "BenchPassw0rd";
const APPS: &str = "/kapis/application.kubesphere.io/v2";

/// CPU time (user + system) process `pid` has used, in seconds (`self` for this one).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A small chart package: `Chart.yaml` and one ConfigMap template.
fn tiny_chart(name: &str, version: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let files = [
        ("Chart.yaml", format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: benchmark chart {name}\n")),
        ("values.yaml", "greeting: hello\n".to_string()),
        ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n".to_string()),
    ];
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{path}"), body.as_bytes())
            .expect("tar");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(b))
}

/// Serves `files` over plain HTTP on 127.0.0.1.
async fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let files = Arc::new(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let files = files.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let files = files.clone();
                        async move {
                            let (status, body) = match files.get(req.uri().path()) {
                                Some(b) => (200, b.clone()),
                                None => (404, Vec::new()),
                            };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                                    .expect("response"),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// Starts `orrery cluster --nodes 2` (`$ORRERY_BIN`, else built): the process and its
/// kubeconfig.
fn orrery_cluster(dir: &std::path::Path) -> (std::process::Child, std::path::PathBuf) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(testdata::orrery_bin())
        .args([
            "cluster",
            "--nodes",
            "2",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn orrery cluster");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Read on to the end, so that the process never writes into a closed pipe.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(k) = line.strip_prefix("kubeconfig ") {
                let _ = tx.send(std::path::PathBuf::from(k.trim()));
            }
        }
    });
    let kubeconfig = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("orrery cluster printed no kubeconfig");
    (child, kubeconfig)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn login(http: &reqwest::Client, base: &str, user: &str) -> Result<String, BoxError> {
    let v: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", PASSWORD),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await?
        .json()
        .await?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("login: {v}").into())
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> Result<Value, BoxError> {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{url}: {status} {v}").into());
    }
    Ok(v)
}

async fn wait_state(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    want: &[&str],
    limit: Duration,
) -> Result<Value, BoxError> {
    let deadline = Instant::now() + limit;
    loop {
        let v = call(http, reqwest::Method::GET, url, token, None).await?;
        let st = v["status"]["state"].as_str().unwrap_or_default();
        if want.contains(&st) {
            return Ok(v);
        }
        if st == "failed" || Instant::now() > deadline {
            return Err(format!("{url}: {st}: {}", v["status"]["message"]).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let charts = args.first().copied().unwrap_or(1000);
    let versions = args.get(1).copied().unwrap_or(15);

    // The repository: CHARTS × VERSIONS tiny charts and their index.
    let files = repository(charts, versions);
    let repo_url = serve(files).await;

    let dir = tempfile::tempdir()?;
    // The host: an `orrery cluster` process, whose simulated data plane runs argo-cd's hook Jobs.
    let (mut cluster, kubeconfig) = orrery_cluster(&dir.path().join("cluster"));
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig)?;
    let kube_config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let mut config = platform::PlatformConfig::new(kube_config, dir.path().join("platform"));
    config.listen = "127.0.0.1:0".parse()?;
    config.admin_password = Some(PASSWORD.into());
    config.resync_period = Duration::from_millis(200);
    config.tls = platform::serve::TlsSource::Off;
    let p = platform::start(config).await?;
    let base = format!("http://{}", p.addr);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()?;
    let admin = login(&http, &base, "admin").await?;

    // Sync: from adding the repository to `successful` (the leader's controller syncs it).
    let cluster_pid = cluster.id().to_string();
    sync_the_repository(
        &http,
        &base,
        &admin,
        &repo_url,
        &cluster_pid,
        (charts, versions),
    )
    .await?;

    if std::env::var("APPSTORE_BENCH_ONLY").as_deref() == Ok("sync") {
        // Repeated sync measurements (and profiles of them) need nothing after this line.
        p.shutdown().await;
        let _ = cluster.kill();
        let _ = cluster.wait();
        return Ok(());
    }

    browse_the_store(&http, &base, &admin).await?;

    // argo-cd: deploy → created through the store, against real Helm's install.
    let argo = testdata::helm_chart("argo-cd");
    let pkg =
        base64::engine::general_purpose::STANDARD.encode(testdata::helm_chart_package("argo-cd"));
    let up = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}{APPS}/apps"),
        &admin,
        Some(json!({"package": pkg})),
    )
    .await?;
    let version = up["versionName"].as_str().unwrap_or_default().to_string();
    for state in ["submitted", "passed", "active"] {
        call(
            &http,
            reqwest::Method::POST,
            &format!("{base}{APPS}/apps/argo-cd/versions/{version}/action"),
            &admin,
            Some(json!({"state": state})),
        )
        .await?;
    }
    for ns in ["store"] {
        call(
            &http,
            reqwest::Method::POST,
            &format!("{base}/api/v1/namespaces"),
            &admin,
            Some(json!({"metadata": {"name": ns}})),
        )
        .await?;
    }
    let t = Instant::now();
    call(&http, reqwest::Method::POST, &format!("{base}{APPS}/namespaces/store/applications"), &admin,
        Some(json!({"metadata": {"name": "argo"}, "spec": {"appID": "argo-cd", "appVersionID": version}}))).await?;
    wait_state(
        &http,
        &format!("{base}{APPS}/namespaces/store/applications/argo"),
        &admin,
        &["created", "active"],
        Duration::from_secs(600),
    )
    .await?;
    let store_took = t.elapsed();
    let helm_took = reference_helm_install(dir.path(), &argo)?;
    println!(
        "argo-cd: store deploy → created {store_took:?}; real Helm install (helm-python-sdk, hookOnly wait) {helm_took:?}"
    );
    p.shutdown().await;
    let _ = cluster.kill();
    let _ = cluster.wait();
    Ok(())
}

/// Sync: from adding the repository to `successful` (the leader's controller syncs it), with
/// its time, peak memory and CPU in this process and the cluster's.
async fn sync_the_repository(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    repo_url: &str,
    cluster_pid: &str,
    (charts, versions): (usize, usize),
) -> Result<(), BoxError> {
    let rss_before = status_kib("VmRSS:");
    println!(
        "syncing: platform (this process) pid {}, cluster pid {cluster_pid}",
        std::process::id()
    );
    let cpu_before = (cpu_seconds("self"), cpu_seconds(cluster_pid));
    let t = Instant::now();
    call(
        http,
        reqwest::Method::POST,
        &format!("{base}{APPS}/repos"),
        admin,
        Some(json!({"metadata": {"name": "bench"}, "spec": {"url": repo_url, "syncPeriod": 0}})),
    )
    .await?;
    let repo = wait_state(
        http,
        &format!("{base}{APPS}/repos/bench"),
        admin,
        &["successful"],
        Duration::from_secs(3600),
    )
    .await?;
    let took = t.elapsed();
    let cpu = (
        cpu_seconds("self") - cpu_before.0,
        cpu_seconds(cluster_pid) - cpu_before.1,
    );
    let peak = status_kib("VmHWM:");
    println!(
        "sync {charts} charts × {versions} versions (newest 10 kept): {took:?}; {}; peak RSS {} MiB, {} MiB above the {} MiB before; CPU {:.1} s in the platform (this process) + {:.1} s in the cluster",
        repo["status"]["message"].as_str().unwrap_or_default(),
        peak / 1024,
        peak.saturating_sub(rss_before) / 1024,
        rss_before / 1024,
        cpu.0,
        cpu.1
    );
    Ok(())
}

/// The repository's files: CHARTS × VERSIONS tiny charts and their index.
fn repository(charts: usize, versions: usize) -> HashMap<String, Vec<u8>> {
    let t = Instant::now();
    let mut files = HashMap::new();
    let mut index = String::from("apiVersion: v1\nentries:\n");
    for c in 0..charts {
        let name = format!("chart-{c:04}");
        index.push_str(&format!("  {name}:\n"));
        for v in 0..versions {
            let version = format!("1.{v}.0");
            let pkg = tiny_chart(&name, &version);
            index.push_str(&format!(
                "  - name: {name}\n    version: {version}\n    digest: {}\n    urls: [{name}-{version}.tgz]\n    description: benchmark chart\n",
                sha(&pkg)
            ));
            files.insert(format!("/{name}-{version}.tgz"), pkg);
        }
    }
    println!(
        "index.yaml: {} charts × {} versions, {} KiB ({:?} to build)",
        charts,
        versions,
        index.len() / 1024,
        t.elapsed()
    );
    files.insert("/index.yaml".into(), index.into_bytes());
    files
}

/// The store as someone browsing it (published apps only, paged and sorted on the server).
async fn browse_the_store(http: &reqwest::Client, base: &str, admin: &str) -> Result<(), BoxError> {
    // The store as someone browsing it (published apps only, paged and sorted on the server).
    call(http, reqwest::Method::POST, &format!("{base}/kapis/iam.kubesphere.io/v1beta1/users"), admin,
        Some(json!({"metadata": {"name": "browser"}, "spec": {"email": "b@example.com", "password": PASSWORD}}))).await?;
    let browser = login(http, base, "browser").await?;
    for (what, path) in [
        (
            "store list, page 1 of 10",
            format!("{base}{APPS}/apps?limit=10&page=1&sortBy=name"),
        ),
        (
            "store search by name",
            format!("{base}{APPS}/apps?name=chart-00&limit=10"),
        ),
    ] {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..200 {
            let t = Instant::now();
            let v = call(http, reqwest::Method::GET, &path, &browser, None).await?;
            times.push(t.elapsed());
            total = v["totalItems"].as_u64().unwrap_or(0);
        }
        times.sort();
        println!(
            "{what} ({total} matching): p50 {:?}, p99 {:?}",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    Ok(())
}

/// Real Helm (the reference environment's) installs argo-cd into a second `orrery cluster`
/// (argo-cd's CRDs are cluster-wide and belong to the store's release in the first); how long
/// it took.
fn reference_helm_install(
    dir: &std::path::Path,
    argo: &std::path::Path,
) -> Result<Duration, BoxError> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let setup = std::process::Command::new("bash")
        .arg(root.join("scripts/helm-reference/setup.sh"))
        .output()?;
    let py = String::from_utf8_lossy(&setup.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let helm = std::path::PathBuf::from(py).with_file_name("helm");
    // Real Helm installs into a second `orrery cluster` (argo-cd's CRDs are cluster-wide and
    // now belong to the store's release in the first).
    let (mut reference, reference_kubeconfig) = orrery_cluster(&dir.join("reference"));
    let t = Instant::now();
    let out = std::process::Command::new(helm)
        .arg(root.join("scripts/helm-reference/releases.py"))
        .arg(&reference_kubeconfig)
        .arg("default")
        .args(["install-nowait", "argo", &argo.display().to_string(), "{}"])
        .env("HELM_NAMESPACE", "default")
        .output()?;
    let helm_took = t.elapsed();
    let _ = reference.kill();
    let _ = reference.wait();
    std::io::stdout().write_all(b"")?;
    let answer = String::from_utf8_lossy(&out.stdout);
    if answer.contains("\"error\"") {
        return Err(format!("reference helm: {answer}").into());
    }
    Ok(helm_took)
}
