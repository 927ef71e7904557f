//! Extension repositories (issue 14): a Helm repository served by the test over HTTPS with its
//! own CA and basic auth, holding two versions of the example extension
//! (`examples/extensions/hello`, packaged here with `extensions::authoring`), syncs into
//! ExtensionVersions, the Extension and its Category; `depth` prunes old versions; bad packages
//! (no `extension.yaml`, an invalid name, `../` paths, a digest mismatch) are skipped with their
//! reasons and import nothing; a malformed index or a refused credential fails the sync and
//! changes nothing; a deleted Repository takes its extensions with it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::common::*;
use crate::repos::{PASSWORD, crafted, index, repo_server_shared, sha};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const MARKET: &str = "/apis/kubesphere.io/v1alpha1";

/// The example extension (`examples/extensions/hello`) packaged at `version`.
pub(crate) fn hello(version: &str) -> Vec<u8> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/extensions/hello");
    platform::extensions::authoring::package_dir(&dir, Some(version))
        .expect("package the example extension")
        .tgz
}

/// A Repository of the test's server (user `repo-reader`, its CA in `caBundle`).
pub(crate) fn repository(name: &str, url: &str, ca: &str, password: &str) -> Value {
    json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "Repository",
        "metadata": {"name": name},
        "spec": {"url": url, "caBundle": B64.encode(ca),
            "basicAuth": {"username": "repo-reader", "password": password}}})
}

/// Serves the two example versions at `https://{addr}/market`; the files (to change) and the
/// Repository's URL and CA.
pub(crate) async fn serve_hello() -> (Arc<RwLock<HashMap<String, Vec<u8>>>>, String, String) {
    let (v1, v2) = (hello("0.1.0"), hello("0.2.0"));
    let mut files = HashMap::new();
    files.insert(
        "/market/index.yaml".to_string(),
        index(&[
            ("hello", "0.1.0", "hello-0.1.0.tgz", &sha(&v1)),
            ("hello", "0.2.0", "hello-0.2.0.tgz", &sha(&v2)),
        ])
        .into_bytes(),
    );
    files.insert("/market/hello-0.1.0.tgz".into(), v1);
    files.insert("/market/hello-0.2.0.tgz".into(), v2);
    let files = Arc::new(RwLock::new(files));
    let (addr, ca) = repo_server_shared(files.clone()).await;
    (files, format!("https://{addr}/market"), ca)
}

/// Waits until Repository `name` satisfies `done` (after a sync), and returns it.
async fn repo_when(c: &Client, admin: &str, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("{MARKET}/repositories/{name}");
    let mut last = Value::Null;
    for _ in 0..200 {
        let (s, r) = c.get(&path, admin).await;
        if s == StatusCode::OK && r["status"]["state"] != "Syncing" && done(&r) {
            return r;
        }
        last = r;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("repository {name} never got there: {last}");
}

async fn version_names(c: &Client, admin: &str, repo: &str) -> Vec<String> {
    let (_, list) = c
        .get(
            &format!(
                "{MARKET}/extensionversions?labelSelector=kubesphere.io/repository-ref={repo}"
            ),
            admin,
        )
        .await;
    names(&list)
}

/// Asks for a sync with a new request value and waits for its outcome.
async fn sync_now(c: &Client, admin: &str, name: &str, request: &str) -> Value {
    let path = format!("{MARKET}/repositories/{name}");
    let (_, mut r) = c.get(&path, admin).await;
    r["metadata"]["annotations"] = json!({"orrery.io/sync-requested": request});
    c.ok(Method::PUT, &path, admin, Some(r)).await;
    repo_when(c, admin, name, |r| {
        r["status"]["observedSyncRequest"] == request
    })
    .await
}

/// What the steps of the repository sync test share: the served files (to change), the
/// Repository's URL and CA.
struct Market<'a> {
    c: &'a Client,
    admin: String,
    files: Arc<RwLock<HashMap<String, Vec<u8>>>>,
    url: String,
    ca: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_sync_extensions_keep_depth_and_skip_bad_packages() {
    let env = Env::start().await;
    let (files, url, ca) = serve_hello().await;
    let m = Market {
        c: &env.http,
        admin: env.admin().await,
        files,
        url,
        ca,
    };
    let v2 = m.files.read().unwrap()["/market/hello-0.2.0.tgz"].clone();

    synced_with_both_versions(&m).await;
    version_extension_and_category(&m, &v2).await;
    depth_keeps_the_newest(&m).await;
    bad_packages_skipped(&m, &v2).await;
    malformed_index_and_refused_credential(&m).await;

    // A deleted Repository takes its extensions with it.
    let (c, admin) = (m.c, m.admin.as_str());
    let path = format!("{MARKET}/repositories/market");
    c.ok(Method::DELETE, &path, admin, None).await;
    eventually("the repository's extensions removed", || async {
        let (s, _) = c.get(&format!("{MARKET}/extensions/hello"), admin).await;
        s == StatusCode::NOT_FOUND && version_names(c, admin, "market").await.is_empty()
    })
    .await;
}

/// The Repository `market` made: synced, both versions imported.
async fn synced_with_both_versions(m: &Market<'_>) {
    let (c, admin) = (m.c, m.admin.as_str());
    c.ok(
        Method::POST,
        &format!("{MARKET}/repositories"),
        admin,
        Some(repository("market", &m.url, &m.ca, PASSWORD)),
    )
    .await;
    let repo = repo_when(c, admin, "market", |r| r["status"]["state"] == "Synced").await;
    let message = repo["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("2 extension version(s) imported"),
        "{message}"
    );
    assert_eq!(repo["status"]["conditions"][0]["type"], "Synced");
    assert_eq!(repo["status"]["conditions"][0]["status"], "True");
    assert!(repo["status"]["lastSyncTime"].is_string());
    assert_eq!(
        version_names(c, admin, "market").await,
        ["hello-0.1.0", "hello-0.2.0"]
    );
}

/// The imported ExtensionVersion 0.2.0 (`v2`'s package), the Extension listing both versions
/// and its Category.
async fn version_extension_and_category(m: &Market<'_>, v2: &[u8]) {
    let (c, admin) = (m.c, m.admin.as_str());
    let v = c
        .ok(
            Method::GET,
            &format!("{MARKET}/extensionversions/hello-0.2.0"),
            admin,
            None,
        )
        .await;
    assert_eq!(
        v["metadata"]["labels"]["kubesphere.io/extension-ref"],
        "hello"
    );
    assert_eq!(
        v["metadata"]["labels"]["kubesphere.io/repository-ref"],
        "market"
    );
    let category = v["metadata"]["labels"]["kubesphere.io/category"]
        .as_str()
        .expect("category label")
        .to_string();
    assert_eq!(v["spec"]["version"], "0.2.0");
    assert_eq!(v["spec"]["repository"], "market");
    assert_eq!(v["spec"]["digest"], sha(v2));
    assert_eq!(v["spec"]["chartURL"], format!("{}/hello-0.2.0.tgz", m.url));
    assert!(v["spec"]["displayName"]["zh"].is_string(), "{v}");
    assert!(
        v["spec"]["icon"]
            .as_str()
            .is_some_and(|i| i.starts_with("data:image/svg+xml;base64,")),
        "the package's icon file as a data URL: {v}"
    );
    let ext = c
        .ok(
            Method::GET,
            &format!("{MARKET}/extensions/hello"),
            admin,
            None,
        )
        .await;
    assert_eq!(ext["status"]["recommendedVersion"], "0.2.0");
    let listed: Vec<&str> = ext["status"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["0.2.0", "0.1.0"]);
    assert_eq!(
        ext["metadata"]["labels"]["kubesphere.io/repository-ref"],
        "market"
    );
    assert_eq!(ext["spec"]["displayName"], v["spec"]["displayName"]);
    c.ok(
        Method::GET,
        &format!("{MARKET}/categories/{category}"),
        admin,
        None,
    )
    .await;
}

/// A changed spec syncs again: depth 1 keeps the newest only.
async fn depth_keeps_the_newest(m: &Market<'_>) {
    let (c, admin) = (m.c, m.admin.as_str());
    let path = format!("{MARKET}/repositories/market");
    let (_, mut r) = c.get(&path, admin).await;
    r["spec"]["depth"] = 1.into();
    let r = c.ok(Method::PUT, &path, admin, Some(r)).await;
    let generation = r["metadata"]["generation"].clone();
    let repo = repo_when(c, admin, "market", |r| {
        r["status"]["observedGeneration"] == generation
    })
    .await;
    assert_eq!(repo["status"]["state"], "Synced", "{repo}");
    assert!(
        repo["status"]["message"]
            .as_str()
            .unwrap()
            .contains("1 removed")
    );
    assert_eq!(version_names(c, admin, "market").await, ["hello-0.2.0"]);
    let ext = c
        .ok(
            Method::GET,
            &format!("{MARKET}/extensions/hello"),
            admin,
            None,
        )
        .await;
    assert_eq!(ext["status"]["versions"].as_array().unwrap().len(), 1);
}

/// Bad packages (no extension.yaml, an invalid name, `../` paths, a digest mismatch) are
/// skipped with their reasons; what was imported (`v2`'s version) stays.
async fn bad_packages_skipped(m: &Market<'_>, v2: &[u8]) {
    let (c, admin) = (m.c, m.admin.as_str());
    let no_manifest = helm::chart::package_files(
        "hello",
        &[(
            "Chart.yaml",
            &b"apiVersion: v2\nname: hello\nversion: 0.3.0\n"[..],
        )],
    );
    let bad_name = helm::chart::package_files(
        "Bad",
        &[
            (
                "Chart.yaml",
                &b"apiVersion: v2\nname: Bad\nversion: 1.0.0\n"[..],
            ),
            ("extension.yaml", &b"name: Bad\nversion: 1.0.0\n"[..]),
        ],
    );
    let escape = crafted(&[
        (
            "evil/Chart.yaml",
            "apiVersion: v2\nname: evil\nversion: 1.0.0\n",
        ),
        ("evil/extension.yaml", "name: evil\nversion: 1.0.0\n"),
        ("evil/../../escaped.txt", "out of the chart"),
    ]);
    {
        let mut f = m.files.write().unwrap();
        f.insert(
            "/market/index.yaml".into(),
            index(&[
                ("hello", "0.2.0", "hello-0.2.0.tgz", &sha(v2)),
                ("hello", "0.3.0", "hello-0.3.0.tgz", &sha(&no_manifest)),
                ("Bad", "1.0.0", "bad-1.0.0.tgz", &sha(&bad_name)),
                ("evil", "1.0.0", "evil-1.0.0.tgz", &sha(&escape)),
                ("wrong", "1.0.0", "hello-0.2.0.tgz", &"0".repeat(64)),
            ])
            .into_bytes(),
        );
        f.insert("/market/hello-0.3.0.tgz".into(), no_manifest);
        f.insert("/market/bad-1.0.0.tgz".into(), bad_name);
        f.insert("/market/evil-1.0.0.tgz".into(), escape);
    }
    let repo = sync_now(c, admin, "market", "1").await;
    assert_eq!(repo["status"]["state"], "PartiallySynced", "{repo}");
    let message = repo["status"]["message"].as_str().unwrap();
    for why in [
        "hello 0.3.0: the package has no extension.yaml",
        "Bad 1.0.0: name \"Bad\" is invalid",
        "evil 1.0.0: chart illegally references a path outside the chart",
        "wrong 1.0.0: the package's digest is",
    ] {
        assert!(message.contains(why), "{why:?} in {message}");
    }
    assert_eq!(repo["status"]["conditions"][0]["reason"], "PackagesSkipped");
    // The newest good version stays (depth counts versions that import).
    assert_eq!(version_names(c, admin, "market").await, ["hello-0.2.0"]);
    for gone in ["extensions/Bad", "extensions/evil", "extensions/wrong"] {
        let (s, _) = c.get(&format!("{MARKET}/{gone}"), admin).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{gone}");
    }
}

/// A malformed index fails the sync and changes nothing; a refused credential (a new
/// Repository `locked`) fails with nothing imported.
async fn malformed_index_and_refused_credential(m: &Market<'_>) {
    let (c, admin) = (m.c, m.admin.as_str());
    m.files
        .write()
        .unwrap()
        .insert("/market/index.yaml".into(), b"entries: [".to_vec());
    let repo = sync_now(c, admin, "market", "2").await;
    assert_eq!(repo["status"]["state"], "Failed", "{repo}");
    assert!(
        repo["status"]["message"]
            .as_str()
            .unwrap()
            .contains("index.yaml is malformed")
    );
    assert_eq!(repo["status"]["conditions"][0]["status"], "False");
    assert_eq!(version_names(c, admin, "market").await, ["hello-0.2.0"]);

    // A refused credential: failed, nothing imported.
    c.ok(
        Method::POST,
        &format!("{MARKET}/repositories"),
        admin,
        Some(repository("locked", &m.url, &m.ca, "wrong-password")),
    )
    .await;
    let locked = repo_when(c, admin, "locked", |r| r["status"]["state"] == "Failed").await;
    assert!(
        locked["status"]["message"]
            .as_str()
            .unwrap()
            .contains("refused the credential"),
        "{locked}"
    );
    assert!(version_names(c, admin, "locked").await.is_empty());
}

/// The example's own backend (`charts/backend/files/server.py`) run with python3 on
/// 127.0.0.1; killed on drop.
struct ExampleBackend {
    child: std::process::Child,
    url: String,
}

impl ExampleBackend {
    async fn start() -> ExampleBackend {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/extensions/hello/charts/backend/files/server.py");
        let child = std::process::Command::new("python3")
            .arg(script)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("GREETING", "Hi")
            .spawn()
            .expect("python3");
        // Killed and waited for on drop, also when it never answers.
        let backend = ExampleBackend {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(format!("{}/healthz", backend.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return backend;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the example backend did not start");
    }
}

impl Drop for ExampleBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_installs_from_its_repository_with_its_own_permissions() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let (_files, url, ca) = serve_hello().await;
    c.ok(
        Method::POST,
        &format!("{MARKET}/repositories"),
        &admin,
        Some(repository("market", &url, &ca, PASSWORD)),
    )
    .await;
    repo_when(c, &admin, "market", |r| r["status"]["state"] == "Synced").await;
    let backend = ExampleBackend::start().await;
    let config = format!("backend:\n  apiService:\n    url: {}\n", backend.url);
    c.ok(
        Method::POST,
        &format!("{MARKET}/installplans"),
        &admin,
        Some(
            json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
            "metadata": {"name": "hello"},
            "spec": {"extension": {"name": "hello", "version": "0.2.0"}, "enabled": true,
                "config": config,
                // Multicluster: the backend (agent) goes where the placement says, here the host.
                "clusterScheduling": {"placement": {"clusters": ["host"]}}}}),
        ),
    )
    .await;
    // Installed (the host release, then the agent) by the installer bound to the example's
    // permissions.yaml alone.
    let path = format!("{MARKET}/installplans/hello");
    let mut last = Value::Null;
    for _ in 0..900 {
        let (_, p) = c.get(&path, &admin).await;
        if p["status"]["state"] == "Installed"
            && p["status"]["clusterSchedulingStatuses"]["host"]["state"] == "Installed"
        {
            last = p;
            break;
        }
        assert!(
            !p["status"]["state"]
                .as_str()
                .unwrap_or_default()
                .ends_with("Failed"),
            "{p:#}"
        );
        last = p;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"]["state"], "Installed", "{last:#}");
    // Its UI: the built bundle at /dist/hello/index.js, its menu entry.
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/extensions/hello/charts/frontend/dist/index.js"),
    )
    .expect("bundle");
    let served = c
        .inner
        .get(format!("{}/dist/hello/index.js", c.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("bundle");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.text().await.unwrap(), committed);
    let entry = c
        .ok(
            Method::GET,
            "/apis/extensions.kubesphere.io/v1alpha1/extensionentries/hello",
            &admin,
            None,
        )
        .await;
    assert_eq!(entry["spec"]["entries"][0]["title"]["zh-CN"], "你好");
    // Its API (routed once the platform's watch has the APIService): the caller's identity
    // reaches the backend.
    let mut hello = Value::Null;
    for _ in 0..100 {
        let (s, v) = c
            .get("/kapis/hello.kubesphere.io/v1alpha1/hello", &admin)
            .await;
        hello = v;
        if s == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(hello["message"], "Hi, admin!", "{hello}");
    assert_eq!(hello["user"], "admin");
}
