//! Agent tunnel benchmark: the same member cluster joined twice — directly by kubeconfig
//! (`direct`) and behind an `orrery agent` tunnel (`tunnel`, yamux over TLS) — and the same
//! request sent through the platform's cluster proxy to each, interleaved in rounds so both
//! see the same machine load. Prints p50/p99 of sequential requests and the throughput of
//! `BENCH_CONCURRENCY` (16) concurrent clients, for each path and the difference.
//!
//! Run: `cargo run --release -p platform --example agent_tunnel_bench`
//! (`BENCH_ROUNDS`, `BENCH_REQUESTS` per round, `BENCH_SECONDS` of each throughput run.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use platform::clusters::tunnel::agent::{AgentConfig, run as run_agent};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ADMIN_PW: &str = "AdminPassw0rd";
const CLUSTERS: &str = "/apis/cluster.kubesphere.io/v1alpha1/clusters";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn kube_config(path: &std::path::Path) -> Result<kube::Config, BoxError> {
    let kc = kube::config::Kubeconfig::read_from(path)?;
    Ok(kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?)
}

async fn cluster(dir: &std::path::Path) -> Result<apiserver::RunningCluster, BoxError> {
    let mut cc = apiserver::ClusterConfig::new(dir.to_path_buf());
    cc.listen = "127.0.0.1:0".parse()?;
    cc.durable = false;
    Ok(apiserver::start(cc).await?)
}

struct Http {
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Http {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        match r.send().await {
            Ok(resp) => {
                let s = resp.status().as_u16();
                (s, resp.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }
}

async fn wait_ready(http: &Http, name: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, text) = http
            .send(reqwest::Method::GET, &format!("{CLUSTERS}/{name}"), None)
            .await;
        if s == 200 {
            let v: Value = serde_json::from_str(&text)?;
            let ready = v["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            if ready {
                let (s, _) = http
                    .send(
                        reqwest::Method::GET,
                        &format!("/clusters/{name}/api/v1/namespaces/default/configmaps/bench"),
                        None,
                    )
                    .await;
                if s == 200 {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("cluster {name} did not become Ready").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `n` sequential GETs; their latencies.
async fn sequential(http: &Http, path: &str, n: usize, out: &mut Vec<Duration>) {
    for _ in 0..n {
        let t = Instant::now();
        let (s, _) = http.send(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "{path}");
        out.push(t.elapsed());
    }
}

/// Requests answered by `clients` concurrent clients in `secs`.
async fn throughput(http: &Arc<Http>, path: &str, clients: usize, secs: f64) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, done, path) = (http.clone(), done.clone(), path.to_string());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let (s, _) = http.send(reqwest::Method::GET, &path, None).await;
                assert_eq!(s, 200, "{path}");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let rounds = env_usize("BENCH_ROUNDS", 5);
    let per_round = env_usize("BENCH_REQUESTS", 400);
    let clients = env_usize("BENCH_CONCURRENCY", 16);
    let secs = env_usize("BENCH_SECONDS", 3) as f64;
    let dir = tempfile::tempdir()?;
    let host = cluster(&dir.path().join("host")).await?;
    let member = cluster(&dir.path().join("member")).await?;

    let mut pc = platform::PlatformConfig::new(
        kube_config(&host.kubeconfig_path).await?,
        dir.path().join("platform"),
    );
    pc.listen = "127.0.0.1:0".parse()?;
    pc.admin_password = Some(ADMIN_PW.into());
    pc.hash_cost = platform::password::HashCost {
        memory_kib: 256,
        iterations: 1,
    };
    pc.clusters.health_period = Duration::from_secs(1);
    let running = platform::start(pc).await?;
    let base = running.url();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let login: Value = client
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PW),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_string();
    let http = Arc::new(Http {
        base: base.clone(),
        client,
        token,
    });

    // The object both paths read, created in the member directly.
    let member_kube = kube::Client::try_from(kube_config(&member.kubeconfig_path).await?)?;
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(member_kube.clone(), "default");
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "bench"}, "data": {"k": "v".repeat(512)}}))?;
    cms.create(&Default::default(), &cm).await?;

    let secret = join_direct_and_behind_a_tunnel(&http, &member.kubeconfig_path).await?;
    let mut agent = AgentConfig::new(
        &format!("https://{}", running.addr),
        "tunnel",
        secret["stringData"]["token"].as_str().ok_or("no token")?,
    );
    agent.ca_pem = secret["stringData"]["ca.crt"].as_str().map(str::to_string);
    let stop = tokio_util::sync::CancellationToken::new();
    let agent_task = tokio::spawn(run_agent(agent, member_kube.clone(), stop.clone()));
    wait_ready(&http, "direct").await?;
    wait_ready(&http, "tunnel").await?;

    let path = |c: &str| format!("/clusters/{c}/api/v1/namespaces/default/configmaps/bench");
    // Warm both paths.
    for c in ["direct", "tunnel"] {
        sequential(&http, &path(c), 200, &mut Vec::new()).await;
    }
    let mut lat = [Vec::new(), Vec::new()];
    let mut done = [0u64, 0u64];
    for round in 0..rounds {
        // Alternate which goes first, so neither always runs on a warmer machine.
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let c = ["direct", "tunnel"][i];
            sequential(&http, &path(c), per_round, &mut lat[i]).await;
            done[i] += throughput(&http, &path(c), clients, secs).await;
        }
    }
    report(&mut lat, &done, rounds, per_round, clients, secs);
    stop.cancel();
    let _ = agent_task.await;
    Ok(())
}

/// The member joined twice: directly by kubeconfig, and behind the agent tunnel; the agent's
/// Secret from the tunnel cluster's manifests.
async fn join_direct_and_behind_a_tunnel(
    http: &Http,
    kubeconfig: &std::path::Path,
) -> Result<Value, BoxError> {
    // Joined directly, by kubeconfig.
    let kc = std::fs::read_to_string(kubeconfig)?;
    let (s, text) = http
        .send(
            reqwest::Method::POST,
            CLUSTERS,
            Some(
                json!({"metadata": {"name": "direct"}, "spec": {"connection": {"type": "direct",
                "kubeconfig": base64::engine::general_purpose::STANDARD.encode(kc)}}}),
            ),
        )
        .await;
    if s != 201 {
        return Err(format!("join direct: {s} {text}").into());
    }
    // Joined behind the agent tunnel.
    let (s, text) = http
        .send(
            reqwest::Method::POST,
            CLUSTERS,
            Some(
                json!({"metadata": {"name": "tunnel"}, "spec": {"connection": {"type": "proxy"}}}),
            ),
        )
        .await;
    if s != 201 {
        return Err(format!("join tunnel: {s} {text}").into());
    }
    let manifests = loop {
        let (s, text) = http
            .send(
                reqwest::Method::GET,
                "/kapis/cluster.kubesphere.io/v1alpha1/clusters/tunnel/agent/deployment",
                None,
            )
            .await;
        if s == 200 {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secret = manifests
        .split("\n---\n")
        .find(|d| d.contains("kind: Secret"))
        .ok_or("no Secret in the agent manifests")?;
    let secret: Value = serde_saphyr::from_str(secret)?;
    Ok(secret)
}

/// Prints each path's latency percentiles and throughput, and the tunnel's cost.
fn report(
    lat: &mut [Vec<Duration>; 2],
    done: &[u64; 2],
    rounds: usize,
    per_round: usize,
    clients: usize,
    secs: f64,
) {
    println!(
        "GET of a 1 KiB ConfigMap through /clusters/{{c}}/…: {rounds} rounds × {per_round} sequential requests, then {clients} clients × {secs} s, per path"
    );
    println!(
        "{:<8} {:>9} {:>9} {:>9} {:>12}",
        "path", "p50 ms", "p99 ms", "mean ms", "req/s (16)"
    );
    let mut summary = Vec::new();
    for (i, name) in ["direct", "tunnel"].iter().enumerate() {
        let l = &mut lat[i];
        l.sort();
        let mean = l.iter().sum::<Duration>() / l.len() as u32;
        let (p50, p99) = (percentile(l, 0.5), percentile(l, 0.99));
        let rps = done[i] as f64 / (secs * rounds as f64);
        println!(
            "{name:<8} {:>9.3} {:>9.3} {:>9.3} {:>12.0}",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            mean.as_secs_f64() * 1e3,
            rps
        );
        summary.push((p50, p99, rps));
    }
    let ms = |a: Duration, b: Duration| (a.as_secs_f64() - b.as_secs_f64()) * 1e3;
    println!(
        "tunnel − direct: p50 {:+.3} ms, p99 {:+.3} ms (budget ≤ 2 ms at p99), throughput {:+.1} %",
        ms(summary[1].0, summary[0].0),
        ms(summary[1].1, summary[0].1),
        (summary[1].2 / summary[0].2 - 1.0) * 100.0
    );
}
