//! Protobuf bytes of a typed message → the JSON kube-apiserver would produce for it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Number, Value};

use crate::error::ProtoError;
use crate::schema::{self, Field, INLINE, Label, Message, OMIT_ZERO, Special, Ty};
use crate::timefmt;
use crate::wire::{FIXED64, LEN, Reader, VARINT, Wire};

/// Nesting limit for messages; deep enough for any CRD schema, shallow enough for the stack.
pub(crate) const MAX_DEPTH: usize = 100;

/// Decodes the message at `index` from `bytes`.
pub(crate) fn message(index: u16, bytes: &[u8], depth: usize) -> Result<Value, ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep(MAX_DEPTH));
    }
    let msg = schema::message(index);
    match msg.special {
        Special::None => object(msg, bytes, depth).map(Value::Object),
        special => self::special(msg, special, bytes, depth),
    }
}

/// Decodes a plain message into an object with members in Go declaration order.
fn object(
    msg: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Map<String, Value>, ProtoError> {
    let mut slots: Vec<Option<Value>> = vec![None; msg.fields.len()];
    let mut reader = Reader::new(bytes);
    while let Some((num, wire)) = reader.field().map_err(|e| ProtoError::wire(msg.name, e))? {
        // Fields this schema does not know are skipped, as protobuf requires.
        let Some((i, field)) = msg.field(num) else {
            continue;
        };
        match field.label {
            Label::Single => slots[i] = Some(single(msg, field, wire, depth)?),
            Label::Repeated => {
                let items = slots[i].get_or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = items {
                    repeated(msg, field, wire, depth, items)?;
                }
            }
            Label::Map => {
                let entries = slots[i].get_or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(entries) = entries {
                    let (key, value) = map_entry(msg, field, wire, depth)?;
                    entries.insert(key, value);
                }
            }
        }
    }
    let mut out = Map::new();
    for (field, slot) in msg.fields.iter().zip(slots) {
        let Some(value) = slot else { continue };
        if field.flags & OMIT_ZERO != 0 && is_go_zero(&value) {
            continue;
        }
        if field.flags & INLINE != 0 {
            if let Value::Object(members) = value {
                out.extend(members);
            }
        } else {
            out.insert(field.json.to_string(), value);
        }
    }
    Ok(out)
}

/// Whether a value is what Go's zero value of the field turns into.
fn is_go_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn expect_wire(
    msg: &'static Message,
    field: &'static Field,
    wire: &Wire<'_>,
    expected: u8,
) -> Result<(), ProtoError> {
    if wire.wire_type() == expected {
        Ok(())
    } else {
        Err(ProtoError::WireType {
            message: msg.name,
            field: field.num,
            json: field.json,
            expected,
            found: wire.wire_type(),
        })
    }
}

fn wire_type_of(ty: Ty) -> u8 {
    match ty {
        Ty::Str | Ty::Bytes | Ty::Msg(_) => LEN,
        Ty::Bool | Ty::I32 | Ty::I64 => VARINT,
        Ty::F64 => FIXED64,
    }
}

/// Decodes one non-repeated value of `field`'s type.
fn single(
    msg: &'static Message,
    field: &'static Field,
    wire: Wire<'_>,
    depth: usize,
) -> Result<Value, ProtoError> {
    expect_wire(msg, field, &wire, wire_type_of(field.ty))?;
    scalar_or_message(msg, field, field.ty, wire, depth)
}

fn scalar_or_message(
    msg: &'static Message,
    field: &'static Field,
    ty: Ty,
    wire: Wire<'_>,
    depth: usize,
) -> Result<Value, ProtoError> {
    Ok(match (ty, wire) {
        (Ty::Str, Wire::Len(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Ty::Bytes, Wire::Len(b)) => Value::String(BASE64.encode(b)),
        (Ty::Msg(target), Wire::Len(b)) => message(target, b, depth + 1)?,
        (Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        // Protobuf int32 truncates the varint to its low 32 bits.
        (Ty::I32, Wire::Varint(v)) => Value::from(v as i32),
        (Ty::I64, Wire::Varint(v)) => Value::from(v as i64),
        (Ty::F64, Wire::Fixed64(v)) => double(msg, field, f64::from_bits(v))?,
        (_, wire) => {
            return Err(ProtoError::WireType {
                message: msg.name,
                field: field.num,
                json: field.json,
                expected: wire_type_of(ty),
                found: wire.wire_type(),
            });
        }
    })
}

fn double(msg: &'static Message, field: &'static Field, v: f64) -> Result<Value, ProtoError> {
    // Go prints integral float64 values without a fraction (`1`, not `1.0`).
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        return Ok(Value::from(v as i64));
    }
    Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| ProtoError::InvalidValue {
            path: format!("{}.{}", msg.name, field.json),
            reason: format!("{v} has no JSON form"),
        })
}

/// Appends one occurrence of a repeated field, unpacking packed scalars.
fn repeated(
    msg: &'static Message,
    field: &'static Field,
    wire: Wire<'_>,
    depth: usize,
    items: &mut Vec<Value>,
) -> Result<(), ProtoError> {
    let packable = matches!(field.ty, Ty::Bool | Ty::I32 | Ty::I64 | Ty::F64);
    if let (true, Wire::Len(bytes)) = (packable, wire) {
        let mut reader = Reader::new(bytes);
        while !reader.is_empty() {
            let element = if field.ty == Ty::F64 {
                Wire::Fixed64(
                    reader
                        .fixed64()
                        .map_err(|e| ProtoError::wire(msg.name, e))?,
                )
            } else {
                Wire::Varint(reader.varint().map_err(|e| ProtoError::wire(msg.name, e))?)
            };
            items.push(scalar_or_message(msg, field, field.ty, element, depth)?);
        }
        return Ok(());
    }
    items.push(single(msg, field, wire, depth)?);
    Ok(())
}

/// Decodes one `map<string, V>` entry message.
fn map_entry(
    msg: &'static Message,
    field: &'static Field,
    wire: Wire<'_>,
    depth: usize,
) -> Result<(String, Value), ProtoError> {
    let bytes = len_bytes(msg, field, wire)?;
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(bytes);
    while let Some((num, entry)) = reader.field().map_err(|e| ProtoError::wire(msg.name, e))? {
        match num {
            1 => key = String::from_utf8_lossy(len_bytes(msg, field, entry)?).into_owned(),
            2 => {
                expect_wire(msg, field, &entry, wire_type_of(field.ty))?;
                value = Some(scalar_or_message(msg, field, field.ty, entry, depth)?);
            }
            _ => {}
        }
    }
    let value = match value {
        Some(v) => v,
        // An absent value is the type's zero value.
        None => match field.ty {
            Ty::Str | Ty::Bytes => Value::String(String::new()),
            Ty::Bool => Value::Bool(false),
            Ty::I32 | Ty::I64 | Ty::F64 => Value::from(0),
            Ty::Msg(target) => message(target, &[], depth + 1)?,
        },
    };
    Ok((key, value))
}

/// The payload of a length-delimited value, or a wire type error.
fn len_bytes<'a>(
    msg: &'static Message,
    field: &'static Field,
    wire: Wire<'a>,
) -> Result<&'a [u8], ProtoError> {
    match wire {
        Wire::Len(bytes) => Ok(bytes),
        other => {
            expect_wire(msg, field, &other, LEN)?;
            Ok(&[])
        }
    }
}

/// Reads a small message's fields by number (for the special types).
fn fields_by_number<'a>(
    msg: &'static Message,
    bytes: &'a [u8],
) -> Result<Vec<(u32, Wire<'a>)>, ProtoError> {
    let mut reader = Reader::new(bytes);
    let mut out = Vec::new();
    while let Some(f) = reader.field().map_err(|e| ProtoError::wire(msg.name, e))? {
        out.push(f);
    }
    Ok(out)
}

fn invalid(msg: &'static Message, reason: impl Into<String>) -> ProtoError {
    ProtoError::InvalidValue {
        path: msg.name.to_string(),
        reason: reason.into(),
    }
}

/// Decodes a message whose JSON form is not an object of its fields.
fn special(
    msg: &'static Message,
    special: Special,
    bytes: &[u8],
    depth: usize,
) -> Result<Value, ProtoError> {
    match special {
        Special::Time | Special::MicroTime => {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            let (mut seconds, mut nanos) = (0i64, 0i32);
            for (num, wire) in fields_by_number(msg, bytes)? {
                match (num, wire) {
                    (1, Wire::Varint(v)) => seconds = v as i64,
                    (2, Wire::Varint(v)) => nanos = v as i32,
                    _ => {}
                }
            }
            if seconds == timefmt::GO_ZERO_UNIX && nanos == 0 {
                return Ok(Value::Null);
            }
            // Go's Time keeps whole seconds only when read from protobuf.
            let text = if special == Special::Time {
                timefmt::format_time(seconds)
            } else {
                timefmt::format_micro_time(seconds, nanos)
            };
            text.map(Value::String)
                .ok_or_else(|| invalid(msg, format!("timestamp {seconds}s {nanos}ns out of range")))
        }
        Special::Duration => {
            let mut ns = 0i64;
            for (num, wire) in fields_by_number(msg, bytes)? {
                if let (1, Wire::Varint(v)) = (num, wire) {
                    ns = v as i64;
                }
            }
            Ok(Value::String(timefmt::format_duration(ns)))
        }
        Special::Quantity => {
            let mut text = String::new();
            for (num, wire) in fields_by_number(msg, bytes)? {
                if let (1, Wire::Len(b)) = (num, wire) {
                    text = String::from_utf8_lossy(b).into_owned();
                }
            }
            // Go's zero Quantity prints as "0".
            if text.is_empty() {
                text.push('0');
            }
            Ok(Value::String(text))
        }
        Special::IntOrString => {
            let (mut kind, mut int, mut text) = (0u64, 0i32, String::new());
            for (num, wire) in fields_by_number(msg, bytes)? {
                match (num, wire) {
                    (1, Wire::Varint(v)) => kind = v,
                    (2, Wire::Varint(v)) => int = v as i32,
                    (3, Wire::Len(b)) => text = String::from_utf8_lossy(b).into_owned(),
                    _ => {}
                }
            }
            Ok(if kind == 1 {
                Value::String(text)
            } else {
                Value::from(int)
            })
        }
        Special::RawJson => {
            let mut raw: &[u8] = &[];
            for (num, wire) in fields_by_number(msg, bytes)? {
                if let (1, Wire::Len(b)) = (num, wire) {
                    raw = b;
                }
            }
            raw_json(msg, raw, depth)
        }
        Special::Items => {
            let obj = object(msg, bytes, depth)?;
            Ok(obj
                .into_iter()
                .next()
                .map_or(Value::Array(Vec::new()), |(_, v)| v))
        }
        Special::PropsOrArray | Special::PropsOrBool | Special::PropsOrStringArray => {
            props_or(msg, special, bytes, depth)
        }
        Special::None => object(msg, bytes, depth).map(Value::Object),
    }
}

/// Embedded JSON; an embedded protobuf object (RawExtension of a watch event) is decoded too.
fn raw_json(msg: &'static Message, raw: &[u8], depth: usize) -> Result<Value, ProtoError> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(crate::MAGIC) {
        return crate::envelope::decode_at(raw, depth + 1);
    }
    serde_json::from_slice(raw).map_err(|e| invalid(msg, format!("embedded JSON: {e}")))
}

/// The JSONSchemaProps-or-X unions, with Go's MarshalJSON precedence.
fn props_or(
    msg: &'static Message,
    special: Special,
    bytes: &[u8],
    depth: usize,
) -> Result<Value, ProtoError> {
    let mut schema = None;
    let mut list = Vec::new();
    let mut allows = false;
    for (num, wire) in fields_by_number(msg, bytes)? {
        let Some((_, field)) = msg.field(num) else {
            continue;
        };
        match (field.label, wire) {
            (Label::Single, Wire::Varint(v)) if field.ty == Ty::Bool => allows = v != 0,
            (Label::Single, wire) => schema = Some(single(msg, field, wire, depth)?),
            (Label::Repeated, wire) => repeated(msg, field, wire, depth, &mut list)?,
            (Label::Map, _) => {}
        }
    }
    Ok(match special {
        Special::PropsOrBool => schema.unwrap_or(Value::Bool(allows)),
        _ if !list.is_empty() => Value::Array(list),
        _ => schema.unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::put_len;

    fn index_of(name: &str) -> u16 {
        let found = crate::generated::MESSAGES
            .iter()
            .position(|m| m.name == name);
        found
            .and_then(|i| u16::try_from(i).ok())
            .unwrap_or(u16::MAX)
    }

    const PROPS: &str = "apiextensions_apiserver.pkg.apis.apiextensions.v1.JsonSchemaProps";

    /// A JSONSchemaProps nested `levels` deep through its `not` field.
    fn nested_not(levels: usize) -> Vec<u8> {
        let msg = schema::message(index_of(PROPS));
        let not = msg
            .fields
            .iter()
            .find(|f| f.json == "not")
            .map_or(0, |f| f.num);
        let mut bytes = Vec::new();
        put_len(&mut bytes, 5, b"object"); // type
        for _ in 0..levels {
            let mut outer = Vec::new();
            put_len(&mut outer, not, &bytes);
            bytes = outer;
        }
        bytes
    }

    #[test]
    fn nesting_is_limited_not_a_stack_overflow() {
        let ok = message(index_of(PROPS), &nested_not(MAX_DEPTH - 1), 0);
        assert!(ok.is_ok(), "{ok:?}");
        let deep = message(index_of(PROPS), &nested_not(10 * MAX_DEPTH), 0);
        assert!(matches!(deep, Err(ProtoError::TooDeep(_))), "{deep:?}");
        let mut value = serde_json::json!({"type": "object"});
        for _ in 0..2 * MAX_DEPTH {
            value = serde_json::json!({ "not": value });
        }
        let encoded = crate::encode::message(index_of(PROPS), &value, 0);
        assert!(matches!(encoded, Err(ProtoError::TooDeep(_))));
    }

    #[test]
    fn doubles_print_like_go() {
        let msg = schema::message(index_of(PROPS));
        let Some((_, minimum)) = msg
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.json == "minimum")
        else {
            panic!("no minimum field");
        };
        assert_eq!(double(msg, minimum, 1.0).ok(), Some(serde_json::json!(1)));
        assert_eq!(
            double(msg, minimum, -2.5).ok(),
            Some(serde_json::json!(-2.5))
        );
        assert!(double(msg, minimum, f64::NAN).is_err());
    }
}
