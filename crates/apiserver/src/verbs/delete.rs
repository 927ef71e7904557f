//! Deletion: preconditions, finalizers, graceful deletion and collections.

use std::sync::Arc;

use apimachinery::status::ApiError;
use serde_json::{Value, json};
use store::Revision;

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
    /// The requesting user (`None`: the server's own deletions, which webhooks do not see).
    pub user: Option<crate::auth::UserInfo>,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (empty is allowed), sent as JSON, YAML or protobuf as
    /// `headers` say, on top of query parameters.
    pub async fn merge_body(
        self,
        headers: &http::HeaderMap,
        body: &bytes::Bytes,
    ) -> Result<DeleteOptions, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(self);
        }
        let v = crate::body::decode_object(headers, body)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {}", e.message)))?;
        self.merge(&v)
    }

    /// Applies a decoded `DeleteOptions` object on top of query parameters.
    pub fn merge(mut self, v: &Value) -> Result<DeleteOptions, ApiError> {
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
        check_preconditions(res, name, &old, current, opts)?;
        // Admission webhooks see a DELETE with the stored object as `oldObject`.
        let admission = crate::webhooks::Request {
            operation: "DELETE",
            res,
            subresource: "",
            namespace: namespace.filter(|_| res.namespaced).unwrap_or_default(),
            name,
            old: Some(&old),
            user: opts.user.as_ref(),
            dry_run: opts.dry_run,
        };
        let mut nothing = Value::Null;
        crate::webhooks::mutate(cluster, &admission, &mut nothing).await?;
        crate::webhooks::validate(cluster, &admission, &nothing).await?;
        let plan = Plan::of(res, &old, opts);
        let stored = Stored {
            key: &key,
            name,
            old,
            current,
        };
        let attempt = if plan.needs_marking() {
            mark(cluster, res, stored, &plan, opts).await?
        } else {
            remove(cluster, res, stored, opts).await?
        };
        if let Some(deleted) = attempt {
            return Ok(deleted);
        }
    }
    Err(ApiError::stale_conflict(&res.group, &res.plural, name))
}

/// The object a delete found, at its revision.
struct Stored<'a> {
    key: &'a str,
    name: &'a str,
    old: Value,
    current: Revision,
}

/// `preconditions.uid` and `preconditions.resourceVersion`: 409 when they do not hold.
fn check_preconditions(
    res: &Resource,
    name: &str,
    old: &Value,
    current: Revision,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(uid) = &opts.precondition_uid
        && meta_str(old, "uid") != Some(uid.as_str())
    {
        return Err(ApiError::conflict(
            &res.group,
            &res.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(old, "uid").unwrap_or_default()
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
    Ok(())
}

/// What deleting an object takes: marking it (finalizers, a namespace, a pod's grace
/// period) or removing it at once.
struct Plan {
    finalizers: Vec<String>,
    is_namespace: bool,
    graceful: bool,
    grace: i64,
    terminating: bool,
}

impl Plan {
    fn of(res: &Resource, old: &Value, opts: &DeleteOptions) -> Plan {
        let mut finalizers: Vec<String> = meta(old)
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
        let terminating = meta(old).is_some_and(|m| m.contains_key("deletionTimestamp"));
        let dependents_finalizer = match opts.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(f) = dependents_finalizer
            && !finalizers.iter().any(|x| x == f)
            && !terminating
        {
            finalizers.push(f.to_string());
        }
        Plan {
            finalizers,
            is_namespace,
            graceful: is_bound_pod && grace > 0,
            grace,
            terminating,
        }
    }

    fn needs_marking(&self) -> bool {
        !self.finalizers.is_empty()
            || self.is_namespace
            || (self.graceful && !(self.terminating && self.grace == 0))
    }
}

/// Marks the object for deletion (`deletionTimestamp`, grace period, finalizers); `None` when
/// the object changed meanwhile and the delete must be tried again.
async fn mark(
    cluster: &Arc<Cluster>,
    res: &Resource,
    stored: Stored<'_>,
    plan: &Plan,
    opts: &DeleteOptions,
) -> Result<Option<Deleted>, ApiError> {
    if plan.terminating {
        // Already being deleted: nothing more to do.
        return Ok(Some(Deleted {
            object: stored.old,
            gone: false,
        }));
    }
    let mut marked = stored.old;
    {
        let m = object::meta_mut(&mut marked);
        m.insert(
            "deletionTimestamp".into(),
            Value::String(object::now_rfc3339()),
        );
        m.insert(
            "deletionGracePeriodSeconds".into(),
            json!(if plan.graceful { plan.grace } else { 0 }),
        );
        if !plan.finalizers.is_empty() {
            m.insert("finalizers".into(), json!(plan.finalizers));
        }
    }
    if plan.is_namespace {
        marked["status"]["phase"] = Value::String("Terminating".into());
    }
    if opts.dry_run {
        return Ok(Some(Deleted {
            object: marked,
            gone: false,
        }));
    }
    match cluster
        .store
        .update(
            stored.key,
            Some(stored.current),
            Box::new(move |_, rev| Ok(with_resource_version(marked, rev))),
        )
        .await
    {
        Ok(kv) => {
            let object = parse_kv(&kv)?;
            if plan.is_namespace {
                crate::namespaces::kick(cluster);
            }
            Ok(Some(Deleted {
                object,
                gone: false,
            }))
        }
        Err(store::StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(store_error(e, &res.group, &res.plural, stored.name)),
    }
}

/// Removes the object from the store; `None` when it changed meanwhile.
async fn remove(
    cluster: &Arc<Cluster>,
    res: &Resource,
    stored: Stored<'_>,
    opts: &DeleteOptions,
) -> Result<Option<Deleted>, ApiError> {
    if opts.dry_run {
        return Ok(Some(Deleted {
            object: stored.old,
            gone: true,
        }));
    }
    let final_obj = stored.old.clone();
    match cluster
        .store
        .delete(
            stored.key,
            Some(stored.current),
            Box::new(move |_, rev| with_resource_version(final_obj, rev)),
        )
        .await
    {
        Ok(kv) => {
            crate::allocate::on_delete(cluster, res, &stored.old);
            Ok(Some(Deleted {
                object: parse_kv(&kv)?,
                gone: true,
            }))
        }
        Err(store::StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(store_error(e, &res.group, &res.plural, stored.name)),
    }
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
