//! Multi-cluster benchmark: cache memory per pod and cross-cluster search latency over
//! `BENCH_CLUSTERS` (10) indexes × `BENCH_PODS` (10,000) simulated pods, then the time from
//! joining a member cluster holding `BENCH_PODS` pods to its full cache, through the platform.
//!
//! Run: `cargo run --release -p platform --example search_bench`

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use platform::search::index::{ClusterIndex, SEARCH_KINDS};
use platform::search::{self, SearchCluster, SearchQuery};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory in bytes (Linux).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// A pod as `kubectl create deployment` makes them (with status).
fn pod(cluster: usize, i: usize) -> Value {
    let app = format!("app-{:03}", i % 500);
    let hash = format!("{:010x}", (i / 20) * 7919 + cluster);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{app}-{hash}-{:05x}", i), "namespace": format!("ns-{:03}", i % 100),
            "uid": format!("{:08x}-0000-4000-8000-{:012x}", cluster, i),
            "resourceVersion": format!("{}", 1000 + i), "creationTimestamp": format!("2026-12-01T{:02}:{:02}:{:02}Z", (i / 3600) % 24, (i / 60) % 60, i % 60),
            "generateName": format!("{app}-{hash}-"),
            "labels": {"app": app, "pod-template-hash": hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-{hash}"),
                "uid": format!("{:08x}-1111-4000-8000-{:012x}", cluster, i / 20), "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "nodeName": format!("node-{}", i % 3), "serviceAccountName": "default", "schedulerName": "default-scheduler"},
        "status": {"phase": "Running", "podIP": format!("10.{}.{}.{}", cluster, (i / 256) % 256, i % 256),
            "conditions": [{"type": "Ready", "status": "True"}], "startTime": "2026-12-01T00:00:00Z"},
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn no_workspace(_: &str) -> Option<String> {
    None
}

fn search_latency(clusters: &[SearchCluster<'_>], query: &str, restricted: bool) -> String {
    let Ok(q) = SearchQuery::parse(query) else {
        return format!("{query}: bad query");
    };
    let mut times = Vec::new();
    let mut total = 0;
    for _ in 0..200 {
        let t = Instant::now();
        // A non-admin caller sees a tenth of the namespaces.
        let (n, page) = search::run(&q, clusters, |_, _, ns| {
            !restricted || ns.is_some_and(|n| n.ends_with('7'))
        });
        let items: Vec<Value> = page.iter().map(|h| search::to_json(h, clusters)).collect();
        std::hint::black_box(items);
        times.push(t.elapsed());
        total = n;
    }
    times.sort();
    format!(
        "search {query}{}: p50 {:?} p99 {:?} (totalItems {total}, 200 runs)",
        if restricted {
            " (restricted caller)"
        } else {
            ""
        },
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    )
}

async fn join_to_full_cache(pods: usize) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let mut host_cfg = apiserver::ClusterConfig::new(dir.path().join("host"));
    host_cfg.listen = "127.0.0.1:0".parse()?;
    host_cfg.durable = false;
    let host = apiserver::start(host_cfg).await?;
    let mut member_cfg = apiserver::ClusterConfig::new(dir.path().join("member"));
    member_cfg.listen = "127.0.0.1:0".parse()?;
    member_cfg.durable = false;
    let member = apiserver::start(member_cfg).await?;
    let member_kc = std::fs::read_to_string(&member.kubeconfig_path)?;
    let kc = kube::config::Kubeconfig::read_from(&member.kubeconfig_path)?;
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?,
    )?;
    fill_member(&client, pods).await?;
    let kc = kube::config::Kubeconfig::read_from(&host.kubeconfig_path)?;
    let mut config = platform::PlatformConfig::new(
        kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?,
        dir.path().join("platform"),
    );
    config.listen = "127.0.0.1:0".parse()?;
    config.admin_password = Some("BenchPassw0rd".into());
    config.tls = platform::serve::TlsSource::Off;
    config.clusters.health_period = Duration::from_millis(500);
    let p = platform::start(config).await?;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/oauth/token", p.url()))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "BenchPassw0rd"),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await?;
    let token: Value = r.json().await?;
    let token = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    use base64::Engine;
    let body = json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "member"},
        "spec": {"connection": {"type": "direct", "kubeconfig": base64::engine::general_purpose::STANDARD.encode(member_kc)}}});
    let t = Instant::now();
    let r = http
        .post(format!(
            "{}/apis/cluster.kubesphere.io/v1alpha1/clusters",
            p.url()
        ))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("join: {} {}", r.status(), r.text().await?).into());
    }
    let joined = t.elapsed();
    let pods_kind = SEARCH_KINDS
        .iter()
        .position(|k| k.plural == "pods")
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(m) = p.state.clusters.get("member")
            && m.index.is_synced()
            && m.index.len(pods_kind) >= pods
            && m.caches_synced()
        {
            break;
        }
        if Instant::now() > deadline {
            return Err("member cache did not fill within 300 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "join (validation, secret, Cluster) {joined:?}; join to full cache ({pods} pods indexed, authorization caches synced) {:?}",
        t.elapsed()
    );
    p.shutdown().await;
    drop((member, host));
    Ok(())
}

/// Creates `pods` pods (in 100 namespaces) in the member, 16 at a time.
async fn fill_member(client: &kube::Client, pods: usize) -> Result<(), BoxError> {
    let t = Instant::now();
    let nss: HashSet<String> = (0..pods).map(|i| format!("ns-{:03}", i % 100)).collect();
    for ns in nss {
        platform::kubeapi::create(
            client,
            platform::kinds::Kind::Namespace,
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    let results: Vec<Result<(), BoxError>> = futures::stream::iter((0..pods).map(|i| {
        let client = client.clone();
        async move {
            let mut p = pod(0, i);
            let ns = p["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(m) = p["metadata"].as_object_mut() {
                for f in [
                    "uid",
                    "resourceVersion",
                    "creationTimestamp",
                    "ownerReferences",
                ] {
                    m.remove(f);
                }
            }
            let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
                client,
                &ns,
                &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
            );
            let obj: kube::api::DynamicObject = serde_json::from_value(p)?;
            api.create(&Default::default(), &obj).await?;
            Ok(())
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    for r in results {
        r?;
    }
    println!("created {pods} pods in the member in {:?}", t.elapsed());
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let n_clusters = env_usize("BENCH_CLUSTERS", 10);
    let n_pods = env_usize("BENCH_PODS", 10_000);
    let pods_kind = SEARCH_KINDS
        .iter()
        .position(|k| k.plural == "pods")
        .unwrap_or(0);
    let before = rss();
    let indexes: Vec<ClusterIndex> = (0..n_clusters).map(|_| ClusterIndex::new()).collect();
    let t = Instant::now();
    for (c, index) in indexes.iter().enumerate() {
        for i in 0..n_pods {
            index.insert(pods_kind, &pod(c, i));
        }
    }
    let after = rss();
    let total = n_clusters * n_pods;
    let json_size = serde_json::to_vec(&pod(0, 1234))
        .map(|v| v.len())
        .unwrap_or(0);
    println!(
        "indexed {total} pods ({n_clusters} clusters × {n_pods}) in {:?}; RSS +{} KiB = {} bytes per pod (pod JSON ~{json_size} bytes)",
        t.elapsed(),
        after.saturating_sub(before) / 1024,
        after.saturating_sub(before) / total.max(1)
    );
    let names: Vec<String> = (0..n_clusters).map(|c| format!("member-{c:02}")).collect();
    let clusters: Vec<SearchCluster<'_>> = indexes
        .iter()
        .zip(&names)
        .map(|(index, name)| SearchCluster {
            name,
            index,
            workspace_of: &no_workspace,
            workspace_namespaces: None,
        })
        .collect();
    for (q, restricted) in [
        ("kind=pods&limit=20", false),
        ("kind=pods&limit=20", true),
        (
            "kind=pods&name=app-042&limit=20&sortBy=name&ascending=true",
            false,
        ),
        ("kind=pods&labelSelector=app%3Dapp-007&limit=20", true),
        (
            "kind=pods&namespace=ns-017&cluster=member-03&limit=20",
            false,
        ),
    ] {
        println!("{}", search_latency(&clusters, q, restricted));
    }
    join_to_full_cache(env_usize("BENCH_JOIN_PODS", n_pods)).await
}
