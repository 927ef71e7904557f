//! Clusters behind NAT (`spec.connection.type: proxy`): members joined by a join token only,
//! reached through an `orrery agent` process that dials out to the platform over TLS.
use std::process::{Child, Command, Stdio};

use super::exec::{exec_echoes, exec_upstream};
use super::*;

const TOKEN_NS: &str = "kubesphere-system";

fn proxy_body(name: &str) -> Value {
    json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"provider": "orrery", "connection": {"type": "proxy"}}})
}

/// The join token and platform CA from the manifests the platform serves for the agent.
async fn agent_manifest(c: &Client, admin: &str, name: &str) -> (String, String) {
    let path = format!("/kapis/cluster.kubesphere.io/v1alpha1/clusters/{name}/agent/deployment");
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let r = c
            .inner
            .get(format!("{}{path}", c.base))
            .bearer_auth(admin)
            .send()
            .await
            .expect("get manifests");
        let status = r.status();
        let text = r.text().await.expect("body");
        if status == StatusCode::OK {
            break text;
        }
        assert!(Instant::now() < deadline, "{path}: {status} {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secret = text
        .split("\n---\n")
        .find(|d| d.contains("kind: Secret"))
        .expect("a Secret in the manifests");
    let secret: Value = serde_saphyr::from_str(secret).expect("secret yaml");
    let token = secret["stringData"]["token"].as_str().expect("token");
    let ca = secret["stringData"]["ca.crt"]
        .as_str()
        .expect("platform CA");
    (token.to_string(), ca.to_string())
}

/// An `orrery agent` process (killed on drop).
struct Agent {
    child: Option<Child>,
    cluster: String,
    platform: String,
    ca_file: PathBuf,
    kubeconfig: PathBuf,
    token: String,
}

impl Agent {
    fn start(
        cluster: &str,
        platform: &str,
        ca_file: &Path,
        kubeconfig: &Path,
        token: &str,
    ) -> Agent {
        let mut a = Agent {
            child: None,
            cluster: cluster.into(),
            platform: platform.into(),
            ca_file: ca_file.into(),
            kubeconfig: kubeconfig.into(),
            token: token.into(),
        };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        let child = Command::new(common::process::orrery_bin())
            .args([
                "agent",
                "--platform-url",
                &self.platform,
                "--cluster",
                &self.cluster,
            ])
            .arg("--ca-file")
            .arg(&self.ca_file)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args([
                "--heartbeat",
                "300ms",
                "--backoff",
                "100ms",
                "--backoff-max",
                "1s",
            ])
            .env("ORRERY_AGENT_TOKEN", &self.token)
            .env("ORRERY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn orrery agent");
        self.child = Some(child);
    }

    /// SIGKILL, as a node failure or OOM kill would.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends the agent's handshake with `token` over plain HTTP and returns the status line.
async fn handshake_status(platform: std::net::SocketAddr, cluster: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(platform)
        .await
        .expect("connect");
    let req = format!(
        "GET /agent/v1/tunnel HTTP/1.1\r\nHost: {platform}\r\nConnection: Upgrade\r\nUpgrade: orrery-tunnel.v1\r\nAuthorization: Bearer {token}\r\nOrrery-Cluster: {cluster}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 12];
    s.read_exact(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

struct Joined {
    env: Env,
    admin: String,
    https: String,
    ca_file: PathBuf,
    token: String,
}

/// A platform with proxy cluster `name` joined (no agent yet): its token and CA.
async fn joined(name: &str) -> Joined {
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let admin = env.admin().await;
    let (s, v) = env.http.post(CLUSTERS, &admin, proxy_body(name)).await;
    assert_eq!(s, StatusCode::CREATED, "join {name}: {v}");
    assert!(v["spec"]["connection"].get("kubeconfig").is_none(), "{v}");
    let (token, ca) = agent_manifest(&env.http, &admin, name).await;
    let ca_file = env.dir.path().join(format!("{name}-platform-ca.crt"));
    std::fs::write(&ca_file, ca).expect("write ca");
    let https = format!("https://{}", env.platform.addr);
    Joined {
        env,
        admin,
        https,
        ca_file,
        token,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_tunnel_relays_reads_writes_watches_and_upgrades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let member = OrreryCluster::start_async(&dir.path().join("m")).await;
    let j = joined("edge").await;
    let (c, admin) = (&j.env.http, j.admin.as_str());
    // Only administrators see the join token.
    create_user(c, admin, "bob").await;
    let bob = c.login("bob", USER_PW).await;
    let (s, _) = c
        .get(
            "/kapis/cluster.kubesphere.io/v1alpha1/clusters/edge/agent/deployment",
            &bob,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // No agent yet: the cluster is not Ready and the proxy answers 503.
    wait_ready(c, admin, "edge", false, Duration::from_secs(30)).await;
    let (s, _) = c.get("/clusters/edge/api/v1/namespaces", admin).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);

    let _agent = Agent::start("edge", &j.https, &j.ca_file, &member.kubeconfig, &j.token);
    let cluster = wait_ready(c, admin, "edge", true, Duration::from_secs(30)).await;
    // The status is the member's own, read through the tunnel.
    let direct = member_client(&member).await;
    let ns: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(direct.clone());
    let uid = ns
        .get("kube-system")
        .await
        .expect("kube-system")
        .metadata
        .uid;
    assert_eq!(cluster["status"]["uid"].as_str(), uid.as_deref());
    assert_eq!(cluster["status"]["nodeCount"], 2);

    // Reads.
    let list = eventually(
        c,
        Method::GET,
        "/clusters/edge/api/v1/namespaces/default/configmaps",
        admin,
        None,
        StatusCode::OK,
    )
    .await;
    // Writes land in the member.
    let cms = "/clusters/edge/api/v1/namespaces/default/configmaps";
    let (s, v) = c.post(cms, admin, configmap("through-tunnel")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let direct_cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(direct.clone(), "default");
    assert!(
        direct_cms
            .get_opt("through-tunnel")
            .await
            .expect("get")
            .is_some()
    );
    // A watch through the tunnel sees a write made directly in the member.
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or("0");
    let mut watch = c
        .inner
        .get(format!(
            "{}{cms}?watch=true&resourceVersion={rv}&timeoutSeconds=20",
            c.base
        ))
        .bearer_auth(admin)
        .send()
        .await
        .expect("watch");
    assert_eq!(watch.status(), StatusCode::OK);
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(configmap("watched-in-member")).expect("cm");
    direct_cms
        .create(&Default::default(), &cm)
        .await
        .expect("create directly");
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(chunk)) = watch.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"watched-in-member\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "watch stream: {seen}");
    assert!(seen.contains("\"through-tunnel\""), "{seen}");

    // A WebSocket upgrade (exec) through a second agent, in front of a small upstream.
    let upstream = exec_upstream().await;
    let kc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: {upstream}\nusers:\n- name: x\n  user:\n    token: upstream-token\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: x\ncurrent-context: x\n"
    );
    let kc_file = dir.path().join("exec-upstream.kubeconfig");
    std::fs::write(&kc_file, kc).expect("write kubeconfig");
    let (s, v) = c.post(CLUSTERS, admin, proxy_body("edge-exec")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (token, _) = agent_manifest(c, admin, "edge-exec").await;
    let _exec_agent = Agent::start("edge-exec", &j.https, &j.ca_file, &kc_file, &token);
    wait_ready(c, admin, "edge-exec", true, Duration::from_secs(30)).await;
    exec_echoes(j.env.platform.addr, admin, "edge-exec").await;
    // One agent's token does not open another cluster's tunnel.
    assert_eq!(
        handshake_status(j.env.platform.addr, "edge", &token).await,
        "HTTP/1.1 401"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_killed_frozen_restarted_and_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let member = OrreryCluster::start_async(&dir.path().join("m")).await;
    let j = joined("far").await;
    let (c, admin) = (&j.env.http, j.admin.as_str());
    let mut agent = Agent::start("far", &j.https, &j.ca_file, &member.kubeconfig, &j.token);
    wait_ready(c, admin, "far", true, Duration::from_secs(30)).await;

    // Killed: not Ready within 30 s, and the proxy refuses at once.
    agent.kill();
    wait_ready(c, admin, "far", false, Duration::from_secs(30)).await;
    let (s, _) = c.get("/clusters/far/api/v1/namespaces", admin).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // Restarted: Ready again.
    agent.spawn();
    wait_ready(c, admin, "far", true, Duration::from_secs(30)).await;
    eventually(
        c,
        Method::GET,
        "/clusters/far/api/v1/namespaces/default",
        admin,
        None,
        StatusCode::OK,
    )
    .await;

    // Frozen (SIGSTOP): the connection stays open but heartbeats stop; the platform gives it
    // up. Thawed, the agent notices and reconnects.
    agent.signal("STOP");
    wait_ready(c, admin, "far", false, Duration::from_secs(30)).await;
    agent.signal("CONT");
    wait_ready(c, admin, "far", true, Duration::from_secs(30)).await;

    // Revoked: deleting the token's Secret disconnects the agent, and its token is refused.
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(j.env.kube().await, TOKEN_NS);
    secrets
        .delete("orrery-cluster-far-agent-token", &Default::default())
        .await
        .expect("revoke");
    wait_ready(c, admin, "far", false, Duration::from_secs(30)).await;
    assert_eq!(
        handshake_status(j.env.platform.addr, "far", &j.token).await,
        "HTTP/1.1 401"
    );
    // A new token is issued; an agent given it joins again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let fresh = loop {
        let (t, _) = agent_manifest(c, admin, "far").await;
        if t != j.token {
            break t;
        }
        assert!(Instant::now() < deadline, "no new join token was issued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    agent.kill();
    agent.token = fresh;
    agent.spawn();
    wait_ready(c, admin, "far", true, Duration::from_secs(30)).await;
}
