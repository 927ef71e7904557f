//! ApplicationRelease reconciler (leader only): a release is a Helm release of its version's
//! chart, named after it, in the project (`kubesphere.io/namespace`) of the cluster
//! (`kubesphere.io/cluster`) it names, made by the Helm engine through that cluster's API and
//! stored as Helm stores releases — so `helm list` and `helm upgrade` on that cluster see and
//! change it.
//!
//! States (SPEC §3): `creating` → `created` (the Helm release is deployed) → `active` (its
//! Deployments, StatefulSets and DaemonSets are available); a changed version or values:
//! `upgrading` → `upgraded` → `active`; `deleting` while it is uninstalled; `failed` with
//! Helm's or the cluster's words. `status.specHash` records which spec was acted on, so a
//! failure is not retried until the spec changes; a cluster that is not available leaves the
//! release `failed` with the reason, never stuck.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha2::Digest;

use super::{CLUSTER_LABEL, NAMESPACE_LABEL, package};
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// Keeps a release until its Helm release is uninstalled.
pub const FINALIZER: &str = "application.kubesphere.io/release";

/// How long one install, upgrade or uninstall may take (hooks included).
const ACTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The hash of what a release asks for (version and values).
pub fn spec_hash(rel: &Value) -> String {
    let spec = json!({"v": rel["spec"]["appVersionID"], "values": rel["spec"]["values"]});
    format!("{:x}", sha2::Sha256::digest(spec.to_string().as_bytes()))[..16].to_string()
}

/// The user values of a release: `spec.values`, base64 of a YAML document (Go's `[]byte`).
pub fn values_of(rel: &Value) -> Result<helm::values::Map, String> {
    let Some(encoded) = rel["spec"]["values"].as_str().filter(|s| !s.is_empty()) else {
        return Ok(helm::values::Map::new());
    };
    let bytes = B64
        .decode(encoded)
        .map_err(|_| "spec.values is not base64".to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "spec.values is not UTF-8".to_string())?;
    helm::yaml::parse_map(&text).map_err(|e| format!("spec.values: {e}"))
}

/// (cluster, namespace) of a release; the cluster defaults to the host.
pub fn placement<'a>(rel: &'a Value, host: &'a str) -> (&'a str, &'a str) {
    let labels = &rel["metadata"]["labels"];
    (
        labels[CLUSTER_LABEL]
            .as_str()
            .filter(|c| !c.is_empty())
            .unwrap_or(host),
        labels[NAMESPACE_LABEL].as_str().unwrap_or_default(),
    )
}

async fn set_status(
    state: &AppState,
    rel: &Value,
    phase: &str,
    message: &str,
    hash: Option<&str>,
) -> Result<(), PlatformError> {
    let mut status = json!({"state": phase, "message": message, "lastUpdate": super::now()});
    if let Some(h) = hash {
        status["specHash"] = h.into();
    }
    if rel["status"]["state"] == phase
        && rel["status"]["message"] == message
        && hash.is_none_or(|h| rel["status"]["specHash"] == h)
    {
        return Ok(());
    }
    write_status(state, rel, status).await.map(|_| ())
}

/// Writes `status` only over the object this pass read (its resourceVersion as a precondition,
/// as kube-apiserver honours in a patch): a pass that read the release before someone else
/// changed it — a rollback writing spec and specHash — must not put its older specHash back.
/// The release as written, or `None` on a conflict (left to the next pass) or when it is gone.
async fn write_status(
    state: &AppState,
    rel: &Value,
    status: Value,
) -> Result<Option<Value>, PlatformError> {
    let name = rel["metadata"]["name"].as_str().unwrap_or_default();
    let patch = json!({
        "metadata": {"resourceVersion": rel["metadata"]["resourceVersion"]},
        "status": status,
    });
    match kubeapi::merge_patch_status(&state.client, Kind::AppRelease, None, name, patch).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if kubeapi::is_conflict(&e) || kubeapi::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One pass over every release.
pub async fn reconcile(state: &AppState) -> Result<(), PlatformError> {
    let releases = kubeapi::list(&state.client, Kind::AppRelease, None, "").await?;
    for rel in releases {
        if let Err(e) = reconcile_one(state, &rel).await {
            let name = rel["metadata"]["name"].as_str().unwrap_or_default();
            tracing::warn!(release = %name, error = %e, "app release");
        }
    }
    Ok(())
}

async fn reconcile_one(state: &AppState, rel: &Value) -> Result<(), PlatformError> {
    let name = rel["metadata"]["name"].as_str().unwrap_or_default();
    let host = state.clusters.settings.host_name.as_str();
    let (cluster, ns) = placement(rel, host);
    let member = state.clusters.get(cluster);
    let ready = member.as_ref().filter(|m| m.is_ready());
    let mut fins = kubeapi::finalizers(rel);
    if !rel["metadata"]["deletionTimestamp"].is_null() {
        return uninstall(
            state,
            rel,
            fins,
            (cluster, ns, name),
            ready.map(|m| &**m),
            member.is_some(),
        )
        .await;
    }
    if !fins.iter().any(|f| f == FINALIZER) {
        fins.push(FINALIZER.to_string());
        return kubeapi::set_finalizers(&state.client, Kind::AppRelease, rel, fins).await;
    }
    let Some(member) = ready else {
        let why = if member.is_some() {
            format!("cluster {cluster} is not available")
        } else {
            format!("cluster {cluster} does not exist")
        };
        return set_status(state, rel, "failed", &why, None).await;
    };
    let hash = spec_hash(rel);
    let phase = rel["status"]["state"].as_str().unwrap_or_default();
    if rel["status"]["specHash"] == hash.as_str() {
        if matches!(phase, "created" | "upgraded") && workloads_available(member, ns, name).await? {
            set_status(state, rel, "active", "", Some(&hash)).await?;
        }
        return Ok(());
    }
    let version_id = rel["spec"]["appVersionID"].as_str().unwrap_or_default();
    let Some(version) = kubeapi::get(&state.client, Kind::AppVersion, None, version_id).await?
    else {
        return set_status(
            state,
            rel,
            "failed",
            &format!("app version {version_id} does not exist"),
            Some(&hash),
        )
        .await;
    };
    let values = match values_of(rel) {
        Ok(v) => v,
        Err(why) => return set_status(state, rel, "failed", &why, Some(&hash)).await,
    };
    let chart = match package::package_of(state, &version)
        .await
        .map_err(|e| e.to_string())
        .and_then(|p| {
            helm::chart::load_archive(&p, &helm::chart::LoadLimits::default())
                .map_err(|e| e.to_string())
        }) {
        Ok(c) => c,
        Err(why) => return set_status(state, rel, "failed", &why, Some(&hash)).await,
    };
    let version_name = version["spec"]["versionName"].as_str().unwrap_or_default();
    let now = current(&member.client, ns, name, version_name, &values).await?;
    if now
        .pending
        .as_ref()
        .is_some_and(|(_, since)| !super::older_than(since, ACTION_TIMEOUT))
    {
        // Another action on this release is running (a rollback through the API, whose spec
        // and status follow when it ends): look again at the next pass rather than upgrade
        // over it.
        return Ok(());
    }
    let exists = now.exists;
    let (doing, done) = if exists {
        ("upgrading", "upgraded")
    } else {
        ("creating", "created")
    };
    if now.up_to_date {
        // Already deployed as asked (a rollback recorded it, or a pass was cut short).
        return set_status(state, rel, done, "", Some(&hash)).await;
    }
    let Some(claimed) = claim(state, rel, doing).await? else {
        return Ok(());
    };
    let rel = &claimed;
    let mut opts = helm::action::InstallOptions::new(name, ns);
    opts.values = values;
    opts.timeout = ACTION_TIMEOUT;
    let outcome = deploy(&member.client, &chart, &opts, exists).await;
    let uid = rel["metadata"]["uid"].as_str().unwrap_or_default();
    let what = ("ApplicationRelease", name, uid);
    match outcome {
        Ok(_) => {
            let verb = if exists { "upgraded" } else { "installed" };
            let message = format!(
                "{verb} {} {} in {cluster}/{ns}",
                chart.metadata.name, chart.metadata.version
            );
            super::record_event(
                &state.client,
                what,
                false,
                if exists { "Upgraded" } else { "Installed" },
                &message,
            )
            .await;
            set_status(state, rel, done, "", Some(&hash)).await
        }
        Err(e) => {
            super::record_event(&state.client, what, true, "Failed", &e.to_string()).await;
            set_status(state, rel, "failed", &e.to_string(), Some(&hash)).await
        }
    }
}

/// A deleted release: uninstalled from its cluster (`ready`, or `known` but not answering: it
/// waits), then its finalizer removed.
async fn uninstall(
    state: &AppState,
    rel: &Value,
    mut fins: Vec<String>,
    (cluster, ns, name): (&str, &str, &str),
    ready: Option<&crate::clusters::Member>,
    known: bool,
) -> Result<(), PlatformError> {
    if !fins.iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let rel = if let Some(m) = ready {
        let Some(claimed) = claim(state, rel, "deleting").await? else {
            return Ok(());
        };
        if let Err(e) = remove(&m.client, ns, name, ACTION_TIMEOUT).await {
            set_status(state, &claimed, "failed", &format!("uninstall: {e}"), None).await?;
            return Ok(());
        }
        claimed
    } else if known {
        // The cluster is known but not answering: wait for it rather than leave its
        // workloads behind.
        set_status(
            state,
            rel,
            "failed",
            &format!(
                "cluster {cluster} is not available; the release will be uninstalled when it is"
            ),
            None,
        )
        .await?;
        return Ok(());
    } else {
        rel.clone()
    };
    fins.retain(|f| f != FINALIZER);
    kubeapi::set_finalizers(&state.client, Kind::AppRelease, &rel, fins).await
}

/// What a cluster holds of a release, against what is asked of it.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// Whether it has revisions.
    pub exists: bool,
    /// Whether one of its revisions is deployed.
    pub deployed: bool,
    /// Whether its deployed revision is the chart version asked for with the values asked for.
    pub up_to_date: bool,
    /// The latest revision's status when it is `pending-*` (an action that has not finished,
    /// or was cut short), with its `last_deployed` time.
    pub pending: Option<(String, String)>,
}

/// Reads release `name` of `ns` through `client` and compares its deployed revision with
/// chart version `chart_version` and `values`.
pub async fn current(
    client: &kube::Client,
    ns: &str,
    name: &str,
    chart_version: &str,
    values: &helm::values::Map,
) -> Result<Current, PlatformError> {
    let history = helm::action::storage::history(client, ns, name)
        .await
        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
    let pending = history.last().and_then(|r| {
        let st = r["info"]["status"].as_str().unwrap_or_default();
        st.starts_with("pending-").then(|| {
            (
                st.to_string(),
                r["info"]["last_deployed"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
    });
    Ok(Current {
        exists: !history.is_empty(),
        deployed: history.iter().any(|r| r["info"]["status"] == "deployed"),
        up_to_date: deployed_matches(&history, chart_version, values),
        pending,
    })
}

/// Marks `rel` `phase` (`creating`, `upgrading`, `deleting`) before acting on it, only if it is
/// still the object this pass listed ([`write_status`]): a pass working from a copy listed before
/// a rollback wrote spec and status leaves the release to the next pass instead of upgrading it
/// back. The release as written (later writes of this pass go over it), or `None`: not claimed.
async fn claim(state: &AppState, rel: &Value, phase: &str) -> Result<Option<Value>, PlatformError> {
    let status = json!({"state": phase, "message": "", "lastUpdate": super::now()});
    write_status(state, rel, status).await
}

/// Installs release `opts.name` (when it has no revisions: `exists` false) or upgrades it, to
/// `chart` with `opts.values`, through `client` — whose credentials the cluster's RBAC checks
/// for every object. The stored release, or Helm's words.
pub async fn deploy(
    client: &kube::Client,
    chart: &helm::chart::Chart,
    opts: &helm::action::InstallOptions,
    exists: bool,
) -> Result<Value, helm::action::ActionError> {
    let mut res = helm::action::Resources::new(client.clone());
    if exists {
        helm::action::upgrade(&mut res, chart, opts).await
    } else {
        helm::action::install(&mut res, chart, opts).await
    }
}

/// Uninstalls release `name` of `ns` through `client` (its history too); a release that does
/// not exist is already removed.
pub async fn remove(
    client: &kube::Client,
    ns: &str,
    name: &str,
    timeout: std::time::Duration,
) -> Result<(), helm::action::ActionError> {
    let mut res = helm::action::Resources::new(client.clone());
    match helm::action::uninstall(&mut res, ns, name, false, timeout).await {
        Ok(_) | Err(helm::action::ActionError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether the release's deployed revision is chart version `chart_version` with `values`.
fn deployed_matches(history: &[Value], chart_version: &str, values: &helm::values::Map) -> bool {
    let Some(deployed) = history
        .iter()
        .rev()
        .find(|r| r["info"]["status"] == "deployed")
    else {
        return false;
    };
    let want_values = Value::Object(
        values
            .iter()
            .map(|(k, v)| (k.clone(), helm::values::schema::to_json(v)))
            .collect(),
    );
    let have_values = match &deployed["config"] {
        Value::Null => json!({}),
        v => v.clone(),
    };
    deployed["chart"]["metadata"]["version"] == chart_version && have_values == want_values
}

/// How many of a workload's replicas are ready and how many are wanted (`None` for a kind that
/// is not a Deployment, StatefulSet or DaemonSet).
pub fn readiness(live: &Value) -> Option<(i64, i64)> {
    if live["apiVersion"] != "apps/v1" {
        return None;
    }
    let st = &live["status"];
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let wanted = live["spec"]["replicas"].as_i64().unwrap_or(1);
    match live["kind"].as_str()? {
        "DaemonSet" => Some((n(&st["numberAvailable"]), n(&st["desiredNumberScheduled"]))),
        "StatefulSet" => Some((n(&st["readyReplicas"]), wanted)),
        "Deployment" => Some((n(&st["availableReplicas"]), wanted)),
        _ => None,
    }
}

/// The manifest of a release's latest revision.
async fn latest_manifest(
    member: &crate::clusters::Member,
    ns: &str,
    name: &str,
) -> Result<Option<String>, PlatformError> {
    let history = helm::action::storage::history(&member.client, ns, name)
        .await
        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
    Ok(history
        .last()
        .map(|r| r["manifest"].as_str().unwrap_or_default().to_string()))
}

/// Whether every Deployment, StatefulSet and DaemonSet of the release's latest revision is
/// available.
pub async fn workloads_available(
    member: &crate::clusters::Member,
    ns: &str,
    name: &str,
) -> Result<bool, PlatformError> {
    let Some(manifest) = latest_manifest(member, ns, name).await? else {
        return Ok(false);
    };
    let objects = helm::action::resources::manifest_objects(&manifest)
        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default();
        if o["apiVersion"] != "apps/v1"
            || !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet")
        {
            continue;
        }
        let oname = o["metadata"]["name"].as_str().unwrap_or_default();
        let ons = o["metadata"]["namespace"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(ns);
        let plural = match kind {
            "Deployment" => "deployments",
            "StatefulSet" => "statefulsets",
            _ => "daemonsets",
        };
        let live = kubeapi::list_resource(&member.client, ("apps", "v1", plural), ons)
            .await?
            .into_iter()
            .find(|x| x["metadata"]["name"] == oname);
        match live.as_ref().and_then(readiness) {
            Some((ready, wanted)) if ready >= wanted => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// The objects of a release's latest revision as they are in its cluster: apiVersion, kind,
/// name, namespace, whether each exists and, for workloads, `ready` as "available/wanted".
/// Only that summary: whether the caller may read an object itself is for its own rights.
pub async fn resources_of(
    member: &crate::clusters::Member,
    ns: &str,
    name: &str,
) -> Result<Vec<Value>, PlatformError> {
    let Some(manifest) = latest_manifest(member, ns, name).await? else {
        return Ok(Vec::new());
    };
    let objects = helm::action::resources::manifest_objects(&manifest)
        .map_err(|e| PlatformError::Invalid(e.to_string()))?;
    let mut res = helm::action::Resources::new(member.client.clone());
    let mut out = Vec::with_capacity(objects.len());
    for o in objects {
        let target = res
            .resolve(&o, ns)
            .await
            .map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let (namespace, live) = match &target {
            Some(t) => (
                t.namespace.clone(),
                helm::action::resources::get(t)
                    .await
                    .map_err(|e| PlatformError::Invalid(e.to_string()))?
                    .and_then(|d| serde_json::to_value(d).ok()),
            ),
            None => (String::new(), None),
        };
        let ready = live
            .as_ref()
            .and_then(readiness)
            .map(|(r, w)| format!("{r}/{w}"));
        out.push(json!({
            "apiVersion": o["apiVersion"],
            "kind": o["kind"],
            "name": o["metadata"]["name"],
            "namespace": namespace,
            "exists": live.is_some(),
            "ready": ready,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_revision_is_waited_for_until_the_action_timeout() {
        let now = chrono::Utc::now();
        assert!(!super::super::older_than(&now.to_rfc3339(), ACTION_TIMEOUT));
        let old = now - chrono::Duration::from_std(ACTION_TIMEOUT).expect("timeout") * 2;
        assert!(super::super::older_than(&old.to_rfc3339(), ACTION_TIMEOUT));
        assert!(super::super::older_than("not a time", ACTION_TIMEOUT));
    }

    #[test]
    fn values_are_base64_yaml_and_the_hash_follows_the_spec() {
        let rel = json!({"spec": {"appVersionID": "v1", "values": B64.encode("replicaCount: 3\nimage: {tag: x}\n")}});
        let v = values_of(&rel).expect("values");
        assert_eq!(v.len(), 2);
        let mut other = rel.clone();
        other["spec"]["values"] = B64.encode("replicaCount: 4\n").into();
        assert_ne!(spec_hash(&rel), spec_hash(&other));
        other["spec"]["values"] = rel["spec"]["values"].clone();
        assert_eq!(spec_hash(&rel), spec_hash(&other));
        assert!(values_of(&json!({"spec": {"values": "%%%"}})).is_err());
        assert!(values_of(&json!({"spec": {"values": B64.encode("a: [")}})).is_err());
        assert!(values_of(&json!({"spec": {}})).expect("none").is_empty());
    }
}
