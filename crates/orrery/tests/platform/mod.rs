//! `orrery serve --kubeconfig` processes in front of a separately started host cluster, and the
//! platform API calls the deployment tests make of them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

/// The administrator's password of a [`replica`].
pub const ADMIN_PASSWORD: &str = "Initial-passw0rd";

/// Flags of a [`replica`] that resyncs and health-checks its member clusters every second.
pub const FAST_MEMBERS: &[&str] = &["--resync-period", "1s", "--health-check-period", "1s"];

/// A replica as the HA and upgrade tests start them: the administrator's password
/// [`ADMIN_PASSWORD`], a 5 s Lease retried every second, then `extra` flags and `env`.
pub fn replica(kubeconfig: &Path, identity: &str, extra: &[&str], env: &[(&str, &str)]) -> Replica {
    let mut flags = vec![
        "--admin-password",
        ADMIN_PASSWORD,
        "--lease-duration",
        "5s",
        "--lease-retry-period",
        "1s",
    ];
    flags.extend_from_slice(extra);
    Replica::start(kubeconfig, identity, &flags, env)
}

/// One platform replica; killed on drop.
pub struct Replica {
    pub child: Child,
    pub url: String,
    pub identity: String,
    _dir: tempfile::TempDir,
}

impl Replica {
    /// Starts `orrery serve --kubeconfig KUBECONFIG` with `extra` flags and `env`, and waits
    /// (at most 90 s) until it serves and has bootstrapped the host.
    pub fn start(
        kubeconfig: &Path,
        identity: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Replica {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orrery"));
        cmd.arg("serve")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--listen", "127.0.0.1:0", "--leader-identity", identity])
            .arg("--data-dir")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn orrery serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut url, mut login) = (None, false);
        while url.is_none() || !login {
            let line = rx
                .recv_timeout(Duration::from_secs(90))
                .unwrap_or_else(|_| panic!("replica {identity} did not get ready within 90 s"));
            if let Some(u) = line.strip_prefix("ready platform ") {
                url = Some(u.trim().to_string());
            } else if line.starts_with("Log in as admin") {
                login = true;
            }
        }
        Replica {
            child,
            url: url.unwrap_or_default(),
            identity: identity.to_string(),
            _dir: dir,
        }
    }

    /// SIGKILL, and waits for the process to end.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP client for the platform (its certificate is self-signed).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// The access token of a password grant, or the error answer.
pub async fn login(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
) -> Result<String, Value> {
    let v: Value = http
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    v["access_token"].as_str().map(str::to_string).ok_or(v)
}

/// One request as `token`: the status and the JSON body (`Null` if none).
pub async fn call(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `check` every 100 ms until it gives `Some`, at most `limit`; panics with `what`.
pub async fn until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Names of a list's items.
pub fn names(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .collect()
}

/// A kubeconfig for `server` (the CA of `admin_kubeconfig`) authenticating with `token`.
pub fn token_kubeconfig(admin_kubeconfig: &Path, token: &str, out: &Path) {
    let text = std::fs::read_to_string(admin_kubeconfig).expect("read kubeconfig");
    let kc: serde_json::Value = kubeconfig_json(&text);
    let cluster = &kc["clusters"][0]["cluster"];
    let server = cluster["server"].as_str().expect("server");
    let ca = cluster["certificate-authority-data"]
        .as_str()
        .expect("CA data");
    let doc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: host\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: sa\n  context:\n    cluster: host\n    user: sa\ncurrent-context: sa\n"
    );
    std::fs::write(out, doc).expect("write kubeconfig");
}

/// Reads a kubeconfig through kube-rs' own parser and gives it back as JSON.
fn kubeconfig_json(text: &str) -> Value {
    let kc = kube::config::Kubeconfig::from_yaml(text).expect("parse kubeconfig");
    serde_json::to_value(kc).expect("kubeconfig as JSON")
}
