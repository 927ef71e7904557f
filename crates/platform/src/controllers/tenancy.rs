//! Tenancy reconcilers: every WorkspaceTemplate has its Workspace and built-in workspace roles;
//! every project (namespace with a workspace label) has its built-in Roles.

use kube::Client;

use crate::cache::Caches;
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::objects::{self, WORKSPACE_LABEL};

/// One pass.
pub async fn reconcile(client: &Client, caches: &Caches) -> Result<(), PlatformError> {
    if !(caches.workspace_templates.is_synced()
        && caches.workspaces.is_synced()
        && caches.workspace_roles.is_synced()
        && caches.roles.is_synced())
    {
        return Ok(());
    }
    for t in caches.workspace_templates.list() {
        let ws = t.name().to_string();
        let workspace = match caches.workspaces.get(&ws) {
            Some(w) => w.obj.clone(),
            None => {
                kubeapi::ensure(
                    client,
                    Kind::Workspace,
                    None,
                    objects::workspace_for_template(&t.obj),
                    &[],
                )
                .await?;
                continue;
            }
        };
        let existing = caches.workspace_roles.by_index(&format!("ws:{ws}"));
        for role in objects::workspace_roles(&ws, Some(&workspace)) {
            let name = role["metadata"]["name"].as_str().unwrap_or_default();
            if !existing.iter().any(|r| r.name() == name) {
                kubeapi::ensure(client, Kind::WorkspaceRole, None, role, &[]).await?;
            }
        }
    }
    for ns in caches.namespaces.list() {
        if ns.label(WORKSPACE_LABEL).is_none()
            || ns.obj["status"]["phase"].as_str() == Some("Terminating")
        {
            continue;
        }
        let existing = caches.roles.by_index(&format!("ns:{}", ns.name()));
        for role in objects::namespace_roles(ns.name()) {
            let name = role["metadata"]["name"].as_str().unwrap_or_default();
            if !existing.iter().any(|r| r.name() == name) {
                kubeapi::ensure(client, Kind::Role, Some(ns.name()), role, &[]).await?;
            }
        }
    }
    Ok(())
}
