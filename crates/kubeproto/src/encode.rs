//! An object's JSON → the protobuf bytes of its typed message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::decode::MAX_DEPTH;
use crate::error::ProtoError;
use crate::schema::{self, Field, INLINE, Label, Message, Special, Ty};
use crate::timefmt;
use crate::wire::{put_fixed64_field, put_len, put_varint_field};

fn invalid(reason: impl Into<String>) -> ProtoError {
    ProtoError::InvalidValue {
        path: String::new(),
        reason: reason.into(),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected(what: &str, value: &Value) -> ProtoError {
    invalid(format!("expected {what}, found {}", kind_of(value)))
}

/// Encodes `value` as the message at `index`.
pub(crate) fn message(index: u16, value: &Value, depth: usize) -> Result<Vec<u8>, ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep(MAX_DEPTH));
    }
    let msg = schema::message(index);
    let mut out = Vec::new();
    match msg.special {
        Special::None => {
            let obj = value
                .as_object()
                .ok_or_else(|| expected("an object", value))?;
            fields(msg, obj, depth, &mut out)?;
        }
        special => self::special(msg, special, value, depth, &mut out)?,
    }
    Ok(out)
}

/// Writes an object's members in field-number order, as Go does.
fn fields(
    msg: &'static Message,
    obj: &Map<String, Value>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    let mut order: Vec<&'static Field> = msg.fields.iter().collect();
    order.sort_by_key(|f| f.num);
    for field in order {
        if field.flags & INLINE != 0 {
            if let Ty::Msg(target) = field.ty {
                // The embedded struct's members live in this same object.
                let mut inner = Vec::new();
                fields(schema::message(target), obj, depth + 1, &mut inner)?;
                put_len(out, field.num, &inner);
            }
            continue;
        }
        let Some(value) = obj.get(field.json).filter(|v| !v.is_null()) else {
            continue;
        };
        self::field(field, value, depth, out).map_err(|e| e.within(field.json))?;
    }
    Ok(())
}

fn field(
    field: &'static Field,
    value: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    match field.label {
        Label::Single => put_value(out, field.num, field.ty, value, depth),
        Label::Repeated => {
            let items = value
                .as_array()
                .ok_or_else(|| expected("an array", value))?;
            for (i, item) in items.iter().enumerate() {
                put_value(out, field.num, field.ty, item, depth)
                    .map_err(|e| e.within(&format!("[{i}]")))?;
            }
            Ok(())
        }
        Label::Map => {
            let entries = value
                .as_object()
                .ok_or_else(|| expected("an object", value))?;
            let mut keys: Vec<&String> = entries.keys().collect();
            // Go writes map entries sorted by key.
            keys.sort();
            for key in keys {
                let mut entry = Vec::new();
                put_len(&mut entry, 1, key.as_bytes());
                if let Some(v) = entries.get(key) {
                    put_value(&mut entry, 2, field.ty, v, depth).map_err(|e| e.within(key))?;
                }
                put_len(out, field.num, &entry);
            }
            Ok(())
        }
    }
}

fn integer(value: &Value, min: i64, max: i64) -> Result<i64, ProtoError> {
    let n = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            // Integral floats (1.0) come from YAML and JavaScript; accept them.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        _ => None,
    };
    n.filter(|n| (min..=max).contains(n))
        .ok_or_else(|| expected("an integer in range", value))
}

/// Writes one value of type `ty` as field `num`; `null` writes the zero value.
fn put_value(
    out: &mut Vec<u8>,
    num: u32,
    ty: Ty,
    value: &Value,
    depth: usize,
) -> Result<(), ProtoError> {
    match ty {
        Ty::Str => match value {
            Value::String(s) => put_len(out, num, s.as_bytes()),
            Value::Null => put_len(out, num, b""),
            other => return Err(expected("a string", other)),
        },
        Ty::Bytes => match value {
            Value::String(s) => {
                let bytes = BASE64
                    .decode(s)
                    .map_err(|e| invalid(format!("bad base64: {e}")))?;
                put_len(out, num, &bytes);
            }
            Value::Null => put_len(out, num, b""),
            other => return Err(expected("a base64 string", other)),
        },
        Ty::Bool => match value {
            Value::Bool(b) => put_varint_field(out, num, u64::from(*b)),
            Value::Null => put_varint_field(out, num, 0),
            other => return Err(expected("a boolean", other)),
        },
        Ty::I32 | Ty::I64 => {
            let n = if value.is_null() {
                0
            } else if ty == Ty::I32 {
                integer(value, i64::from(i32::MIN), i64::from(i32::MAX))?
            } else {
                integer(value, i64::MIN, i64::MAX)?
            };
            // Negative int32 values are sign-extended to ten bytes, as protobuf specifies.
            put_varint_field(out, num, n as u64);
        }
        Ty::F64 => {
            let f = match value {
                Value::Number(n) => n.as_f64().unwrap_or_default(),
                Value::Null => 0.0,
                other => return Err(expected("a number", other)),
            };
            put_fixed64_field(out, num, f.to_bits());
        }
        Ty::Msg(target) => {
            let inner = if value.is_null() {
                Vec::new()
            } else {
                message(target, value, depth + 1)?
            };
            put_len(out, num, &inner);
        }
    }
    Ok(())
}

/// The message type of field `num` of a special message.
fn field_ty(msg: &'static Message, num: u32) -> Ty {
    msg.field(num).map_or(Ty::Str, |(_, f)| f.ty)
}

fn special(
    msg: &'static Message,
    special: Special,
    value: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    match special {
        Special::Time | Special::MicroTime => {
            let text = value
                .as_str()
                .ok_or_else(|| expected("an RFC 3339 timestamp", value))?;
            let (seconds, nanos) = timefmt::parse_time(text)
                .ok_or_else(|| invalid(format!("{text:?} is not an RFC 3339 timestamp")))?;
            put_varint_field(out, 1, seconds as u64);
            put_varint_field(out, 2, i64::from(nanos) as u64);
        }
        Special::Duration => {
            let text = value
                .as_str()
                .ok_or_else(|| expected("a duration string", value))?;
            let ns = timefmt::parse_duration(text)
                .ok_or_else(|| invalid(format!("{text:?} is not a duration")))?;
            put_varint_field(out, 1, ns as u64);
        }
        Special::Quantity => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => return Err(expected("a quantity", other)),
            };
            put_len(out, 1, text.as_bytes());
        }
        Special::IntOrString => {
            // Go writes all three fields whichever variant is set.
            let (kind, int, text) = match value {
                Value::String(s) => (1, 0, s.as_str()),
                other => (
                    0,
                    integer(other, i64::from(i32::MIN), i64::from(i32::MAX))?,
                    "",
                ),
            };
            put_varint_field(out, 1, kind);
            put_varint_field(out, 2, int as u64);
            put_len(out, 3, text.as_bytes());
        }
        Special::RawJson => {
            let raw = serde_json::to_vec(value).map_err(|e| invalid(e.to_string()))?;
            put_len(out, 1, &raw);
        }
        Special::Items => {
            let items = value
                .as_array()
                .ok_or_else(|| expected("an array", value))?;
            for (i, item) in items.iter().enumerate() {
                put_value(out, 1, field_ty(msg, 1), item, depth)
                    .map_err(|e| e.within(&format!("[{i}]")))?;
            }
        }
        Special::PropsOrArray | Special::PropsOrStringArray => match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    put_value(out, 2, field_ty(msg, 2), item, depth)
                        .map_err(|e| e.within(&format!("[{i}]")))?;
                }
            }
            Value::Object(_) => put_value(out, 1, field_ty(msg, 1), value, depth)?,
            other => return Err(expected("an object or an array", other)),
        },
        Special::PropsOrBool => match value {
            Value::Bool(b) => put_varint_field(out, 1, u64::from(*b)),
            Value::Object(_) => {
                put_varint_field(out, 1, 1);
                put_value(out, 2, field_ty(msg, 2), value, depth)?;
            }
            other => return Err(expected("an object or a boolean", other)),
        },
        Special::None => {
            let obj = value
                .as_object()
                .ok_or_else(|| expected("an object", value))?;
            fields(msg, obj, depth, out)?;
        }
    }
    Ok(())
}
