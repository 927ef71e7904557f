//! A host and member clusters, each member an `orrery cluster` process started by the test:
//! joining (client-certificate and exec-plugin kubeconfigs), status, the cluster proxy (reads,
//! writes, watches, authorization against each member's namespaces and bindings), validation
//! refusals, and a member that goes down and comes back.
#[path = "../common/mod.rs"]
mod common;

mod agent;
mod alerting;
mod appstore;
mod example_extension;
mod exec;
mod extensions;
mod fault;
mod join;
mod matrix;
mod quotas;
mod validation;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::kubectl::{kubectl, out};
use common::process::OrreryCluster;
use common::*;
use platform::PlatformConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CLUSTERS: &str = "/apis/cluster.kubesphere.io/v1alpha1/clusters";
const VALIDATION: &str = "/kapis/cluster.kubesphere.io/v1alpha1/clusters/validation";

fn fast_clusters(c: &mut PlatformConfig, allow: Vec<String>) {
    c.clusters.health_period = Duration::from_millis(300);
    c.clusters.health_timeout = Duration::from_secs(2);
    c.clusters.backoff_max = Duration::from_secs(1);
    c.clusters.proxy_timeout = Duration::from_secs(10);
    if !allow.is_empty() {
        c.clusters.exec_allow = allow;
    }
}

fn cluster_body(name: &str, kubeconfig: &str) -> Value {
    json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"provider": "orrery", "connection": {"type": "direct",
            "kubeconfig": B64.encode(kubeconfig.as_bytes())}}})
}

/// A kubeconfig whose user is a client certificate (CN=admin, O=system:masters) signed by the
/// member's CA.
fn cert_kubeconfig(m: &OrreryCluster, name: &str) -> String {
    let ca = apiserver::pki::CertificateAuthority::load_or_create(&m.dir.join("pki")).expect("ca");
    let (cert, key) = ca
        .issue(
            "admin",
            &["system:masters".to_string()],
            &[],
            &[],
            false,
            365,
        )
        .expect("issue");
    apiserver::pki::kubeconfig_yaml(
        name,
        &m.url,
        &m.ca_pem(),
        "admin",
        apiserver::pki::KubeconfigAuth::ClientCert {
            cert_pem: &cert,
            key_pem: &key,
        },
    )
}

/// A small exec plugin printing an ExecCredential with `token`.
fn write_plugin(dir: &Path, token: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("orrery-test-credential-plugin");
    let script = format!(
        "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n"
    );
    std::fs::write(&path, script).expect("write plugin");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn exec_kubeconfig(m: &OrreryCluster, name: &str, command: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\nusers:\n- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {command}\n      interactiveMode: Never\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\ncurrent-context: {name}\n",
        url = m.url,
        ca = B64.encode(m.ca_pem().as_bytes()),
    )
}

async fn join(c: &Client, admin: &str, name: &str, kubeconfig: &str) -> Value {
    let (s, v) = c
        .post(CLUSTERS, admin, cluster_body(name, kubeconfig))
        .await;
    assert_eq!(s, StatusCode::CREATED, "join {name}: {v}");
    v
}

fn ready_status(cluster: &Value) -> Option<&str> {
    cluster["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
}

/// Waits (bounded) until the Cluster's Ready condition is `want`; returns the Cluster.
async fn wait_ready(c: &Client, admin: &str, name: &str, want: bool, within: Duration) -> Value {
    let want = if want { "True" } else { "False" };
    let deadline = Instant::now() + within;
    loop {
        let (s, v) = c.get(&format!("{CLUSTERS}/{name}"), admin).await;
        if s == StatusCode::OK && ready_status(&v) == Some(want) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "cluster {name} did not turn Ready={want} within {within:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Retries `path` until it answers `want` (caches of a member catch up) or 20 s pass.
async fn eventually(
    c: &Client,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    want: StatusCode,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = c
            .call(method.clone(), path, Some(token), body.clone())
            .await;
        if s == want {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{method} {path}: {s} {v}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn namespace(name: &str, ws: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubesphere.io/workspace": ws}}})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

async fn member_client(m: &OrreryCluster) -> kube::Client {
    kube::Client::try_from(kube_config(&m.kubeconfig).await).expect("member client")
}

/// Workspace `ws` managed by `manager`, placed on the host and cluster `member`.
async fn placed_workspace(c: &Client, admin: &str, ws: &str, manager: &str, member: &str) {
    let t = json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
        "metadata": {"name": ws},
        "spec": {"template": {"spec": {"manager": manager}},
            "placement": {"clusters": [{"name": "host"}, {"name": member}]}}});
    c.ok(
        Method::POST,
        &format!("{TENANT}/workspacetemplates"),
        admin,
        Some(t),
    )
    .await;
}

/// Creates project `ns` of workspace `ws` in cluster `member` as `token` (retried while the
/// member's caches catch up with the workspace).
async fn member_project(c: &Client, token: &str, member: &str, ws: &str, ns: &str) {
    eventually(
        c,
        Method::POST,
        &format!("/clusters/{member}{TENANT}/workspaces/{ws}/namespaces"),
        token,
        Some(json!({"metadata": {"name": ns}})),
        StatusCode::OK,
    )
    .await;
}
