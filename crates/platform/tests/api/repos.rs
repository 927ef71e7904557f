//! Helm repositories: one served by the test over HTTPS with its own CA and basic auth (corpus
//! charts packaged, with an `index.yaml`) syncs into published apps that deploy; a wrong
//! password, an unreachable host, a corrupt archive, an archive with `../` paths, one with a
//! 100 MiB file, a digest mismatch and a malformed `index.yaml` each end `failed` with a clear
//! message and nothing imported.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::Full;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

const APPS: &str = "/kapis/application.kubesphere.io/v2";
const USER: &str = "repo-reader";
pub(crate) const PASSWORD: &str = "s3cret-Pw";

/// A gzipped tar written by Python's tarfile: `members` are (name, size of zeros or text).
pub(crate) fn crafted(members: &[(&str, &str)]) -> Vec<u8> {
    let out = tempfile::NamedTempFile::new().expect("tmp");
    let script = format!(
        "import io, sys, tarfile\nt = tarfile.open(sys.argv[1], 'w:gz')\nfor name, body in {members:?}:\n    data = b'\\0' * int(body[1:]) if body.startswith('#') else body.encode()\n    i = tarfile.TarInfo(name)\n    i.size = len(data)\n    t.addfile(i, io.BytesIO(data))\nt.close()\n",
        members = members
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .arg(out.path())
        .status()
        .expect("python3")
        .success();
    assert!(ok, "{script}");
    std::fs::read(out.path()).expect("read")
}

pub(crate) fn sha(b: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(b))
}

/// An index listing `(chart, version, file, digest)`.
pub(crate) fn index(entries: &[(&str, &str, &str, &str)]) -> String {
    let mut by_chart: HashMap<&str, Vec<String>> = HashMap::new();
    for (chart, version, file, digest) in entries {
        by_chart.entry(chart).or_default().push(format!(
            "  - name: {chart}\n    version: {version}\n    urls: [{file}]\n    digest: {digest}\n    description: the {chart} chart\n"
        ));
    }
    let mut out = String::from("apiVersion: v1\nentries:\n");
    for (chart, items) in by_chart {
        out.push_str(&format!("  {chart}:\n"));
        for i in items {
            out.push_str(&i);
        }
    }
    out
}

/// Serves `files` over HTTPS on 127.0.0.1 with a certificate of its own CA, asking for basic
/// auth; returns the address and the CA (PEM).
pub(crate) async fn repo_server(files: HashMap<String, Vec<u8>>) -> (SocketAddr, String) {
    repo_server_shared(Arc::new(std::sync::RwLock::new(files))).await
}

/// [`repo_server`] serving what `files` holds at each request (a test may change it).
pub(crate) async fn repo_server_shared(
    files: Arc<std::sync::RwLock<HashMap<String, Vec<u8>>>>,
) -> (SocketAddr, String) {
    let (ca, cert, key) = loopback_certificate();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("tls");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let auth = format!("Basic {}", B64.encode(format!("{USER}:{PASSWORD}")));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, files, auth) = (acceptor.clone(), files.clone(), auth.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (files, auth) = (files.clone(), auth.clone());
                        async move {
                            let authorized = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                == Some(auth.as_str());
                            let (status, body) = if !authorized {
                                (401, Vec::new())
                            } else {
                                let found =
                                    files.read().expect("files").get(req.uri().path()).cloned();
                                match found {
                                    Some(b) => (200, b),
                                    None => (404, Vec::new()),
                                }
                            };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from(body)))
                                    .expect("response"),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, ca.pem())
}

pub(crate) fn repo(name: &str, url: &str, ca: &str, password: &str) -> Value {
    json!({"metadata": {"name": name},
        "spec": {"url": url, "syncPeriod": 0,
            "credential": {"username": USER, "password": password, "caData": B64.encode(ca)}}})
}

/// Adds `body` and syncs it now; returns the repository after the sync.
pub(crate) async fn add_and_sync(c: &Client, admin: &str, body: Value) -> Value {
    let name = body["metadata"]["name"].as_str().expect("name").to_string();
    c.ok(Method::POST, &format!("{APPS}/repos"), admin, Some(body))
        .await;
    c.ok(
        Method::POST,
        &format!("{APPS}/repos/{name}/action"),
        admin,
        Some(json!({"action": "sync"})),
    )
    .await
}

/// Serves, over HTTPS with basic auth, a good repository (`/good`: grafana and openelb), four
/// bad ones that also list a good chart first (`/corrupt`, `/escape`, `/huge`, `/digest`) and a
/// malformed index (`/malformed`). The server's base URL and CA.
async fn serve_good_and_bad_repositories(grafana: &[u8], openelb: &[u8]) -> (String, String) {
    let corrupt = b"\x1f\x8b\x08\x00this is not a gzip stream".to_vec();
    let escape = crafted(&[
        (
            "evil/Chart.yaml",
            "apiVersion: v2\nname: evil\nversion: 1.0.0\n",
        ),
        ("evil/../../escaped.txt", "out of the chart"),
    ]);
    let huge = crafted(&[
        (
            "big/Chart.yaml",
            "apiVersion: v2\nname: big\nversion: 1.0.0\n",
        ),
        ("big/blob.bin", "#104857600"),
    ]);
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    files.insert(
        "/good/index.yaml".into(),
        index(&[
            ("grafana", "12.11.1", "grafana-12.11.1.tgz", &sha(grafana)),
            (
                "openelb",
                "0.6.1",
                "charts/openelb-0.6.1.tgz",
                &sha(openelb),
            ),
        ])
        .into_bytes(),
    );
    files.insert("/good/grafana-12.11.1.tgz".into(), grafana.to_vec());
    files.insert("/good/charts/openelb-0.6.1.tgz".into(), openelb.to_vec());
    // Each bad repository also lists a good chart first: nothing of it may stay.
    for (dir, chart, bytes, digest) in [
        ("corrupt", "broken", &corrupt, sha(&corrupt)),
        ("escape", "evil", &escape, sha(&escape)),
        ("huge", "big", &huge, sha(&huge)),
        ("digest", "evil", &escape, "0".repeat(64)),
    ] {
        files.insert(
            format!("/{dir}/index.yaml"),
            index(&[
                ("grafana", "12.11.1", "grafana-12.11.1.tgz", &sha(grafana)),
                (chart, "1.0.0", "x-1.0.0.tgz", &digest),
            ])
            .into_bytes(),
        );
        files.insert(format!("/{dir}/grafana-12.11.1.tgz"), grafana.to_vec());
        files.insert(format!("/{dir}/x-1.0.0.tgz"), bytes.clone());
    }
    files.insert(
        "/malformed/index.yaml".into(),
        b"apiVersion: v1\nentries: [".to_vec(),
    );
    let (addr, ca) = repo_server(files).await;
    (format!("https://{addr}"), ca)
}

/// What the steps of the Helm repository test share: the repository server's base URL and CA,
/// the administrator's and a store browser's tokens.
struct Repos<'a> {
    c: &'a Client,
    kube: kube::Client,
    admin: String,
    browser: String,
    base: String,
    ca: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_repositories_sync_into_the_store_and_bad_ones_fail_cleanly() {
    let grafana = testdata::helm_chart_package("grafana");
    let openelb = testdata::helm_chart_package("openelb");
    let (base, ca) = serve_good_and_bad_repositories(&grafana, &openelb).await;

    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;

    // The good repository: two apps, published, with their versions and packages.
    let r = add_and_sync(
        c,
        &admin,
        repo("charts", &format!("{base}/good"), &ca, PASSWORD),
    )
    .await;
    assert_eq!(r["status"]["state"], "successful", "{r}");
    assert_eq!(
        r["spec"]["credential"]["password"], "",
        "the password is never shown"
    );
    create_user(c, &admin, "browser").await;
    let browser = c.login("browser", USER_PW).await;
    let t = Repos {
        c,
        kube: env.kube().await,
        admin,
        browser,
        base,
        ca,
    };
    published_with_versions_and_packages(&t, &openelb).await;
    synced_event_and_nothing_new_again(&t).await;
    a_synced_app_deploys(&t).await;
    a_workspaces_repository_is_not_the_stores(&t).await;
    failures_import_nothing(&t).await;
    refused_up_front_and_deleted_with_its_apps(&t).await;
}

/// The store lists the good repository's two apps, with openelb's version and package.
async fn published_with_versions_and_packages(t: &Repos<'_>, openelb: &[u8]) {
    let (c, admin, browser) = (t.c, t.admin.as_str(), t.browser.as_str());
    let store = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps?sortBy=name&ascending=true"),
            browser,
            None,
        )
        .await;
    assert_eq!(names(&store), ["charts-grafana", "charts-openelb"]);
    let versions = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps/charts-openelb/versions"),
            browser,
            None,
        )
        .await;
    assert_eq!(versions["items"][0]["spec"]["versionName"], "0.6.1");
    assert_eq!(versions["items"][0]["spec"]["digest"], sha(openelb));
    let pkg = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps/charts-openelb/versions/charts-openelb-0-6-1/package"),
            admin,
            None,
        )
        .await;
    assert_eq!(
        B64.decode(pkg["package"].as_str().expect("package"))
            .expect("b64"),
        openelb
    );
}

/// The Events about Repo `name` in kubesphere-system: (type, reason, message).
async fn repo_events(kube: &kube::Client, name: &str) -> Vec<(String, String, String)> {
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(kube.clone(), "kubesphere-system");
    events
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Repo")
                && e.involved_object.name.as_deref() == Some(name)
        })
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default(),
            )
        })
        .collect()
}

/// The sync left an Event about the repository, as KubeSphere's controller does; a second
/// sync imports nothing new.
async fn synced_event_and_nothing_new_again(t: &Repos<'_>) {
    let synced = repo_events(&t.kube, "charts").await;
    assert_eq!(synced.len(), 1, "{synced:?}");
    assert_eq!(
        (synced[0].0.as_str(), synced[0].1.as_str()),
        ("Normal", "Synced"),
        "{synced:?}"
    );
    // A second sync imports nothing new.
    let r =
        t.c.ok(
            Method::POST,
            &format!("{APPS}/repos/charts/action"),
            &t.admin,
            Some(json!({"action": "sync"})),
        )
        .await;
    assert_eq!(
        (
            r["status"]["state"].as_str(),
            r["status"]["message"].as_str()
        ),
        (Some("successful"), Some("0 new version(s) imported"))
    );
}

/// A synced app deploys like any other: release `lb` in project `p` of workspace `w`.
async fn a_synced_app_deploys(t: &Repos<'_>) {
    let (c, admin) = (t.c, t.admin.as_str());
    create_workspace(c, admin, "w", "admin").await;
    create_project(c, admin, "w", "p").await;
    c.ok(
        Method::POST,
        &format!("{APPS}/namespaces/p/applications"),
        admin,
        Some(json!({"metadata": {"name": "lb"},
            "spec": {"appID": "charts-openelb", "appVersionID": "charts-openelb-0-6-1"}})),
    )
    .await;
    eventually("the release is created", || async {
        let (_, v) = c
            .get(&format!("{APPS}/namespaces/p/applications/lb"), admin)
            .await;
        matches!(v["status"]["state"].as_str(), Some("created" | "active"))
    })
    .await;
}

/// A workspace's own repository: its apps are the workspace's, not the store's; two syncs at
/// once import each app once; deleting it takes its apps.
async fn a_workspaces_repository_is_not_the_stores(t: &Repos<'_>) {
    let (c, admin, browser) = (t.c, t.admin.as_str(), t.browser.as_str());
    let r = c
        .ok(
            Method::POST,
            &format!("{APPS}/workspaces/w/repos"),
            admin,
            Some(repo("team", &format!("{}/good", t.base), &t.ca, PASSWORD)),
        )
        .await;
    assert_eq!(r["metadata"]["labels"]["kubesphere.io/workspace"], "w");
    // Two "sync now" at once (and the leader's own first sync of a new repository) import
    // each app once and all end successful: one sync runs, the others get its outcome.
    let team_action = format!("{APPS}/workspaces/w/repos/team/action");
    let sync_team = || {
        c.ok(
            Method::POST,
            &team_action,
            admin,
            Some(json!({"action": "sync"})),
        )
    };
    let (r, again) = tokio::join!(sync_team(), sync_team());
    assert_eq!(r["status"]["state"], "successful", "{r}");
    assert_eq!(again["status"]["state"], "successful", "{again}");
    let mine = c
        .ok(
            Method::GET,
            &format!("{APPS}/workspaces/w/apps?sortBy=name&ascending=true"),
            admin,
            None,
        )
        .await;
    assert_eq!(names(&mine), ["team-grafana", "team-openelb"]);
    let store = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps?sortBy=name&ascending=true"),
            browser,
            None,
        )
        .await;
    assert_eq!(
        names(&store),
        ["charts-grafana", "charts-openelb"],
        "a workspace's repository is not the store's"
    );
    let (s, _) = c.get(&format!("{APPS}/apps/team-grafana"), browser).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c.get(&format!("{APPS}/workspaces/w/repos"), browser).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.ok(
        Method::DELETE,
        &format!("{APPS}/workspaces/w/repos/team"),
        admin,
        None,
    )
    .await;
    let mine = c
        .ok(
            Method::GET,
            &format!("{APPS}/workspaces/w/apps"),
            admin,
            None,
        )
        .await;
    assert_eq!(mine["totalItems"], 0, "{mine}");
}

/// Failures: each with its reason, and nothing of the repository imported; the last one's
/// Event is a warning with the reason.
async fn failures_import_nothing(t: &Repos<'_>) {
    let base = &t.base;
    let unreachable = "https://127.0.0.1:1/charts";
    for (name, url, password, why) in [
        (
            "wrong-password",
            format!("{base}/good"),
            "nope",
            "refused the credential",
        ),
        (
            "unreachable",
            unreachable.to_string(),
            PASSWORD,
            "Connection refused",
        ),
        (
            "corrupt",
            format!("{base}/corrupt"),
            PASSWORD,
            "broken 1.0.0: invalid chart archive",
        ),
        (
            "escape",
            format!("{base}/escape"),
            PASSWORD,
            "a path outside the chart",
        ),
        (
            "huge",
            format!("{base}/huge"),
            PASSWORD,
            "larger than the maximum file size",
        ),
        (
            "digest",
            format!("{base}/digest"),
            PASSWORD,
            "the index says 0000",
        ),
        (
            "malformed",
            format!("{base}/malformed"),
            PASSWORD,
            "index.yaml is malformed",
        ),
    ] {
        fails_with_nothing_imported(t, name, &url, password, why).await;
    }
    let failed = repo_events(&t.kube, "malformed").await;
    assert_eq!(
        (failed[0].0.as_str(), failed[0].1.as_str()),
        ("Warning", "SyncFailed"),
        "{failed:?}"
    );
    assert!(
        failed[0].2.contains("index.yaml is malformed"),
        "{failed:?}"
    );
}

/// Repository `name` at `url` fails its sync saying `why`, and leaves no app or version.
async fn fails_with_nothing_imported(
    t: &Repos<'_>,
    name: &str,
    url: &str,
    password: &str,
    why: &str,
) {
    let (c, admin) = (t.c, t.admin.as_str());
    let r = add_and_sync(c, admin, repo(name, url, &t.ca, password)).await;
    assert_eq!(r["status"]["state"], "failed", "{name}: {r}");
    let message = r["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(why), "{name}: {message}");
    let apps = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps?labelSelector=application.kubesphere.io%2Frepo-name%3D{name}"),
            admin,
            None,
        )
        .await;
    assert_eq!(apps["totalItems"], 0, "{name} left apps behind: {apps}");
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        t.kube.clone(),
        &kube::api::ApiResource {
            group: "application.kubesphere.io".into(),
            version: "v2".into(),
            api_version: "application.kubesphere.io/v2".into(),
            kind: "ApplicationVersion".into(),
            plural: "applicationversions".into(),
        },
    );
    let left = api
        .list(
            &kube::api::ListParams::default()
                .labels(&format!("application.kubesphere.io/repo-name={name}")),
        )
        .await
        .expect("versions");
    assert!(left.items.is_empty(), "{name} left versions behind");
}

/// A bad URL or a store browser's request is refused up front; deleting the repository takes
/// its apps (none is in use any more once released).
async fn refused_up_front_and_deleted_with_its_apps(t: &Repos<'_>) {
    let (c, admin, browser) = (t.c, t.admin.as_str(), t.browser.as_str());
    let (s, _) = c
        .post(
            &format!("{APPS}/repos"),
            admin,
            json!({"metadata": {"name": "ftp"}, "spec": {"url": "ftp://x"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.get(&format!("{APPS}/repos"), browser).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Deleting the repository takes its apps (none is in use any more once released).
    c.ok(
        Method::DELETE,
        &format!("{APPS}/namespaces/p/applications/lb"),
        admin,
        None,
    )
    .await;
    eventually("the release is gone", || async {
        c.get(&format!("{APPS}/namespaces/p/applications/lb"), admin)
            .await
            .0
            == StatusCode::NOT_FOUND
    })
    .await;
    c.ok(Method::DELETE, &format!("{APPS}/repos/charts"), admin, None)
        .await;
    let store = c
        .ok(Method::GET, &format!("{APPS}/apps"), admin, None)
        .await;
    assert_eq!(store["totalItems"], 0, "{store}");
}

/// Debian's `docker-registry` on 127.0.0.1 with TLS (a certificate of its own CA) and
/// htpasswd basic auth; stopped when dropped.
struct Registry {
    child: std::process::Child,
    addr: String,
    ca: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn registry() -> Registry {
    let dir = tempfile::tempdir().expect("tmp");
    let (ca, cert, key) = loopback_certificate();
    std::fs::write(dir.path().join("tls.crt"), cert.pem()).expect("crt");
    std::fs::write(dir.path().join("tls.key"), key.serialize_pem()).expect("key");
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    std::fs::write(dir.path().join("htpasswd"), format!("{USER}:{hash}\n")).expect("htpasswd");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let d = dir.path().display();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\nhttp:\n  addr: {addr}\n  tls:\n    certificate: {d}/tls.crt\n    key: {d}/tls.key\nauth:\n  htpasswd:\n    realm: orrery-test\n    path: {d}/htpasswd\n"
    );
    std::fs::write(dir.path().join("config.yml"), config).expect("config");
    let child = std::process::Command::new("docker-registry")
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry (scripts/install-test-deps.sh installs it)");
    let reg = Registry {
        child,
        addr,
        ca: ca.pem(),
        _dir: dir,
    };
    let http = registry_client(&reg);
    eventually("the registry answers", || async {
        http.get(format!("https://{}/v2/", reg.addr))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::UNAUTHORIZED)
    })
    .await;
    reg
}

fn registry_client(reg: &Registry) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(reg.ca.as_bytes()).expect("ca"))
        .build()
        .expect("client")
}

/// Pushes `bytes` as a blob of `repository` through the distribution API.
async fn push_blob(
    http: &reqwest::Client,
    reg: &Registry,
    repository: &str,
    bytes: &[u8],
) -> String {
    let digest = format!("sha256:{}", sha(bytes));
    let r = http
        .post(format!(
            "https://{}/v2/{repository}/blobs/uploads/",
            reg.addr
        ))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .expect("start upload");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("https://{}{location}", reg.addr)
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let r = http
        .put(format!("{url}{sep}digest={digest}"))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    digest
}

/// Pushes a chart as Helm's OCI layout: a config blob, the package layer, a manifest tagged
/// with the version (`+` written `_`).
async fn push_chart(
    http: &reqwest::Client,
    reg: &Registry,
    repository: &str,
    version: &str,
    package: &[u8],
) {
    let config = json!({"name": repository.rsplit('/').next(), "version": version}).to_string();
    let config_digest = push_blob(http, reg, repository, config.as_bytes()).await;
    let layer_digest = push_blob(http, reg, repository, package).await;
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": layer_digest, "size": package.len()}]});
    let r = http
        .put(format!(
            "https://{}/v2/{repository}/manifests/{}",
            reg.addr,
            version.replace('+', "_")
        ))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .expect("manifest");
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oci_registry_syncs_the_charts_its_repo_names() {
    let reg = registry().await;
    let http = registry_client(&reg);
    let grafana = testdata::helm_chart_package("grafana");
    let openelb = testdata::helm_chart_package("openelb");
    push_chart(&http, &reg, "charts/grafana", "12.11.1", &grafana).await;
    push_chart(&http, &reg, "charts/openelb", "0.6.1", &openelb).await;

    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let url = format!("oci://{}/charts", reg.addr);
    let mut body = repo("oci", &url, &reg.ca, PASSWORD);
    body["spec"]["charts"] = json!(["grafana", "openelb"]);
    let r = add_and_sync(c, &admin, body).await;
    assert_eq!(r["status"]["state"], "successful", "{r}");
    let apps = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps?sortBy=name&ascending=true"),
            &admin,
            None,
        )
        .await;
    assert_eq!(names(&apps), ["oci-grafana", "oci-openelb"]);
    let v = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps/oci-grafana/versions/oci-grafana-12-11-1"),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["spec"]["digest"], sha(&grafana));
    assert_eq!(v["status"]["state"], "active");

    // A wrong password, and a chart the registry does not hold, fail with nothing imported.
    let mut body = repo("oci-wrong", &url, &reg.ca, "nope");
    body["spec"]["charts"] = json!(["grafana"]);
    let r = add_and_sync(c, &admin, body).await;
    assert_eq!(r["status"]["state"], "failed", "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("refused the credential"),
        "{r}"
    );
    let mut body = repo("oci-missing", &url, &reg.ca, PASSWORD);
    body["spec"]["charts"] = json!(["grafana", "nothere"]);
    let r = add_and_sync(c, &admin, body).await;
    assert_eq!(r["status"]["state"], "failed", "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("charts/nothere"),
        "{r}"
    );
    let apps = c
        .ok(
            Method::GET,
            &format!(
                "{APPS}/apps?labelSelector=application.kubesphere.io%2Frepo-name%3Doci-missing"
            ),
            &admin,
            None,
        )
        .await;
    assert_eq!(
        apps["totalItems"], 0,
        "grafana was imported, then taken back: {apps}"
    );
    let mut body = repo("oci-none", &url, &reg.ca, PASSWORD);
    body["spec"]["charts"] = json!([]);
    let r = add_and_sync(c, &admin, body).await;
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.charts"),
        "{r}"
    );
}

/// A repository added through the API is synced by the leader's controller at once — here its
/// periodic pass is an hour away, so once the leader's first pass has run (it syncs the first
/// repository), only a repository's own watch event can start the second one's sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_repository_syncs_without_waiting_for_the_periodic_pass() {
    let openelb = testdata::helm_chart_package("openelb");
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    files.insert(
        "/r/index.yaml".into(),
        index(&[("openelb", "0.6.1", "openelb-0.6.1.tgz", &sha(&openelb))]).into_bytes(),
    );
    files.insert("/r/openelb-0.6.1.tgz".into(), openelb);
    let (addr, ca) = repo_server(files).await;

    let env = Env::start_with(|c| c.resync_period = std::time::Duration::from_secs(3600)).await;
    let c = &env.http;
    let admin = env.admin().await;
    for name in ["first", "second"] {
        let body = repo(name, &format!("https://{addr}/r"), &ca, PASSWORD);
        c.ok(Method::POST, &format!("{APPS}/repos"), &admin, Some(body))
            .await;
        let mut last = Value::Null;
        for _ in 0..300 {
            last = c
                .ok(Method::GET, &format!("{APPS}/repos/{name}"), &admin, None)
                .await;
            if last["status"]["state"] == "successful" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            (
                last["status"]["state"].as_str(),
                last["status"]["message"].as_str()
            ),
            (Some("successful"), Some("1 new version(s) imported")),
            "{name}: {last}"
        );
        let v = c
            .ok(
                Method::GET,
                &format!("{APPS}/apps/{name}-openelb/versions"),
                &admin,
                None,
            )
            .await;
        assert_eq!(v["totalItems"], 1, "{name}: {v}");
    }
}
