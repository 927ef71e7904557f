//! `orrery agent`: runs inside a member cluster, dials out to the platform, keeps one tunnel
//! with heartbeats, reconnects with exponential backoff and jitter, and serves every stream the
//! platform opens by forwarding it to the member's API server with the agent's own credentials.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::mux::{self, Mux, MuxStream};
use super::protocol;

/// How the agent reaches the platform.
#[derive(Clone)]
pub struct AgentConfig {
    /// The platform's URL (`https://…`; `http://` only for tests on loopback).
    pub platform_url: String,
    /// The Cluster's name on the platform.
    pub cluster: String,
    /// The join token (never logged).
    pub token: String,
    /// CA certificates (PEM) to verify the platform with; the public web roots when `None`.
    pub ca_pem: Option<String>,
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// First wait before reconnecting; it doubles per failed attempt ...
    pub backoff_base: Duration,
    /// ... up to this.
    pub backoff_max: Duration,
    /// Bound on connecting and on the handshake.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("platform_url", &self.platform_url)
            .field("cluster", &self.cluster)
            .field("token", &"<redacted>")
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl AgentConfig {
    /// Defaults for a platform URL, cluster and token.
    pub fn new(platform_url: &str, cluster: &str, token: &str) -> AgentConfig {
        AgentConfig {
            platform_url: platform_url.to_string(),
            cluster: cluster.to_string(),
            token: token.to_string(),
            ca_pem: None,
            heartbeat: protocol::DEFAULT_HEARTBEAT,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Why one connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A setting is wrong (the agent cannot start).
    #[error("{0}")]
    Config(String),
    /// The platform refused the join token.
    #[error(
        "the platform refused the join token for cluster {0:?} (revoked, rotated or wrong): get the current one from a platform administrator (GET /kapis/cluster.kubesphere.io/v1alpha1/clusters/{0}/agent/deployment) and restart the agent with it"
    )]
    Refused(String),
    /// The platform answered something else.
    #[error("the platform answered {0} to the tunnel request: {1}")]
    Unexpected(StatusCode, String),
    /// Connecting failed.
    #[error("connecting to the platform: {0}")]
    Connect(String),
    /// Did not connect in time.
    #[error("the platform did not answer within {0:?}")]
    Timeout(Duration),
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The platform's address parts: whether TLS is used, host, port, `Host` header value.
fn target(url: &str) -> Result<(bool, String, u16, String), AgentError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| AgentError::Config(format!("platform URL {url:?}: {e}")))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(AgentError::Config(format!(
                "platform URL {url:?} must start with https:// (or http:// for a test on loopback)"
            )));
        }
    };
    let authority = uri
        .authority()
        .ok_or_else(|| AgentError::Config(format!("platform URL {url:?} has no host")))?;
    let host = authority.host().trim_matches(['[', ']']).to_string();
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok((tls, host, port, authority.to_string()))
}

/// A TLS client configuration trusting `ca_pem` (or the public web roots).
pub fn tls_config(ca_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, AgentError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| AgentError::Config(format!("CA file: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| AgentError::Config(format!("CA file: {e}")))?;
            }
            if roots.is_empty() {
                return Err(AgentError::Config(
                    "the CA file holds no certificate".into(),
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AgentError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Runs the agent until `stop`: connects, serves, and reconnects whenever the tunnel drops.
/// Returns only on `stop` or a configuration error.
pub async fn run(
    config: AgentConfig,
    kube: kube::Client,
    stop: CancellationToken,
) -> Result<(), AgentError> {
    let tls = match target(&config.platform_url)?.0 {
        true => Some(tls_config(config.ca_pem.as_deref())?),
        false => None,
    };
    let mut attempt: u32 = 0;
    loop {
        match connect(&config, tls.clone(), kube.clone()).await {
            Ok(mux) => {
                attempt = 0;
                tracing::info!(cluster = %config.cluster, platform = %config.platform_url, "tunnel connected");
                tokio::select! {
                    _ = mux.done.cancelled() => {
                        tracing::warn!(cluster = %config.cluster, "tunnel lost; reconnecting");
                    }
                    _ = stop.cancelled() => {
                        mux.close();
                        return Ok(());
                    }
                }
            }
            Err(e @ AgentError::Config(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(cluster = %config.cluster, error = %e, "connecting the tunnel failed")
            }
        }
        let wait = protocol::backoff(
            attempt,
            config.backoff_base,
            config.backoff_max,
            rand::random::<f64>(),
        );
        attempt = attempt.saturating_add(1);
        tracing::debug!(wait_ms = wait.as_millis() as u64, "next tunnel attempt");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return Ok(()),
        }
    }
}

/// One connection: TCP, TLS, the upgrade, then the multiplexed session with its heartbeats.
pub async fn connect(
    config: &AgentConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    kube: kube::Client,
) -> Result<Mux, AgentError> {
    let limit = config.connect_timeout;
    tokio::time::timeout(limit, handshake(config, tls))
        .await
        .map_err(|_| AgentError::Timeout(limit))?
        .map(|io| start(config, io, kube))
}

async fn handshake(
    config: &AgentConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<hyper::upgrade::Upgraded, AgentError> {
    let (_, host, port, authority) = target(&config.platform_url)?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| AgentError::Connect(format!("{host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = match tls {
        Some(tls) => {
            let name = rustls_pki_types::ServerName::try_from(host.clone())
                .map_err(|e| AgentError::Config(format!("platform host {host:?}: {e}")))?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| AgentError::Connect(format!("TLS with {host}: {e}")))?;
            Box::new(stream)
        }
        None => Box::new(tcp),
    };
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| AgentError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let req = Request::get(protocol::PATH)
        .header(header::HOST, authority)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, protocol::UPGRADE)
        .header(header::AUTHORIZATION, format!("Bearer {}", config.token))
        .header(protocol::CLUSTER_HEADER, &config.cluster)
        .header(
            protocol::HEARTBEAT_HEADER,
            config.heartbeat.as_millis().to_string(),
        )
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| AgentError::Config(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| AgentError::Connect(e.to_string()))?;
    match resp.status() {
        StatusCode::SWITCHING_PROTOCOLS => {}
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            return Err(AgentError::Refused(config.cluster.clone()));
        }
        other => {
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| {
                    String::from_utf8_lossy(&b.to_bytes())
                        .chars()
                        .take(300)
                        .collect()
                })
                .unwrap_or_default();
            return Err(AgentError::Unexpected(other, body));
        }
    }
    hyper::upgrade::on(resp)
        .await
        .map_err(|e| AgentError::Connect(format!("upgrade: {e}")))
}

fn start(config: &AgentConfig, io: hyper::upgrade::Upgraded, kube: kube::Client) -> Mux {
    let mux = mux::spawn(
        hyper_util::rt::TokioIo::new(io),
        yamux::Mode::Client,
        super::MAX_STREAMS,
        move |stream| {
            tokio::spawn(serve_stream(kube.clone(), stream));
        },
    );
    tokio::spawn(heartbeats(mux.clone(), config.heartbeat));
    mux
}

/// Sends heartbeats on the control stream and closes the tunnel when echoes stop coming.
async fn heartbeats(mux: Mux, period: Duration) {
    let Ok(control) = mux.open().await else {
        mux.close();
        return;
    };
    let (mut read, mut write) = tokio::io::split(control);
    let (echo_tx, mut echo_rx) = tokio::sync::watch::channel(());
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; protocol::HEARTBEAT_LEN];
        while read.read_exact(&mut buf).await.is_ok() {
            echo_tx.send_replace(());
        }
    });
    let dead_after = period * protocol::MISSED_HEARTBEATS;
    let mut last_echo = tokio::time::Instant::now();
    let mut n: u64 = 0;
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = mux.done.cancelled() => break,
            r = echo_rx.changed() => {
                if r.is_err() {
                    break;
                }
                last_echo = tokio::time::Instant::now();
            }
            _ = tick.tick() => {
                if last_echo.elapsed() > dead_after {
                    tracing::warn!("the platform stopped answering heartbeats");
                    break;
                }
                n = n.wrapping_add(1);
                let sent = write.write_all(&protocol::encode_heartbeat(n)).await;
                if sent.is_err() || write.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    reader.abort();
    mux.close();
}

/// Serves one stream: an HTTP/1.1 connection whose requests go to the member's API server.
async fn serve_stream(kube: kube::Client, stream: MuxStream) {
    let service = hyper::service::service_fn(move |req| forward(kube.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "tunnel stream ended");
    }
}

fn status(code: StatusCode, message: String) -> Response<kube::client::Body> {
    let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": "ServiceUnavailable", "code": code.as_u16()});
    let mut resp = Response::new(kube::client::Body::from(body.to_string().into_bytes()));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Headers the agent never passes on: its own credentials go with the request.
const DROPPED: [header::HeaderName; 3] = [header::AUTHORIZATION, header::HOST, header::COOKIE];

/// Forwards one request to the member's API server; an upgrade's bytes are then copied both
/// ways between the tunnel stream and the API server.
async fn forward(
    kube: kube::Client,
    mut req: Request<Incoming>,
) -> Result<Response<kube::client::Body>, Infallible> {
    let upgrading = req.headers().contains_key(header::UPGRADE);
    let platform_side = upgrading.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    for h in &DROPPED {
        parts.headers.remove(h);
    }
    let body = match body.collect().await {
        Ok(b) => kube::client::Body::from(b.to_bytes()),
        Err(e) => {
            return Ok(status(
                StatusCode::BAD_REQUEST,
                format!("reading the request body from the tunnel: {e}"),
            ));
        }
    };
    let mut resp = match kube.send(Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(status(
                StatusCode::BAD_GATEWAY,
                format!("the agent could not reach its cluster's API server: {e}"),
            ));
        }
    };
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(platform_side) = platform_side
    {
        let cluster_side = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (Ok(a), Ok(b)) = (platform_side.await, cluster_side.await) else {
                tracing::debug!("upgrade through the tunnel did not complete");
                return;
            };
            let mut a = hyper_util::rt::TokioIo::new(a);
            let mut b = hyper_util::rt::TokioIo::new(b);
            if let Err(e) = tokio::io::copy_bidirectional(&mut a, &mut b).await {
                tracing::debug!(error = %e, "upgraded stream ended");
            }
        });
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_urls() {
        let (tls, host, port, auth) = target("https://platform.example:30880").expect("url");
        assert!(tls);
        assert_eq!(
            (host.as_str(), port, auth.as_str()),
            ("platform.example", 30880, "platform.example:30880")
        );
        assert_eq!(target("http://127.0.0.1").expect("url").2, 80);
        assert_eq!(target("https://[::1]").expect("url").1, "::1");
        assert!(matches!(target("ftp://x"), Err(AgentError::Config(_))));
        assert!(matches!(target("platform"), Err(AgentError::Config(_))));
        let c = AgentConfig::new("https://p", "c", "secret-token");
        assert!(!format!("{c:?}").contains("secret-token"));
    }
}
