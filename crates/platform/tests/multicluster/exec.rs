//! WebSocket upgrades (exec, `v5.channel.k8s.io`) through the cluster proxy.
use super::*;

/// A small upstream that passes the health checks and speaks the `v5.channel.k8s.io` exec
/// protocol: it greets on stdout (channel 1) and echoes stdin (channel 0) back on stdout.
pub(super) async fn exec_upstream() -> String {
    use axum::routing::get;
    async fn exec(mut req: axum::extract::Request) -> axum::response::Response {
        use axum::response::IntoResponse;
        use sha1::Digest;
        let protocols = req
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let key = req
            .headers()
            .get("sec-websocket-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !protocols
            .split(',')
            .any(|p| p.trim() == "v5.channel.k8s.io")
            || key.is_empty()
        {
            return (StatusCode::BAD_REQUEST, "v5.channel.k8s.io required").into_response();
        }
        let accept = B64.encode(sha1::Sha1::digest(
            format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
        ));
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let Ok(up) = upgrade.await else { return };
            let mut io = hyper_util::rt::TokioIo::new(up);
            let greet = b"\x01hello from exec\n";
            let mut frame = vec![0x82, greet.len() as u8];
            frame.extend_from_slice(greet);
            if io.write_all(&frame).await.is_err() {
                return;
            }
            let mut head = [0u8; 6];
            if io.read_exact(&mut head).await.is_err() {
                return;
            }
            let len = (head[1] & 0x7f) as usize;
            let mut data = vec![0u8; len];
            if io.read_exact(&mut data).await.is_err() {
                return;
            }
            for (i, b) in data.iter_mut().enumerate() {
                *b ^= head[2 + i % 4];
            }
            let mut reply = b"\x01echo: ".to_vec();
            reply.extend_from_slice(&data[1..]);
            let mut frame = vec![0x82, reply.len() as u8];
            frame.extend_from_slice(&reply);
            let _ = io.write_all(&frame).await;
            let _ = io.flush().await;
        });
        axum::response::Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", accept)
            .header("sec-websocket-protocol", "v5.channel.k8s.io")
            .body(axum::body::Body::empty())
            .unwrap_or_default()
    }
    let app = axum::Router::new()
        .route("/version", get(|| async { axum::Json(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-exec-upstream"})) }))
        .route("/api/v1/namespaces/kube-system", get(|| async {
            axum::Json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": "exec-upstream-uid"}}))
        }))
        // Discovery: the platform resolves every request against it before authorizing.
        .route("/api", get(|| async { axum::Json(json!({"kind": "APIVersions", "versions": ["v1"]})) }))
        .route("/apis", get(|| async { axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})) }))
        .route("/api/v1", get(|| async { axum::Json(json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"]},
            {"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": ["create", "get"]},
            {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ["get", "list"]},
            {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node", "verbs": ["get", "list"]}
        ]})) }))
        .route("/api/v1/nodes", get(|| async { axum::Json(json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": []})) }))
        .route("/api/v1/namespaces/{ns}/pods/{pod}/exec", get(exec));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn read_frame(s: &mut tokio::net::TcpStream) -> (u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.expect("frame head");
    let mut data = vec![0u8; (head[1] & 0x7f) as usize];
    s.read_exact(&mut data).await.expect("frame data");
    (head[0], data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_websocket_upgrades_pass_through_the_cluster_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = exec_upstream().await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    let kc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: {upstream}\nusers:\n- name: x\n  user:\n    token: upstream-token\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: x\ncurrent-context: x\n"
    );
    join(c, &admin, "edge", &kc).await;
    wait_ready(c, &admin, "edge", true, Duration::from_secs(30)).await;
    let req = exec_echoes(env.platform.addr, &admin, "edge").await;

    // Without credentials nothing is upgraded.
    let mut s = tokio::net::TcpStream::connect(env.platform.addr)
        .await
        .expect("connect");
    let anon = req.replace(&format!("Authorization: Bearer {admin}\r\n"), "");
    s.write_all(anon.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 12];
    s.read_exact(&mut buf).await.expect("read");
    assert_eq!(&buf, b"HTTP/1.1 401");
}

/// Execs into pod `p` of `cluster` through the platform (a WebSocket upgrade) against
/// [`exec_upstream`]: the greeting arrives and stdin comes back echoed. Returns the request.
pub(super) async fn exec_echoes(
    platform: std::net::SocketAddr,
    admin: &str,
    cluster: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(platform)
        .await
        .expect("connect");
    let req = format!(
        "GET /clusters/{cluster}/api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true&stdout=true HTTP/1.1\r\nHost: {platform}\r\nAuthorization: Bearer {admin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.expect("response head");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    assert!(
        head.contains("sec-websocket-protocol: v5.channel.k8s.io"),
        "{head}"
    );
    let (op, data) = read_frame(&mut s).await;
    assert_eq!((op, data[0]), (0x82, 1));
    assert_eq!(&data[1..], b"hello from exec\n");
    // stdin (channel 0), masked as a client must.
    let mask = [7u8, 1, 9, 3];
    let payload = b"\x00ping";
    let mut frame = vec![0x82, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await.expect("stdin");
    let (_, data) = read_frame(&mut s).await;
    assert_eq!(&data[..], b"\x01echo: ping");
    req
}
