//! JSON merge patches computed as the difference between two documents, so writers send only
//! what changed and removed keys become `null` (a plain merge patch would keep them).

use serde_json::{Map, Value};

/// The merge patch (RFC 7386) that turns `old` into `new`; `None` if they are equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut out = Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) => {
                        if let Some(d) = merge_diff(ov, nv) {
                            out.insert(k.clone(), d);
                        }
                    }
                    None => {
                        out.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ if old == new => None,
        _ => Some(new.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_nulls_removed_keys_and_replaces_arrays() {
        let old = json!({"state": {"running": {"startedAt": "a"}}, "list": [1, 2], "same": 1});
        let new = json!({"state": {"waiting": {"reason": "X"}}, "list": [1], "same": 1});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"state": {"waiting": {"reason": "X"}, "running": null}, "list": [1]}))
        );
        assert_eq!(merge_diff(&new, &new), None);
    }

    fn apply(target: &mut Value, patch: &Value) {
        if let (Value::Object(t), Value::Object(p)) = (&mut *target, patch) {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    apply(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        } else {
            *target = patch.clone();
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Bool(true)),
            (0i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from)
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn applying_the_diff_gives_the_new_document(
            old in proptest::collection::btree_map("[a-d]", json_value(), 0..4),
            new in proptest::collection::btree_map("[a-d]", json_value(), 0..4),
        ) {
            let old = Value::Object(old.into_iter().collect());
            let new = Value::Object(new.into_iter().collect());
            let mut patched = old.clone();
            if let Some(p) = merge_diff(&old, &new) {
                apply(&mut patched, &p);
            }
            // Null leaves cannot be expressed in a merge patch; the generator makes none.
            proptest::prop_assert_eq!(patched, new);
        }
    }
}
