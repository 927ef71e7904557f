//! `orrery serve`'s configuration as an operator meets it, through the built binary: which of
//! flag, `ORRERY_*` variable, file and default wins (`orrery config print` says where each
//! value came from); a bad file refused with its line, column and key; tunables from a file
//! taking effect in a running platform (the served certificate is the file's, `expires_in` and
//! the tokens' lifetimes are the configured ones, a second login ends the first session when
//! `multipleLogin` is false, the lockout threshold and duration, the OAuth client, login record
//! retention, the simulated nodes, the audit log path, the TLS files re-read when rotated, the
//! exec allow-list and health-check period of member clusters, the login rate limit);
//! in-cluster credentials from a
//! ServiceAccount directory (a temporary one standing in for the pod's mount, through the
//! test-only `ORRERY_TEST_SERVICEACCOUNT_DIR`); completions and the version.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

fn orrery() -> Command {
    let mut c = Command::new(testdata::orrery_bin());
    // The developer's own settings must not leak into what is tested.
    for (k, _) in std::env::vars() {
        if k.starts_with("ORRERY_") || k.starts_with("KUBERNETES_SERVICE") {
            c.env_remove(k);
        }
    }
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run orrery")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The line of `config print`'s output for `key` (its last path segment, at `indent`).
fn printed<'a>(text: &'a str, line_start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no line starting {line_start:?} in\n{text}"))
}

#[test]
fn flags_win_over_variables_over_the_file_over_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orrery.yaml");
    std::fs::write(
        &file,
        "authentication:\n  lockout:\n    threshold: 3\n    window: 1m\n    duration: 2m\n  accessTokenMaxAge: 1h\n",
    )
    .expect("write");
    let out = run(orrery()
        .args(["config", "print", "--lockout-threshold", "7"])
        .env("ORRERY_CONFIG", &file)
        .env("ORRERY_LOCKOUT_THRESHOLD", "5")
        .env("ORRERY_LOCKOUT_WINDOW", "90s"));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("# file: {}", file.display())),
        "{text}"
    );
    // flag > env > file
    assert_eq!(printed(&text, "    threshold:"), "    threshold: 7  # flag");
    // env > file
    assert_eq!(
        printed(&text, "    window:"),
        "    window: \"90s\"  # env ORRERY_LOCKOUT_WINDOW"
    );
    // file > default
    assert_eq!(
        printed(&text, "    duration:"),
        "    duration: \"2m\"  # file, line 5"
    );
    assert_eq!(
        printed(&text, "  accessTokenMaxAge:"),
        "  accessTokenMaxAge: \"1h\"  # file, line 6"
    );
    // default
    assert_eq!(
        printed(&text, "  refreshTokenMaxAge:"),
        "  refreshTokenMaxAge: \"2h30m\"  # default"
    );
    // The same precedence reaches `serve`: a bad value in the file is not even read when a
    // variable sets the key, but refused when nothing else does.
    std::fs::write(&file, "authentication:\n  lockout:\n    threshold: lots\n").expect("write");
    let out = run(orrery()
        .args(["config", "print", "--config"])
        .arg(&file)
        .env("ORRERY_LOCKOUT_THRESHOLD", "5"));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(orrery().args(["config", "print", "--config"]).arg(&file));
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
}

#[test]
fn a_bad_file_is_refused_with_its_line_column_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orrery.yaml");
    let cases: &[(&str, &str)] = &[
        (
            "listen: 127.0.0.1:0\nauthentication:\n  multipleLogin: false\n  lockuot:\n    threshold: 3\n",
            "line 4, column 3: `authentication.lockuot`: unknown key (did you mean `lockout`?)",
        ),
        (
            "listen: 127.0.0.1:0\nclusters:\n  healthCheckPeriod: often\n",
            "line 3, column 3: `clusters.healthCheckPeriod`: invalid value 'often'",
        ),
        (
            "listen: 127.0.0.1:0\ntls:\n  enabled: maybe\n",
            "line 3, column 3: `tls.enabled`: invalid value 'maybe'",
        ),
        ("listen: [127.0.0.1:0\n", "line 1, column"),
        (
            "authentication: 10\n",
            "line 1, column 1: `authentication`: is a section",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&file, text).expect("write");
        let out = run(orrery()
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&file));
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: {}: {expected}", file.display())),
            "for\n{text}\nstderr: {err}"
        );
        assert!(
            !dir.path().join("data").exists(),
            "nothing started for a bad file"
        );
    }
    let out = run(orrery()
        .args(["serve", "--config"])
        .arg(dir.path().join("missing.yaml")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.yaml"), "{}", stderr(&out));
}

#[test]
fn completions_and_version() {
    for (shell, marker) in [
        ("bash", "_orrery()"),
        ("zsh", "#compdef orrery"),
        ("fish", "complete -c orrery"),
    ] {
        let out = run(orrery().args(["completion", shell]));
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell}");
        assert!(
            text.contains("lockout-threshold"),
            "{shell} completes serve's flags"
        );
    }
    let out = run(orrery().arg("version"));
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("orrery {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("\nrustc: rustc 1."), "{text}");
    let commit = printed(&text, "commit: ").trim_start_matches("commit: ");
    let in_git = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .is_ok_and(|o| o.status.success());
    if in_git {
        assert!(
            commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "{commit}"
        );
    }
}

/// A running `orrery serve`; killed on drop.
struct Serve {
    child: Child,
    url: String,
    kubeconfig: Option<PathBuf>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(cmd: &mut Command) -> Serve {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery serve");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut kubeconfig) = (None, None);
    let mut seen = Vec::new();
    while url.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| panic!("orrery serve not ready within 90 s; said {seen:?}"));
        if let Some(u) = line.strip_prefix("ready platform ") {
            url = Some(u.trim().to_string());
        } else if let Some(k) = line.strip_prefix("kubeconfig ") {
            kubeconfig = Some(PathBuf::from(k.trim()));
        }
        seen.push(line);
    }
    Serve {
        child,
        url: url.unwrap_or_default(),
        kubeconfig,
        lines: rx,
    }
}

fn client(ca_pem: Option<&[u8]>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .tls_info(true);
    match ca_pem {
        Some(pem) => {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(pem).expect("ca"));
        }
        None => b = b.danger_accept_invalid_certs(true),
    }
    b.build().expect("client")
}

async fn grant(
    http: &reqwest::Client,
    url: &str,
    client: (&str, &str),
    user: &str,
    password: &str,
) -> (u16, Value) {
    let resp = http
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("client_id", client.0),
            ("client_secret", client.1),
        ])
        .send()
        .await
        .expect("token request");
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap_or(Value::Null))
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let resp = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A JWT's claims.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("claims JSON")
}

/// Polls `check` every 200 ms until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn write_cert(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate");
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    (cert, key, ck.cert.der().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunables_from_the_file_take_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, cert_der) = write_cert(dir.path());
    let audit_log = dir.path().join("audit").join("events.log");
    std::fs::create_dir_all(audit_log.parent().expect("parent")).expect("mkdir");
    let file = dir.path().join("orrery.yaml");
    write_tunables_file(&file, dir.path(), &cert, &key, &audit_log);
    let serve = start_serve(orrery().arg("serve").arg("--config").arg(&file));
    let url = serve.url.clone();

    // The served certificate is the file's: a client trusting only it connects over TLS.
    let https_url = url.replacen("http://", "https://", 1);
    let http = client(Some(&std::fs::read(&cert).expect("read cert")));
    let resp = http
        .get(format!("{https_url}/healthz"))
        .send()
        .await
        .expect("HTTPS with the configured certificate");
    let info = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .expect("TLS info");
    assert_eq!(
        info.peer_certificate(),
        Some(cert_der.as_slice()),
        "the served certificate is the configured one"
    );
    let url = https_url;

    // The files are re-read when they change: a rotated pair is served without a restart.
    let rotated = tempfile::tempdir().expect("tempdir");
    let (new_cert, new_key, new_der) = write_cert(rotated.path());
    std::fs::copy(&new_key, &key).expect("replace key");
    std::fs::copy(&new_cert, &cert).expect("replace cert");
    let new_pem = std::fs::read(&cert).expect("read cert");
    eventually(
        Duration::from_secs(30),
        "the rotated certificate is served",
        || {
            // A new client each time: a new connection, a new handshake.
            let http = client(Some(&new_pem));
            let url = url.clone();
            let new_der = new_der.clone();
            async move {
                match http.get(format!("{url}/healthz")).send().await {
                    Ok(resp) => {
                        resp.extensions()
                            .get::<reqwest::tls::TlsInfo>()
                            .and_then(|i| i.peer_certificate())
                            == Some(new_der.as_slice())
                    }
                    Err(_) => false,
                }
            }
        },
    )
    .await;
    let http = client(Some(&new_pem));

    // Only the configured OAuth client is known.
    let (code, v) = grant(
        &http,
        &url,
        ("kubesphere", "kubesphere"),
        "admin",
        "Initial-passw0rd",
    )
    .await;
    assert_eq!(code, 401, "the default client is not configured: {v}");
    let ci = ("ci", "Ci-secret-1");
    let (code, first) = grant(&http, &url, ci, "admin", "Initial-passw0rd").await;
    assert_eq!(code, 200, "{first}");
    token_lifetimes_follow_the_file(&http, &url, &first).await;
    let access = first["access_token"].as_str().expect("access token");

    // multipleLogin: false — a second login ends the first session.
    let me = format!("{url}/kapis/iam.kubesphere.io/v1beta1/users/admin");
    assert_eq!(get(&http, &me, access).await.0, 200);
    let (code, second) = grant(&http, &url, ci, "admin", "Initial-passw0rd").await;
    assert_eq!(code, 200, "{second}");
    let second_access = second["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    eventually(Duration::from_secs(10), "the first session ends", || {
        let (http, me) = (http.clone(), me.clone());
        async move { get(&http, &me, access).await.0 == 401 }
    })
    .await;
    assert_eq!(get(&http, &me, &second_access).await.0, 200);

    lockout_and_login_record_pruning(&http, &url, ci, &second_access).await;

    // One simulated node, as configured; the audit log where configured.
    let kubeconfig = serve.kubeconfig.clone().expect("embedded kubeconfig");
    eventually(Duration::from_secs(30), "one simulated node", || {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["get", "nodes", "-o", "name"])
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl");
        let count = stdout(&out).lines().count();
        async move { count == 1 }
    })
    .await;
    eventually(Duration::from_secs(15), "the audit log at its path", || {
        let ok = std::fs::read_to_string(&audit_log).is_ok_and(|t| t.contains("/users"));
        async move { ok }
    })
    .await;
    drop(serve);
}

/// The test's orrery.yaml: its certificate, short token and record lifetimes, a lockout, one
/// OAuth client, a fast pruner, the audit log's path and one simulated node.
fn write_tunables_file(file: &Path, dir: &Path, cert: &Path, key: &Path, audit_log: &Path) {
    std::fs::write(
        file,
        format!(
            "# The platform of this test.\n\
             listen: 127.0.0.1:0\n\
             kubeListen: 127.0.0.1:0\n\
             dataDir: {data}\n\
             adminPassword: Initial-passw0rd\n\
             tls:\n  certFile: {cert}\n  keyFile: {key}\n\
             authentication:\n\
             \x20 multipleLogin: false\n\
             \x20 accessTokenMaxAge: 1h23m20s\n\
             \x20 refreshTokenMaxAge: 3h\n\
             \x20 kubeconfigTokenMaxAge: 48h\n\
             \x20 loginRecordMaxAge: 3s\n\
             \x20 lockout:\n    threshold: 3\n    duration: 3s\n\
             \x20 loginRateLimit:\n    burst: 200\n    perSecond: 50\n\
             \x20 passwordHash:\n    memoryKiB: 1024\n    iterations: 1\n\
             \x20 oauthClients: [\"ci:Ci-secret-1\"]\n\
             controllers:\n  prunePeriod: 1s\n\
             audit:\n  logPath: {audit}\n\
             sim:\n  nodes: 1\n",
            data = dir.join("data").display(),
            cert = cert.display(),
            key = key.display(),
            audit = audit_log.display(),
        ),
    )
    .expect("write config");
}

/// Lifetimes: expires_in and the tokens' own claims (access, refresh and kubeconfig tokens).
async fn token_lifetimes_follow_the_file(http: &reqwest::Client, url: &str, first: &Value) {
    // Lifetimes: expires_in and the tokens' own claims.
    assert_eq!(first["expires_in"], json!(5000), "{first}");
    let access = first["access_token"].as_str().expect("access token");
    let c = claims(access);
    assert_eq!(
        c["exp"].as_i64().zip(c["iat"].as_i64()).map(|(e, i)| e - i),
        Some(5000)
    );
    let refresh = claims(first["refresh_token"].as_str().expect("refresh token"));
    let refresh_life = refresh["exp"].as_i64().expect("exp") - c["iat"].as_i64().expect("iat");
    assert!(
        (3 * 3600 - 5..=3 * 3600 + 5).contains(&refresh_life),
        "refresh token lifetime {refresh_life}"
    );
    let (code, kc) = get(
        http,
        &format!("{url}/kapis/resources.kubesphere.io/v1alpha2/users/admin/kubeconfig"),
        access,
    )
    .await;
    assert_eq!(code, 200, "{kc}");
    let kc_text = kc
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| kc.to_string());
    let kc_token = kc_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("a token in the kubeconfig");
    let kc_claims = claims(kc_token);
    let kc_life = kc_claims["exp"].as_i64().expect("exp") - chrono_now();
    assert!(
        (48 * 3600 - 60..=48 * 3600).contains(&kc_life),
        "kubeconfig token lifetime {kc_life}"
    );
}

/// Lockout: the third failure locks (threshold 3), even the right password is refused, and the
/// lock ends after its 3 s duration; login records live 3 s.
async fn lockout_and_login_record_pruning(
    http: &reqwest::Client,
    url: &str,
    ci: (&str, &str),
    second_access: &str,
) {
    // Lockout: the third failure locks (threshold 3), even the right password is refused,
    // and the lock ends after its 3 s duration.
    let user = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
        "metadata": {"name": "bob"}, "spec": {"email": "bob@example.com", "password": "Bob-passw0rd1"}});
    let resp = http
        .post(format!("{url}/kapis/iam.kubesphere.io/v1beta1/users"))
        .bearer_auth(second_access)
        .json(&user)
        .send()
        .await
        .expect("create bob");
    assert!(resp.status().is_success(), "{}", resp.status());
    // Bob's own login works (and leaves a LoginRecord), before any failure.
    let (code, v) = grant(http, url, ci, "bob", "Bob-passw0rd1").await;
    assert_eq!(code, 200, "{v}");
    let bob = format!("{url}/kapis/iam.kubesphere.io/v1beta1/users/bob");
    let records = format!("{bob}/loginrecords");
    let record_names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["metadata"]["name"].as_str().map(String::from))
            .collect()
    };
    let first_records = record_names(&get(http, &records, second_access).await.1);
    assert!(!first_records.is_empty(), "bob's login is recorded");
    for i in 1..=2 {
        let (code, v) = grant(http, url, ci, "bob", "wrong-password").await;
        assert_eq!(code, 400, "failure {i}: {v}");
    }
    let (code, v) = grant(http, url, ci, "bob", "wrong-password").await;
    assert_eq!(code, 429, "the third failure locks: {v}");
    let (code, v) = grant(http, url, ci, "bob", "Bob-passw0rd1").await;
    assert_eq!(code, 429, "locked even with the right password: {v}");
    let (_, b) = get(http, &bob, second_access).await;
    assert_eq!(b["status"]["state"], "AuthLimitExceeded", "{b}");
    eventually(Duration::from_secs(30), "the lock lasts 3 s", || {
        let http = http.clone();
        async move { grant(&http, url, ci, "bob", "Bob-passw0rd1").await.0 == 200 }
    })
    .await;

    // Login records live 3 s (pruned every second): bob's first record goes.
    eventually(
        Duration::from_secs(30),
        "old login records are pruned",
        || {
            let (http, records, token) = (http.clone(), records.clone(), second_access);
            let first = first_records.clone();
            async move {
                let (code, v) = get(&http, &records, token).await;
                let now = record_names(&v);
                code == 200 && v["items"].is_array() && first.iter().all(|r| !now.contains(r))
            }
        },
    )
    .await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_can_be_off_and_a_bad_pair_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A key that is not the certificate's.
    let (cert, _, _) = write_cert(dir.path());
    let other = rcgen::generate_simple_self_signed(vec!["x".into()]).expect("certificate");
    let wrong_key = dir.path().join("wrong.key");
    std::fs::write(&wrong_key, other.signing_key.serialize_pem()).expect("write");
    let out = run(orrery()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--nodes",
            "0",
            "--data-dir",
        ])
        .arg(dir.path().join("d1"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&wrong_key));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("cannot be served") && err.contains("wrong.key"),
        "{err}"
    );
    assert!(
        !dir.path().join("d1").exists(),
        "refused before anything started"
    );
    let out = run(orrery()
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("d2"))
        .arg("--tls-cert")
        .arg(&wrong_key)
        .arg("--tls-key")
        .arg(&wrong_key));
    assert!(
        stderr(&out).contains("no PEM certificate"),
        "{}",
        stderr(&out)
    );
    let out = run(orrery().args(["serve", "--tls-cert"]).arg(&cert));
    assert!(!out.status.success(), "a certificate without its key");

    // ORRERY_TLS=false: plain HTTP only, a TLS hello gets no answer.
    let serve = start_serve(
        orrery()
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
            .arg(dir.path().join("d3"))
            .env("ORRERY_TLS", "false")
            .env("ORRERY_LOCKOUT_THRESHOLD", "2")
            .env("ORRERY_LOCKOUT_WINDOW", "2s")
            .env("ORRERY_PASSWORD_HASH_MEMORY", "1024")
            .env("ORRERY_PASSWORD_HASH_ITERATIONS", "1"),
    );
    let http = client(None);
    let resp = http
        .get(format!("{}/healthz", serve.url))
        .send()
        .await
        .expect("plain HTTP");
    assert!(resp.status().is_success());
    let https = serve.url.replacen("http://", "https://", 1);
    assert!(
        http.get(format!("{https}/healthz")).send().await.is_err(),
        "no TLS served"
    );
    let _ = &serve.lines;

    // The lockout window (2 s, threshold 2): a failure older than the window no longer counts.
    let kubesphere = ("kubesphere", "kubesphere");
    let fail = || grant(&http, &serve.url, kubesphere, "admin", "Wrong-passw0rd");
    assert_eq!(fail().await.0, 400, "first failure");
    let first = Instant::now();
    // Time passing is the condition here: nothing to poll.
    tokio::time::sleep(Duration::from_millis(2500).saturating_sub(first.elapsed())).await;
    assert_eq!(fail().await.0, 400, "the first failure left the window");
    assert_eq!(fail().await.0, 429, "two failures within the window lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_pod_the_service_account_is_the_host() {
    let cluster = common::TestCluster::start(&["--nodes", "0"]);
    cluster.ok(&["create", "serviceaccount", "orrery", "-n", "default"]);
    cluster.ok(&[
        "create",
        "clusterrolebinding",
        "orrery",
        "--clusterrole=cluster-admin",
        "--serviceaccount=default:orrery",
    ]);
    let token = cluster.ok(&[
        "create",
        "token",
        "orrery",
        "-n",
        "default",
        "--duration",
        "1h",
    ]);
    let ca_b64 = cluster.ok(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let ca = base64::engine::general_purpose::STANDARD
        .decode(ca_b64.trim())
        .expect("CA");
    let sa = tempfile::tempdir().expect("tempdir");
    std::fs::write(sa.path().join("token"), token.trim()).expect("token");
    std::fs::write(sa.path().join("ca.crt"), ca).expect("ca");
    std::fs::write(sa.path().join("namespace"), "default").expect("namespace");
    let port = cluster
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .trim_end_matches('/')
        .to_string();
    let data = tempfile::tempdir().expect("tempdir");
    let in_pod = |cmd: &mut Command| {
        cmd.env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", &port)
            .env("ORRERY_TEST_SERVICEACCOUNT_DIR", sa.path());
    };
    let mut cmd = orrery();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--kube-listen",
        "127.0.0.1:0",
    ])
    .args(["--admin-password", "Initial-passw0rd", "--data-dir"])
    .arg(data.path());
    in_pod(&mut cmd);
    let serve = start_serve(&mut cmd);
    assert!(
        serve.kubeconfig.is_none(),
        "no embedded cluster was started"
    );
    // The platform keeps its state in the pod's cluster.
    let host = cluster.ok(&["get", "clusters.cluster.kubesphere.io", "-o", "name"]);
    assert!(host.contains("host"), "{host}");
    let admin = cluster.ok(&["get", "users.iam.kubesphere.io", "admin", "-o", "name"]);
    assert!(admin.contains("admin"), "{admin}");
    let (code, v) = grant(
        &client(None),
        &serve.url,
        ("kubesphere", "kubesphere"),
        "admin",
        "Initial-passw0rd",
    )
    .await;
    assert_eq!(code, 200, "{v}");
    drop(serve);

    // --host-cluster embedded ignores the pod's ServiceAccount …
    let data2 = tempfile::tempdir().expect("tempdir");
    let mut cmd = orrery();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--kube-listen",
        "127.0.0.1:0",
    ])
    .args(["--nodes", "0", "--host-cluster", "embedded", "--data-dir"])
    .arg(data2.path());
    in_pod(&mut cmd);
    let serve = start_serve(&mut cmd);
    assert!(serve.kubeconfig.is_some(), "an embedded cluster");
    drop(serve);
    // … and in-cluster outside a pod is an error that says so.
    let out = run(orrery()
        .args(["serve", "--host-cluster", "in-cluster", "--data-dir"])
        .arg(data2.path().join("x")));
    assert!(stderr(&out).contains("not a pod"), "{}", stderr(&out));
}

#[test]
fn the_documentation_lists_every_key_flag_and_variable() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
    )
    .expect("docs/configuration.md");
    let out = run(orrery().args(["config", "print"]));
    let text = stdout(&out);
    let help = stdout(&run(orrery().args(["serve", "--help"])));
    let mut missing = Vec::new();
    // Every key printed (the last segment at its depth), every flag and variable of serve.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let key = line.trim_start().split(':').next().unwrap_or_default();
        if !doc.contains(&format!("`{key}`")) && !doc.contains(&format!(".{key}`")) {
            missing.push(key.to_string());
        }
    }
    for word in
        help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=')
    {
        let word = word.trim_end_matches(':');
        let interesting = (word.starts_with("--") && word.len() > 2 && word != "--help")
            || word.starts_with("ORRERY_");
        if interesting && !doc.contains(word) {
            missing.push(word.to_string());
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

#[test]
fn the_example_file_is_a_valid_configuration() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/orrery.yaml");
    let out = run(orrery().args(["config", "print", "--config"]).arg(&example));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("hostCluster: \"in-cluster\"  # file, line"),
        "{text}"
    );
}

/// `orrery cluster` on a fixed port in `dir` (so that a restart keeps its address, CA and
/// credentials); killed on drop.
struct Member(Child);

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_member(dir: &Path, port: u16) -> Member {
    let mut child = orrery()
        .args(["cluster", "--nodes", "0", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery cluster");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "member not ready"
        );
        match lines.next() {
            Some(Ok(l)) if l.starts_with("ready kubernetes-api") => break,
            Some(Ok(_)) => continue,
            _ => panic!("orrery cluster ended before it was ready"),
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Member(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_clusters_and_login_rate_limits_follow_the_file() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let member_dir = tempfile::tempdir().expect("tempdir");
    let member = start_member(member_dir.path(), port);
    let kubeconfig =
        std::fs::read_to_string(member_dir.path().join("kubeconfig.yaml")).expect("kubeconfig");
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("orrery.yaml");
    // The defaults (10 s, and 10 s doubling up to 30 s after failures) would take at least
    // 10 s to see the member again; 1 s is configured.
    std::fs::write(
        &config,
        "clusters:\n  execPluginAllow: [my-helper]\n  healthCheckPeriod: 1s\n  healthCheckBackoffMax: 1s\n  healthCheckTimeout: 2s\n\
         authentication:\n  loginRateLimit:\n    burst: 3\n    perSecond: 0.01\n",
    )
    .expect("write");
    let serve = start_serve(
        orrery()
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
            .arg(data.path().join("d"))
            .arg("--config")
            .arg(&config),
    );
    let http = client(None);
    let (code, v) = grant(
        &http,
        &serve.url,
        ("kubesphere", "kubesphere"),
        "admin",
        "Initial-passw0rd",
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let admin = v["access_token"].as_str().expect("token").to_string();
    login_rate_limit_refuses_the_fourth(&http, &serve.url).await;
    let clusters = format!("{}/apis/cluster.kubesphere.io/v1alpha1/clusters", serve.url);
    let body = json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": "edge"},
        "spec": {"provider": "orrery", "connection": {"type": "direct",
            "kubeconfig": base64::engine::general_purpose::STANDARD.encode(&kubeconfig)}}});
    exec_plugins_outside_the_allow_list_are_refused(&http, &serve.url, &admin, port).await;
    let resp = http
        .post(&clusters)
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .expect("join");
    assert_eq!(resp.status().as_u16(), 201, "{:?}", resp.text().await);
    let ready = |want: &'static str| {
        let (http, url, admin) = (http.clone(), format!("{clusters}/edge"), admin.clone());
        async move {
            let (_, c) = get(&http, &url, &admin).await;
            c["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == want)
        }
    };
    eventually(Duration::from_secs(30), "the member is Ready", || {
        ready("True")
    })
    .await;
    drop(member);
    let down = Instant::now();
    eventually(
        Duration::from_secs(6),
        "the stopped member is not Ready",
        || ready("False"),
    )
    .await;
    let noticed = down.elapsed();
    let member = start_member(member_dir.path(), port);
    let up = Instant::now();
    eventually(
        Duration::from_secs(6),
        "the restarted member is Ready again",
        || ready("True"),
    )
    .await;
    eprintln!(
        "member down noticed after {noticed:?}, up again after {:?}",
        up.elapsed()
    );
    drop(member);
}

/// The login rate limit (a burst of 3, then one per 100 s): the fourth attempt is refused
/// before any password is looked at.
async fn login_rate_limit_refuses_the_fourth(http: &reqwest::Client, url: &str) {
    // The login rate limit (a burst of 3, then one per 100 s): the fourth attempt is refused
    // before any password is looked at.
    for _ in 0..2 {
        let (code, v) = grant(http, url, ("kubesphere", "kubesphere"), "nobody", "x").await;
        assert_eq!(code, 400, "{v}");
    }
    let (code, v) = grant(http, url, ("kubesphere", "kubesphere"), "nobody", "x").await;
    assert_eq!(code, 429, "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("too many login attempts from this address")),
        "{v}"
    );
}

/// The exec allow-list is the file's: `aws`, allowed by default, is not.
async fn exec_plugins_outside_the_allow_list_are_refused(
    http: &reqwest::Client,
    url: &str,
    admin: &str,
    port: u16,
) {
    // The exec allow-list is the file's: `aws`, allowed by default, is not.
    let exec_kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: eks\n  cluster:\n    server: https://127.0.0.1:{port}\n\
         contexts:\n- name: eks\n  context:\n    cluster: eks\n    user: eks\ncurrent-context: eks\n\
         users:\n- name: eks\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token]\n"
    );
    let resp = http
        .post(format!(
            "{url}/kapis/cluster.kubesphere.io/v1alpha1/clusters/validation"
        ))
        .bearer_auth(admin)
        .json(
            &json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "eks"}, "spec": {"connection": {"type": "direct",
            "kubeconfig": base64::engine::general_purpose::STANDARD.encode(&exec_kubeconfig)}}}),
        )
        .send()
        .await
        .expect("validate");
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap_or_default();
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"aws\" is not allowed") && message.contains("(allowed: my-helper)"),
        "{v}"
    );
}
