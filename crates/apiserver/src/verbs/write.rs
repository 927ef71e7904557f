//! Create, update, patch and delete of stored objects.

use std::sync::Arc;

use apimachinery::status::ApiError;
use serde_json::{Value, json};
use store::{KeyValue, Revision, StoreError};

use crate::cluster::Cluster;
use crate::object::{self, meta, meta_str, set_meta_str, with_resource_version};
use crate::registry::Resource;
use crate::response::store_error;

/// How unknown fields in a request body are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

/// Options common to every write.
#[derive(Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `fieldManager` (or the client's name from its User-Agent).
    pub field_manager: Option<String>,
    /// `force` (server-side apply takes fields other managers own).
    pub force: bool,
    /// The write is a server-side apply whose managedFields are already computed.
    pub apply: bool,
    /// Warnings for the response's `Warning` headers.
    pub warnings: std::sync::Mutex<Vec<String>>,
    /// The user making the request; `None` for the server's own writes (controllers).
    pub user: Option<crate::auth::UserInfo>,
}

impl WriteOptions {
    fn warn(&self, msg: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(msg);
    }
}

/// Checks a request body of a built-in kind for fields its schema does not declare (custom
/// resources are checked against their CRD's schema in [`crate::crd::admit`]).
pub fn check_fields(
    cluster: &Cluster,
    res: &Resource,
    obj: &Value,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    if !res.custom {
        check_types(cluster, &res.group, &res.version, &res.kind, obj)?;
    }
    if opts.field_validation == FieldValidation::Ignore || res.custom {
        return Ok(());
    }
    let crds = cluster.crd_schemas();
    let Some(unknown) =
        cluster
            .openapi
            .unknown_fields(&res.group, &res.version, &res.kind, obj, &crds)
    else {
        return Ok(());
    };
    report_unknown(res, unknown, opts)
}

/// Refuses a body of a built-in kind with a field of the wrong JSON type, as kube's decoder
/// does (400: `json: cannot unmarshal string into Go struct field Job.spec of type
/// v1.JobSpec`), before anything reads the object. Whatever `fieldValidation` says.
pub fn check_types(
    cluster: &Cluster,
    group: &str,
    version: &str,
    kind: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    let crds = cluster.crd_schemas();
    let mismatches = cluster
        .openapi
        .type_mismatches(group, version, kind, obj, &crds);
    let Some(first) = mismatches.first() else {
        return Ok(());
    };
    let target = if first.path.is_empty() {
        "Go value".to_string()
    } else {
        format!("Go struct field {kind}.{}", first.path)
    };
    Err(ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {} into {target} of type {}",
        first.found, first.expected
    )))
}

/// Refuses (Strict) or warns about (Warn) unknown fields.
pub fn report_unknown(
    res: &Resource,
    unknown: Vec<String>,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    if unknown.is_empty() {
        return Ok(());
    }
    match opts.field_validation {
        FieldValidation::Strict => {
            let list = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect::<Vec<_>>()
                .join(", ");
            Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {list}",
                kind = res.kind,
                v = res.version
            )))
        }
        FieldValidation::Warn => {
            for f in unknown {
                opts.warn(format!("unknown field \"{f}\""));
            }
            Ok(())
        }
        FieldValidation::Ignore => Ok(()),
    }
}

/// What a patch request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902.
    Json,
    /// RFC 7386.
    Merge,
    /// Kubernetes' strategic merge patch.
    Strategic,
    /// Server-side apply.
    Apply,
}

impl PatchType {
    /// The patch type for a request's content type.
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// Checks `apiVersion` and `kind` of a body against the URL, filling them in when absent.
pub fn check_type(res: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    // A patch can turn the whole object into a scalar; nothing below may index into that.
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: the object must be a JSON object",
            kind = res.kind,
            v = res.version
        )));
    }
    let expected_av = res.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => obj["apiVersion"] = Value::String(expected_av.clone()),
        Some(av) if av != expected_av => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({expected_av})"
            )));
        }
        Some(_) => {}
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => obj["kind"] = Value::String(res.kind.clone()),
        Some(k) if k != res.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                res.kind
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

/// Validates the object's metadata (and the few kind rules the embedded cluster enforces).
pub fn validate(res: &Resource, obj: &Value) -> Result<(), ApiError> {
    let name = meta_str(obj, "name").unwrap_or("");
    let mut errors = apimachinery::validation::validate_object_meta(
        obj.get("metadata").unwrap_or(&Value::Null),
        res.namespaced,
        res.name_rule,
    );
    errors.extend(res.rules.validate(obj));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&res.group, &res.kind, name, &errors))
    }
}

/// Whether a stored object's metadata has `deletionTimestamp` (set, even to null), read
/// without building the object: every create in a namespace asks it of the namespace.
#[derive(serde::Deserialize)]
struct TerminatingOnly {
    metadata: TerminatingMeta,
}

#[derive(serde::Deserialize)]
struct TerminatingMeta {
    #[serde(default, rename = "deletionTimestamp", deserialize_with = "present")]
    deletion_timestamp: bool,
}

/// True for any value, null included: only the member's presence counts.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d).map(|_| true)
}

/// Fails unless the namespace exists and is not being deleted.
pub fn check_namespace(
    cluster: &Cluster,
    res: &Resource,
    name: &str,
    namespace: &str,
    creating: bool,
) -> Result<(), ApiError> {
    let key = crate::registry::keys::object("", "namespaces", None, namespace);
    match cluster.store.get(&key) {
        None => Err(ApiError::not_found("", "namespaces", namespace)),
        Some(kv) if creating => {
            let terminating = serde_json::from_slice::<TerminatingOnly>(&kv.value)
                .is_ok_and(|ns| ns.metadata.deletion_timestamp);
            if terminating {
                Err(ApiError::forbidden(
                    &res.group,
                    &res.plural,
                    name,
                    &format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    ),
                ))
            } else {
                Ok(())
            }
        }
        Some(_) => Ok(()),
    }
}

/// What a create answers with.
#[derive(Debug)]
pub enum Created {
    /// The stored version: its bytes are the response body as they are (objects are stored as
    /// the JSON clients get back), so nothing is decoded or encoded again.
    Stored(KeyValue),
    /// `dryRun=All`: the object that would have been stored.
    DryRun(Value),
}

impl Created {
    /// The created object as a JSON value (for Table and metadata-only answers).
    pub fn into_value(self) -> Result<Value, ApiError> {
        match self {
            Created::Stored(kv) => parse_kv(&kv),
            Created::DryRun(obj) => Ok(obj),
        }
    }
}

/// Creates an object; `namespace` comes from the URL.
pub async fn create(
    cluster: &Arc<Cluster>,
    res: &Resource,
    namespace: Option<&str>,
    mut obj: Value,
    opts: &WriteOptions,
) -> Result<Created, ApiError> {
    check_type(res, &mut obj)?;
    check_fields(cluster, res, &obj, opts)?;
    place_in_namespace(res, namespace, &mut obj)?;
    let generated = ensure_name(cluster, res, namespace, &mut obj)?;
    prepare_create(res, &mut obj);
    crate::crd::on_create(res, &mut obj);
    // What kube's typed round trip drops (`env: []`…) is not stored.
    kubeproto::omit_empty(&mut obj);
    res.rules.defaults(&mut obj);
    let name = meta_str(&obj, "name").unwrap_or_default().to_string();
    let admission = crate::webhooks::Request {
        operation: "CREATE",
        res,
        subresource: "",
        namespace: namespace.filter(|_| res.namespaced).unwrap_or_default(),
        name: &name,
        old: None,
        user: opts.user.as_ref(),
        dry_run: opts.dry_run,
    };
    let ns = admission.namespace;
    crate::quota::limit_ranges(cluster, res, ns, &mut obj)?;
    crate::webhooks::mutate(cluster, &admission, &mut obj).await?;
    crate::crd::admit(cluster, res, &mut obj, None, opts)?;
    validate(res, &obj)?;
    crate::webhooks::validate(cluster, &admission, &obj).await?;
    crate::quota::check_quota(cluster, res, ns, &obj)?;
    crate::escalation::check(cluster, res, opts.user.as_ref(), &obj, None)?;
    crate::managed::record_update(
        res,
        &serde_json::json!({}),
        &mut obj,
        UpdateScope::Main,
        opts,
    )?;
    if let Some(ns) = namespace.filter(|_| res.namespaced) {
        let name = meta_str(&obj, "name").unwrap_or_default();
        check_namespace(cluster, res, name, ns, true)?;
    }
    crate::allocate::on_create(cluster, res, &mut obj, opts.dry_run).await?;
    let name = meta_str(&obj, "name").unwrap_or_default().to_string();
    let key = res.key(namespace, &name);
    if opts.dry_run {
        if cluster.store.get(&key).is_some() {
            return Err(ApiError::already_exists(&res.group, &res.plural, &name));
        }
        return Ok(Created::DryRun(obj));
    }
    // Status is not written on create, whatever the conversion makes of the annotations.
    let status = obj.get("status").is_some();
    let mut obj = crate::versions::to_store(res, None, obj, UpdateScope::Main);
    if res.status
        && !status
        && let Some(o) = obj.as_object_mut()
    {
        o.shift_remove("status");
    }
    store_created(cluster, res, &key, &name, obj, generated).await
}

/// Sets a namespaced object's namespace from the URL (refusing a different one in the body);
/// drops it from a cluster-scoped one.
fn place_in_namespace(
    res: &Resource,
    namespace: Option<&str>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if res.namespaced {
        let ns = namespace.ok_or_else(|| ApiError::bad_request("a namespace is required"))?;
        match meta_str(obj, "namespace") {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => set_meta_str(obj, "namespace", ns),
        }
    } else {
        object::meta_mut(obj).remove("namespace");
    }
    Ok(())
}

/// Names an object from its `generateName` when it has no name; true when the name was
/// generated.
fn ensure_name(
    cluster: &Cluster,
    res: &Resource,
    namespace: Option<&str>,
    obj: &mut Value,
) -> Result<bool, ApiError> {
    if !meta_str(obj, "name").is_none_or(str::is_empty) {
        return Ok(false);
    }
    match meta_str(obj, "generateName") {
        Some(prefix) if !prefix.is_empty() => {
            let prefix = prefix.to_string();
            let mut name = format!("{prefix}{}", cluster.generate_suffix(namespace, &prefix));
            for _ in 0..16 {
                if cluster.store.get(&res.key(namespace, &name)).is_none() {
                    break;
                }
                name = format!("{prefix}{}", cluster.generate_suffix(namespace, &prefix));
            }
            set_meta_str(obj, "name", &name);
            Ok(true)
        }
        _ => Err(ApiError::invalid(
            &res.group,
            &res.kind,
            "",
            &[apimachinery::validation::FieldError::required(
                "metadata.name",
                "name or generateName is required",
            )],
        )),
    }
}

/// Writes a created object to the store, releasing its allocations if that fails.
async fn store_created(
    cluster: &Arc<Cluster>,
    res: &Resource,
    key: &str,
    name: &str,
    mut obj: Value,
    generated: bool,
) -> Result<Created, ApiError> {
    // Encoded here, on this request's worker, not on the store's one writer thread; what is
    // left for the writer is splicing in the revision. The Value is kept only if the allocator
    // must be told the create failed.
    let allocated = crate::allocate::holds_allocations(res);
    let to_store = object::Unversioned::new(if allocated {
        obj.clone()
    } else {
        std::mem::take(&mut obj)
    });
    let kv = cluster
        .store
        .create(key, Box::new(move |rev| to_store.with_revision(rev)))
        .await
        .map_err(|e| {
            if generated && matches!(e, StoreError::AlreadyExists) {
                ApiError::generate_name_conflict(&res.group, &res.plural, name, 1)
            } else {
                store_error(e, &res.group, &res.plural, name)
            }
        });
    match kv {
        Ok(kv) => Ok(Created::Stored(kv)),
        Err(e) => {
            if allocated {
                crate::allocate::on_delete(cluster, res, &obj);
            }
            Err(e)
        }
    }
}

/// Fields the server owns on create.
fn prepare_create(res: &Resource, obj: &mut Value) {
    let m = object::meta_mut(obj);
    m.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    m.insert(
        "creationTimestamp".into(),
        Value::String(object::now_rfc3339()),
    );
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    m.remove("selfLink");
    if res.generation {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    if res.status
        && !(res.group.is_empty() && res.plural == "namespaces")
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
}

/// What an update or patch answers with.
#[derive(Debug)]
pub enum Written {
    /// The stored version, whose bytes are the response body as they are.
    Stored(KeyValue),
    /// An object not stored as it is answered (`dryRun=All`, server-side apply).
    Object(Value),
}

impl Written {
    /// The written object as a JSON value.
    pub fn into_value(self) -> Result<Value, ApiError> {
        match self {
            Written::Stored(kv) => parse_kv(&kv),
            Written::Object(obj) => Ok(obj),
        }
    }
}

/// Parses a stored value.
pub fn parse_kv(kv: &KeyValue) -> Result<Value, ApiError> {
    serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("stored object is corrupt: {e}")))
}

/// Which part of an object an update may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateScope {
    /// The main resource: everything but status (when status is a subresource).
    Main,
    /// The `/status` subresource: only status.
    Status,
}

/// Merges an incoming object into the stored one, keeping what clients may not change.
pub fn prepare_update(
    res: &Resource,
    old: &Value,
    mut new: Value,
    scope: UpdateScope,
) -> Result<Value, ApiError> {
    check_type(res, &mut new)?;
    let old_name = meta_str(old, "name").unwrap_or_default();
    match meta_str(&new, "name") {
        Some(n) if n != old_name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({old_name})"
            )));
        }
        _ => set_meta_str(&mut new, "name", old_name),
    }
    if let Some(uid) = meta_str(&new, "uid")
        && !uid.is_empty()
        && Some(uid) != meta_str(old, "uid")
    {
        return Err(ApiError::conflict(
            &res.group,
            &res.plural,
            old_name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(old, "uid").unwrap_or_default()
            ),
        ));
    }
    if scope == UpdateScope::Status {
        let mut merged = old.clone();
        let status = new.get("status").cloned().unwrap_or(Value::Null);
        if let Some(o) = merged.as_object_mut() {
            if status.is_null() {
                o.remove("status");
            } else {
                o.insert("status".into(), status);
            }
        }
        // Labels and annotations may change through status writes, as in kube-apiserver.
        for f in ["labels", "annotations", "ownerReferences", "finalizers"] {
            let m = object::meta_mut(&mut merged);
            match meta(&new).and_then(|nm| nm.get(f)) {
                Some(v) => {
                    m.insert(f.to_string(), v.clone());
                }
                None => {
                    m.remove(f);
                }
            }
        }
        return Ok(merged);
    }
    {
        let old_meta = meta(old).cloned().unwrap_or_default();
        let m = object::meta_mut(&mut new);
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
        ] {
            match old_meta.get(f) {
                Some(v) => {
                    m.insert(f.to_string(), v.clone());
                }
                None => {
                    m.remove(f);
                }
            }
        }
        m.remove("selfLink");
        if res.generation {
            let old_gen = old_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            m.insert("generation".into(), json!(old_gen));
        } else {
            m.remove("generation");
        }
    }
    if res.status
        && let Some(o) = new.as_object_mut()
    {
        match old.get("status") {
            Some(s) => {
                o.insert("status".into(), s.clone());
            }
            None => {
                o.remove("status");
            }
        }
    }
    crate::allocate::on_update(res, old, &mut new)?;
    kubeproto::omit_empty(&mut new);
    res.rules.defaults(&mut new);
    if res.generation && crate::versions::spec_differs(res, old, &new, spec_changed) {
        let g = meta(&new)
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        object::meta_mut(&mut new).insert("generation".into(), json!(g + 1));
    }
    Ok(new)
}

/// Whether anything but metadata and status differs (what bumps `generation`).
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            o.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

/// A stored object as a write found it: its key, value and revision.
#[derive(Clone, Copy)]
pub struct Stored<'a> {
    /// The store key.
    pub key: &'a str,
    /// The object.
    pub object: &'a Value,
    /// Its `mod_revision`; the write fails with a conflict if it changed.
    pub revision: Revision,
}

/// Writes a prepared update with optimistic concurrency against the stored revision.
pub async fn commit_update(
    cluster: &Arc<Cluster>,
    res: &Resource,
    current: Stored<'_>,
    new: Value,
    scope: UpdateScope,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    commit_write(cluster, res, current, new, scope, opts)
        .await?
        .into_value()
}

/// [`commit_update`], answering with the stored bytes (nothing decoded again).
pub async fn commit_write(
    cluster: &Arc<Cluster>,
    res: &Resource,
    current: Stored<'_>,
    new: Value,
    scope: UpdateScope,
    opts: &WriteOptions,
) -> Result<Written, ApiError> {
    let Stored {
        key,
        object: old,
        revision: expected,
    } = current;
    let name = meta_str(old, "name").unwrap_or_default().to_string();
    let mut new = new;
    let admission = crate::webhooks::Request {
        operation: "UPDATE",
        res,
        subresource: match scope {
            UpdateScope::Main => "",
            UpdateScope::Status => "status",
        },
        namespace: meta_str(old, "namespace").unwrap_or_default(),
        name: &name,
        old: Some(old),
        user: opts.user.as_ref(),
        dry_run: opts.dry_run,
    };
    crate::webhooks::mutate(cluster, &admission, &mut new).await?;
    crate::crd::admit(cluster, res, &mut new, Some(old), opts)?;
    validate(res, &new)?;
    crate::webhooks::validate(cluster, &admission, &new).await?;
    crate::escalation::check(cluster, res, opts.user.as_ref(), &new, Some(old))?;
    crate::managed::record_update(res, old, &mut new, scope, opts)?;
    if opts.dry_run {
        return Ok(Written::Object(new));
    }
    let new = if res.rules.converts() {
        let stored = cluster
            .store
            .get(key)
            .filter(|kv| kv.mod_revision == expected);
        let stored = stored.and_then(|kv| parse_kv(&kv).ok());
        crate::versions::to_store(res, Some(stored.as_ref().unwrap_or(old)), new, scope)
    } else {
        new
    };
    // An object being deleted whose last finalizer was removed is gone.
    let finalizers_empty = meta(&new)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if meta(&new).is_some_and(|m| m.contains_key("deletionTimestamp")) && finalizers_empty {
        let finalized = new.clone();
        let kv = cluster
            .store
            .delete(
                key,
                Some(expected),
                Box::new(move |_, rev| with_resource_version(finalized, rev)),
            )
            .await
            .map_err(|e| store_error(e, &res.group, &res.plural, &name))?;
        crate::allocate::on_delete(cluster, res, &new);
        return Ok(Written::Stored(kv));
    }
    // Encoded here, on this request's worker, not on the store's one writer thread (as
    // creates are): the writer only splices in the revision.
    let to_store = object::Unversioned::new(new);
    let kv = cluster
        .store
        .update(
            key,
            Some(expected),
            Box::new(move |_, rev| Ok(to_store.with_revision(rev))),
        )
        .await
        .map_err(|e| store_error(e, &res.group, &res.plural, &name))?;
    Ok(Written::Stored(kv))
}

/// Loads an object for a write, 404 if missing.
pub fn load(
    cluster: &Cluster,
    res: &Resource,
    key: &str,
    name: &str,
) -> Result<(Value, Revision), ApiError> {
    let kv = cluster
        .store
        .get(key)
        .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))?;
    // Read, patched and merged at the request's version; stored at the kind's own.
    let obj = crate::versions::served(res, parse_kv(&kv)?);
    Ok((obj, kv.mod_revision))
}

/// Replaces an object (PUT).
pub async fn update(
    cluster: &Arc<Cluster>,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    body: Value,
    scope: UpdateScope,
    opts: &WriteOptions,
) -> Result<Written, ApiError> {
    let key = res.key(namespace, name);
    check_fields(cluster, res, &body, opts)?;
    if res.namespaced
        && let Some(ns) = meta_str(&body, "namespace")
        && Some(ns) != namespace
        && !ns.is_empty()
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let precondition: Option<Revision> = match meta_str(&body, "resourceVersion") {
        Some(rv) if !rv.is_empty() => Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
        _ => None,
    };
    for _ in 0..16 {
        let (old, current) = load(cluster, res, &key, name)?;
        if let Some(p) = precondition
            && p != current
        {
            return Err(ApiError::stale_conflict(&res.group, &res.plural, name));
        }
        let new = prepare_update(res, &old, body.clone(), scope)?;
        match commit_write(
            cluster,
            res,
            Stored {
                key: &key,
                object: &old,
                revision: current,
            },
            new,
            scope,
            opts,
        )
        .await
        {
            Err(e) if e.code == 409 && precondition.is_none() && e.reason == "Conflict" => continue,
            other => return other,
        }
    }
    Err(ApiError::stale_conflict(&res.group, &res.plural, name))
}

/// Applies a patch (retrying on conflicts unless the patch pins a resourceVersion).
pub async fn patch(
    cluster: &Arc<Cluster>,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    (kind, patch): (PatchType, &[u8]),
    scope: UpdateScope,
    opts: &WriteOptions,
) -> Result<Written, ApiError> {
    let key = res.key(namespace, name);
    if kind == PatchType::Apply {
        return server_side_apply(cluster, res, namespace, name, patch, scope, opts)
            .await
            .map(Written::Object);
    }
    for _ in 0..16 {
        let (old, current) = load(cluster, res, &key, name)?;
        let patched = crate::patching::apply_off_thread(res, &old, kind, patch).await?;
        check_fields(cluster, res, &patched, opts)?;
        if let Some(rv) = meta_str(&patched, "resourceVersion")
            && rv != current.to_string()
            && meta_str(&old, "resourceVersion") != Some(rv)
        {
            return Err(ApiError::stale_conflict(&res.group, &res.plural, name));
        }
        let new = prepare_update(res, &old, patched, scope)?;
        match commit_write(
            cluster,
            res,
            Stored {
                key: &key,
                object: &old,
                revision: current,
            },
            new,
            scope,
            opts,
        )
        .await
        {
            Err(e) if e.code == 409 && e.reason == "Conflict" => continue,
            other => return other,
        }
    }
    Err(ApiError::stale_conflict(&res.group, &res.plural, name))
}

/// Server-side apply: creates the object if it does not exist, otherwise merges the applied
/// configuration into it under the request's field manager.
async fn server_side_apply(
    cluster: &Arc<Cluster>,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    body: &[u8],
    scope: UpdateScope,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    let mut config = crate::body::decode_yaml_off_thread(body).await?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    }
    check_type(res, &mut config)?;
    match meta_str(&config, "name") {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => set_meta_str(&mut config, "name", name),
    }
    check_fields(cluster, res, &config, opts)?;
    let key = res.key(namespace, name);
    for _ in 0..16 {
        match cluster.store.get(&key) {
            None => {
                let obj = crate::managed::server_side_apply(
                    res,
                    &serde_json::json!({}),
                    &config,
                    opts.force,
                    scope,
                    opts,
                )?;
                match create(cluster, res, namespace, obj, opts).await {
                    Err(e) if e.reason == "AlreadyExists" => continue,
                    other => return other.and_then(Created::into_value),
                }
            }
            Some(kv) => {
                let old = crate::versions::served(res, parse_kv(&kv)?);
                let applied =
                    crate::managed::server_side_apply(res, &old, &config, opts.force, scope, opts)?;
                let new = prepare_update(res, &old, applied, scope)?;
                match commit_update(
                    cluster,
                    res,
                    Stored {
                        key: &key,
                        object: &old,
                        revision: kv.mod_revision,
                    },
                    new,
                    scope,
                    opts,
                )
                .await
                {
                    Err(e) if e.code == 409 && e.reason == "Conflict" => continue,
                    other => return other,
                }
            }
        }
    }
    Err(ApiError::stale_conflict(&res.group, &res.plural, name))
}
