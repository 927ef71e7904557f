//! Requests sent byte for byte: HTTP clients built on the `url` crate resolve `.`/`..` and
//! `%2e` segments before sending, so the paths under test go out through hyper's connection
//! API with the request target exactly as written.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// How long one request may take before the test reports it (no request should hang).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A request to send.
#[derive(Debug, Clone)]
pub struct Raw {
    /// HTTP method.
    pub method: String,
    /// Request target (path and query) exactly as sent.
    pub target: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body and its content type.
    pub body: Option<(String, Vec<u8>)>,
    /// Bearer token.
    pub token: String,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// The body of an error answer, or of a successful one when asked (other bodies, watches
    /// included, are not read).
    pub body: String,
}

/// Most bytes of a successful answer's body read (monitoring, alerts, events, audit records).
const BODY_LIMIT: usize = 8 << 20;

/// Sends one request on a fresh connection.
pub async fn send(addr: SocketAddr, req: &Raw) -> Result<Answer, String> {
    send_reading(addr, req, false).await
}

/// Sends one request; with `whole`, the body of a successful answer is read too (at most
/// [`BODY_LIMIT`] bytes; never for streams, which the grammar does not ask for then).
pub async fn send_reading(addr: SocketAddr, req: &Raw, whole: bool) -> Result<Answer, String> {
    tokio::time::timeout(REQUEST_TIMEOUT, send_inner(addr, req, whole))
        .await
        .map_err(|_| format!("{} {} did not answer in time", req.method, req.target))?
}

async fn send_inner(addr: SocketAddr, req: &Raw, whole: bool) -> Result<Answer, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(conn.with_upgrades());
    let mut builder = http::Request::builder()
        .method(req.method.as_str())
        .uri(req.target.as_str())
        .header(http::header::HOST, addr.to_string())
        .header(http::header::AUTHORIZATION, format!("Bearer {}", req.token));
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match &req.body {
        Some((ctype, bytes)) => {
            builder = builder.header(http::header::CONTENT_TYPE, ctype.as_str());
            Full::new(Bytes::from(bytes.clone()))
        }
        None => Full::new(Bytes::new()),
    };
    let request = builder
        .body(body)
        .map_err(|e| format!("request {:?}: {e}", req.target))?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let body = if (400..500).contains(&status) || (whole && (200..300).contains(&status)) {
        let limited = http_body_util::Limited::new(resp.into_body(), BODY_LIMIT);
        let collected = tokio::time::timeout(Duration::from_secs(10), limited.collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&collected).into_owned()
    } else {
        String::new()
    };
    driver.abort();
    Ok(Answer { status, body })
}
