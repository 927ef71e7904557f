//! Chart packages kept in the host cluster: ConfigMaps `{version}-pkg-{i}` in the platform's
//! namespace, [`CHUNK`] bytes each (an object's size stays far below the API server's limit),
//! owned by their ApplicationVersion (deleting it deletes them), with the package's SHA-256
//! checked when read back.
//!
//! A repository's older versions are synced from its index alone; [`package_of`] fetches such
//! a version's package on first use (a deploy, its files, its package), checks it against the
//! digest the index gave and keeps it here like any other.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha2::Digest;

use super::{REPO_LABEL, VERSION_LABEL, remote};
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// Bytes of package per ConfigMap.
pub const CHUNK: usize = 512 * 1024;
/// The largest package accepted (Helm's own archive limit is on the decompressed size; this
/// bounds what the platform stores).
pub const MAX_PACKAGE: usize = 20 * 1024 * 1024;
const CHUNKS_ANNOTATION: &str = "application.kubesphere.io/package-chunks";
const DIGEST_ANNOTATION: &str = "application.kubesphere.io/package-digest";

/// `sha256:<hex>` of a package, as versions record it.
pub fn digest(package: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(package))
}

fn chunk_name(version: &str, i: usize) -> String {
    format!("{version}-pkg-{i}")
}

/// Stores `package` for `version` (the ApplicationVersion object, for its owner reference).
pub async fn store(
    client: &kube::Client,
    version: &Value,
    package: &[u8],
) -> Result<(), PlatformError> {
    if package.len() > MAX_PACKAGE {
        return Err(PlatformError::Invalid(format!(
            "the package is larger than {} MiB",
            MAX_PACKAGE / (1024 * 1024)
        )));
    }
    let name = version["metadata"]["name"].as_str().unwrap_or_default();
    let owner = json!({
        "apiVersion": Kind::AppVersion.api_version(), "kind": Kind::AppVersion.kind(),
        "name": name, "uid": version["metadata"]["uid"], "blockOwnerDeletion": false
    });
    let chunks: Vec<&[u8]> = package.chunks(CHUNK).collect();
    let total = chunks.len().max(1);
    let sum = digest(package);
    for (i, chunk) in chunks.iter().enumerate() {
        let cm = json!({
            "metadata": {"name": chunk_name(name, i), "namespace": SYSTEM_NAMESPACE,
                "labels": {VERSION_LABEL: name},
                "annotations": {CHUNKS_ANNOTATION: total.to_string(), DIGEST_ANNOTATION: sum},
                "ownerReferences": [owner]},
            "binaryData": {"chunk": B64.encode(chunk)},
        });
        match kubeapi::create_unread(client, Kind::ConfigMap, Some(SYSTEM_NAMESPACE), cm.clone())
            .await
        {
            Err(e) if kubeapi::is_conflict(&e) => {
                let mut current = kubeapi::get(
                    client,
                    Kind::ConfigMap,
                    Some(SYSTEM_NAMESPACE),
                    &chunk_name(name, i),
                )
                .await?
                .ok_or_else(|| PlatformError::Invalid("a package chunk vanished".into()))?;
                current["metadata"]["annotations"] = cm["metadata"]["annotations"].clone();
                current["binaryData"] = cm["binaryData"].clone();
                kubeapi::replace(client, Kind::ConfigMap, Some(SYSTEM_NAMESPACE), current).await?;
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Reads back `version`'s package, checking it is whole and unchanged; `None` when no part of
/// it is stored (a repository's version whose package is fetched on first use).
pub async fn load(client: &kube::Client, version: &str) -> Result<Option<Vec<u8>>, PlatformError> {
    let mut chunks = kubeapi::list(
        client,
        Kind::ConfigMap,
        Some(SYSTEM_NAMESPACE),
        &format!("{VERSION_LABEL}={version}"),
    )
    .await?;
    let index = |c: &Value| -> usize {
        c["metadata"]["name"]
            .as_str()
            .and_then(|n| n.rsplit_once("-pkg-"))
            .and_then(|(_, i)| i.parse().ok())
            .unwrap_or(usize::MAX)
    };
    if chunks.is_empty() {
        return Ok(None);
    }
    chunks.sort_by_key(index);
    let total: usize = chunks
        .first()
        .and_then(|c| c["metadata"]["annotations"][CHUNKS_ANNOTATION].as_str())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if total == 0 || chunks.len() != total || chunks.iter().enumerate().any(|(i, c)| index(c) != i)
    {
        return Err(PlatformError::Invalid(format!(
            "the package of version {version} is missing or incomplete"
        )));
    }
    let want = chunks[0]["metadata"]["annotations"][DIGEST_ANNOTATION]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut out = Vec::new();
    for c in &chunks {
        let data = c["binaryData"]["chunk"]
            .as_str()
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| {
                PlatformError::Invalid(format!("package chunk of {version} is not base64"))
            })?;
        out.extend_from_slice(&data);
    }
    if digest(&out) != want {
        return Err(PlatformError::Invalid(format!(
            "the package of version {version} does not match its digest"
        )));
    }
    Ok(Some(out))
}

/// How a version's `status.message` begins when its package could not be fetched.
const FETCH_FAILED: &str = "fetching the package failed: ";

/// The package of `version` (an ApplicationVersion): the one stored, or — for a version synced
/// from a repository's index whose package is fetched on first use — downloaded now from its
/// `spec.pullUrl` with the repository's credential, checked against the digest the index gave
/// (`spec.digest`) and that it loads as the chart version it names, then stored. A package
/// that cannot be had is an error saying why, also left in the version's `status.message` and
/// a Warning Event; nothing is stored then.
pub async fn package_of(state: &AppState, version: &Value) -> Result<Vec<u8>, PlatformError> {
    let name = version["metadata"]["name"].as_str().unwrap_or_default();
    if let Some(pkg) = load(&state.client, name).await? {
        return Ok(pkg);
    }
    let repo = version["metadata"]["labels"][REPO_LABEL]
        .as_str()
        .unwrap_or_default();
    let url = version["spec"]["pullUrl"].as_str().unwrap_or_default();
    let digest = version["spec"]["digest"].as_str().unwrap_or_default();
    if repo.is_empty() || url.is_empty() || digest.is_empty() {
        return Err(PlatformError::Invalid(format!(
            "the package of version {name} is missing"
        )));
    }
    let message = version["status"]["message"].as_str().unwrap_or_default();
    match fetch_and_store(state, version, repo, url, digest).await {
        Ok(pkg) => {
            if message.starts_with(FETCH_FAILED) {
                // It failed before; say it no longer does.
                set_message(state, name, &format!("synced from repository {repo}")).await;
            }
            Ok(pkg)
        }
        Err(why) => {
            let note = format!("{FETCH_FAILED}{why}");
            set_message(state, name, &note).await;
            let uid = version["metadata"]["uid"].as_str().unwrap_or_default();
            super::record_event(
                &state.client,
                ("ApplicationVersion", name, uid),
                true,
                "PackageFetchFailed",
                &note,
            )
            .await;
            Err(PlatformError::Upstream(format!("version {name}: {note}")))
        }
    }
}

/// Downloads `version`'s package from repository `repo`, checks and stores it.
async fn fetch_and_store(
    state: &AppState,
    version: &Value,
    repo: &str,
    url: &str,
    digest: &str,
) -> Result<Vec<u8>, String> {
    let repo = kubeapi::get(&state.client, Kind::AppRepo, None, repo)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("repository {repo} no longer exists"))?;
    let client = remote::client_for(&repo)?;
    let want = remote::Wanted {
        url,
        digest,
        chart: None,
        version: version["spec"]["versionName"].as_str().unwrap_or_default(),
    };
    let (_, pkg) = remote::download(&client, &repo, &want).await?;
    store(&state.client, version, &pkg)
        .await
        .map_err(|e| e.to_string())?;
    Ok(pkg)
}

/// Sets version `name`'s `status.message` (best effort: the outcome it describes stands).
async fn set_message(state: &AppState, name: &str, message: &str) {
    let patch = json!({"status": {"message": message, "updated": super::now()}});
    if let Err(e) =
        kubeapi::merge_patch_status(&state.client, Kind::AppVersion, None, name, patch).await
    {
        tracing::warn!(version = %name, error = %e, "recording a package fetch");
    }
}
