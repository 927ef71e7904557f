//! Untrusted input: the decoder never panics, truncation is an error, and random objects
//! survive a round trip.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn fixtures() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/fixtures/kubectl", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if let Ok(bytes) = std::fs::read(entry.path()) {
            out.push(bytes);
        }
    }
    assert!(out.len() >= 10, "fixtures missing in {dir}");
    out
}

/// The byte range of the envelope's `raw` field (key, length and payload).
fn raw_field_range(body: &[u8]) -> (usize, usize) {
    // magic, then field 1 (typeMeta): key 0x0a and a one-byte length in all fixtures.
    let type_meta_end = 4 + 2 + usize::from(body[5]);
    assert_eq!(body[type_meta_end], 0x12, "raw field follows typeMeta");
    let mut len = 0usize;
    let mut pos = type_meta_end + 1;
    let mut shift = 0;
    loop {
        let b = body[pos];
        len |= usize::from(b & 0x7f) << shift;
        pos += 1;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    (type_meta_end, pos + len)
}

#[test]
fn every_cut_inside_the_object_is_an_error() {
    for body in fixtures() {
        let (start, end) = raw_field_range(&body);
        for cut in start + 1..end {
            assert!(
                kubeproto::decode(&body[..cut]).is_err(),
                "cut at {cut} of {} decoded",
                body.len()
            );
        }
        assert!(kubeproto::decode(&body).is_ok());
    }
}

#[test]
fn error_messages_say_what_is_wrong() {
    let err = |b: &[u8]| {
        kubeproto::decode(b)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err(b"{\"kind\":\"Pod\"}").contains("k8s\\0"));
    assert!(err(b"k8s\0\x0a\x05\x0a\x02v1").contains("truncated"));
    assert!(err(b"k8s\0\x0a\x08\x0a\x02v1\x12\x02Xy").contains("\"Xy\""));
    assert!(err(b"k8s\0").contains("no apiVersion/kind"));
    // Namespace whose metadata (field 1) arrives as a varint.
    let wrong = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x02\x08\x01";
    assert_eq!(
        err(wrong),
        "wrong wire type 0 at field 1 (metadata) of message api.core.v1.Namespace, expected 2"
    );
    let encoded =
        kubeproto::encode(&json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": 1}}));
    assert_eq!(
        encoded.err().map(|e| e.to_string()).unwrap_or_default(),
        "invalid value at data.a: expected a string, found a number"
    );
    let crd = json!({"apiVersion": "example.com/v1", "kind": "Widget"});
    assert!(matches!(
        kubeproto::encode(&crd),
        Err(kubeproto::ProtoError::Unsupported { .. })
    ));
}

#[test]
fn supports_built_in_kinds_only() {
    for (api_version, kind) in [
        ("v1", "Namespace"),
        ("v1", "ConfigMapList"),
        ("apps/v1", "Deployment"),
        ("autoscaling/v1", "Scale"),
        ("policy/v1", "Eviction"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("v1", "Status"),
        ("apps/v1", "DeleteOptions"),
    ] {
        assert!(
            kubeproto::supports(api_version, kind),
            "{api_version} {kind}"
        );
    }
    for (api_version, kind) in [
        ("example.com/v1", "Widget"),
        ("apps/v1", "Pod"),
        ("v1", "PodSpec"),
    ] {
        assert!(
            !kubeproto::supports(api_version, kind),
            "{api_version} {kind}"
        );
    }
}

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9./-]{0,12}|\\PC{0,8}"
}

fn string_map() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(text(), text(), 0..4)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = kubeproto::decode(&bytes);
        let mut with_magic = kubeproto::MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = kubeproto::decode(&with_magic);
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0usize..13, edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let all = fixtures();
        let mut body = all[which % all.len()].clone();
        for (at, byte) in edits {
            let i = at % body.len();
            body[i] = byte;
        }
        if let Ok(obj) = kubeproto::decode(&body) {
            // Whatever decodes is a valid object that encodes again.
            prop_assert!(obj.get("kind").is_some());
            let _ = kubeproto::encode(&obj);
        }
    }

    #[test]
    fn config_maps_round_trip(name in "[a-z][a-z0-9-]{0,20}", data in string_map(), labels in string_map(),
                              blobs in proptest::collection::btree_map(text(), proptest::collection::vec(any::<u8>(), 0..16), 0..3)) {
        use base64::Engine as _;
        let binary: Map<String, Value> = blobs
            .into_iter()
            .map(|(k, v)| (k, Value::String(base64::engine::general_purpose::STANDARD.encode(v))))
            .collect();
        let mut meta = json!({"name": name});
        if !labels.is_empty() { meta["labels"] = Value::Object(labels); }
        let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta});
        if !data.is_empty() { obj["data"] = Value::Object(data); }
        if !binary.is_empty() { obj["binaryData"] = Value::Object(binary); }
        let body = kubeproto::encode(&obj).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(kubeproto::decode(&body).ok(), Some(obj));
    }

    #[test]
    fn service_ports_round_trip(ports in proptest::collection::vec((1i64..65536, prop_oneof![
        (i32::MIN..i32::MAX).prop_filter("zero is unset", |p| *p != 0).prop_map(Value::from),
        "[a-z]{1,15}".prop_map(Value::from),
    ], any::<bool>()), 1..5)) {
        let ports: Vec<Value> = ports
            .into_iter()
            .enumerate()
            .map(|(i, (port, target, udp))| json!({
                "name": format!("p{i}"),
                "protocol": if udp { "UDP" } else { "TCP" },
                "port": port,
                "targetPort": target,
            }))
            .collect();
        let obj = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": ports}});
        let body = kubeproto::encode(&obj).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(kubeproto::decode(&body).ok(), Some(obj));
    }
}
