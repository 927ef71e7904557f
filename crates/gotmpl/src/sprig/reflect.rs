//! Sprig's reflection: Go type and kind names of template values, and `deepEqual`.

use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::str_arg;
use super::reg;

/// Registers the reflection functions.
pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "typeOf", |a| {
        Ok(Value::from(a.first().unwrap_or(&Value::Nil).type_name()))
    });
    reg(m, "typeIs", |a| {
        Ok(Value::Bool(
            str_arg(a.first()) == a.get(1).unwrap_or(&Value::Nil).type_name(),
        ))
    });
    reg(m, "typeIsLike", |a| {
        let t = a.get(1).unwrap_or(&Value::Nil).type_name();
        let target = str_arg(a.first());
        Ok(Value::Bool(target == t || format!("*{target}") == t))
    });
    reg(m, "kindOf", |a| {
        Ok(Value::str(a.first().unwrap_or(&Value::Nil).kind_name()))
    });
    reg(m, "kindIs", |a| {
        Ok(Value::Bool(
            str_arg(a.first()) == a.get(1).unwrap_or(&Value::Nil).kind_name(),
        ))
    });
    reg(m, "deepEqual", |a| Ok(Value::Bool(a.first() == a.get(1))));
}
