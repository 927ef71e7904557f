//! The dynamic value that templates operate on, modelled on the Go values Helm hands to
//! `text/template` (`map[string]interface{}`, `[]interface{}`, `float64` from YAML/JSON, …).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

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
    /// `map[string]interface{}`: shared and mutable like a Go map (Sprig's `set`, `unset`,
    /// `merge` change it in place, visible to every holder).
    Map(Dict),
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
    /// The Go `reflect.Kind` name (`kindOf`): by default `ptr` for pointer types (a `*` in
    /// the type name), the kind of [`Object::to_value`] for maps and slices with methods
    /// (Helm's `.Files`), and `struct` otherwise.
    fn kind_name(&self) -> &'static str {
        if self.type_name().starts_with('*') {
            return "ptr";
        }
        match self.to_value() {
            Value::Map(_) => "map",
            Value::List(_) => "slice",
            _ => "struct",
        }
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
    /// A map value (a new Go map).
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Dict::new(entries))
    }
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// A snapshot of the map inside, if this is a map (later `set`s do not change it).
    pub fn as_map(&self) -> Option<Arc<BTreeMap<String, Value>>> {
        match self {
            Value::Map(m) => Some(m.snapshot()),
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
            Value::Map(m) => f.debug_map().entries(m.snapshot().iter()).finish(),
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
            (Value::Map(a), Value::Map(b)) => a.ptr_eq(b) || *a.snapshot() == *b.snapshot(),
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Value {
    /// The Go type name as `%T` prints it (`string`, `int`, `float64`, `[]interface {}`, …).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_, IntKind::Int) => "int".into(),
            Value::Int(_, IntKind::Int64) => "int64".into(),
            Value::Int(_, IntKind::Int32) => "int32".into(),
            Value::Uint(_) => "uint64".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name().to_string(),
        }
    }

    /// The Go `reflect.Kind` name as Sprig's `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_, IntKind::Int) => "int",
            Value::Int(_, IntKind::Int64) => "int64",
            Value::Int(_, IntKind::Int32) => "int32",
            Value::Uint(_) => "uint64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind_name(),
        }
    }

    /// An `int64` value (what Sprig arithmetic returns).
    pub fn int64(i: i64) -> Value {
        Value::Int(i, IntKind::Int64)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Arc::from(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// A Go map: shared by every copy of the [`Value`] holding it and changed in place by `set`.
///
/// Reads take a cheap snapshot (an `Arc` of the current contents); writes replace the contents
/// copy-on-write, so a snapshot being iterated never changes under the reader.
#[derive(Clone, Default)]
pub struct Dict(Arc<RwLock<Arc<BTreeMap<String, Value>>>>);

impl Dict {
    /// A new map with these entries.
    pub fn new(entries: BTreeMap<String, Value>) -> Dict {
        Dict(Arc::new(RwLock::new(Arc::new(entries))))
    }

    /// The current contents.
    pub fn snapshot(&self) -> Arc<BTreeMap<String, Value>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets a key in place (visible to every holder of this map).
    pub fn insert(&self, key: String, value: Value) {
        let mut g = self.0.write().unwrap_or_else(|e| e.into_inner());
        Arc::make_mut(&mut g).insert(key, value);
    }

    /// Removes a key in place.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut g = self.0.write().unwrap_or_else(|e| e.into_inner());
        Arc::make_mut(&mut g).remove(key)
    }

    /// Changes the contents in place.
    pub fn update<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Value>) -> R) -> R {
        let mut g = self.0.write().unwrap_or_else(|e| e.into_inner());
        f(Arc::make_mut(&mut g))
    }

    /// A copy of the contents as a plain map.
    pub fn to_btree(&self) -> BTreeMap<String, Value> {
        (*self.snapshot()).clone()
    }

    /// Whether both are the same Go map.
    pub fn ptr_eq(&self, other: &Dict) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl From<BTreeMap<String, Value>> for Dict {
    fn from(m: BTreeMap<String, Value>) -> Dict {
        Dict::new(m)
    }
}

impl fmt::Debug for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.snapshot().iter()).finish()
    }
}

impl Value {
    /// For an [`Object`] that is a Go map or slice with methods (Helm's `.Files`,
    /// `.Capabilities.APIVersions`), its plain value; any other value as it is.
    pub fn collection_view(&self) -> Value {
        if let Value::Object(o) = self {
            let v = o.to_value();
            if !v.is_nil() {
                return v;
            }
        }
        self.clone()
    }
}
