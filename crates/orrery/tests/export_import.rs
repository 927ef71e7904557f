//! Issue 18, must-show 3: `orrery export` from one host and `orrery import` into a fresh one
//! reproduce the platform — users log in with their passwords, workspaces, projects and
//! members are intact — and a second import changes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

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
        ])
        .args([
            "--nodes",
            "0",
            "--admin-password",
            "Initial-passw0rd",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery serve");
    let ready =
        common::wait_serve_ready(&mut child, "orrery serve", Duration::from_secs(60), |r| {
            r.platform.is_some() && r.kubeconfig.is_some() && r.login
        });
    Serve {
        child,
        url: ready.platform.unwrap_or_default(),
        kubeconfig: ready.kubeconfig.unwrap_or_default(),
        _dir: dir,
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// The access token of a password grant, or the error answer.
async fn login(
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

async fn call(
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

fn names(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .collect()
}

/// Polls `url` as `token` until `check` holds for its JSON (the platform's caches follow the
/// cluster's watches), at most 30 s; returns the last answer.
async fn until(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, v) = call(http, Method::GET, url, token, None).await;
        if (code == 200 && check(&v)) || std::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn orrery(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(args)
        .output()
        .expect("run orrery");
    assert!(
        out.status.success(),
        "orrery {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const GREETING: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: hello\n";

/// The manifests of app greet's only version, as the platform serves them from the stored
/// package.
async fn greeting_files(http: &reqwest::Client, url: &str, admin: &str) -> Option<String> {
    use base64::Engine;
    let apps = format!("{url}/kapis/application.kubesphere.io/v2/apps");
    let versions = until(http, &format!("{apps}/greet/versions"), admin, |v| {
        !names(v).is_empty()
    })
    .await;
    let version = names(&versions).into_iter().next()?;
    let (code, files) = call(
        http,
        Method::GET,
        &format!("{apps}/greet/versions/{version}/files"),
        admin,
        None,
    )
    .await;
    if code != 200 {
        return None;
    }
    let b = base64::engine::general_purpose::STANDARD
        .decode(files["manifests.yaml"].as_str()?)
        .ok()?;
    String::from_utf8(b).ok()
}

/// alice (a viewer of ws-a), bob (disabled by the admin), ws-a and ws-b with a project each.
async fn populate(http: &reqwest::Client, url: &str, admin: &str) {
    use base64::Engine;
    let iam = format!("{url}/kapis/iam.kubesphere.io/v1beta1");
    let tenant = format!("{url}/kapis/tenant.kubesphere.io/v1beta1");
    for (name, pw) in [("alice", "Alice-passw0rd"), ("bob", "Bob-passw0rd1")] {
        let user = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
            "metadata": {"name": name}, "spec": {"email": format!("{name}@example.com"), "password": pw}});
        let (code, v) = call(
            http,
            Method::POST,
            &format!("{iam}/users"),
            admin,
            Some(user),
        )
        .await;
        assert!(code < 300, "create {name}: {code} {v}");
    }
    for ws in ["ws-a", "ws-b"] {
        let t = json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
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
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("{ws}-proj")}});
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
    // An app of ws-a with one version, its package stored in the host.
    let app = json!({"appType": "yaml", "appName": "greet", "versionName": "1.0.0",
        "package": base64::engine::general_purpose::STANDARD.encode(GREETING)});
    let (code, v) = call(
        http,
        Method::POST,
        &format!("{url}/kapis/application.kubesphere.io/v2/workspaces/ws-a/apps"),
        admin,
        Some(app),
    )
    .await;
    assert!(code < 300, "upload an app: {code} {v}");
    // bob could log in; an administrator disables him.
    login(http, url, "bob", "Bob-passw0rd1")
        .await
        .expect("bob logs in before");
    let disable = json!({"metadata": {"name": "bob"}, "spec": {}, "status": {"state": "Disabled"}});
    let (code, v) = call(
        http,
        Method::PUT,
        &format!("{iam}/users/bob"),
        admin,
        Some(disable),
    )
    .await;
    assert!(code < 300, "disable bob: {code} {v}");
    let members = json!([{"username": "alice", "roleRef": "ws-a-viewer"}]);
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

/// What a host must show after the import (or on the source, before it).
async fn reproduced(http: &reqwest::Client, url: &str, what: &str) {
    let iam = format!("{url}/kapis/iam.kubesphere.io/v1beta1");
    let tenant = format!("{url}/kapis/tenant.kubesphere.io/v1beta1");
    let admin = login(http, url, "admin", "Initial-passw0rd")
        .await
        .expect("admin logs in");
    let alice = login(http, url, "alice", "Alice-passw0rd")
        .await
        .expect("alice logs in with her password");
    assert!(login(http, url, "alice", "Wrong-passw0rd1").await.is_err());
    let bob = login(http, url, "bob", "Bob-passw0rd1").await;
    assert!(
        bob.is_err(),
        "{what}: a disabled user stays disabled: {bob:?}"
    );
    let seen = until(http, &format!("{tenant}/workspaces"), &alice, |v| {
        !names(v).is_empty()
    })
    .await;
    assert_eq!(
        names(&seen),
        vec!["ws-a".to_string()],
        "{what}: alice sees only her workspace: {seen}"
    );
    let members = until(
        http,
        &format!("{iam}/workspaces/ws-a/workspacemembers"),
        &admin,
        |v| names(v).contains(&"alice".to_string()),
    )
    .await;
    assert!(names(&members).contains(&"alice".to_string()), "{members}");
    let (code, v) = call(
        http,
        Method::GET,
        &format!("{url}/api/v1/namespaces/ws-a-proj/configmaps"),
        &alice,
        None,
    )
    .await;
    assert_eq!(code, 200, "alice reads her project: {v}");
    let (code, v) = call(
        http,
        Method::GET,
        &format!("{url}/api/v1/namespaces/ws-b-proj/configmaps"),
        &alice,
        None,
    )
    .await;
    assert_eq!(code, 403, "but not another workspace's: {v}");
    assert_eq!(
        greeting_files(http, url, &admin).await.as_deref(),
        Some(GREETING),
        "{what}: the app's package"
    );
    let templates = until(http, &format!("{tenant}/workspacetemplates"), &admin, |v| {
        names(v).len() >= 2
    })
    .await;
    for ws in ["ws-a", "ws-b"] {
        assert!(names(&templates).contains(&ws.to_string()), "{templates}");
    }
}

/// Joins an `orrery cluster` as member `name` by its admin kubeconfig.
async fn join(
    http: &reqwest::Client,
    url: &str,
    admin: &str,
    name: &str,
    member: &common::TestCluster,
) {
    use base64::Engine;
    let kubeconfig = std::fs::read_to_string(&member.kubeconfig).expect("member kubeconfig");
    let body = json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"provider": "orrery", "connection": {"type": "direct",
            "kubeconfig": base64::engine::general_purpose::STANDARD.encode(kubeconfig)}}});
    let (code, v) = call(
        http,
        Method::POST,
        &format!("{url}/apis/cluster.kubesphere.io/v1alpha1/clusters"),
        admin,
        Some(body),
    )
    .await;
    assert!(code < 300, "join {name}: {code} {v}");
}

/// Waits until member `name` is Ready and its API answers through the platform's proxy.
async fn member_ready(http: &reqwest::Client, url: &str, admin: &str, name: &str, what: &str) {
    let cluster = until(
        http,
        &format!("{url}/apis/cluster.kubesphere.io/v1alpha1/clusters/{name}"),
        admin,
        |v| {
            v["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        },
    )
    .await;
    let ready = cluster["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
    assert!(ready, "{what}: {name} not Ready: {cluster}");
    let (code, v) = call(
        http,
        Method::GET,
        &format!("{url}/clusters/{name}/api/v1/namespaces/default"),
        admin,
        None,
    )
    .await;
    assert_eq!(code, 200, "{what}: {name} through the proxy: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_one_host_and_import_into_a_fresh_one_reproduces_the_platform() {
    let http = http();
    let a = serve();
    let admin = login(&http, &a.url, "admin", "Initial-passw0rd")
        .await
        .expect("admin");
    populate(&http, &a.url, &admin).await;
    let member = common::TestCluster::start(&["--nodes", "0"]);
    join(&http, &a.url, &admin, "member1", &member).await;
    member_ready(&http, &a.url, &admin, "member1", "source").await;
    reproduced(&http, &a.url, "source").await;

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("platform.json.gz");
    let out = orrery(&[
        "export",
        "--kubeconfig",
        s(&a.kubeconfig),
        "--out",
        s(&file),
    ]);
    assert!(out.contains("exported"), "{out}");
    drop(a);

    // The document: a List in import order, cluster-owned fields stripped.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap()),
        &mut text,
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["kind"], "List");
    assert_eq!(doc["orrery.io/export"]["formatVersion"], 1);
    let items = doc["items"].as_array().unwrap();
    let first_user = items.iter().position(|i| i["kind"] == "User").unwrap();
    let last_crd = items
        .iter()
        .rposition(|i| i["kind"] == "CustomResourceDefinition")
        .unwrap();
    let last_ns = items
        .iter()
        .rposition(|i| i["kind"] == "Namespace")
        .unwrap();
    assert!(
        last_crd < last_ns && last_ns < first_user,
        "CRDs, then namespaces, then the rest"
    );
    for i in items {
        for f in [
            "uid",
            "resourceVersion",
            "managedFields",
            "creationTimestamp",
        ] {
            assert!(
                i["metadata"][f].is_null(),
                "{f} kept in {}",
                i["metadata"]["name"]
            );
        }
        if !["User", "Application", "ApplicationVersion"]
            .contains(&i["kind"].as_str().unwrap_or_default())
        {
            assert!(
                i.get("status").is_none(),
                "status kept in {}",
                i["metadata"]["name"]
            );
        }
    }

    let b = serve();
    let out = orrery(&[
        "import",
        "--kubeconfig",
        s(&b.kubeconfig),
        "--from",
        s(&file),
    ]);
    assert!(out.contains("created"), "{out}");
    reproduced(&http, &b.url, &format!("after import ({out})")).await;
    // The member comes back through its imported kubeconfig Secret.
    let admin_b = login(&http, &b.url, "admin", "Initial-passw0rd")
        .await
        .expect("admin");
    member_ready(&http, &b.url, &admin_b, "member1", "after import").await;
    let labels = common_kubectl(
        &b.kubeconfig,
        &[
            "get",
            "ns",
            "ws-a-proj",
            "-o",
            "jsonpath={.metadata.labels}",
        ],
    );
    assert!(
        labels.contains(r#""kubesphere.io/workspace":"ws-a""#),
        "{labels}"
    );
    // Idempotent: a second import creates nothing and breaks nothing.
    let again = orrery(&[
        "import",
        "--kubeconfig",
        s(&b.kubeconfig),
        "--from",
        s(&file),
    ]);
    assert!(
        again.contains(": 0 created"),
        "{again}\nfirst import: {out}"
    );
    reproduced(&http, &b.url, "after the second import").await;
}

fn common_kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
