//! Strategic merge patch, ported from k8s.io/apimachinery/pkg/util/strategicpatch so that
//! list merging, element order and the `$patch`, `$retainKeys`, `$setElementOrder` and
//! `$deleteFromPrimitiveList` directives behave exactly as in kube-apiserver.

use serde_json::{Map, Value};

use super::schema::{FieldPatchMeta, PatchSchema};
use super::{PatchError, go_fmt};
use cleanup::{discard_nulls, remove_directives, sanitize, sanitize_map};
use ordering::{deduplicate_scalars, find_map_by_key, normalize_element_order, partition};

#[path = "strategic_cleanup.rs"]
mod cleanup;
#[path = "strategic_ordering.rs"]
mod ordering;

pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";

const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

pub(super) type Result<T> = std::result::Result<T, PatchError>;

/// Applies a strategic merge patch to `doc` using `schema` for list strategies and merge
/// keys. Unknown fields merge like JSON merge patch (maps merge, lists replace).
pub fn strategic_merge_patch(doc: &Value, patch: &[u8], schema: &dyn PatchSchema) -> Result<Value> {
    let patch: Value =
        serde_json::from_slice(patch).map_err(|e| PatchError::BadRequest(e.to_string()))?;
    let patch = match patch {
        Value::Object(m) => m,
        // Go decodes `null` into a nil map: a patch that changes nothing.
        Value::Null => Map::new(),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind_word(&other)
            )));
        }
    };
    let original = match doc {
        Value::Object(m) => m.clone(),
        _ => return Err(PatchError::BadRequest("invalid JSON document".into())),
    };
    merge_map(original, patch, Some(schema)).map(Value::Object)
}

fn json_kind_word(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// The dynamic type of a decoded JSON value, as Go's reflection distinguishes them (the
/// apiserver decodes integers as int64 and other numbers as float64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Null,
    Bool,
    Int,
    Float,
    String,
    List,
    Map,
}

pub(super) fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Int,
        Value::Number(_) => Kind::Float,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Map,
    }
}

fn go_type_name(v: &Value) -> &'static str {
    match kind_of(v) {
        Kind::Null => "<nil>",
        Kind::Bool => "bool",
        Kind::Int => "int64",
        Kind::Float => "float64",
        Kind::String => "string",
        Kind::List => "[]interface {}",
        Kind::Map => "map[string]interface {}",
    }
}

pub(super) fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::Internal(format!(
        "expected a {expected}, but received a {}",
        go_type_name(actual)
    ))
}

pub(super) fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt(&Value::Object(m.clone()))
    ))
}

fn bad_patch_type(t: &Value, m: &Map<String, Value>) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_fmt(t),
        go_fmt(&Value::Object(m.clone()))
    ))
}

fn field_meta<'a>(schema: Option<&'a dyn PatchSchema>, key: &str) -> FieldPatchMeta<'a> {
    schema.map(|s| s.field(key)).unwrap_or_default()
}

/// The strategy other than `retainKeys` (which only matters for the `$retainKeys` directive).
fn merge_strategy(strategies: &str) -> Result<&str> {
    let parts: Vec<&str> = if strategies.is_empty() {
        Vec::new()
    } else {
        strategies.split(',').collect()
    };
    match parts.as_slice() {
        [] | ["retainKeys"] => Ok(""),
        [one] => Ok(one),
        ["retainKeys", other] | [other, "retainKeys"] => Ok(other),
        _ => Err(PatchError::Internal(format!(
            "unexpected patch strategy: [{}]",
            parts.join(" ")
        ))),
    }
}

fn extract_key<'a>(key: &'a str, prefix: &str) -> Result<&'a str> {
    match key.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => {
            Err(PatchError::BadRequest(ERR_PRIMITIVE_LIST.into()))
        }
        _ => Err(PatchError::BadRequest(ERR_SET_ELEMENT_ORDER.into())),
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Option<&dyn PatchSchema>,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(sanitize_map(patch))
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, schema)?;

    for (key, patch_v) in patch {
        let (is_delete_list, key) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (
                true,
                extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?.to_string(),
            )
        } else {
            (false, key)
        };
        if patch_v.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let same_kind = original
            .get(&key)
            .is_some_and(|orig| kind_of(orig) == kind_of(&patch_v));
        if !same_kind {
            if !is_delete_list {
                let mut v = patch_v;
                discard_nulls(&mut v);
                match remove_directives(v) {
                    Some(v) => {
                        original.insert(key, v);
                    }
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }
        let orig_v = original
            .get_mut(&key)
            .map(Value::take)
            .unwrap_or(Value::Null);
        let merged = match (orig_v, patch_v) {
            (Value::Object(om), Value::Object(pm)) => {
                let meta = field_meta(schema, &key);
                if merge_strategy(meta.strategy)? == "replace" {
                    Value::Object(sanitize_map(pm))
                } else {
                    Value::Object(merge_map(om, pm, meta.schema)?)
                }
            }
            (Value::Array(ol), Value::Array(pl)) => {
                let meta = field_meta(schema, &key);
                let strategy = merge_strategy(meta.strategy)?;
                Value::Array(merge_slice_handler(ol, pl, meta, strategy, is_delete_list)?.0)
            }
            (_, scalar) => scalar,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRequest(ERR_RETAIN_KEYS.into()));
    };
    let retained = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !retained(k) {
            return Err(PatchError::BadRequest(ERR_RETAIN_KEYS.into()));
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

fn list_field(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type("[]interface {}", other)),
    }
}

/// Handles `$setElementOrder/<list>` keys: merges the list and orders it as requested.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Option<&dyn PatchSchema>,
) -> Result<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_arg_type("[]interface {}", &order));
        };
        let list_key = extract_key(&key, SET_ELEMENT_ORDER)?.to_string();
        let original_list = list_field(original, &list_key)?;
        let patch_list = list_field(patch, &list_key)?;
        let meta = field_meta(schema, &list_key);
        let strategy = merge_strategy(meta.strategy)?;
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or_default(),
            &order,
            meta.merge_key,
        )?;
        let (merged, aliased) = match (&original_list, &patch_list) {
            (Some(o), None) => (o.clone(), None),
            (None, Some(p)) => match remove_directives(Value::Array(p.clone())) {
                Some(Value::Array(v)) => (v, None),
                _ => continue,
            },
            (Some(o), Some(p)) => merge_slice_handler(o.clone(), p.clone(), meta, strategy, false)?,
            (None, None) => continue,
        };
        let (patch_items, server_only) = partition(merged, &order, meta.merge_key)?;
        let original_list = original_list.unwrap_or_default();
        let kind =
            slice_element_type(&[&original_list, patch_list.as_deref().unwrap_or_default()])?;
        let server_order = aliased.unwrap_or(original_list);
        let both = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &server_order,
            meta.merge_key,
            kind,
        )?;
        original.insert(list_key.clone(), Value::Array(both));
        patch.shift_remove(&list_key);
    }
    Ok(())
}

fn validate_patch_with_set_order_list(
    patch: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<()> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let non_delete = if merge_key.is_empty() {
        patch.to_vec()
    } else {
        extract_to_delete_items(patch.to_vec())?.0
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < order.len() {
        if non_delete[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &order[si], merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_fmt(&Value::Array(patch.to_vec())),
            go_fmt(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left
        .as_object()
        .ok_or_else(|| bad_arg_type("map[string]interface {}", left))?;
    let r = right
        .as_object()
        .ok_or_else(|| bad_arg_type("map[string]interface {}", right))?;
    let lv = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

pub(super) fn extract_to_delete_items(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for v in list {
        let m = v
            .as_object()
            .ok_or_else(|| bad_arg_type("map[string]interface {}", &v))?;
        if m.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldPatchMeta<'_>,
    strategy: &str,
    is_delete_list: bool,
) -> Result<(Vec<Value>, Option<Vec<Value>>)> {
    if strategy == "merge" || is_delete_list {
        merge_slice(original, patch, meta, is_delete_list)
    } else {
        Ok((patch.into_iter().map(sanitize).collect(), None))
    }
}

/// Merges two lists. Besides the result, returns what the caller's original list looks like
/// afterwards: kube deletes and appends in place, so with `$setElementOrder` the "live
/// order" it consults is the original array as these edits left it.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldPatchMeta<'_>,
    is_delete_list: bool,
) -> Result<(Vec<Value>, Option<Vec<Value>>)> {
    if original.is_empty() && patch.is_empty() {
        return Ok((original, None));
    }
    let merge_key = meta.merge_key;
    let kind = slice_element_type(&[&original, &patch])?;
    let parts = if kind != Kind::Map {
        if is_delete_list {
            let kept = original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect();
            return Ok((kept, None));
        }
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        (original, patch, deduplicate_scalars(both), None)
    } else {
        if merge_key.is_empty() {
            let name = meta.schema.map(|s| s.name()).unwrap_or("");
            return Err(PatchError::Internal(format!(
                "cannot merge lists without merge key for {name}"
            )));
        }
        let special = merge_slice_with_special_elements(original, patch, merge_key)?;
        let (original, patch, mut aliased) = special;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, merge_key, meta.schema)?;
        if let Some(view) = aliased.as_mut() {
            // Appends land in the original array while its capacity (its length) lasts.
            for (i, item) in merged.iter().enumerate().skip(original.len()) {
                if let Some(slot) = view.get_mut(i) {
                    *slot = item.clone();
                }
            }
        }
        (original, patch, merged, aliased)
    };
    let (original, patch, merged, aliased) = parts;
    let (patch_items, server_only) = partition(merged, &patch, merge_key)?;
    let merged =
        normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)?;
    Ok((merged, aliased))
}

fn slice_element_type(lists: &[&[Value]]) -> Result<Kind> {
    let mut prev: Option<Kind> = None;
    for list in lists {
        for v in list.iter() {
            let kind = kind_of(v);
            match prev {
                None if kind == Kind::List => {
                    return Err(PatchError::Unprocessable(
                        "lists of lists are not supported".into(),
                    ));
                }
                None => prev = Some(kind),
                Some(p) if p != kind => {
                    let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                    return Err(PatchError::Internal(format!(
                        "list element types are not identical: {}",
                        go_fmt(&Value::Array(all))
                    )));
                }
                Some(_) => {}
            }
        }
    }
    prev.ok_or_else(|| PatchError::Internal("no elements in any of the given slices".into()))
}

/// The original list after deletions, the plain patch items, and the aliased original array.
type SpecialElements = (Vec<Value>, Vec<Value>, Option<Vec<Value>>);

/// Applies `$patch: delete` and `$patch: replace` list items. Also returns the original
/// array as Go's in-place deletion leaves it (`None` once a replace makes a new list).
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<SpecialElements> {
    let mut array = original.clone();
    let mut plain = Vec::new();
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", &v));
        };
        match m.get(DIRECTIVE) {
            None => plain.push(v),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    let merge_value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
                    while let Some(i) = find_map_by_key(&original, merge_key, merge_value)? {
                        // `append(s[:i], s[i+1:]...)` shifts left and leaves the last slot.
                        let len = original.len();
                        for j in i..len - 1 {
                            array[j] = array[j + 1].clone();
                        }
                        original.remove(i);
                    }
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::Internal(
                        "merging lists cannot yet be specified in the patch".into(),
                    ));
                }
                _ => return Err(bad_patch_type(d, m)),
            },
        }
    }
    if replace {
        Ok((plain, Vec::new(), None))
    } else {
        Ok((original, plain, Some(array)))
    }
}

fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Option<&dyn PatchSchema>,
) -> Result<Vec<Value>> {
    for v in patch {
        let m = v
            .as_object()
            .ok_or_else(|| bad_arg_type("map[string]interface {}", v))?;
        let merge_value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
        match find_map_by_key(&original, merge_key, merge_value)? {
            Some(i) => {
                let existing = match original[i].take() {
                    Value::Object(o) => o,
                    _ => Map::new(),
                };
                original[i] = Value::Object(merge_map(existing, m.clone(), schema)?);
            }
            None => original.push(sanitize(v.clone())),
        }
    }
    Ok(original)
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
