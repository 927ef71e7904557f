//! The listener: plain HTTP and HTTPS on one port (a TLS ClientHello is recognised by its
//! first byte), because kubectl sends bearer tokens only over TLS while browsers and scripts on
//! loopback use plain HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::Client;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

const TLS_SECRET: &str = "orrery-platform-tls";
const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone, Default)]
pub enum TlsSource {
    /// Plain HTTP only.
    Off,
    /// A self-signed certificate generated once and kept in the host cluster (shared by every
    /// replica).
    #[default]
    SelfSigned,
    /// A certificate chain and key in PEM.
    Pem {
        /// Certificate chain.
        cert: String,
        /// Private key.
        key: String,
    },
    /// A certificate chain and key in PEM files, served anew when the files change (a
    /// rotated Secret mount, say), checked at most every [`RELOAD_CHECK`] at a handshake.
    Files {
        /// Certificate chain file.
        cert: PathBuf,
        /// Private key file.
        key: PathBuf,
    },
}

/// How often [`TlsSource::Files`] are looked at for a change (at a handshake, not on a timer).
pub const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// A certificate and key in PEM.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// Certificate chain (the first is served; for self-signed, it is also the CA).
    pub cert_pem: String,
    /// Private key.
    pub key_pem: String,
}

fn generate(hosts: &[String]) -> Result<TlsMaterial, PlatformError> {
    let ck = rcgen::generate_simple_self_signed(hosts.to_vec())
        .map_err(|e| PlatformError::Invalid(format!("certificate: {e}")))?;
    Ok(TlsMaterial {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
    })
}

/// Loads the shared self-signed certificate, creating it on first start.
pub async fn self_signed(
    client: &Client,
    listen: SocketAddr,
) -> Result<TlsMaterial, PlatformError> {
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
        hosts.push(listen.ip().to_string());
    }
    for _ in 0..5 {
        if let Some(s) =
            kubeapi::get(client, Kind::Secret, Some(SYSTEM_NAMESPACE), TLS_SECRET).await?
        {
            let field = |k: &str| {
                s["data"][k]
                    .as_str()
                    .and_then(|v| B64.decode(v).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| PlatformError::Invalid(format!("secret {TLS_SECRET} lacks {k}")))
            };
            return Ok(TlsMaterial {
                cert_pem: field("tls.crt")?,
                key_pem: field("tls.key")?,
            });
        }
        let m = generate(&hosts)?;
        let secret = json!({
            "metadata": {"name": TLS_SECRET, "namespace": SYSTEM_NAMESPACE},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": B64.encode(&m.cert_pem), "tls.key": B64.encode(&m.key_pem)},
        });
        match kubeapi::create(client, Kind::Secret, Some(SYSTEM_NAMESPACE), secret).await {
            Ok(_) => return Ok(m),
            Err(e) if kubeapi::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(PlatformError::Invalid(
        "could not store the platform certificate".into(),
    ))
}

fn bad(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Invalid(format!("TLS: {e}"))
}

/// The certificate and key of `m`, checked to belong together.
fn certified_key(m: &TlsMaterial) -> Result<Arc<CertifiedKey>, PlatformError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(m.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    if certs.is_empty() {
        return Err(bad("no certificate in the PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(m.key_pem.as_bytes()).map_err(bad)?;
    let provider = rustls::crypto::ring::default_provider();
    Ok(Arc::new(
        CertifiedKey::from_der(certs, key, &provider).map_err(bad)?,
    ))
}

fn with_resolver(
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
) -> Result<Arc<rustls::ServerConfig>, PlatformError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(bad)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A rustls server config for `m`.
pub fn server_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, PlatformError> {
    with_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(
        certified_key(m)?,
    )))
}

/// A rustls server config serving the PEM files `cert` and `key`, re-read when they change;
/// also what they held at start (a change that cannot be served keeps the previous pair).
pub fn files_server_config(
    cert: &Path,
    key: &Path,
) -> Result<(Arc<rustls::ServerConfig>, TlsMaterial), PlatformError> {
    let material = read_files(cert, key)?;
    let resolver = FileCert {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        state: Mutex::new(FileCertState {
            checked: Instant::now(),
            stamp: stamp(cert, key),
            key: certified_key(&material)?,
        }),
    };
    Ok((with_resolver(Arc::new(resolver))?, material))
}

fn read_files(cert: &Path, key: &Path) -> Result<TlsMaterial, PlatformError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| bad(format!("reading {}: {e}", p.display())))
    };
    Ok(TlsMaterial {
        cert_pem: read(cert)?,
        key_pem: read(key)?,
    })
}

/// What tells a file changed: its modification time and length (through symlinks, as a
/// Secret volume swaps them).
type Stamp = [Option<(SystemTime, u64)>; 2];

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let one = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())))
    };
    [one(cert), one(key)]
}

#[derive(Debug)]
struct FileCert {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<FileCertState>,
}

#[derive(Debug)]
struct FileCertState {
    checked: Instant,
    stamp: Stamp,
    key: Arc<CertifiedKey>,
}

impl FileCert {
    fn current(&self) -> Arc<CertifiedKey> {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if st.checked.elapsed() >= RELOAD_CHECK {
            st.checked = Instant::now();
            let now = stamp(&self.cert, &self.key);
            if now != st.stamp {
                match read_files(&self.cert, &self.key).and_then(|m| certified_key(&m)) {
                    Ok(k) => {
                        st.key = k;
                        st.stamp = now;
                        tracing::info!(cert = %self.cert.display(), "serving the changed certificate");
                    }
                    // Half-written files (the key before the certificate): tried again later.
                    Err(e) => tracing::warn!(
                        cert = %self.cert.display(),
                        error = %e,
                        "the certificate files changed but cannot be served; the previous pair stays"
                    ),
                }
            }
        }
        st.key.clone()
    }
}

impl rustls::server::ResolvesServerCert for FileCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Accepts connections until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (router, acceptor, shutdown) = (router.clone(), acceptor.clone(), shutdown.clone());
        tokio::spawn(async move {
            connection(stream, peer, router, acceptor, header_timeout, shutdown).await
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    let mut first = [0u8; 1];
    let is_tls = match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) => first[0] == TLS_HANDSHAKE_BYTE,
        _ => return,
    };
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let router = router.clone();
        async move {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            router.oneshot(req).await
        }
    });
    // A timer bounds how long headers may trickle in and how long a connection may idle: a
    // slow client cannot hold sockets forever.
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(header_timeout)
        .keep_alive_timeout(header_timeout);
    match (is_tls, acceptor) {
        (true, Some(acceptor)) => {
            let Ok(Ok(tls)) = tokio::time::timeout(header_timeout, acceptor.accept(stream)).await
            else {
                return;
            };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        }
        (true, None) => {}
        (false, _) => {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        }
    }
}
