//! Bounded kubectl runs with a chosen kubeconfig and environment, and kubeconfigs for other
//! identities (client certificates signed by the cluster CA, bearer tokens).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestCluster, json};

/// `kubectl ARGS -o json`, parsed; fails the test if kubectl fails.
pub fn get_json(k: &Kubectl, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    json(&k.ok(&all))
}

/// No single kubectl run may take longer than this; a hung server fails the test instead.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// kubectl bound to one kubeconfig, with extra environment variables.
pub struct Kubectl {
    pub kubeconfig: PathBuf,
    pub home: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Kubectl {
    /// kubectl as the cluster administrator.
    pub fn admin(c: &TestCluster) -> Kubectl {
        Kubectl::with_kubeconfig(c, &c.kubeconfig)
    }

    /// kubectl with another kubeconfig against the same cluster.
    pub fn with_kubeconfig(c: &TestCluster, kubeconfig: &Path) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            home: c.data_dir.join("home"),
            env: Vec::new(),
        }
    }

    /// Adds an environment variable to every run.
    pub fn env(mut self, key: &str, value: &str) -> Kubectl {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Starts kubectl without waiting for it.
    pub fn spawn(&self, args: &[&str], stdin: Option<&str>) -> Child {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd.env_remove("KUBECONFIG")
            .env_remove("KUBE_EDITOR")
            .env_remove("EDITOR")
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .env("HOME", &self.home);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            let input = input.to_string();
            // A writer thread, so a child that never reads cannot block us past the deadline.
            std::thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            });
        }
        child
    }

    /// Runs kubectl to completion within [`DEADLINE`].
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let child = self.spawn(args, stdin);
        finish(child, DEADLINE)
            .unwrap_or_else(|| panic!("kubectl {args:?} did not finish within {DEADLINE:?}"))
    }

    /// Runs kubectl and returns stdout, failing the test if kubectl fails.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_stdin(args, None)
    }

    /// Runs kubectl with optional stdin and returns stdout, failing the test if kubectl fails.
    pub fn ok_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}): {}\n{}",
            out.status,
            text(&out.stderr),
            text(&out.stdout)
        );
        text(&out.stdout)
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }
}

/// Lossy UTF-8 text of a byte buffer.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits up to `limit` for `child`, collecting its output; on timeout kills it and returns None.
pub fn finish(mut child: Child, limit: Duration) -> Option<Output> {
    let reader = |s: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut s) = s {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    Some(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Polls `f` every 50 ms until it holds, failing the test after 20 s.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
pub fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes a kubeconfig for a client certificate (CN = `user`, one O = per group) signed by
/// the cluster CA in `<data_dir>/pki`, and returns its path.
///
/// openssl rather than rcgen: rcgen keeps one value per attribute type, and a user with
/// several groups needs several O= attributes.
pub fn cert_kubeconfig(c: &TestCluster, user: &str, groups: &[&str]) -> PathBuf {
    let pki = c.data_dir.join("pki");
    let dir = c.data_dir.join("users");
    std::fs::create_dir_all(&dir).expect("users dir");
    let crt = dir.join(format!("{user}.crt"));
    let key = dir.join(format!("{user}.key"));
    let csr = dir.join(format!("{user}.csr"));
    let ext = dir.join("client.ext");
    std::fs::write(
        &ext,
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .expect("write ext");
    let subject: String = std::iter::once(format!("/CN={user}"))
        .chain(groups.iter().map(|g| format!("/O={g}")))
        .collect();
    let openssl = |args: &[&str]| {
        let mut cmd = Command::new("openssl");
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = finish(
            cmd.spawn().expect("spawn openssl (is it installed?)"),
            DEADLINE,
        )
        .expect("openssl finished");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
    };
    let path = |p: &Path| p.display().to_string();
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &path(&key),
        "-subj",
        &subject,
        "-out",
        &path(&csr),
    ]);
    let serial = format!(
        "0x{:x}",
        std::process::id() as u64 * 1_000_003 + groups.len() as u64
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path(&csr),
        "-CA",
        &path(&pki.join("ca.crt")),
        "-CAkey",
        &path(&pki.join("ca.key")),
        "-set_serial",
        &serial,
        "-days",
        "2",
        "-extfile",
        &path(&ext),
        "-out",
        &path(&crt),
    ]);
    let auth = format!(
        "    client-certificate: {}\n    client-key: {}\n",
        crt.display(),
        key.display()
    );
    write_kubeconfig(c, user, &auth)
}

/// Writes a kubeconfig that authenticates with a bearer token, and returns its path.
pub fn token_kubeconfig(c: &TestCluster, name: &str, token: &str) -> PathBuf {
    write_kubeconfig(c, name, &format!("    token: {token}\n"))
}

fn write_kubeconfig(c: &TestCluster, name: &str, auth: &str) -> PathBuf {
    let ca = c.data_dir.join("pki").join("ca.crt");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: orrery\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {name}\n  user:\n{auth}contexts:\n- name: {name}\n  context:\n    cluster: orrery\n    user: {name}\ncurrent-context: {name}\n",
        c.url,
        ca.display()
    );
    let path = c.data_dir.join("users").join(format!("{name}.kubeconfig"));
    std::fs::create_dir_all(c.data_dir.join("users")).expect("users dir");
    std::fs::write(&path, yaml).expect("write kubeconfig");
    path
}

/// A kube-rs client for any kubeconfig file.
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config");
    kube::Client::try_from(config).expect("kube client")
}
