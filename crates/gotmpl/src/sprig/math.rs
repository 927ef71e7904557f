//! Sprig's arithmetic, number conversion and sequence functions.

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::{int, int_arg, str_arg, to_float64, to_int64};
use super::reg;

/// Longest list `until`/`untilStep`/`seq` may build, so a template cannot exhaust memory.
const MAX_SEQ: i64 = 10_000_000;

fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let mut v = Vec::new();
    let count = if step == 0 {
        0
    } else {
        (stop as i128 - start as i128) / step as i128
    };
    if count > MAX_SEQ as i128 {
        return Err(FuncError::msg(format!(
            "sequence of {count} elements exceeds the limit of {MAX_SEQ}"
        )));
    }
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut i = start;
        while i > stop {
            v.push(i);
            i += step;
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut i = start;
    while i < stop {
        v.push(i);
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(v)
}

fn ints(v: Vec<i64>) -> Value {
    Value::list(v.into_iter().map(int).collect())
}

fn seq(p: &[i64]) -> Result<String, FuncError> {
    let v = match *p {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end + inc, inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end + step, step)?
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(String::new());
                }
            }
            until_step(start, end + inc, step)?
        }
        _ => return Ok(String::new()),
    };
    Ok(v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" "))
}

/// Rounds to the decimal precision `shopspring/decimal` arithmetic would keep.
fn decimal_round(f: f64) -> f64 {
    if !f.is_finite() || f == 0.0 {
        return f;
    }
    format!("{f:.15e}").parse().unwrap_or(f)
}

fn decimal_op(a: &[Value], init: Option<f64>, op: fn(f64, f64) -> f64) -> Value {
    let (mut acc, rest) = match init {
        Some(i) => (i, a),
        None => (
            a.first().map(to_float64).unwrap_or(0.0),
            a.get(1..).unwrap_or(&[]),
        ),
    };
    for x in rest {
        acc = decimal_round(op(acc, to_float64(x)));
    }
    Value::Float(acc)
}

fn go_round(a: &Value, places: i64, round_on: f64) -> f64 {
    let val = to_float64(a);
    let pow = 10f64.powf(places as f64);
    let digit = pow * val;
    let frac = digit.fract();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

pub(crate) fn register(m: &mut FuncMap) {
    register_integers(m);
    register_floats(m);
}

/// Registers the integer conversions and arithmetic.
fn register_integers(m: &mut FuncMap) {
    reg(m, "atoi", |a| {
        Ok(int(str_arg(a.first()).parse::<i64>().unwrap_or(0)))
    });
    reg(m, "int", |a| Ok(int(a.first().map(to_int64).unwrap_or(0))));
    reg(m, "int64", |a| {
        Ok(Value::int64(a.first().map(to_int64).unwrap_or(0)))
    });
    reg(m, "float64", |a| {
        Ok(Value::Float(a.first().map(to_float64).unwrap_or(0.0)))
    });
    reg(m, "toDecimal", |a| {
        let s = super::conv::strval(a.first().unwrap_or(&Value::Nil));
        Ok(Value::int64(i64::from_str_radix(&s, 8).unwrap_or(0)))
    });
    reg(m, "seq", |a| {
        Ok(Value::from(seq(&a
            .iter()
            .map(to_int64)
            .collect::<Vec<_>>())?))
    });
    reg(m, "until", |a| {
        let n = int_arg(a.first());
        Ok(ints(until_step(0, n, if n < 0 { -1 } else { 1 })?))
    });
    reg(m, "untilStep", |a| {
        Ok(ints(until_step(
            int_arg(a.first()),
            int_arg(a.get(1)),
            int_arg(a.get(2)),
        )?))
    });
    reg(m, "add1", |a| {
        Ok(Value::int64(
            a.first().map(to_int64).unwrap_or(0).wrapping_add(1),
        ))
    });
    reg(m, "add", |a| {
        Ok(Value::int64(
            a.iter().map(to_int64).fold(0i64, |x, y| x.wrapping_add(y)),
        ))
    });
    reg(m, "sub", |a| {
        Ok(Value::int64(
            int_arg(a.first()).wrapping_sub(int_arg(a.get(1))),
        ))
    });
    reg(m, "mul", |a| {
        Ok(Value::int64(
            a.iter().map(to_int64).fold(1i64, |x, y| x.wrapping_mul(y)),
        ))
    });
    reg(m, "div", |a| {
        let d = int_arg(a.get(1));
        if d == 0 {
            return Err(FuncError::msg("runtime error: integer divide by zero"));
        }
        Ok(Value::int64(int_arg(a.first()).wrapping_div(d)))
    });
    reg(m, "mod", |a| {
        let d = int_arg(a.get(1));
        if d == 0 {
            return Err(FuncError::msg("runtime error: integer divide by zero"));
        }
        Ok(Value::int64(int_arg(a.first()).wrapping_rem(d)))
    });
    reg(m, "randInt", |a| {
        let (lo, hi) = (int_arg(a.first()), int_arg(a.get(1)));
        if hi <= lo {
            return Err(FuncError::msg("invalid argument to Intn"));
        }
        Ok(int(lo + (super::random::u64() % (hi - lo) as u64) as i64))
    });
}

/// Registers the float arithmetic and rounding.
fn register_floats(m: &mut FuncMap) {
    reg(m, "add1f", |a| {
        Ok(decimal_op(
            &[a.first().cloned().unwrap_or_default(), Value::Float(1.0)],
            None,
            |x, y| x + y,
        ))
    });
    reg(m, "addf", |a| Ok(decimal_op(a, Some(0.0), |x, y| x + y)));
    reg(m, "subf", |a| Ok(decimal_op(a, None, |x, y| x - y)));
    reg(m, "mulf", |a| Ok(decimal_op(a, None, |x, y| x * y)));
    reg(m, "divf", |a| {
        if a.iter().skip(1).any(|v| to_float64(v) == 0.0) {
            return Err(FuncError::msg("decimal division by 0"));
        }
        Ok(decimal_op(a, None, |x, y| x / y))
    });
    for name in ["max", "biggest"] {
        reg(m, name, |a| {
            Ok(Value::int64(a.iter().map(to_int64).max().unwrap_or(0)))
        });
    }
    reg(m, "min", |a| {
        Ok(Value::int64(a.iter().map(to_int64).min().unwrap_or(0)))
    });
    reg(m, "maxf", |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, f64::max),
        ))
    });
    reg(m, "minf", |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::INFINITY, f64::min),
        ))
    });
    reg(m, "ceil", |a| {
        Ok(Value::Float(
            a.first().map(to_float64).unwrap_or(0.0).ceil(),
        ))
    });
    reg(m, "floor", |a| {
        Ok(Value::Float(
            a.first().map(to_float64).unwrap_or(0.0).floor(),
        ))
    });
    reg(m, "round", |a| {
        let on = a.get(2).map(to_float64).unwrap_or(0.5);
        Ok(Value::Float(go_round(
            a.first().unwrap_or(&Value::Nil),
            int_arg(a.get(1)),
            on,
        )))
    });
}
