//! `orrery cluster` processes started by tests (killed on drop), restartable on the same port
//! and data dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use testdata::orrery_bin;

/// A running (or stopped) `orrery cluster` process.
pub struct OrreryCluster {
    child: Option<Child>,
    /// Its data dir.
    pub dir: PathBuf,
    /// The admin kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    listen: String,
}

impl Drop for OrreryCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(dir: &Path, listen: &str) -> (Child, String, PathBuf) {
    let mut child = Command::new(orrery_bin())
        .args(["cluster", "--nodes", "2", "--listen", listen, "--data-dir"])
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
    let (mut url, mut kubeconfig) = (None, None);
    while url.is_none() || kubeconfig.is_none() {
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("orrery cluster did not get ready");
            }
        };
        if let Some(u) = line.strip_prefix("ready kubernetes-api ") {
            url = Some(u.trim().to_string());
        } else if let Some(k) = line.strip_prefix("kubeconfig ") {
            kubeconfig = Some(PathBuf::from(k.trim()));
        }
    }
    (
        child,
        url.unwrap_or_default(),
        kubeconfig.unwrap_or_default(),
    )
}

impl OrreryCluster {
    /// Starts `orrery cluster` on a free loopback port with data in `dir` (blocking).
    pub fn start(dir: &Path) -> OrreryCluster {
        let (child, url, kubeconfig) = spawn(dir, "127.0.0.1:0");
        let listen = url.trim_start_matches("https://").to_string();
        OrreryCluster {
            child: Some(child),
            dir: dir.to_path_buf(),
            kubeconfig,
            url,
            listen,
        }
    }

    /// Starts one from an async test.
    pub async fn start_async(dir: &Path) -> OrreryCluster {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || OrreryCluster::start(&dir))
            .await
            .expect("join")
    }

    /// Kills the process (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal (`STOP`, `CONT`, …) to the process, as `kill -SIG` does.
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let status = std::process::Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -{sig} failed");
            if sig == "STOP" {
                // kill(2) only queues the signal: wait until every thread is stopped.
                let stopped = || {
                    let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", c.id())) else {
                        return false;
                    };
                    tasks.flatten().all(|t| {
                        std::fs::read_to_string(t.path().join("stat"))
                            .ok()
                            .and_then(|st| {
                                st.rsplit_once(')')
                                    .map(|(_, r)| r.trim_start().starts_with('T'))
                            })
                            .unwrap_or(false)
                    })
                };
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                while !stopped() {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the process did not stop"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// Starts the process again on the same address and data dir (blocking).
    pub fn restart(&mut self) {
        self.stop();
        let (child, _, _) = spawn(&self.dir, &self.listen);
        self.child = Some(child);
    }

    /// The kubeconfig's text.
    pub fn kubeconfig_text(&self) -> String {
        std::fs::read_to_string(&self.kubeconfig).expect("read kubeconfig")
    }

    /// The admin bearer token of its kubeconfig.
    pub fn admin_token(&self) -> String {
        self.kubeconfig_text()
            .lines()
            .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_string))
            .expect("token in kubeconfig")
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("pki/ca.crt")).expect("read ca")
    }
}
