//! Node scripts of `scripts/oidc/` the SSO tests start (a real OpenID provider, a real relying
//! party): their npm packages installed on first use, lines read from their stdout, lines sent
//! on their stdin; killed on drop (and they exit by themselves when their stdin closes).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// `scripts/oidc`.
pub fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/oidc")
}

/// A running script.
pub struct NodeScript {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    name: String,
}

impl Drop for NodeScript {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeScript {
    /// Starts `scripts/oidc/<script>` with `args` and extra environment `envs`.
    pub fn start(script: &str, args: &[String], envs: &[(&str, &Path)]) -> NodeScript {
        let dir = scripts();
        if !(dir.join("node_modules/oidc-provider").exists()
            && dir.join("node_modules/openid-client").exists())
        {
            let ok = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status()
                .expect("npm")
                .success();
            assert!(ok, "npm ci in scripts/oidc");
        }
        let mut cmd = Command::new("node");
        cmd.arg(dir.join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("node {script}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        NodeScript {
            child,
            stdin,
            lines,
            name: script.to_string(),
        }
    }

    /// The next line it prints as `<word> <rest>` (within a minute); panics on another word.
    pub fn next_blocking(&self, word: &str) -> String {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{} printed no {word} line", self.name));
        match line.split_once(' ') {
            Some((w, rest)) if w == word => rest.to_string(),
            _ => panic!("{} said {line:?} (expected {word})", self.name),
        }
    }

    /// [`NodeScript::next_blocking`] from async code.
    pub async fn next(&self, word: &str) -> String {
        tokio::task::block_in_place(|| self.next_blocking(word))
    }

    /// Sends one line on its stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to the script");
        stdin.flush().expect("flush");
    }
}

/// The query parameters of `url`.
pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}
