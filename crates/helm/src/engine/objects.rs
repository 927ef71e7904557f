//! The Go objects Helm hands to templates besides plain maps: `.Files` (with `Get`, `Glob`, …)
//! and `.Capabilities` (`KubeVersion`, `APIVersions.Has`, `HelmVersion`).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{Object, Value};

use crate::chart::{File, glob_match};

/// `engine.files`: the chart's non-template files by path.
#[derive(Clone, Default)]
pub struct Files {
    files: BTreeMap<String, Arc<[u8]>>,
}

impl Files {
    /// The files of a chart as `.Files` sees them.
    pub fn new(from: &[File]) -> Files {
        Files {
            files: from
                .iter()
                .map(|f| (f.name.clone(), f.data.clone()))
                .collect(),
        }
    }

    fn get_bytes(&self, name: &str) -> Arc<[u8]> {
        self.files
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::from(&[][..]))
    }

    fn glob(&self, pattern: &str) -> Files {
        Files {
            files: self
                .files
                .iter()
                .filter(|(name, _)| glob_match(pattern, name, true))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    fn base_map(&self, f: impl Fn(&[u8]) -> String) -> Value {
        let m: BTreeMap<String, Value> = self
            .files
            .iter()
            .map(|(k, v)| {
                (
                    k.rsplit('/').next().unwrap_or(k).to_string(),
                    Value::str(f(v)),
                )
            })
            .collect();
        Value::str(crate::yaml::to_yaml(&Value::map(m)).unwrap_or_default())
    }
}

fn str_arg(args: &[Value], i: usize) -> Result<String, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(other) => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
        None => Err("wrong number of args: want 1".into()),
    }
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "engine.files"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        Some(match name {
            "Get" => str_arg(args, 0)
                .map(|n| Value::str(String::from_utf8_lossy(&self.get_bytes(&n)).as_ref())),
            "GetBytes" => str_arg(args, 0).map(|n| Value::Bytes(self.get_bytes(&n))),
            "Glob" => str_arg(args, 0).map(|p| Value::Object(Arc::new(self.glob(&p)))),
            "AsConfig" => Ok(self.base_map(|b| String::from_utf8_lossy(b).to_string())),
            "AsSecrets" => Ok(self.base_map(crate::engine::funcs::base64_encode)),
            "Lines" => str_arg(args, 0).map(|p| {
                let data = self.get_bytes(&p);
                if data.is_empty() {
                    return Value::list(vec![]);
                }
                let s = String::from_utf8_lossy(&data).to_string();
                let s = s.strip_suffix('\n').unwrap_or(&s);
                Value::list(s.split('\n').map(Value::str).collect())
            }),
            _ => return None,
        })
    }
    fn print(&self) -> String {
        let inner: Vec<String> = self
            .files
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.iter().map(u8::to_string).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", inner.join(" "))
    }
    fn to_value(&self) -> Value {
        Value::map(
            self.files
                .iter()
                .map(|(k, v)| (k.clone(), Value::Bytes(v.clone())))
                .collect(),
        )
    }
}

/// `.Capabilities.KubeVersion`.
#[derive(Clone)]
pub struct KubeVersion {
    /// `v1.36.0`.
    pub version: String,
    /// `1`.
    pub major: String,
    /// `36`.
    pub minor: String,
}

impl KubeVersion {
    /// Parses `v1.36.0` / `1.36.0` (Helm's `--kube-version`).
    pub fn parse(s: &str) -> Option<KubeVersion> {
        if !crate::values::semver::is_version(s.trim()) {
            return None;
        }
        let t = s.trim().trim_start_matches('v');
        let mut parts = t.split(['.', '-', '+']);
        let major = parts.next()?.to_string();
        let minor = parts.next().unwrap_or("0").to_string();
        let patch = parts.next().unwrap_or("0");
        Some(KubeVersion {
            version: format!("v{major}.{minor}.{patch}"),
            major,
            minor,
        })
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> &str {
        "common.KubeVersion"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Version" | "GitVersion" | "String" => Value::str(self.version.as_str()),
            "Major" => Value::str(self.major.as_str()),
            "Minor" => Value::str(self.minor.as_str()),
            _ => return None,
        })
    }
    fn print(&self) -> String {
        self.version.clone()
    }
    fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Version".into(), Value::str(self.version.as_str()));
        m.insert("Major".into(), Value::str(self.major.as_str()));
        m.insert("Minor".into(), Value::str(self.minor.as_str()));
        Value::map(m)
    }
}

/// `.Capabilities.APIVersions` (`[]string` with `Has`).
#[derive(Clone)]
pub struct ApiVersions(pub Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> &str {
        "common.VersionSet"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Has" => Some(str_arg(args, 0).map(|v| Value::Bool(self.0.contains(&v)))),
            _ => None,
        }
    }
    fn print(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn to_value(&self) -> Value {
        Value::list(self.0.iter().map(|s| Value::str(s.as_str())).collect())
    }
}

/// `.Capabilities.HelmVersion` (the reference engine reports `v4.2`).
#[derive(Clone)]
pub struct HelmVersion;

impl Object for HelmVersion {
    fn type_name(&self) -> &str {
        "common.BuildInfo"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::str(match name {
            "Version" => "v4.2",
            "GitCommit" | "GitTreeState" => "",
            "GoVersion" => "go1.26.6",
            "KubeClientVersion" => "v1.36",
            _ => return None,
        }))
    }
    fn print(&self) -> String {
        "{v4.2   go1.26.6 v1.36}".into()
    }
    fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        for k in [
            "Version",
            "GitCommit",
            "GitTreeState",
            "GoVersion",
            "KubeClientVersion",
        ] {
            m.insert(k.to_string(), self.field(k).unwrap_or_default());
        }
        Value::map(m)
    }
}

/// `.Capabilities`.
#[derive(Clone)]
pub struct Capabilities {
    /// The cluster's version.
    pub kube_version: KubeVersion,
    /// The API group versions (and `group/version/Kind`s) the cluster serves.
    pub api_versions: Vec<String>,
}

/// client-go v0.36's default API versions, as Helm's `DefaultCapabilities` lists them.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            kube_version: KubeVersion {
                version: "v1.36.0".into(),
                major: "1".into(),
                minor: "36".into(),
            },
            api_versions: DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Object for Capabilities {
    fn type_name(&self) -> &str {
        "*common.Capabilities"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "KubeVersion" => Value::Object(Arc::new(self.kube_version.clone())),
            "APIVersions" => Value::Object(Arc::new(ApiVersions(self.api_versions.clone()))),
            "HelmVersion" => Value::Object(Arc::new(HelmVersion)),
            _ => return None,
        })
    }
    fn print(&self) -> String {
        format!(
            "&{{{} [{}] {}}}",
            self.kube_version.version,
            self.api_versions.join(" "),
            HelmVersion.print()
        )
    }
    fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("KubeVersion".into(), self.kube_version.to_value());
        m.insert(
            "APIVersions".into(),
            ApiVersions(self.api_versions.clone()).to_value(),
        );
        m.insert("HelmVersion".into(), HelmVersion.to_value());
        Value::map(m)
    }
}
