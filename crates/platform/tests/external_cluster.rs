//! The platform against a separately started `orrery cluster` process, reached only through
//! its kubeconfig: login, workspaces, projects, members and isolation.
mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `orrery` binary: `$ORRERY_BIN`, or built from the workspace with cargo.
fn orrery_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ORRERY_BIN") {
        return PathBuf::from(p);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = option_env!("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "orrery", "--bin", "orrery"])
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the orrery binary failed");
    target.join("debug/orrery")
}

fn start_orrery_cluster(dir: &std::path::Path) -> (Process, PathBuf) {
    let mut child = Command::new(orrery_bin())
        .args(["cluster", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery cluster");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let process = Process(child);
    let (mut ready, mut kubeconfig) = (false, None);
    while !ready || kubeconfig.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("orrery cluster did not get ready");
        if line.starts_with("ready kubernetes-api ") {
            ready = true;
        } else if let Some(k) = line.strip_prefix("kubeconfig ") {
            kubeconfig = Some(PathBuf::from(k.trim()));
        }
    }
    (process, kubeconfig.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_against_an_orrery_cluster_process() {
    let dir = tempfile::tempdir().expect("tmp");
    let cluster_dir = dir.path().join("cluster");
    let (_process, kubeconfig) =
        tokio::task::spawn_blocking(move || start_orrery_cluster(&cluster_dir))
            .await
            .expect("join");
    let config = test_config(kube_config(&kubeconfig).await, &dir.path().join("platform"));
    let p = platform::start(config)
        .await
        .expect("platform against the process");
    let c = Client::new(&p.url());
    let admin = c.login("admin", ADMIN_PW).await;
    for u in ["alice", "bob"] {
        create_user(&c, &admin, u).await;
    }
    create_workspace(&c, &admin, "a", "alice").await;
    create_workspace(&c, &admin, "b", "bob").await;
    let alice = c.login("alice", USER_PW).await;
    let bob = c.login("bob", USER_PW).await;
    create_project(&c, &alice, "a", "a-dev").await;
    create_project(&c, &bob, "b", "b-dev").await;
    add_member(
        &c,
        &alice,
        &format!("{IAM}/namespaces/a-dev/namespacemembers"),
        "bob",
        "viewer",
    )
    .await;
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), &alice, None)
                .await
        ),
        ["a"]
    );
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), &bob, None)
                .await
        ),
        ["a", "b"]
    );
    // alice writes in her project, bob may only read it; neither reaches the other's workspace.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}});
    let (s, v) = c
        .post("/api/v1/namespaces/a-dev/configmaps", &alice, cm.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = c
        .get("/api/v1/namespaces/a-dev/configmaps/conf", &bob)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c
        .post("/api/v1/namespaces/a-dev/configmaps", &bob, cm.clone())
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in [
        "/api/v1/namespaces/b-dev/configmaps",
        "/api/v1/namespaces/b-dev/configmaps?watch=true&timeoutSeconds=1",
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b",
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/b/workspacemembers",
    ] {
        let (s, _) = c.get(path, &alice).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = c.get("/api/v1/namespaces/b-dev/configmaps", &bob).await;
    assert_eq!(s, StatusCode::OK);
    let members = c
        .ok(
            Method::GET,
            &format!("{IAM}/workspaces/a/workspacemembers"),
            &alice,
            None,
        )
        .await;
    assert_eq!(names(&members), ["alice"]);
    p.shutdown().await;
}
