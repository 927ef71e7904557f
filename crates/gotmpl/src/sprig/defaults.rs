//! Sprig's defaults and flow: `default`, `empty`, `coalesce`, `all`, `any`, `ternary`,
//! `fail`, and the `getHostByName` that templates may not use.

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::{empty, str_arg};
use super::reg;

/// Registers the defaults and flow functions.
pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "default", |a| {
        let given = a.get(1);
        Ok(match given {
            Some(g) if !empty(g) => g.clone(),
            _ => a.first().cloned().unwrap_or_default(),
        })
    });
    reg(m, "empty", |a| Ok(Value::Bool(a.first().is_none_or(empty))));
    reg(m, "coalesce", |a| {
        Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or_default())
    });
    reg(m, "all", |a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    reg(m, "any", |a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    reg(m, "ternary", |a| {
        // Go declares the condition `bool`; text/template refuses anything else.
        let c = match a.get(2) {
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(FuncError::Arity(format!(
                    "wrong type for value; expected bool; got {}",
                    other.type_name()
                )));
            }
            None => false,
        };
        Ok(if c { a.first() } else { a.get(1) }
            .cloned()
            .unwrap_or_default())
    });
    reg(m, "fail", |a| Err(FuncError::Msg(str_arg(a.first()))));
    reg(m, "getHostByName", |a| {
        Err(FuncError::msg(format!(
            "lookup {}: name resolution is disabled in templates",
            str_arg(a.first())
        )))
    });
    reg(m, "hello", |_| Ok(Value::str("Hello!")));
}
