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
    /// The body of an error answer (other bodies, watches included, are not read).
    pub body: String,
}

/// Sends one request on a fresh connection.
pub async fn send(addr: SocketAddr, req: &Raw) -> Result<Answer, String> {
    tokio::time::timeout(REQUEST_TIMEOUT, send_inner(addr, req))
        .await
        .map_err(|_| format!("{} {} did not answer in time", req.method, req.target))?
}

async fn send_inner(addr: SocketAddr, req: &Raw) -> Result<Answer, String> {
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
    let body = if (400..500).contains(&status) {
        let collected = tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect())
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
