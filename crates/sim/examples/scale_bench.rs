//! Scale benchmark: 100 simulated nodes and 10,000 pods from 100 Deployments against an
//! in-process API server. Prints the time until every Deployment is fully available, resident
//! memory (API server + simulation, one process) and CPU use once steady.
//!
//! `cargo run --release -p sim --example scale_bench [nodes] [deployments] [replicas]`

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn proc_stat_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th overall.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let nodes = args.first().copied().unwrap_or(100);
    let deployments = args.get(1).copied().unwrap_or(100);
    let replicas = args.get(2).copied().unwrap_or(100);
    let tmp = tempfile::tempdir()?;
    let mut cc = apiserver::ClusterConfig::new(tmp.path());
    cc.listen = "127.0.0.1:0".parse()?;
    cc.durable = false;
    let cluster = apiserver::start(cc).await?;
    let kc = kube::config::Kubeconfig::read_from(&cluster.kubeconfig_path)?;
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?,
    )?;
    let shutdown = CancellationToken::new();
    let config = sim::SimConfig {
        nodes,
        time_scale: 10.0,
        seed: Some(1),
        ..Default::default()
    };
    let (c, s) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = sim::run(c, config, s).await {
            eprintln!("sim stopped: {e}");
        }
    });
    println!(
        "nodes={nodes} deployments={deployments} replicas={replicas} time_scale=10 rss_start={:.1}MiB",
        rss_mib()
    );
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    for i in 0..deployments {
        let name = format!("app-{i}");
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": "nginx:1.27",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}},
        }))?;
        deps.create(&PostParams::default(), &d).await?;
    }
    println!(
        "created {deployments} deployments in {:.2}s",
        start.elapsed().as_secs_f64()
    );
    let want = (deployments * replicas) as i32;
    let mut last_report = Instant::now();
    loop {
        let l = deps.list(&ListParams::default()).await?;
        let available: i32 = l
            .items
            .iter()
            .filter_map(|d| d.status.as_ref()?.available_replicas)
            .sum();
        if available >= want {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "  {:.0}s: {available}/{want} available, rss {:.0}MiB",
                start.elapsed().as_secs_f64(),
                rss_mib()
            );
            last_report = Instant::now();
        }
        if start.elapsed() > Duration::from_secs(1800) {
            anyhow::bail!("not ready after 30 minutes ({available}/{want})");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ready_secs = start.elapsed().as_secs_f64();
    println!("all {want} pods available after {ready_secs:.1}s");
    println!("rss after ready: {:.1}MiB", rss_mib());
    // Let the tail of status and event writes drain, then measure steady CPU.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ticks_per_sec = 100.0;
    let t0 = proc_stat_ticks();
    let w0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu = (proc_stat_ticks() - t0) as f64 / ticks_per_sec / w0.elapsed().as_secs_f64();
    println!(
        "steady cpu over 10s: {:.1}% of one core (API server + simulation)",
        cpu * 100.0
    );
    println!("rss steady: {:.1}MiB", rss_mib());
    shutdown.cancel();
    cluster.shutdown().await;
    Ok(())
}
