//! CustomResourceDefinitions: a CRD that is created is served within moments (registry and
//! discovery updated), its status says so, and deleting it deletes its objects first.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::object::with_resource_version;
use crate::registry::{NameRule, Resource};

/// The prefix of every stored CustomResourceDefinition.
fn crd_prefix() -> String {
    crate::registry::keys::prefix("apiextensions.k8s.io", "customresourcedefinitions")
}

/// The finalizer that holds a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

use crate::object::at as s;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The resources a CRD serves (one per served version).
pub fn resources_of(crd: &Value) -> Vec<Resource> {
    let group = s(crd, &["spec", "group"])
        .as_str()
        .unwrap_or_default()
        .to_string();
    let names = s(crd, &["spec", "names"]);
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Vec::new();
    }
    let namespaced = s(crd, &["spec", "scope"]).as_str() != Some("Cluster");
    let versions = s(crd, &["spec", "versions"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(false))
        .filter_map(|v| {
            let version = v["name"].as_str()?.to_string();
            let sub = &v["subresources"];
            let mut verbs: Vec<String> = [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ]
            .iter()
            .map(|x| x.to_string())
            .collect();
            verbs.sort();
            Some(Resource {
                group: group.clone(),
                version,
                plural: plural.clone(),
                singular: names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| kind.to_ascii_lowercase()),
                kind: kind.clone(),
                list_kind: names["listKind"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("{kind}List")),
                namespaced,
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status: sub.get("status").is_some(),
                scale: sub.get("scale").is_some(),
                generation: true,
                name_rule: NameRule::Subdomain,
                field_selectors: strings(&v["selectableFields"])
                    .into_iter()
                    .chain(
                        v["selectableFields"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|f| {
                                f["jsonPath"]
                                    .as_str()
                                    .map(|p| p.trim_start_matches('.').to_string())
                            }),
                    )
                    .collect(),
                verbs,
                stored: true,
                custom: true,
                printer_columns: v["additionalPrinterColumns"].clone(),
                rules: &crate::kinds::NONE,
            })
        })
        .collect()
}

/// The CRD objects currently stored.
pub fn all(cluster: &Cluster) -> Vec<Value> {
    match cluster.store.list(&crd_prefix(), None, 0, None) {
        Ok(l) => l
            .items
            .iter()
            .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Rebuilds the served custom resources from the stored CRDs.
pub fn sync_registry(cluster: &Cluster) {
    let crds = all(cluster);
    let mut served = Vec::new();
    for crd in &crds {
        // A CRD being deleted is served until it is gone, so its objects stay reachable.
        served.extend(resources_of(crd));
    }
    cluster.registry.replace_custom(served);
    *cluster
        .compiled_crds
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Arc::new(compile_all(&crds));
    cluster.invalidate_crd_schemas();
}

/// Runs the CRD controller until shutdown: keeps the registry in step with the stored CRDs,
/// sets their status, and cleans up after deleted ones.
pub async fn run(cluster: Arc<Cluster>) {
    loop {
        let rev = cluster.store.revision();
        sync_registry(&cluster);
        reconcile(&cluster).await;
        let mut watcher = match cluster.store.watch(&crd_prefix(), rev) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "CRD watch failed; retrying");
                tokio::select! {
                    _ = cluster.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => continue,
                }
            }
        };
        loop {
            tokio::select! {
                _ = cluster.shutdown.cancelled() => return,
                ev = watcher.next() => match ev {
                    Some(Ok(_)) => {
                        sync_registry(&cluster);
                        reconcile(&cluster).await;
                    }
                    Some(Err(_)) => break,
                    None => return,
                },
            }
        }
    }
}

async fn reconcile(cluster: &Arc<Cluster>) {
    for crd in all(cluster) {
        let name = s(&crd, &["metadata", "name"])
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = crate::registry::keys::object(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            None,
            &name,
        );
        if s(&crd, &["metadata", "deletionTimestamp"]).is_string() {
            cleanup(cluster, &crd, &key).await;
            continue;
        }
        let desired = status_for(&crd);
        if s(&crd, &["status"]) != &desired {
            let result = cluster
                .store
                .update(
                    &key,
                    None,
                    // From the CRD as it is when written, not as it was read: a status
                    // written in between (storedVersions trimmed after a storage migration)
                    // is not undone.
                    Box::new(move |kv, rev| {
                        let mut cur: Value = serde_json::from_slice(&kv.value)
                            .map_err(|e| store::StoreError::Backend(e.to_string()))?;
                        cur["status"] = status_for(&cur);
                        Ok(with_resource_version(cur, rev))
                    }),
                )
                .await;
            if let Err(e) = result {
                tracing::debug!(error = %e, crd = %name, "CRD status update raced; will retry on the next event");
            }
        }
    }
}

/// Conditions and accepted names for a CRD that is being served.
fn status_for(crd: &Value) -> Value {
    let now = crate::object::now_rfc3339();
    let storage: Vec<String> = s(crd, &["spec", "versions"])
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|v| v["storage"].as_bool() == Some(true))
                .filter_map(|v| v["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut stored = strings(s(crd, &["status", "storedVersions"]));
    for v in storage {
        if !stored.contains(&v) {
            stored.push(v);
        }
    }
    let existing = s(crd, &["status", "conditions"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    let keep_time = |t: &str| -> String {
        existing
            .iter()
            .find(|c| c["type"] == t && c["status"] == "True")
            .and_then(|c| c["lastTransitionTime"].as_str())
            .map(String::from)
            .unwrap_or_else(|| now.clone())
    };
    json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": keep_time("NamesAccepted"), "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": keep_time("Established"), "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "acceptedNames": s(crd, &["spec", "names"]),
        "storedVersions": stored,
    })
}

async fn cleanup(cluster: &Arc<Cluster>, crd: &Value, key: &str) {
    let group = s(crd, &["spec", "group"]).as_str().unwrap_or_default();
    let plural = s(crd, &["spec", "names", "plural"])
        .as_str()
        .unwrap_or_default();
    if group.is_empty() || plural.is_empty() {
        return;
    }
    let prefix = crate::registry::keys::prefix(group, plural);
    let Ok(listed) = cluster.store.list(&prefix, None, 0, None) else {
        return;
    };
    for kv in listed.items {
        let final_kv = kv.clone();
        let _ = cluster
            .store
            .delete(
                &kv.key,
                Some(kv.mod_revision),
                Box::new(move |_, rev| {
                    let obj: Value = serde_json::from_slice(&final_kv.value).unwrap_or(Value::Null);
                    with_resource_version(obj, rev)
                }),
            )
            .await;
    }
    if cluster.store.count(&prefix) > 0 {
        return;
    }
    let _ = cluster
        .store
        .update(
            key,
            None,
            Box::new(|kv, rev| {
                let mut cur: Value = serde_json::from_slice(&kv.value)
                    .map_err(|e| store::StoreError::Backend(e.to_string()))?;
                if let Some(f) = cur["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != CLEANUP_FINALIZER);
                }
                Ok(with_resource_version(cur, rev))
            }),
        )
        .await;
    // With no finalizers left, the CRD itself goes.
    if let Some(kv) = cluster.store.get(key)
        && let Ok(cur) = serde_json::from_slice::<Value>(&kv.value)
        && cur["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        let _ = cluster
            .store
            .delete(
                key,
                Some(kv.mod_revision),
                Box::new(move |_, rev| with_resource_version(cur, rev)),
            )
            .await;
    }
}

/// Adds the cleanup finalizer to a new CRD.
pub fn on_create(res: &Resource, obj: &mut Value) {
    if res.group == "apiextensions.k8s.io" && res.plural == "customresourcedefinitions" {
        let m = crate::object::meta_mut(obj);
        let f = m.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(a) = f.as_array_mut()
            && !a.iter().any(|x| x == CLEANUP_FINALIZER)
        {
            a.push(json!(CLEANUP_FINALIZER));
        }
    }
}

/// The OpenAPI schemas of served custom resources.
pub fn openapi_schemas(cluster: &Cluster) -> Vec<openapi::CrdSchema> {
    let mut out = Vec::new();
    for crd in all(cluster) {
        let group = s(&crd, &["spec", "group"])
            .as_str()
            .unwrap_or_default()
            .to_string();
        let names = s(&crd, &["spec", "names"]);
        let namespaced = s(&crd, &["spec", "scope"]).as_str() != Some("Cluster");
        for v in s(&crd, &["spec", "versions"])
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if v["served"].as_bool() != Some(true) {
                continue;
            }
            let schema = v["schema"]["openAPIV3Schema"].clone();
            let kind = names["kind"].as_str().unwrap_or_default().to_string();
            out.push(openapi::CrdSchema {
                group: group.clone(),
                version: v["name"].as_str().unwrap_or_default().to_string(),
                list_kind: names["listKind"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("{kind}List")),
                kind,
                plural: names["plural"].as_str().unwrap_or_default().to_string(),
                namespaced,
                schema: if schema.is_null() {
                    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
                } else {
                    schema
                },
            });
        }
    }
    out
}

/// A stored custom object as served at `res`'s version (conversion strategy `None`: only
/// `apiVersion` changes). Objects already in that version are returned as they are.
pub fn in_version(res: &Resource, stored: &bytes::Bytes) -> bytes::Bytes {
    if !res.custom {
        return stored.clone();
    }
    if crate::versions::in_version(res, stored) {
        return stored.clone();
    }
    let expected = res.api_version();
    match serde_json::from_slice::<Value>(stored) {
        Ok(mut obj) => {
            obj["apiVersion"] = Value::String(expected);
            bytes::Bytes::from(serde_json::to_vec(&obj).unwrap_or_default())
        }
        Err(_) => stored.clone(),
    }
}

/// One served version's compiled schema and printer columns.
pub struct CompiledVersion {
    /// The structural schema (`None` when the version has none).
    pub schema: Option<crdschema::Schema>,
    /// `additionalPrinterColumns`.
    pub columns: Value,
}

/// Compiled versions of every served custom resource, keyed by (group, plural, version).
pub type CompiledCrds = std::collections::HashMap<(String, String, String), Arc<CompiledVersion>>;

/// Compiles the schemas of every stored CRD.
pub fn compile_all(crds: &[Value]) -> CompiledCrds {
    let mut out = CompiledCrds::new();
    for crd in crds {
        let group = s(crd, &["spec", "group"])
            .as_str()
            .unwrap_or_default()
            .to_string();
        let plural = s(crd, &["spec", "names", "plural"])
            .as_str()
            .unwrap_or_default()
            .to_string();
        for v in s(crd, &["spec", "versions"])
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let version = v["name"].as_str().unwrap_or_default().to_string();
            let schema = match v["schema"].get("openAPIV3Schema") {
                Some(sch) => crdschema::Schema::compile(sch).ok(),
                None => None,
            };
            out.insert(
                (group.clone(), plural.clone(), version),
                Arc::new(CompiledVersion {
                    schema,
                    columns: v["additionalPrinterColumns"].clone(),
                }),
            );
        }
    }
    out
}

/// Prunes, defaults and validates a custom object as kube-apiserver does on every write.
pub fn admit(
    cluster: &Cluster,
    res: &Resource,
    obj: &mut Value,
    old: Option<&Value>,
    opts: &crate::write::WriteOptions,
) -> Result<(), apimachinery::status::ApiError> {
    if !res.custom {
        return Ok(());
    }
    let Some(compiled) = cluster.compiled_crd(res) else {
        return Ok(());
    };
    let Some(schema) = &compiled.schema else {
        return Ok(());
    };
    crate::write::report_unknown(res, schema.unknown_fields(obj), opts)?;
    schema.prune(obj);
    schema.default(obj);
    let errors = schema.validate_in_place(obj, old);
    if errors.is_empty() {
        Ok(())
    } else {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Err(apimachinery::status::ApiError::invalid(
            &res.group, &res.kind, &name, &errors,
        ))
    }
}

/// Checks the schemas of a CRD being written (422 on a schema kube would refuse).
pub fn validate_definition(crd: &Value) -> Vec<apimachinery::validation::FieldError> {
    let mut errors = Vec::new();
    let versions = s(crd, &["spec", "versions"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errors.push(apimachinery::validation::FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .count();
    if !versions.is_empty() && storage != 1 {
        errors.push(apimachinery::validation::FieldError::invalid(
            "spec.versions",
            json!(
                versions
                    .iter()
                    .filter_map(|v| v["name"].as_str())
                    .collect::<Vec<_>>()
            ),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if let Some(sch) = v["schema"].get("openAPIV3Schema")
            && let Err(e) = crdschema::Schema::compile_at(
                sch,
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
            )
        {
            errors.extend(e.errors);
        }
    }
    let name = s(crd, &["metadata", "name"]).as_str().unwrap_or_default();
    let plural = s(crd, &["spec", "names", "plural"])
        .as_str()
        .unwrap_or_default();
    let group = s(crd, &["spec", "group"]).as_str().unwrap_or_default();
    if name != format!("{plural}.{group}") {
        errors.push(apimachinery::validation::FieldError::invalid(
            "metadata.name",
            json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    errors
}
