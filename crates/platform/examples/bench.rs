//! Platform benchmark: authorized, paginated lists answered from the caches with 1,000 users,
//! 200 workspaces, 2,000 projects and 10,000 bindings; the authorizer's cost per decision; and
//! logins per second with the default argon2id cost.
//!
//! Run: `cargo run --release -p platform --example bench`

use std::time::{Duration, Instant};

use futures::StreamExt;
use platform::authz::UserInfo;
use platform::authz::scope::RequestInfo;
use platform::kinds::Kind;
use serde_json::{Value, json};

const USERS: usize = 1_000;
const WORKSPACES: usize = 200;
const PROJECTS_PER_WS: usize = 10;
const PASSWORD: &str = "BenchPassw0rd";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn create_all(client: &kube::Client, kind: Kind, objs: Vec<Value>) -> Result<(), BoxError> {
    let results: Vec<_> = futures::stream::iter(objs.into_iter().map(|o| {
        let client = client.clone();
        async move {
            let ns = o["metadata"]["namespace"].as_str().map(str::to_string);
            platform::kubeapi::create(&client, kind, ns.as_deref(), o).await
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    for r in results {
        r?;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn measure(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    n: usize,
) -> Result<(Duration, Duration, u64), BoxError> {
    let mut times = Vec::with_capacity(n);
    let mut total = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = http.get(url).bearer_auth(token).send().await?;
        if !r.status().is_success() {
            return Err(format!("{url}: {}", r.status()).into());
        }
        let v: Value = r.json().await?;
        times.push(t.elapsed());
        total = v["totalItems"].as_u64().unwrap_or(0);
    }
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99), total))
}

async fn login(http: &reqwest::Client, base: &str, user: &str) -> Result<String, BoxError> {
    let r = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
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
        .ok_or_else(|| format!("login {user}: {v}").into())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let mut cc = apiserver::ClusterConfig::new(dir.path().join("cluster"));
    cc.listen = "127.0.0.1:0".parse()?;
    cc.durable = false;
    let cluster = apiserver::start(cc).await?;
    let kc = kube::config::Kubeconfig::read_from(&cluster.kubeconfig_path)?;
    let kube_config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let client = kube::Client::try_from(kube_config.clone())?;
    let mut config = platform::PlatformConfig::new(kube_config, dir.path().join("platform"));
    config.listen = "127.0.0.1:0".parse()?;
    config.admin_password = Some(PASSWORD.into());
    // The controllers' first pass runs before the data exists; keep them out of the measurements.
    config.resync_period = Duration::from_secs(3600);
    // Every login comes from 127.0.0.1: lift the per-address login rate limit, or the logins
    // measurement would measure the limiter.
    config.login_burst = 1_000;
    config.login_rate = 1_000.0;
    let started = Instant::now();
    let p = platform::start(config).await?;
    println!(
        "platform start (CRDs, defaults, cache sync): {:?}",
        started.elapsed()
    );
    let base = format!("http://{}", p.addr);

    let hash = platform::password::hash(PASSWORD, platform::password::HashCost::default())?;
    load(&client, &p, &hash).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()?;
    lists(&http, &base).await?;
    authorizer(&p);
    logins(&http, &base, &hash).await?;
    p.shutdown().await;
    cluster.shutdown().await;
    Ok(())
}

/// Loads 1,000 users, 200 workspaces, 2,000 projects and 10,000 bindings, and waits until the
/// platform's caches hold them.
async fn load(
    client: &kube::Client,
    p: &platform::RunningPlatform,
    hash: &str,
) -> Result<(), BoxError> {
    let t = Instant::now();
    let users: Vec<Value> = (0..USERS)
        .map(|i| json!({"metadata": {"name": format!("user-{i:04}")}, "spec": {"email": format!("u{i}@example.com"), "password": hash}}))
        .collect();
    create_all(client, Kind::User, users).await?;
    let mut templates = Vec::new();
    let mut workspaces = Vec::new();
    for w in 0..WORKSPACES {
        let name = format!("ws-{w:03}");
        templates.push(json!({"metadata": {"name": name}, "spec": {"template": {"spec": {"manager": "admin"}}, "placement": {"clusters": [{"name": "host"}]}}}));
        workspaces.push(json!({"metadata": {"name": name}, "spec": {"manager": "admin"}}));
    }
    create_all(client, Kind::WorkspaceTemplate, templates).await?;
    create_all(client, Kind::Workspace, workspaces).await?;
    let namespaces: Vec<Value> = (0..WORKSPACES * PROJECTS_PER_WS)
        .map(|i| json!({"metadata": {"name": format!("proj-{i:04}"), "labels": {"kubesphere.io/workspace": format!("ws-{:03}", i / PROJECTS_PER_WS)}}}))
        .collect();
    create_all(client, Kind::Namespace, namespaces).await?;
    // 10,000 bindings: per user 1 global, 2 workspace and 7 project bindings.
    let (mut global, mut ws_bindings, mut ns_bindings) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..USERS {
        let user = format!("user-{i:04}");
        global.push(platform::objects::global_role_binding(
            &user,
            "platform-regular",
        ));
        for k in 0..2 {
            let ws = format!("ws-{:03}", (i + k * 97) % WORKSPACES);
            ws_bindings.push(platform::objects::workspace_role_binding(
                &ws,
                &user,
                &format!("{ws}-viewer"),
            ));
        }
        for k in 0..7 {
            let ns = format!(
                "proj-{:04}",
                (i * 7 + k * 131) % (WORKSPACES * PROJECTS_PER_WS)
            );
            ns_bindings.push(platform::objects::role_binding(&ns, &user, "operator"));
        }
    }
    let bindings = global.len() + ws_bindings.len() + ns_bindings.len();
    create_all(client, Kind::GlobalRoleBinding, global).await?;
    create_all(client, Kind::WorkspaceRoleBinding, ws_bindings).await?;
    create_all(client, Kind::RoleBinding, ns_bindings).await?;
    let caches = p.state.caches.clone();
    let synced = caches
        .role_bindings
        .wait_for(Duration::from_secs(120), |c| c.len() >= USERS * 7)
        .await;
    if !synced
        || caches.users.len() < USERS
        || caches.namespaces.len() < WORKSPACES * PROJECTS_PER_WS
    {
        return Err("caches did not fill".into());
    }
    println!(
        "loaded {USERS} users, {WORKSPACES} workspaces, {} projects, {bindings} bindings in {:?}",
        WORKSPACES * PROJECTS_PER_WS,
        t.elapsed()
    );
    Ok(())
}

/// Authorized, paginated lists served from the caches, as the admin and as a regular user.
async fn lists(http: &reqwest::Client, base: &str) -> Result<(), BoxError> {
    let admin = login(http, base, "admin").await?;
    let user = login(http, base, "user-0000").await?;
    let n = 1000;
    for (who, token, path) in [
        (
            "admin",
            &admin,
            "/kapis/iam.kubesphere.io/v1beta1/users?page=5&limit=10&sortBy=name&ascending=true",
        ),
        (
            "admin",
            &admin,
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces?page=3&limit=10",
        ),
        (
            "user-0000 (filtered)",
            &user,
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces?page=1&limit=10",
        ),
        (
            "admin",
            &admin,
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces/ws-000/namespaces?limit=10",
        ),
        (
            "admin",
            &admin,
            "/kapis/iam.kubesphere.io/v1beta1/workspaces/ws-000/workspacemembers?limit=10",
        ),
    ] {
        let (p50, p99, total) = measure(http, &format!("{base}{path}"), token, n).await?;
        println!("GET {path} as {who}: p50 {p50:?} p99 {p99:?} (totalItems {total}, {n} requests)");
    }
    Ok(())
}

/// The authorizer's cost per decision with 10,000 bindings cached.
fn authorizer(p: &platform::RunningPlatform) {
    let authz = &p.state.authz;
    let u0 = UserInfo {
        name: "user-0000".into(),
        groups: vec!["system:authenticated".into()],
    };
    let requests = [
        RequestInfo::parse("GET", "/api/v1/namespaces/proj-0000/pods", ""),
        RequestInfo::parse("GET", "/api/v1/namespaces/proj-1999/configmaps", ""),
        RequestInfo::parse(
            "GET",
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces/ws-000",
            "",
        ),
        RequestInfo::parse("DELETE", "/kapis/iam.kubesphere.io/v1beta1/users/admin", ""),
        RequestInfo::parse("GET", "/api/v1/nodes", ""),
    ];
    let iterations = 200_000;
    let t = Instant::now();
    let mut allowed = 0;
    for i in 0..iterations {
        if authz
            .authorize(&u0, &requests[i % requests.len()])
            .allowed()
        {
            allowed += 1;
        }
    }
    let per = t.elapsed() / iterations as u32;
    println!(
        "authorizer: {per:?} per decision ({allowed} of {iterations} allowed, 10,000 bindings cached)"
    );
}

/// Password verification cost, and logins per second over HTTP.
async fn logins(http: &reqwest::Client, base: &str, hash: &str) -> Result<(), BoxError> {
    let stored = hash.to_string();
    let t = Instant::now();
    let verifies = 20;
    for _ in 0..verifies {
        if !platform::password::verify(PASSWORD, &stored) {
            return Err("verify failed".into());
        }
    }
    let verify = t.elapsed() / verifies;
    let t = Instant::now();
    let logins = 40;
    let results: Vec<_> = futures::stream::iter((0..logins).map(|i| {
        let (http, base) = (http.clone(), base.to_string());
        async move { login(&http, &base, &format!("user-{:04}", i + 1)).await }
    }))
    .buffer_unordered(4)
    .collect()
    .await;
    for r in results {
        r?;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "logins: {:.1}/s over HTTP with 4 concurrent clients (argon2id m=19 MiB t=2 p=1; one verify {verify:?})",
        f64::from(logins) / secs
    );
    Ok(())
}
