//! Release storage in `helm.sh/release.v1` Secrets, exactly as Helm's Secret driver keeps
//! it, so Helm and Orrery read each other's releases.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::Value as Json;

use super::ActionError;
use crate::release::record::{decode, secret_of};

fn now_unix() -> String {
    chrono::Utc::now().timestamp().to_string()
}

fn decode_secret(s: &Secret) -> Option<Json> {
    let data = s.data.as_ref()?.get("release")?;
    let text = std::str::from_utf8(&data.0).ok()?;
    decode(text).ok()
}

fn version_of(r: &Json) -> i64 {
    r.get("version").and_then(Json::as_i64).unwrap_or(0)
}

/// Every stored revision of `name` in `namespace`, oldest first.
pub async fn history(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Vec<Json>, ActionError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("owner=helm,name={name}"));
    let mut out: Vec<Json> = api
        .list(&lp)
        .await?
        .items
        .iter()
        .filter_map(decode_secret)
        .collect();
    out.sort_by_key(version_of);
    Ok(out)
}

/// Every stored revision of every release in `namespace` (all namespaces with `None`).
pub async fn all(client: &kube::Client, namespace: Option<&str>) -> Result<Vec<Json>, ActionError> {
    let api: Api<Secret> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let lp = ListParams::default().labels("owner=helm");
    Ok(api
        .list(&lp)
        .await?
        .items
        .iter()
        .filter_map(decode_secret)
        .collect())
}

fn secret_api(client: &kube::Client, release: &Json) -> Api<Secret> {
    let ns = release
        .get("namespace")
        .and_then(Json::as_str)
        .unwrap_or("default");
    Api::namespaced(client.clone(), ns)
}

fn to_secret(release: &Json, label: (&str, String)) -> Result<Secret, ActionError> {
    serde_json::from_value(secret_of(release, &[label]))
        .map_err(|e| ActionError::Other(format!("encoding release: {e}")))
}

/// Stores a new revision (Helm's `Create`, which labels `createdAt`).
pub async fn create(client: &kube::Client, release: &Json) -> Result<(), ActionError> {
    let s = to_secret(release, ("createdAt", now_unix()))?;
    secret_api(client, release)
        .create(&PostParams::default(), &s)
        .await?;
    Ok(())
}

/// Rewrites a stored revision (Helm's `Update`, which labels `modifiedAt`).
pub async fn update(client: &kube::Client, release: &Json) -> Result<(), ActionError> {
    let mut s = to_secret(release, ("modifiedAt", now_unix()))?;
    let api = secret_api(client, release);
    let name = s.metadata.name.clone().unwrap_or_default();
    if let Some(old) = api.get_opt(&name).await? {
        // Helm's driver rebuilds the labels (dropping createdAt); the resourceVersion makes
        // this a replace of the revision read.
        s.metadata.resource_version = old.metadata.resource_version;
        api.replace(&name, &PostParams::default(), &s).await?;
    } else {
        api.create(&PostParams::default(), &s).await?;
    }
    Ok(())
}

/// Deletes one stored revision.
pub async fn delete(client: &kube::Client, release: &Json) -> Result<(), ActionError> {
    let name = format!(
        "sh.helm.release.v1.{}.v{}",
        release
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or_default(),
        version_of(release)
    );
    match secret_api(client, release)
        .delete(&name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
