//! The in-process monitoring store at scale (BENCHMARKS.md, "Monitoring (issue 16)"):
//! 10,000 pods (one container each, 100 namespaces, 50 nodes) sampled every minute for a day,
//! with the series and labels the leader's sampler writes; then the dashboards' PromQL over it.
//!
//! Memory is measured two ways: a counting global allocator (bytes the store holds once fed,
//! minus what existed before) and the store's own estimate ([`Store::heap_bytes`]).
//! Usage values follow the simulation's model (a stable fraction of the request, drifting on a
//! ten-minute sine, memory reported in KiB as metrics-server does); 1 % of the pods
//! crash-loop (restarts growing), the rest keep their phase.
//!
//! `cargo run --release -p platform --example monitoring_bench` (`BENCH_PODS=1000` for a quick
//! pass, `BENCH_QUERIES=200` iterations per query).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use platform::monitoring::dashboards::{self, Level};
use platform::monitoring::engine::{self, Limits};
use platform::monitoring::store::{Labels, NAME, Store};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded as given.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// A deterministic number in [0, 1) from a pod index and a salt.
fn unit(i: usize, salt: u64) -> f64 {
    let mut x =
        (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut l: Labels = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert(NAME.to_string(), name.to_string());
    l
}

struct Pod {
    cpu: Labels,
    mem: Labels,
    info: Labels,
    owner: Labels,
    phases: Vec<(Labels, f64)>,
    restarts: Labels,
    req_cores: f64,
    req_bytes: f64,
    crashes: bool,
}

fn pods(n: usize, nodes: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| {
            let ns = format!("project-{:03}", i % 100);
            let deploy = format!("app-{:03}", (i / 100) % 50);
            let rs = format!("{deploy}-7d9c{:02}f5b", i % 7);
            let pod = format!("{rs}-{:05x}", i);
            let node = format!("node-{:02}", i % nodes);
            let uid = format!("{:08x}-0000-4000-8000-{:012x}", i, i);
            let c = [
                ("namespace", ns.as_str()),
                ("pod", pod.as_str()),
                ("container", "app"),
                ("node", node.as_str()),
            ];
            let base = [("namespace", ns.as_str()), ("pod", pod.as_str())];
            Pod {
                cpu: labels("container_cpu_usage_seconds_total", &c),
                mem: labels("container_memory_working_set_bytes", &c),
                info: labels(
                    "kube_pod_info",
                    &[
                        base[0],
                        base[1],
                        ("node", &node),
                        ("uid", &uid),
                        ("created_by_kind", "ReplicaSet"),
                        ("created_by_name", &rs),
                    ],
                ),
                owner: labels(
                    "kube_pod_owner",
                    &[
                        base[0],
                        base[1],
                        ("owner_kind", "ReplicaSet"),
                        ("owner_name", &rs),
                        ("owner_is_controller", "true"),
                    ],
                ),
                phases: ["Pending", "Running", "Succeeded", "Failed", "Unknown"]
                    .iter()
                    .map(|p| {
                        (
                            labels("kube_pod_status_phase", &[base[0], base[1], ("phase", p)]),
                            if *p == "Running" { 1.0 } else { 0.0 },
                        )
                    })
                    .collect(),
                restarts: labels(
                    "kube_pod_container_status_restarts_total",
                    &[base[0], base[1], ("container", "app")],
                ),
                req_cores: [0.05, 0.1, 0.25, 0.5][i % 4],
                req_bytes: [64.0, 128.0, 256.0, 512.0][i % 4] * 1048576.0,
                crashes: i % 100 == 42,
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let n_pods = env_usize("BENCH_PODS", 10_000);
    let n_nodes = 50;
    let minutes = env_usize("BENCH_MINUTES", 1440) as u32;
    let iterations = env_usize("BENCH_QUERIES", 200);
    let pods = pods(n_pods, n_nodes);
    let node_labels = node_series(n_nodes);
    let start_slot: u32 = 29_000_000; // 2025-02-21, one-minute grid
    let before = live();
    let t0 = Instant::now();
    let store = feed(&pods, &node_labels, start_slot, minutes);
    let fill = t0.elapsed();
    let held = live() - before;
    let series = store.series_count();
    println!("pods {n_pods}, nodes {n_nodes}, minutes {minutes}, series {series}");
    println!(
        "fed in {:.1} s ({:.0} samples/s)",
        fill.as_secs_f64(),
        (series as f64 * f64::from(minutes)) / fill.as_secs_f64()
    );
    println!(
        "store heap (allocator): {:.1} MiB; estimate {:.1} MiB; encoded points {:.1} MiB ({:.2} bytes/sample)",
        held as f64 / 1048576.0,
        store.heap_bytes() as f64 / 1048576.0,
        store.encoded_bytes() as f64 / 1048576.0,
        store.encoded_bytes() as f64 / (series as f64 * f64::from(minutes))
    );
    let shared = store.encode();
    println!(
        "shared copy (encode): {:.1} MiB",
        shared.len() as f64 / 1048576.0
    );

    let end_ms = i64::from(start_slot + minutes - 1) * 60_000;
    let hour = 3_600_000;
    let limits = Limits::default();
    let ns = "project-007".to_string();
    let queries = dashboard_queries(&ns, &pods[7].cpu["pod"], hour);
    println!("\n| dashboard query | p50 | p99 | max |\n|---|---|---|---|");
    for (what, level, metric, range) in queries {
        let Some(q) = dashboards::promql(&level, metric) else {
            println!("| {what} | no template |");
            continue;
        };
        let Ok(expr) = engine::parse(&q) else {
            println!("| {what} | does not parse |");
            continue;
        };
        let confine = match &level {
            Level::Namespace(n) | Level::Pods(n, _) | Level::Workload(n, ..) => Some(n.as_str()),
            _ => None,
        };
        let mut times = Vec::with_capacity(iterations);
        let mut points = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let got = match range {
                None => engine::instant(&store, &expr, end_ms, limits, confine),
                Some(r) => {
                    let step = if r > hour { 600_000 } else { 60_000 };
                    engine::range(&store, &expr, end_ms - r, end_ms, step, limits, confine)
                }
            };
            times.push(t.elapsed());
            points = match got {
                Ok(engine::QueryValue::Vector(v)) => v.len(),
                Ok(engine::QueryValue::Matrix(m)) => m.iter().map(|s| s.1.len()).sum(),
                Ok(_) => 1,
                Err(e) => {
                    println!("| {what} | error: {e} |");
                    0
                }
            };
        }
        times.sort();
        println!(
            "| {what} ({points} points) | {:.2} ms | **{:.2} ms** | {:.2} ms |",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
            times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        );
    }
}

/// Each node's CPU, memory and info series.
fn node_series(n_nodes: usize) -> Vec<(Labels, Labels, Labels)> {
    (0..n_nodes)
        .map(|i| {
            let node = format!("node-{i:02}");
            (
                labels("node_cpu_usage_seconds_total", &[("node", &node)]),
                labels("node_memory_working_set_bytes", &[("node", &node)]),
                labels(
                    "kube_node_info",
                    &[
                        ("node", &node),
                        ("kubelet_version", "v1.35.0"),
                        ("internal_ip", &format!("10.0.0.{i}")),
                    ],
                ),
            )
        })
        .collect()
}

/// A store fed `minutes` one-minute samples of every pod and node, as the sampler writes them.
fn feed(
    pods: &[Pod],
    node_labels: &[(Labels, Labels, Labels)],
    start_slot: u32,
    minutes: u32,
) -> Store {
    let (n_pods, n_nodes) = (pods.len(), node_labels.len());
    let mut store = Store::new(Duration::from_secs(60), 1440);
    let mut cpu_total = vec![0.0f64; n_pods];
    let mut node_cpu = vec![0.0f64; n_nodes];
    let mut restarts = vec![0.0f64; n_pods];
    for m in 0..minutes {
        let slot = start_slot + m;
        let t = f64::from(slot) * 60.0;
        let mut per_node = vec![(0.0f64, 600.0 * 1048576.0); n_nodes];
        for (i, p) in pods.iter().enumerate() {
            let wave =
                (t / 600.0 * std::f64::consts::TAU + unit(i, 3) * std::f64::consts::TAU).sin();
            let cores = p.req_cores * (0.1 + 0.5 * unit(i, 4) + 0.1 * wave).clamp(0.01, 1.0);
            // metrics-server reports memory in KiB.
            let bytes =
                ((p.req_bytes * (0.3 + 0.4 * unit(i, 5) + 0.03 * wave)) / 1024.0).round() * 1024.0;
            cpu_total[i] += cores * 60.0;
            store.append(&p.cpu, slot, cpu_total[i]);
            store.append(&p.mem, slot, bytes);
            store.append(&p.info, slot, 1.0);
            store.append(&p.owner, slot, 1.0);
            for (l, v) in &p.phases {
                store.append(l, slot, *v);
            }
            if p.crashes && m % 5 == 0 {
                restarts[i] += 1.0;
            }
            store.append(&p.restarts, slot, restarts[i]);
            let node = &mut per_node[i % n_nodes];
            node.0 += cores;
            node.1 += bytes;
        }
        for (j, (cpu, mem, info)) in node_labels.iter().enumerate() {
            node_cpu[j] += (per_node[j].0 + 0.08) * 60.0;
            store.append(cpu, slot, node_cpu[j]);
            store.append(mem, slot, per_node[j].1);
            store.append(info, slot, 1.0);
        }
        store.mark_stale(slot);
        store.compact(slot);
    }
    store
}

/// The dashboard queries measured (`one_pod` the pod of the one-pod query): what, level,
/// metric and range (none: instant).
fn dashboard_queries(
    ns: &str,
    one_pod: &str,
    hour: i64,
) -> Vec<(&'static str, Level, &'static str, Option<i64>)> {
    vec![
        (
            "project CPU, last hour (60 s step)",
            Level::Namespace(ns.to_string()),
            "namespace_cpu_usage",
            Some(hour),
        ),
        (
            "project memory, last day (10 m step)",
            Level::Namespace(ns.to_string()),
            "namespace_memory_usage_wo_cache",
            Some(24 * hour),
        ),
        (
            "project pod count, instant",
            Level::Namespace(ns.to_string()),
            "namespace_pod_count",
            None,
        ),
        (
            "pods of a project CPU, instant",
            Level::Pods(ns.to_string(), None),
            "pod_cpu_usage",
            None,
        ),
        (
            "one pod CPU, last day (10 m step)",
            Level::Pods(ns.to_string(), Some(one_pod.to_string())),
            "pod_cpu_usage",
            Some(24 * hour),
        ),
        (
            "workload CPU, last hour",
            Level::Workload(ns.to_string(), "deployments".into(), "app-000".into()),
            "workload_cpu_usage",
            Some(hour),
        ),
        (
            "node CPU (50 nodes), last hour",
            Level::Nodes(None),
            "node_cpu_usage",
            Some(hour),
        ),
        (
            "cluster CPU, last day (10 m step)",
            Level::Cluster,
            "cluster_cpu_usage",
            Some(24 * hour),
        ),
        (
            "cluster pod count (10,000 pods), instant",
            Level::Cluster,
            "cluster_pod_count",
            None,
        ),
        (
            "cluster restarts, instant",
            Level::Cluster,
            "cluster_pod_restarts",
            None,
        ),
        (
            "cluster running pods (a comparison), instant",
            Level::Cluster,
            "cluster_pod_running_count",
            None,
        ),
    ]
}
