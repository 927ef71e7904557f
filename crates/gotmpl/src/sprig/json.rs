//! Go's `encoding/json` output for template values (`toJson`, `toPrettyJson`, `toRawJson`) and
//! input (`fromJson`: numbers become `float64`, as in Go).

use std::collections::BTreeMap;

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::str_arg;
use super::reg;

/// Encodes like `json.Marshal` (`escape_html`: `<>&` as `\u003c`…); `indent` like
/// `json.MarshalIndent(v, "", indent)`.
pub fn to_json(v: &Value, escape_html: bool, indent: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    write(&mut out, v, escape_html, indent, 0, 0)?;
    Ok(out)
}

fn newline(out: &mut String, indent: Option<&str>, level: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn write(
    out: &mut String,
    v: &Value,
    esc: bool,
    indent: Option<&str>,
    level: usize,
    depth: usize,
) -> Result<(), String> {
    if depth > 10_000 {
        return Err("json: unsupported value: encountered a cycle".into());
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, _) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&float(*f)?),
        Value::String(s) => quote_into(out, s, esc),
        Value::Bytes(b) => {
            use base64::Engine;
            quote_into(
                out,
                &base64::engine::general_purpose::STANDARD.encode(b),
                esc,
            )
        }
        Value::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write(out, e, esc, indent, level + 1, depth + 1)?;
            }
            if !l.is_empty() {
                newline(out, indent, level);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let m = m.snapshot();
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                quote_into(out, k, esc);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(out, e, esc, indent, level + 1, depth + 1)?;
            }
            if !m.is_empty() {
                newline(out, indent, level);
            }
            out.push('}');
        }
        Value::Object(o) => write(out, &o.to_value(), esc, indent, level, depth + 1)?,
    }
    Ok(())
}

/// A float as `encoding/json` writes it; NaN and infinities are refused as Go refuses them.
pub fn float(f: f64) -> Result<String, String> {
    ::gofmt::json_float(f).ok_or_else(|| {
        format!(
            "json: unsupported value: {}",
            ::gofmt::format_float(f, 'g', -1)
        )
    })
}

fn quote_into(out: &mut String, s: &str, esc: bool) {
    out.push('"');
    for c in s.chars() {
        if let Some(e) = ::gofmt::short_escape(c) {
            out.push_str(e);
            continue;
        }
        match c {
            '<' | '>' | '&' if esc => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decodes JSON like `json.Unmarshal` into `interface{}`.
pub fn from_json(s: &str) -> Result<Value, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    Ok(from_serde(&v))
}

/// Converts a `serde_json` value (numbers become `float64`).
pub fn from_serde(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s.as_str()),
        serde_json::Value::Array(a) => Value::list(a.iter().map(from_serde).collect()),
        serde_json::Value::Object(o) => {
            let m: BTreeMap<String, Value> =
                o.iter().map(|(k, v)| (k.clone(), from_serde(v))).collect();
            Value::map(m)
        }
    }
}

/// Registers the JSON functions (`toJson` and its pretty, raw and `must` forms, `fromJson`).
pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "fromJson", |a| {
        Ok(from_json(&str_arg(a.first())).unwrap_or(Value::Nil))
    });
    reg(m, "mustFromJson", |a| {
        from_json(&str_arg(a.first())).map_err(FuncError::Msg)
    });
    reg(m, "toJson", |a| {
        Ok(Value::from(
            to_json(a.first().unwrap_or(&Value::Nil), true, None).unwrap_or_default(),
        ))
    });
    reg(m, "mustToJson", |a| {
        Ok(Value::from(to_json(
            a.first().unwrap_or(&Value::Nil),
            true,
            None,
        )?))
    });
    reg(m, "toPrettyJson", |a| {
        Ok(Value::from(
            to_json(a.first().unwrap_or(&Value::Nil), true, Some("  ")).unwrap_or_default(),
        ))
    });
    reg(m, "mustToPrettyJson", |a| {
        Ok(Value::from(to_json(
            a.first().unwrap_or(&Value::Nil),
            true,
            Some("  "),
        )?))
    });
    reg(m, "toRawJson", |a| {
        Ok(Value::from(
            to_json(a.first().unwrap_or(&Value::Nil), false, None).unwrap_or_default(),
        ))
    });
    reg(m, "mustToRawJson", |a| {
        Ok(Value::from(to_json(
            a.first().unwrap_or(&Value::Nil),
            false,
            None,
        )?))
    });
}
