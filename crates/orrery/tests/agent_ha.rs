//! Issue 18: an agent's tunnel serves every replica. Two `orrery serve --kubeconfig` replicas
//! (TLS on, lease 5 s, retry 1 s) behind a small TCP load balancer that sends each new
//! connection to the first replica accepting it, as a Service would send it to one; one
//! `orrery agent` dials the balancer.
//!
//! - Reads, writes, a watch and an exec WebSocket upgrade work through the replica WITHOUT
//!   the tunnel (it relays to the holder named by the tunnel's Lease); a user's token is no
//!   relay credential.
//! - The tunnel's replica killed with SIGKILL → the agent reconnects (through the balancer) to
//!   the other, which records the tunnel, and the cluster is Ready and served again.

mod common;
mod platform;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Full = http_body_util::Full<hyper::body::Bytes>;

const PASSWORD: &str = platform::ADMIN_PASSWORD;
/// RFC 6455's sample key and its accept value (the exec upstream answers this key only).
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A replica (lease 5 s, retry 1 s) resyncing its members every second.
fn replica(host: &common::TestCluster, name: &str) -> platform::Replica {
    platform::replica(&host.kubeconfig, name, platform::FAST_MEMBERS, &[])
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .expect("replica address")
}

/// A TCP load balancer: each connection goes to the first backend that accepts it.
async fn balancer(backends: Vec<SocketAddr>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind balancer");
    let addr = listener.local_addr().expect("balancer address");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let backends = backends.clone();
            tokio::spawn(async move {
                for b in backends {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(b).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A small member API server: enough discovery and objects for the health check, and the
/// `v5.channel.k8s.io` exec of pod `p`, which greets on stdout and echoes stdin.
async fn exec_upstream() -> String {
    async fn handle(
        mut req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<Full>, Infallible> {
        let json = |v: Value| {
            hyper::Response::builder()
                .header("content-type", "application/json")
                .body(Full::from(v.to_string()))
                .unwrap_or_default()
        };
        let path = req.uri().path().to_string();
        Ok(match path.as_str() {
            "/version" => json(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-exec-upstream"})),
            "/api/v1/namespaces/kube-system" => json(json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "kube-system", "uid": "exec-upstream-uid"}})),
            "/api" => json(json!({"kind": "APIVersions", "versions": ["v1"]})),
            "/apis" => json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})),
            "/api/v1" => json(json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"]},
                {"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": ["create", "get"]},
                {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ["get", "list"]},
                {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node", "verbs": ["get", "list"]}
            ]})),
            "/api/v1/nodes" => json(json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": []})),
            "/api/v1/namespaces/default/pods/p/exec" => {
                let key = req.headers().get("sec-websocket-key").and_then(|v| v.to_str().ok());
                let protocol = req
                    .headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if key != Some(WS_KEY) || !protocol.contains("v5.channel.k8s.io") {
                    return Ok(hyper::Response::builder()
                        .status(400)
                        .body(Full::from("v5.channel.k8s.io and the sample key required"))
                        .unwrap_or_default());
                }
                let upgrade = hyper::upgrade::on(&mut req);
                tokio::spawn(async move {
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
                    let mut data = vec![0u8; (head[1] & 0x7f) as usize];
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
                hyper::Response::builder()
                    .status(101)
                    .header("upgrade", "websocket")
                    .header("connection", "Upgrade")
                    .header("sec-websocket-accept", WS_ACCEPT)
                    .header("sec-websocket-protocol", "v5.channel.k8s.io")
                    .body(Full::default())
                    .unwrap_or_default()
            }
            _ => hyper::Response::builder()
                .status(404)
                .header("content-type", "application/json")
                .body(Full::from(
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})
                        .to_string(),
                ))
                .unwrap_or_default(),
        })
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("upstream address");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(s),
                        hyper::service::service_fn(handle),
                    )
                    .with_upgrades()
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// Execs into pod `p` of `cluster` through the platform at `platform` (plain HTTP): the
/// upgrade is answered, the greeting arrives and stdin comes back echoed.
async fn exec_echoes(platform: SocketAddr, token: &str, cluster: &str) {
    let mut s = tokio::net::TcpStream::connect(platform)
        .await
        .expect("connect");
    let req = format!(
        "GET /clusters/{cluster}/api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true&stdout=true HTTP/1.1\r\nHost: {platform}\r\nAuthorization: Bearer {token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
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
        head.contains(&format!(
            "sec-websocket-accept: {}",
            WS_ACCEPT.to_ascii_lowercase()
        )),
        "{head}"
    );
    assert_eq!(&frame(&mut s).await[..], b"\x01hello from exec\n");
    let mask = [7u8, 1, 9, 3];
    let payload = b"\x00ping";
    let mut out = vec![0x82, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&out).await.expect("stdin");
    assert_eq!(&frame(&mut s).await[..], b"\x01echo: ping");
}

/// One unmasked WebSocket frame's payload (short frames only).
async fn frame(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await.expect("frame head");
    let mut data = vec![0u8; (h[1] & 0x7f) as usize];
    s.read_exact(&mut data).await.expect("frame data");
    data
}

/// An `orrery agent` process; killed on drop.
struct Agent(Child);

impl Agent {
    fn start(
        cluster: &str,
        platform: &str,
        ca: &std::path::Path,
        kubeconfig: &std::path::Path,
        token: &str,
    ) -> Agent {
        let child = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .args(["agent", "--platform-url", platform, "--cluster", cluster])
            .arg("--ca-file")
            .arg(ca)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args([
                "--heartbeat",
                "300ms",
                "--backoff",
                "100ms",
                "--backoff-max",
                "1s",
            ])
            .env("ORRERY_AGENT_TOKEN", token)
            .env("ORRERY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn orrery agent");
        Agent(child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn proxy_cluster(name: &str) -> Value {
    json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"provider": "orrery", "connection": {"type": "proxy"}}})
}

/// The join token and the platform's CA from the agent manifests the platform serves.
async fn join_material(
    http: &reqwest::Client,
    url: &str,
    admin: &str,
    name: &str,
) -> (String, String) {
    let path =
        format!("{url}/kapis/cluster.kubesphere.io/v1alpha1/clusters/{name}/agent/deployment");
    let text = platform::until(Duration::from_secs(30), "the agent manifests", || {
        let (http, path) = (http.clone(), path.clone());
        async move {
            let r = http.get(&path).bearer_auth(admin).send().await.ok()?;
            if r.status() != 200 {
                return None;
            }
            r.text().await.ok()
        }
    })
    .await;
    let secret = text
        .split("\n---\n")
        .find(|d| d.contains("kind: Secret"))
        .expect("a Secret in the manifests");
    let secret: Value = serde_saphyr::from_str(secret).expect("secret yaml");
    (
        secret["stringData"]["token"]
            .as_str()
            .expect("token")
            .to_string(),
        secret["stringData"]["ca.crt"]
            .as_str()
            .expect("CA")
            .to_string(),
    )
}

/// The replica the cluster's tunnel Lease names (while it is held).
async fn tunnel_holder(leases: &Api<Lease>, cluster: &str) -> Option<String> {
    let l = leases
        .get_opt(&format!("orrery-tunnel-{cluster}"))
        .await
        .ok()??;
    l.spec?.holder_identity.filter(|h| !h.is_empty())
}

/// Waits until `url` answers `path` with 200 (a proxied cluster is Ready at that replica).
async fn served(http: &reqwest::Client, url: &str, admin: &str, path: &str) -> Value {
    let full = format!("{url}{path}");
    platform::until(
        Duration::from_secs(30),
        &format!("{full} answers 200"),
        || {
            let (http, full) = (http.clone(), full.clone());
            async move {
                let (code, v) = platform::call(&http, Method::GET, &full, admin, None).await;
                (code == 200).then_some(v)
            }
        },
    )
    .await
}

fn cluster_ready(v: &Value) -> bool {
    v["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_replica_serves_a_proxy_cluster_and_the_tunnel_moves_when_its_replica_dies() {
    let host = common::TestCluster::start(&["--nodes", "0"]);
    let member = common::TestCluster::start(&["--nodes", "1"]);
    let mut replicas = vec![replica(&host, "replica-a"), replica(&host, "replica-b")];
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| addr_of(&r.url)).collect();
    let lb = balancer(addrs.clone()).await;
    let http = platform::http();
    let url = |i: usize| replicas[i].url.clone();
    let urls: Vec<String> = (0..2).map(url).collect();
    let admin = platform::login(&http, &urls[0], "admin", PASSWORD)
        .await
        .expect("login");
    let dir = tempfile::tempdir().expect("tempdir");

    // Two proxy clusters: the member itself, and a small upstream that speaks exec.
    let clusters = format!("{}/apis/cluster.kubesphere.io/v1alpha1/clusters", urls[0]);
    for name in ["edge", "edge-exec"] {
        let (code, v) = platform::call(
            &http,
            Method::POST,
            &clusters,
            &admin,
            Some(proxy_cluster(name)),
        )
        .await;
        assert!(code < 300, "create {name}: {code} {v}");
    }
    let (token, ca) = join_material(&http, &urls[0], &admin, "edge").await;
    let ca_file = dir.path().join("platform-ca.crt");
    std::fs::write(&ca_file, ca).expect("write CA");
    let platform_url = format!("https://{lb}");
    let _agent = Agent::start("edge", &platform_url, &ca_file, &member.kubeconfig, &token);
    let upstream = exec_upstream().await;
    let kc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: {upstream}\nusers:\n- name: x\n  user:\n    token: upstream-token\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: x\ncurrent-context: x\n"
    );
    let kc_file = dir.path().join("exec-upstream.kubeconfig");
    std::fs::write(&kc_file, kc).expect("write kubeconfig");
    let (exec_token, _) = join_material(&http, &urls[0], &admin, "edge-exec").await;
    let _exec_agent = Agent::start("edge-exec", &platform_url, &ca_file, &kc_file, &exec_token);

    // The balancer sent both agents to the first replica; its Leases say so.
    let leases: Api<Lease> = Api::namespaced(host.client().await, "kubesphere-system");
    for cluster in ["edge", "edge-exec"] {
        let holder = platform::until(Duration::from_secs(30), "the tunnel Lease", || {
            let leases = leases.clone();
            async move { tunnel_holder(&leases, cluster).await }
        })
        .await;
        assert_eq!(holder, "replica-a", "{cluster}'s tunnel");
    }
    // --- Through replica B, which holds no tunnel.
    let b = urls[1].clone();
    let cms = "/clusters/edge/api/v1/namespaces/default/configmaps";
    let list = served(&http, &b, &admin, cms).await;
    writes_and_watches_through_b(&http, &b, &admin, cms, &list, &member).await;
    // An exec upgrade through B.
    served(&http, &b, &admin, "/clusters/edge-exec/api/v1/nodes").await;
    exec_echoes(addrs[1], &admin, "edge-exec").await;
    a_users_token_is_no_relay_credential(addrs[0], &admin).await;

    // --- The tunnel's replica dies: the agent reconnects through the balancer to B.
    replicas[0].kill9();
    platform::until(Duration::from_secs(30), "B holds the tunnel", || {
        let leases = leases.clone();
        async move {
            (tunnel_holder(&leases, "edge").await.as_deref() == Some("replica-b")).then_some(())
        }
    })
    .await;
    let v = served(
        &http,
        &b,
        &admin,
        "/clusters/edge/api/v1/namespaces/default/configmaps/through-b",
    )
    .await;
    assert_eq!(v["data"]["k"], "v");
    let cluster = format!("{b}/apis/cluster.kubesphere.io/v1alpha1/clusters/edge");
    platform::until(Duration::from_secs(30), "edge Ready again", || {
        let (http, cluster, admin) = (http.clone(), cluster.clone(), admin.clone());
        async move {
            let (_, v) = platform::call(&http, Method::GET, &cluster, &admin, None).await;
            cluster_ready(&v).then_some(())
        }
    })
    .await;
    served(&http, &b, &admin, "/clusters/edge-exec/api/v1/nodes").await;
    exec_echoes(addrs[1], &admin, "edge-exec").await;

    // --- A proxy cluster deleted: its agent is refused, and its tunnel Lease (owned by the
    // Cluster) goes with it; the other cluster's stays.
    let gone = format!("{b}/apis/cluster.kubesphere.io/v1alpha1/clusters/edge-exec");
    let (code, v) = platform::call(&http, Method::DELETE, &gone, &admin, None).await;
    assert!(code < 300, "delete edge-exec: {code} {v}");
    platform::until(
        Duration::from_secs(30),
        "edge-exec's tunnel Lease deleted",
        || {
            let leases = leases.clone();
            async move {
                matches!(leases.get_opt("orrery-tunnel-edge-exec").await, Ok(None)).then_some(())
            }
        },
    )
    .await;
    let edge = leases
        .get("orrery-tunnel-edge")
        .await
        .expect("edge's tunnel Lease");
    let owners = edge.metadata.owner_references.unwrap_or_default();
    assert_eq!(
        owners
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str()))
            .collect::<Vec<_>>(),
        [("Cluster", "edge")],
        "edge's Lease belongs to its Cluster"
    );
    drop(replicas);
}

/// Through replica B, which holds no tunnel: a write lands in the member, and a watch sees a
/// write made in the member directly.
async fn writes_and_watches_through_b(
    http: &reqwest::Client,
    b: &str,
    admin: &str,
    cms: &str,
    list: &Value,
    member: &common::TestCluster,
) {
    // A write lands in the member.
    let (code, v) = platform::call(
        http,
        Method::POST,
        &format!("{b}{cms}"),
        admin,
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "through-b"}, "data": {"k": "v"}})),
    )
    .await;
    assert_eq!(code, 201, "write through B: {v}");
    let direct: Api<ConfigMap> = Api::namespaced(member.client().await, "default");
    let got = direct
        .get("through-b")
        .await
        .expect("written in the member");
    assert_eq!(
        got.data.and_then(|d| d.get("k").cloned()).as_deref(),
        Some("v")
    );
    // A watch through B sees a write made in the member directly.
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or("0");
    let mut watch = http
        .get(format!(
            "{b}{cms}?watch=true&resourceVersion={rv}&timeoutSeconds=20"
        ))
        .bearer_auth(admin)
        .send()
        .await
        .expect("watch through B");
    assert_eq!(watch.status(), 200);
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "made-in-member"}, "data": {"k": "w"}}))
            .expect("configmap");
    direct
        .create(&Default::default(), &cm)
        .await
        .expect("create in member");
    let seen = Arc::new(Mutex::new(String::new()));
    let found = tokio::time::timeout(Duration::from_secs(15), {
        let seen = seen.clone();
        async move {
            while let Ok(Some(chunk)) = watch.chunk().await {
                let mut s = seen.lock().expect("seen");
                s.push_str(&String::from_utf8_lossy(&chunk));
                if s.contains("\"made-in-member\"") {
                    return true;
                }
            }
            false
        }
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "watch through B: {}",
        seen.lock().expect("seen")
    );
    assert!(seen.lock().expect("seen").contains("\"through-b\""));
}

/// A user's token is no relay credential.
async fn a_users_token_is_no_relay_credential(replica: SocketAddr, admin: &str) {
    // A user's token is no relay credential.
    let mut s = tokio::net::TcpStream::connect(replica)
        .await
        .expect("connect");
    let relay = format!(
        "GET /agent/v1/relay HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: orrery-relay.v1\r\nOrrery-Cluster: edge\r\nAuthorization: Bearer {admin}\r\n\r\n",
        replica
    );
    s.write_all(relay.as_bytes()).await.expect("write");
    let mut status = [0u8; 12];
    s.read_exact(&mut status).await.expect("status");
    assert_eq!(&status, b"HTTP/1.1 401");
}
