//! The embedded Kubernetes-compatible API server: Kubernetes REST over the revisioned store.
//!
//! Start with [`start`], which opens the store in a data dir, creates the PKI and kubeconfig,
//! binds the HTTPS listener and runs the built-in controllers. Requests flow
//! `server` → `handler` (authentication, routing) → `list`/`watch`/`write`/`delete` → `store`.

mod controllers;
mod security;
mod serving;
mod verbs;

pub mod cluster;
pub mod dataplane;
pub mod kinds;
pub mod object;
pub mod registry;
pub mod telemetry;

pub use security::{auth, encryption, pki};
pub use serving::{discovery, request};

use controllers::{allocate, crd, gc, namespaces};
use security::{authz, escalation, rbac, tokens};
use serving::{body, handler, response, server, table};
use verbs::{
    delete, list, managed, metrics, patching, pod_logs, quota, reviews, subresources, versions,
    watch, webhooks, write,
};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use cluster::{Cluster, ClusterConfig};
pub use dataplane::{ContainerStats, DataPlane, LogRequest, NodeUsage, PodStats};
use tokio_util::sync::CancellationToken;

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data dir could not be prepared.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// Key material could not be created or loaded.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// TLS could not be configured.
    #[error(transparent)]
    Tls(#[from] server::TlsError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// A running embedded cluster.
pub struct RunningCluster {
    /// Shared state.
    pub cluster: Arc<Cluster>,
    /// The admin kubeconfig written in the data dir.
    pub kubeconfig_path: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningCluster {
    /// The `https://` URL of the API.
    pub fn url(&self) -> String {
        self.cluster.url()
    }

    /// Stops serving and closes the store.
    pub async fn shutdown(self) {
        self.cluster.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        self.cluster.store.close();
    }
}

/// Serves one request in process exactly as the HTTPS listener does (panic safety net
/// included), for fuzzing and benchmarks; `peer` is the TLS client certificate's identity.
pub async fn serve_one(
    cluster: Arc<Cluster>,
    peer: auth::PeerCert,
    req: http::Request<axum::body::Body>,
) -> http::Response<axum::body::Body> {
    server::handle_guarded(cluster, peer, req).await
}

/// Stores every value again whose stored form the encryption configuration would not write
/// now (plaintext Secrets, or ones under a key that is no longer the first), before serving.
async fn rewrite_encrypted(
    store: &Arc<store::Store>,
    progress: Option<cluster::Progress>,
) -> Result<(), StartError> {
    let s = store.clone();
    let reporter = progress.clone();
    let rewritten = tokio::task::spawn_blocking(move || {
        let mut logged = std::time::Instant::now();
        s.rewrite_stale_values(|at, latest| {
            if let Some(p) = &reporter {
                p.report(at.max(0) as u64, latest.max(0) as u64);
            }
            if logged.elapsed() >= std::time::Duration::from_secs(2) {
                tracing::info!(revision = at, of = latest, "rewriting stored values");
                logged = std::time::Instant::now();
            }
        })
    })
    .await
    .map_err(|e| store::StoreError::Backend(format!("the rewrite stopped: {e}")))??;
    if let Some(p) = &progress {
        let latest = store.revision().max(0) as u64;
        p.report(latest, latest);
    }
    tracing::info!(
        rewritten,
        "stored values rewritten with the encryption configuration's first keys"
    );
    println!("rewrote {rewritten} stored values with the encryption configuration's first keys");
    Ok(())
}

/// Starts an embedded cluster.
pub async fn start(config: ClusterConfig) -> Result<RunningCluster, StartError> {
    let dir = config.data_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|source| StartError::DataDir {
        path: dir.clone(),
        source,
    })?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let mut ips = vec![bound.ip()];
    if bound.ip().is_unspecified() {
        ips = vec!["127.0.0.1".parse().unwrap_or(bound.ip())];
    }
    let credentials = pki::ClusterCredentials::load_or_create(&dir, &ips)?;
    let tls = server::tls_config(
        &credentials.serving_cert_pem,
        &credentials.serving_key_pem,
        &credentials.ca.cert_pem,
    )?;
    let store = store::Store::open_with(
        store::StoreOptions {
            path: dir.join("state.db"),
            compaction_interval: config.compaction_interval,
            retain_revisions: config.retain_revisions,
            durable: config.durable,
        },
        store::StoreTuning::default(),
        config.encryption.clone(),
    )?;
    if config.rewrite_encrypted {
        rewrite_encrypted(&store, config.rewrite_progress.clone()).await?;
    }
    let url_host = if bound.ip().is_unspecified() {
        SocketAddr::new(ips[0], bound.port())
    } else {
        bound
    };
    let cluster = Arc::new(Cluster {
        store,
        registry: registry::Registry::builtin(),
        openapi: openapi::OpenApi::builtin(),
        config,
        credentials,
        shutdown: CancellationToken::new(),
        bound: url_host,
        allocator: allocate::Allocator::default(),
        namespace_kick: tokio::sync::Notify::new(),
        crd_schema_cache: Default::default(),
        openapi_v2_proto: Default::default(),
        rbac: Default::default(),
        webhooks: Default::default(),
        compiled_crds: Default::default(),
        generated_names: Default::default(),
        telemetry: Default::default(),
    });
    rbac::bootstrap(&cluster).await?;
    rbac::prime(&cluster);
    webhooks::prime(&cluster);
    crd::sync_registry(&cluster);
    namespaces::bootstrap(&cluster).await?;
    let kubeconfig_path = dir.join("kubeconfig.yaml");
    let kubeconfig = pki::kubeconfig_yaml(
        "orrery",
        &cluster.url(),
        &cluster.credentials.ca.cert_pem,
        "admin",
        pki::KubeconfigAuth::Token(&cluster.credentials.admin_token),
    );
    pki::write_private(&kubeconfig_path, kubeconfig.as_bytes())?;
    let tasks = vec![
        tokio::spawn(server::serve(cluster.clone(), listener, Arc::new(tls))),
        tokio::spawn(namespaces::run(cluster.clone())),
        tokio::spawn(crd::run(cluster.clone())),
        tokio::spawn(gc::run(cluster.clone())),
        tokio::spawn(rbac::run(cluster.clone())),
        tokio::spawn(webhooks::run(cluster.clone())),
        tokio::spawn(quota::run(cluster.clone())),
    ];
    Ok(RunningCluster {
        cluster,
        kubeconfig_path,
        tasks,
    })
}
