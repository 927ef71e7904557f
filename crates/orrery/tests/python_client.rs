//! The official Kubernetes Python client (PyPI `kubernetes`) against an embedded cluster:
//! `tests/python/client_test.py` creates, lists, watches (bounded) and patches objects and
//! reports `N passed, M failed` (issue 3: everything kubectl, controllers and CRDs expect,
//! must-show 5).

mod common;
#[path = "kubectl_advanced/run.rs"]
mod run;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestCluster;
use run::{finish, text};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Runs `scripts/python-test-env.sh` (creating or reusing the venv) and returns its python.
fn venv_python() -> PathBuf {
    let root = repo_root();
    let child = Command::new("bash")
        .arg(root.join("scripts/python-test-env.sh"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/python-test-env.sh");
    // A first install downloads from PyPI; later runs only check a stamp.
    let out = finish(child, Duration::from_secs(600)).expect("python-test-env.sh finished");
    assert!(
        out.status.success(),
        "python-test-env.sh failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let python = stdout.lines().last().unwrap_or_default().trim();
    root.join(python)
}

#[test]
fn python_client_creates_lists_watches_and_patches() {
    let python = venv_python();
    assert!(python.exists(), "{} missing", python.display());
    let c = TestCluster::start(&[]);
    let child = Command::new(&python)
        .arg(repo_root().join("tests/python/client_test.py"))
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .env_remove("KUBECONFIG")
        .env("HOME", c.data_dir.join("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run client_test.py");
    let out = finish(child, Duration::from_secs(300)).expect("client_test.py finished in 5 min");
    let stdout = text(&out.stdout);
    let report = format!("{stdout}\n{}", text(&out.stderr));
    assert!(out.status.success(), "client_test.py failed:\n{report}");
    let summary = stdout.lines().last().unwrap_or_default();
    let passed: usize = summary
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `N passed, 0 failed` summary:\n{report}"));
    assert!(passed >= 10, "only {passed} checks ran:\n{report}");
    assert!(!stdout.contains("FAIL "), "{report}");
}
