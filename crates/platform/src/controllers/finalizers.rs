//! KubeSphere's finalizers on the kinds Orrery manages. Objects exported from KubeSphere carry
//! them (`finalizers.kubesphere.io/users`, …); KubeSphere's controllers clean up after the
//! object and then remove them, so without this a deleted object would stay Terminating
//! forever. Orrery does the same clean-up (shared with its own API's deletions), then removes
//! exactly those finalizers, leaving any other.
//!
//! What each clean-up does: a user loses its bindings at every level (in member clusters
//! too), its group memberships, login records and tokens; a role loses the bindings that grant
//! it; a group loses its GroupBindings, its child groups and the bindings naming it; a
//! workspace template loses its roles, bindings and Workspace, and its projects leave the
//! workspace (Orrery never deletes projects implicitly). Namespaces, Workspaces and bindings
//! need no more than the release.

use kube::Client;
use serde_json::{Value, json};

use crate::cache::{Cache, Caches};
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::objects::WORKSPACE_LABEL;

/// KubeSphere's finalizers on Users.
pub const USER: &[&str] = &["finalizers.kubesphere.io/users"];
/// On GlobalRoles.
pub const GLOBAL_ROLE: &[&str] = &["finalizers.kubesphere.io/globalroles"];
/// On GlobalRoleBindings.
pub const GLOBAL_ROLE_BINDING: &[&str] = &["finalizers.kubesphere.io/globalrolebindings"];
/// On WorkspaceRoles.
pub const WORKSPACE_ROLE: &[&str] = &["finalizers.kubesphere.io/workspaceroles"];
/// On WorkspaceRoleBindings.
pub const WORKSPACE_ROLE_BINDING: &[&str] = &["finalizers.kubesphere.io/workspacerolebindings"];
/// On Groups.
pub const GROUP: &[&str] = &["finalizers.kubesphere.io/groups"];
/// On WorkspaceTemplates (4.x cascading deletion, and the 3.x names).
pub const WORKSPACE_TEMPLATE: &[&str] = &[
    "kubesphere.io/cascading-deletion",
    "finalizers.workspacetemplate.kubesphere.io",
    "orphan.finalizers.kubesphere.io",
    "finalizers.tenant.kubesphere.io",
];
/// On Workspaces.
pub const WORKSPACE: &[&str] = &[
    "finalizers.tenant.kubesphere.io",
    "kubesphere.io/cascading-deletion",
];
/// On Namespaces (the 3.x name and 4.x cascading deletion).
pub const NAMESPACE: &[&str] = &[
    "finalizers.kubesphere.io/namespaces",
    "kubesphere.io/cascading-deletion",
];

fn deleting_with<'a>(cache: &'a Cache, names: &'a [&str]) -> impl Iterator<Item = Value> + 'a {
    cache.list().into_iter().filter_map(move |e| {
        let obj = &e.obj;
        let held = obj["metadata"]["finalizers"].as_array().is_some_and(|f| {
            f.iter()
                .any(|f| f.as_str().is_some_and(|f| names.contains(&f)))
        });
        (obj["metadata"]["deletionTimestamp"].is_string() && held).then(|| obj.clone())
    })
}

/// Removes `names` from `obj`'s finalizers (guarded by its resourceVersion). Returns whether
/// it did; a conflict or a vanished object is left to the next pass.
pub async fn release(
    client: &Client,
    kind: Kind,
    obj: &Value,
    names: &[&str],
) -> Result<bool, PlatformError> {
    let list: Vec<Value> = obj["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let keep: Vec<Value> = list
        .iter()
        .filter(|f| !f.as_str().is_some_and(|f| names.contains(&f)))
        .cloned()
        .collect();
    if keep.len() == list.len() {
        return Ok(false);
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let ns = obj["metadata"]["namespace"].as_str();
    let patch = json!({"metadata": {
        "finalizers": keep,
        "resourceVersion": obj["metadata"]["resourceVersion"],
    }});
    match kubeapi::merge_patch(client, kind, ns, name, patch).await {
        Ok(_) => Ok(true),
        Err(e) if kubeapi::is_conflict(&e) || kubeapi::is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn delete_matching(
    client: &Client,
    kind: Kind,
    cache: &Cache,
    keep: impl Fn(&Value) -> bool,
) -> Result<(), PlatformError> {
    for b in cache.list() {
        if keep(&b.obj) {
            let ns = b.obj["metadata"]["namespace"].as_str();
            kubeapi::delete(client, kind, ns, b.name()).await?;
        }
    }
    Ok(())
}

/// Deletes the bindings whose subjects include `subject` (`User:<u>` or `Group:<g>`) at every
/// level, in the host and in every connected member.
async fn delete_bindings_of(state: &AppState, subject: &str) -> Result<(), PlatformError> {
    let host = &state.caches;
    for (kind, cache) in [
        (Kind::GlobalRoleBinding, &host.global_role_bindings),
        (Kind::WorkspaceRoleBinding, &host.workspace_role_bindings),
        (Kind::ClusterRoleBinding, &host.cluster_role_bindings),
        (Kind::RoleBinding, &host.role_bindings),
    ] {
        for b in cache.by_index(subject) {
            let ns = b.obj["metadata"]["namespace"].as_str();
            kubeapi::delete(&state.client, kind, ns, b.name()).await?;
        }
    }
    for m in state.clusters.all() {
        if state.clusters.is_host(&m.name) || !m.is_ready() || !m.caches_synced() {
            continue;
        }
        for (kind, cache) in [
            (Kind::ClusterRoleBinding, &m.caches.cluster_role_bindings),
            (Kind::RoleBinding, &m.caches.role_bindings),
        ] {
            for b in cache.by_index(subject) {
                let ns = b.obj["metadata"]["namespace"].as_str();
                kubeapi::delete(&m.client, kind, ns, b.name()).await?;
            }
        }
    }
    Ok(())
}

/// Everything that goes with a user: bindings everywhere, group memberships, login records
/// and tokens.
pub async fn cleanup_user(state: &AppState, name: &str) -> Result<(), PlatformError> {
    delete_bindings_of(state, &format!("User:{name}")).await?;
    for b in state
        .caches
        .group_bindings
        .by_index(&format!("User:{name}"))
    {
        let users: Vec<&Value> = b.obj["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u.as_str() != Some(name))
            .collect();
        if users.is_empty() {
            kubeapi::delete(&state.client, Kind::GroupBinding, None, b.name()).await?;
        } else {
            let patch = json!({"users": users, "metadata": {"resourceVersion": b.obj["metadata"]["resourceVersion"]}});
            kubeapi::merge_patch(&state.client, Kind::GroupBinding, None, b.name(), patch).await?;
        }
    }
    let selector = format!("iam.kubesphere.io/user-ref={name}");
    for r in kubeapi::list(&state.client, Kind::LoginRecord, None, &selector).await? {
        let record = r["metadata"]["name"].as_str().unwrap_or_default();
        kubeapi::delete(&state.client, Kind::LoginRecord, None, record).await?;
    }
    state.tokens.revoke_user(name, None, None).await
}

/// Everything that goes with a group: its GroupBindings, its child groups (recursively, by
/// label `iam.kubesphere.io/group-parent`) and the bindings naming it.
pub async fn cleanup_group(state: &AppState, name: &str) -> Result<(), PlatformError> {
    let mut pending = vec![name.to_string()];
    let mut seen = Vec::new();
    while let Some(g) = pending.pop() {
        if seen.contains(&g) {
            continue;
        }
        for b in state.caches.group_bindings.by_index(&format!("group:{g}")) {
            kubeapi::delete(&state.client, Kind::GroupBinding, None, b.name()).await?;
        }
        delete_bindings_of(state, &format!("Group:{g}")).await?;
        for child in state.caches.groups.list() {
            if child.label("iam.kubesphere.io/group-parent") == Some(g.as_str()) {
                if child.name() != name {
                    kubeapi::delete(&state.client, Kind::Group, None, child.name()).await?;
                }
                pending.push(child.name().to_string());
            }
        }
        seen.push(g);
    }
    Ok(())
}

/// Everything that goes with a workspace: its roles, bindings, groups and Workspace; its
/// projects leave it.
pub async fn cleanup_workspace(
    client: &Client,
    caches: &Caches,
    name: &str,
) -> Result<(), PlatformError> {
    let key = format!("ws:{name}");
    for b in caches.workspace_role_bindings.by_index(&key) {
        kubeapi::delete(client, Kind::WorkspaceRoleBinding, None, b.name()).await?;
    }
    for r in caches.workspace_roles.by_index(&key) {
        kubeapi::delete(client, Kind::WorkspaceRole, None, r.name()).await?;
    }
    for g in caches.groups.by_index(&key) {
        kubeapi::delete(client, Kind::Group, None, g.name()).await?;
    }
    for ns in caches.namespaces.by_index(&key) {
        let patch = json!({"metadata": {"labels": {WORKSPACE_LABEL: null}}});
        kubeapi::merge_patch(client, Kind::Namespace, None, ns.name(), patch).await?;
    }
    kubeapi::delete(client, Kind::Workspace, None, name).await
}

fn role_ref_is(obj: &Value, name: &str) -> bool {
    obj["roleRef"]["name"].as_str() == Some(name)
}

/// One pass: every object being deleted that holds one of KubeSphere's finalizers is cleaned
/// up after, then released.
pub async fn reconcile(state: &AppState) -> Result<(), PlatformError> {
    let (client, host) = (&state.client, &state.caches);
    if !host.all().iter().all(|c| c.is_synced()) {
        return Ok(());
    }
    for u in deleting_with(&host.users, USER) {
        let name = u["metadata"]["name"].as_str().unwrap_or_default();
        cleanup_user(state, name).await?;
        release(client, Kind::User, &u, USER).await?;
    }
    for r in deleting_with(&host.global_roles, GLOBAL_ROLE) {
        let name = r["metadata"]["name"].as_str().unwrap_or_default();
        delete_matching(
            client,
            Kind::GlobalRoleBinding,
            &host.global_role_bindings,
            |b| role_ref_is(b, name),
        )
        .await?;
        release(client, Kind::GlobalRole, &r, GLOBAL_ROLE).await?;
    }
    for r in deleting_with(&host.workspace_roles, WORKSPACE_ROLE) {
        let name = r["metadata"]["name"].as_str().unwrap_or_default();
        delete_matching(
            client,
            Kind::WorkspaceRoleBinding,
            &host.workspace_role_bindings,
            |b| role_ref_is(b, name),
        )
        .await?;
        release(client, Kind::WorkspaceRole, &r, WORKSPACE_ROLE).await?;
    }
    for g in deleting_with(&host.groups, GROUP) {
        let name = g["metadata"]["name"].as_str().unwrap_or_default();
        cleanup_group(state, name).await?;
        release(client, Kind::Group, &g, GROUP).await?;
    }
    for t in deleting_with(&host.workspace_templates, WORKSPACE_TEMPLATE) {
        let name = t["metadata"]["name"].as_str().unwrap_or_default();
        cleanup_workspace(client, host, name).await?;
        release(client, Kind::WorkspaceTemplate, &t, WORKSPACE_TEMPLATE).await?;
    }
    for (kind, cache, names) in [
        (
            Kind::GlobalRoleBinding,
            &host.global_role_bindings,
            GLOBAL_ROLE_BINDING,
        ),
        (
            Kind::WorkspaceRoleBinding,
            &host.workspace_role_bindings,
            WORKSPACE_ROLE_BINDING,
        ),
        (Kind::Workspace, &host.workspaces, WORKSPACE),
        (Kind::Namespace, &host.namespaces, NAMESPACE),
    ] {
        for obj in deleting_with(cache, names) {
            release(client, kind, &obj, names).await?;
        }
    }
    for m in state.clusters.all() {
        if state.clusters.is_host(&m.name) || !m.is_ready() || !m.caches_synced() {
            continue;
        }
        for (kind, cache, names) in [
            (Kind::Workspace, &m.caches.workspaces, WORKSPACE),
            (Kind::Namespace, &m.caches.namespaces, NAMESPACE),
        ] {
            for obj in deleting_with(cache, names) {
                release(&m.client, kind, &obj, names).await?;
            }
        }
    }
    Ok(())
}
