//! `orrery extension create` writes a skeleton that `orrery extension package` turns into a
//! package the marketplace reads and Orrery's Helm engine renders; broken extensions are
//! refused with a clear reason and no package; the example extension packages at any version.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn orrery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(args)
        .output()
        .expect("run orrery")
}

fn ok(args: &[&str]) -> String {
    let out = orrery(args);
    assert!(
        out.status.success(),
        "orrery {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail; its stderr.
fn fails(args: &[&str]) -> String {
    let out = orrery(args);
    assert!(!out.status.success(), "orrery {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/extensions/hello")
}

#[test]
fn a_created_extension_packages_reads_and_renders() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("demo");
    let out_dir = tmp.path().join("out");
    let said = ok(&["extension", "create", "demo", "--dir", s(&dir)]);
    assert!(said.contains("created extension demo"), "{said}");
    for f in [
        "Chart.yaml",
        "extension.yaml",
        "permissions.yaml",
        "values.yaml",
        "charts/frontend/templates/bundle.yaml",
        "charts/frontend/templates/entry.yaml",
        "charts/frontend/src/index.tsx",
        "charts/frontend/dist/index.js",
        "charts/frontend/types/orrery-console.d.ts",
        "charts/backend/templates/backend.yaml",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // No node_modules in the skeleton: the built bundle it comes with is packaged.
    let said = ok(&["extension", "package", s(&dir), "-d", s(&out_dir)]);
    assert!(said.contains("packaged demo 0.1.0 (HostOnly;"), "{said}");
    let tgz = std::fs::read(out_dir.join("demo-0.1.0.tgz")).expect("the package");
    let checked = platform::extensions::authoring::check_package(&tgz).expect("checks");
    assert_eq!(checked.manifest.name, "demo");
    // ConfigMap, JSBundle, ExtensionEntry, RoleTemplate; ConfigMap, Deployment, Service, APIService.
    assert_eq!(checked.host_objects, 8, "{checked:?}");
    // The marketplace reads it.
    let v = platform::extensions::repository::read_package(
        &tgz,
        "market",
        "demo",
        "0.1.0",
        "https://r/demo-0.1.0.tgz",
        "",
    )
    .expect("read as an ExtensionVersion");
    assert_eq!(v["metadata"]["name"], "demo-0.1.0");
    assert!(
        v["spec"]["icon"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml")
    );
    // The frontend's sources and toolchain stay out of the package; its bundle goes in.
    let files = helm::chart::archive_files(&tgz, &Default::default()).expect("files");
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.contains(&"charts/frontend/dist/index.js"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("/src/") || n.ends_with("package.json") || n.contains("types/")),
        "{names:?}"
    );
    // Rendered by `orrery helm template` as the installer would.
    let pkg = out_dir.join("demo-0.1.0.tgz");
    let text = ok(&[
        "helm",
        "template",
        s(&pkg),
        "--namespace",
        "extension-demo",
        "--release-name",
        "demo",
        "--set",
        "global.clusterInfo.name=host",
    ]);
    for kind in [
        "kind: JSBundle",
        "kind: ExtensionEntry",
        "kind: RoleTemplate",
        "kind: APIService",
        "kind: Deployment",
        "group: demo.kubesphere.io",
        "name: demo-backend",
        "namespace: extension-demo",
    ] {
        assert!(text.contains(kind), "{kind} in {text}");
    }
    assert!(
        text.contains("import { jsx, jsxs } from"),
        "the bundle in its ConfigMap"
    );
    // Another version: every part follows it.
    ok(&[
        "extension",
        "package",
        s(&dir),
        "--version",
        "0.2.0",
        "-d",
        s(&out_dir),
    ]);
    let text = ok(&["helm", "template", s(&out_dir.join("demo-0.2.0.tgz"))]);
    assert!(
        text.contains("value: \"0.2.0\""),
        "the backend's VERSION: {text}"
    );
    let e = fails(&[
        "extension",
        "package",
        s(&dir),
        "--version",
        "latest",
        "-d",
        s(&out_dir),
    ]);
    assert!(e.contains("not a semantic version"), "{e}");
}

#[test]
fn broken_extensions_are_refused_with_a_reason() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out_dir = tmp.path().join("out");
    let fresh = |name: &str| {
        let dir = tmp.path().join(name);
        ok(&["extension", "create", "demo", "--dir", s(&dir)]);
        dir
    };
    type Breaks = fn(&Path);
    let cases: [(&str, Breaks, &str); 5] = [
        (
            "no-manifest",
            |d| std::fs::remove_file(d.join("extension.yaml")).unwrap(),
            "extension.yaml is missing",
        ),
        (
            "greedy",
            |d| {
                std::fs::write(
                    d.join("permissions.yaml"),
                    "kind: ClusterRole\nrules:\n  - apiGroups: ['']\n    resources: [secrets]\n    verbs: [list]\n",
                )
                .unwrap()
            },
            "permissions.yaml asks for more than the installer may grant",
        ),
        (
            "unrenderable",
            |d| {
                std::fs::write(
                    d.join("charts/backend/templates/broken.yaml"),
                    "value: {{ .Values.nope.deeper }}\n",
                )
                .unwrap()
            },
            "the chart does not render",
        ),
        (
            "unbuilt",
            |d| std::fs::remove_file(d.join("charts/frontend/dist/index.js")).unwrap(),
            "is not built",
        ),
        (
            "renamed",
            |d| {
                let p = d.join("extension.yaml");
                let text = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, text.replace("name: demo", "name: Demo")).unwrap();
            },
            "name \"Demo\" is invalid",
        ),
    ];
    for (name, break_it, why) in cases {
        let dir = fresh(name);
        break_it(&dir);
        let e = fails(&["extension", "package", s(&dir), "-d", s(&out_dir)]);
        assert!(e.contains(why), "{name}: {why:?} in {e}");
        assert!(
            !out_dir.join("demo-0.1.0.tgz").exists(),
            "{name}: nothing written"
        );
    }
    let e = fails(&[
        "extension",
        "create",
        "Bad_Name",
        "--dir",
        s(&tmp.path().join("x")),
    ]);
    assert!(e.contains("is invalid"), "{e}");
    let e = fails(&[
        "extension",
        "create",
        "demo",
        "--dir",
        s(&tmp.path().join("greedy")),
    ]);
    assert!(e.contains("exists and is not empty"), "{e}");
}

#[test]
fn the_example_extension_packages_at_two_versions() {
    let tmp = tempfile::tempdir().expect("tmp");
    for v in ["0.1.0", "0.2.0"] {
        let said = ok(&[
            "extension",
            "package",
            s(&example()),
            "--version",
            v,
            "--no-build",
            "-d",
            s(tmp.path()),
        ]);
        assert!(said.contains(&format!("packaged hello {v}")), "{said}");
        let tgz = std::fs::read(tmp.path().join(format!("hello-{v}.tgz"))).expect("package");
        let c = platform::extensions::authoring::check_package(&tgz).expect("checks");
        assert_eq!(c.manifest.version, v);
        assert_eq!(c.manifest.installation_mode, "Multicluster");
        assert!(c.agent_objects > 0, "{c:?}");
    }
}
