//! Where an ExtensionVersion's chart comes from: `spec.chartDataRef` (a ConfigMap key holding
//! the package, KubeSphere's "local" extensions) or `spec.chartURL` (absolute, or relative to
//! its Repository's `url`), fetched with the Repository's `basicAuth`, `caBundle` and
//! `insecure` through the App Store's fetching (`appstore::remote`). Bounded to
//! [`MAX_PACKAGE`] bytes and checked against `spec.digest` when it has one. The bytes are
//! untrusted: the caller loads them with Helm's archive checks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::appstore::{package, remote};
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// The largest extension package fetched (the App Store's bound).
pub const MAX_PACKAGE: usize = package::MAX_PACKAGE;

/// The chart package (`.tgz` bytes) of an ExtensionVersion, or why not, in words naming it.
pub async fn chart_of(state: &AppState, ext_version: &Value) -> Result<Vec<u8>, String> {
    let name = ext_version["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &ext_version["spec"];
    let bytes = if let Some(r) = spec["chartDataRef"].as_object().filter(|r| !r.is_empty()) {
        from_config_map(&state.client, &Value::Object(r.clone()))
            .await
            .map_err(|e| format!("ExtensionVersion {name}: chartDataRef: {e}"))?
    } else if let Some(url) = spec["chartURL"].as_str().filter(|u| !u.is_empty()) {
        from_url(state, spec, url)
            .await
            .map_err(|e| format!("ExtensionVersion {name}: {e}"))?
    } else {
        return Err(format!(
            "ExtensionVersion {name} has neither chartDataRef nor chartURL"
        ));
    };
    check_digest(spec["digest"].as_str().unwrap_or_default(), &bytes)
        .map_err(|e| format!("ExtensionVersion {name}: {e}"))?;
    Ok(bytes)
}

/// Checks `bytes` against a digest given as hex SHA-256 or `sha256:<hex>` (empty: nothing to
/// check).
pub fn check_digest(want: &str, bytes: &[u8]) -> Result<(), String> {
    let want = want.trim();
    let want = want.strip_prefix("sha256:").unwrap_or(want);
    if want.is_empty() {
        return Ok(());
    }
    let have = package::digest(bytes);
    if !want.eq_ignore_ascii_case(&have) {
        return Err(format!(
            "the package's digest is {have}, the ExtensionVersion says {want}"
        ));
    }
    Ok(())
}

/// A ConfigMap key's bytes: `binaryData` (base64), or `data` holding base64 text.
async fn from_config_map(client: &kube::Client, r: &Value) -> Result<Vec<u8>, String> {
    let ns = r["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(crate::tokens::SYSTEM_NAMESPACE);
    let cm_name = r["name"].as_str().unwrap_or_default();
    let key = r["key"].as_str().unwrap_or_default();
    if cm_name.is_empty() || key.is_empty() {
        return Err("name and key are required".into());
    }
    let cm = kubeapi::get(client, Kind::ConfigMap, Some(ns), cm_name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("ConfigMap {ns}/{cm_name} does not exist"))?;
    let encoded = cm["binaryData"][key]
        .as_str()
        .or_else(|| cm["data"][key].as_str())
        .ok_or_else(|| format!("ConfigMap {ns}/{cm_name} has no key {key:?}"))?;
    // A size check before decoding: base64 is 4/3 of the bytes.
    if encoded.len() > MAX_PACKAGE / 3 * 4 + 4 {
        return Err(format!(
            "the package is larger than {} MiB",
            MAX_PACKAGE / (1024 * 1024)
        ));
    }
    let compact: String = encoded.split_whitespace().collect();
    B64.decode(compact)
        .map_err(|_| format!("ConfigMap {ns}/{cm_name} key {key:?} is not base64"))
}

/// `chartURL` resolved against the Repository's `url` (with a trailing `/`, as Helm joins
/// relative chart URLs).
pub fn resolve_url(repo_url: Option<&str>, chart_url: &str) -> Result<reqwest::Url, String> {
    if let Ok(u) = reqwest::Url::parse(chart_url) {
        return Ok(u);
    }
    let base = repo_url.filter(|b| !b.is_empty()).ok_or_else(|| {
        format!("chartURL {chart_url:?} is relative and no Repository gives a url")
    })?;
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    reqwest::Url::parse(&base)
        .and_then(|b| b.join(chart_url))
        .map_err(|e| format!("chartURL {chart_url:?} against {base:?}: {e}"))
}

/// The Repository's settings in the App Store Repo's shape `remote` reads; credentials only
/// when the package is on the repository's own origin (Helm sends them nowhere else).
pub(crate) fn credential_for(repo: &Value, same_origin: bool) -> Value {
    let spec = &repo["spec"];
    let mut cred = json!({
        "insecureSkipTLSVerify": spec["insecure"].as_bool().unwrap_or(false),
    });
    if let Some(ca) = spec["caBundle"].as_str().filter(|s| !s.is_empty()) {
        cred["caData"] = ca.into();
    }
    if same_origin {
        if let Some(u) = spec["basicAuth"]["username"].as_str() {
            cred["username"] = u.into();
        }
        if let Some(p) = spec["basicAuth"]["password"].as_str() {
            cred["password"] = p.into();
        }
    }
    json!({"spec": {"credential": cred}})
}

/// A `kubesphere.io` Repository by name.
async fn repository(client: &kube::Client, name: &str) -> Result<Option<Value>, String> {
    use super::crds::{CORE, VERSION};
    let ar = kube::api::ApiResource {
        group: CORE.into(),
        version: VERSION.into(),
        api_version: format!("{CORE}/{VERSION}"),
        kind: "Repository".into(),
        plural: "repositories".into(),
    };
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(client.clone(), &ar);
    let got = kubeapi::timed("get", api.get_opt(name))
        .await
        .map_err(|e| e.to_string())?;
    Ok(got.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
}

async fn from_url(state: &AppState, spec: &Value, chart_url: &str) -> Result<Vec<u8>, String> {
    let repo_name = spec["repository"].as_str().unwrap_or_default();
    let repo = if repo_name.is_empty() {
        None
    } else {
        Some(
            repository(&state.client, repo_name)
                .await?
                .ok_or_else(|| format!("Repository {repo_name} does not exist"))?,
        )
    };
    let repo_url = repo.as_ref().and_then(|r| r["spec"]["url"].as_str());
    let url = resolve_url(repo_url, chart_url)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("chartURL {url} is not http(s)"));
    }
    let same_origin = repo_url
        .and_then(|r| reqwest::Url::parse(r).ok())
        .is_some_and(|r| r.origin() == url.origin());
    let settings = match &repo {
        Some(r) => credential_for(r, same_origin),
        None => json!({"spec": {}}),
    };
    let client = remote::client_for(&settings)?;
    remote::fetch(&client, &settings, url.as_str(), MAX_PACKAGE).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_join_the_repository_url() {
        let u = resolve_url(Some("https://repo.example/charts"), "demo-1.0.0.tgz").unwrap();
        assert_eq!(u.as_str(), "https://repo.example/charts/demo-1.0.0.tgz");
        let u = resolve_url(Some("https://repo.example/charts/"), "x/demo.tgz").unwrap();
        assert_eq!(u.as_str(), "https://repo.example/charts/x/demo.tgz");
        let u = resolve_url(None, "http://other.example/demo.tgz").unwrap();
        assert_eq!(u.host_str(), Some("other.example"));
        assert!(
            resolve_url(None, "demo.tgz")
                .unwrap_err()
                .contains("relative")
        );
    }

    #[test]
    fn digests_are_checked_in_either_spelling() {
        let d = package::digest(b"abc");
        assert!(check_digest("", b"abc").is_ok());
        assert!(check_digest(&d, b"abc").is_ok());
        assert!(check_digest(&format!("sha256:{d}"), b"abc").is_ok());
        assert!(check_digest(&d.to_uppercase(), b"abc").is_ok());
        assert!(check_digest(&d, b"abd").unwrap_err().contains("digest"));
    }

    #[test]
    fn credentials_go_only_to_the_repository_origin() {
        let repo = json!({"spec": {"url": "https://r", "insecure": true, "caBundle": "PEM",
            "basicAuth": {"username": "u", "password": "p"}}});
        let same = credential_for(&repo, true);
        assert_eq!(same["spec"]["credential"]["username"], "u");
        assert_eq!(same["spec"]["credential"]["insecureSkipTLSVerify"], true);
        assert_eq!(same["spec"]["credential"]["caData"], "PEM");
        let other = credential_for(&repo, false);
        assert!(other["spec"]["credential"]["username"].is_null());
        assert!(other["spec"]["credential"]["password"].is_null());
    }
}
