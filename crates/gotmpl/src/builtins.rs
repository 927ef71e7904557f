//! Go's builtin template functions (`text/template/funcs.go`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::error::FuncError;
use crate::exec::{CallContext, is_true};
use crate::funcs::{Callable, Func};
use crate::gofmt;
use crate::value::Value;

type R = Result<Value, FuncError>;

fn table() -> &'static HashMap<&'static str, Callable> {
    static T: OnceLock<HashMap<&'static str, Callable>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m: HashMap<&'static str, Callable> = HashMap::new();
        let mut add = |name: &'static str, f: fn(&mut CallContext<'_, '_>, &[Value]) -> R| {
            let f: Func = Arc::new(f);
            m.insert(name, Callable::Func(f));
        };
        add("not", |_, a| {
            want(a, 1, "not")?;
            Ok(Value::Bool(!is_true(&a[0])))
        });
        add("len", |_, a| {
            want(a, 1, "len")?;
            length(&a[0])
        });
        add("index", |_, a| {
            at_least(a, 1, "index")?;
            index(&a[0], &a[1..])
        });
        add("slice", |_, a| {
            at_least(a, 1, "slice")?;
            slice(&a[0], &a[1..])
        });
        add("eq", |_, a| {
            at_least(a, 1, "eq")?;
            eq(&a[0], &a[1..]).map(Value::Bool)
        });
        add("ne", |_, a| {
            want(a, 2, "ne")?;
            eq(&a[0], &a[1..]).map(|b| Value::Bool(!b))
        });
        add("lt", |_, a| {
            want(a, 2, "lt")?;
            lt(&a[0], &a[1]).map(Value::Bool)
        });
        add("le", |_, a| {
            want(a, 2, "le")?;
            le(&a[0], &a[1]).map(Value::Bool)
        });
        add("gt", |_, a| {
            want(a, 2, "gt")?;
            le(&a[0], &a[1]).map(|b| Value::Bool(!b))
        });
        add("ge", |_, a| {
            want(a, 2, "ge")?;
            lt(&a[0], &a[1]).map(|b| Value::Bool(!b))
        });
        add("print", |_, a| Ok(Value::from(gofmt::sprint(a))));
        add("println", |_, a| Ok(Value::from(gofmt::sprintln(a))));
        add("printf", |_, a| {
            at_least(a, 1, "printf")?;
            let f = match &a[0] {
                Value::String(s) => s.clone(),
                other => {
                    return Err(FuncError::msg(format!(
                        "wrong type for value; expected string; got {}",
                        other.type_name()
                    )));
                }
            };
            Ok(Value::from(gofmt::sprintf(&f, &a[1..])))
        });
        add("html", |_, a| Ok(Value::from(html_escape(&eval_args(a)))));
        add("js", |_, a| Ok(Value::from(js_escape(&eval_args(a)))));
        add("urlquery", |_, a| {
            Ok(Value::from(query_escape(&eval_args(a))))
        });
        add("call", |_, _| {
            Err(FuncError::msg(
                "call of non-function: template functions cannot be values here",
            ))
        });
        m.insert("and", Callable::And);
        m.insert("or", Callable::Or);
        m
    })
}

/// A Go builtin by name.
pub(crate) fn builtin(name: &str) -> Option<Callable> {
    table().get(name).cloned()
}

fn want(a: &[Value], n: usize, name: &str) -> Result<(), FuncError> {
    if a.len() != n {
        return Err(FuncError::Arity(format!(
            "wrong number of args for {name}: want {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

fn at_least(a: &[Value], n: usize, name: &str) -> Result<(), FuncError> {
    if a.len() < n {
        return Err(FuncError::Arity(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

fn eval_args(a: &[Value]) -> String {
    if let [Value::String(s)] = a {
        return s.to_string();
    }
    gofmt::sprint(a)
}

fn length(v: &Value) -> R {
    let v = &v.collection_view();
    Ok(Value::int(match v {
        Value::String(s) => s.len() as i64,
        Value::Bytes(b) => b.len() as i64,
        Value::List(l) => l.len() as i64,
        Value::Map(m) => m.len() as i64,
        Value::Nil => return Err(FuncError::msg("len of nil pointer")),
        other => return Err(FuncError::msg(format!("len of type {}", other.type_name()))),
    }))
}

fn index_arg(i: &Value, cap: usize) -> Result<usize, FuncError> {
    let x: i64 = match i {
        Value::Int(x, _) => *x,
        Value::Uint(u) => *u as i64,
        Value::Nil => return Err(FuncError::msg("cannot index slice/array with nil")),
        other => {
            return Err(FuncError::msg(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            )));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(FuncError::msg(format!("index out of range: {x}")));
    }
    Ok(x as usize)
}

/// Go's `index`: successive indexing of lists, strings and maps.
pub fn index(item: &Value, idx: &[Value]) -> R {
    if item.is_nil() {
        return Err(FuncError::msg("index of untyped nil"));
    }
    let mut cur = item.collection_view();
    for i in idx {
        cur = match &cur.collection_view() {
            Value::List(l) => {
                let x = index_arg(i, l.len())?;
                l.get(x)
                    .cloned()
                    .ok_or_else(|| FuncError::msg(format!("index out of range: {x}")))?
            }
            Value::String(s) => {
                let x = index_arg(i, s.len())?;
                Value::Uint(
                    *s.as_bytes()
                        .get(x)
                        .ok_or_else(|| FuncError::msg(format!("index out of range: {x}")))?
                        as u64,
                )
            }
            Value::Bytes(b) => {
                let x = index_arg(i, b.len())?;
                Value::Uint(
                    *b.get(x)
                        .ok_or_else(|| FuncError::msg(format!("index out of range: {x}")))?
                        as u64,
                )
            }
            Value::Map(m) => match i {
                Value::String(k) => m.get(k).unwrap_or(Value::Nil),
                Value::Nil => return Err(FuncError::msg("value is nil; should be of type string")),
                other => {
                    return Err(FuncError::msg(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    )));
                }
            },
            Value::Nil => return Err(FuncError::msg("index of nil pointer")),
            other => {
                return Err(FuncError::msg(format!(
                    "can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(cur)
}

fn slice(item: &Value, idx: &[Value]) -> R {
    if item.is_nil() {
        return Err(FuncError::msg("slice of untyped nil"));
    }
    if idx.len() > 3 {
        return Err(FuncError::msg(format!(
            "too many slice indexes: {}",
            idx.len()
        )));
    }
    let len = match item {
        Value::String(s) => {
            if idx.len() == 3 {
                return Err(FuncError::msg("cannot 3-index slice a string"));
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        other => {
            return Err(FuncError::msg(format!(
                "can't slice item of type {}",
                other.type_name()
            )));
        }
    };
    let mut ix = [0, len, len];
    for (k, i) in idx.iter().enumerate() {
        ix[k] = index_arg(i, len)?;
    }
    if ix[0] > ix[1] {
        return Err(FuncError::msg(format!(
            "invalid slice index: {} > {}",
            ix[0], ix[1]
        )));
    }
    if idx.len() == 3 && ix[1] > ix[2] {
        return Err(FuncError::msg(format!(
            "invalid slice index: {} > {}",
            ix[1], ix[2]
        )));
    }
    Ok(match item {
        Value::String(s) => Value::str(s.get(ix[0]..ix[1]).unwrap_or("")),
        Value::List(l) => Value::list(l[ix[0]..ix[1]].to_vec()),
        Value::Bytes(b) => Value::Bytes(Arc::from(&b[ix[0]..ix[1]])),
        _ => Value::Nil,
    })
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(..) => Kind::Int,
        Value::Uint(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Invalid,
    }
}

fn bad_comparison(a: &Value, b: &Value) -> FuncError {
    FuncError::msg(format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    ))
}

/// Go's `eq`: true if the first argument equals any of the others.
pub fn eq(a: &Value, rest: &[Value]) -> Result<bool, FuncError> {
    if rest.is_empty() {
        return Err(FuncError::msg("missing argument for comparison"));
    }
    let k1 = basic_kind(a);
    for b in rest {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (a, b) {
                (Value::Int(x, _), Value::Uint(y)) => *x >= 0 && *x as u64 == *y,
                (Value::Uint(x), Value::Int(y, _)) => *y >= 0 && *x == *y as u64,
                _ => {
                    if !a.is_nil() && !b.is_nil() {
                        return Err(bad_comparison(a, b));
                    }
                    false
                }
            }
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x, _), Value::Int(y, _)) => x == y,
                (Value::Uint(x), Value::Uint(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::String(x), Value::String(y)) => x == y,
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                (Value::List(_) | Value::Bytes(_), _) | (Value::Map(_), _) => {
                    return Err(FuncError::msg(format!(
                        "non-comparable type {}: {}",
                        gofmt::sprintf("%s", std::slice::from_ref(a)),
                        a.type_name()
                    )));
                }
                _ => {
                    if a.type_name() != b.type_name() {
                        return Err(FuncError::msg(format!(
                            "non-comparable types {}: {}, {}: {}",
                            gofmt::sprintf("%s", std::slice::from_ref(a)),
                            a.type_name(),
                            b.type_name(),
                            gofmt::sprint_value(b)
                        )));
                    }
                    a == b
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
pub fn lt(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err(FuncError::msg("invalid type for comparison"));
    }
    if k1 != k2 {
        return match (a, b) {
            (Value::Int(x, _), Value::Uint(y)) => Ok(*x < 0 || (*x as u64) < *y),
            (Value::Uint(x), Value::Int(y, _)) => Ok(*y >= 0 && *x < *y as u64),
            _ => Err(bad_comparison(a, b)),
        };
    }
    Ok(match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => x < y,
        (Value::Uint(x), Value::Uint(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x), Value::String(y)) => x < y,
        _ => return Err(FuncError::msg("invalid type for comparison")),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, FuncError> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\0' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '"' => o.push_str("\\\""),
            '<' => o.push_str("\\u003C"),
            '>' => o.push_str("\\u003E"),
            '&' => o.push_str("\\u0026"),
            '=' => o.push_str("\\u003D"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04X}", c as u32)),
            c if !c.is_ascii() && !gofmt::is_print(c) => {
                o.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => o.push(c),
        }
    }
    o
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}
