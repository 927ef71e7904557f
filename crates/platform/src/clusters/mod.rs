//! Many clusters: the registry of connected clusters (host included), each with its client,
//! its own watch-fed caches, an authorizer over them and a health loop.
//!
//! Every replica keeps its own registry from the Cluster objects and their kubeconfig
//! Secrets ([`supervise`]), so any replica can proxy to any cluster; only the leader writes
//! Cluster status and runs the reconcilers of [`controller`].

pub mod breaker;
pub mod connect;
pub mod controller;
pub mod placement;
pub mod tunnel;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kube::Client;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::authz::Authorizer;
use crate::cache::Caches;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::search::index::SEARCH_KINDS;
use connect::{ConnectError, Probe};

/// The label that marks the host cluster.
pub const HOST_LABEL: &str = "cluster-role.kubesphere.io/host";
/// The label of the Secrets that hold member credentials: kubeconfigs and agent join tokens
/// (value: the cluster's name).
pub const KUBECONFIG_LABEL: &str = "cluster.orrery.io/kubeconfig";
/// The finalizer that lets the platform clean up after a deleted Cluster.
pub const FINALIZER: &str = "finalizers.cluster.orrery.io";
/// The path alias of the host cluster.
pub const HOST_ALIAS: &str = "host";
/// The exec plugin commands allowed by default (the usual cloud ones).
pub const DEFAULT_EXEC_ALLOW: [&str; 5] = [
    "aws",
    "aws-iam-authenticator",
    "kubelogin",
    "gke-gcloud-auth-plugin",
    "doctl",
];

/// How often installing the CRDs in a member that refused them is tried again.
const CRD_RETRY: Duration = Duration::from_secs(60);

/// The name of the Secret holding cluster `name`'s kubeconfig (in `kubesphere-system`).
pub fn secret_name(name: &str) -> String {
    format!("orrery-cluster-{name}-kubeconfig")
}

/// How clusters are reached and checked.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The host cluster's name (`host` also names it in paths).
    pub host_name: String,
    /// Exec plugin commands that may run (bare names or exact paths).
    pub exec_allow: Vec<String>,
    /// Time between health checks of a Ready cluster.
    pub health_period: Duration,
    /// Bound on each call of a health check (and on connecting).
    pub health_timeout: Duration,
    /// Longest wait between checks of a failing cluster (the wait doubles up to it).
    pub backoff_max: Duration,
    /// How long a member may take to start answering a proxied request.
    pub proxy_timeout: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            host_name: HOST_ALIAS.into(),
            exec_allow: DEFAULT_EXEC_ALLOW.iter().map(|s| s.to_string()).collect(),
            health_period: Duration::from_secs(10),
            health_timeout: Duration::from_secs(5),
            backoff_max: Duration::from_secs(30),
            proxy_timeout: Duration::from_secs(30),
        }
    }
}

/// The last health check's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Whether the cluster answered.
    pub ready: bool,
    /// A CamelCase reason.
    pub reason: String,
    /// For people.
    pub message: String,
    /// What the last successful check read.
    pub probe: Option<Probe>,
}

impl Health {
    fn failed(e: &ConnectError) -> Health {
        let reason = match e {
            ConnectError::Credentials(_) => "Unauthorized",
            ConnectError::Timeout(_) => "Timeout",
            _ => "Unreachable",
        };
        Health {
            ready: false,
            reason: reason.into(),
            message: e.to_string(),
            probe: None,
        }
    }
}

/// One connected cluster.
pub struct Member {
    /// The Cluster's name.
    pub name: String,
    /// A client with the platform's credentials for it.
    pub client: Client,
    /// Its caches (the host's own for the host).
    pub caches: Arc<Caches>,
    /// The authorizer for requests about it.
    pub authz: Authorizer,
    /// Its search index.
    pub index: Arc<crate::search::index::ClusterIndex>,
    /// Its discovery (request resolution).
    pub discovery: Arc<crate::discovery::ClusterDiscovery>,
    /// When its kubeconfig's client certificate expires.
    pub cert_expiry: Option<chrono::DateTime<chrono::Utc>>,
    health: watch::Sender<Health>,
    /// Opened by failing requests, so that later ones are refused at once (see [`breaker`]).
    pub breaker: Arc<breaker::Breaker>,
    stop: CancellationToken,
    source: String,
    crds_installed: AtomicBool,
    /// Changes when its agent connects or disconnects (proxy clusters only).
    tunnel: Option<watch::Receiver<u64>>,
}

impl Member {
    /// The last health check.
    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    /// Asks for quick probes of the cluster, because a request to it failed or is slow to be
    /// answered: the breaker opens if the probes fail and closes when one passes.
    pub fn suspect(&self) {
        let client = self.client.clone();
        self.breaker.suspect(move || {
            let client = client.clone();
            async move {
                client
                    .apiserver_version()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        });
    }

    /// Whether the last health check passed.
    pub fn is_ready(&self) -> bool {
        self.health.borrow().ready
    }

    /// Whether its caches have had their first full list.
    pub fn caches_synced(&self) -> bool {
        self.caches.member_set().iter().all(|c| c.is_synced())
    }
}

/// The registry of connected clusters.
pub struct Members {
    /// Settings.
    pub settings: ClusterSettings,
    map: RwLock<HashMap<String, Arc<Member>>>,
    /// The agents of proxy clusters connected to this replica.
    pub tunnels: Arc<tunnel::Tunnels>,
}

impl Members {
    /// An empty registry.
    pub fn new(settings: ClusterSettings) -> Members {
        Members {
            settings,
            map: RwLock::new(HashMap::new()),
            tunnels: Arc::default(),
        }
    }

    /// A cluster by name (`host` names the host cluster).
    pub fn get(&self, name: &str) -> Option<Arc<Member>> {
        let name = if name == HOST_ALIAS {
            self.settings.host_name.as_str()
        } else {
            name
        };
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Names of the connected clusters.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Every connected cluster.
    pub fn all(&self) -> Vec<Arc<Member>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn insert(&self, m: Arc<Member>) -> Option<Arc<Member>> {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(m.name.clone(), m)
    }

    fn remove(&self, name: &str) -> Option<Arc<Member>> {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
    }

    fn source_of(&self, name: &str) -> Option<String> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(|m| m.source.clone())
    }

    /// Whether `name` is the host cluster (or its alias).
    pub fn is_host(&self, name: &str) -> bool {
        name == HOST_ALIAS || name == self.settings.host_name
    }
}

/// Keeps the registry in line with the Cluster objects until `shutdown` (every replica).
pub async fn supervise(
    state: Arc<AppState>,
    leader: watch::Receiver<bool>,
    period: Duration,
    shutdown: CancellationToken,
) {
    loop {
        sync_members(&state, &leader, &shutdown).await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(period) => {}
        }
    }
    for name in state.clusters.names() {
        if let Some(m) = state.clusters.remove(&name) {
            m.stop.cancel();
        }
    }
}

async fn sync_members(
    state: &Arc<AppState>,
    leader: &watch::Receiver<bool>,
    shutdown: &CancellationToken,
) {
    let members = &state.clusters;
    if !state.caches.clusters.is_synced() || !state.caches.kubeconfigs.is_synced() {
        return;
    }
    let mut wanted = Vec::new();
    for c in state.caches.clusters.list() {
        let name = c.name().to_string();
        if !c.obj["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        if members.is_host(&name) || c.label(HOST_LABEL).is_some() {
            wanted.push(name.clone());
            if members.source_of(&name).is_none() {
                let m = host_member(state, &name, shutdown);
                start_member(state, m, leader);
            }
            continue;
        }
        if tunnel::is_proxy(&c.obj) {
            wanted.push(name.clone());
            if members.source_of(&name).as_deref() != Some(tunnel::SOURCE) {
                let m = proxy_member(state, &name, shutdown);
                start_member(state, m, leader);
            }
            continue;
        }
        let key = format!("{}/{}", crate::tokens::SYSTEM_NAMESPACE, secret_name(&name));
        let Some(secret) = state.caches.kubeconfigs.get(&key) else {
            continue;
        };
        wanted.push(name.clone());
        let source = secret.obj["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if members.source_of(&name).as_deref() == Some(source.as_str()) {
            continue;
        }
        let raw = secret.obj["data"]["config"].as_str().unwrap_or_default();
        match remote_member(state, &name, raw, source.clone(), shutdown).await {
            Ok(m) => start_member(state, m, leader),
            Err(e) => {
                tracing::warn!(cluster = %name, error = %e.public_message(), "cannot connect to member cluster");
                // An older connection (previous kubeconfig) must not keep serving.
                if let Some(old) = members.remove(&name) {
                    old.stop.cancel();
                }
                if *leader.borrow() {
                    let health = Health {
                        ready: false,
                        reason: "InvalidKubeconfig".into(),
                        message: e.public_message(),
                        probe: None,
                    };
                    let old = &c.obj["status"];
                    let mut status = old.clone();
                    if !status.is_object() {
                        status = json!({});
                    }
                    status["conditions"] = json!([condition(
                        old,
                        "Ready",
                        false,
                        &health.reason,
                        &health.message
                    )]);
                    if &status != old
                        && let Err(e) = kubeapi::merge_patch_status(
                            &state.client,
                            Kind::Cluster,
                            None,
                            &name,
                            json!({"status": status}),
                        )
                        .await
                    {
                        tracing::warn!(cluster = %name, error = %e, "writing cluster status");
                    }
                }
            }
        }
    }
    for name in members.names() {
        if !wanted.contains(&name)
            && let Some(m) = members.remove(&name)
        {
            m.stop.cancel();
        }
    }
}

fn host_member(state: &AppState, name: &str, shutdown: &CancellationToken) -> Member {
    Member {
        name: name.to_string(),
        client: state.client.clone(),
        caches: state.caches.clone(),
        authz: state.authz.for_cluster(state.caches.clone()),
        index: Arc::default(),
        discovery: state.discovery.clone(),
        cert_expiry: None,
        health: watch::channel(Health::default()).0,
        breaker: Default::default(),
        stop: shutdown.child_token(),
        source: "host".into(),
        crds_installed: AtomicBool::new(true),
        tunnel: None,
    }
}

/// A member reached through its agent: the client sends each request over the tunnel.
fn proxy_member(state: &AppState, name: &str, shutdown: &CancellationToken) -> Member {
    let tunnels = &state.clusters.tunnels;
    let client = tunnels.client(name);
    let caches = Arc::new(Caches::new());
    Member {
        name: name.to_string(),
        discovery: Arc::new(crate::discovery::ClusterDiscovery::new(client.clone())),
        client,
        authz: state.authz.for_cluster(caches.clone()),
        caches,
        index: Arc::default(),
        cert_expiry: None,
        health: watch::channel(Health::default()).0,
        breaker: Default::default(),
        stop: shutdown.child_token(),
        source: tunnel::SOURCE.into(),
        crds_installed: AtomicBool::new(false),
        tunnel: Some(tunnels.changes(name)),
    }
}

async fn remote_member(
    state: &AppState,
    name: &str,
    raw: &str,
    source: String,
    shutdown: &CancellationToken,
) -> Result<Member, ConnectError> {
    let kc = connect::parse(raw)?;
    let cert_expiry = connect::cert_expiry(&kc);
    let settings = &state.clusters.settings;
    let client = connect::client(kc, &settings.exec_allow, settings.health_timeout).await?;
    let caches = Arc::new(Caches::new());
    Ok(Member {
        name: name.to_string(),
        discovery: Arc::new(crate::discovery::ClusterDiscovery::new(client.clone())),
        client,
        authz: state.authz.for_cluster(caches.clone()),
        caches,
        index: Arc::default(),
        cert_expiry,
        health: watch::channel(Health::default()).0,
        breaker: Default::default(),
        stop: shutdown.child_token(),
        source,
        crds_installed: AtomicBool::new(false),
        tunnel: None,
    })
}

fn start_member(state: &Arc<AppState>, m: Member, leader: &watch::Receiver<bool>) {
    let m = Arc::new(m);
    if !Arc::ptr_eq(&m.caches, &state.caches) {
        for c in m.caches.member_set() {
            tokio::spawn(c.run(m.client.clone(), m.stop.clone()));
        }
    }
    tokio::spawn(m.index.clone().run(m.client.clone(), m.stop.clone()));
    tokio::spawn(health_loop(state.clone(), m.clone(), leader.clone()));
    if let Some(old) = state.clusters.insert(m) {
        old.stop.cancel();
    }
}

async fn health_loop(state: Arc<AppState>, m: Arc<Member>, leader: watch::Receiver<bool>) {
    let settings = state.clusters.settings.clone();
    let mut failures: u32 = 0;
    let mut last_install: Option<tokio::time::Instant> = None;
    let mut tunnel = m.tunnel.clone();
    loop {
        let nodes = SEARCH_KINDS.iter().position(|k| k.plural == "nodes");
        let known = nodes.filter(|&n| m.index.kind_synced(n)).map(|n| {
            let mut all = Vec::new();
            m.index.for_each(n, |c| all.push(c.clone()));
            connect::node_facts(
                all.iter()
                    .map(|c| c.labels.iter().map(|(k, v)| (&**k, &**v)).collect()),
            )
        });
        let health = match connect::probe(&m.client, settings.health_timeout, known).await {
            Ok(p) => {
                failures = 0;
                m.breaker.close();
                Health {
                    ready: true,
                    reason: "Ready".into(),
                    message: "the cluster answers".into(),
                    probe: Some(p),
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                Health::failed(&e)
            }
        };
        let install_due = last_install.is_none_or(|t| t.elapsed() >= CRD_RETRY);
        if health.ready && !m.crds_installed.load(Ordering::Acquire) && install_due {
            last_install = Some(tokio::time::Instant::now());
            match controller::install_crds(&m.client).await {
                Ok(()) => m.crds_installed.store(true, Ordering::Release),
                Err(e) => tracing::warn!(cluster = %m.name, error = %e, "installing CRDs"),
            }
        }
        m.health.send_replace(health.clone());
        if *leader.borrow()
            && let Err(e) = write_status(&state, &m, &health).await
        {
            tracing::warn!(cluster = %m.name, error = %e, "writing cluster status");
        }
        let wait = if failures == 0 {
            settings.health_period
        } else {
            let factor = 2u32.saturating_pow(failures - 1);
            settings
                .health_period
                .saturating_mul(factor)
                .min(settings.backoff_max)
        };
        tokio::select! {
            _ = m.stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            // An agent that connects or goes is checked at once.
            _ = tunnel_changed(&mut tunnel) => failures = 0,
        }
    }
}

async fn tunnel_changed(rx: &mut Option<watch::Receiver<u64>>) {
    let changed = match rx {
        Some(r) => r.changed().await.is_ok(),
        None => false,
    };
    if !changed {
        std::future::pending::<()>().await;
    }
}

fn condition(old: &Value, kind: &str, status: bool, reason: &str, message: &str) -> Value {
    let status = if status { "True" } else { "False" };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let prior = old["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind);
    let same = prior.is_some_and(|p| p["status"] == status);
    let transition = match prior {
        Some(p) if same => p["lastTransitionTime"].clone(),
        _ => now.clone().into(),
    };
    json!({"type": kind, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": transition,
        "lastUpdateTime": if same && prior.is_some_and(|p| p["reason"] == reason && p["message"] == message) {
            prior.map(|p| p["lastUpdateTime"].clone()).unwrap_or(now.clone().into())
        } else { now.into() }})
}

/// The status a health check yields, keeping transition times of unchanged conditions.
pub fn desired_status(old: &Value, m: &Member, h: &Health) -> Value {
    let mut status = old.clone();
    if !status.is_object() {
        status = json!({});
    }
    let mut conditions = vec![condition(old, "Ready", h.ready, &h.reason, &h.message)];
    if let Some(exp) = m.cert_expiry {
        let soon = exp - chrono::Utc::now() < chrono::Duration::days(7);
        let msg = format!(
            "the kubeconfig's client certificate expires at {}",
            exp.to_rfc3339()
        );
        let reason = if soon {
            "CertificateExpiresSoon"
        } else {
            "CertificateValid"
        };
        conditions.push(condition(
            old,
            "KubeConfigCertExpiresInSevenDays",
            soon,
            reason,
            &msg,
        ));
    }
    status["conditions"] = Value::Array(conditions);
    if let Some(p) = &h.probe {
        status["kubernetesVersion"] = p.kubernetes_version.clone().into();
        status["nodeCount"] = p.node_count.into();
        status["zones"] = json!(p.zones);
        status["region"] = p.region.clone().into();
        if !p.uid.is_empty() {
            status["uid"] = p.uid.clone().into();
        }
    }
    status
}

async fn write_status(
    state: &AppState,
    m: &Member,
    h: &Health,
) -> Result<(), crate::error::PlatformError> {
    let Some(current) = state.caches.clusters.get(&m.name) else {
        return Ok(());
    };
    let old = &current.obj["status"];
    let new = desired_status(old, m, h);
    if &new == old {
        return Ok(());
    }
    kubeapi::merge_patch_status(
        &state.client,
        Kind::Cluster,
        None,
        &m.name,
        json!({"status": new}),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(expiry: Option<chrono::DateTime<chrono::Utc>>) -> Member {
        let client = Client::try_from(kube::Config::new(
            "http://127.0.0.1:1".parse().unwrap_or_default(),
        ));
        let caches = Arc::new(Caches::new());
        let client = client.unwrap_or_else(|e| panic!("client: {e}"));
        Member {
            name: "m".into(),
            discovery: Arc::new(crate::discovery::ClusterDiscovery::new(client.clone())),
            client,
            authz: Authorizer::new(caches.clone()),
            caches,
            index: Arc::default(),
            cert_expiry: expiry,
            health: watch::channel(Health::default()).0,
            breaker: Default::default(),
            stop: CancellationToken::new(),
            source: String::new(),
            crds_installed: AtomicBool::new(false),
            tunnel: None,
        }
    }

    fn cond<'a>(status: &'a Value, kind: &str) -> &'a Value {
        status["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .unwrap_or(&Value::Null)
    }

    #[tokio::test]
    async fn status_conditions_keep_transition_times_and_flag_expiring_certificates() {
        let soon = chrono::Utc::now() + chrono::Duration::days(3);
        let m = member(Some(soon));
        let ok = Health {
            ready: true,
            reason: "Ready".into(),
            message: "up".into(),
            probe: Some(Probe {
                uid: "u1".into(),
                kubernetes_version: "v1.33.0".into(),
                node_count: 3,
                zones: vec!["a".into(), "b".into()],
                region: "r".into(),
            }),
        };
        let first = desired_status(&Value::Null, &m, &ok);
        assert_eq!(cond(&first, "Ready")["status"], "True");
        assert_eq!(
            cond(&first, "KubeConfigCertExpiresInSevenDays")["status"],
            "True"
        );
        assert_eq!(first["nodeCount"], 3);
        assert_eq!(first["uid"], "u1");
        assert_eq!(first["region"], "r");
        // Unchanged health gives an identical status (no write).
        assert_eq!(desired_status(&first, &m, &ok), first);
        let down = Health::failed(&ConnectError::Unreachable("refused".into()));
        let second = desired_status(&first, &m, &down);
        assert_eq!(cond(&second, "Ready")["status"], "False");
        assert_eq!(cond(&second, "Ready")["reason"], "Unreachable");
        // Facts of the last good check stay.
        assert_eq!(second["uid"], "u1");
        let later = member(Some(chrono::Utc::now() + chrono::Duration::days(90)));
        let fine = desired_status(&Value::Null, &later, &ok);
        assert_eq!(
            cond(&fine, "KubeConfigCertExpiresInSevenDays")["status"],
            "False"
        );
        assert!(
            cond(
                &desired_status(&Value::Null, &member(None), &ok),
                "KubeConfigCertExpiresInSevenDays"
            )
            .is_null()
        );
    }
}
