//! Deletion: preconditions, finalizers, graceful deletion and collections.

use std::sync::Arc;

use apimachinery::status::ApiError;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::object::{self, meta, meta_str, with_resource_version};
use crate::registry::Resource;
use crate::response::store_error;
use crate::write::{load, parse_kv};

/// `DeleteOptions`, from the body or the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `propagationPolicy`: Orphan, Background or Foreground.
    pub propagation: Option<String>,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_rv: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (empty is allowed) on top of query parameters.
    pub fn merge_body(mut self, body: &[u8]) -> Result<DeleteOptions, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(self);
        }
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
        if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation = Some(p.to_string());
        }
        if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            self.propagation = Some("Orphan".into());
        }
        if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
            self.grace_period_seconds = Some(g);
        }
        if let Some(p) = v.get("preconditions") {
            self.precondition_uid = p.get("uid").and_then(Value::as_str).map(String::from);
            self.precondition_rv = p
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(String::from);
        }
        if let Some(d) = v.get("dryRun").and_then(Value::as_array)
            && d.iter().any(|x| x == "All")
        {
            self.dry_run = true;
        }
        if let Some(p) = &self.propagation
            && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        Ok(self)
    }
}

/// The outcome of a delete: the object, and whether it is gone or only marked for deletion.
pub struct Deleted {
    /// The object as deleted (or as marked).
    pub object: Value,
    /// True if the object is gone from the store.
    pub gone: bool,
}

/// Deletes one object.
pub async fn delete(
    cluster: &Arc<Cluster>,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Deleted, ApiError> {
    let key = res.key(namespace, name);
    for _ in 0..16 {
        let (old, current) = load(cluster, res, &key, name)?;
        if let Some(uid) = &opts.precondition_uid
            && meta_str(&old, "uid") != Some(uid.as_str())
        {
            return Err(ApiError::conflict(
                &res.group,
                &res.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&old, "uid").unwrap_or_default()
                ),
            ));
        }
        if let Some(rv) = &opts.precondition_rv
            && *rv != current.to_string()
        {
            return Err(ApiError::conflict(
                &res.group,
                &res.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current}"
                ),
            ));
        }
        let mut finalizers: Vec<String> = meta(&old)
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let is_namespace = res.group.is_empty() && res.plural == "namespaces";
        // Pods on a node terminate gracefully: the kubelet finishes them after the grace period.
        let is_bound_pod = res.group.is_empty()
            && res.plural == "pods"
            && old["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty());
        let grace = opts
            .grace_period_seconds
            .or_else(|| old["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30);
        let graceful = is_bound_pod && grace > 0;
        let has_dependents_policy = match opts.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(f) = has_dependents_policy
            && !finalizers.iter().any(|x| x == f)
            && !meta(&old).is_some_and(|m| m.contains_key("deletionTimestamp"))
        {
            finalizers.push(f.to_string());
        }
        let terminating = meta(&old).is_some_and(|m| m.contains_key("deletionTimestamp"));
        let needs_marking =
            !finalizers.is_empty() || is_namespace || (graceful && !(terminating && grace == 0));
        if needs_marking {
            if terminating {
                // Already being deleted: nothing more to do.
                return Ok(Deleted {
                    object: old,
                    gone: false,
                });
            }
            let mut marked = old.clone();
            {
                let m = object::meta_mut(&mut marked);
                m.insert(
                    "deletionTimestamp".into(),
                    Value::String(object::now_rfc3339()),
                );
                m.insert(
                    "deletionGracePeriodSeconds".into(),
                    json!(if graceful { grace } else { 0 }),
                );
                if !finalizers.is_empty() {
                    m.insert("finalizers".into(), json!(finalizers));
                }
            }
            if is_namespace {
                marked["status"]["phase"] = Value::String("Terminating".into());
            }
            if opts.dry_run {
                return Ok(Deleted {
                    object: marked,
                    gone: false,
                });
            }
            let res_name = name.to_string();
            match cluster
                .store
                .update(
                    &key,
                    Some(current),
                    Box::new(move |_, rev| Ok(with_resource_version(marked, rev))),
                )
                .await
            {
                Ok(kv) => {
                    let object = parse_kv(&kv)?;
                    if is_namespace {
                        crate::namespaces::kick(cluster);
                    }
                    return Ok(Deleted {
                        object,
                        gone: false,
                    });
                }
                Err(store::StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(e, &res.group, &res.plural, &res_name)),
            }
        }
        if opts.dry_run {
            return Ok(Deleted {
                object: old,
                gone: true,
            });
        }
        let final_obj = old.clone();
        match cluster
            .store
            .delete(
                &key,
                Some(current),
                Box::new(move |_, rev| with_resource_version(final_obj, rev)),
            )
            .await
        {
            Ok(kv) => {
                crate::allocate::on_delete(cluster, res, &old);
                return Ok(Deleted {
                    object: parse_kv(&kv)?,
                    gone: true,
                });
            }
            Err(store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(e, &res.group, &res.plural, name)),
        }
    }
    Err(ApiError::stale_conflict(&res.group, &res.plural, name))
}

/// Deletes every object of a resource (in a namespace) that the selectors match.
pub async fn delete_collection(
    cluster: &Arc<Cluster>,
    res: &Resource,
    namespace: Option<&str>,
    selectors: &crate::list::Selectors,
    opts: &DeleteOptions,
) -> Result<Vec<Value>, ApiError> {
    let prefix = match namespace {
        Some(ns) if res.namespaced => res.namespace_prefix(ns),
        _ => res.key_prefix(),
    };
    let listed = cluster
        .store
        .list(&prefix, None, 0, None)
        .map_err(|e| store_error(e, &res.group, &res.plural, ""))?;
    let mut deleted = Vec::new();
    for kv in listed.items {
        if !selectors.matches_bytes(res, &kv.value)? {
            continue;
        }
        let obj = parse_kv(&kv)?;
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        let ns = meta_str(&obj, "namespace").map(String::from);
        match delete(cluster, res, ns.as_deref(), &name, opts).await {
            Ok(d) => deleted.push(d.object),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}
