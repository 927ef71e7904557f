//! Field paths as kube prints them (`spec.items[0].name`), and the simple dotted JSON paths
//! of the scale subresource (`.spec.replicas`, `.status.selector`).

use serde_json::{Map, Value};

/// `path.seg`, or `seg` at the root.
pub(crate) fn child(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else {
        format!("{path}.{seg}")
    }
}

/// `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
}

/// Reads a simple dotted path (`.spec.replicas`) from `obj`; `None` when any step is missing
/// or not an object.
pub fn get_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in segments(path) {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

/// Writes `value` at a simple dotted path, creating missing objects on the way. Fails
/// (returns `false`) when a step exists but is not an object, or the path is empty.
pub fn set_path(obj: &mut Value, path: &str, value: Value) -> bool {
    let segs: Vec<&str> = segments(path).collect();
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut cur = obj;
    for seg in parents {
        let Some(map) = cur.as_object_mut() else {
            return false;
        };
        cur = map
            .entry(seg.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
    }
    match cur.as_object_mut() {
        Some(map) => {
            map.insert(last.to_string(), value);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_and_set_dotted_paths() {
        let mut o = json!({"spec": {"replicas": 3}, "status": null});
        assert_eq!(get_path(&o, ".spec.replicas"), Some(&json!(3)));
        assert_eq!(get_path(&o, ".spec.missing"), None);
        assert_eq!(get_path(&o, ".spec.replicas.deeper"), None);
        assert!(set_path(&mut o, ".status.replicas", json!(2)));
        assert!(set_path(&mut o, ".status.selector", json!("app=x")));
        assert_eq!(o["status"], json!({"replicas": 2, "selector": "app=x"}));
        assert!(!set_path(&mut o, ".spec.replicas.x", json!(1)));
        assert!(!set_path(&mut o, "", json!(1)));
        assert!(set_path(&mut o, "spec.replicas", json!(5)));
        assert_eq!(o["spec"]["replicas"], json!(5));
    }
}
