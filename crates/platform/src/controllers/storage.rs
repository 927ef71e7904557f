//! Stored versions of the platform's own CRDs migrate, as kube-storage-version-migrator does.
//!
//! When a release makes another version of one of Orrery's CRDs the storage version, objects
//! written before stay encoded in the old one, and the CRD's `status.storedVersions` keeps
//! listing it — so that version could never be dropped from the CRD. The leader rewrites each
//! such CRD's objects through the storage version (a read, then an update with the object as
//! read: the API server stores it anew, encoded in the storage version; a conflict means
//! someone else wrote it, which re-encoded it too), and once every object has been rewritten,
//! trims `status.storedVersions` to the storage version. It runs when this replica starts
//! leading and again every `period`; a CRD already at one stored version costs one read.

use std::time::Duration;

use kube::Client;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::PlatformError;
use crate::kubeapi::{self, timed};

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
/// Objects read per page.
const PAGE: usize = 500;

/// What [`migrate`] did to one CRD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrated {
    /// Not installed.
    Missing,
    /// Its objects were all stored in the storage version already.
    Current,
    /// `rewritten` objects were stored again; `storedVersions` is now the storage version.
    Rewritten {
        /// The version they were stored in.
        to: String,
        /// How many.
        rewritten: usize,
    },
}

fn request(
    method: http::Method,
    path: &str,
    body: Option<&Value>,
    content_type: &str,
) -> Result<http::Request<Vec<u8>>, PlatformError> {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(bytes)
        .map_err(|e| PlatformError::Invalid(e.to_string()))
}

async fn call(
    client: &Client,
    what: &str,
    req: http::Request<Vec<u8>>,
) -> Result<Value, PlatformError> {
    timed(what, client.request::<Value>(req)).await
}

/// The version `crd` stores objects in (the one marked `storage`).
pub fn storage_version(crd: &Value) -> Option<&str> {
    crd["spec"]["versions"]
        .as_array()?
        .iter()
        .find(|v| v["storage"] == true)?["name"]
        .as_str()
}

/// The versions `crd`'s objects may be stored in (`status.storedVersions`).
pub fn stored_versions(crd: &Value) -> Vec<&str> {
    crd["status"]["storedVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// CRD `name` as the API server has it now.
async fn get_crd(client: &Client, name: &str) -> Result<Value, PlatformError> {
    let get = request(
        http::Method::GET,
        &format!("{CRDS}/{name}"),
        None,
        "application/json",
    )?;
    call(client, "get crd", get).await
}

/// Rewrites the objects of CRD `name` in its storage version and trims its `storedVersions`
/// (see the module).
pub async fn migrate(client: &Client, name: &str) -> Result<Migrated, PlatformError> {
    let crd = match get_crd(client, name).await {
        Ok(c) => c,
        Err(e) if kubeapi::is_not_found(&e) => return Ok(Migrated::Missing),
        Err(e) => return Err(e),
    };
    let Some(storage) = storage_version(&crd).map(str::to_string) else {
        return Ok(Migrated::Current);
    };
    if stored_versions(&crd) == [storage.as_str()] {
        return Ok(Migrated::Current);
    }
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
    let namespaced = crd["spec"]["scope"] == "Namespaced";
    let base = format!("/apis/{group}/{storage}");
    let mut rewritten = 0;
    let mut cont = String::new();
    loop {
        let mut path = format!("{base}/{plural}?limit={PAGE}");
        if !cont.is_empty() {
            path.push_str("&continue=");
            path.push_str(
                &percent_encoding::utf8_percent_encode(&cont, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            );
        }
        let page = call(
            client,
            "list for storage migration",
            request(http::Method::GET, &path, None, "application/json")?,
        )
        .await?;
        for obj in page["items"].as_array().into_iter().flatten() {
            let meta = &obj["metadata"];
            let name = meta["name"].as_str().unwrap_or_default();
            let url = match meta["namespace"].as_str() {
                Some(ns) if namespaced => format!("{base}/namespaces/{ns}/{plural}/{name}"),
                _ => format!("{base}/{plural}/{name}"),
            };
            let mut body = obj.clone();
            body["apiVersion"] = format!("{group}/{storage}").into();
            body["kind"] = crd["spec"]["names"]["kind"].clone();
            let put = request(http::Method::PUT, &url, Some(&body), "application/json")?;
            match call(client, "rewrite for storage migration", put).await {
                Ok(_) => rewritten += 1,
                // Written or deleted since it was read: stored anew (or gone) either way.
                Err(e) if kubeapi::is_conflict(&e) || kubeapi::is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        cont = page["metadata"]["continue"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cont.is_empty() {
            break;
        }
    }
    // Only if the storage version is still the one rewritten into (a newer replica may have
    // changed it meanwhile: then the next run migrates again). The patch is pinned to the
    // version read, so a concurrent change of the CRD makes it a conflict, not a lie.
    let mut attempts = 0;
    loop {
        let now = get_crd(client, name).await?;
        if storage_version(&now) != Some(storage.as_str()) {
            return Ok(Migrated::Current);
        }
        let patch = json!({
            "metadata": {"resourceVersion": now["metadata"]["resourceVersion"]},
            "status": {"storedVersions": [storage]},
        });
        let req = request(
            http::Method::PATCH,
            &format!("{CRDS}/{name}/status"),
            Some(&patch),
            "application/merge-patch+json",
        )?;
        match call(client, "trim storedVersions", req).await {
            Ok(_) => break,
            // The CRD changed since it was read (its status, say): read it again.
            Err(e) if kubeapi::is_conflict(&e) && attempts < 3 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
    tracing::info!(crd = name, version = %storage, rewritten, "stored objects migrated to the storage version");
    Ok(Migrated::Rewritten {
        to: storage,
        rewritten,
    })
}

/// The names of the CRDs the platform installs.
pub fn platform_crds() -> Vec<String> {
    crate::crds::all()
        .into_iter()
        .chain(crate::extensions::crds::all())
        .filter_map(|c| c["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// Migrates every platform CRD (errors are logged; a CRD that failed is tried at the next run).
pub async fn migrate_all(client: &Client) -> usize {
    let mut failed = 0;
    for name in platform_crds() {
        if let Err(e) = migrate(client, &name).await {
            failed += 1;
            tracing::warn!(crd = %name, error = %e, "migrating stored objects to the storage version");
        }
    }
    failed
}

/// Runs [`migrate_all`] when this replica starts leading and every `period` while it leads
/// (after `retry` when a CRD could not be migrated: a version just installed may not be
/// served yet).
pub async fn run(
    client: Client,
    mut leader: watch::Receiver<bool>,
    period: Duration,
    retry: Duration,
    shutdown: CancellationToken,
) {
    loop {
        if *leader.borrow_and_update() {
            let wait = if migrate_all(&client).await == 0 {
                period
            } else {
                retry
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = leader.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        } else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = leader.changed() => if r.is_err() { return },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_a_crd() {
        let crd = json!({"spec": {"versions": [
            {"name": "v1alpha1", "served": true, "storage": false},
            {"name": "v1alpha2", "served": true, "storage": true}]},
            "status": {"storedVersions": ["v1alpha1", "v1alpha2"]}});
        assert_eq!(storage_version(&crd), Some("v1alpha2"));
        assert_eq!(stored_versions(&crd), ["v1alpha1", "v1alpha2"]);
        assert_eq!(storage_version(&json!({})), None);
        assert!(stored_versions(&json!({})).is_empty());
    }

    #[test]
    fn every_platform_crd_is_named() {
        let names = platform_crds();
        assert!(
            names.iter().any(|n| n == "clusters.cluster.kubesphere.io"),
            "{names:?}"
        );
        assert!(names.iter().all(|n| n.contains('.')));
    }
}
