//! Extension packages made from a directory (`orrery extension package`; the tests package
//! `examples/extensions/hello` with it): the files `helm package` would take (`.helmignore`
//! honoured), checked as the marketplace and the installer check them — `extension.yaml`
//! ([`package::parse_manifest`]), `permissions.yaml` within the installer's ceiling
//! ([`permissions::check_ceiling`]), `Chart.yaml` naming the same extension and version, the
//! `frontend` subchart tagged `extension` and `backend` tagged `agent` (and present), and the chart rendered by
//! Orrery's Helm engine as the host's release and as a member's agent release — and written as
//! a `.tgz` laid out as `helm package` lays it out.
//!
//! A directory without `Chart.yaml` gets one made from `extension.yaml` (name, version,
//! description, kubeVersion, home, keywords, dependencies), as KubeSphere's tooling does.

use std::path::Path;

use helm::chart::{File, LoadLimits};
use helm::engine::{ReleaseOptions, RenderOptions};
use serde_json::{Value, json};

use super::package::{self, Manifest};
use super::permissions;

/// A package made by [`package_dir`].
#[derive(Debug)]
pub struct Packaged {
    /// What the package holds, checked.
    pub checked: Checked,
    /// The `.tgz`.
    pub tgz: Vec<u8>,
}

impl Packaged {
    /// `<name>-<version>.tgz`, as `helm package` names it.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}.tgz",
            self.checked.manifest.name, self.checked.manifest.version
        )
    }
}

/// What a checked package holds.
#[derive(Debug)]
pub struct Checked {
    /// Its `extension.yaml`.
    pub manifest: Manifest,
    /// Objects the host's release renders.
    pub host_objects: usize,
    /// Objects a member's agent release renders (0 without a `backend`/`agent` part).
    pub agent_objects: usize,
}

/// Packages the extension in `dir`, its version set to `version` when given (in `Chart.yaml`
/// and `extension.yaml`); the package, or why not.
pub fn package_dir(dir: &Path, version: Option<&str>) -> Result<Packaged, String> {
    let limits = LoadLimits::default();
    let mut files =
        helm::chart::dir_files(dir, &limits).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(v) = version {
        set_version(&mut files, v)?;
    }
    if !files.iter().any(|f| f.name == "Chart.yaml") {
        let made = chart_yaml_from_manifest(&files)?;
        files.push(made);
    }
    let checked = check_files(&files)?;
    let named: Vec<(&str, &[u8])> = files.iter().map(|f| (f.name.as_str(), &*f.data)).collect();
    let tgz = helm::chart::package_files(&checked.manifest.name, &named);
    // What was written reads back as the marketplace will read it.
    let checked = check_package(&tgz)?;
    Ok(Packaged { checked, tgz })
}

/// Checks a package (`.tgz`) as [`package_dir`] checks a directory.
pub fn check_package(tgz: &[u8]) -> Result<Checked, String> {
    let files = helm::chart::archive_files(tgz, &LoadLimits::default())
        .map_err(|e| format!("the package is not a chart archive: {e}"))?;
    check_files(&files)
}

fn text<'a>(files: &'a [File], name: &str) -> Result<Option<&'a str>, String> {
    match files.iter().find(|f| f.name == name) {
        None => Ok(None),
        Some(f) => std::str::from_utf8(&f.data)
            .map(Some)
            .map_err(|_| format!("{name} is not UTF-8")),
    }
}

/// Sets the top-level `version:` of `extension.yaml`, `Chart.yaml` and the subcharts'
/// `charts/<name>/Chart.yaml` to `version` (the parts of an extension go together).
fn set_version(files: &mut [File], version: &str) -> Result<(), String> {
    if gotmpl::sprig::Version::parse(version).is_err() {
        return Err(format!("version {version:?} is not a semantic version"));
    }
    let line = regex::Regex::new(r"(?m)^version:.*$").map_err(|e| e.to_string())?;
    for f in files.iter_mut().filter(|f| {
        let subchart = f.name.starts_with("charts/")
            && f.name.ends_with("/Chart.yaml")
            && f.name.matches('/').count() == 2;
        f.name == "Chart.yaml" || f.name == "extension.yaml" || subchart
    }) {
        let old = std::str::from_utf8(&f.data).map_err(|_| format!("{} is not UTF-8", f.name))?;
        let new = if line.is_match(old) {
            line.replace(old, format!("version: {version}").as_str())
                .into_owned()
        } else {
            format!("{}\nversion: {version}\n", old.trim_end())
        };
        f.data = new.into_bytes().into();
    }
    Ok(())
}

/// A `Chart.yaml` made from `extension.yaml` (JSON, which is YAML).
fn chart_yaml_from_manifest(files: &[File]) -> Result<File, String> {
    let manifest = text(files, "extension.yaml")?.ok_or(MISSING_MANIFEST)?;
    let m = package::parse_manifest(manifest)?;
    let mut chart = json!({"apiVersion": "v2", "name": m.name, "version": m.version,
        "type": "application"});
    if let Some(d) = m.spec.get("description").and_then(|d| d["en"].as_str()) {
        chart["description"] = d.into();
    }
    for f in ["kubeVersion", "home", "keywords"] {
        if let Some(v) = m.spec.get(f) {
            chart[f] = v.clone();
        }
    }
    if let Some(deps) = m.spec.get("dependencies") {
        chart["dependencies"] = deps.clone();
    }
    let data = serde_json::to_string_pretty(&chart).map_err(|e| e.to_string())?;
    Ok(File {
        name: "Chart.yaml".into(),
        data: data.into_bytes().into(),
    })
}

const MISSING_MANIFEST: &str =
    "extension.yaml is missing: every extension package describes itself in it";

/// The subcharts KubeSphere's layout names, and the tag each must carry.
const PARTS: [(&str, &str, &str); 2] = [
    ("frontend", "extension", "installed on the host only"),
    (
        "backend",
        "agent",
        "installed where the extension runs, members too",
    ),
];

/// Checks a package's files (see the module's documentation).
pub fn check_files(files: &[File]) -> Result<Checked, String> {
    let manifest = text(files, "extension.yaml")?.ok_or(MISSING_MANIFEST)?;
    let manifest = package::parse_manifest(manifest)?;
    let perms = text(files, "permissions.yaml")?.ok_or(
        "permissions.yaml is missing: the installer grants an extension only the rights it \
         declares there",
    )?;
    permissions::check_ceiling(&permissions::parse(perms)?)?;
    let limits = LoadLimits::default();
    let chart = helm::chart::load_files(files.to_vec(), &limits, 0)
        .map_err(|e| format!("the chart does not load: {e}"))?;
    let meta = &chart.metadata;
    if meta.name != manifest.name {
        return Err(format!(
            "Chart.yaml names the chart {:?}, extension.yaml the extension {:?}",
            meta.name, manifest.name
        ));
    }
    if meta.version != manifest.version {
        return Err(format!(
            "Chart.yaml says version {:?}, extension.yaml {:?}",
            meta.version, manifest.version
        ));
    }
    for d in &meta.dependencies {
        if let Some((_, tag, what)) = PARTS.iter().find(|(n, ..)| *n == d.name)
            && !d.tags.iter().any(|t| t == tag)
        {
            return Err(format!(
                "the {} subchart must carry the tag {tag:?} (it is {what})",
                d.name
            ));
        }
        if !chart.dependencies.iter().any(|c| c.metadata.name == d.name) {
            return Err(format!(
                "Chart.yaml depends on {:?} but charts/{} is missing",
                d.name, d.name
            ));
        }
    }
    let has_agent = meta
        .dependencies
        .iter()
        .any(|d| d.tags.iter().any(|t| t == "agent"));
    let host_objects = render(&chart, &manifest, "host", true)?;
    let agent_objects = if has_agent && manifest.installation_mode == "Multicluster" {
        render(&chart, &manifest, "member", false)?
    } else {
        0
    };
    Ok(Checked {
        manifest,
        host_objects,
        agent_objects,
    })
}

/// Renders the chart as the installer does in a cluster of `role` (the `extension` part only
/// on the host); the number of objects.
fn render(
    chart: &helm::chart::Chart,
    m: &Manifest,
    role: &str,
    host: bool,
) -> Result<usize, String> {
    let values: Value = json!({
        "global": {
            "clusterInfo": {"name": role, "role": role},
            "imageRegistry": "",
            "portal": {"url": "http://127.0.0.1:8080"},
        },
        "tags": {"extension": host, "agent": true},
    });
    let text = serde_json::to_string(&values).map_err(|e| e.to_string())?;
    let values = helm::yaml::parse_map(&text).map_err(|e| e.to_string())?;
    let (name, part) = if host {
        (m.name.clone(), "the host's release")
    } else {
        (format!("{}-agent", m.name), "a member's agent release")
    };
    let opts = RenderOptions {
        release: ReleaseOptions {
            name,
            namespace: format!("extension-{}", m.name),
            ..ReleaseOptions::default()
        },
        ..RenderOptions::default()
    };
    let rel = helm::release::render_release(chart, &values, &opts, false)
        .map_err(|e| format!("the chart does not render as {part}: {e}"))?;
    Ok(rel.manifest.matches("# Source: ").count() + rel.hooks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str) -> File {
        File {
            name: name.into(),
            data: data.as_bytes().to_vec().into(),
        }
    }

    const PERMISSIONS: &str = "kind: Role\nrules:\n  - apiGroups: ['']\n    resources: [configmaps]\n    verbs: [get, create]\n";

    fn minimal() -> Vec<File> {
        vec![
            file("extension.yaml", "name: demo\nversion: 0.1.0\n"),
            file("permissions.yaml", PERMISSIONS),
            file(
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\n",
            ),
        ]
    }

    #[test]
    fn a_directory_without_chart_yaml_gets_one_and_versions_are_overridden() {
        let mut files = minimal();
        set_version(&mut files, "0.2.0").unwrap();
        files.push(chart_yaml_from_manifest(&files).unwrap());
        let c = check_files(&files).unwrap();
        assert_eq!(c.manifest.version, "0.2.0");
        assert_eq!(c.host_objects, 1);
        assert!(
            set_version(&mut files, "latest")
                .unwrap_err()
                .contains("semantic")
        );
    }

    #[test]
    fn broken_packages_are_refused_with_a_reason() {
        let chart = file("Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n");
        let with = |f: fn(&mut Vec<File>)| {
            let mut files = minimal();
            files.push(chart.clone());
            f(&mut files);
            check_files(&files).unwrap_err()
        };
        type Breaks = fn(&mut Vec<File>);
        let cases: [(Breaks, &str); 6] = [
            (
                |f| f.retain(|x| x.name != "extension.yaml"),
                "extension.yaml is missing",
            ),
            (
                |f| f.retain(|x| x.name != "permissions.yaml"),
                "permissions.yaml is missing",
            ),
            (
                |f| f[0] = file("extension.yaml", "name: Demo\nversion: 0.1.0\n"),
                "is invalid",
            ),
            (
                |f| f[0] = file("extension.yaml", "name: other\nversion: 0.1.0\n"),
                "extension.yaml the extension \"other\"",
            ),
            (
                |f| {
                    f[1] = file(
                        "permissions.yaml",
                        "kind: ClusterRole\nrules:\n  - apiGroups: ['']\n    resources: [secrets]\n    verbs: [get]\n",
                    )
                },
                "more than the installer may grant",
            ),
            (
                |f| f[2] = file("templates/cm.yaml", "{{ .Values.nope.deeper }}"),
                "does not render",
            ),
        ];
        for (change, why) in cases {
            let e = with(change);
            assert!(e.contains(why), "{why}: {e}");
        }
        let e = with(|f| {
            f.retain(|x| x.name != "Chart.yaml");
            f.push(file(
                "Chart.yaml",
                "apiVersion: v2\nname: demo\nversion: 0.1.0\ndependencies:\n  - name: frontend\n    version: 0.1.0\n",
            ));
        });
        assert!(e.contains("tag \"extension\""), "{e}");
    }
}
