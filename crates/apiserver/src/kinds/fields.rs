//! Reading the fields of stored objects for table cells, with kubectl's placeholders.

use apimachinery::selector::LabelSelector;
use serde_json::Value;

pub(super) use crate::object::at as s;

/// The string at `path`, or `default`.
pub(super) fn str_or<'a>(v: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    s(v, path).as_str().unwrap_or(default)
}

/// The integer at `path`, or 0.
pub(super) fn int_of(v: &Value, path: &[&str]) -> i64 {
    s(v, path).as_i64().unwrap_or(0)
}

/// How many entries the object or array at `path` has.
pub(super) fn count(v: &Value, path: &[&str]) -> i64 {
    match s(v, path) {
        Value::Object(m) => m.len() as i64,
        Value::Array(a) => a.len() as i64,
        _ => 0,
    }
}

/// The NAME cell.
pub fn name(obj: &Value) -> Value {
    Value::String(str_or(obj, &["metadata", "name"], "").to_string())
}

/// The CONTAINERS and IMAGES cells of a pod spec.
pub(super) fn containers_images(spec: &Value) -> (String, String) {
    let cs = s(spec, &["containers"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let images: Vec<&str> = cs
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect();
    (names.join(","), images.join(","))
}

/// A `metav1.LabelSelector` as kubectl's SELECTOR column shows it (`FormatLabelSelector`):
/// requirements sorted by key, `<none>` when empty, `<error>` when invalid.
pub(super) fn label_selector(sel: &Value) -> String {
    match LabelSelector::from_label_selector_json(sel) {
        Ok(s) if s.is_empty() || s.is_nothing() => "<none>".into(),
        Ok(s) => s.to_string(),
        Err(_) => "<error>".into(),
    }
}

/// A map of labels as kubectl shows it (`labels.FormatLabels`): `k=v` sorted by key,
/// `<none>` when empty.
pub(super) fn label_set(set: &Value) -> String {
    let pairs = label_pairs(set);
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs
    }
}

/// A map of labels as a selector string (`labels.SelectorFromSet(set).String()`): `k=v`
/// sorted by key, empty when there are none.
pub(super) fn label_pairs(set: &Value) -> String {
    let mut parts: Vec<String> = set
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    parts.sort();
    parts.join(",")
}

/// Access modes in kubectl's short form (`RWO,ROX`).
pub(super) fn access_modes(v: &Value) -> String {
    let modes: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    modes
        .iter()
        .map(|m| match *m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What the pod's STATUS column shows (kubectl's printPod logic, reduced to what the
/// embedded cluster produces).
pub fn pod_status(obj: &Value) -> String {
    let mut reason = str_or(obj, &["status", "phase"], "Pending").to_string();
    if let Some(r) = s(obj, &["status", "reason"]).as_str() {
        reason = r.to_string();
    }
    let statuses = s(obj, &["status", "containerStatuses"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    for cs in statuses.iter().rev() {
        if let Some(w) = s(cs, &["state", "waiting", "reason"]).as_str() {
            reason = w.to_string();
        } else if let Some(t) = s(cs, &["state", "terminated", "reason"]).as_str() {
            reason = t.to_string();
        } else if s(cs, &["state", "terminated"]).is_object() {
            let code = int_of(cs, &["state", "terminated", "exitCode"]);
            reason = format!("ExitCode:{code}");
        }
    }
    if s(obj, &["metadata", "deletionTimestamp"]).is_string() {
        reason = "Terminating".into();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_read_as_kubectl_prints_them() {
        assert_eq!(label_selector(&json!({})), "<none>");
        assert_eq!(
            label_selector(&json!({"matchLabels": {"b": "2", "a": "1"}})),
            "a=1,b=2"
        );
        assert_eq!(
            label_selector(&json!({"matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "gone", "operator": "DoesNotExist"}
            ]})),
            "!gone,tier in (api,web)"
        );
        assert_eq!(label_set(&json!({"z": "1", "a": "2"})), "a=2,z=1");
        assert_eq!(label_set(&json!(null)), "<none>");
    }
}
