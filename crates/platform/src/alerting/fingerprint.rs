//! The fingerprint Prometheus and Alertmanager give a label set (`model.LabelSet.Fingerprint`):
//! FNV-1a (64 bit) over the labels sorted by name, each name and value followed by the byte
//! 0xff, written as 16 hex digits. Receivers use it to tell alerts apart, so it must match.

use std::collections::BTreeMap;

const OFFSET: u64 = 14695981039346656037;
const PRIME: u64 = 1099511628211;
const SEPARATOR: u8 = 0xff;

fn add(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// The fingerprint of a label set (a `BTreeMap` is already sorted by name).
pub fn of(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        // Prometheus' emptyLabelSignature: the hash of nothing.
        return format!("{OFFSET:016x}");
    }
    let mut h = OFFSET;
    for (k, v) in labels {
        h = add(h, k.as_bytes());
        h = add(h, &[SEPARATOR]);
        h = add(h, v.as_bytes());
        h = add(h, &[SEPARATOR]);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matches_prometheus_common_model() {
        // The cases of prometheus/common model/signature_test.go (TestLabelsToSignature).
        assert_eq!(of(&set(&[])), format!("{:016x}", 14695981039346656037u64));
        assert_eq!(
            of(&set(&[
                ("name", "garland, briggs"),
                ("fear", "love is not enough")
            ])),
            format!("{:016x}", 5799056148416392346u64)
        );
    }

    #[test]
    fn order_independent_and_distinct() {
        let a = set(&[("a", "1"), ("b", "2")]);
        let b = set(&[("b", "2"), ("a", "1")]);
        assert_eq!(of(&a), of(&b));
        // The separator keeps "a"+"b1" apart from "ab"+"1".
        assert_ne!(of(&set(&[("a", "b1")])), of(&set(&[("ab", "1")])));
        assert_eq!(of(&a).len(), 16);
    }
}
