//! Hostile load (issue 11, must-show 4): while one authenticated user sends three hostile bodies
//! at once, again and again (a JSON-patch copy bomb, a YAML "billion laughs", 3 MiB of nested
//! JSON) and floods the server with cheap reads, `/healthz` and another user's small authorized
//! GET must keep p99 < 100 ms, and the process's RSS must stay within 2× its idle RSS.
//!
//! Run: `cargo bench -p orrery --bench hostile` (release `orrery serve`, fresh data dir, port 0).
//! `HOSTILE_SECONDS` sets the length of the load phase (default 30), `HOSTILE_FLOOD` the number
//! of concurrent flooding connections (default 32).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

const ADMIN_PW: &str = "Bench-passw0rd";
const USER_PW: &str = "Bench-passw0rd";

fn start(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kube-listen",
            "127.0.0.1:0",
            "--admin-password",
            ADMIN_PW,
            "--data-dir",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orrery serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines.next().expect("orrery exited").expect("read stdout");
        if let Some(u) = line.strip_prefix("ready platform ") {
            break u.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn login(&self, user: &str, pw: &str) -> String {
        let v: Value = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", pw),
                ("client_id", "kubesphere"),
                ("client_secret", "kubesphere"),
            ])
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("token json");
        v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    async fn ok(&self, method: reqwest::Method, path: &str, token: &str, body: Value) {
        let r = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("send");
        let s = r.status();
        assert!(
            s.is_success(),
            "{method} {path}: {s} {}",
            r.text().await.unwrap_or_default()
        );
    }
}

/// p-th percentile of sorted samples, in ms.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn hostile_bodies() -> Vec<(&'static str, &'static str, &'static str, Vec<u8>)> {
    let mut ops = vec![
        json!({"op": "add", "path": "/metadata/annotations", "value": {"a": ["0123456789abcdef"]}}),
    ];
    for _ in 0..40 {
        ops.push(json!({"op": "copy", "from": "/metadata/annotations/a", "path": "/metadata/annotations/a/-"}));
    }
    let mut laughs = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: laughs}\nx0: &x0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*x{}", i - 1); 10].join(",");
        laughs.push_str(&format!("x{i}: &x{i} [{refs}]\n"));
    }
    let depth = (3 * 1024 * 1024 - 256) / 2;
    let nested = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"deep\"}},\"x\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    vec![
        (
            "PATCH",
            "/api/v1/namespaces/p-mallory/configmaps/target",
            "application/json-patch+json",
            serde_json::to_vec(&ops).expect("ops"),
        ),
        (
            "POST",
            "/api/v1/namespaces/p-mallory/configmaps",
            "application/yaml",
            laughs.into_bytes(),
        ),
        (
            "POST",
            "/api/v1/namespaces/p-mallory/configmaps",
            "application/json",
            nested.into_bytes(),
        ),
    ]
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("HOSTILE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let flood: usize = std::env::var("HOSTILE_FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, base) = start(dir.path());
    let pid = child.id();
    let api = Arc::new(Api {
        base,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build()
            .expect("client"),
    });
    let (mallory, bob) = tenants(&api).await;
    // Idle: let the set-up settle, then read RSS.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_rss = common::rss_mib(pid);
    let mut load = start_load(&api, &mallory, flood, pid, idle_rss);
    let probes = probe(&api, &bob, seconds).await;
    load.stop.store(true, Ordering::Relaxed);
    for t in load.tasks.drain(..) {
        let _ = t.await;
    }
    report(seconds, flood, probes, idle_rss, &load).await;
    common::stop(child);
}

/// Two tenants: mallory (the attacker, admin of her own project) and bob, each with a project
/// and a ConfigMap in it. Returns their tokens.
async fn tenants(api: &Api) -> (String, String) {
    let admin = api.login("admin", ADMIN_PW).await;
    for user in ["mallory", "bob"] {
        api.ok(
            reqwest::Method::POST,
            "/kapis/iam.kubesphere.io/v1beta1/users",
            &admin,
            json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User", "metadata": {"name": user},
                   "spec": {"email": format!("{user}@example.com"), "password": USER_PW}}),
        )
        .await;
        api.ok(
            reqwest::Method::POST,
            "/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates",
            &admin,
            json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate", "metadata": {"name": format!("ws-{user}")},
                   "spec": {"template": {"spec": {"manager": user}}, "placement": {"clusters": [{"name": "host"}]}}}),
        )
        .await;
    }
    let mallory = api.login("mallory", USER_PW).await;
    let bob = api.login("bob", USER_PW).await;
    for (user, token) in [("mallory", &mallory), ("bob", &bob)] {
        // The workspace controller grants the manager's role; wait until it is there.
        let path = format!("/kapis/tenant.kubesphere.io/v1beta1/workspaces/ws-{user}/namespaces");
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("p-{user}")}});
        let mut made = false;
        for _ in 0..100 {
            let r = api
                .http
                .post(format!("{}{path}", api.base))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("send");
            if r.status().is_success() {
                made = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(made, "{user} could not create a project");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": if user == "bob" { "small" } else { "target" }}, "data": {"k": "v"}});
        let mut created = false;
        for _ in 0..100 {
            let r = api
                .http
                .post(format!(
                    "{}/api/v1/namespaces/p-{user}/configmaps",
                    api.base
                ))
                .bearer_auth(token)
                .json(&cm)
                .send()
                .await
                .expect("send");
            if r.status().is_success() {
                created = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(created, "{user} could not create a ConfigMap");
    }
    (mallory, bob)
}

/// The load: mallory's hostile bodies in loops, her flood of GETs, and an RSS sampler.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    hostile_codes: Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
    flood_codes: Arc<Mutex<std::collections::BTreeMap<u16, usize>>>,
    peak: Arc<Mutex<f64>>,
}

/// Starts the load as mallory.
fn start_load(api: &Arc<Api>, mallory: &str, flood: usize, pid: u32, idle_rss: f64) -> Load {
    let mallory = mallory.to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let hostile_codes = Arc::new(Mutex::new(
        std::collections::BTreeMap::<String, usize>::new(),
    ));
    let mut tasks = Vec::new();
    for (method, path, ct, body) in hostile_bodies() {
        let (api, stop, codes, token) = (
            api.clone(),
            stop.clone(),
            hostile_codes.clone(),
            mallory.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = api
                    .http
                    .request(
                        method.parse().expect("method"),
                        format!("{}{path}", api.base),
                    )
                    .bearer_auth(&token)
                    .header("content-type", ct)
                    .body(body.clone())
                    .send()
                    .await;
                let key = match r {
                    Ok(r) => format!("{method} {ct} → {}", r.status().as_u16()),
                    Err(_) => format!("{method} {ct} → error"),
                };
                *codes.lock().await.entry(key).or_default() += 1;
            }
        }));
    }
    let flood_codes = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    for _ in 0..flood {
        let (api, stop, codes, token) = (
            api.clone(),
            stop.clone(),
            flood_codes.clone(),
            mallory.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = api
                    .http
                    .get(format!(
                        "{}/api/v1/namespaces/p-mallory/configmaps/target",
                        api.base
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await;
                let code = r.map(|r| r.status().as_u16()).unwrap_or(0);
                *codes.lock().await.entry(code).or_default() += 1;
            }
        }));
    }
    let peak = Arc::new(Mutex::new(idle_rss));
    {
        let (stop, peak) = (stop.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let rss = common::rss_mib(pid);
                let mut p = peak.lock().await;
                if rss > *p {
                    *p = rss;
                }
                drop(p);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    Load {
        stop,
        tasks,
        hostile_codes,
        flood_codes,
        peak,
    }
}

/// Probes: /healthz and bob's GET, one at a time, every 20 ms, for `seconds`. Returns their
/// latencies and how many failed.
async fn probe(api: &Api, bob: &str, seconds: u64) -> (Vec<Duration>, Vec<Duration>, usize) {
    let probe_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut health = Vec::new();
    let mut bobs = Vec::new();
    let mut probe_failures = 0usize;
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        let t = Instant::now();
        let ok = probe_client
            .get(format!("{}/healthz", api.base))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        health.push(t.elapsed());
        probe_failures += usize::from(!ok);
        let t = Instant::now();
        let ok = probe_client
            .get(format!(
                "{}/api/v1/namespaces/p-bob/configmaps/small",
                api.base
            ))
            .bearer_auth(bob)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        bobs.push(t.elapsed());
        probe_failures += usize::from(!ok);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (health, bobs, probe_failures)
}

/// Prints the figures BENCHMARKS.md records.
async fn report(
    seconds: u64,
    flood: usize,
    (mut health, mut bobs, probe_failures): (Vec<Duration>, Vec<Duration>, usize),
    idle_rss: f64,
    load: &Load,
) {
    let (hostile_codes, flood_codes) = (&load.hostile_codes, &load.flood_codes);
    health.sort();
    bobs.sort();
    let peak = *load.peak.lock().await;
    println!(
        "load: {seconds} s; 3 hostile loops + {flood} flooding connections as one user; probes every 20 ms"
    );
    println!(
        "/healthz:        n={} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        health.len(),
        pct(&health, 0.5),
        pct(&health, 0.99),
        pct(&health, 1.0)
    );
    println!(
        "other user's GET: n={} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        bobs.len(),
        pct(&bobs, 0.5),
        pct(&bobs, 0.99),
        pct(&bobs, 1.0)
    );
    println!("probe failures: {probe_failures}");
    println!(
        "RSS: idle {idle_rss:.1} MiB, peak under load {peak:.1} MiB ({:.2}× idle)",
        peak / idle_rss
    );
    for (k, n) in hostile_codes.lock().await.iter() {
        println!("hostile {k}: {n}");
    }
    let flood_total: usize = flood_codes.lock().await.values().sum();
    println!(
        "flood: {flood_total} requests ({:.0}/s), by status {:?}",
        flood_total as f64 / seconds as f64,
        flood_codes.lock().await
    );
}
