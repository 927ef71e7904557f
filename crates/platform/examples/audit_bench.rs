//! Auditing's cost on the request path (issue 16, must-show 5): two platform replicas on one
//! host cluster, one with auditing off and one auditing at `Metadata` (writes and reads, to
//! the JSON-lines file and the query window), measured in interleaved rounds (request by
//! request: off, on, off, on…, the order swapped each round) so that whatever else loads the
//! machine weighs on both alike. Prints each
//! round's medians and the overall medians with their difference.
//!
//! Run: `cargo run --release -p platform --example audit_bench [rounds] [requests per round]`
//! (`AUDIT_BENCH_CONTROL=1` audits neither replica: the A/A control).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "BenchPassw0rd";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn login(http: &reqwest::Client, base: &str) -> Result<String, BoxError> {
    let r = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await?;
    let v: Value = r.json().await?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("login: {v}").into())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One request of the kind measured; returns its latency.
async fn one(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    write: bool,
    i: usize,
) -> Result<Duration, BoxError> {
    let t = Instant::now();
    let r = if write {
        http.patch(format!(
            "{base}/api/v1/namespaces/bench/configmaps/cm-{}",
            i % 10
        ))
        .bearer_auth(token)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"data": {"n": i.to_string()}}).to_string())
        .send()
        .await?
    } else {
        http.get(format!(
            "{base}/kapis/tenant.kubesphere.io/v1beta1/workspaces?limit=10"
        ))
        .bearer_auth(token)
        .send()
        .await?
    };
    let status = r.status();
    let _ = r.bytes().await?;
    if !status.is_success() {
        return Err(format!("request {i}: {status}").into());
    }
    Ok(t.elapsed())
}

async fn start(
    kube_config: &kube::Config,
    dir: &std::path::Path,
    audited: bool,
) -> Result<platform::RunningPlatform, BoxError> {
    let mut config = platform::PlatformConfig::new(kube_config.clone(), dir);
    config.listen = "127.0.0.1:0".parse()?;
    config.admin_password = Some(PASSWORD.into());
    config.resync_period = Duration::from_secs(3600);
    config.tls = platform::serve::TlsSource::Off;
    config.audit = if audited {
        platform::audit::AuditSettings {
            write_level: platform::audit::Level::Metadata,
            read_level: platform::audit::Level::Metadata,
            log_path: Some(dir.join("audit.log")),
            ..Default::default()
        }
    } else {
        platform::audit::AuditSettings {
            write_level: platform::audit::Level::None,
            read_level: platform::audit::Level::None,
            ..Default::default()
        }
    };
    Ok(platform::start(config).await?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(10);
    let per_round = args.get(1).copied().unwrap_or(300);
    let dir = tempfile::tempdir()?;
    let mut cc = apiserver::ClusterConfig::new(dir.path().join("cluster"));
    cc.listen = "127.0.0.1:0".parse()?;
    cc.durable = false;
    let cluster = apiserver::start(cc).await?;
    let kc = kube::config::Kubeconfig::read_from(&cluster.kubeconfig_path)?;
    let kube_config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let off = start(&kube_config, &dir.path().join("off"), false).await?;
    // `AUDIT_BENCH_CONTROL=1`: both replicas unaudited, to see the difference the two
    // replicas make by themselves (which one leads, which started first).
    let control = std::env::var_os("AUDIT_BENCH_CONTROL").is_some();
    let on = start(&kube_config, &dir.path().join("on"), !control).await?;
    if control {
        println!("control run: neither replica audits");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()?;
    let bases = [off.url(), on.url()];
    let tokens = [
        login(&http, &bases[0]).await?,
        login(&http, &bases[1]).await?,
    ];
    let client = kube::Client::try_from(kube_config.clone())?;
    platform::kubeapi::create(
        &client,
        platform::kinds::Kind::Namespace,
        None,
        json!({"metadata": {"name": "bench"}}),
    )
    .await?;
    for i in 0..10 {
        platform::kubeapi::create(
            &client,
            platform::kinds::Kind::ConfigMap,
            Some("bench"),
            json!({"metadata": {"name": format!("cm-{i}"), "namespace": "bench"}, "data": {}}),
        )
        .await?;
    }
    println!("{rounds} interleaved rounds of {per_round} sequential requests per replica and kind");
    for (kind, write) in [
        ("PATCH a ConfigMap (through the proxy to the host)", true),
        ("GET workspaces (answered from the caches)", false),
    ] {
        // Warm both (connections, caches, the JIT-free but cold paths).
        for m in 0..2 {
            for i in 0..50 {
                one(&http, &bases[m], &tokens[m], write, i).await?;
            }
        }
        let mut all: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut round_medians = Vec::new();
        for r in 0..rounds {
            let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut medians = [Duration::ZERO; 2];
            let mut times = [Vec::with_capacity(per_round), Vec::with_capacity(per_round)];
            // Request by request, alternating, so load from elsewhere falls on both alike.
            for i in 0..per_round {
                for m in order {
                    times[m].push(one(&http, &bases[m], &tokens[m], write, i).await?);
                }
            }
            for m in 0..2 {
                all[m].extend_from_slice(&times[m]);
                medians[m] = median(&mut times[m]);
            }
            round_medians.push(format!("{:?}/{:?}", medians[0], medians[1]));
        }
        let (m_off, m_on) = (median(&mut all[0]), median(&mut all[1]));
        let diff = (m_on.as_secs_f64() / m_off.as_secs_f64() - 1.0) * 100.0;
        println!("{kind}:");
        println!("  round medians off/on: {}", round_medians.join(" "));
        println!(
            "  median off {m_off:?}, on {m_on:?}: {diff:+.2} % ({} requests each)",
            all[0].len()
        );
    }
    // Read after the shutdown, which writes what is still queued.
    let audited = on.state.clone();
    off.shutdown().await;
    on.shutdown().await;
    let s = audited.audit.stats();
    let ordering = std::sync::atomic::Ordering::Relaxed;
    println!(
        "audited replica: {} events queued, {} dropped, {} lines written",
        s.enqueued.load(ordering),
        s.dropped.load(ordering),
        s.written.load(ordering)
    );
    cluster.shutdown().await;
    Ok(())
}
