//! An extension package's `extension.yaml` (KubeSphere's format) read into the marketplace's
//! objects: an `ExtensionVersion` `<name>-<version>` per package, and the `Extension` made from
//! the newest of them, keeping `depth` versions. Pure functions: the Repository sync that feeds
//! them (a Helm repository's index and packages) builds on this.
//!
//! `extension.yaml` is untrusted input (a repository anyone may publish): bounded in size,
//! every field checked for its type, the name a DNS-1123 label short enough for its namespace
//! `extension-<name>`, the version a semantic version.

use std::cmp::Ordering;

use gotmpl::sprig::Version;
use serde_json::{Map, Value, json};

use super::crds::{CORE, VERSION};

/// Label naming the extension an object belongs to.
pub const EXTENSION_REF: &str = "kubesphere.io/extension-ref";
/// Label naming an ExtensionVersion's category.
pub const CATEGORY_LABEL: &str = "kubesphere.io/category";
/// Largest `extension.yaml` read.
pub const MAX_MANIFEST: usize = 256 * 1024;
/// Longest extension name: `extension-<name>` must still be a namespace name (63).
pub const MAX_NAME: usize = 53;

/// What `extension.yaml` says, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The extension's name.
    pub name: String,
    /// Its version (as written).
    pub version: String,
    /// `HostOnly` (default) or `Multicluster`.
    pub installation_mode: String,
    /// The ExtensionVersion's `spec` from the manifest.
    pub spec: Map<String, Value>,
}

/// A locale map: `{en: …, zh: …}` as given, or a plain string as `{en: …}`.
fn locale(v: &Value, field: &str) -> Result<Option<Value>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(json!({"en": s}))),
        Value::Object(m) if m.values().all(Value::is_string) => Ok(Some(v.clone())),
        _ => Err(format!(
            "{field} must be a string or a map of strings by locale"
        )),
    }
}

fn string(v: &Value, field: &str) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(format!("{field} must be a string")),
    }
}

fn strings(v: &Value, field: &str) -> Result<Option<Value>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) if a.iter().all(Value::is_string) => Ok(Some(v.clone())),
        _ => Err(format!("{field} must be a list of strings")),
    }
}

/// Reads and checks `extension.yaml`.
pub fn parse_manifest(text: &str) -> Result<Manifest, String> {
    if text.len() > MAX_MANIFEST {
        return Err(format!(
            "extension.yaml is larger than {MAX_MANIFEST} bytes"
        ));
    }
    let doc: Value = serde_saphyr::from_str(text)
        .map_err(|e| format!("extension.yaml is not valid YAML: {e}"))?;
    let Value::Object(m) = &doc else {
        return Err("extension.yaml must be a map".into());
    };
    let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
    let name = string(get("name"), "name")?.unwrap_or_default();
    if name.is_empty() {
        return Err("extension.yaml has no name".into());
    }
    if name.len() > MAX_NAME || !apimachinery::validation::is_dns1123_label(&name).is_empty() {
        return Err(format!(
            "name {name:?} is invalid: a DNS-1123 label of at most {MAX_NAME} characters"
        ));
    }
    let version = string(get("version"), "version")?.unwrap_or_default();
    if Version::parse(&version).is_err() {
        return Err(format!("version {version:?} is not a semantic version"));
    }
    // `<name>-<version>` names the ExtensionVersion: it must be a valid object name.
    let object = format!("{name}-{version}");
    if !apimachinery::validation::is_dns1123_subdomain(&object).is_empty() {
        return Err(format!("{object:?} is not a valid object name"));
    }
    let installation_mode = match string(get("installationMode"), "installationMode")?.as_deref() {
        None | Some("") | Some("HostOnly") => "HostOnly".to_string(),
        Some("Multicluster") => "Multicluster".to_string(),
        Some(other) => {
            return Err(format!(
                "installationMode {other:?} is not HostOnly or Multicluster"
            ));
        }
    };
    let mut spec = Map::new();
    spec.insert("version".into(), version.clone().into());
    spec.insert("installationMode".into(), installation_mode.clone().into());
    for f in ["displayName", "description"] {
        if let Some(v) = locale(get(f), f)? {
            spec.insert(f.into(), v);
        }
    }
    for f in [
        "category",
        "home",
        "docs",
        "icon",
        "ksVersion",
        "kubeVersion",
    ] {
        if let Some(v) = string(get(f), f)? {
            spec.insert(f.into(), v.into());
        }
    }
    for f in ["keywords", "sources", "screenshots", "images"] {
        if let Some(v) = strings(get(f), f)? {
            spec.insert(f.into(), v);
        }
    }
    match get("provider") {
        Value::Null => {}
        Value::Object(p) if p.values().all(Value::is_object) => {
            spec.insert("provider".into(), get("provider").clone());
        }
        _ => return Err("provider must be a map of {name, email, url} by locale".into()),
    }
    for f in ["dependencies", "externalDependencies"] {
        match get(f) {
            Value::Null => {}
            Value::Array(a) if a.iter().all(Value::is_object) => {
                spec.insert(f.into(), get(f).clone());
            }
            _ => return Err(format!("{f} must be a list of maps")),
        }
    }
    Ok(Manifest {
        name,
        version,
        installation_mode,
        spec,
    })
}

/// The ExtensionVersion for a package of repository `repo` found at `chart_url`.
pub fn extension_version(m: &Manifest, repo: &str, chart_url: &str) -> Value {
    let mut spec = m.spec.clone();
    spec.insert("repository".into(), repo.into());
    spec.insert("chartURL".into(), chart_url.into());
    let mut labels = Map::new();
    labels.insert(EXTENSION_REF.into(), m.name.clone().into());
    labels.insert("kubesphere.io/repository-ref".into(), repo.into());
    if let Some(c) = spec.get("category").and_then(Value::as_str)
        && apimachinery::validation::is_dns1123_label(c).is_empty()
    {
        labels.insert(CATEGORY_LABEL.into(), c.into());
    }
    json!({
        "apiVersion": format!("{CORE}/{VERSION}"), "kind": "ExtensionVersion",
        "metadata": {"name": format!("{}-{}", m.name, m.version), "labels": labels},
        "spec": spec,
    })
}

/// Newest first by `spec.version` (semantic versions; unparsable ones last).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => y.compare(&x),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Splits one extension's ExtensionVersions into the `depth` newest (kept, newest first; 0
/// keeps all) and the rest (to remove).
pub fn keep_newest(mut versions: Vec<Value>, depth: usize) -> (Vec<Value>, Vec<Value>) {
    versions.sort_by(|a, b| {
        compare_versions(
            a["spec"]["version"].as_str().unwrap_or_default(),
            b["spec"]["version"].as_str().unwrap_or_default(),
        )
    });
    if depth == 0 || versions.len() <= depth {
        return (versions, Vec::new());
    }
    let rest = versions.split_off(depth);
    (versions, rest)
}

/// The Extension made from its ExtensionVersions (newest first, as [`keep_newest`] gives):
/// the newest's descriptive fields, and every version in `status.versions`.
pub fn extension_from(name: &str, versions: &[Value]) -> Option<Value> {
    let newest = versions.first()?;
    let mut spec = Map::new();
    for f in ["displayName", "description", "icon", "provider", "created"] {
        if let Some(v) = newest["spec"].get(f) {
            spec.insert(f.into(), v.clone());
        }
    }
    let listed: Vec<Value> = versions
        .iter()
        .map(|v| {
            let mut e = Map::new();
            for f in ["version", "ksVersion", "kubeVersion"] {
                if let Some(x) = v["spec"].get(f) {
                    e.insert(f.into(), x.clone());
                }
            }
            Value::Object(e)
        })
        .collect();
    let mut labels = Map::new();
    if let Some(c) = newest["metadata"]["labels"].get(CATEGORY_LABEL) {
        labels.insert(CATEGORY_LABEL.into(), c.clone());
    }
    if let Some(r) = newest["metadata"]["labels"].get("kubesphere.io/repository-ref") {
        labels.insert("kubesphere.io/repository-ref".into(), r.clone());
    }
    Some(json!({
        "apiVersion": format!("{CORE}/{VERSION}"), "kind": "Extension",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {
            "recommendedVersion": newest["spec"]["version"].clone(),
            "versions": listed,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEMO: &str = r#"
apiVersion: v1
name: demo
version: 1.2.0
displayName:
  en: Demo
  zh: 演示
description: A demo extension
category: devops
keywords: [demo, example]
home: https://example.com
ksVersion: ">=4.0.0-0"
kubeVersion: ">=1.19.0-0"
provider:
  en: {name: Example, email: dev@example.com, url: https://example.com}
dependencies:
  - name: frontend
    tags: [extension]
  - name: backend
    tags: [agent]
installationMode: Multicluster
images: [docker.io/example/demo:1.2.0]
"#;

    #[test]
    fn reads_kubesphere_extension_yaml() {
        let m = parse_manifest(DEMO).unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("demo", "1.2.0"));
        assert_eq!(m.installation_mode, "Multicluster");
        assert_eq!(m.spec["description"], json!({"en": "A demo extension"}));
        assert_eq!(m.spec["displayName"]["zh"], "演示");
        assert_eq!(m.spec["dependencies"][1]["tags"][0], "agent");
        let v = extension_version(&m, "market", "https://repo/demo-1.2.0.tgz");
        assert_eq!(v["metadata"]["name"], "demo-1.2.0");
        assert_eq!(v["metadata"]["labels"][EXTENSION_REF], "demo");
        assert_eq!(v["metadata"]["labels"][CATEGORY_LABEL], "devops");
        assert_eq!(v["spec"]["repository"], "market");
        assert_eq!(v["spec"]["chartURL"], "https://repo/demo-1.2.0.tgz");
        // The CRD's schema declares every field written.
        let crd = super::super::crds::all()
            .into_iter()
            .find(|c| c["spec"]["names"]["kind"] == "ExtensionVersion")
            .unwrap();
        let props = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"];
        for k in v["spec"].as_object().unwrap().keys() {
            assert!(props.get(k).is_some(), "{k} not in the schema");
        }
    }

    #[test]
    fn refuses_bad_manifests_with_a_reason() {
        let cases = [
            ("version: 1.0.0", "no name"),
            ("name: Demo\nversion: 1.0.0", "is invalid"),
            ("name: ../x\nversion: 1.0.0", "is invalid"),
            (
                &format!("name: {}\nversion: 1.0.0", "a".repeat(54)),
                "is invalid",
            ),
            ("name: demo\nversion: latest", "not a semantic version"),
            (
                "name: demo\nversion: 1.0.0\ninstallationMode: Everywhere",
                "installationMode",
            ),
            ("name: demo\nversion: 1.0.0\nkeywords: 3", "list of strings"),
            ("name: demo\nversion: 1.0.0\nprovider: x", "provider"),
            ("- a\n- b", "must be a map"),
            ("name: [", "not valid YAML"),
        ];
        for (text, want) in cases {
            let e = parse_manifest(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let big = format!("name: demo\nversion: 1.0.0\n#{}", "x".repeat(MAX_MANIFEST));
        assert!(parse_manifest(&big).unwrap_err().contains("larger"));
    }

    fn version(v: &str) -> Value {
        let m = parse_manifest(&format!("name: demo\nversion: {v}\ncategory: devops")).unwrap();
        extension_version(&m, "market", "u")
    }

    #[test]
    fn keeps_depth_newest_and_makes_the_extension_from_the_newest() {
        let all = ["1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1", "1.9.9"]
            .map(version)
            .to_vec();
        let (kept, dropped) = keep_newest(all.clone(), 3);
        let names = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|x| x["spec"]["version"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(names(&kept), ["2.0.0-rc.1", "1.10.0", "1.9.9"]);
        assert_eq!(names(&dropped), ["1.2.0", "1.0.0"]);
        assert_eq!(keep_newest(all, 0).0.len(), 5);
        let ext = extension_from("demo", &kept).unwrap();
        assert_eq!(ext["metadata"]["name"], "demo");
        assert_eq!(ext["status"]["recommendedVersion"], "2.0.0-rc.1");
        assert_eq!(ext["status"]["versions"].as_array().unwrap().len(), 3);
        assert_eq!(ext["metadata"]["labels"][CATEGORY_LABEL], "devops");
        assert!(extension_from("demo", &[]).is_none());
    }

    proptest! {
        #[test]
        fn any_text_is_refused_or_read_into_a_valid_name(text in "\\PC{0,300}") {
            if let Ok(m) = parse_manifest(&text) {
                prop_assert!(apimachinery::validation::is_dns1123_label(&m.name).is_empty());
                prop_assert!(m.name.len() <= MAX_NAME);
            }
        }

        #[test]
        fn any_fields_are_refused_or_read(
            name in "[a-z0-9.-]{0,60}",
            version in "[0-9a-z.+-]{0,12}",
            mode in "[A-Za-z]{0,12}",
        ) {
            let text = format!("name: '{name}'\nversion: '{version}'\ninstallationMode: '{mode}'");
            if let Ok(m) = parse_manifest(&text) {
                prop_assert_eq!(m.name, name);
                prop_assert!(m.installation_mode == "HostOnly" || m.installation_mode == "Multicluster");
            }
        }
    }
}
