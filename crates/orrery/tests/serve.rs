//! `orrery serve` as the README runs it: the embedded host cluster answers kubectl with its
//! four system namespaces, and the platform in front of it logs the admin in, reports the admin
//! as uninitialized (the console forces a password change) and serves the host's API to them.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Serve {
    child: Child,
    url: String,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Serve {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kube-listen",
            "127.0.0.1:0",
            "--admin-password",
            "Initial-passw0rd",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut kubeconfig, mut login) = (None, None, false);
    while url.is_none() || kubeconfig.is_none() || !login {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("orrery serve did not get ready within 60 s");
        if let Some(u) = line.strip_prefix("ready platform ") {
            url = Some(u.trim().to_string());
        } else if let Some(k) = line.strip_prefix("kubeconfig ") {
            kubeconfig = Some(PathBuf::from(k.trim()));
        } else if line.contains("Log in as admin") {
            login = true;
        }
    }
    Serve {
        child,
        url: url.unwrap_or_default(),
        kubeconfig: kubeconfig.unwrap_or_default(),
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_host_cluster_and_the_platform() {
    let s = serve();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["get", "ns", "-o", "name"])
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = String::from_utf8_lossy(&out.stdout);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            names.lines().any(|l| l == format!("namespace/{ns}")),
            "{ns} in {names}"
        );
    }

    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("http client");
    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", s.url))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "Initial-passw0rd"),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    let access = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    assert_eq!(token["token_type"], "Bearer", "{token}");

    let bad = http
        .post(format!("{}/oauth/token", s.url))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "wrong-Passw0rd"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(bad.status(), 401);
    let bad: serde_json::Value = bad.json().await.expect("OAuth error JSON");
    assert_eq!(bad["error"], "invalid_grant", "{bad}");

    let admin: serde_json::Value = http
        .get(format!(
            "{}/kapis/iam.kubesphere.io/v1beta1/users/admin",
            s.url
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get admin")
        .json()
        .await
        .expect("user JSON");
    assert_eq!(
        admin["metadata"]["annotations"]["iam.kubesphere.io/uninitialized"], "true",
        "{admin}"
    );
    let nss = http
        .get(format!("{}/api/v1/namespaces", s.url))
        .bearer_auth(&access)
        .send()
        .await
        .expect("list namespaces");
    assert_eq!(nss.status(), 200);
    let nss: serde_json::Value = nss.json().await.expect("namespace list");
    assert!(
        nss["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|n| n["metadata"]["name"] == "kube-system")),
        "{nss}"
    );
    let anonymous = http
        .get(format!("{}/api/v1/namespaces", s.url))
        .send()
        .await
        .expect("anonymous list");
    assert!(
        anonymous.status() == 401 || anonymous.status() == 403,
        "{}",
        anonymous.status()
    );
}
