//! Reading and stamping the standard fields of objects held as JSON.

use rand::Rng;
use serde_json::{Map, Value};

/// `metadata` of an object, if it is a JSON object.
pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// `metadata`, created if missing (a non-object value is replaced by an empty object).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = Value::Object(Map::new());
    }
    match &mut obj["metadata"] {
        Value::Object(m) => m,
        _ => unreachable!("metadata was made an object above"),
    }
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).and_then(|m| m.get(field)).and_then(Value::as_str)
}

/// Sets a string field of `metadata`.
pub fn set_meta_str(obj: &mut Value, field: &str, value: &str) {
    meta_mut(obj).insert(field.to_string(), Value::String(value.to_string()));
}

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds, `Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The current time with microseconds, as Kubernetes writes `MicroTime` fields.
pub fn now_micro() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// The alphabet Kubernetes uses for `generateName` suffixes (no vowels, no confusable digits).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random suffix of `n` characters from Kubernetes' `generateName` alphabet.
pub fn random_suffix(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect()
}

/// A suffix of `n` characters from the same alphabet, derived from `key` (FNV-1a), for
/// reproducible runs.
pub fn seeded_suffix(n: usize, key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..n)
        .map(|_| {
            let c = ALPHANUMS[(h % ALPHANUMS.len() as u64) as usize] as char;
            h /= ALPHANUMS.len() as u64;
            h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ 0x5bd1_e995;
            c
        })
        .collect()
}

/// An object serialised once, before it has a revision, so that the store's single writer
/// thread only splices `metadata.resourceVersion` in (a copy of bytes) instead of encoding the
/// whole object while every other write waits for it.
pub struct Unversioned {
    bytes: Vec<u8>,
    /// Where metadata's closing brace is: the resourceVersion member goes right before it.
    at: usize,
    /// Whether metadata has members before it (so it needs a separating comma).
    comma: bool,
    /// Whether it is metadata's first member and others follow it (a comma after it).
    comma_after: bool,
}

/// Writes metadata's members but its resourceVersion; returns where that member goes (where it
/// was, else last) and whether it needs a comma before or after it.
fn write_metadata(bytes: &mut Vec<u8>, m: &Map<String, Value>) -> (usize, bool, bool) {
    bytes.push(b'{');
    let mut written = 0usize;
    let mut gap = None;
    for (key, value) in m {
        if key == "resourceVersion" {
            gap = Some((bytes.len(), written > 0));
            continue;
        }
        if written > 0 {
            bytes.push(b',');
        }
        let _ = serde_json::to_writer(&mut *bytes, key);
        bytes.push(b':');
        let _ = serde_json::to_writer(&mut *bytes, value);
        written += 1;
    }
    let out = match gap {
        Some((at, before)) => (at, before, !before && written > 0),
        None => (bytes.len(), written > 0, false),
    };
    bytes.push(b'}');
    out
}

impl Unversioned {
    /// Serialises `obj` with a gap for its resourceVersion. The bytes
    /// [`Unversioned::with_revision`] makes are exactly `with_resource_version(obj, rev)`'s: the
    /// same encoder, the member where metadata has it (updates) or appended last (creates).
    pub fn new(mut obj: Value) -> Self {
        // As `with_resource_version`: metadata made an object when it is not one.
        meta_mut(&mut obj);
        // Most objects fit; the buffer lives only until the revision is spliced in.
        let mut bytes = Vec::with_capacity(2048);
        let (mut at, mut comma, mut comma_after) = (0, false, false);
        if let Value::Object(members) = &obj {
            bytes.push(b'{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                // Writing to a Vec cannot fail and a Value always serialises.
                let _ = serde_json::to_writer(&mut bytes, key);
                bytes.push(b':');
                match (key.as_str(), value) {
                    ("metadata", Value::Object(m)) => {
                        (at, comma, comma_after) = write_metadata(&mut bytes, m);
                    }
                    _ => {
                        let _ = serde_json::to_writer(&mut bytes, value);
                    }
                }
            }
            bytes.push(b'}');
        }
        Unversioned {
            bytes,
            at,
            comma,
            comma_after,
        }
    }

    /// The stored bytes for revision `rv`.
    pub fn with_revision(self, rv: i64) -> Vec<u8> {
        const MEMBER: &[u8] = b"\"resourceVersion\":\"";
        let digits = rv.to_string();
        let (head, tail) = self.bytes.split_at(self.at);
        // Exactly the final size: the store keeps these bytes for the object's life and would
        // otherwise reallocate to drop the slack.
        let size = self.bytes.len()
            + usize::from(self.comma)
            + usize::from(self.comma_after)
            + MEMBER.len()
            + digits.len()
            + 1;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(head);
        if self.comma {
            out.push(b',');
        }
        out.extend_from_slice(MEMBER);
        out.extend_from_slice(digits.as_bytes());
        out.push(b'"');
        if self.comma_after {
            out.push(b',');
        }
        out.extend_from_slice(tail);
        out
    }
}

/// Returns `obj` as bytes with `metadata.resourceVersion` set to `rv`.
pub fn with_resource_version(mut obj: Value, rv: i64) -> Vec<u8> {
    set_meta_str(&mut obj, "resourceVersion", &rv.to_string());
    serde_json::to_vec(&obj).unwrap_or_default()
}

/// Only `metadata.labels`, read without building the whole object.
#[derive(serde::Deserialize, Default)]
pub struct LabelsOnly {
    /// The object's metadata.
    #[serde(default)]
    pub metadata: LabelsMeta,
}

/// Labels of an object's metadata.
#[derive(serde::Deserialize, Default)]
pub struct LabelsMeta {
    /// Labels (empty if none).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The value at `path` (object keys), or null when any step is missing.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for p in path {
        cur = match cur.get(p) {
            Some(x) => x,
            None => return &Value::Null,
        };
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    proptest::proptest! {
        /// Whatever metadata holds and wherever its resourceVersion is (an update keeps it in
        /// place, a create has none), the splice is the whole-object encoding.
        #[test]
        fn unversioned_is_the_encoding_wherever_the_version_is(
            members in proptest::collection::vec(("[a-zA-Z\\\"{}]{0,6}", "[ -~]{0,8}"), 0..6),
            rv_at in proptest::option::of(0usize..7),
            old_rv in "[0-9]{0,4}",
            rv in 0i64..i64::MAX,
            before in proptest::bool::ANY,
            after in proptest::bool::ANY,
        ) {
            let mut m = serde_json::Map::new();
            for (i, (k, v)) in members.iter().enumerate() {
                if rv_at == Some(i) {
                    m.insert("resourceVersion".into(), json!(old_rv));
                }
                if k != "resourceVersion" {
                    m.insert(k.clone(), json!(v));
                }
            }
            if rv_at.is_some_and(|i| i >= members.len()) {
                m.insert("resourceVersion".into(), json!(old_rv));
            }
            let mut obj = serde_json::Map::new();
            if before {
                obj.insert("apiVersion".into(), json!("v1"));
            }
            obj.insert("metadata".into(), Value::Object(m));
            if after {
                obj.insert("spec".into(), json!({"metadata": {"resourceVersion": "x"}}));
            }
            let obj = Value::Object(obj);
            let spliced = Unversioned::new(obj.clone()).with_revision(rv);
            let encoded = with_resource_version(obj, rv);
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&spliced),
                String::from_utf8_lossy(&encoded)
            );
        }
    }

    /// The splice gives the bytes the whole-object encoding gives, whatever metadata holds.
    #[test]
    fn unversioned_splices_what_the_encoder_would_write() {
        for obj in [
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "a", "resourceVersion": "7", "labels": {"x": "}\""}},
                   "data": {"k": "{\"metadata\":{}}"}}),
            json!({"kind": "X", "metadata": {}, "spec": {"n": 1.5}}),
            json!({"metadata": {"resourceVersion": "3", "name": "first"}}),
            json!({"metadata": {"resourceVersion": "3"}, "status": {}}),
            json!({"metadata": {"name": "c", "resourceVersion": "9", "uid": "u", "labels": {}}}),
            json!({"metadata": {"name": "b"}}),
            json!({"spec": {"a": [1, 2]}}),
            json!({}),
            json!("not an object"),
        ] {
            for rv in [1, 42, i64::MAX] {
                let expected = with_resource_version(obj.clone(), rv);
                assert_eq!(
                    String::from_utf8_lossy(&Unversioned::new(obj.clone()).with_revision(rv)),
                    String::from_utf8_lossy(&expected),
                    "{obj}"
                );
            }
        }
    }
}
