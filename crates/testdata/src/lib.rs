//! The one resolver of the shared public test data (`../shared/testdata` beside the
//! repository, read in place and never edited), for every crate's tests.
//!
//! A test that needs the data and cannot find it fails, saying where it looked: a corpus test
//! that silently returns would pass without testing anything.

use std::path::{Path, PathBuf};

/// The shared test data directory: `$ORRERY_TESTDATA`, else `testdata/` of the `shared`
/// directory beside the repository.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("ORRERY_TESTDATA") {
        return PathBuf::from(dir);
    }
    // crates/testdata → the repository → its parent, where `shared/` lives.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
}

/// The Helm chart corpus: `$HELM_CHARTS_DIR`, else `helm-charts/` of [`root`]. Panics, naming
/// the places looked at, when it is missing or empty.
pub fn helm_charts() -> PathBuf {
    let dir = std::env::var_os("HELM_CHARTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("helm-charts"));
    let has_charts = std::fs::read_dir(&dir)
        .map(|mut entries| entries.any(|e| e.is_ok_and(|e| e.path().join("Chart.yaml").is_file())))
        .unwrap_or(false);
    assert!(
        has_charts,
        "the Helm chart corpus is missing: looked in {} (set HELM_CHARTS_DIR or ORRERY_TESTDATA)",
        dir.display()
    );
    dir
}

/// One chart of the corpus; panics when it is not there.
pub fn helm_chart(name: &str) -> PathBuf {
    let p = helm_charts().join(name);
    assert!(
        p.join("Chart.yaml").is_file(),
        "chart {name} is missing from the corpus at {}",
        p.display()
    );
    p
}

/// One chart of the corpus packaged as `helm package` lays it out (a gzipped tar of the chart
/// directory under its name), made with the machine's `tar`.
pub fn helm_chart_package(name: &str) -> Vec<u8> {
    let dir = helm_chart(name);
    let out = std::env::temp_dir().join(format!(
        "orrery-chart-{name}-{}-{:?}.tgz",
        std::process::id(),
        std::thread::current().id()
    ));
    let ok = std::process::Command::new("tar")
        .arg("czf")
        .arg(&out)
        .arg("-C")
        .arg(dir.parent().expect("the chart has a parent directory"))
        .arg(name)
        .status()
        .expect("run tar")
        .success();
    assert!(ok, "tar could not package chart {name}");
    let bytes = std::fs::read(&out).expect("read the packaged chart");
    let _ = std::fs::remove_file(&out);
    bytes
}

/// The `orrery` binary for tests that drive it as a user does: `$ORRERY_BIN` (the test
/// command sets it), else built from the workspace with cargo.
pub fn orrery_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ORRERY_BIN") {
        return PathBuf::from(p);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "orrery", "--bin", "orrery"])
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the orrery binary failed");
    target.join("debug/orrery")
}

/// Runs `orrery ARGS` to completion (stdin closed) and returns what it printed.
pub fn run_orrery(args: &[&str]) -> std::process::Output {
    std::process::Command::new(orrery_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run orrery")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_corpus_is_found() {
        assert!(super::helm_chart("redis").is_dir());
    }
}
