//! `orrery serve` as the README runs it: the embedded host cluster answers kubectl with its
//! four system namespaces, and the platform in front of it logs the admin in, reports the admin
//! as uninitialized (the console forces a password change) and serves the host's API to them.
//! And `orrery serve --kubeconfig` in front of a separately started `orrery cluster` process:
//! login, users, workspaces, projects, members and isolation through nothing but that
//! cluster's Kubernetes API.

mod common;

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

/// Starts `orrery serve` with `extra` flags; `embedded` says whether it runs its own cluster
/// (and so prints its kubeconfig).
fn serve_with(extra: &[&str], embedded: bool) -> Serve {
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
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery serve");
    let ready =
        common::wait_serve_ready(&mut child, "orrery serve", Duration::from_secs(60), |r| {
            r.platform.is_some() && (!embedded || r.kubeconfig.is_some()) && r.login
        });
    Serve {
        child,
        url: ready.platform.unwrap_or_default(),
        kubeconfig: ready.kubeconfig.unwrap_or_default(),
        _dir: dir,
    }
}

fn serve() -> Serve {
    serve_with(&[], true)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Asks for a token with the password grant and the default client.
async fn password_grant(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{url}/oauth/token"))
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
}

/// Logs `user` in and returns the access token.
async fn login(http: &reqwest::Client, url: &str, user: &str, password: &str) -> String {
    let token: serde_json::Value = password_grant(http, url, user, password)
        .await
        .json()
        .await
        .expect("token JSON");
    token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {token}"))
        .to_string()
}

/// Sends a JSON request with a bearer token; returns the status and the JSON body.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn item_names(v: &serde_json::Value) -> Vec<String> {
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_kubeconfig_uses_only_that_clusters_api() {
    let cluster = common::TestCluster::start(&["--nodes", "0"]);
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let s = serve_with(&["--kubeconfig", &kubeconfig], false);
    let http = http();
    let admin = login(&http, &s.url, "admin", "Initial-passw0rd").await;
    let api = PlatformApi {
        iam: format!("{}/kapis/iam.kubesphere.io/v1beta1", s.url),
        tenant: format!("{}/kapis/tenant.kubesphere.io/v1beta1", s.url),
        url: s.url.clone(),
    };
    alice_and_two_workspaces(&http, &api, &admin).await;
    kept_in_the_cluster(&cluster);
    alice_views_ws_a(&http, &api, &admin).await;
    let alice = login(&http, &s.url, "alice", "Alice-passw0rd").await;
    alice_sees_only_ws_a(&http, &api, &alice).await;
}

/// Where the platform's APIs are.
struct PlatformApi {
    url: String,
    iam: String,
    tenant: String,
}

/// User alice, and workspaces ws-a and ws-b with a project each.
async fn alice_and_two_workspaces(http: &reqwest::Client, api: &PlatformApi, admin: &str) {
    use reqwest::Method;
    let (iam, tenant) = (&api.iam, &api.tenant);
    let alice = serde_json::json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
        "metadata": {"name": "alice"}, "spec": {"email": "alice@example.com", "password": "Alice-passw0rd"}});
    let (code, v) = call(
        http,
        Method::POST,
        &format!("{iam}/users"),
        admin,
        Some(alice),
    )
    .await;
    assert!(code < 300, "create alice: {code} {v}");
    for ws in ["ws-a", "ws-b"] {
        let t = serde_json::json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
            "metadata": {"name": ws}, "spec": {"template": {"spec": {"manager": "admin"}},
            "placement": {"clusters": [{"name": "host"}]}}});
        let (code, v) = call(
            http,
            Method::POST,
            &format!("{tenant}/workspacetemplates"),
            admin,
            Some(t),
        )
        .await;
        assert!(code < 300, "create {ws}: {code} {v}");
        let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("{ws}-proj")}});
        let (code, v) = call(
            http,
            Method::POST,
            &format!("{tenant}/workspaces/{ws}/namespaces"),
            admin,
            Some(ns),
        )
        .await;
        assert!(code < 300, "create project in {ws}: {code} {v}");
    }
}

/// Everything the platform keeps is in the cluster process, seen with its own kubeconfig.
fn kept_in_the_cluster(cluster: &common::TestCluster) {
    let labels = cluster.ok(&[
        "get",
        "ns",
        "ws-a-proj",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(
        labels.contains(r#""kubesphere.io/workspace":"ws-a""#),
        "{labels}"
    );
    let users = cluster.ok(&["get", "users.iam.kubesphere.io", "-o", "name"]);
    assert!(users.contains("user.iam.kubesphere.io/alice"), "{users}");
    let templates = cluster.ok(&[
        "get",
        "workspacetemplates.tenant.kubesphere.io",
        "-o",
        "name",
    ]);
    assert!(
        templates.contains("ws-a") && templates.contains("ws-b"),
        "{templates}"
    );
}

/// alice becomes a viewer of ws-a.
async fn alice_views_ws_a(http: &reqwest::Client, api: &PlatformApi, admin: &str) {
    use reqwest::Method;
    let iam = &api.iam;
    let members = serde_json::json!([{"username": "alice", "roleRef": "ws-a-viewer"}]);
    let (code, v) = call(
        http,
        Method::POST,
        &format!("{iam}/workspaces/ws-a/workspacemembers"),
        admin,
        Some(members),
    )
    .await;
    assert!(code < 300, "add alice to ws-a: {code} {v}");
}

/// alice sees and reads ws-a only, and writes nothing.
async fn alice_sees_only_ws_a(http: &reqwest::Client, api: &PlatformApi, alice: &str) {
    use reqwest::Method;
    let (tenant, url) = (&api.tenant, &api.url);
    // The platform's caches follow the cluster's watches: wait until the binding is seen.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let (code, v) = call(
            http,
            Method::GET,
            &format!("{tenant}/workspaces"),
            alice,
            None,
        )
        .await;
        assert_eq!(code, 200, "{v}");
        let names = item_names(&v);
        if !names.is_empty() || std::time::Instant::now() > deadline {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        seen,
        vec!["ws-a".to_string()],
        "alice sees only her workspace"
    );
    let (code, v) = call(
        http,
        Method::GET,
        &format!("{}/api/v1/namespaces/ws-a-proj/configmaps", url),
        alice,
        None,
    )
    .await;
    assert_eq!(code, 200, "a viewer reads her project: {v}");
    let (code, v) = call(
        http,
        Method::GET,
        &format!("{}/api/v1/namespaces/ws-b-proj/configmaps", url),
        alice,
        None,
    )
    .await;
    assert_eq!(code, 403, "another workspace's project: {v}");
    assert_eq!(v["kind"], "Status", "{v}");
    let cm =
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let (code, v) = call(
        http,
        Method::POST,
        &format!("{}/api/v1/namespaces/ws-a-proj/configmaps", url),
        alice,
        Some(cm),
    )
    .await;
    assert_eq!(code, 403, "a viewer cannot write: {v}");
    let (code, v) = call(
        http,
        Method::GET,
        &format!("{tenant}/workspaces/ws-b/namespaces"),
        alice,
        None,
    )
    .await;
    assert_eq!(code, 403, "another workspace's projects: {v}");
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

    let http = http();
    let token: serde_json::Value = password_grant(&http, &s.url, "admin", "Initial-passw0rd")
        .await
        .json()
        .await
        .expect("token JSON");
    let access = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    assert_eq!(token["token_type"], "Bearer", "{token}");

    let bad = password_grant(&http, &s.url, "admin", "wrong-Passw0rd").await;
    assert_eq!(bad.status(), 400, "RFC 6749 §5.2, as KubeSphere");
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

/// Issue 11: `serve --admin-password` follows the password policy; a weak one is refused at
/// once with the rule it breaks, and nothing is started or written.
#[test]
fn a_weak_admin_password_is_refused() {
    for (weak, rule) in [
        ("abc", "8"),
        ("alllowercase1", "upper"),
        ("NoDigitsHere", "digit"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--kube-listen",
                "127.0.0.1:0",
            ])
            .args(["--admin-password", weak, "--data-dir"])
            .arg(dir.path().join("data"))
            .output()
            .expect("run orrery serve");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{weak} was accepted");
        assert!(
            err.contains("--admin-password is too weak") && err.to_lowercase().contains(rule),
            "{weak}: {err}"
        );
        assert!(
            !dir.path().join("data").exists(),
            "{weak}: a data dir was created"
        );
    }
    // Nor does a bad --trusted-proxies value get through.
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["serve", "--trusted-proxies", "10.0.0.0/8,not-an-address"])
        .output()
        .expect("run orrery serve");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither an IP address nor a CIDR"));
}

/// KubeSphere's partner charts of the corpus, published in the App Store of `orrery serve` and
/// deployed into a project of its embedded cluster, each reach `active`: their workloads
/// become available in the simulated data plane (Chaos Mesh's webhooks included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_charts_install_from_the_store_and_become_active() {
    use base64::Engine;
    use reqwest::Method;
    use serde_json::json;
    let s = serve();
    let http = http();
    let url = s.url.clone();
    let admin = login(&http, &url, "admin", "Initial-passw0rd").await;
    let tenant = format!("{url}/kapis/tenant.kubesphere.io/v1beta1");
    let apps = format!("{url}/kapis/application.kubesphere.io/v2");
    let (st, v) = call(&http, Method::POST, &format!("{tenant}/workspacetemplates"), &admin,
        Some(json!({"metadata": {"name": "partners"}, "spec": {"template": {"spec": {"manager": "admin"}}}}))).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        &http,
        Method::POST,
        &format!("{tenant}/workspaces/partners/namespaces"),
        &admin,
        Some(json!({"metadata": {"name": "partners"}})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let charts = [
        ("apisix", "apisix"),
        ("chaos-mesh", "chaos"),
        ("juicefs-csi-driver", "juicefs"),
        ("nocalhost", "nocalhost"),
        ("edgemesh", "edgemesh"),
    ];
    for (chart, release) in charts {
        let pkg =
            base64::engine::general_purpose::STANDARD.encode(testdata::helm_chart_package(chart));
        let (st, up) = call(
            &http,
            Method::POST,
            &format!("{apps}/apps"),
            &admin,
            Some(json!({"package": pkg})),
        )
        .await;
        assert_eq!(st, 200, "{chart}: {up}");
        let version = up["versionName"].as_str().expect("version").to_string();
        for state in ["submitted", "passed", "active"] {
            let (st, v) = call(
                &http,
                Method::POST,
                &format!("{apps}/apps/{chart}/versions/{version}/action"),
                &admin,
                Some(json!({"state": state})),
            )
            .await;
            assert_eq!(st, 200, "{chart} {state}: {v}");
        }
        let (st, v) = call(&http, Method::POST, &format!("{apps}/namespaces/partners/applications"), &admin,
            Some(json!({"metadata": {"name": release}, "spec": {"appID": chart, "appVersionID": version}}))).await;
        assert_eq!(st, 200, "{chart}: {v}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let (_, list) = call(
            &http,
            Method::GET,
            &format!("{apps}/namespaces/partners/applications"),
            &admin,
            None,
        )
        .await;
        let states: Vec<(String, String, String)> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    r["status"]["state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    r["status"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        assert!(
            !states.iter().any(|(_, st, _)| st == "failed"),
            "{states:?}"
        );
        if states.len() == charts.len() && states.iter().all(|(_, st, _)| st == "active") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all active: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
