//! The HTTPS listener: TLS (with optional client certificates), HTTP/1.1 and HTTP/2.

use std::sync::Arc;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::auth::{PeerCert, identity_from_der};
use crate::cluster::Cluster;

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// PEM could not be parsed.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

/// Builds the server's TLS configuration: the serving certificate, optional client
/// certificates signed by the cluster CA, and ALPN for h2 and HTTP/1.1.
pub fn tls_config(
    cert_pem: &str,
    key_pem: &str,
    ca_pem: &str,
) -> Result<rustls::ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let ca = ca.map_err(|e| TlsError::Pem(e.to_string()))?;
        roots.add(ca)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts connections until shutdown.
pub async fn serve(cluster: Arc<Cluster>, listener: TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (stream, _) = tokio::select! {
            _ = cluster.shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let cluster = cluster.clone();
        let header_timeout = cluster.config.request_header_timeout;
        tokio::spawn(async move {
            // The handshake gets the same bound as the headers that follow it.
            let tls = match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let peer = PeerCert {
                identity: tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| identity_from_der(c.as_ref())),
            };
            let shutdown = cluster.shutdown.clone();
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let cluster = cluster.clone();
                let peer = peer.clone();
                async move {
                    let req = req.map(Body::new);
                    Ok::<_, std::convert::Infallible>(handle_guarded(cluster, peer, req).await)
                }
            });
            let builder = connection_builder(header_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn).await;
                }
            }
        });
    }
}

/// [`crate::handler::handle`] behind a safety net: a bug that panics while serving one
/// request answers that request with a 500 Status (as kube-apiserver's panic recovery
/// filter does) instead of dropping the connection and everything multiplexed on it.
/// Bad input must never get here; it is refused with a 4xx before anything indexes into it.
pub async fn handle_guarded(
    cluster: Arc<Cluster>,
    peer: PeerCert,
    req: http::Request<Body>,
) -> http::Response<Body> {
    use futures::FutureExt;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let metrics = cluster.clone();
    let call = metrics.telemetry.requests.start(&req);
    let resp = match std::panic::AssertUnwindSafe(crate::handler::handle(cluster, peer, req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!(%method, %path, "request handler panicked");
            crate::response::error(&apimachinery::status::ApiError::internal(
                "an internal error occurred while serving the request",
            ))
        }
    };
    metrics.telemetry.requests.finish(call, resp)
}

/// HTTP/1.1 and HTTP/2 serving with a timer, so that a client that trickles its headers (or a
/// connection left idle) is closed after `header_timeout` instead of holding a socket forever.
pub fn connection_builder(
    header_timeout: std::time::Duration,
) -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
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
    builder
}
