//! Records the commit and the compiler `orrery version` reports. `ORRERY_GIT_COMMIT` set at
//! build time wins (an image built from a source archive has no `.git`).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ORRERY_GIT_COMMIT");
    let commit = std::env::var("ORRERY_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit);
    if let Some(c) = commit {
        println!("cargo:rustc-env=ORRERY_GIT_COMMIT={}", c.trim());
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Some(v) = output(Command::new(rustc).arg("--version")) {
        println!("cargo:rustc-env=ORRERY_RUSTC_VERSION={v}");
    }
}

fn git_commit() -> Option<String> {
    let git_dir = output(Command::new("git").args(["rev-parse", "--absolute-git-dir"]))?;
    // Rebuilt when the checked-out commit changes. Only paths that exist are named: cargo
    // re-runs a build script naming a missing one on every build (a clone without
    // packed-refs relinked the binary each time).
    for path in ["HEAD", "refs/heads", "packed-refs"] {
        let path = format!("{git_dir}/{path}");
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    output(Command::new("git").args(["rev-parse", "--short=12", "HEAD"]))
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}
