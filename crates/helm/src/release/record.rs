//! Helm's release record (`release.v1.Release`) and its storage form, so that releases Orrery
//! stores are the ones `helm list`/`helm get` read: JSON with Helm's field names, gzip'd and
//! base64'd into a `helm.sh/release.v1` Secret named `sh.helm.release.v1.NAME.vN`.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map as JsonMap, Value as Json, json};

use crate::chart::{Chart, File, Metadata};
use crate::manifest::Manifest;
use crate::values::Map;
use crate::values::schema::to_json;

/// A release's state (`helm.sh/helm/v4/pkg/release/common.Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `unknown`.
    Unknown,
    /// `deployed`.
    Deployed,
    /// `uninstalled`.
    Uninstalled,
    /// `superseded`.
    Superseded,
    /// `failed`.
    Failed,
    /// `uninstalling`.
    Uninstalling,
    /// `pending-install`.
    PendingInstall,
    /// `pending-upgrade`.
    PendingUpgrade,
    /// `pending-rollback`.
    PendingRollback,
}

impl Status {
    /// Helm's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }
}

/// One revision of a release.
#[derive(Clone, Debug)]
pub struct ReleaseRecord {
    /// Release name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Revision, from 1.
    pub version: i64,
    /// State.
    pub status: Status,
    /// RFC 3339 time of the first revision.
    pub first_deployed: String,
    /// RFC 3339 time of this revision.
    pub last_deployed: String,
    /// Human description ("Install complete").
    pub description: String,
    /// Rendered NOTES.txt.
    pub notes: String,
    /// The release manifest.
    pub manifest: String,
    /// Hooks.
    pub hooks: Vec<Manifest>,
    /// The user-supplied values (`helm get values`).
    pub config: Map,
    /// The chart (its subcharts are not stored, as in Helm).
    pub chart: Chart,
    /// `ssa` or `csa` (Helm 4's `apply_method`; empty means client-side apply).
    pub apply_method: String,
}

/// A stored release that cannot be decoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode release: {0}")]
pub struct DecodeError(pub String);

fn put(m: &mut JsonMap<String, Json>, k: &str, v: &str) {
    if !v.is_empty() {
        m.insert(k.into(), Json::String(v.into()));
    }
}

fn put_list(m: &mut JsonMap<String, Json>, k: &str, v: &[String]) {
    if !v.is_empty() {
        m.insert(k.into(), json!(v));
    }
}

fn metadata_json(md: &Metadata) -> Json {
    let mut m = JsonMap::new();
    put(&mut m, "name", &md.name);
    put(&mut m, "home", &md.home);
    put_list(&mut m, "sources", &md.sources);
    put(&mut m, "version", &md.version);
    put(&mut m, "description", &md.description);
    put_list(&mut m, "keywords", &md.keywords);
    if !md.maintainers.is_empty() {
        let ms: Vec<Json> = md
            .maintainers
            .iter()
            .map(|mt| {
                let mut o = JsonMap::new();
                put(&mut o, "name", &mt.name);
                put(&mut o, "email", &mt.email);
                put(&mut o, "url", &mt.url);
                Json::Object(o)
            })
            .collect();
        m.insert("maintainers".into(), Json::Array(ms));
    }
    put(&mut m, "icon", &md.icon);
    put(&mut m, "apiVersion", &md.api_version);
    put(&mut m, "condition", &md.condition);
    put(&mut m, "tags", &md.tags);
    put(&mut m, "appVersion", &md.app_version);
    if md.deprecated {
        m.insert("deprecated".into(), Json::Bool(true));
    }
    if !md.annotations.is_empty() {
        m.insert("annotations".into(), json!(md.annotations));
    }
    put(&mut m, "kubeVersion", &md.kube_version);
    if !md.dependencies.is_empty() {
        let deps: Vec<Json> = md
            .dependencies
            .iter()
            .map(|d| {
                let mut o = JsonMap::new();
                o.insert("name".into(), Json::String(d.name.clone()));
                put(&mut o, "version", &d.version);
                o.insert("repository".into(), Json::String(d.repository.clone()));
                put(&mut o, "condition", &d.condition);
                put_list(&mut o, "tags", &d.tags);
                if d.enabled {
                    o.insert("enabled".into(), Json::Bool(true));
                }
                if !d.import_values.is_empty() {
                    o.insert(
                        "import-values".into(),
                        Json::Array(d.import_values.iter().map(to_json).collect()),
                    );
                }
                put(&mut o, "alias", &d.alias);
                Json::Object(o)
            })
            .collect();
        m.insert("dependencies".into(), Json::Array(deps));
    }
    put(&mut m, "type", &md.chart_type);
    Json::Object(m)
}

/// Go marshals a nil slice (a chart without such files) as `null`.
fn files_json(files: &[File]) -> Json {
    if files.is_empty() {
        return Json::Null;
    }
    Json::Array(
        files
            .iter()
            .map(|f| json!({"name": f.name, "data": B64.encode(&f.data)}))
            .collect(),
    )
}

/// The JSON Helm stores for a chart (`chart.Chart`, without subcharts).
pub fn chart_json(c: &Chart) -> Json {
    json!({
        "metadata": metadata_json(&c.metadata),
        "lock": null,
        "templates": files_json(&c.templates),
        "values": to_json(&gotmpl::Value::map(c.values.clone())),
        "schema": c.schema.as_ref().map(|s| Json::String(B64.encode(s))).unwrap_or(Json::Null),
        "schemamodtime": "0001-01-01T00:00:00Z",
        "files": files_json(&c.files),
    })
}

fn hook_json(h: &Manifest) -> Json {
    let mut m = JsonMap::new();
    put(&mut m, "name", &h.name);
    put(&mut m, "kind", &h.kind);
    put(&mut m, "path", &h.path);
    put(&mut m, "manifest", &h.content);
    put_list(&mut m, "events", &h.hook_events);
    m.insert("last_run".into(), json!({"phase": ""}));
    if h.hook_weight != 0 {
        m.insert("weight".into(), json!(h.hook_weight));
    }
    put_list(&mut m, "delete_policies", &h.hook_delete_policies);
    Json::Object(m)
}

impl ReleaseRecord {
    /// `json.Marshal(release)`.
    pub fn to_json(&self) -> Json {
        let mut info = JsonMap::new();
        put(&mut info, "first_deployed", &self.first_deployed);
        put(&mut info, "last_deployed", &self.last_deployed);
        put(&mut info, "description", &self.description);
        info.insert("status".into(), Json::String(self.status.as_str().into()));
        put(&mut info, "notes", &self.notes);
        let mut m = JsonMap::new();
        put(&mut m, "name", &self.name);
        m.insert("info".into(), Json::Object(info));
        m.insert("chart".into(), chart_json(&self.chart));
        if !self.config.is_empty() {
            m.insert(
                "config".into(),
                to_json(&gotmpl::Value::map(self.config.clone())),
            );
        }
        put(&mut m, "manifest", &self.manifest);
        if !self.hooks.is_empty() {
            m.insert(
                "hooks".into(),
                Json::Array(self.hooks.iter().map(hook_json).collect()),
            );
        }
        m.insert("version".into(), json!(self.version));
        put(&mut m, "namespace", &self.namespace);
        put(&mut m, "apply_method", &self.apply_method);
        let mut j = Json::Object(m);
        integral_floats_as_ints(&mut j);
        j
    }

    /// Helm's `encodeRelease`: base64(gzip(json)).
    pub fn encode(&self) -> String {
        encode_json(&self.to_json())
    }

    /// `sh.helm.release.v1.NAME.vN`.
    pub fn secret_name(&self) -> String {
        format!("sh.helm.release.v1.{}.v{}", self.name, self.version)
    }

    /// The labels Helm's Secret driver sets (and `helm list` selects on).
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert("name".into(), self.name.clone());
        l.insert("owner".into(), "helm".into());
        l.insert("status".into(), self.status.as_str().into());
        l.insert("version".into(), self.version.to_string());
        l
    }

    /// The `v1` Secret Helm's storage driver would create for this revision.
    pub fn to_secret(&self) -> Json {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": self.secret_name(), "namespace": self.namespace, "labels": self.labels()},
            "type": "helm.sh/release.v1",
            "data": {"release": B64.encode(self.encode())},
        })
    }
}

/// Go's `encoding/json` writes a float64 holding a whole number without a fraction (`1`, not
/// `1.0`); values parsed from YAML are float64 in Helm, so they must look like that here too.
pub fn integral_floats_as_ints(j: &mut Json) {
    match j {
        Json::Number(n) => {
            if let Some(f) = n.as_f64()
                && !n.is_i64()
                && !n.is_u64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *j = json!(f as i64);
            }
        }
        Json::Array(a) => a.iter_mut().for_each(integral_floats_as_ints),
        Json::Object(o) => o.values_mut().for_each(integral_floats_as_ints),
        _ => {}
    }
}

/// Helm's `encodeRelease` of a release already in JSON form: base64(gzip(json)).
pub fn encode_json(release: &Json) -> String {
    let body = release.to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(body.as_bytes());
    B64.encode(gz.finish().unwrap_or_default())
}

/// The labels Helm's Secret driver puts on the Secret of a release in JSON form.
pub fn labels_of(release: &Json) -> BTreeMap<String, String> {
    let s = |p: &str| {
        release
            .pointer(p)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut l = BTreeMap::new();
    l.insert("name".into(), s("/name"));
    l.insert("owner".into(), "helm".into());
    l.insert("status".into(), s("/info/status"));
    l.insert(
        "version".into(),
        release
            .get("version")
            .and_then(Json::as_i64)
            .unwrap_or(0)
            .to_string(),
    );
    l
}

/// The `helm.sh/release.v1` Secret for a release in JSON form, with `extra` labels
/// (Helm's driver adds `createdAt` on create and `modifiedAt` on update).
pub fn secret_of(release: &Json, extra: &[(&str, String)]) -> Json {
    let name = release
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let version = release.get("version").and_then(Json::as_i64).unwrap_or(0);
    let ns = release
        .get("namespace")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let mut labels = labels_of(release);
    for (k, v) in extra {
        labels.insert((*k).to_string(), v.clone());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v{version}"), "namespace": ns, "labels": labels},
        "type": "helm.sh/release.v1",
        "data": {"release": B64.encode(encode_json(release))},
    })
}

/// Helm's `decodeRelease`: the release JSON from a Secret's (once base64-decoded) `release`.
pub fn decode(data: &str) -> Result<Json, DecodeError> {
    let bytes = B64
        .decode(data.trim())
        .map_err(|e| DecodeError(e.to_string()))?;
    let body = if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .take(256 << 20)
            .read_to_end(&mut out)
            .map_err(|e| DecodeError(e.to_string()))?;
        out
    } else {
        bytes
    };
    serde_json::from_slice(&body).map_err(|e| DecodeError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ReleaseRecord {
        let mut chart = Chart::default();
        chart.metadata.name = "demo".into();
        chart.metadata.version = "1.0.0".into();
        chart.metadata.api_version = "v2".into();
        chart.templates = vec![File {
            name: "templates/cm.yaml".into(),
            data: b"kind: ConfigMap\n".to_vec().into(),
        }];
        ReleaseRecord {
            name: "rel".into(),
            namespace: "default".into(),
            version: 2,
            status: Status::Deployed,
            first_deployed: "2026-01-01T00:00:00Z".into(),
            last_deployed: "2026-01-02T00:00:00Z".into(),
            description: "Upgrade complete".into(),
            notes: String::new(),
            manifest: "---\n# Source: demo/templates/cm.yaml\nkind: ConfigMap\n".into(),
            hooks: vec![],
            config: crate::yaml::parse_map("a: 1").unwrap_or_default(),
            chart,
            apply_method: "ssa".into(),
        }
    }

    #[test]
    fn storage_round_trip_and_names() {
        let r = record();
        assert_eq!(r.secret_name(), "sh.helm.release.v1.rel.v2");
        let back = decode(&r.encode()).ok();
        assert_eq!(
            back.as_ref().and_then(|j| j.pointer("/info/status")),
            Some(&json!("deployed"))
        );
        assert_eq!(
            back.as_ref().and_then(|j| j.pointer("/config/a")),
            Some(&json!(1))
        );
        assert_eq!(
            back.as_ref()
                .and_then(|j| j.pointer("/chart/templates/0/data")),
            Some(&json!("a2luZDogQ29uZmlnTWFwCg=="))
        );
        assert_eq!(
            back.as_ref().and_then(|j| j.pointer("/version")),
            Some(&json!(2))
        );
        assert_eq!(r.labels().get("owner").map(String::as_str), Some("helm"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode("not base64!").is_err());
        assert!(decode(&B64.encode(b"\x1f\x8b\x08garbage")).is_err());
    }
}
