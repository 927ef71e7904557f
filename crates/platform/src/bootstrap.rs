//! Idempotent bootstrap: CRDs, built-in templates and roles, the admin user, `system-workspace`.

use std::path::Path;
use std::time::Duration;

use kube::Client;
use serde_json::json;

use crate::builtin;
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::objects::*;
use crate::password::{self, HashCost};
use crate::tokens::SYSTEM_NAMESPACE;
use crate::version;

/// Installs (or updates) the platform's CRDs as this build and waits until every kind is
/// served.
pub async fn install_crds(client: &Client) -> Result<(), PlatformError> {
    install_crds_as(client, version::VERSION).await.map(drop)
}

/// Installs the platform's CRDs as version `mine` (see [`version`]): refuses a host whose CRDs
/// a version more than one minor away installed, leaves those a newer version installed as
/// they are, and records `mine` on those it installs. Returns how `mine` stands to the version
/// recorded before.
pub async fn install_crds_as(client: &Client, mine: &str) -> Result<version::Skew, PlatformError> {
    let mine_release = version::Release::parse(mine).ok_or_else(|| {
        PlatformError::Invalid(format!(
            "the platform version {mine:?} is not MAJOR.MINOR.PATCH"
        ))
    })?;
    let crds: Vec<serde_json::Value> = crate::crds::all()
        .into_iter()
        .chain(crate::extensions::crds::all())
        .collect();
    let mut existing = Vec::with_capacity(crds.len());
    let mut recorded: Option<version::Release> = None;
    for crd in &crds {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let found = kubeapi::get(client, Kind::Crd, None, name).await?;
        let theirs = found
            .as_ref()
            .and_then(|c| c["metadata"]["annotations"][version::VERSION_ANNOTATION].as_str())
            .and_then(version::Release::parse);
        recorded = recorded.max(theirs);
        existing.push(found);
    }
    let skew = recorded.map_or(version::Skew::Same, |r| version::skew(mine_release, r));
    if skew == version::Skew::TooFar {
        let recorded = recorded.map(|r| r.to_string()).unwrap_or_default();
        return Err(PlatformError::Invalid(format!(
            "the platform's CRDs in the host were installed by Orrery {recorded}; this replica is {mine}: only adjacent minor versions run side by side — upgrade (or roll back) one minor version at a time"
        )));
    }
    for (crd, found) in crds.into_iter().zip(existing) {
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut desired = match found {
            // A newer version's definition stays: it still serves every version this one uses.
            Some(_) if skew == version::Skew::Older => continue,
            Some(ref e) => adopted(e, &crd),
            None => crd,
        };
        desired["metadata"]["annotations"][version::VERSION_ANNOTATION] = mine.into();
        let theirs = found
            .as_ref()
            .and_then(|c| c["metadata"]["annotations"][version::VERSION_ANNOTATION].as_str())
            .and_then(version::Release::parse);
        kubeapi::ensure(client, Kind::Crd, None, desired, &["spec"]).await?;
        if found.is_some() && theirs != Some(mine_release) {
            let patch = json!({"metadata": {"annotations": {version::VERSION_ANNOTATION: mine}}});
            kubeapi::merge_patch(client, Kind::Crd, None, &name, patch).await?;
        }
    }
    // The host serves a new CRD within moments; wait until every kind answers a list.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for kind in [
        Kind::User,
        Kind::GlobalRole,
        Kind::GlobalRoleBinding,
        Kind::WorkspaceRole,
        Kind::WorkspaceRoleBinding,
        Kind::ClusterRole,
        Kind::ClusterRoleBinding,
        Kind::Role,
        Kind::RoleBinding,
        Kind::RoleTemplate,
        Kind::LoginRecord,
        Kind::Group,
        Kind::GroupBinding,
        Kind::Workspace,
        Kind::WorkspaceTemplate,
        Kind::Cluster,
        Kind::ApiService,
        Kind::ReverseProxy,
        Kind::JsBundle,
    ] {
        loop {
            match kubeapi::list(client, kind, None, "").await {
                Ok(_) => break,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(kind = kind.kind(), error = %e, "waiting for CRD to be served");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(skew)
}

/// Orrery's CRD for a kind that already has one (a KubeSphere host being taken over): Orrery's
/// versions and schema, plus every version the existing CRD serves that Orrery does not
/// define, still served (not stored) with its own schema, so that clients and objects using
/// it keep working; the storage version becomes Orrery's (objects stored before stay readable:
/// their versions stay in `spec.versions`). KubeSphere's conversion webhook goes away with
/// KubeSphere, so conversion becomes `None` (versions differ by `apiVersion` only).
pub fn adopted(existing: &serde_json::Value, ours: &serde_json::Value) -> serde_json::Value {
    let mut desired = ours.clone();
    let our_versions: Vec<String> = ours["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect();
    let mut kept = Vec::new();
    for v in existing["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = v["name"].as_str().unwrap_or_default();
        if name.is_empty() || our_versions.iter().any(|o| o == name) {
            continue;
        }
        let mut v = v.clone();
        v["storage"] = false.into();
        kept.push(v);
    }
    if let Some(versions) = desired["spec"]["versions"].as_array_mut() {
        versions.extend(kept);
    }
    desired["spec"]["conversion"] = json!({"strategy": "None"});
    desired
}

/// What the bootstrap produced.
pub struct Bootstrapped {
    /// The admin's initial password, when this start created the admin user.
    pub initial_admin_password: Option<String>,
}

/// Installs everything the platform needs in the host cluster (safe to run on every start and
/// from several replicas at once).
pub async fn bootstrap(
    client: &Client,
    admin_password: Option<&str>,
    data_dir: &Path,
    cost: HashCost,
    platform_version: &str,
) -> Result<Bootstrapped, PlatformError> {
    // A replica older than the one that installed the host's objects leaves the built-in
    // templates and roles as the newer one defined them.
    let skew = install_crds_as(client, platform_version).await?;
    let builtin_overwrite: &[&str] = if skew == version::Skew::Older {
        &[]
    } else {
        &["spec"]
    };
    let role_overwrite: &[&str] = if skew == version::Skew::Older {
        &[]
    } else {
        &["rules", "aggregationRoleTemplates"]
    };
    let ns = json!({"metadata": {"name": SYSTEM_NAMESPACE, "labels": {WORKSPACE_LABEL: SYSTEM_WORKSPACE}}});
    kubeapi::ensure(client, Kind::Namespace, None, ns, &[]).await?;
    for t in builtin::templates() {
        let obj = json!({
            "metadata": {"name": t.name, "labels": {
                "iam.kubesphere.io/scope": t.scope, "iam.kubesphere.io/category": t.category,
                "iam.kubesphere.io/builtin": "true",
            }},
            "spec": {
                "displayName": {"en": t.en, "zh": t.zh},
                "description": {"en": format!("{} ({} scope)", t.en, t.scope), "zh": t.zh},
                "rules": t.rules,
            },
        });
        kubeapi::ensure(client, Kind::RoleTemplate, None, obj, builtin_overwrite).await?;
    }
    for r in builtin::global_roles() {
        kubeapi::ensure(
            client,
            Kind::GlobalRole,
            None,
            role_object(r.name, &r, json!({}), None),
            role_overwrite,
        )
        .await?;
    }
    for r in builtin::cluster_roles() {
        kubeapi::ensure(
            client,
            Kind::ClusterRole,
            None,
            role_object(r.name, &r, json!({}), None),
            role_overwrite,
        )
        .await?;
    }
    let initial_admin_password = ensure_admin(client, admin_password, data_dir, cost).await?;
    kubeapi::ensure(
        client,
        Kind::GlobalRoleBinding,
        None,
        global_role_binding("admin", "platform-admin"),
        &[],
    )
    .await?;
    ensure_workspace(client, SYSTEM_WORKSPACE, "admin").await?;
    for ns in [
        "kube-system",
        "kube-public",
        "kube-node-lease",
        SYSTEM_NAMESPACE,
    ] {
        let patch = json!({"metadata": {"labels": {WORKSPACE_LABEL: SYSTEM_WORKSPACE}}});
        match kubeapi::merge_patch(client, Kind::Namespace, None, ns, patch).await {
            Ok(_) => {}
            Err(e) if kubeapi::is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Bootstrapped {
        initial_admin_password,
    })
}

/// Creates a WorkspaceTemplate, its Workspace, its built-in roles and the manager's binding.
pub async fn ensure_workspace(
    client: &Client,
    ws: &str,
    manager: &str,
) -> Result<(), PlatformError> {
    let template = json!({
        "metadata": {"name": ws},
        "spec": {"template": {"spec": {"manager": manager}}, "placement": {"clusters": [{"name": "host"}]}},
    });
    kubeapi::ensure(client, Kind::WorkspaceTemplate, None, template, &[]).await?;
    let Some(template) = kubeapi::get(client, Kind::WorkspaceTemplate, None, ws).await? else {
        return Ok(());
    };
    kubeapi::ensure(
        client,
        Kind::Workspace,
        None,
        workspace_for_template(&template),
        &[],
    )
    .await?;
    let workspace = kubeapi::get(client, Kind::Workspace, None, ws).await?;
    for role in workspace_roles(ws, workspace.as_ref()) {
        kubeapi::ensure(client, Kind::WorkspaceRole, None, role, &[]).await?;
    }
    if !manager.is_empty() {
        let b = workspace_role_binding(ws, manager, &format!("{ws}-admin"));
        kubeapi::ensure(client, Kind::WorkspaceRoleBinding, None, b, &[]).await?;
    }
    Ok(())
}

async fn ensure_admin(
    client: &Client,
    given: Option<&str>,
    data_dir: &Path,
    cost: HashCost,
) -> Result<Option<String>, PlatformError> {
    if kubeapi::get(client, Kind::User, None, "admin")
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let generated = given.is_none();
    let pw = given.map(str::to_string).unwrap_or_else(password::generate);
    let hashed = {
        let pw = pw.clone();
        tokio::task::spawn_blocking(move || password::hash(&pw, cost))
            .await
            .map_err(|e| PlatformError::Invalid(e.to_string()))??
    };
    let user = json!({
        "metadata": {"name": "admin", "annotations": {
            "iam.kubesphere.io/globalrole": "platform-admin",
            "iam.kubesphere.io/uninitialized": "true",
        }},
        "spec": {"email": "admin@kubesphere.io", "password": hashed, "lang": "en"},
    });
    match kubeapi::create(client, Kind::User, None, user).await {
        Ok(_) => {}
        // Another replica created it first; its password is the one that counts.
        Err(e) if kubeapi::is_conflict(&e) => return Ok(None),
        Err(e) => return Err(e),
    }
    let status = json!({"status": {"state": "Active", "passwordChangeRequired": true}});
    kubeapi::merge_patch_status(client, Kind::User, None, "admin", status).await?;
    if generated {
        save_password(data_dir, &pw)?;
    }
    Ok(Some(pw))
}

fn save_password(dir: &Path, pw: &str) -> Result<(), PlatformError> {
    use std::io::Write;
    let err = |source| PlatformError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let path = dir.join("admin-password");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(err)?;
    f.write_all(format!("{pw}\n").as_bytes()).map_err(err)?;
    Ok(())
}
