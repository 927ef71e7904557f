//! The object-shape side of server-side apply: which fields an object sets, merging an
//! applied configuration into a live object, and removing fields by path. List semantics
//! come from the strategic-merge schema (merge key → associative list, merge of scalars →
//! set, anything else atomic), with kube's extra key fields for ports.

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, PathElement};
use crate::patch::{FieldPatchMeta, PatchSchema};

/// How a list is merged and tracked.
enum ListKind {
    Atomic,
    Set,
    /// Key fields and their defaults.
    Map(Vec<(String, Option<&'static str>)>),
}

fn list_kind(parent: Option<&dyn PatchSchema>, meta: &FieldPatchMeta<'_>, field: &str) -> ListKind {
    if !meta.strategy.split(',').any(|s| s == "merge") {
        return ListKind::Atomic;
    }
    if meta.merge_key.is_empty() {
        return ListKind::Set;
    }
    let parent = parent.map(|p| p.name()).unwrap_or("");
    match (parent, field) {
        ("Container" | "EphemeralContainer", "ports") => ListKind::Map(vec![
            ("containerPort".into(), None),
            ("protocol".into(), Some("TCP")),
        ]),
        ("ServiceSpec", "ports") => ListKind::Map(vec![
            ("port".into(), None),
            ("protocol".into(), Some("TCP")),
        ]),
        ("PodSpec", "topologySpreadConstraints") => ListKind::Map(vec![
            ("topologyKey".into(), None),
            ("whenUnsatisfiable".into(), None),
        ]),
        _ => ListKind::Map(vec![(meta.merge_key.to_string(), None)]),
    }
}

/// Fields of Go map type (rather than struct type) in the built-in kinds.
fn is_map_field(parent: Option<&dyn PatchSchema>, field: &str) -> bool {
    let parent = parent.map(|p| p.name()).unwrap_or("");
    match field {
        "labels" | "annotations" | "data" | "binaryData" | "stringData" | "nodeSelector"
        | "matchLabels" | "limits" | "requests" | "capacity" | "allocatable" | "parameters" => true,
        "selector" => parent == "ServiceSpec",
        _ => false,
    }
}

/// Structs marked `+structType=atomic`: owned as a whole.
fn is_atomic_struct(parent: Option<&dyn PatchSchema>, field: &str) -> bool {
    let parent = parent.map(|p| p.name()).unwrap_or("");
    field == "selector" && matches!(parent, "WorkloadSpec" | "DeploymentSpec")
}

fn field_meta<'a>(schema: Option<&'a dyn PatchSchema>, key: &str) -> FieldPatchMeta<'a> {
    schema.map(|s| s.field(key)).unwrap_or_default()
}

fn item_key(item: &Value, keys: &[(String, Option<&'static str>)]) -> Option<PathElement> {
    let obj = item.as_object()?;
    let mut fields = Vec::with_capacity(keys.len());
    for (name, default) in keys {
        match (obj.get(name), default) {
            (Some(v), _) => fields.push((name.clone(), v.clone())),
            (None, Some(d)) => fields.push((name.clone(), Value::from(*d))),
            (None, None) => {}
        }
    }
    if fields.is_empty() {
        return None;
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Some(PathElement::Key(fields))
}

/// The set of fields `obj` sets (structured-merge-diff's `ToFieldSet`).
pub fn fields_of(obj: &Value, schema: Option<&dyn PatchSchema>) -> FieldSet {
    fields_of_except(obj, schema, &[])
}

/// `fields_of(obj, schema)` without the paths that are in one of `except` or lie below one
/// (what `without_subtrees` of each would leave), computed in one walk: an excluded subtree is
/// never visited, and no intermediate set is built and filtered, which is what every write's
/// managed-fields bookkeeping used to spend its time on.
pub fn fields_of_except(
    obj: &Value,
    schema: Option<&dyn PatchSchema>,
    except: &[&FieldSet],
) -> FieldSet {
    fields_of_except_in(obj, schema, except, |_| true)
}

/// [`fields_of_except`] of only the top-level fields `keep` accepts. The paths under a field
/// depend on that field's value (and the schema) alone, so this is exactly the whole set's
/// paths under those fields; the others are never visited.
pub fn fields_of_except_in(
    obj: &Value,
    schema: Option<&dyn PatchSchema>,
    except: &[&FieldSet],
    keep: impl Fn(&str) -> bool,
) -> FieldSet {
    let mut out = FieldSet::new();
    if let Value::Object(m) = obj {
        let mut walk = Walk {
            path: Vec::new(),
            out: &mut out,
            except,
        };
        for (k, v) in m.iter().filter(|(k, _)| keep(k)) {
            walk.field(k, v, schema);
        }
    }
    out
}

/// The state of one `fields_of_except` walk.
struct Walk<'a> {
    path: Vec<PathElement>,
    out: &'a mut FieldSet,
    except: &'a [&'a FieldSet],
}

impl Walk<'_> {
    /// Steps into `element`; false (and nothing pushed) when the path it makes is excluded,
    /// so that nothing at or below it is collected. Ancestors were checked on the way down.
    fn enter(&mut self, element: PathElement) -> bool {
        self.path.push(element);
        if self.except.iter().any(|e| e.contains(&self.path)) {
            self.path.pop();
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    fn insert(&mut self) {
        self.out.insert(&self.path);
    }

    fn map(&mut self, m: &Map<String, Value>, schema: Option<&dyn PatchSchema>) {
        for (k, v) in m {
            self.field(k, v, schema);
        }
    }

    /// Field `k` (with value `v`) of a map whose schema is `schema`.
    fn field(&mut self, k: &str, v: &Value, schema: Option<&dyn PatchSchema>) {
        if !self.enter(PathElement::Field(k.to_string())) {
            return;
        }
        let meta = field_meta(schema, k);
        self.value(v, schema, &meta, k);
        self.leave();
    }

    fn value(
        &mut self,
        v: &Value,
        parent: Option<&dyn PatchSchema>,
        meta: &FieldPatchMeta<'_>,
        field: &str,
    ) {
        match v {
            Value::Object(_) if is_atomic_struct(parent, field) => self.insert(),
            Value::Object(m) if !m.is_empty() && meta.strategy != "replace" => {
                // A map (as opposed to a struct) is itself a member of the set, as in kube's
                // `f:labels: {".": {}, "f:app": {}}`.
                if is_map_field(parent, field) {
                    self.insert();
                }
                self.map(m, meta.schema);
            }
            Value::Array(items) if !items.is_empty() => match list_kind(parent, meta, field) {
                ListKind::Atomic => self.insert(),
                ListKind::Set => {
                    self.insert();
                    for item in items {
                        if self.enter(PathElement::Value(item.clone())) {
                            self.insert();
                            self.leave();
                        }
                    }
                }
                ListKind::Map(keys) => {
                    for item in items {
                        let Some(key) = item_key(item, &keys) else {
                            continue;
                        };
                        if !self.enter(key) {
                            continue;
                        }
                        self.insert();
                        if let Value::Object(m) = item {
                            self.map(m, meta.schema);
                        }
                        self.leave();
                    }
                }
            },
            _ => self.insert(),
        }
    }
}

/// Merges an applied configuration into the live object: maps merge, associative lists
/// merge item by item, sets union, everything else is replaced; `null` removes a field.
pub fn merge(live: &Value, config: &Value, schema: Option<&dyn PatchSchema>) -> Value {
    let meta = FieldPatchMeta {
        schema,
        ..FieldPatchMeta::default()
    };
    merge_value(Some(live), config, None, &meta, "")
}

fn merge_value(
    live: Option<&Value>,
    config: &Value,
    parent: Option<&dyn PatchSchema>,
    meta: &FieldPatchMeta<'_>,
    field: &str,
) -> Value {
    match (live, config) {
        (Some(Value::Object(l)), Value::Object(c)) if meta.strategy != "replace" => {
            let mut out = l.clone();
            for (k, cv) in c {
                if cv.is_null() {
                    out.shift_remove(k);
                    continue;
                }
                let m = field_meta(meta.schema, k);
                let merged = merge_value(l.get(k), cv, meta.schema, &m, k);
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Some(Value::Array(l)), Value::Array(c)) => match list_kind(parent, meta, field) {
            ListKind::Atomic => config.clone(),
            ListKind::Set => {
                let mut out = l.clone();
                out.extend(c.iter().filter(|v| !l.contains(v)).cloned());
                Value::Array(out)
            }
            ListKind::Map(keys) => {
                let mut out = l.clone();
                let item_meta = FieldPatchMeta {
                    schema: meta.schema,
                    ..FieldPatchMeta::default()
                };
                for item in c {
                    let key = item_key(item, &keys);
                    let pos = key.as_ref().and_then(|k| {
                        out.iter()
                            .position(|o| item_key(o, &keys).as_ref() == Some(k))
                    });
                    match pos {
                        Some(i) => out[i] = merge_value(Some(&out[i]), item, None, &item_meta, ""),
                        None => out.push(strip_nulls(item.clone())),
                    }
                }
                Value::Array(out)
            }
        },
        _ => strip_nulls(config.clone()),
    }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The value at `path`, if the object has one.
pub fn get_path<'a>(obj: &'a Value, path: &[PathElement]) -> Option<&'a Value> {
    let mut cur = obj;
    for pe in path {
        cur = match pe {
            PathElement::Field(name) => cur.get(name)?,
            PathElement::Index(i) => cur.get(*i)?,
            PathElement::Value(v) => cur.as_array()?.iter().find(|x| *x == v)?,
            PathElement::Key(fields) => cur
                .as_array()?
                .iter()
                .find(|item| key_matches(item, fields))?,
        };
    }
    Some(cur)
}

fn key_matches(item: &Value, fields: &[(String, Value)]) -> bool {
    fields.iter().all(|(k, v)| match item.get(k) {
        Some(x) => x == v,
        // A defaulted key field (a port's protocol) may be absent from the object.
        None => k == "protocol" && v.as_str() == Some("TCP"),
    })
}

/// Removes the field or list item at `path`, if present.
pub fn remove_path(obj: &mut Value, path: &[PathElement]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for pe in parent_path {
        let next = match pe {
            PathElement::Field(name) => cur.get_mut(name),
            PathElement::Index(i) => cur.get_mut(*i),
            PathElement::Value(v) => cur
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|x| **x == *v)),
            PathElement::Key(fields) => cur
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|item| key_matches(item, fields))),
        };
        let Some(next) = next else {
            return;
        };
        cur = next;
    }
    match (last, cur) {
        (PathElement::Field(name), Value::Object(m)) => {
            m.shift_remove(name);
        }
        (PathElement::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
        }
        (PathElement::Value(v), Value::Array(a)) => a.retain(|x| x != v),
        (PathElement::Key(fields), Value::Array(a)) => a.retain(|item| !key_matches(item, fields)),
        _ => {}
    }
}
