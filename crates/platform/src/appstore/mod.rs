//! The App Store (`application.kubesphere.io/v2`, SPEC §3): apps and their versions (Helm
//! charts uploaded into a workspace), the review lifecycle ([`lifecycle`]), and releases of a
//! version into any cluster's project, installed by the Helm engine through that cluster's
//! Kubernetes API ([`releases`]).
//!
//! A version's chart package lives in the host cluster ([`package`]: ConfigMaps of at most
//! [`package::CHUNK`] bytes each, owned by the ApplicationVersion), so every replica serves it
//! and it goes with the version.

pub mod apps;
pub mod lifecycle;
pub mod oci;
pub mod package;
pub mod releases;
pub mod remote;
pub mod repos;
pub mod yamlapp;

use serde_json::{Value, json};

/// The label naming an object's app (on versions and releases).
pub const APP_LABEL: &str = "application.kubesphere.io/app-id";
/// The label naming a release's or package chunk's version.
pub const VERSION_LABEL: &str = "application.kubesphere.io/appversion-id";
/// The label naming an app's repository (apps synced from one).
pub const REPO_LABEL: &str = "application.kubesphere.io/repo-name";
/// The label naming an app's category.
pub const CATEGORY_LABEL: &str = "application.kubesphere.io/app-category-name";
/// The category of apps given none.
pub const UNCATEGORIZED: &str = "kubesphere-app-uncategorized";
/// The label naming an object's workspace.
pub const WORKSPACE_LABEL: &str = "kubesphere.io/workspace";
/// The label naming a release's cluster.
pub const CLUSTER_LABEL: &str = "kubesphere.io/cluster";
/// The label naming a release's project.
pub const NAMESPACE_LABEL: &str = "kubesphere.io/namespace";
/// The annotation keeping the app's display name.
pub const DISPLAY_NAME: &str = "kubesphere.io/display-name";
/// The annotation recording the app's own suspension (as a whole).
pub const APP_SUSPENDED: &str = "application.kubesphere.io/suspended";

/// A DNS-1123 label from any text: lower case, `[a-z0-9-]`, trimmed to 63 characters.
pub fn dns_name(text: &str) -> String {
    let mut out: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let mut out: String = out.trim_matches('-').chars().take(63).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The name of app `app`'s version `version` (`grafana-12-11-1`).
pub fn version_name(app: &str, version: &str) -> String {
    dns_name(&format!("{app}-{version}"))
}

/// What a chart package says about itself, for the app and version objects.
#[derive(Debug, Clone)]
pub struct ChartInfo {
    /// The chart's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `appVersion`.
    pub app_version: String,
    /// Description.
    pub description: String,
    /// Icon URL.
    pub icon: String,
    /// Home page.
    pub home: String,
    /// Maintainers as `{name, email, url}`.
    pub maintainers: Vec<Value>,
    /// The files shown to people: `README.md`, `values.yaml`, `values.schema.json`,
    /// `Chart.yaml`, by name.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Files of a chart shown with its version.
const SHOWN_FILES: [&str; 5] = [
    "README.md",
    yamlapp::MANIFESTS,
    "values.yaml",
    "values.schema.json",
    "Chart.yaml",
];

/// Reads a chart package (a `.tgz`), with Helm's limits; the loader's words on failure.
pub fn chart_info(package: &[u8]) -> Result<ChartInfo, String> {
    let limits = helm::chart::LoadLimits::default();
    let files = helm::chart::archive_files(package, &limits).map_err(|e| e.to_string())?;
    let shown: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|f| SHOWN_FILES.contains(&f.name.as_str()))
        .map(|f| (f.name.clone(), f.data.to_vec()))
        .collect();
    let chart = helm::chart::load_files(files, &limits, 0).map_err(|e| e.to_string())?;
    let m = &chart.metadata;
    if m.version.is_empty() {
        return Err("Chart.yaml has no version".into());
    }
    Ok(ChartInfo {
        name: m.name.clone(),
        version: m.version.clone(),
        app_version: m.app_version.clone(),
        description: m.description.clone(),
        icon: m.icon.clone(),
        home: m.home.clone(),
        maintainers: m
            .maintainers
            .iter()
            .map(|x| json!({"name": x.name, "email": x.email, "url": x.url}))
            .collect(),
        files: shown,
    })
}

/// Records a core/v1 Event about an App Store object (`kind`, `name`, `uid`) in the platform's
/// namespace, as KubeSphere's controllers do; `warning` for failures. Best effort: an Event
/// that cannot be written is logged, never an error of what it describes.
pub async fn record_event(
    client: &kube::Client,
    (kind, name, uid): (&str, &str, &str),
    warning: bool,
    reason: &str,
    message: &str,
) {
    let api_version = format!("{}/v2", crate::crds::APPLICATION);
    let about = (api_version.as_str(), kind, name, uid);
    record_event_of(client, about, "orrery-appstore", warning, reason, message).await;
}

/// [`record_event`] about any object (`apiVersion`, `kind`, `name`, `uid`), from `component`
/// (the extensions' InstallPlan controller records its plans' steps with it).
pub async fn record_event_of(
    client: &kube::Client,
    (api_version, kind, name, uid): (&str, &str, &str, &str),
    component: &str,
    warning: bool,
    reason: &str,
    message: &str,
) {
    let now = now();
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        // Named as kube's recorders name events: the object, a dot, a unique suffix.
        "metadata": {"name": format!("{}.{}", dns_name(name), uuid::Uuid::new_v4().simple()),
            "namespace": crate::tokens::SYSTEM_NAMESPACE},
        "involvedObject": {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid},
        "reason": reason,
        "message": message.chars().take(1024).collect::<String>(),
        "type": if warning { "Warning" } else { "Normal" },
        "source": {"component": component},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    });
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        crate::tokens::SYSTEM_NAMESPACE,
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Event>(&()),
    );
    let result =
        serde_json::from_value::<kube::api::DynamicObject>(event).map_err(|e| e.to_string());
    let outcome = match result {
        Ok(obj) => api
            .create(&Default::default(), &obj)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        tracing::warn!(object = %name, error = %e, "recording an event");
    }
}

/// RFC 3339 now, as KubeSphere's times read.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whether an RFC 3339 time is more than `age` ago (an unreadable one is).
pub fn older_than(time: &str, age: std::time::Duration) -> bool {
    match chrono::DateTime::parse_from_rfc3339(time) {
        Ok(t) => {
            chrono::Utc::now().signed_duration_since(t.with_timezone(&chrono::Utc))
                > chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX)
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(dns_name("Grafana"), "grafana");
        assert_eq!(
            version_name("grafana", "12.11.1+build.7"),
            "grafana-12-11-1-build-7"
        );
        assert_eq!(dns_name("--a__b--"), "a-b");
        assert_eq!(dns_name(&"x".repeat(100)).len(), 63);
        assert_eq!(dns_name(&format!("{}-y", "x".repeat(62))), "x".repeat(62));
    }
}
