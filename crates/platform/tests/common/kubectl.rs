//! Running the machine's kubectl against a kubeconfig, isolated from the user's own config.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `kubectl --kubeconfig KC ARGS…` with `HOME` set to `home`.
pub fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", home)
        .output()
        .expect("run kubectl")
}

/// stdout followed by stderr.
pub fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
