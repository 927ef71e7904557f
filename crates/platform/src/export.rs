//! `orrery export` / `orrery import`: the platform's own resources of a host cluster as one
//! document, and that document written into another host.
//!
//! The document is a `v1` `List` (JSON) whose items are in import order — the platform's
//! CustomResourceDefinitions, then namespaces (the system namespace and workspaces' projects),
//! roles and templates, workspaces, users and groups, bindings, clusters and their Secrets,
//! App Store repositories, categories, apps, versions and the ConfigMaps holding versions'
//! packages — beside an `orrery.io/export` header (format version, time, counts). Items lose
//! what belongs to the cluster they came from (`uid`, `resourceVersion`, `generation`,
//! `creationTimestamp`, `managedFields`, `status`), except the status that records a decision
//! rather than an observation: a user's state (a disabled user stays disabled) and an app's or
//! version's review state. Owner references are rewritten to the new objects' uids (each item
//! carries its old uid in an annotation the import removes); ones to objects not exported are
//! dropped. Import creates each item, or replaces the one already there, so running it twice
//! changes nothing the second time. Users keep their password hashes, so they log in with the
//! same passwords.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// The document format this release writes and the newest it reads.
pub const FORMAT_VERSION: u64 = 1;
/// The header's key in the document.
pub const HEADER: &str = "orrery.io/export";
/// An exported item's uid in the cluster it came from (removed on import).
const OLD_UID: &str = "export.orrery.io/uid";

/// What is exported, in import order: the kind and which of its objects.
const PLAN: &[(Kind, Select)] = &[
    (Kind::Crd, Select::PlatformCrds),
    (Kind::Namespace, Select::PlatformNamespaces),
    (Kind::RoleTemplate, Select::All),
    (Kind::GlobalRole, Select::All),
    (Kind::ClusterRole, Select::All),
    (Kind::WorkspaceTemplate, Select::All),
    (Kind::Workspace, Select::All),
    (Kind::WorkspaceRole, Select::All),
    (Kind::Role, Select::All),
    (Kind::User, Select::All),
    (Kind::Group, Select::All),
    (Kind::GlobalRoleBinding, Select::All),
    (Kind::ClusterRoleBinding, Select::All),
    (Kind::WorkspaceRoleBinding, Select::All),
    (Kind::RoleBinding, Select::All),
    (Kind::GroupBinding, Select::All),
    (Kind::Cluster, Select::All),
    (Kind::Label, Select::All),
    (
        Kind::Secret,
        Select::Label(crate::clusters::KUBECONFIG_LABEL),
    ),
    (Kind::Secret, Select::Label(crate::identity::SECRET_LABEL)),
    (Kind::WorkspaceQuota, Select::All),
    (Kind::AppRepo, Select::All),
    (Kind::AppCategory, Select::All),
    (Kind::App, Select::All),
    (Kind::AppVersion, Select::All),
    (
        Kind::ConfigMap,
        Select::Label(crate::appstore::VERSION_LABEL),
    ),
];

/// Which objects of a kind.
#[derive(Clone, Copy)]
enum Select {
    All,
    /// CRDs of the `*.kubesphere.io` groups.
    PlatformCrds,
    /// The system namespace and every namespace of a workspace.
    PlatformNamespaces,
    /// Objects with this label (`key` or `key=value`), in the system namespace when namespaced.
    Label(&'static str),
}

/// Kinds whose `status` is a decision to carry over (see the module doc).
fn keeps_status(kind: Kind) -> bool {
    matches!(kind, Kind::User | Kind::App | Kind::AppVersion)
}

/// Exports the host's platform resources; `progress` gets (kinds done, kinds in total).
pub async fn export(
    client: &kube::Client,
    mut progress: impl FnMut(usize, usize),
) -> Result<Value, PlatformError> {
    let mut items = Vec::new();
    let mut counts: Map<String, Value> = Map::new();
    for (i, (kind, select)) in PLAN.iter().enumerate() {
        let (ns, labels) = match select {
            Select::Label(l) => (kind.namespaced().then_some(SYSTEM_NAMESPACE), *l),
            _ => (None, ""),
        };
        let mut objects = kubeapi::list(client, *kind, ns, labels).await?;
        objects.retain(|o| selected(*select, o));
        objects.sort_by(|a, b| name_of(a).cmp(&name_of(b)));
        let n = objects.len();
        for o in objects {
            items.push(clean(*kind, o));
        }
        let count = counts.entry(kind.kind()).or_insert(json!(0));
        *count = json!(count.as_u64().unwrap_or(0) + n as u64);
        progress(i + 1, PLAN.len());
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {},
        HEADER: {
            "formatVersion": FORMAT_VERSION,
            "createdAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "counts": counts,
        },
        "items": items,
    }))
}

fn name_of(o: &Value) -> (&str, &str) {
    (
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default(),
    )
}

fn selected(select: Select, o: &Value) -> bool {
    match select {
        Select::All | Select::Label(_) => o["metadata"]["deletionTimestamp"].is_null(),
        Select::PlatformCrds => o["spec"]["group"]
            .as_str()
            .is_some_and(|g| g.ends_with("kubesphere.io")),
        Select::PlatformNamespaces => {
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            name == SYSTEM_NAMESPACE
                || o["metadata"]["labels"][crate::objects::WORKSPACE_LABEL].is_string()
        }
    }
}

/// An item as exported: typed, without what belongs to its source cluster.
fn clean(kind: Kind, mut o: Value) -> Value {
    let keep = keeps_status(kind).then(|| o["status"].take());
    let Some(obj) = o.as_object_mut() else {
        return o;
    };
    obj.insert("apiVersion".into(), kind.api_version().into());
    obj.insert("kind".into(), kind.kind().into());
    obj.remove("status");
    if let Some(status) = keep.filter(|s| !s.is_null()) {
        obj.insert("status".into(), status);
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let uid = meta.remove("uid");
        for field in [
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.remove(field);
        }
        if let Some(uid) = uid.filter(Value::is_string) {
            let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(a) = annotations.as_object_mut() {
                a.insert(OLD_UID.into(), uid);
            }
        }
    }
    if kind == Kind::Namespace {
        obj.remove("spec");
    }
    o
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Objects that did not exist.
    pub created: usize,
    /// Which ones (`Kind name` or `Kind namespace/name`).
    pub created_names: Vec<String>,
    /// Objects that existed and were replaced.
    pub updated: usize,
    /// CustomResourceDefinitions that existed and were left as they are.
    pub kept: usize,
}

/// The kind an item names, among those exported.
fn kind_of(item: &Value) -> Option<Kind> {
    let api_version = item["apiVersion"].as_str()?;
    let kind = item["kind"].as_str()?;
    PLAN.iter()
        .map(|(k, _)| *k)
        .find(|k| k.api_version() == api_version && k.kind() == kind)
}

/// Checks a document before anything is written: its header, format version and items.
pub fn check(doc: &Value) -> Result<&Vec<Value>, PlatformError> {
    let bad = |m: String| PlatformError::Invalid(m);
    let version = doc[HEADER]["formatVersion"]
        .as_u64()
        .ok_or_else(|| bad(format!("not an orrery export (no {HEADER} header)")))?;
    if version > FORMAT_VERSION {
        return Err(bad(format!(
            "export format {version} is newer than the {FORMAT_VERSION} this orrery reads; \
             import it with the release that wrote it"
        )));
    }
    let items = doc["items"]
        .as_array()
        .ok_or_else(|| bad("the export has no items list".into()))?;
    for (i, item) in items.iter().enumerate() {
        if kind_of(item).is_none() || item["metadata"]["name"].as_str().is_none() {
            return Err(bad(format!(
                "item {i} ({} {}) is not a platform resource this orrery imports",
                item["apiVersion"].as_str().unwrap_or("?"),
                item["kind"].as_str().unwrap_or("?")
            )));
        }
    }
    Ok(items)
}

/// Writes a document's items into the host in order (create, or replace what exists);
/// `progress` gets (items done, items in total).
pub async fn import(
    client: &kube::Client,
    doc: &Value,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImportSummary, PlatformError> {
    let items = check(doc)?;
    let mut uids: HashMap<String, String> = HashMap::new();
    let mut summary = ImportSummary::default();
    for (i, item) in items.iter().enumerate() {
        let Some(kind) = kind_of(item) else {
            continue;
        };
        let mut obj = item.clone();
        // `get_mut`, not indexing: indexing a missing field would insert a null.
        let old_uid = obj
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
            .and_then(Value::as_object_mut)
            .and_then(|a| a.remove(OLD_UID))
            .and_then(|v| v.as_str().map(str::to_string));
        remap_owners(&mut obj, &uids);
        let status = obj.as_object_mut().and_then(|o| o.remove("status"));
        // A host's own CRDs are the ones its release installed: only missing ones are created.
        let (written, created) = write(client, kind, obj, kind != Kind::Crd)
            .await
            .map_err(|e| PlatformError::Invalid(format!("importing {}: {e}", describe(item))))?;
        if created {
            summary.created += 1;
            summary.created_names.push(describe(item));
        } else if kind == Kind::Crd {
            summary.kept += 1;
        } else {
            summary.updated += 1;
        }
        if kind == Kind::Crd {
            wait_established(client, &written).await?;
        }
        if let Some(status) = status.filter(|s| !s.is_null() && keeps_status(kind)) {
            let mut with_status = written.clone();
            with_status["status"] = status;
            let ns = written["metadata"]["namespace"].as_str();
            kubeapi::replace_status(client, kind, ns, with_status)
                .await
                .map_err(|e| {
                    PlatformError::Invalid(format!(
                        "importing the status of {}: {e}",
                        describe(item)
                    ))
                })?;
        }
        if let (Some(old), Some(new)) = (old_uid, written["metadata"]["uid"].as_str()) {
            uids.insert(old, new.to_string());
        }
        progress(i + 1, items.len());
    }
    Ok(summary)
}

fn describe(item: &Value) -> String {
    let (ns, name) = name_of(item);
    let kind = item["kind"].as_str().unwrap_or("?");
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}

/// Points owner references at the new uids; drops the ones whose owner was not imported.
fn remap_owners(obj: &mut Value, uids: &HashMap<String, String>) {
    let Some(refs) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("ownerReferences"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    refs.retain_mut(|r| {
        let new = r["uid"].as_str().and_then(|u| uids.get(u)).cloned();
        match new {
            Some(uid) => {
                r["uid"] = uid.into();
                true
            }
            None => false,
        }
    });
    if refs.is_empty()
        && let Some(meta) = obj["metadata"].as_object_mut()
    {
        meta.remove("ownerReferences");
    }
}

/// Creates `obj`, or (with `replace`) replaces the existing one, retrying a concurrent change;
/// returns the object as it now is and whether it was created.
async fn write(
    client: &kube::Client,
    kind: Kind,
    obj: Value,
    replace: bool,
) -> Result<(Value, bool), PlatformError> {
    let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
    let ns = ns.as_deref().filter(|_| kind.namespaced());
    match kubeapi::create(client, kind, ns, obj.clone()).await {
        Ok(v) => return Ok((v, true)),
        Err(e) if kubeapi::is_conflict(&e) => {}
        Err(e) => return Err(e),
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let mut last = None;
    for _ in 0..5 {
        let Some(current) = kubeapi::get(client, kind, ns, name).await? else {
            // Deleted meanwhile: create it after all.
            return kubeapi::create(client, kind, ns, obj.clone())
                .await
                .map(|v| (v, true));
        };
        if !replace {
            return Ok((current, false));
        }
        let mut next = obj.clone();
        next["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        // Finalizers the target added keep guarding their objects.
        if next["metadata"]["finalizers"].is_null() && !current["metadata"]["finalizers"].is_null()
        {
            next["metadata"]["finalizers"] = current["metadata"]["finalizers"].clone();
        }
        match kubeapi::replace(client, kind, ns, next).await {
            Ok(v) => return Ok((v, false)),
            Err(e) if kubeapi::is_conflict(&e) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| PlatformError::Invalid("kept conflicting".into())))
}

/// Waits (bounded) until an imported CRD serves, so its objects can follow.
async fn wait_established(client: &kube::Client, crd: &Value) -> Result<(), PlatformError> {
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    for _ in 0..300 {
        if let Some(current) = kubeapi::get(client, Kind::Crd, None, name).await? {
            let established = current["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            if established {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(PlatformError::Invalid(format!(
        "CustomResourceDefinition {name} was not established within 30 s"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_drops_the_source_clusters_fields_and_keeps_decisions() {
        let user = json!({
            "metadata": {"name": "u", "uid": "abc", "resourceVersion": "7", "generation": 2,
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}],
                "annotations": {"a": "b"}},
            "spec": {"password": "$2a$hash"},
            "status": {"state": "Disabled"}
        });
        let c = clean(Kind::User, user);
        assert_eq!(c["apiVersion"], "iam.kubesphere.io/v1beta1");
        assert_eq!(c["kind"], "User");
        assert_eq!(c["metadata"]["annotations"][OLD_UID], "abc");
        assert_eq!(c["metadata"]["annotations"]["a"], "b");
        for f in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
        ] {
            assert!(c["metadata"][f].is_null(), "{f}");
        }
        assert_eq!(c["spec"]["password"], "$2a$hash");
        assert_eq!(c["status"]["state"], "Disabled");
        let ws = clean(
            Kind::Workspace,
            json!({"metadata": {"name": "w"}, "status": {"x": 1}}),
        );
        assert!(ws.get("status").is_none());
    }

    #[test]
    fn owner_references_follow_the_new_uids() {
        let uids = HashMap::from([("old".to_string(), "new".to_string())]);
        let mut o = json!({"metadata": {"name": "c", "ownerReferences": [
            {"uid": "old", "name": "v"}, {"uid": "gone", "name": "x"}]}});
        remap_owners(&mut o, &uids);
        assert_eq!(
            o["metadata"]["ownerReferences"],
            json!([{"uid": "new", "name": "v"}])
        );
        let mut lone = json!({"metadata": {"name": "c", "ownerReferences": [{"uid": "gone"}]}});
        remap_owners(&mut lone, &uids);
        assert!(lone["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn documents_are_checked_before_anything_is_written() {
        assert!(check(&json!({"items": []})).is_err());
        let newer = json!({HEADER: {"formatVersion": FORMAT_VERSION + 1}, "items": []});
        assert!(check(&newer).unwrap_err().to_string().contains("newer"));
        let foreign = json!({HEADER: {"formatVersion": 1},
            "items": [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}]});
        assert!(
            check(&foreign)
                .unwrap_err()
                .to_string()
                .contains("Deployment")
        );
        let ok = json!({HEADER: {"formatVersion": 1},
            "items": [{"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
                       "metadata": {"name": "u"}}]});
        assert_eq!(check(&ok).unwrap().len(), 1);
    }
}
