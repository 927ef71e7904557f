use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

#[test]
fn json_patch_applies_ops() {
    let doc = json!({"metadata":{"name":"a","labels":{"x":"1"}},"data":{"k":"v"}});
    let patch = br#"[{"op":"add","path":"/metadata/labels/y","value":"2"},
                     {"op":"remove","path":"/data/k"},
                     {"op":"replace","path":"/metadata/name","value":"b"},
                     {"op":"test","path":"/metadata/labels/x","value":"1"}]"#;
    assert_eq!(
        json_patch(&doc, patch),
        Ok(json!({"metadata":{"name":"b","labels":{"x":"1","y":"2"}},"data":{}}))
    );
}

#[test]
fn json_patch_errors() {
    let doc = json!({"a":1});
    let e = json_patch(&doc, br#"[{"op":"remove","path":"/missing"}]"#);
    let api = e.as_ref().map_err(PatchError::to_api_error).err();
    assert_eq!(
        api.map(|a| (a.code, a.reason, a.message)),
        Some((
            422,
            "Invalid".into(),
            "the server rejected our request due to an error in our request".into()
        ))
    );
    assert!(matches!(
        json_patch(&doc, b"{"),
        Err(PatchError::BadRequest(_))
    ));
    assert!(matches!(
        json_patch(&doc, b"{}"),
        Err(PatchError::BadRequest(_))
    ));
    assert!(matches!(
        json_patch(&doc, br#"[{"op":"bogus","path":"/a"}]"#),
        Err(PatchError::BadRequest(_))
    ));
    let many: Vec<Value> = (0..10_001)
        .map(|_| json!({"op":"test","path":"/a","value":1}))
        .collect();
    let body = serde_json::to_vec(&many).unwrap_or_default();
    let e = json_patch(&doc, &body).map_err(|e| e.to_api_error());
    assert_eq!(
        e.err().map(|e| (e.code, e.message)),
        Some((413, "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001".into()))
    );
}

/// The copy bomb of issue 11: an empty list copied into itself N times doubles each time.
fn copy_bomb(n: usize) -> Vec<u8> {
    let mut ops = vec![json!({"op":"add","path":"/x","value":[[1,2,3,4,5,6,7,8]]})];
    ops.extend((0..n).map(|_| json!({"op":"copy","from":"/x","path":"/x/-"})));
    serde_json::to_vec(&ops).unwrap_or_default()
}

#[test]
fn json_patch_copies_are_bounded() {
    let doc = json!({"a":1});
    // Ten doublings (each copy appends the whole list to itself) stay below the limit.
    let small = json_patch(&doc, &copy_bomb(10)).ok();
    assert_eq!(
        small.as_ref().and_then(|d| d["x"].as_array()).map(Vec::len),
        Some(11)
    );
    let size = small
        .as_ref()
        .and_then(|d| encoded_size_within(&d["x"], usize::MAX));
    assert!(size.is_some_and(|n| n > 1024 * 19), "{size:?}");
    // Forty would be terabytes: refused as 422 once the copies pass the limit, after about
    // nineteen doublings, so the work done is bounded by the limit.
    let e = json_patch(&doc, &copy_bomb(40));
    assert!(
        matches!(&e, Err(PatchError::Unprocessable(m)) if m.contains("accumulated copy size")),
        "{e:?}"
    );
    assert_eq!(e.map_err(|e| e.to_api_error().code).err(), Some(422));
    // A copy of a missing path is json-patch's own error, not a size error.
    let e = json_patch(&doc, br#"[{"op":"copy","from":"/nope","path":"/b"}]"#);
    assert!(matches!(&e, Err(PatchError::Unprocessable(m)) if !m.contains("accumulated")));
}

#[test]
fn merge_patch_rfc7386() {
    let doc = json!({"a":"b","c":{"d":"e","f":"g"},"l":[1,2]});
    assert_eq!(
        merge_patch(
            &doc,
            br#"{"a":"z","c":{"f":null},"l":[3],"n":{"x":null,"y":1}}"#
        ),
        Ok(json!({"a":"z","c":{"d":"e"},"l":[3],"n":{"y":1}}))
    );
    assert_eq!(
        merge_patch(&doc, b"nope").map_err(|e| e.to_api_error().message),
        Err("Invalid JSON Patch".to_string())
    );
    assert!(merge_patch(&doc, b"[1]").is_err());
    assert!(merge_patch(&doc, b"null").is_err());
}

#[test]
fn merge_patch_keeps_key_order() {
    let doc = json!({"z":1,"a":2,"m":3});
    let out = merge_patch(&doc, br#"{"a":5,"b":6}"#).unwrap_or_default();
    let keys: Vec<&String> = out
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["z", "a", "m", "b"]);
}

#[test]
fn go_fmt_matches_go_percent_v() {
    assert_eq!(
        go_fmt(&json!({"b":1,"a":"x","c":[true,null]})),
        "map[a:x b:1 c:[true <nil>]]"
    );
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
        prop::collection::vec("[a-z]{0,2}".prop_map(Value::from), 0..3).prop_map(Value::Array),
    ]
}

fn object() -> impl Strategy<Value = Value> {
    leaf()
        .prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        })
        .prop_map(|v| if v.is_object() { v } else { json!({"v": v}) })
}

/// The RFC 7386 patch that turns `from` into `to`.
fn diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(f), Value::Object(t)) => {
            let mut out = serde_json::Map::new();
            for (k, fv) in f {
                match t.get(k) {
                    None => {
                        out.insert(k.clone(), Value::Null);
                    }
                    Some(tv) if tv != fv => {
                        out.insert(k.clone(), diff(fv, tv));
                    }
                    Some(_) => {}
                }
            }
            for (k, tv) in t {
                if !f.contains_key(k) {
                    out.insert(k.clone(), tv.clone());
                }
            }
            Value::Object(out)
        }
        (_, t) => t.clone(),
    }
}

proptest! {
    #[test]
    fn merge_patch_of_diff_gives_target(a in object(), b in object()) {
        let d = serde_json::to_vec(&diff(&a, &b)).unwrap_or_default();
        prop_assert_eq!(merge_patch(&a, &d), Ok(b.clone()));
        // Without list strategies, a strategic merge patch is a JSON merge patch.
        let generic = builtin_patch_schema("", "ConfigMap");
        prop_assert!(generic.is_some());
        if let Some(schema) = generic {
            prop_assert_eq!(strategic_merge_patch(&a, &d, schema), Ok(b));
        }
    }

    #[test]
    fn encoded_size_is_the_compact_json_length(v in object()) {
        let len = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or_default();
        prop_assert_eq!(encoded_size_within(&v, usize::MAX), Some(len));
        prop_assert_eq!(encoded_size_within(&v, len), Some(len));
        if len > 0 {
            prop_assert_eq!(encoded_size_within(&v, len - 1), None);
        }
    }

    #[test]
    fn patches_never_panic(doc in object(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = json_patch(&doc, &bytes);
        let _ = merge_patch(&doc, &bytes);
    }
}
