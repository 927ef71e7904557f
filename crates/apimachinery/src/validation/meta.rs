//! `ObjectMeta` validation on create and update (k8s.io/apimachinery/pkg/api/validation).

use serde_json::{Map, Value};

use super::FieldError;
use super::names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_path_segment_name, is_valid_path_segment_prefix,
};

/// Total size limit of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Which syntax a kind's object names must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Subdomain,
    /// RFC 1123 label (namespaces and a few others).
    Label,
    /// RFC 1035 label (services).
    Dns1035Label,
    /// Anything that is a valid URL path segment (RBAC objects, CRD custom resources…).
    PathSegment,
}

impl NameRule {
    /// Runs the rule; `prefix` is set for `generateName`, which gets a suffix appended later.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && self != NameRule::PathSegment {
            masked = mask_trailing_dash(name);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Subdomain => is_dns1123_subdomain(name),
            NameRule::Label => is_dns1123_label(name),
            NameRule::Dns1035Label => is_dns1035_label(name),
            NameRule::PathSegment if prefix => is_valid_path_segment_prefix(name),
            NameRule::PathSegment => is_valid_path_segment_name(name),
        }
    }
}

/// kube's `maskTrailingDash`, including its quirk of dropping two characters before
/// appending `a`.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            format!("{}a", &name[..cut])
        } else {
            // Go cuts the byte string mid-character, leaving an invalid (so rejected) byte;
            // U+FFFD is rejected by every name rule just the same.
            let start = (0..cut)
                .rev()
                .find(|i| name.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}\u{fffd}a", &name[..start])
        }
    } else {
        name.to_string()
    }
}

fn str_field<'a>(meta: &'a Map<String, Value>, key: &str) -> &'a str {
    meta.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Validates the `metadata` of an object being created (after `generateName` expansion).
pub fn validate_object_meta(
    meta: &Value,
    namespaced: bool,
    name_rule: NameRule,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(m) = meta.as_object() else {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
        return errs;
    };
    let generate_name = str_field(m, "generateName");
    if !generate_name.is_empty() {
        for msg in name_rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                generate_name,
                &msg,
            ));
        }
    }
    let name = str_field(m, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in name_rule.check(name, false) {
            errs.push(FieldError::invalid("metadata.name", name, &msg));
        }
    }
    let namespace = str_field(m, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for msg in NameRule::Label.check(namespace, false) {
                errs.push(FieldError::invalid("metadata.namespace", namespace, &msg));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(generation) = m.get("generation").and_then(Value::as_i64)
        && generation < 0
    {
        errs.push(FieldError::invalid(
            "metadata.generation",
            generation,
            "must be greater than or equal to 0",
        ));
    }
    validate_common(m, &mut errs);
    errs.extend(validate_finalizers(m.get("finalizers")));
    errs
}

/// Checks shared by create and update: labels, annotations, owner references.
fn validate_common(m: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    errs.extend(validate_labels(m.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        m.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(m.get("ownerReferences")));
}

/// Validates a label map (keys are qualified names, values label values).
pub fn validate_labels(labels: Option<&Value>, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(labels) = labels.filter(|v| !v.is_null()) else {
        return errs;
    };
    let Some(map) = labels.as_object() else {
        errs.push(FieldError::type_invalid(
            field,
            labels.clone(),
            "must be of type object",
        ));
        return errs;
    };
    for (k, v) in map {
        for msg in is_qualified_name(k) {
            errs.push(FieldError::invalid(field, k.as_str(), &msg));
        }
        match v {
            Value::String(v) => {
                for msg in is_valid_label_value(v) {
                    errs.push(FieldError::invalid(field, v.as_str(), &msg));
                }
            }
            other => errs.push(FieldError::type_invalid(
                &format!("{field}.{k}"),
                other.clone(),
                "must be of type string",
            )),
        }
    }
    errs
}

/// Validates an annotation map (case-insensitive qualified-name keys, 256 KiB in total).
pub fn validate_annotations(annotations: Option<&Value>, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(annotations) = annotations.filter(|v| !v.is_null()) else {
        return errs;
    };
    let Some(map) = annotations.as_object() else {
        errs.push(FieldError::type_invalid(
            field,
            annotations.clone(),
            "must be of type object",
        ));
        return errs;
    };
    let mut total = 0usize;
    for (k, v) in map {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(field, k.as_str(), &msg));
        }
        match v {
            Value::String(v) => total += k.len() + v.len(),
            other => errs.push(FieldError::type_invalid(
                &format!("{field}.{k}"),
                other.clone(),
                "must be of type string",
            )),
        }
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            field,
            Some(TOTAL_ANNOTATION_SIZE_LIMIT),
        ));
    }
    errs
}

fn validate_owner_references(refs: Option<&Value>) -> Vec<FieldError> {
    const FIELD: &str = "metadata.ownerReferences";
    let mut errs = Vec::new();
    let Some(refs) = refs.filter(|v| !v.is_null()) else {
        return errs;
    };
    let Some(list) = refs.as_array() else {
        errs.push(FieldError::type_invalid(
            FIELD,
            refs.clone(),
            "must be of type array",
        ));
        return errs;
    };
    let mut first_controller: Option<String> = None;
    for r in list {
        let get = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        let (api_version, kind, name) = (get("apiVersion"), get("kind"), get("name"));
        let (group, version) = split_api_version(api_version);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &format!("{FIELD}.apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                &format!("{FIELD}.kind"),
                kind,
                "kind must not be empty",
            ));
        }
        if name.is_empty() {
            errs.push(FieldError::invalid(
                &format!("{FIELD}.name"),
                name,
                "name must not be empty",
            ));
        }
        if get("uid").is_empty() {
            errs.push(FieldError::invalid(
                &format!("{FIELD}.uid"),
                "",
                "uid must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                FIELD,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    FIELD,
                    refs.clone(),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// Splits `group/version` as `schema.ParseGroupVersion`; an unparsable value has no version.
fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        None => ("", api_version),
        Some((_, rest)) if rest.contains('/') => ("", ""),
        Some((group, version)) => (group, version),
    }
}

const FINALIZER_ORPHAN: &str = "orphan";
const FINALIZER_DELETE_DEPENDENTS: &str = "foregroundDeletion";

fn validate_finalizers(finalizers: Option<&Value>) -> Vec<FieldError> {
    const FIELD: &str = "metadata.finalizers";
    let mut errs = Vec::new();
    let Some(finalizers) = finalizers.filter(|v| !v.is_null()) else {
        return errs;
    };
    let Some(list) = finalizers.as_array() else {
        errs.push(FieldError::type_invalid(
            FIELD,
            finalizers.clone(),
            "must be of type array",
        ));
        return errs;
    };
    let (mut orphan, mut foreground) = (false, false);
    for f in list {
        let Some(name) = f.as_str() else {
            errs.push(FieldError::type_invalid(
                FIELD,
                f.clone(),
                "must be of type string",
            ));
            continue;
        };
        for msg in is_qualified_name(name) {
            errs.push(FieldError::invalid(FIELD, name, &msg));
        }
        orphan |= name == FINALIZER_ORPHAN;
        foreground |= name == FINALIZER_DELETE_DEPENDENTS;
    }
    if orphan && foreground {
        errs.push(FieldError::invalid(
            FIELD,
            finalizers.clone(),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Validates `metadata` on update. Fill in `resourceVersion` before calling for
/// unconditional updates: kube requires it (`must be specified for an update`).
pub fn validate_update_object_meta(old: &Value, new: &Value) -> Vec<FieldError> {
    let empty = Map::new();
    let old_m = old.as_object().unwrap_or(&empty);
    let new_m = new.as_object().unwrap_or(&empty);
    let mut errs = Vec::new();
    if old_m.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_f = string_list(old_m.get("finalizers"));
        let mut extra: Vec<&str> = string_list(new_m.get("finalizers"))
            .into_iter()
            .filter(|f| !old_f.contains(f))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            let quoted: Vec<String> = extra.iter().map(|f| crate::go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            ));
        }
    }
    let rv = str_field(new_m, "resourceVersion");
    if rv.is_empty() {
        errs.push(FieldError::invalid(
            "metadata.resourceVersion",
            rv,
            "must be specified for an update",
        ));
    }
    let generation =
        |m: &Map<String, Value>| m.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if generation(new_m) < generation(old_m) {
        errs.push(FieldError::invalid(
            "metadata.generation",
            generation(new_m),
            "must not be decremented",
        ));
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let (o, n) = (normalized(old_m.get(key)), normalized(new_m.get(key)));
        if o != n {
            let shown = match (key, n) {
                ("name" | "namespace" | "uid", None) => Value::from(""),
                (_, n) => n.cloned().unwrap_or(Value::Null),
            };
            errs.push(FieldError::invalid(
                &format!("metadata.{key}"),
                shown,
                "field is immutable",
            ));
        }
    }
    validate_common(new_m, &mut errs);
    errs
}

/// Treats absent, null and (for strings) empty alike, as Go's zero values are.
fn normalized(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null() && v.as_str() != Some(""))
}

fn string_list(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
