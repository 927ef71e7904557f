//! Chart loading and dependency handling on real corpus charts and small synthetic ones.

use std::path::{Path, PathBuf};

use helm::chart::{LoadLimits, load};
use helm::engine::{RenderOptions, render_chart};

/// A corpus chart; the test fails (saying where it looked) when the corpus is missing.
fn corpus(name: &str) -> PathBuf {
    testdata::helm_chart(name)
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = root.join(name);
        if let Some(dir) = p.parent() {
            assert!(std::fs::create_dir_all(dir).is_ok());
        }
        assert!(std::fs::write(p, text).is_ok());
    }
}

#[test]
fn subcharts_from_archives_with_nested_library() {
    let p = corpus("apisix");
    let c = load(&p, &LoadLimits::default()).unwrap_or_default();
    let mut names: Vec<&str> = c.dependencies.iter().map(|d| d.name()).collect();
    names.sort();
    assert_eq!(names, vec!["apisix-ingress-controller", "etcd"]);
    let etcd = c.dependencies.iter().find(|d| d.name() == "etcd");
    assert!(etcd.is_some_and(|e| {
        e.dependencies
            .iter()
            .any(|d| d.name() == "common" && d.is_library())
    }));
}

#[test]
fn files_exclude_templates_and_charts() {
    let p = corpus("nocalhost");
    let c = load(&p, &LoadLimits::default()).unwrap_or_default();
    assert!(c.files.iter().any(|f| f.name == "sql/nocalhost-api.sql"));
    assert!(
        !c.files
            .iter()
            .any(|f| f.name.starts_with("templates/") || f.name.starts_with("charts/"))
    );
    assert!(
        !c.files
            .iter()
            .any(|f| f.name == "Chart.yaml" || f.name == "values.yaml")
    );
}

#[test]
fn helmignore_hides_files_and_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("c");
    write(
        &root,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"),
            (".helmignore", "*.md\nsecret/\n"),
            ("README.md", "x"),
            ("secret/key", "x"),
            ("files/a.txt", "a"),
            ("templates/.hidden.yaml", "x"),
            (
                "templates/cm.yaml",
                "{{ range $p, $_ := .Files }}{{ $p }} {{ end }}",
            ),
        ],
    );
    let c = load(&root, &LoadLimits::default()).unwrap_or_default();
    assert_eq!(c.templates.len(), 1);
    let out = render_chart(&c, &Default::default(), &RenderOptions::default()).unwrap_or_default();
    assert_eq!(
        out.get("c/templates/cm.yaml").map(String::as_str),
        Some(".helmignore files/a.txt ")
    );
}

#[test]
fn v1_chart_takes_dependencies_from_requirements_yaml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("old");
    write(
        &root,
        &[
            ("Chart.yaml", "apiVersion: v1\nname: old\nversion: 1.0.0\n"),
            (
                "requirements.yaml",
                "dependencies:\n- name: sub\n  version: 0.1.0\n  condition: sub.enabled\n",
            ),
            ("values.yaml", "sub:\n  enabled: false\n"),
            (
                "charts/sub/Chart.yaml",
                "apiVersion: v1\nname: sub\nversion: 0.1.0\n",
            ),
            ("charts/sub/templates/s.yaml", "sub"),
            ("templates/t.yaml", "{{ .Chart.APIVersion }}"),
        ],
    );
    let c = load(&root, &LoadLimits::default()).unwrap_or_default();
    assert_eq!(c.metadata.dependencies.len(), 1);
    assert!(c.files.iter().any(|f| f.name == "requirements.yaml"));
    let off = render_chart(&c, &Default::default(), &RenderOptions::default()).unwrap_or_default();
    assert_eq!(off.keys().collect::<Vec<_>>(), vec!["old/templates/t.yaml"]);
    let mut on = helm::values::Map::new();
    assert!(helm::values::strvals::parse_set("sub.enabled=true", &mut on).is_ok());
    let out = render_chart(&c, &on, &RenderOptions::default()).unwrap_or_default();
    assert_eq!(
        out.get("old/charts/sub/templates/s.yaml")
            .map(String::as_str),
        Some("sub")
    );
    assert_eq!(
        out.get("old/templates/t.yaml").map(String::as_str),
        Some("v1")
    );
}

#[test]
fn schema_violation_is_reported_like_helm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("s");
    write(
        &root,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: s\nversion: 1.0.0\n"),
            ("values.yaml", "replicas: 1\n"),
            (
                "values.schema.json",
                r#"{"type":"object","properties":{"replicas":{"type":"integer","minimum":1}}}"#,
            ),
            ("templates/t.yaml", "{{ .Values.replicas }}"),
        ],
    );
    let c = load(&root, &LoadLimits::default()).unwrap_or_default();
    let mut bad = helm::values::Map::new();
    assert!(helm::values::strvals::parse_set("replicas=0", &mut bad).is_ok());
    let err = render_chart(&c, &bad, &RenderOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(
            "values don't meet the specifications of the schema(s) in the following chart(s):\ns:\n"
        ),
        "{err}"
    );
}

#[test]
fn helm_template_orders_like_helm_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("t");
    write(
        &root,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: t\nversion: 1.0.0\n"),
            ("crds/crd.yaml", "kind: CustomResourceDefinition\n"),
            ("templates/NOTES.txt", "notes"),
            (
                "templates/a.yaml",
                "kind: Deployment\nmetadata:\n  name: d\n",
            ),
            (
                "templates/b.yaml",
                "kind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n---\nkind: ConfigMap\ndata:\n  x: |\n    a\n\n",
            ),
            (
                "templates/h.yaml",
                "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: post-install\n",
            ),
        ],
    );
    // `orrery helm template`, as a user runs it.
    let root = root.to_string_lossy().to_string();
    let out = testdata::run_orrery(&[
        "helm",
        "template",
        &root,
        "--release-name",
        "rel",
        "--include-crds",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "---\n# Source: t/crds/crd.yaml\nkind: CustomResourceDefinition\n\n\
         ---\n# Source: t/templates/b.yaml\nkind: ServiceAccount\nmetadata:\n  name: rel\n\
         ---\n# Source: t/templates/b.yaml\nkind: ConfigMap\ndata:\n  x: |\n    a\n\n\n\
         ---\n# Source: t/templates/a.yaml\nkind: Deployment\nmetadata:\n  name: d\n\
         ---\n# Source: t/templates/h.yaml\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: post-install\n\n"
    );
}
