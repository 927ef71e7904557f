//! Workspaces across clusters (leader only): a WorkspaceTemplate's placement (a list of
//! clusters and/or a selector over Cluster labels) decides which member clusters hold its
//! Workspace; the Workspace is created, updated and deleted there to match. The host always
//! holds every Workspace (platform state lives there).

use apimachinery::LabelSelector;
use serde_json::{Value, json};

use super::{HOST_ALIAS, Member, Members};
use crate::cache::{Cache, Caches};
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::objects::{WORKSPACE_LABEL, workspace_for_template};

/// The label on Workspaces the platform placed in a member (it removes only those).
pub const PLACED_LABEL: &str = "tenant.orrery.io/placed-by";

/// Names of the existing Clusters a WorkspaceTemplate is placed on.
pub fn placed_clusters(template: &Value, clusters: &Cache, host_name: &str) -> Vec<String> {
    let placement = &template["spec"]["placement"];
    let mut out: Vec<String> = placement["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .map(|n| if n == HOST_ALIAS { host_name } else { n })
        .filter(|n| clusters.get(n).is_some())
        .map(str::to_string)
        .collect();
    let selector = placement
        .get("clusterSelector")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        .and_then(|s| LabelSelector::from_label_selector_json(s).ok());
    if let Some(sel) = selector {
        for c in clusters.list() {
            if sel.matches(&c.obj["metadata"]["labels"]) {
                out.push(c.name().to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The Workspace a member holds for a template (no owner: the template lives in the host).
fn member_workspace(template: &Value) -> Value {
    let mut ws = workspace_for_template(template);
    if let Some(meta) = ws["metadata"].as_object_mut() {
        meta.remove("ownerReferences");
    }
    ws["metadata"]["labels"][PLACED_LABEL] = "orrery".into();
    ws
}

/// One pass over every Ready member whose caches are synced.
pub async fn reconcile(host: &Caches, members: &Members) -> Result<(), PlatformError> {
    if !host.workspace_templates.is_synced() || !host.clusters.is_synced() {
        return Ok(());
    }
    for m in members.all() {
        if members.is_host(&m.name) || !m.is_ready() || !m.caches_synced() {
            continue;
        }
        if let Err(e) = reconcile_member(host, members, &m).await {
            tracing::warn!(cluster = %m.name, error = %e, "workspace placement");
        }
    }
    Ok(())
}

async fn reconcile_member(
    host: &Caches,
    members: &Members,
    m: &Member,
) -> Result<(), PlatformError> {
    let host_name = members.settings.host_name.as_str();
    let mut placed = Vec::new();
    for t in host.workspace_templates.list() {
        if !placed_clusters(&t.obj, &host.clusters, host_name).contains(&m.name) {
            continue;
        }
        let want = member_workspace(&t.obj);
        placed.push(t.name().to_string());
        match m.caches.workspaces.get(t.name()) {
            None => {
                kubeapi::ensure(&m.client, Kind::Workspace, None, want, &[]).await?;
            }
            Some(have) if have.obj["spec"] != want["spec"] => {
                let patch = json!({"spec": want["spec"], "metadata": {"labels": want["metadata"]["labels"]}});
                kubeapi::merge_patch(&m.client, Kind::Workspace, None, t.name(), patch).await?;
            }
            Some(_) => {}
        }
    }
    for w in m.caches.workspaces.list() {
        if placed.iter().any(|p| p == w.name()) || w.label(PLACED_LABEL).is_none() {
            continue;
        }
        // Out of the placement: the member's projects leave the workspace, then it goes.
        for ns in m.caches.namespaces.by_index(&format!("ws:{}", w.name())) {
            let patch = json!({"metadata": {"labels": {WORKSPACE_LABEL: null}}});
            kubeapi::merge_patch(&m.client, Kind::Namespace, None, ns.name(), patch).await?;
        }
        kubeapi::delete(&m.client, Kind::Workspace, None, w.name()).await?;
    }
    Ok(())
}
