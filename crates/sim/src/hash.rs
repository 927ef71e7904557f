//! Hashes and name suffixes computed the way Kubernetes controllers compute them.

use serde_json::Value;

/// FNV-1a, 32 bits (Go's `hash/fnv.New32a`).
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a, 64 bits, for seeding stable pseudo-random values.
pub fn fnv64a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A stable value in `[0, 1)` derived from `key` (and the seed).
pub fn unit(seed: u64, key: &str) -> f64 {
    let mut bytes = seed.to_le_bytes().to_vec();
    bytes.extend_from_slice(key.as_bytes());
    (fnv64a(&bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString`: maps each character onto an alphabet
/// without vowels or confusable characters.
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.chars()
        .map(|c| ALPHANUMS[(c as usize) % ALPHANUMS.len()] as char)
        .collect()
}

/// The `pod-template-hash` of a pod template: FNV-32a over the template (as canonical JSON, since
/// Go's object dump cannot be reproduced), then the collision count as 4 little-endian bytes, as
/// `controller.ComputeHash` does, encoded with [`safe_encode`].
pub fn pod_template_hash(template: &Value, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(&canonical(template)).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&(c as u32).to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// `value` with object keys sorted, so equal templates hash equally whatever their key order.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv_matches_go() {
        // Go: fnv.New32a() over "hello" = 0x4f9f2cab.
        assert_eq!(fnv32a(b"hello"), 0x4f9f_2cab);
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
    }

    #[test]
    fn safe_encoding_like_apimachinery() {
        // '0' is 48, 48 % 27 = 21 -> '4'; '1' is 49 -> '5'.
        assert_eq!(safe_encode("01"), "45");
        assert!(
            safe_encode("3735928559")
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
    }

    #[test]
    fn template_hash_ignores_key_order_and_uses_collisions() {
        let a = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": []}});
        let b = json!({"spec": {"containers": []}, "metadata": {"labels": {"b": "2", "a": "1"}}});
        assert_eq!(pod_template_hash(&a, None), pod_template_hash(&b, None));
        assert_ne!(pod_template_hash(&a, None), pod_template_hash(&a, Some(1)));
        let c = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": []}});
        assert_ne!(pod_template_hash(&a, None), pod_template_hash(&c, None));
    }
}
