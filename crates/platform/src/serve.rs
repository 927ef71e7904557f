//! The listener: plain HTTP and HTTPS on one port (a TLS ClientHello is recognised by its
//! first byte), because kubectl sends bearer tokens only over TLS while browsers and scripts on
//! loopback use plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::Client;
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
}

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

/// A rustls server config for `m`.
pub fn server_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, PlatformError> {
    let bad = |e: String| PlatformError::Invalid(format!("TLS: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(m.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_slice(m.key_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
