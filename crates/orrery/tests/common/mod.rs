//! Starting `orrery cluster` processes and driving them with real clients.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// An `orrery cluster` process on a free port with its own data dir; killed on drop.
pub struct TestCluster {
    pub child: Child,
    pub url: String,
    pub kubeconfig: PathBuf,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl TestCluster {
    /// Starts a cluster in a fresh temporary data dir.
    pub fn start(extra: &[&str]) -> TestCluster {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut c = TestCluster::start_in(&dir, extra);
        c._tmp = Some(tmp);
        c
    }

    /// Starts a cluster in `dir` (which may hold an earlier cluster's data).
    pub fn start_in(dir: &Path, extra: &[&str]) -> TestCluster {
        let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .arg("cluster")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn orrery cluster");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut url = None;
        let mut kubeconfig = None;
        while url.is_none() || kubeconfig.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("orrery cluster did not report ready within 30 s");
            if let Some(u) = line.strip_prefix("ready kubernetes-api ") {
                url = Some(u.trim().to_string());
            } else if let Some(k) = line.strip_prefix("kubeconfig ") {
                kubeconfig = Some(PathBuf::from(k.trim()));
            }
        }
        TestCluster {
            child,
            url: url.unwrap_or_default(),
            kubeconfig: kubeconfig.unwrap_or_default(),
            data_dir: dir.to_path_buf(),
            _tmp: None,
        }
    }

    /// Runs `kubectl --kubeconfig <ours> ARGS`.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    /// Runs kubectl with `stdin` piped in.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd.env_remove("KUBECONFIG");
        cmd.env("HOME", self.data_dir.join("home"));
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl");
        if let Some(input) = stdin {
            use std::io::Write;
            let mut s = child.stdin.take().expect("stdin");
            s.write_all(input.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl and returns stdout, failing the test if kubectl fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl with stdin and returns stdout, failing the test if kubectl fails.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl_stdin(args, Some(stdin));
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_stdin(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A kube-rs client for the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }

    /// Sends SIGKILL and waits for the process to end.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses JSON output.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// What an `orrery serve` process has printed on stdout so far.
#[derive(Debug, Default)]
pub struct ServeReady {
    /// `ready platform <url>`.
    pub platform: Option<String>,
    /// `ready kubernetes-api <url>` (the embedded host cluster).
    pub kube: Option<String>,
    /// `kubeconfig <path>` (the embedded host cluster's).
    pub kubeconfig: Option<PathBuf>,
    /// The "Log in as admin …" line (printed once bootstrap is done).
    pub login: bool,
}

/// Reads `child`'s stdout on a thread until `done` holds for what it has printed; each line
/// must come within `timeout` (the test fails naming `what` otherwise).
pub fn wait_serve_ready(
    child: &mut Child,
    what: &str,
    timeout: Duration,
    done: impl Fn(&ServeReady) -> bool,
) -> ServeReady {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut ready = ServeReady::default();
    while !done(&ready) {
        let line = rx
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("{what} did not get ready within {timeout:?}"));
        if let Some(u) = line.strip_prefix("ready platform ") {
            ready.platform = Some(u.trim().to_string());
        } else if let Some(u) = line.strip_prefix("ready kubernetes-api ") {
            ready.kube = Some(u.trim().to_string());
        } else if let Some(k) = line.strip_prefix("kubeconfig ") {
            ready.kubeconfig = Some(PathBuf::from(k.trim()));
        } else if line.contains("Log in as admin") {
            ready.login = true;
        }
    }
    ready
}
