//! An installed extension's routes in the fixture (issue 14): the routing objects an
//! extension's chart makes — an `APIService` for group `hello.kubesphere.io` (`/kapis/
//! hello.kubesphere.io/v1alpha1/…`), a `ReverseProxy` for `/proxy/hello/*` (with `authProxy`)
//! and a `JSBundle` served at `/dist/hello/index.js`, labelled with their extension — in front
//! of a backend the test runs on 127.0.0.1 that answers every request with who it saw. The
//! grammar generates these paths; the platform must authorize them like any other request by
//! its RequestInfo before the backend sees anything, and the backend must see the caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::Client;

/// What every answer of the backend carries, to tell it from the platform's own answers.
pub const MARK: &str = "isolation-extension-backend";

/// The extension's backend: its URL and how many requests reached it.
pub struct Backend {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests it has answered.
    pub hits: Arc<AtomicU32>,
}

impl Backend {
    /// Requests answered so far.
    pub fn hits(&self) -> u32 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Starts the backend: each request is counted and answered 200 with
/// `{"mark", "user", "path"}` (`user` from `X-Remote-User`, empty when none came).
async fn backend() -> Backend {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let counter = counter.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let user = req
                        .headers()
                        .get("x-remote-user")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let body = json!({"mark": MARK, "user": user, "path": req.uri().path()});
                    async move {
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(bytes::Bytes::from(
                                body.to_string(),
                            )))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service),
            );
        }
    });
    Backend { url, hits }
}

/// Makes the extension's routing objects (as its release would, labelled with it) in front
/// of a new backend, and waits until the platform routes all three.
pub async fn install(c: &Client, admin: &str) -> Backend {
    let b = backend().await;
    let ext = "/apis/extensions.kubesphere.io/v1alpha1";
    let meta =
        |name: &str| json!({"name": name, "labels": {"kubesphere.io/extension-ref": "hello"}});
    let objects = [
        (
            "apiservices",
            "APIService",
            meta("v1alpha1.hello.kubesphere.io"),
            json!({"group": "hello.kubesphere.io", "version": "v1alpha1", "url": b.url}),
        ),
        (
            "reverseproxies",
            "ReverseProxy",
            meta("hello"),
            json!({"matcher": {"path": "/proxy/hello/*", "method": "*"},
                "upstream": {"url": b.url}, "directives": {"authProxy": true}}),
        ),
        (
            "jsbundles",
            "JSBundle",
            meta("hello"),
            json!({"raw": B64.encode("export default {}")}),
        ),
    ];
    for (plural, kind, metadata, spec) in objects {
        let body = json!({"apiVersion": "extensions.kubesphere.io/v1alpha1", "kind": kind,
            "metadata": metadata, "spec": spec});
        c.ok(Method::POST, &format!("{ext}/{plural}"), admin, Some(body))
            .await;
    }
    for path in [
        "/kapis/hello.kubesphere.io/v1alpha1/hellos",
        "/proxy/hello/status",
        "/dist/hello/index.js",
    ] {
        crate::fixture::eventually(c, Method::GET, path, admin, None, StatusCode::OK).await;
    }
    b
}

/// Judges an answer of the backend (the caller's identity must be what it saw); `None` when
/// it passes or is not the backend's.
pub fn misidentified(user: &str, body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    if v["mark"] != MARK || v["user"] == user {
        return None;
    }
    Some(format!(
        "the extension's backend saw {} for {user}'s request",
        v["user"]
    ))
}
