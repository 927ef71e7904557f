//! Tunnels across replicas. An agent dials the platform's Service and so reaches one replica;
//! every other replica forwards that cluster's requests to it.
//!
//! - The replica holding an agent's tunnel records it in a Lease in `kubesphere-system`,
//!   `orrery-tunnel-<cluster>`: its identity, the address the other replicas reach it at
//!   ([`ADDRESS_ANNOTATION`]), the SHA-256 of the certificate it serves
//!   ([`CERT_ANNOTATION`]), when the session began (`acquireTime`) and renewals (`renewTime`,
//!   every leader-election retry period, valid for the lease duration). Every replica follows
//!   these Leases by watch ([`run`]).
//! - A replica without the tunnel opens each stream to the holder as an HTTP/1.1 upgrade,
//!   `GET /agent/v1/relay` (`Upgrade: orrery-relay.v1`), authenticated by a short-lived token
//!   sealed with the platform's signing key for that cluster and that holder; the holder opens
//!   a stream on the agent's connection and splices the two. What runs over it is exactly
//!   what runs over a local stream (one HTTP/1.1 connection to the member's API server), so
//!   requests, watches and upgrades are relayed alike. The holder is reached over TLS when it
//!   serves TLS, its certificate pinned to the Lease's fingerprint (pod addresses are not in
//!   the certificate's names).
//! - The newest session wins: a holder whose Lease names a later session (the agent
//!   reconnected to another replica) closes its own.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{StatusCode, header};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::json;
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use super::{Sender, TunnelError, Tunnels, protocol};
use crate::http::{AppState, Shared};
use crate::kubeapi::timed;
use crate::tokens::SYSTEM_NAMESPACE;

/// The path a replica asks another for a stream to an agent connected there.
pub const RELAY_PATH: &str = "/agent/v1/relay";
/// The `Upgrade` protocol token of a relayed stream.
pub const RELAY_UPGRADE: &str = "orrery-relay.v1";
/// The label of tunnel Leases (value: the cluster's name).
pub const LEASE_LABEL: &str = "tunnel.orrery.io/cluster";
/// The Lease annotation with the holder's address (`https://10.1.2.3:30880`).
pub const ADDRESS_ANNOTATION: &str = "tunnel.orrery.io/address";
/// The Lease annotation with the SHA-256 (hex) of the certificate the holder serves.
pub const CERT_ANNOTATION: &str = "tunnel.orrery.io/cert-sha256";
/// What relay tokens are sealed for.
const SEAL_PURPOSE: &str = "tunnel-relay";
/// How long a relay token is valid (each opens one stream at once).
const SEAL_TTL: Duration = Duration::from_secs(60);
/// Bound on connecting to another replica (TCP, TLS and the upgrade).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most idle relayed connections kept per cluster.
const MAX_IDLE: usize = 32;

/// The name of cluster `name`'s tunnel Lease.
pub fn lease_name(cluster: &str) -> String {
    format!("orrery-tunnel-{cluster}")
}

/// The certificate a replica serves, for others to pin.
#[derive(Debug, Clone)]
pub enum ServedCert {
    /// Plain HTTP only.
    None,
    /// A chain in PEM (the first is served).
    Pem(String),
    /// A PEM file re-read when it changes (read again at each renewal).
    File(PathBuf),
}

impl ServedCert {
    /// SHA-256 (hex) of the served certificate, if any.
    pub fn fingerprint(&self) -> Option<String> {
        let pem = match self {
            ServedCert::None => return None,
            ServedCert::Pem(p) => p.clone(),
            ServedCert::File(f) => std::fs::read_to_string(f).ok()?,
        };
        let first = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()?
            .ok()?;
        Some(hex(&sha2::Sha256::digest(first.as_ref())))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// This replica's part in relaying.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// Its identity (leader election's).
    pub identity: String,
    /// The URL the other replicas reach it at; without one, agents connected here serve this
    /// replica only.
    pub advertise_url: Option<String>,
    /// The certificate it serves.
    pub cert: ServedCert,
    /// How long a tunnel Lease is valid without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews it.
    pub renew: Duration,
}

/// The replica holding a cluster's tunnel, as its Lease says.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    /// Its identity.
    pub identity: String,
    /// Where it is reached.
    pub url: String,
    /// The certificate it serves.
    pub cert_sha256: Option<String>,
    /// When the session began.
    pub acquired: Timestamp,
    /// The last renewal.
    pub renewed: Timestamp,
    /// How long a renewal is valid.
    pub valid: Duration,
}

impl Holder {
    fn from_lease(l: &Lease) -> Option<(String, Holder)> {
        let cluster = l.metadata.labels.as_ref()?.get(LEASE_LABEL)?.clone();
        let spec = l.spec.as_ref()?;
        let ann = l.metadata.annotations.as_ref()?;
        let holder = Holder {
            identity: spec.holder_identity.clone().filter(|s| !s.is_empty())?,
            url: ann.get(ADDRESS_ANNOTATION)?.clone(),
            cert_sha256: ann.get(CERT_ANNOTATION).cloned(),
            acquired: spec.acquire_time.as_ref()?.0,
            renewed: spec.renew_time.as_ref()?.0,
            valid: Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64),
        };
        Some((cluster, holder))
    }

    /// What a route to the holder depends on (renewals change none of it).
    fn route(&self) -> (&str, &str, Option<&str>, Timestamp) {
        (
            &self.identity,
            &self.url,
            self.cert_sha256.as_deref(),
            self.acquired,
        )
    }

    /// Whether the Lease was renewed within its validity at `now`.
    pub fn live(&self, now: Timestamp) -> bool {
        let valid = SignedDuration::try_from(self.valid).unwrap_or(SignedDuration::ZERO);
        self.renewed.checked_add(valid).is_ok_and(|end| now <= end)
    }
}

/// What [`Peers::renew`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The Lease names this session.
    Held,
    /// A later session of the agent holds it elsewhere: this one is stale.
    Superseded,
    /// Another writer got in between; tried again at the next renewal.
    Retry,
}

/// Idle relayed connections of one cluster, for the holder they lead to.
#[derive(Default)]
struct Idle {
    to: Option<(String, Timestamp)>,
    senders: Vec<Sender>,
}

/// Relaying between replicas.
pub struct Peers {
    settings: PeerSettings,
    state: Weak<AppState>,
    api: Api<Lease>,
    holders: RwLock<HashMap<String, Holder>>,
    idle: Mutex<HashMap<String, Idle>>,
    tls: Arc<rustls::crypto::CryptoProvider>,
}

fn micro_now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
}

impl Peers {
    /// Relaying for the replica of `state` (kept weakly: the state owns the tunnels).
    pub fn new(state: &Shared, settings: PeerSettings) -> Arc<Peers> {
        Arc::new(Peers {
            api: Api::namespaced(state.client.clone(), SYSTEM_NAMESPACE),
            settings,
            state: Arc::downgrade(state),
            holders: RwLock::new(HashMap::new()),
            idle: Mutex::new(HashMap::new()),
            tls: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.settings.identity
    }

    /// The settings.
    pub fn settings(&self) -> &PeerSettings {
        &self.settings
    }

    /// Another replica holding cluster `name`'s tunnel now, if any.
    pub fn holder(&self, cluster: &str) -> Option<Holder> {
        let holders = self.holders.read().unwrap_or_else(|e| e.into_inner());
        holders
            .get(cluster)
            .filter(|h| h.identity != self.settings.identity && h.live(Timestamp::now()))
            .cloned()
    }

    fn set_holders(&self, tunnels: &Tunnels, fresh: HashMap<String, Holder>) {
        let changed: Vec<String> = {
            let mut holders = self.holders.write().unwrap_or_else(|e| e.into_inner());
            // A renewal is no change: only another holder (or session, address, certificate).
            let mut changed: Vec<String> = fresh
                .iter()
                .filter(|&(k, v)| holders.get(k).map(Holder::route) != Some(v.route()))
                .map(|(k, _)| k.clone())
                .collect();
            changed.extend(holders.keys().filter(|k| !fresh.contains_key(*k)).cloned());
            *holders = fresh;
            changed
        };
        for cluster in changed {
            // A new holder (or none): health checks look again at once.
            let moved = {
                let holders = self.holders.read().unwrap_or_else(|e| e.into_inner());
                holders
                    .get(&cluster)
                    .map(|h| (h.identity.clone(), h.acquired))
            };
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.get(&cluster).is_some_and(|i| i.to != moved) {
                idle.remove(&cluster);
            }
            drop(idle);
            tunnels.bump(&cluster);
        }
    }

    fn take_idle(&self, cluster: &str, to: &(String, Timestamp)) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let slot = idle.get_mut(cluster)?;
        if slot.to.as_ref() != Some(to) {
            return None;
        }
        while let Some(s) = slot.senders.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, cluster: &str, to: (String, Timestamp), s: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let slot = idle.entry(cluster.to_string()).or_default();
        if slot.to.as_ref() != Some(&to) {
            slot.to = Some(to);
            slot.senders.clear();
        }
        if slot.senders.len() < MAX_IDLE {
            slot.senders.push(s);
        }
    }

    /// Sends one request for cluster `name` to the replica holding its tunnel (see
    /// [`Tunnels::send`]).
    pub async fn send(
        self: &Arc<Self>,
        cluster: &str,
        req: http::Request<kube::client::Body>,
    ) -> Result<http::Response<hyper::body::Incoming>, TunnelError> {
        let holder = self
            .holder(cluster)
            .ok_or_else(|| TunnelError::NotConnected(cluster.to_string()))?;
        let to = (holder.identity.clone(), holder.acquired);
        let upgrade = req.headers().contains_key(header::UPGRADE);
        let mut sender = match (upgrade, self.take_idle(cluster, &to)) {
            (false, Some(s)) => s,
            _ => self.connect(cluster, &holder).await?,
        };
        let resp = sender.send_request(req).await?;
        if !upgrade {
            let (peers, cluster) = (self.clone(), cluster.to_string());
            tokio::spawn(async move {
                if sender.ready().await.is_ok() {
                    peers.put_idle(&cluster, to, sender);
                }
            });
        }
        Ok(resp)
    }

    /// A new HTTP/1.1 connection to cluster `name`'s API server, through `holder`.
    async fn connect(&self, cluster: &str, holder: &Holder) -> Result<Sender, TunnelError> {
        let relay = |m: String| TunnelError::Relay(format!("replica {}: {m}", holder.identity));
        let io = tokio::time::timeout(CONNECT_TIMEOUT, self.upgrade(cluster, holder))
            .await
            .map_err(|_| relay(format!("no answer within {CONNECT_TIMEOUT:?}")))??;
        let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "relayed tunnel stream ended");
            }
        });
        Ok(sender)
    }

    /// Asks `holder` for a stream to cluster `name`'s agent; the upgraded connection.
    async fn upgrade(
        &self,
        cluster: &str,
        holder: &Holder,
    ) -> Result<hyper::upgrade::Upgraded, TunnelError> {
        let relay = |m: String| TunnelError::Relay(format!("replica {}: {m}", holder.identity));
        let uri: http::Uri = holder
            .url
            .parse()
            .map_err(|e| relay(format!("address {:?}: {e}", holder.url)))?;
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .ok_or_else(|| relay(format!("address {:?} names no host", holder.url)))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| relay(format!("connecting: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let state = self
            .state
            .upgrade()
            .ok_or_else(|| TunnelError::NotConnected(cluster.to_string()))?;
        let token = state
            .tokens
            .seal(
                SEAL_PURPOSE,
                &json!({"cluster": cluster, "to": holder.identity}),
                SEAL_TTL,
            )
            .map_err(|e| relay(e.to_string()))?;
        let req = http::Request::get(RELAY_PATH)
            .header(
                header::HOST,
                uri.authority().map(|a| a.as_str()).unwrap_or(""),
            )
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, RELAY_UPGRADE)
            .header(protocol::CLUSTER_HEADER, cluster)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| relay(e.to_string()))?;
        let resp = if https {
            let pin = holder
                .cert_sha256
                .clone()
                .ok_or_else(|| relay("its Lease gives no certificate to pin".into()))?;
            let mut config = rustls::ClientConfig::builder_with_provider(self.tls.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| relay(e.to_string()))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    sha256: pin,
                    provider: self.tls.clone(),
                }))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let name = ServerName::try_from(host.clone())
                .map_err(|e| relay(format!("server name {host:?}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| relay(format!("TLS: {e}")))?;
            send_upgrade(hyper_util::rt::TokioIo::new(tls), req).await?
        } else {
            send_upgrade(hyper_util::rt::TokioIo::new(tcp), req).await?
        };
        match resp.status() {
            StatusCode::SWITCHING_PROTOCOLS => Ok(hyper::upgrade::on(resp).await?),
            // The agent left that replica a moment ago.
            StatusCode::SERVICE_UNAVAILABLE => Err(TunnelError::NotConnected(cluster.to_string())),
            s => Err(relay(format!("refused the relay: {s}"))),
        }
    }

    /// Records (or renews) that this replica holds cluster `name`'s session begun at
    /// `acquired`, unless a later session holds it elsewhere.
    pub async fn renew(&self, cluster: &str, acquired: Timestamp) -> Result<Claim, TunnelError> {
        let Some(url) = self.settings.advertise_url.clone() else {
            return Ok(Claim::Held);
        };
        // The Lease belongs to its Cluster: the garbage collector deletes it with the Cluster, and
        // deletes one written by a renewal that raced the Cluster's deletion (its owner is gone).
        // A Cluster not known (or being deleted) gets none: its session is closing.
        let Some(owner) = self.owner(cluster) else {
            return Ok(Claim::Retry);
        };
        let name = lease_name(cluster);
        let me = self.settings.identity.clone();
        let secs = i32::try_from(self.settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let err = |e: crate::error::PlatformError| TunnelError::Relay(format!("tunnel Lease: {e}"));
        let current = timed("get tunnel lease", self.api.get_opt(&name))
            .await
            .map_err(err)?;
        let mut lease = current.clone().unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            spec: None,
        });
        if let Some((_, h)) = current.as_ref().and_then(Holder::from_lease)
            && (h.identity != me || h.acquired != acquired)
            && h.acquired > acquired
            && h.live(Timestamp::now())
        {
            return Ok(Claim::Superseded);
        }
        let meta = &mut lease.metadata;
        meta.owner_references = Some(vec![owner]);
        meta.labels
            .get_or_insert_with(Default::default)
            .insert(LEASE_LABEL.into(), cluster.into());
        let ann = meta.annotations.get_or_insert_with(Default::default);
        ann.insert(ADDRESS_ANNOTATION.into(), url);
        match self.settings.cert.fingerprint() {
            Some(f) => ann.insert(CERT_ANNOTATION.into(), f),
            None => ann.remove(CERT_ANNOTATION),
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(me.as_str())
            || spec.acquire_time.as_ref().map(|t| t.0) != Some(acquired)
        {
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(me);
        spec.acquire_time = Some(MicroTime(acquired));
        spec.renew_time = Some(MicroTime(micro_now()));
        spec.lease_duration_seconds = Some(secs);
        let written = if current.is_some() {
            timed(
                "renew tunnel lease",
                self.api.replace(&name, &PostParams::default(), &lease),
            )
            .await
        } else {
            timed(
                "create tunnel lease",
                self.api.create(&PostParams::default(), &lease),
            )
            .await
        };
        match written {
            Ok(_) => Ok(Claim::Held),
            Err(e) if crate::kubeapi::is_conflict(&e) => Ok(Claim::Retry),
            Err(e) => Err(err(e)),
        }
    }

    /// The owner reference to cluster `name`'s Cluster, while it exists and is not being deleted.
    fn owner(&self, cluster: &str) -> Option<OwnerReference> {
        let state = self.state.upgrade()?;
        let c = state.caches.clusters.get(cluster)?;
        if !c.obj["metadata"]["deletionTimestamp"].is_null()
            || !c.obj["metadata"]["uid"].is_string()
        {
            return None;
        }
        let refs = crate::objects::owner_ref(crate::kinds::Kind::Cluster, &c.obj);
        serde_json::from_value::<Vec<OwnerReference>>(refs)
            .ok()?
            .pop()
    }

    /// Clears cluster `name`'s Lease if it still names the session begun at `acquired`.
    pub async fn release(&self, cluster: &str, acquired: Timestamp) {
        if self.settings.advertise_url.is_none() {
            return;
        }
        let name = lease_name(cluster);
        let Ok(Some(mut lease)) = timed("get tunnel lease", self.api.get_opt(&name)).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str())
            || spec.acquire_time.as_ref().map(|t| t.0) != Some(acquired)
        {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        if let Err(e) = timed(
            "release tunnel lease",
            self.api.replace(&name, &PostParams::default(), &lease),
        )
        .await
        {
            tracing::debug!(cluster, error = %e, "releasing the tunnel Lease");
        }
    }

    /// Keeps this replica's claim on the session (begun at `acquired`) of cluster `name` while
    /// `done` is not cancelled; closes the session (cancels `done`) when a later one holds the
    /// cluster elsewhere, and clears the claim at the end.
    pub async fn hold(
        self: Arc<Self>,
        cluster: String,
        acquired: Timestamp,
        done: CancellationToken,
    ) {
        if self.settings.advertise_url.is_none() {
            tracing::warn!(
                cluster = %cluster,
                "agent connected to a replica without an advertised address (advertiseURL): other replicas cannot reach the cluster"
            );
            return;
        }
        loop {
            match self.renew(&cluster, acquired).await {
                Ok(Claim::Superseded) => {
                    tracing::info!(cluster = %cluster, "the agent connected to another replica since; closing this session");
                    done.cancel();
                    return;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(cluster = %cluster, error = %e, "recording the tunnel"),
            }
            tokio::select! {
                _ = done.cancelled() => break,
                _ = tokio::time::sleep(self.settings.renew) => {}
            }
        }
        self.release(&cluster, acquired).await;
    }

    /// When a session begun now should record as its start.
    pub fn session_start() -> Timestamp {
        micro_now()
    }
}

/// Sends the relay's upgrade request over `io`.
async fn send_upgrade<T>(
    io: T,
    req: http::Request<http_body_util::Empty<bytes::Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, TunnelError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "relay connection ended");
        }
    });
    Ok(sender.send_request(req).await?)
}

/// Accepts exactly the certificate whose SHA-256 the holder's Lease gives (any name: pod
/// addresses are not in it); signatures are checked as usual.
#[derive(Debug)]
struct Pinned {
    sha256: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let got = hex(&sha2::Sha256::digest(end_entity.as_ref()));
        if protocol::token_matches(&got, &self.sha256) {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Follows the tunnel Leases into `peers` until `shutdown`.
pub async fn run(state: Shared, peers: Arc<Peers>, shutdown: CancellationToken) {
    let api: Api<Lease> = Api::namespaced(state.client.clone(), SYSTEM_NAMESPACE);
    let config = watcher::Config::default().labels(LEASE_LABEL);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let tunnels = state.clusters.tunnels.clone();
    let mut known: HashMap<String, Lease> = HashMap::new();
    let mut init: Option<HashMap<String, Lease>> = None;
    loop {
        let ev = tokio::select! {
            _ = shutdown.cancelled() => return,
            ev = stream.next() => ev,
        };
        let key = |l: &Lease| l.metadata.name.clone().unwrap_or_default();
        match ev {
            Some(Ok(watcher::Event::Apply(l))) => {
                known.insert(key(&l), l);
            }
            Some(Ok(watcher::Event::Delete(l))) => {
                known.remove(&key(&l));
            }
            Some(Ok(watcher::Event::Init)) => {
                init = Some(HashMap::new());
                continue;
            }
            Some(Ok(watcher::Event::InitApply(l))) => {
                init.get_or_insert_with(HashMap::new).insert(key(&l), l);
                continue;
            }
            Some(Ok(watcher::Event::InitDone)) => known = init.take().unwrap_or_default(),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "watching tunnel Leases; retrying");
                continue;
            }
            None => return,
        }
        let holders = known
            .values()
            .filter_map(Holder::from_lease)
            .collect::<HashMap<_, _>>();
        peers.set_holders(&tunnels, holders);
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let reason = match status {
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        _ => "BadRequest",
    };
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": reason, "code": status.as_u16()});
    (status, axum::Json(body)).into_response()
}

/// `GET /agent/v1/relay`: another replica asks for a stream to an agent connected here.
pub async fn accept(State(state): State<Shared>, mut req: Request) -> Response {
    let headers = req.headers();
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case(RELAY_UPGRADE))
        });
    if !upgrade {
        return refuse(
            StatusCode::BAD_REQUEST,
            "this endpoint is for Orrery's replicas (Upgrade: orrery-relay.v1)",
        );
    }
    let cluster = headers
        .get(protocol::CLUSTER_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let token = protocol::bearer(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()));
    let Some(peers) = state.clusters.tunnels.peers() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "this replica does not relay",
        );
    };
    // A token sealed by a replica (the signing key is theirs alone) for this cluster and
    // this replica: another replica's token, or a user's, is refused.
    let sealed = token.and_then(|t| state.tokens.open(SEAL_PURPOSE, t).ok());
    let valid =
        sealed.is_some_and(|d| d["cluster"] == cluster.as_str() && d["to"] == peers.identity());
    if !valid {
        tracing::warn!("relay refused: the token is not valid here");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the relay token is not valid for this replica and cluster",
        );
    }
    let Some(session) = state.clusters.tunnels.session(&cluster) else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent of this cluster is not connected to this replica",
        );
    };
    let mut stream = match session.mux.open().await {
        Ok(s) => s,
        Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(io) => {
                let mut io = hyper_util::rt::TokioIo::new(io);
                if let Err(e) = tokio::io::copy_bidirectional(&mut io, &mut stream).await {
                    tracing::debug!(error = %e, "relayed stream ended");
                }
            }
            Err(e) => tracing::debug!(error = %e, "relay upgrade did not complete"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, RELAY_UPGRADE)
        .body(axum::body::Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(cluster: &str, holder: &str, renewed: Timestamp, secs: i32) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(lease_name(cluster)),
                labels: Some([(LEASE_LABEL.to_string(), cluster.to_string())].into()),
                annotations: Some(
                    [
                        (
                            ADDRESS_ANNOTATION.to_string(),
                            "https://10.0.0.7:30880".to_string(),
                        ),
                        (CERT_ANNOTATION.to_string(), "ab".repeat(32)),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                acquire_time: Some(MicroTime(renewed)),
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(secs),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_lease_names_its_holder_until_it_lapses() {
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let (cluster, h) = Holder::from_lease(&lease("edge", "replica-a", t, 15)).expect("holder");
        assert_eq!(cluster, "edge");
        assert_eq!(h.identity, "replica-a");
        assert_eq!(h.url, "https://10.0.0.7:30880");
        assert!(h.live(t.checked_add(SignedDuration::from_secs(15)).expect("t")));
        assert!(
            !h.live(
                t.checked_add(SignedDuration::from_millis(15_001))
                    .expect("t")
            )
        );
        // A released Lease (no holder) or one without an address names nobody.
        let mut released = lease("edge", "replica-a", t, 15);
        if let Some(s) = released.spec.as_mut() {
            s.holder_identity = None;
        }
        assert!(Holder::from_lease(&released).is_none());
        let mut bare = lease("edge", "replica-a", t, 15);
        bare.metadata.annotations = None;
        assert!(Holder::from_lease(&bare).is_none());
    }

    #[test]
    fn the_fingerprint_is_of_the_first_certificate() {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let pem = ck.cert.pem();
        let der = ck.cert.der().to_vec();
        let want = hex(&sha2::Sha256::digest(&der));
        assert_eq!(
            ServedCert::Pem(pem.clone()).fingerprint(),
            Some(want.clone())
        );
        let other = rcgen::generate_simple_self_signed(vec!["x".into()]).expect("cert");
        let chain = format!("{pem}{}", other.cert.pem());
        assert_eq!(ServedCert::Pem(chain).fingerprint(), Some(want));
        assert_eq!(ServedCert::None.fingerprint(), None);
        assert_eq!(ServedCert::Pem("garbage".into()).fingerprint(), None);
    }
}
