//! Fairness between users (issue 11): one user's requests beyond their slots and queue get
//! 429 with Retry-After, while another user's requests are served; watches hold no slot.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

/// A POST whose headers are sent at once and whose body only when `release` fires: it holds
/// its slot until then (written by hand over TCP, so nothing buffers the headers).
fn held_post(
    c: &Client,
    token: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<StatusCode>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let addr = c.base.trim_start_matches("http://").to_string();
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"held-"}}"#;
    let head = format!(
        "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let task = tokio::spawn(async move {
        let Ok(mut tcp) = tokio::net::TcpStream::connect(&addr).await else {
            return StatusCode::default();
        };
        if tcp.write_all(head.as_bytes()).await.is_err() {
            return StatusCode::default();
        }
        let mut answer = Vec::new();
        // Refused before its body (no slot free): the answer comes at once.
        let mut first = [0u8; 1024];
        tokio::select! {
            _ = wait => {}
            n = tcp.read(&mut first) => {
                let n = n.unwrap_or(0);
                let text = String::from_utf8_lossy(&first[..n]).into_owned();
                return text.split_whitespace().nth(1)
                    .and_then(|c| c.parse::<u16>().ok())
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .unwrap_or_default();
            }
        }
        if tcp.write_all(body.as_bytes()).await.is_err() {
            return StatusCode::default();
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer);
        text.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or_default()
    });
    (release, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_flood_cannot_starve_another() {
    let env = Env::start_with(|c| {
        c.fairness.concurrency = 2;
        c.fairness.queue = 0;
        c.fairness.max_wait = Duration::from_secs(20);
    })
    .await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "bob").await;
    let bob = c.login("bob", USER_PW).await;

    // The admin (the flooding user here) fills both slots (queueing is covered by the unit
    // tests of the middleware).
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(held_post(c, &admin));
    }
    // Once both are admitted, the next request of that user is refused at once. (A held
    // request that lost the race for a slot to one of these GETs is refused itself: it is
    // replaced.)
    let mut refused = None;
    for _ in 0..100 {
        for h in held.iter_mut() {
            if h.1.is_finished() {
                *h = held_post(c, &admin);
            }
        }
        let r = c
            .inner
            .get(format!("{}/api/v1/namespaces", c.base))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("send");
        if r.status() == StatusCode::TOO_MANY_REQUESTS && held.iter().all(|h| !h.1.is_finished()) {
            refused = Some((
                r.headers().get("retry-after").cloned(),
                r.json::<Value>().await.unwrap_or_default(),
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if refused.is_none() {
        let mut states = Vec::new();
        for (_, t) in held {
            states.push(if t.is_finished() {
                format!("{:?}", t.await)
            } else {
                "in flight".into()
            });
        }
        panic!("the flooding user was never refused; held requests: {states:?}");
    }
    let (retry, status) = refused.unwrap_or_default();
    assert!(retry.is_some());
    assert_eq!(status["reason"], "TooManyRequests", "{status}");
    // Bob is served meanwhile, and a watch of the flooding user still opens.
    let (s, _) = c.get("/api/v1/namespaces/default/configmaps", &bob).await;
    assert_ne!(s, StatusCode::TOO_MANY_REQUESTS);
    let w = c
        .inner
        .get(format!(
            "{}/api/v1/namespaces?watch=true&timeoutSeconds=1",
            c.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("watch");
    assert_eq!(w.status(), StatusCode::OK);
    // Releasing the held requests lets them through.
    for (release, task) in held {
        drop(release);
        assert_eq!(task.await.unwrap_or_default(), StatusCode::CREATED);
    }
    let (s, _) = c.get("/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::OK);
}
