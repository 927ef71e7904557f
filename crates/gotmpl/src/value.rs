//! The dynamic value that templates operate on, modelled on the Go values Helm hands to
//! `text/template` (`map[string]interface{}`, `[]interface{}`, `float64` from YAML/JSON, …).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A Go value as seen by a template.
///
/// Maps are `map[string]interface{}`: Go ranges over them and prints them in key order, so a
/// `BTreeMap` gives the same order. Numbers keep Go's distinction between the integer kinds and
/// `float64` (values parsed from YAML/JSON are `float64` in Helm; literals and Sprig arithmetic
/// give `int`/`int64`).
#[derive(Clone, Default)]
pub enum Value {
    /// Go `nil` (an untyped nil interface).
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// A signed integer, with its Go type (`int`, `int64`, …).
    Int(i64, IntKind),
    /// An unsigned integer (`uint64` and friends).
    Uint(u64),
    /// `float64`.
    Float(f64),
    /// `string`.
    String(Arc<str>),
    /// `[]byte`.
    Bytes(Arc<[u8]>),
    /// `[]interface{}` (and other slices).
    List(Arc<Vec<Value>>),
    /// `map[string]interface{}`.
    Map(Arc<BTreeMap<String, Value>>),
    /// A Go struct or other value with fields and methods (`.Chart`, `.Files`, `.Capabilities`…).
    Object(Arc<dyn Object>),
}

/// Which Go integer type an [`Value::Int`] has; `typeOf`/`kindOf` and printing need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IntKind {
    /// `int` (template literals, `len`, Sprig's `int`).
    #[default]
    Int,
    /// `int64` (Sprig arithmetic, `int64`).
    Int64,
    /// `int32`.
    Int32,
}

/// A Go value with fields and methods, reached with `.Field` and `.Method args`.
pub trait Object: Send + Sync {
    /// The Go type name as `printf "%T"` shows it, e.g. `*chart.Metadata`.
    fn type_name(&self) -> &str;
    /// A field or zero-argument method by name; `None` if there is none.
    fn field(&self, name: &str) -> Option<Value>;
    /// Calls a method with arguments; `None` if the object has no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let _ = (name, args);
        None
    }
    /// The value as Go's `fmt` prints it with `%v`.
    fn print(&self) -> String;
    /// The value as a plain map, for functions such as `toYaml` that marshal it.
    fn to_value(&self) -> Value {
        Value::Nil
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }
    /// An `int` value.
    pub fn int(i: i64) -> Value {
        Value::Int(i, IntKind::Int)
    }
    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }
    /// A map value.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(entries))
    }
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    /// The list inside, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// Whether this is Go `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "Nil"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Int(i, k) => write!(f, "Int({i}, {k:?})"),
            Value::Uint(u) => write!(f, "Uint({u})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::Bytes(b) => write!(f, "Bytes({b:?})"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Map(m) => f.debug_map().entries(m.iter()).finish(),
            Value::Object(o) => write!(f, "Object({})", o.type_name()),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a, ka), Value::Int(b, kb)) => a == b && ka == kb,
            (Value::Uint(a), Value::Uint(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}
