//! Clusters behind NAT (`spec.connection.type: proxy`): an agent in the member dials out to
//! the platform and keeps one multiplexed connection (yamux over an HTTP/1.1 upgrade), and the
//! platform sends that cluster's requests, watches and upgrades through it as streams.
//!
//! - [`protocol`]: the handshake, heartbeats and backoff (pure).
//! - [`mux`]: one yamux connection driven by a task (both ends).
//! - [`server`]: the platform's endpoint: authenticates the join token, keeps the session,
//!   disconnects it when the token is revoked or heartbeats stop.
//! - [`agent`]: `orrery agent`'s loop: dial, heartbeat, reconnect, serve each stream by
//!   forwarding it to the member's API server with the agent's own credentials.
//!
//! Join tokens live in a Secret per proxy Cluster in the host (`kubesphere-system`,
//! [`token_secret_name`]), issued by the leader's cluster reconciler. Deleting the Secret
//! revokes the token (the agent is disconnected at once and refused after); the reconciler
//! then issues a new one.

pub mod agent;
pub mod manifest;
pub mod mux;
pub mod peers;
pub mod protocol;
pub mod server;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::cache::Caches;
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;
use mux::{Mux, MuxError, MuxStream};

/// The label of join-token Secrets (value: the cluster's name).
pub const TOKEN_LABEL: &str = "cluster.orrery.io/agent-token";
/// The Secret's data key holding the token.
pub const TOKEN_KEY: &str = "token";
/// The Cluster annotation naming its join-token Secret (`namespace/name`).
pub const TOKEN_ANNOTATION: &str = "cluster.orrery.io/agent-token-secret";
/// The registry source of proxy members (their client never changes: it follows the tunnel).
pub const SOURCE: &str = "agent-tunnel";
/// Most streams (requests, watches, upgrades) open at once on one tunnel.
pub const MAX_STREAMS: usize = 1024;
/// Most idle HTTP/1.1 connections (streams) kept per tunnel for the next requests.
const MAX_IDLE: usize = 32;

pub(crate) type Sender = hyper::client::conn::http1::SendRequest<kube::client::Body>;

/// The name of the Secret holding cluster `name`'s join token (in `kubesphere-system`).
pub fn token_secret_name(name: &str) -> String {
    format!("orrery-cluster-{name}-agent-token")
}

/// Whether a Cluster object is reached through an agent.
pub fn is_proxy(cluster: &Value) -> bool {
    cluster["spec"]["connection"]["type"] == "proxy"
}

/// Cluster `name`'s current join token, from the host's caches.
pub fn current_token(caches: &Caches, name: &str) -> Option<String> {
    let key = format!("{SYSTEM_NAMESPACE}/{}", token_secret_name(name));
    let secret = caches.kubeconfigs.get(&key)?;
    if secret.obj["metadata"]["labels"][TOKEN_LABEL] != name {
        return None;
    }
    let raw = secret.obj["data"][TOKEN_KEY].as_str()?;
    let token = String::from_utf8(B64.decode(raw).ok()?).ok()?;
    (!token.is_empty()).then_some(token)
}

/// Creates cluster `name`'s join-token Secret unless the caches hold one (idempotent; a
/// conflict means another writer created it).
pub async fn ensure_token(
    client: &kube::Client,
    caches: &Caches,
    name: &str,
) -> Result<(), PlatformError> {
    if current_token(caches, name).is_some() {
        return Ok(());
    }
    // The kubeconfig label puts the Secret into the cache of member credentials, which the
    // token checks read; the token label says what it is.
    let secret = json!({
        "metadata": {"name": token_secret_name(name), "namespace": SYSTEM_NAMESPACE,
            "labels": {super::KUBECONFIG_LABEL: name, TOKEN_LABEL: name}},
        "type": "Opaque",
        "data": {TOKEN_KEY: B64.encode(protocol::new_token())},
    });
    match kubeapi::create(client, Kind::Secret, Some(SYSTEM_NAMESPACE), secret).await {
        Ok(_) => Ok(()),
        Err(e) if kubeapi::is_conflict(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Why a request could not go through a tunnel.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    /// No agent is connected for the cluster.
    #[error("the agent of cluster {0:?} is not connected")]
    NotConnected(String),
    /// The connection broke.
    #[error("{0}")]
    Mux(#[from] MuxError),
    /// HTTP over the stream failed.
    #[error("request through the tunnel: {0}")]
    Http(#[from] hyper::Error),
    /// The replica holding the tunnel could not be asked for a stream.
    #[error("relaying to the replica holding the tunnel: {0}")]
    Relay(String),
}

/// A connected agent.
pub struct Session {
    /// Distinguishes a session from the one replacing it.
    pub id: u64,
    /// Its connection.
    pub mux: Mux,
    /// The token it authenticated with (checked against the current one while it lasts).
    pub token: String,
    /// HTTP/1.1 connections over streams that finished their last exchange, for reuse.
    idle: Mutex<Vec<Sender>>,
}

impl Session {
    /// A connection whose last exchange is over, if one is kept.
    fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(s) = idle.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    /// Keeps a connection whose exchange is over (up to [`MAX_IDLE`]).
    fn put_idle(&self, s: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE && !self.mux.is_closed() {
            idle.push(s);
        }
    }

    /// A new HTTP/1.1 connection over a new stream.
    async fn connect(&self) -> Result<Sender, TunnelError> {
        let stream = self.mux.open().await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "tunnel stream ended");
            }
        });
        Ok(sender)
    }
}

#[derive(Default)]
struct Slot {
    session: Option<Arc<Session>>,
    changed: Option<watch::Sender<u64>>,
}

impl Slot {
    fn bump(&mut self) {
        if let Some(tx) = &self.changed {
            tx.send_modify(|n| *n += 1);
        }
    }
}

/// The agents connected to this replica, by cluster, and the way to the replicas holding
/// the others ([`peers`]).
#[derive(Default)]
pub struct Tunnels {
    slots: Mutex<HashMap<String, Slot>>,
    next: AtomicU64,
    peers: OnceLock<Arc<peers::Peers>>,
}

impl Tunnels {
    fn with<R>(&self, cluster: &str, f: impl FnOnce(&mut Slot) -> R) -> R {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        f(slots.entry(cluster.to_string()).or_default())
    }

    /// Relays requests for agents connected to other replicas through `peers` (set once).
    pub fn set_peers(&self, peers: Arc<peers::Peers>) {
        let _ = self.peers.set(peers);
    }

    /// The relay between replicas, once set.
    pub fn peers(&self) -> Option<&Arc<peers::Peers>> {
        self.peers.get()
    }

    /// Tells whoever follows cluster `name` that its tunnel moved.
    pub(crate) fn bump(&self, cluster: &str) {
        self.with(cluster, |s| s.bump());
    }

    /// Changes whenever cluster `name`'s agent connects or disconnects (here, or at the
    /// replica holding it).
    pub fn changes(&self, cluster: &str) -> watch::Receiver<u64> {
        self.with(cluster, |s| {
            s.changed
                .get_or_insert_with(|| watch::channel(0).0)
                .subscribe()
        })
    }

    /// Makes `mux` the cluster's session; an older one is closed (the newest agent wins).
    pub fn attach(&self, cluster: &str, mux: Mux, token: String) -> Arc<Session> {
        let session = Arc::new(Session {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            mux,
            token,
            idle: Mutex::new(Vec::new()),
        });
        let old = self.with(cluster, |s| {
            let old = s.session.replace(session.clone());
            s.bump();
            old
        });
        if let Some(old) = old {
            old.mux.close();
        }
        session
    }

    /// Forgets session `id` of the cluster (if it is still the current one).
    pub fn detach(&self, cluster: &str, id: u64) {
        self.with(cluster, |s| {
            if s.session.as_ref().is_some_and(|x| x.id == id) {
                s.session = None;
                s.bump();
            }
        });
    }

    /// The cluster's live session.
    pub fn session(&self, cluster: &str) -> Option<Arc<Session>> {
        self.with(cluster, |s| {
            s.session.clone().filter(|x| !x.mux.is_closed())
        })
    }

    /// Opens a stream to the cluster's agent.
    pub async fn open(&self, cluster: &str) -> Result<MuxStream, TunnelError> {
        let session = self
            .session(cluster)
            .ok_or_else(|| TunnelError::NotConnected(cluster.to_string()))?;
        Ok(session.mux.open().await?)
    }

    /// Sends one request to the cluster's API server through its agent, over an HTTP/1.1
    /// connection carried by a stream: an idle one when there is one (it goes back to the idle
    /// ones once its response has been read), else a new one. An upgrade always gets its own
    /// stream, which then carries the upgraded bytes. An agent connected to another replica is
    /// reached through that replica ([`peers::Peers::send`]).
    pub async fn send(
        &self,
        cluster: &str,
        req: http::Request<kube::client::Body>,
    ) -> Result<http::Response<hyper::body::Incoming>, TunnelError> {
        let Some(session) = self.session(cluster) else {
            return match self.peers.get() {
                Some(peers) => peers.send(cluster, req).await,
                None => Err(TunnelError::NotConnected(cluster.to_string())),
            };
        };
        let upgrade = req.headers().contains_key(http::header::UPGRADE);
        let mut sender = match (upgrade, session.take_idle()) {
            (false, Some(s)) => s,
            _ => session.connect().await?,
        };
        let resp = sender.send_request(req).await?;
        if !upgrade {
            tokio::spawn(async move {
                // Ready again once the response body has been read to its end.
                if sender.ready().await.is_ok() {
                    session.put_idle(sender);
                }
            });
        }
        Ok(resp)
    }

    /// A kube client for the cluster whose every request travels through its agent.
    pub fn client(self: &Arc<Self>, cluster: &str) -> kube::Client {
        let tunnels = self.clone();
        let cluster = cluster.to_string();
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let tunnels = tunnels.clone();
            let cluster = cluster.clone();
            async move { tunnels.send(&cluster, req).await }
        });
        kube::Client::new(service, "default")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_newest_session_wins_and_changes_are_seen() {
        let tunnels = Arc::new(Tunnels::default());
        let mut changes = tunnels.changes("edge");
        assert!(matches!(
            tunnels.open("edge").await,
            Err(TunnelError::NotConnected(_))
        ));
        let (a, _b) = tokio::io::duplex(1024);
        let first = mux::spawn(a, yamux::Mode::Server, 4, |_| {});
        let s1 = tunnels.attach("edge", first.clone(), "t".into());
        assert!(changes.has_changed().unwrap_or(false));
        changes.mark_unchanged();
        let (c, _d) = tokio::io::duplex(1024);
        let second = mux::spawn(c, yamux::Mode::Server, 4, |_| {});
        let s2 = tunnels.attach("edge", second, "t".into());
        assert!(first.is_closed(), "the older session is closed");
        tunnels.detach("edge", s1.id);
        assert_eq!(tunnels.session("edge").map(|s| s.id), Some(s2.id));
        tunnels.detach("edge", s2.id);
        assert!(tunnels.session("edge").is_none());
        assert!(changes.has_changed().unwrap_or(false));
    }
}
