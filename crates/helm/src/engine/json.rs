//! Go's `encoding/json` output for template values (`toJson`, `mustToJson`): sorted keys,
//! HTML-safe escaping, Go float formatting, `[]byte` as base64.

use gotmpl::Value;

use crate::yaml::gofmt::json_float;

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write(out: &mut String, v: &Value, depth: usize) -> Result<(), String> {
    if depth > 10_000 {
        return Err("json: value nested too deeply".into());
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, _) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => {
            out.push_str(&json_float(*f).ok_or_else(|| format!("json: unsupported value: {f}"))?)
        }
        Value::String(s) => escape_into(out, s),
        Value::Bytes(b) => {
            out.push('"');
            out.push_str(&crate::engine::funcs::base64_encode(b));
            out.push('"');
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.snapshot().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escape_into(out, k);
                out.push(':');
                write(out, item, depth + 1)?;
            }
            out.push('}');
        }
        Value::Object(o) => write(out, &o.to_value(), depth + 1)?,
    }
    Ok(())
}

/// `json.Marshal(v)`.
pub fn marshal(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write(&mut out, v, 0)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn like_go() {
        let mut m = BTreeMap::new();
        m.insert("h".to_string(), Value::str("<a&b>"));
        m.insert("f".to_string(), Value::Float(1.5));
        m.insert("i".to_string(), Value::int(3));
        m.insert("n".to_string(), Value::Nil);
        assert_eq!(
            marshal(&Value::map(m)).ok().as_deref(),
            Some(r#"{"f":1.5,"h":"\u003ca\u0026b\u003e","i":3,"n":null}"#)
        );
    }
}
