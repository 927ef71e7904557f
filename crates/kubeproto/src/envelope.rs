//! The `k8s\0` + `runtime.Unknown` envelope around every protobuf body.

use serde_json::{Map, Value};

use crate::error::ProtoError;
use crate::wire::{self, Reader, Wire};
use crate::{MAGIC, decode, encode, schema};

const UNKNOWN: &str = "runtime.Unknown";
const TYPE_META: &str = "runtime.TypeMeta";

/// The parts of a decoded envelope.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

fn text(message: &'static str, wire: Wire<'_>) -> Result<String, ProtoError> {
    match wire {
        Wire::Len(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        other => Err(ProtoError::Malformed {
            message,
            reason: format!("string field has wire type {}", other.wire_type()),
        }),
    }
}

fn parse(body: &[u8]) -> Result<Envelope<'_>, ProtoError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtoError::BadMagic)?;
    let mut env = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
    };
    let mut reader = Reader::new(rest);
    while let Some((num, wire)) = reader.field().map_err(|e| ProtoError::wire(UNKNOWN, e))? {
        match (num, wire) {
            (1, Wire::Len(type_meta)) => {
                let mut tm = Reader::new(type_meta);
                while let Some((n, w)) = tm.field().map_err(|e| ProtoError::wire(TYPE_META, e))? {
                    match n {
                        1 => env.api_version = text(TYPE_META, w)?,
                        2 => env.kind = text(TYPE_META, w)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(raw)) => env.raw = raw,
            (3, w) => {
                let encoding = text(UNKNOWN, w)?;
                if !encoding.is_empty() {
                    return Err(ProtoError::ContentEncoding(encoding));
                }
            }
            (1 | 2, other) => {
                return Err(ProtoError::Malformed {
                    message: UNKNOWN,
                    reason: format!("field {num} has wire type {}", other.wire_type()),
                });
            }
            _ => {}
        }
    }
    Ok(env)
}

/// Decodes a whole body (or an embedded one at `depth`).
pub(crate) fn decode_at(body: &[u8], depth: usize) -> Result<Value, ProtoError> {
    let env = parse(body)?;
    if env.api_version.is_empty() || env.kind.is_empty() {
        return Err(ProtoError::MissingTypeMeta);
    }
    let Some(index) = schema::lookup(&env.api_version, &env.kind) else {
        return Err(ProtoError::Unsupported {
            api_version: env.api_version,
            kind: env.kind,
        });
    };
    let fields = decode::message(index, env.raw, depth)?;
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(env.api_version));
    out.insert("kind".into(), Value::String(env.kind));
    if let Value::Object(fields) = fields {
        out.extend(fields);
    }
    Ok(Value::Object(out))
}

/// The apiVersion and kind of an object, which select its message.
pub(crate) fn type_meta(obj: &Value) -> Result<(&str, &str), ProtoError> {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtoError::MissingTypeMeta);
    }
    Ok((api_version, kind))
}

/// Encodes an object into a whole body (or an embedded one at `depth`).
pub(crate) fn encode_at(obj: &Value, depth: usize) -> Result<Vec<u8>, ProtoError> {
    let (api_version, kind) = type_meta(obj)?;
    let Some(index) = schema::lookup(api_version, kind) else {
        return Err(ProtoError::Unsupported {
            api_version: api_version.into(),
            kind: kind.into(),
        });
    };
    let raw = encode::message(index, obj, depth)?;
    let mut type_meta = Vec::with_capacity(api_version.len() + kind.len() + 4);
    wire::put_len(&mut type_meta, 1, api_version.as_bytes());
    wire::put_len(&mut type_meta, 2, kind.as_bytes());
    let mut out = Vec::with_capacity(raw.len() + type_meta.len() + 16);
    out.extend_from_slice(MAGIC);
    wire::put_len(&mut out, 1, &type_meta);
    wire::put_len(&mut out, 2, &raw);
    // Go always writes the (empty) contentEncoding and contentType strings.
    wire::put_len(&mut out, 3, b"");
    wire::put_len(&mut out, 4, b"");
    Ok(out)
}
