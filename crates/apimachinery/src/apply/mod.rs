//! Server-side apply, the pure parts: `managedFields` as field sets, the fields an applied
//! configuration sets, merging it into the live object, conflicts between managers with
//! kube's messages, and removing fields a manager stopped applying. Ported in spirit from
//! structured-merge-diff's `Updater` (Apply and Update).

mod fieldpath;
mod typed;

pub use fieldpath::{FieldPath, FieldSet, PathElement, compare_values};
pub use typed::{fields_of, fields_of_except, fields_of_except_in, get_path, merge, remove_path};

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::go_quote;
use crate::patch::PatchSchema;
use crate::status::{ApiError, StatusCause};

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedFieldsEntry {
    /// The field manager's name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version the fields are expressed in.
    pub api_version: String,
    /// When the entry last changed (RFC 3339), if known.
    pub time: Option<String>,
    /// The subresource the manager wrote through, if any.
    pub subresource: String,
    /// The owned fields.
    pub fields: FieldSet,
}

impl ManagedFieldsEntry {
    /// Whether two entries belong to the same manager identity (kube's
    /// `BuildManagerIdentifier`: appliers are identified regardless of API version).
    pub fn same_manager(&self, other: &ManagedFieldsEntry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == "Apply" || self.api_version == other.api_version)
    }

    /// How kube names the manager in conflict messages (`printManager`).
    pub fn describe(&self) -> String {
        let mut s = go_quote(&self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {}", go_quote(&self.subresource));
        }
        if self.operation == "Update" {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }

    /// The JSON form, in kube's field order.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), Value::from(self.manager.as_str()));
        m.insert("operation".into(), Value::from(self.operation.as_str()));
        m.insert("apiVersion".into(), Value::from(self.api_version.as_str()));
        if let Some(t) = &self.time {
            m.insert("time".into(), Value::from(t.as_str()));
        }
        m.insert("fieldsType".into(), Value::from("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), Value::from(self.subresource.as_str()));
        }
        Value::Object(m)
    }
}

/// Why apply or a managed-fields update failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the request changes (HTTP 409).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// `metadata.managedFields` could not be read (HTTP 400).
    #[error("{0}")]
    InvalidManagedFields(String),
}

/// One field owned by another manager.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The owning manager (described as kube does).
    pub manager: String,
    /// The contested field.
    pub path: FieldPath,
}

fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.path
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

impl ApplyError {
    /// The Status error kube-apiserver answers with.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            ApplyError::Conflicts(conflicts) => {
                let causes = conflicts
                    .iter()
                    .map(|c| StatusCause {
                        reason: "FieldManagerConflict".into(),
                        message: format!("conflict with {}", c.manager),
                        field: c.path.to_string(),
                    })
                    .collect();
                ApiError::apply_conflict(causes, conflict_message(conflicts))
            }
            ApplyError::InvalidManagedFields(m) => ApiError::bad_request(m.clone()),
        }
    }
}

/// Reads `metadata.managedFields` from an object.
pub fn read_managed_fields(obj: &Value) -> Result<Vec<ManagedFieldsEntry>, ApplyError> {
    let invalid = |m: String| ApplyError::InvalidManagedFields(m);
    let Some(list) = obj.pointer("/metadata/managedFields") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(invalid("metadata.managedFields must be a list".into()));
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let get = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let fields = match entry.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(v) => FieldSet::from_fields_v1(v).map_err(invalid)?,
        };
        let time = entry
            .get("time")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(ManagedFieldsEntry {
            manager: get("manager"),
            operation: get("operation"),
            api_version: get("apiVersion"),
            time,
            subresource: get("subresource"),
            fields,
        });
    }
    Ok(out)
}

/// Writes entries into `metadata.managedFields` (removing the field when there are none).
pub fn write_managed_fields(obj: &mut Value, entries: &[ManagedFieldsEntry]) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        let list = entries.iter().map(ManagedFieldsEntry::to_json).collect();
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Fields kube never tracks ownership of; built once, as every write consults it.
static IGNORED_FIELDS: LazyLock<FieldSet> = LazyLock::new(ignored_fields);

/// Fields kube never tracks ownership of.
fn ignored_fields() -> FieldSet {
    let mut s = FieldSet::new();
    let f = |n: &str| PathElement::Field(n.to_string());
    s.insert(&[f("apiVersion")]);
    s.insert(&[f("kind")]);
    for m in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[f("metadata"), f(m)]);
    }
    s
}

/// What an Apply or Update did.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOutcome {
    /// The resulting object (without `managedFields`; write them with
    /// [`write_managed_fields`]).
    pub object: Value,
    /// The new managed fields.
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

/// The request's identity and the fields the server resets (e.g. `status` on the main
/// resource), shared by [`apply`] and [`update`].
pub struct Request<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// The request's API version, e.g. `apps/v1`.
    pub api_version: &'a str,
    /// The subresource written through, or empty.
    pub subresource: &'a str,
    /// The current time, RFC 3339, recorded on the manager's entry.
    pub now: &'a str,
    /// Field paths whose changes are neither owned nor checked (kube's reset fields).
    pub ignored: &'a FieldSet,
    /// The kind's schema for list semantics (`None` treats every list as atomic).
    pub schema: Option<&'a dyn PatchSchema>,
}

/// Server-side apply of `config` by `req.manager` onto `live` (use `{}` to create).
pub fn apply(
    live: &Value,
    config: &Value,
    force: bool,
    req: &Request<'_>,
) -> Result<ApplyOutcome, ApplyError> {
    let mut managers = read_managed_fields(live)?;
    let me = ManagedFieldsEntry {
        manager: req.manager.to_string(),
        operation: "Apply".into(),
        api_version: req.api_version.to_string(),
        time: Some(req.now.to_string()),
        subresource: req.subresource.to_string(),
        fields: FieldSet::new(),
    };
    let ignored = [&*IGNORED_FIELDS, req.ignored];
    let mut merged = merge(live, config, req.schema);
    let applied = fields_of_except(config, req.schema, &ignored);
    let last = managers
        .iter()
        .find(|m| m.same_manager(&me))
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    // Fields this manager stopped applying go away unless someone else still owns them.
    let others = managers
        .iter()
        .filter(|m| !m.same_manager(&me))
        .fold(FieldSet::new(), |acc, m| acc.union(&m.fields));
    for path in last.difference(&applied).difference(&others).paths() {
        remove_path(&mut merged, &path.0);
    }
    let changes = compare(live, &merged, req.schema, &ignored);
    settle_others(&mut managers, &me, &changes, force)?;
    managers.retain(|m| !m.same_manager(&me));
    if !applied.is_empty() {
        managers.push(ManagedFieldsEntry {
            fields: applied,
            ..me
        });
    }
    strip_managed_fields(&mut merged);
    Ok(ApplyOutcome {
        object: merged,
        managed_fields: managers,
    })
}

/// Managed-fields bookkeeping for an ordinary write (create, update, patch): the writer
/// takes ownership of what it changed, others lose it.
pub fn update(live: &Value, new: &Value, req: &Request<'_>) -> Result<ApplyOutcome, ApplyError> {
    let mut object = new.clone();
    let managed_fields = update_in_place(live, &mut object, req)?;
    Ok(ApplyOutcome {
        object,
        managed_fields,
    })
}

/// [`update`] without copying the object: drops `managedFields` from `new` and returns the
/// entries to write back with [`write_managed_fields`].
pub fn update_in_place(
    live: &Value,
    new: &mut Value,
    req: &Request<'_>,
) -> Result<Vec<ManagedFieldsEntry>, ApplyError> {
    let ignored = [&*IGNORED_FIELDS, req.ignored];
    if live.as_object().is_some_and(Map::is_empty) {
        // A create: nothing is owned yet and every field of `new` is an addition, so the
        // writer owns exactly the fields it set (what the general path below computes, in one
        // walk of the object instead of several passes over field sets).
        let fields = fields_of_except(new, req.schema, &ignored);
        // Dropped after the fields were read, as the general path does: a `metadata` left
        // empty by it would otherwise count as a field.
        strip_managed_fields(new);
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        return Ok(vec![ManagedFieldsEntry {
            manager: req.manager.to_string(),
            operation: "Update".into(),
            api_version: req.api_version.to_string(),
            time: Some(req.now.to_string()),
            subresource: req.subresource.to_string(),
            fields,
        }]);
    }
    let mut managers = read_managed_fields(live)?;
    let me = ManagedFieldsEntry {
        manager: req.manager.to_string(),
        operation: "Update".into(),
        api_version: req.api_version.to_string(),
        time: Some(req.now.to_string()),
        subresource: req.subresource.to_string(),
        fields: FieldSet::new(),
    };
    let changes = compare(live, new, req.schema, &ignored);
    settle_others(&mut managers, &me, &changes, true)?;
    let mine = managers
        .iter()
        .find(|m| m.same_manager(&me))
        .map(|m| m.fields.clone())
        .unwrap_or_default()
        .difference(&changes.removed)
        .union(&changes.modified)
        .union(&changes.added);
    let position = managers.iter().position(|m| m.same_manager(&me));
    let time = if changes.is_empty() {
        position.and_then(|i| managers[i].time.clone())
    } else {
        me.time.clone()
    };
    let entry = ManagedFieldsEntry {
        fields: mine,
        time,
        ..me
    };
    match position {
        Some(i) if entry.fields.is_empty() => {
            managers.remove(i);
        }
        Some(i) => managers[i] = entry,
        None if !entry.fields.is_empty() => managers.push(entry),
        None => {}
    }
    strip_managed_fields(new);
    Ok(managers)
}

fn strip_managed_fields(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
}

/// Field-level differences between two objects.
struct Changes {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

fn compare(
    old: &Value,
    new: &Value,
    schema: Option<&dyn PatchSchema>,
    ignored: &[&FieldSet],
) -> Changes {
    // Only a top-level field whose value differs can hold a change: the paths under one equal
    // on both sides are the same in both sets and cancel out (none is added, removed or
    // modified), so such fields are not walked at all (a status write walks only `status`).
    let differs = |k: &str| old.get(k) != new.get(k);
    let before = fields_of_except_in(old, schema, ignored, differs);
    let after = fields_of_except_in(new, schema, ignored, differs);
    let mut modified = FieldSet::new();
    for p in before.intersection(&after).paths() {
        // A granular map (one whose entries are members too) changes through its entries,
        // which are compared on their own: as in structured-merge-diff, the map itself is
        // modified only when it stops or starts being one.
        let granular = before.has_descendants(&p.0) || after.has_descendants(&p.0);
        let (was, is) = (get_path(old, &p.0), get_path(new, &p.0));
        let both_maps = was.is_some_and(Value::is_object) && is.is_some_and(Value::is_object);
        if was != is && !is_list_item(&p) && !(granular && both_maps) {
            modified.insert(&p.0);
        }
    }
    Changes {
        added: after.difference(&before),
        removed: before.difference(&after),
        modified,
    }
}

/// An associative or set list item's own path: its identity, not a value that can change.
fn is_list_item(p: &FieldPath) -> bool {
    matches!(
        p.0.last(),
        Some(PathElement::Key(_) | PathElement::Value(_))
    )
}

/// Takes changed fields away from the other managers, or reports them as conflicts.
fn settle_others(
    managers: &mut Vec<ManagedFieldsEntry>,
    me: &ManagedFieldsEntry,
    changes: &Changes,
    force: bool,
) -> Result<(), ApplyError> {
    let touched = changes.modified.union(&changes.added);
    if !force {
        // (Forced, the conflicts would be dropped: they are not looked for.)
        let mut conflicts = Vec::new();
        for m in managers.iter().filter(|m| !m.same_manager(me)) {
            for path in m.fields.intersection(&touched).paths() {
                conflicts.push(Conflict {
                    manager: m.describe(),
                    path,
                });
            }
        }
        if !conflicts.is_empty() {
            conflicts.sort_by(|a, b| a.manager.cmp(&b.manager).then_with(|| a.path.cmp(&b.path)));
            return Err(ApplyError::Conflicts(conflicts));
        }
    }
    for m in managers.iter_mut().filter(|m| !m.same_manager(me)) {
        // A manager owning none of the changed fields keeps its set as it is (not rebuilt).
        if m.fields.intersects(&touched) || m.fields.intersects(&changes.removed) {
            m.fields = m.fields.difference(&touched).difference(&changes.removed);
        }
    }
    managers.retain(|m| m.same_manager(me) || !m.fields.is_empty());
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
