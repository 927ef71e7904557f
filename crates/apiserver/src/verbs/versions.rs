//! Objects between the version they are stored in and the version a request names. Custom
//! resources change only `apiVersion` (conversion strategy `None`, `crd::in_version`); a
//! built-in kind served at several versions with different fields (HorizontalPodAutoscaler)
//! is stored in one and converted by its kind (`Kind::stored_form`, `Kind::served_form`):
//! requests are read, patched, defaulted and validated in the version they name, and the
//! object is converted to the stored version only when it is written.

use std::borrow::Cow;

use serde_json::Value;

use crate::registry::Resource;

/// A stored object's bytes as served at `res`'s version; bytes already there are returned as
/// they are, never decoded.
pub fn served_bytes(res: &Resource, stored: &bytes::Bytes) -> bytes::Bytes {
    if res.custom {
        return crate::crd::in_version(res, stored);
    }
    kind_converted(res, stored).map_or_else(|| stored.clone(), bytes::Bytes::from)
}

/// A built-in kind's stored bytes converted to `res`'s version; `None` when they are already
/// there, the kind does not convert, or the bytes do not read.
fn kind_converted(res: &Resource, stored: &[u8]) -> Option<Vec<u8>> {
    if !res.rules.converts() || in_version(res, stored) {
        return None;
    }
    let obj = serde_json::from_slice::<Value>(stored).ok()?;
    serde_json::to_vec(&served(res, obj)).ok()
}

/// The bytes a `PartialObjectMetadata` is cut from: a built-in kind's conversion can change
/// metadata (a v1 HPA carries what v1 cannot hold in annotations), so such an object is
/// converted first, as kube-apiserver converts before it keeps only the metadata; anything
/// else is cut from the stored bytes as they are (a custom resource's versions differ only
/// in `apiVersion`).
pub fn metadata_source<'a>(res: &Resource, stored: &'a [u8]) -> Cow<'a, [u8]> {
    if res.custom {
        return Cow::Borrowed(stored);
    }
    kind_converted(res, stored).map_or(Cow::Borrowed(stored), Cow::Owned)
}

/// The top-level `apiVersion` of a stored object, read without building the rest (a search
/// for the text would also find managedFields entries of other versions).
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(rename = "apiVersion", borrow)]
    api_version: Option<std::borrow::Cow<'a, str>>,
}

/// Whether stored bytes are at `res`'s version.
pub fn in_version(res: &Resource, stored: &[u8]) -> bool {
    serde_json::from_slice::<Head>(stored)
        .is_ok_and(|h| h.api_version.as_deref() == Some(res.api_version().as_str()))
}

/// A stored object as served at `res`'s version.
pub fn served(res: &Resource, mut obj: Value) -> Value {
    if res.custom {
        if let Some(o) = obj.as_object_mut() {
            o.insert("apiVersion".into(), Value::String(res.api_version()));
        }
        return obj;
    }
    res.rules.served_form(obj)
}

/// [`served`] for an object that may already be at `res`'s version, borrowed when no kind
/// conversion applies.
pub fn served_ref<'a>(res: &Resource, obj: &'a Value) -> Cow<'a, Value> {
    if res.rules.converts() {
        Cow::Owned(res.rules.served_form(obj.clone()))
    } else {
        Cow::Borrowed(obj)
    }
}

/// Whether generation-bumping fields differ between two objects at `res`'s version, compared
/// in the stored version (a v1 HPA's metrics live in an annotation).
pub fn spec_differs(
    res: &Resource,
    old: &Value,
    new: &Value,
    differ: fn(&Value, &Value) -> bool,
) -> bool {
    if !res.rules.converts() {
        return differ(old, new);
    }
    let stored = |v: &Value| res.rules.stored_form(v.clone());
    differ(&stored(old), &stored(new))
}

/// The object a write stores, from its form at `res`'s version. What the write's scope may
/// not change is kept from the stored object `current` (a main-resource write keeps the
/// status, a status write the rest but metadata), as kube's update strategies do on its
/// internal object.
pub fn to_store(
    res: &Resource,
    current: Option<&Value>,
    new: Value,
    scope: crate::write::UpdateScope,
) -> Value {
    if !res.rules.converts() {
        return new;
    }
    let mut new = res.rules.stored_form(new);
    let (Some(old), Some(n)) = (current, new.as_object_mut()) else {
        return new;
    };
    let old = res.rules.stored_form(old.clone());
    let Some(old) = old.as_object() else {
        return new;
    };
    match scope {
        crate::write::UpdateScope::Main if res.status => {
            match old.get("status") {
                Some(s) => n.insert("status".into(), s.clone()),
                None => n.shift_remove("status"),
            };
        }
        crate::write::UpdateScope::Status => {
            let mut merged = old.clone();
            for k in ["metadata", "status"] {
                match n.get(k) {
                    Some(v) => merged.insert(k.into(), v.clone()),
                    None => merged.shift_remove(k),
                };
            }
            *n = merged;
        }
        crate::write::UpdateScope::Main => {}
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{NONE, spec};

    #[test]
    fn the_stored_version_is_the_top_level_one_not_a_managed_fields_entry() {
        let res = Resource::new(spec("example.com", "v1", "widgets", "Widget"), &NONE);
        let stored = br#"{"apiVersion":"example.com/v2","metadata":{"managedFields":[{"manager":"a","apiVersion":"example.com/v1"}]}}"#;
        assert!(!in_version(&res, stored));
        assert!(in_version(
            &res,
            br#"{"metadata":{},"apiVersion":"example.com/v1"}"#
        ));
        assert!(!in_version(&res, b"not json"));
    }

    fn hpa(version: &str) -> Resource {
        let kind = crate::kinds::BUILTIN
            .iter()
            .find(|k| k.spec().plural == "horizontalpodautoscalers" && k.spec().version == version)
            .expect("HPA kind");
        Resource::new(kind.spec(), *kind)
    }

    /// A write at v1 is stored at v2; its scope decides what comes from the stored object.
    #[test]
    fn a_v1_write_is_stored_at_v2_keeping_what_its_scope_may_not_change() {
        let stored = serde_json::json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"maxReplicas": 3, "metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"},
                "target": {"type": "AverageValue", "averageValue": "1"}}}]},
            "status": {"desiredReplicas": 2, "conditions": [{"type": "AbleToScale", "status": "True"}]}});
        let res = hpa("v1");
        let mut view = served(&res, stored.clone());
        assert_eq!(view["apiVersion"], "autoscaling/v1");
        // A client's spec change with the status annotations tampered with: status is kept.
        view["spec"]["maxReplicas"] = 5.into();
        view["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"] = "[]".into();
        let main = to_store(
            &res,
            Some(&stored),
            view.clone(),
            crate::write::UpdateScope::Main,
        );
        assert_eq!(main["apiVersion"], "autoscaling/v2");
        assert_eq!(main["spec"]["maxReplicas"], 5);
        assert_eq!(main["spec"]["metrics"], stored["spec"]["metrics"]);
        assert_eq!(main["status"], stored["status"]);
        assert!(main["metadata"].get("annotations").is_none(), "{main}");
        // A status write changes only status (and metadata).
        view["status"]["desiredReplicas"] = 4.into();
        let status = to_store(&res, Some(&stored), view, crate::write::UpdateScope::Status);
        assert_eq!(status["spec"], stored["spec"]);
        assert_eq!(status["status"]["desiredReplicas"], 4);
        assert!(status["status"].get("conditions").is_none(), "{status}");
    }
}
