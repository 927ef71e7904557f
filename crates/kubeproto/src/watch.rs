//! Protobuf watch streams: length-prefixed `WatchEvent` frames.

use serde_json::Value;

use crate::error::ProtoError;
use crate::{envelope, wire};

/// Encodes one watch event as a protobuf watch-stream frame: a 4-byte big-endian length,
/// then a bare meta/v1 `WatchEvent` (no magic: the stream serializer is the raw one) whose
/// `object` RawExtension holds the object's full protobuf body (magic + envelope).
/// `event_type` is `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
pub fn encode_watch_event(event_type: &str, obj: &Value) -> Result<Vec<u8>, ProtoError> {
    let body = envelope::encode_at(obj, 0)?;
    let mut raw_extension = Vec::with_capacity(body.len() + 6);
    wire::put_len(&mut raw_extension, 1, &body);
    let mut event = Vec::with_capacity(raw_extension.len() + event_type.len() + 12);
    wire::put_len(&mut event, 1, event_type.as_bytes());
    wire::put_len(&mut event, 2, &raw_extension);
    let len = u32::try_from(event.len()).map_err(|_| ProtoError::InvalidValue {
        path: String::new(),
        reason: "watch event larger than 4 GiB".into(),
    })?;
    let mut frame = Vec::with_capacity(event.len() + 4);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&event);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, schema};
    use serde_json::json;

    #[test]
    fn frame_holds_a_bare_watch_event_with_an_enveloped_object() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
        let frame = encode_watch_event("ADDED", &obj).unwrap_or_default();
        let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(len, frame.len() - 4);
        assert!(!frame[4..].starts_with(crate::MAGIC));
        let Some(index) = schema::lookup("meta.k8s.io/v1", "WatchEvent") else {
            panic!("WatchEvent missing from the schema");
        };
        let event = decode::message(index, &frame[4..], 0).ok();
        assert_eq!(event, Some(json!({"type": "ADDED", "object": obj})));
        assert!(encode_watch_event("ADDED", &json!({"apiVersion": "x/v1", "kind": "Y"})).is_err());
    }
}
