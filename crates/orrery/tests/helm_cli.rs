//! `orrery helm template` prints a chart's manifests like `helm template`.

use std::process::Command;

#[test]
fn helm_template_prints_sorted_sourced_manifests() {
    // The shared chart corpus, where every other corpus test finds it.
    let chart = testdata::helm_chart("openelb");
    let chart = chart.to_str().unwrap_or_default();
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args([
            "helm",
            "template",
            chart,
            "--namespace",
            "lb",
            "--release-name",
            "edge",
        ])
        .output()
        .expect("run orrery helm template");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("---\n# Source: openelb/templates/"),
        "{text}"
    );
    assert!(text.contains("namespace: lb"), "{text}");
    // Helm's install order: ServiceAccounts come before Deployments.
    let sa = text.find("kind: ServiceAccount").expect("a ServiceAccount");
    let deploy = text.find("kind: Deployment").expect("a Deployment");
    assert!(sa < deploy);
    assert!(
        !text.contains("kind: CustomResourceDefinition"),
        "CRDs only with --include-crds"
    );
    let with_crds = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["helm", "template", chart, "--include-crds"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&with_crds.stdout).contains("kind: CustomResourceDefinition"));
    let missing = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["helm", "template", "/nonexistent/chart"])
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(!missing.stderr.is_empty());
}
