//! Embedded-cluster benchmarks through the Kubernetes API, with real clients (kube-rs over
//! HTTPS), against a release `orrery cluster` process.
//!
//! Run: `cargo bench -p orrery --bench cluster` (set `BENCH_SCALE=0.1` for a quick pass).
//! Prints one line per figure; BENCHMARKS.md keeps the results.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, ObjectMeta, PostParams, WatchEvent, WatchParams};

struct Server {
    child: Child,
    kubeconfig: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> (Server, Duration) {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .args([
                "cluster",
                "--nodes",
                "0",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn orrery");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut kubeconfig = None;
        let mut ready = None;
        while kubeconfig.is_none() || ready.is_none() {
            let line = lines.next().expect("orrery exited").expect("read");
            if line.starts_with("ready kubernetes-api") {
                ready = Some(started.elapsed());
            }
            if let Some(k) = line.strip_prefix("kubeconfig ") {
                kubeconfig = Some(PathBuf::from(k));
            }
        }
        std::thread::spawn(move || for _ in lines {});
        (
            Server {
                child,
                kubeconfig: kubeconfig.unwrap_or_default(),
            },
            ready.unwrap_or_default(),
        )
    }

    async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    }

    fn rss_mib(&self) -> f64 {
        common::rss_mib(self.child.id())
    }

    fn stop(self) {
        common::stop(self.child);
    }
}

fn cm(name: &str, payload: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "payload".to_string(),
            payload.to_string(),
        )])),
        ..Default::default()
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// ~1 KiB of payload so each stored ConfigMap is about 1 KiB of JSON.
fn payload() -> String {
    "x".repeat(900)
}

async fn create_many(
    client: &kube::Client,
    ns: &str,
    n: usize,
    concurrency: usize,
    prefix: &str,
) -> Duration {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let payload = Arc::new(payload());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let api = api.clone();
        let next = next.clone();
        let payload = payload.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                api.create(
                    &PostParams::default(),
                    &cm(&format!("{prefix}-{i:06}"), &payload),
                )
                .await
                .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    started.elapsed()
}

async fn make_ns(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("ns");
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create ns");
}

#[tokio::main]
async fn main() {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |base: usize| ((base as f64 * scale) as usize).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, ready) = Server::start(dir.path());
    println!(
        "startup (empty store, until ready line): {:.0} ms",
        ready.as_secs_f64() * 1000.0
    );
    println!("idle RSS: {:.1} MiB", server.rss_mib());
    let client = server.client().await;

    // 1. Durable creates/s, 16 concurrent clients, 1 KiB ConfigMaps.
    make_ns(&client, "bench-create").await;
    let creates = n(20_000);
    let took = create_many(&client, "bench-create", creates, 16, "c").await;
    println!(
        "durable creates/s (16 clients, 1 KiB): {:.0} ({creates} in {:.2} s)",
        creates as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    );
    let listed = n(10_000);
    lists(&client, listed).await;
    let writes = 50;
    watch_fan_out(&client, n(1_000), writes).await;
    memory_and_restart(
        server,
        dir.path(),
        &client,
        creates + listed + writes,
        n(100_000),
    )
    .await;
}

/// 2. Listing 10,000 1-KiB ConfigMaps, decoded by kube-rs and as raw bytes.
async fn lists(client: &kube::Client, listed: usize) {
    make_ns(client, "bench-list").await;
    create_many(client, "bench-list", listed, 16, "l").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "bench-list");
    let mut times = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        let list = api.list(&ListParams::default()).await.expect("list");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(list.items.len(), listed);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "list {listed} ConfigMaps (kube-rs, incl. decode): median {:.1} ms, min {:.1} ms",
        percentile(&times, 0.5),
        times[0]
    );
    // The same list as raw bytes (what kubectl's HTTP layer sees before decoding).
    let mut raw_times = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        let req = http::Request::get("/api/v1/namespaces/bench-list/configmaps")
            .body(Vec::new())
            .expect("req");
        let text = client.request_text(req).await.expect("raw list");
        raw_times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(text.len() > listed * 900);
    }
    raw_times.sort_by(f64::total_cmp);
    println!(
        "list {listed} ConfigMaps (server + transfer, no decode): median {:.1} ms, min {:.1} ms",
        percentile(&raw_times, 0.5),
        raw_times[0]
    );
}

/// 3. A write reaching 1,000 watchers: latency from the create to each watcher's event.
async fn watch_fan_out(client: &kube::Client, watchers: usize, writes: usize) {
    make_ns(client, "bench-watch").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let wapi: Api<ConfigMap> = Api::namespaced(client.clone(), "bench-watch");
    let rv = wapi
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let wapi = wapi.clone();
        let tx = tx.clone();
        let rv = rv.clone();
        handles.push(tokio::spawn(async move {
            let mut stream = wapi
                .watch(&WatchParams::default().timeout(120), &rv)
                .await
                .expect("watch")
                .boxed();
            let mut seen = 0;
            while let Ok(Some(ev)) = stream.try_next().await {
                if let WatchEvent::Added(o) = ev {
                    let _ = tx.send((o.metadata.name.unwrap_or_default(), Instant::now()));
                    seen += 1;
                    if seen == writes {
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    for i in 0..writes {
        let name = format!("w-{i}");
        let sent = Instant::now();
        wapi.create(&PostParams::default(), &cm(&name, "x"))
            .await
            .expect("create");
        let mut got = 0;
        while got < watchers {
            match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
                Ok(Some((n, at))) if n == name => {
                    latencies.push(at.duration_since(sent).as_secs_f64() * 1000.0);
                    got += 1;
                }
                Ok(Some(_)) => {}
                _ => panic!("watchers stalled"),
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "write to {watchers} watchers ({writes} writes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    for h in handles {
        h.abort();
    }
}

/// 4. Resident memory with 100,000 ConfigMaps stored, and 5. restart time.
async fn memory_and_restart(
    server: Server,
    dir: &std::path::Path,
    client: &kube::Client,
    stored_before: usize,
    wanted: usize,
) {
    make_ns(client, "bench-mem").await;
    let target = wanted.saturating_sub(stored_before);
    create_many(client, "bench-mem", target, 16, "m").await;
    let total = stored_before + target;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server.rss_mib();
    let json_bytes = (total as f64) * 1.05 / 1024.0;
    println!("RSS with {total} ConfigMaps (~{json_bytes:.0} MiB of JSON): {rss:.0} MiB");
    server.stop();
    let (server, ready) = Server::start(dir);
    let client = server.client().await;
    let t = Instant::now();
    let nss: Api<Namespace> = Api::all(client);
    nss.list(&ListParams::default())
        .await
        .expect("list after restart");
    let first = t.elapsed();
    println!(
        "restart with {total} objects: ready after {:.0} ms, first list answered {:.0} ms later; RSS {:.0} MiB",
        ready.as_secs_f64() * 1000.0,
        first.as_secs_f64() * 1000.0,
        server.rss_mib()
    );
    server.stop();
}
