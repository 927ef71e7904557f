//! Sprig's value conversions (`strval`, `spf13/cast`'s `ToInt64`/`ToFloat64`, `strslice`, `empty`).

use crate::gofmt;
use crate::value::{IntKind, Value};

/// Sprig's `strval`: strings as they are, everything else as `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => gofmt::sprint_value(other),
    }
}

/// The string argument of a function declared with a Go `string` parameter.
pub fn str_arg(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Nil) => String::new(),
        Some(v) => strval(v),
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    // cast accepts "10.0" / "10.00" as integers.
    if let Some(i) = s.find('.')
        && s[i + 1..].chars().all(|c| c == '0')
        && i + 1 < s.len()
    {
        return &s[..i];
    }
    s
}

/// `cast.ToInt64` with errors ignored (0).
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i, _) => *i,
        Value::Uint(u) => *u as i64,
        Value::Float(f) => {
            if f.is_nan() {
                i64::MIN
            } else {
                *f as i64
            }
        }
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => crate::number::parse_go_int(trim_zero_decimal(s))
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64` with errors ignored (0).
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i, _) => *i as f64,
        Value::Uint(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|_| !s.trim().is_empty())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

/// A Go `int` argument (template literals are `int`; other numbers are converted leniently).
pub fn int_arg(v: Option<&Value>) -> i64 {
    v.map(to_int64).unwrap_or(0)
}

/// An `int` value.
pub fn int(i: i64) -> Value {
    Value::Int(i, IntKind::Int)
}

/// Sprig's `strslice`: a list of the non-nil elements as strings, or `[strval(v)]`.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().filter(|e| !e.is_nil()).map(strval).collect(),
        Value::Bytes(b) => b.iter().map(|x| x.to_string()).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// Strings as a template list value.
pub fn string_list(v: Vec<String>) -> Value {
    Value::list(v.into_iter().map(Value::from).collect())
}

/// Sprig's `empty`.
pub fn empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i, _) => *i == 0,
        Value::Uint(u) => *u == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Object(_) => false,
    }
}

/// The panic Go reports when Sprig asks for the kind of a nil value.
pub const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

/// The list inside a value for Sprig's list functions (`[]interface{}` or other slices).
pub fn list_of(v: &Value, fname: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::List(l) => Ok(l.as_ref().clone()),
        Value::Bytes(b) => Ok(b.iter().map(|x| Value::Uint(*x as u64)).collect()),
        // Sprig calls reflect.TypeOf(nil).Kind(), which panics.
        Value::Nil => Err(NIL_DEREF.to_string()),
        other => Err(format!("Cannot find {fname} on type {}", other.kind_name())),
    }
}
