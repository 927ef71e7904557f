//! Orrery's platform: identity, OAuth tokens, four-level access control, workspaces and projects,
//! served over HTTP in front of a host Kubernetes cluster (KubeSphere-compatible API).
//!
//! Start with [`start`]. It installs the CRDs and defaults in the host cluster, fills the
//! watch-fed caches ([`cache`]), starts the leader-elected [`controllers`] and serves the
//! [`http`] router: authentication → request scope ([`authz::scope`]) → authorization
//! ([`authz`]) → handler or proxy. The platform talks to the host only through the Kubernetes
//! API and keeps no state of its own, so several replicas can serve one host cluster.

pub mod alerting;
pub mod appstore;
pub mod audit;
pub mod authz;
pub mod bootstrap;
pub mod builtin;
pub mod cache;
pub mod clusters;
pub mod controllers;
pub mod crds;
pub mod discovery;
pub mod error;
pub mod export;
pub mod extensions;
pub mod http;
pub mod identity;
pub mod kinds;
pub mod kubeapi;
pub mod listing;
pub mod metrics;
pub mod monitoring;
pub mod objects;
pub mod openid;
pub mod password;
pub mod quotas;
pub mod search;
pub mod serve;
pub mod tokens;
pub mod version;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::PlatformError;
use tokio_util::sync::CancellationToken;

/// How to run the platform. Every timing tests depend on is here.
#[derive(Clone)]
pub struct PlatformConfig {
    /// Where the HTTP API listens (port 0 picks one).
    pub listen: SocketAddr,
    /// The host cluster.
    pub kube: kube::Config,
    /// The admin's initial password (generated when `None`).
    pub admin_password: Option<String>,
    /// Where a generated admin password is saved (`admin-password`, mode 0600).
    pub data_dir: PathBuf,
    /// The URL clients reach the platform at (kubeconfig downloads); defaults to
    /// `http://<bound address>`.
    pub public_url: Option<String>,
    /// Window over which failed logins count.
    pub lockout_window: Duration,
    /// Failed logins within the window that lock the user.
    pub lockout_threshold: usize,
    /// How long a lock lasts.
    pub lockout_duration: Duration,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_token_ttl: Duration,
    /// Kubeconfig token lifetime.
    pub kubeconfig_token_ttl: Duration,
    /// How long login records are kept.
    pub login_record_ttl: Duration,
    /// Whether a user may be logged in several times (false: a login revokes older sessions).
    pub multiple_login: bool,
    /// OAuth clients as (id, secret).
    pub oauth_clients: Vec<(String, String)>,
    /// argon2id cost.
    pub hash_cost: password::HashCost,
    /// Lease validity for leader election.
    pub lease_duration: Duration,
    /// Lease renew / retry period.
    pub lease_retry: Duration,
    /// Time between controller passes.
    pub resync_period: Duration,
    /// Time between prunes of login records and expired tokens.
    pub prune_period: Duration,
    /// This replica's identity in leader election (random when `None`).
    pub identity: Option<String>,
    /// The registry extensions pull their images from (their `global.imageRegistry`).
    pub image_registry: Option<String>,
    /// The version this replica reports and installs as (this build's; tests of upgrades
    /// set another).
    pub version: String,
    /// The URL the other replicas reach this one at, to forward requests for agents
    /// connected here (`https://10.1.2.3:30880`); by default the bound address when it is a
    /// specific one, else none (agents connected here then serve this replica only).
    pub advertise_url: Option<String>,
    /// HTTPS on the same port as HTTP (self-signed by default; kubectl needs it for tokens).
    pub tls: serve::TlsSource,
    /// Clusters: the host's name, the exec plugin allow-list, health-check and proxy timings.
    pub clusters: clusters::ClusterSettings,
    /// How long a client may take to send request headers (and an idle connection is kept).
    pub request_header_timeout: Duration,
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For` header names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Login attempts (`/oauth/token`, console login) one address may make at once ...
    pub login_burst: u32,
    /// ... and per second after that.
    pub login_rate: f64,
    /// Per-user concurrency limits (fairness between users).
    pub fairness: http::fairness::FairnessSettings,
    /// Monitoring: the in-process store's sampling and the query bounds.
    pub monitoring: monitoring::MonitoringSettings,
    /// Alerting: how often rule groups are looked at, notification retries.
    pub alerting: alerting::AlertingSettings,
    /// API auditing: levels, the log file, the webhook.
    pub audit: audit::AuditSettings,
}

impl PlatformConfig {
    /// The defaults of SPEC §3 for a host cluster and data dir.
    pub fn new(kube: kube::Config, data_dir: impl Into<PathBuf>) -> PlatformConfig {
        PlatformConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 30880)),
            kube,
            admin_password: None,
            data_dir: data_dir.into(),
            public_url: None,
            lockout_window: Duration::from_secs(600),
            lockout_threshold: 10,
            lockout_duration: Duration::from_secs(600),
            access_token_ttl: Duration::from_secs(2 * 3600),
            refresh_token_ttl: Duration::from_secs(2 * 3600 + 1800),
            kubeconfig_token_ttl: Duration::from_secs(365 * 24 * 3600),
            login_record_ttl: Duration::from_secs(7 * 24 * 3600),
            multiple_login: true,
            oauth_clients: vec![("kubesphere".into(), "kubesphere".into())],
            hash_cost: password::HashCost::default(),
            lease_duration: Duration::from_secs(15),
            lease_retry: Duration::from_secs(2),
            resync_period: Duration::from_secs(2),
            prune_period: Duration::from_secs(600),
            identity: None,
            image_registry: None,
            advertise_url: None,
            version: version::VERSION.to_string(),
            tls: serve::TlsSource::SelfSigned,
            request_header_timeout: Duration::from_secs(32),
            trusted_proxies: Vec::new(),
            login_burst: 20,
            login_rate: 1.0,
            fairness: Default::default(),
            monitoring: Default::default(),
            alerting: Default::default(),
            clusters: clusters::ClusterSettings::default(),
            audit: audit::AuditSettings::default(),
        }
    }
}

/// A running platform.
pub struct RunningPlatform {
    /// The bound address of the HTTP API.
    pub addr: SocketAddr,
    /// The admin's initial password when this start created the admin user (print it once).
    pub initial_admin_password: Option<String>,
    /// Whether this replica currently runs the controllers.
    pub leader: tokio::sync::watch::Receiver<bool>,
    /// Shared state (caches, authorizer), e.g. for benchmarks.
    pub state: Arc<http::AppState>,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningPlatform {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token that stops the platform when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops serving, gives up the lease and waits for the tasks.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Starts the platform: installs CRDs and defaults, syncs the caches, starts leader election,
/// the controllers and the HTTP listener. Prints nothing.
pub async fn start(config: PlatformConfig) -> Result<RunningPlatform, PlatformError> {
    if let Some(pw) = &config.admin_password {
        password::check_policy(pw)
            .map_err(|e| PlatformError::Invalid(format!("the admin password: {e}")))?;
    }
    let mut kube_config = config.kube.clone();
    kube_config.connect_timeout = Some(Duration::from_secs(10));
    let client = kube::Client::try_from(kube_config)?;
    let boot = bootstrap::bootstrap(
        &client,
        config.admin_password.as_deref(),
        &config.data_dir,
        config.hash_cost,
        &config.version,
    )
    .await?;
    clusters::controller::register_host(&client, &config.clusters.host_name).await?;
    let shutdown = CancellationToken::new();
    let caches = Arc::new(cache::Caches::new());
    let mut tasks = sync_caches(&client, &caches, &shutdown).await?;
    let (auditor, audit_tasks) =
        audit::Auditor::start(config.audit.clone(), &config.clusters.host_name, &shutdown)?;
    tasks.extend(audit_tasks);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| PlatformError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| PlatformError::Bind {
            addr: config.listen,
            source,
        })?;
    let (tls, tls_config) = match &config.tls {
        serve::TlsSource::Off => (None, None),
        serve::TlsSource::SelfSigned => {
            let material = serve::self_signed(&client, addr).await?;
            let server_config = serve::server_config(&material)?;
            (Some(material), Some(server_config))
        }
        serve::TlsSource::Pem { cert, key } => {
            let material = serve::TlsMaterial {
                cert_pem: cert.clone(),
                key_pem: key.clone(),
            };
            let server_config = serve::server_config(&material)?;
            (Some(material), Some(server_config))
        }
        serve::TlsSource::Files { cert, key } => {
            let (server_config, material) = serve::files_server_config(cert, key)?;
            (Some(material), Some(server_config))
        }
    };
    let state = app_state(&config, &client, &caches, tls.as_ref(), addr, auditor).await?;
    let identity = config
        .identity
        .clone()
        .unwrap_or_else(|| format!("orrery-platform-{}", uuid::Uuid::new_v4().simple()));
    let peers = clusters::tunnel::peers::Peers::new(
        &state,
        clusters::tunnel::peers::PeerSettings {
            identity: identity.clone(),
            advertise_url: advertise_url(&config, tls.is_some(), addr),
            cert: match (&config.tls, &tls) {
                (serve::TlsSource::Files { cert, .. }, _) => {
                    clusters::tunnel::peers::ServedCert::File(cert.clone())
                }
                (_, Some(m)) => clusters::tunnel::peers::ServedCert::Pem(m.cert_pem.clone()),
                (_, None) => clusters::tunnel::peers::ServedCert::None,
            },
            lease_duration: config.lease_duration,
            renew: config.lease_retry,
        },
    );
    state.clusters.tunnels.set_peers(peers.clone());
    tasks.push(tokio::spawn(clusters::tunnel::peers::run(
        state.clone(),
        peers,
        shutdown.clone(),
    )));
    let leader = spawn_background(&config, identity, &state, &shutdown, &mut tasks);
    tasks.push(tokio::spawn(serve::serve(
        listener,
        http::router(state.clone()),
        tls_config,
        config.request_header_timeout,
        shutdown.clone(),
    )));
    Ok(RunningPlatform {
        addr,
        initial_admin_password: boot.initial_admin_password,
        leader,
        state,
        shutdown,
        tasks,
    })
}

/// Where the other replicas reach this one: the configured URL, else the bound address when
/// it is a specific one (a wildcard address names no reachable host).
fn advertise_url(config: &PlatformConfig, tls: bool, addr: SocketAddr) -> Option<String> {
    if let Some(u) = &config.advertise_url {
        return Some(u.trim_end_matches('/').to_string());
    }
    if addr.ip().is_unspecified() {
        return None;
    }
    let scheme = if tls { "https" } else { "http" };
    Some(format!("{scheme}://{addr}"))
}

/// Starts every cache's watch and waits (30 s at most) until all have their first list.
async fn sync_caches(
    client: &kube::Client,
    caches: &Arc<cache::Caches>,
    shutdown: &CancellationToken,
) -> Result<Vec<tokio::task::JoinHandle<()>>, PlatformError> {
    let mut tasks = Vec::new();
    for c in caches.all() {
        tasks.push(tokio::spawn(c.run(client.clone(), shutdown.clone())));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for c in caches.all() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !c.wait_for(left, cache::Cache::is_synced).await {
            shutdown.cancel();
            return Err(PlatformError::Timeout {
                what: "initial cache sync".into(),
                secs: 30,
            });
        }
    }
    Ok(tasks)
}

/// What every request handler shares: clients, caches, the authorizer, tokens, members and
/// the settings taken from the configuration.
async fn app_state(
    config: &PlatformConfig,
    client: &kube::Client,
    caches: &Arc<cache::Caches>,
    tls: Option<&serve::TlsMaterial>,
    addr: std::net::SocketAddr,
    audit: Arc<audit::Auditor>,
) -> Result<http::Shared, PlatformError> {
    let tokens = tokens::Tokens::new(
        client.clone(),
        caches.clone(),
        tokens::TokenLifetimes {
            access: config.access_token_ttl,
            refresh: config.refresh_token_ttl,
            kubeconfig: config.kubeconfig_token_ttl,
        },
    )
    .await?;
    // Unknown users are verified against this, so that they cost what known ones do.
    let cost = config.hash_cost;
    let dummy_hash = tokio::task::spawn_blocking(move || {
        password::hash(&uuid::Uuid::new_v4().to_string(), cost)
    })
    .await
    .map_err(|e| PlatformError::Invalid(e.to_string()))??;
    Ok(Arc::new(http::AppState {
        client: client.clone(),
        caches: caches.clone(),
        authz: authz::Authorizer::new(caches.clone()),
        tokens,
        clusters: clusters::Members::new(config.clusters.clone()),
        discovery: Arc::new(discovery::ClusterDiscovery::new(client.clone())),
        settings: http::Settings {
            lockout_threshold: config.lockout_threshold,
            lockout_window: config.lockout_window,
            lockout_duration: config.lockout_duration,
            multiple_login: config.multiple_login,
            hash_cost: config.hash_cost,
            clients: config.oauth_clients.clone(),
            public_url: config.public_url.clone().unwrap_or_else(|| {
                let scheme = if tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{addr}")
            }),
            image_registry: config.image_registry.clone().unwrap_or_default(),
            ca_pem: tls.map(|t| t.cert_pem.clone()),
            admission_key: quotas::admission::load_key(client).await?,
            trusted_proxies: config.trusted_proxies.clone(),
            dummy_hash,
            version: config.version.clone(),
        },
        login_limiter: http::login::RateLimiter::new(config.login_burst, config.login_rate),
        openapi: Default::default(),
        openid_keys: openid::SigningKeys::new(),
        fairness: http::fairness::Fairness::new(config.fairness),
        monitoring: Arc::new(monitoring::Monitoring::new(
            client.clone(),
            caches.clone(),
            config.monitoring,
        )),
        audit,
        metrics: Default::default(),
        repo_syncs: Default::default(),
        extensions: Default::default(),
        readiness: Default::default(),
    }))
}

/// Starts the background work: following the signing key, leader election, the controllers
/// (run by the leader) and the member clusters' supervisor. Returns whether this replica leads.
fn spawn_background(
    config: &PlatformConfig,
    identity: String,
    state: &http::Shared,
    shutdown: &CancellationToken,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> tokio::sync::watch::Receiver<bool> {
    tasks.push(tokio::spawn({
        let (state, shutdown) = (state.clone(), shutdown.clone());
        async move { state.tokens.follow_key(shutdown).await }
    }));
    let (leader_tx, leader_rx) = tokio::sync::watch::channel(false);
    tasks.push(tokio::spawn(controllers::leader::run(
        state.client.clone(),
        tokens::SYSTEM_NAMESPACE,
        "orrery-platform-controllers",
        identity,
        config.version.clone(),
        controllers::leader::LeaseTimings {
            duration: config.lease_duration,
            retry: config.lease_retry,
        },
        leader_tx,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(controllers::run(
        state.clone(),
        leader_rx.clone(),
        controllers::ControllerTimings {
            resync: config.resync_period,
            prune: config.prune_period,
            login_record_ttl: config.login_record_ttl,
            lockout_duration: config.lockout_duration,
        },
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn({
        let (mut leading, metrics) = (leader_rx.clone(), state.metrics.clone());
        async move {
            loop {
                metrics.set_leader(*leading.borrow_and_update());
                if leading.changed().await.is_err() {
                    return;
                }
            }
        }
    }));
    tasks.push(tokio::spawn(controllers::storage::run(
        state.client.clone(),
        leader_rx.clone(),
        config.prune_period,
        config.resync_period,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(controllers::run_appstore(
        state.clone(),
        leader_rx.clone(),
        config.resync_period,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(extensions::repository::run(
        state.clone(),
        leader_rx.clone(),
        config.resync_period,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(alerting::evaluate::run(
        state.clone(),
        state.monitoring.clone(),
        leader_rx.clone(),
        config.alerting,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(extensions::install::run(
        state.clone(),
        leader_rx.clone(),
        config.resync_period,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(clusters::supervise(
        state.clone(),
        leader_rx.clone(),
        config.resync_period,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(monitoring::sampler::run(
        state.clone(),
        leader_rx.clone(),
        shutdown.clone(),
    )));
    leader_rx
}
