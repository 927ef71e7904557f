//! APIService proxy overhead (BENCHMARKS.md, "Extensions (issue 14)"): a small JSON backend on
//! 127.0.0.1 called directly and through the platform (`/kapis/{group}/{version}/…`: token
//! check, request resolution, authorization, identity headers, the proxied call), interleaved in
//! the same run so both see the same machine load. The difference of the percentiles is the
//! overhead the route adds (budget: < 2 ms at p99).
//!
//! Run: `cargo run --release -p platform --example extensions_bench` (`BENCH_N=5000` requests
//! per path, default 3000).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "BenchPassw0rd";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn timed(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<Duration, BoxError> {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let t = Instant::now();
    let r = req.send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    let took = t.elapsed();
    if !status.is_success() || body.is_empty() {
        return Err(format!("{url}: {status}").into());
    }
    Ok(took)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let dir = tempfile::tempdir()?;
    let mut cc = apiserver::ClusterConfig::new(dir.path().join("cluster"));
    cc.listen = "127.0.0.1:0".parse()?;
    cc.durable = false;
    let cluster = apiserver::start(cc).await?;
    let kc = kube::config::Kubeconfig::read_from(&cluster.kubeconfig_path)?;
    let kube_config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let mut config = platform::PlatformConfig::new(kube_config, dir.path().join("platform"));
    config.listen = "127.0.0.1:0".parse()?;
    config.admin_password = Some(PASSWORD.into());
    let p = platform::start(config).await?;
    let base = format!("http://{}", p.addr);

    // The backend: a fixed small JSON answer, as an extension's list call would be.
    let app = axum::Router::new().fallback(|| async {
        axum::Json(json!({"items": [{"name": "w1"}, {"name": "w2"}], "totalItems": 2}))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let backend = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()?;
    let v: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = v["access_token"].as_str().ok_or("no token")?.to_string();
    let svc = json!({"apiVersion": "extensions.kubesphere.io/v1alpha1", "kind": "APIService",
        "metadata": {"name": "v1alpha1.bench.kubesphere.io"},
        "spec": {"group": "bench.kubesphere.io", "version": "v1alpha1", "url": backend}});
    let r = http
        .post(format!(
            "{base}/apis/extensions.kubesphere.io/v1alpha1/apiservices"
        ))
        .bearer_auth(&token)
        .json(&svc)
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("create APIService: {}", r.status()).into());
    }
    let path = "/kapis/bench.kubesphere.io/v1alpha1/namespaces/n1/widgets";
    let via = format!("{base}{path}");
    let direct = format!("{backend}{path}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while timed(&http, &via, Some(&token)).await.is_err() {
        if Instant::now() > deadline {
            return Err("the APIService never routed".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Warm both paths (connections, caches).
    for _ in 0..200 {
        timed(&http, &direct, None).await?;
        timed(&http, &via, Some(&token)).await?;
    }
    let (mut d, mut v) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let started = Instant::now();
    for _ in 0..n {
        d.push(timed(&http, &direct, None).await?);
        v.push(timed(&http, &via, Some(&token)).await?);
    }
    let wall = started.elapsed();
    d.sort();
    v.sort();
    let (d50, d99) = (percentile(&d, 0.5), percentile(&d, 0.99));
    let (v50, v99) = (percentile(&v, 0.5), percentile(&v, 0.99));
    println!("requests per path: {n} (interleaved, sequential, one client), wall {wall:?}");
    println!("direct to backend:      p50 {d50:?}  p99 {d99:?}");
    println!("through the APIService: p50 {v50:?}  p99 {v99:?}");
    println!(
        "added by the route:     p50 {:?}  p99 {:?}",
        v50.saturating_sub(d50),
        v99.saturating_sub(d99)
    );
    drop(p);
    drop(cluster);
    Ok(())
}
