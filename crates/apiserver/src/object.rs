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
