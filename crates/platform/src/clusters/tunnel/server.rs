//! The platform's end of the tunnel: `GET /agent/v1/tunnel` with an upgrade, authenticated by
//! the cluster's join token; the session lasts until the agent goes, its heartbeats stop, or
//! the token is revoked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::mux::{self, MuxStream};
use super::protocol::{self, HEARTBEAT_LEN};
use super::{current_token, is_proxy};
use crate::http::Shared;

/// Why an agent is turned away (said to the agent; logged without the token).
const REFUSED: &str = "the join token is not valid for this cluster (revoked, rotated, or the cluster is not a proxy cluster); get the current token from a platform administrator";

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": if status == StatusCode::UNAUTHORIZED { "Unauthorized" } else { "BadRequest" },
        "code": status.as_u16()});
    (status, axum::Json(body)).into_response()
}

/// Whether `token` is cluster `name`'s current join token (and the cluster wants an agent).
fn authenticate(state: &Shared, name: &str, token: Option<&str>) -> Option<String> {
    let token = token?;
    let cluster = state.caches.clusters.get(name)?;
    if !is_proxy(&cluster.obj) || !cluster.obj["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let expected = current_token(&state.caches, name)?;
    protocol::token_matches(token, &expected).then_some(expected)
}

/// `GET /agent/v1/tunnel`: an agent asks to connect.
pub async fn accept(State(state): State<Shared>, mut req: Request) -> Response {
    let headers = req.headers();
    let raw = |h: &str| headers.get(h).map(|v| v.as_bytes());
    if !protocol::is_tunnel_upgrade(raw(header::UPGRADE.as_str())) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "this endpoint is for `orrery agent` (Upgrade: orrery-tunnel.v1)",
        );
    }
    let cluster = headers
        .get(protocol::CLUSTER_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let heartbeat = protocol::parse_heartbeat(raw(protocol::HEARTBEAT_HEADER));
    let token = protocol::bearer(raw(header::AUTHORIZATION.as_str()));
    let Some(token) = authenticate(&state, &cluster, token) else {
        tracing::warn!(cluster = ?cluster.chars().take(64).collect::<String>(), "agent refused: join token not valid");
        return refuse(StatusCode::UNAUTHORIZED, REFUSED);
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(io) => {
                run_session(state, cluster, token, heartbeat, io).await;
            }
            Err(e) => tracing::debug!(error = %e, "agent upgrade did not complete"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, protocol::UPGRADE)
        .body(axum::body::Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Echoes heartbeats on the control stream, noting when the last one came.
async fn answer_heartbeats(mut control: MuxStream, beat: tokio::sync::watch::Sender<()>) {
    let mut buf = [0u8; HEARTBEAT_LEN];
    while control.read_exact(&mut buf).await.is_ok() {
        beat.send_replace(());
        let n = protocol::decode_heartbeat(buf);
        if control
            .write_all(&protocol::encode_heartbeat(n))
            .await
            .is_err()
            || control.flush().await.is_err()
        {
            break;
        }
    }
}

async fn run_session(
    state: Shared,
    cluster: String,
    token: String,
    heartbeat: Duration,
    io: hyper::upgrade::Upgraded,
) {
    let (beat_tx, mut beat_rx) = tokio::sync::watch::channel(());
    let control_taken = Arc::new(AtomicBool::new(false));
    let name = cluster.clone();
    let mux = mux::spawn(
        hyper_util::rt::TokioIo::new(io),
        yamux::Mode::Server,
        super::MAX_STREAMS,
        move |stream| {
            // The agent opens one stream, the control stream; any other is dropped (reset).
            if !control_taken.swap(true, Ordering::AcqRel) {
                tokio::spawn(answer_heartbeats(stream, beat_tx.clone()));
            } else {
                tracing::debug!(cluster = %name, "agent opened an unexpected stream");
            }
        },
    );
    let tunnels = &state.clusters.tunnels;
    let session = tunnels.attach(&cluster, mux.clone(), token);
    tracing::info!(cluster = %cluster, "agent connected");
    // The other replicas learn that the cluster is reached through this one.
    if let Some(peers) = tunnels.peers() {
        let started = super::peers::Peers::session_start();
        tokio::spawn(
            peers
                .clone()
                .hold(cluster.clone(), started, mux.done.clone()),
        );
    }
    let dead_after = heartbeat * protocol::MISSED_HEARTBEATS;
    let check = (heartbeat / 2).min(Duration::from_millis(500));
    let mut last_beat = tokio::time::Instant::now();
    let reason = loop {
        tokio::select! {
            _ = mux.done.cancelled() => break "the connection closed",
            r = beat_rx.changed() => {
                if r.is_err() {
                    break "the control stream closed";
                }
                last_beat = tokio::time::Instant::now();
            }
            _ = tokio::time::sleep(check) => {
                let still = authenticate(&state, &cluster, Some(&session.token));
                if still.is_none() {
                    break "the join token was revoked";
                }
                if last_beat.elapsed() > dead_after {
                    break "heartbeats stopped";
                }
            }
        }
    };
    mux.close();
    tunnels.detach(&cluster, session.id);
    tracing::info!(cluster = %cluster, reason, "agent disconnected");
}
