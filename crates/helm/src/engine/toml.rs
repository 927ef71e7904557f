//! `toToml` / `fromToml` (BurntSushi/toml as Helm uses it): plain keys first, then tables,
//! nested tables indented by two spaces per level.

use std::collections::BTreeMap;

use gotmpl::Value;

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match gofmt::short_escape(c) {
            Some(e) => out.push_str(e),
            None if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            None => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

fn scalar(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i, _) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                "nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            } else {
                let s = format!("{f}");
                if s.contains(['.', 'e', 'E']) {
                    s
                } else {
                    format!("{s}.0")
                }
            }
        }
        Value::String(s) => quote(s),
        Value::Bytes(b) => quote(&String::from_utf8_lossy(b)),
        Value::List(items) => {
            let parts: Result<Vec<String>, String> = items.iter().map(scalar).collect();
            format!("[{}]", parts?.join(", "))
        }
        Value::Map(m) => {
            let parts: Result<Vec<String>, String> = m
                .snapshot()
                .iter()
                .filter(|(_, v)| !v.is_nil())
                .map(|(k, v)| Ok(format!("{} = {}", key(k), scalar(v)?)))
                .collect();
            format!("{{{}}}", parts?.join(", "))
        }
        Value::Object(o) => scalar(&o.to_value())?,
        Value::Nil => return Err("toml: cannot encode a nil value".into()),
    })
}

fn is_table_array(v: &Value) -> bool {
    matches!(v, Value::List(l) if !l.is_empty() && l.iter().all(|x| x.as_map().is_some()))
}

fn table(
    out: &mut String,
    path: &[String],
    m: &BTreeMap<String, Value>,
    depth: usize,
) -> Result<(), String> {
    let indent = "  ".repeat(depth);
    for (k, v) in m {
        if v.is_nil() || v.as_map().is_some() || is_table_array(v) {
            continue;
        }
        out.push_str(&format!("{indent}{} = {}\n", key(k), scalar(v)?));
    }
    for (k, v) in m {
        let mut p = path.to_vec();
        p.push(key(k));
        let head_indent = "  ".repeat(depth);
        if let Value::Map(sub) = v {
            out.push_str(&format!("\n{head_indent}[{}]\n", p.join(".")));
            table(out, &p, &sub.snapshot(), depth + 1)?;
        } else if is_table_array(v) {
            for item in v.as_list().unwrap_or_default() {
                out.push_str(&format!("\n{head_indent}[[{}]]\n", p.join(".")));
                if let Some(sub) = item.as_map() {
                    table(out, &p, &sub, depth + 1)?;
                }
            }
        }
    }
    Ok(())
}

/// Encodes a map as TOML (errors come back as text, like Helm's `toToml`).
pub fn encode(v: &Value) -> Result<String, String> {
    let resolved = match v {
        Value::Object(o) => o.to_value(),
        other => other.clone(),
    };
    let Value::Map(m) = resolved else {
        return Err("toml: top-level values must be Go maps or structs".into());
    };
    let mut out = String::new();
    table(&mut out, &[], &m.snapshot(), 0)?;
    Ok(out)
}

fn from_toml(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::str(s.as_str()),
        toml::Value::Integer(i) => Value::Int(*i, gotmpl::IntKind::Int64),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::str(d.to_string()),
        toml::Value::Array(a) => Value::list(a.iter().map(from_toml).collect()),
        toml::Value::Table(t) => {
            Value::map(t.iter().map(|(k, v)| (k.clone(), from_toml(v))).collect())
        }
    }
}

/// `fromToml`: a map, or `{"Error": …}` for invalid input.
pub fn decode(s: &str) -> Value {
    match s.parse::<toml::Table>() {
        Ok(t) => Value::map(t.iter().map(|(k, v)| (k.clone(), from_toml(v))).collect()),
        Err(e) => {
            let mut m = BTreeMap::new();
            m.insert("Error".to_string(), Value::str(e.to_string()));
            Value::map(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_burntsushi() {
        let v = crate::yaml::parse_value("a: x\nb: {c: z}\n").unwrap_or_default();
        assert_eq!(
            encode(&v).ok().as_deref(),
            Some("a = \"x\"\n\n[b]\n  c = \"z\"\n")
        );
    }
}
