//! Helm's own template functions (`pkg/engine/funcs.go`), registered over Sprig's.

use std::collections::BTreeMap;

use gotmpl::{CallContext, FuncError, FuncMap, Value};

use crate::yaml;

/// Marks messages of `required`/`fail` so the engine can report them without Go's context.
pub const WARN_START: &str = "HELM_ERR_START";
/// End marker, see [`WARN_START`].
pub const WARN_END: &str = "HELM_ERR_END";

/// Standard base64 (`encoding/base64.StdEncoding`).
pub fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn arg(args: &[Value], i: usize, want: usize) -> Result<&Value, FuncError> {
    if args.len() != want {
        return Err(FuncError::msg(format!(
            "wrong number of args: got {} want {want}",
            args.len()
        )));
    }
    Ok(&args[i])
}

fn str_of(v: &Value) -> Result<String, FuncError> {
    match v {
        Value::String(s) => Ok(s.to_string()),
        other => Err(FuncError::msg(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

fn error_map(msg: String) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::str(msg));
    Value::map(m)
}

fn from_yaml(s: &str) -> Value {
    match yaml::parse_map(s) {
        Ok(m) => Value::map(m),
        Err(e) => error_map(format!("error converting YAML to JSON: {e}")),
    }
}

fn from_yaml_array(s: &str) -> Value {
    match yaml::parse_value(s) {
        Ok(Value::List(l)) => Value::List(l),
        Ok(Value::Nil) => Value::list(vec![]),
        Ok(other) => Value::list(vec![Value::str(format!(
            "error unmarshaling JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            if other.as_map().is_some() {
                "object"
            } else {
                "string"
            }
        ))]),
        Err(e) => Value::list(vec![Value::str(format!(
            "error converting YAML to JSON: {e}"
        ))]),
    }
}

fn from_json(s: &str, array: bool) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v @ serde_json::Value::Object(_)) if !array => crate::values::strvals::json_to_value(&v),
        Ok(v @ serde_json::Value::Array(_)) if array => crate::values::strvals::json_to_value(&v),
        Ok(serde_json::Value::Null) => {
            if array {
                Value::list(vec![])
            } else {
                Value::map(BTreeMap::new())
            }
        }
        Ok(_) => {
            let msg = "json: cannot unmarshal value into Go value of wrong type".to_string();
            if array {
                Value::list(vec![Value::str(msg)])
            } else {
                error_map(msg)
            }
        }
        Err(e) => {
            let msg = e.to_string();
            if array {
                Value::list(vec![Value::str(msg)])
            } else {
                error_map(msg)
            }
        }
    }
}

/// Replaces `<no value>` like Helm does after every execution.
pub fn strip_no_value(s: String) -> String {
    if s.contains("<no value>") {
        s.replace("<no value>", "")
    } else {
        s
    }
}

/// Registers Helm's functions into `f` (over Sprig's of the same name).
pub fn register(f: &mut FuncMap) {
    f.remove("env");
    f.remove("expandenv");
    f.insert("toYaml", |_, a| {
        Ok(Value::str(yaml::to_yaml(arg(a, 0, 1)?).unwrap_or_default()))
    });
    f.insert("mustToYaml", |_, a| {
        yaml::to_yaml(arg(a, 0, 1)?)
            .map(Value::str)
            .map_err(|e| FuncError::msg(e.to_string()))
    });
    f.insert("toYamlPretty", |_, a| {
        Ok(Value::str(
            crate::yaml::emit::to_yaml_pretty(arg(a, 0, 1)?).unwrap_or_default(),
        ))
    });
    f.insert("fromYaml", |_, a| Ok(from_yaml(&str_of(arg(a, 0, 1)?)?)));
    f.insert("fromYamlArray", |_, a| {
        Ok(from_yaml_array(&str_of(arg(a, 0, 1)?)?))
    });
    f.insert("toJson", |_, a| {
        Ok(Value::str(
            super::to_json(arg(a, 0, 1)?).unwrap_or_default(),
        ))
    });
    f.insert("mustToJson", |_, a| {
        super::to_json(arg(a, 0, 1)?)
            .map(Value::str)
            .map_err(FuncError::msg)
    });
    f.insert("fromJson", |_, a| {
        Ok(from_json(&str_of(arg(a, 0, 1)?)?, false))
    });
    f.insert("fromJsonArray", |_, a| {
        Ok(from_json(&str_of(arg(a, 0, 1)?)?, true))
    });
    f.insert("toToml", |_, a| {
        Ok(Value::str(
            super::toml::encode(arg(a, 0, 1)?).unwrap_or_else(|e| e),
        ))
    });
    f.insert("mustToToml", |_, a| {
        super::toml::encode(arg(a, 0, 1)?)
            .map(Value::str)
            .map_err(FuncError::msg)
    });
    f.insert("fromToml", |_, a| {
        Ok(super::toml::decode(&str_of(arg(a, 0, 1)?)?))
    });
    f.insert("lookup", |_, a| {
        if a.len() != 4 {
            return Err(FuncError::msg(format!(
                "wrong number of args: got {} want 4",
                a.len()
            )));
        }
        Ok(Value::map(BTreeMap::new()))
    });
    f.insert("getHostByName", |_, _| Ok(Value::str("")));
    f.insert("required", |_, a| {
        if a.len() != 2 {
            return Err(FuncError::msg(format!(
                "wrong number of args: got {} want 2",
                a.len()
            )));
        }
        let warn = str_of(&a[0])?;
        match &a[1] {
            Value::Nil => Err(FuncError::msg(format!("{WARN_START}{warn}{WARN_END}"))),
            Value::String(s) if s.is_empty() => {
                Err(FuncError::msg(format!("{WARN_START}{warn}{WARN_END}")))
            }
            v => Ok(v.clone()),
        }
    });
    f.insert("fail", |_, a| {
        let msg = str_of(arg(a, 0, 1)?)?;
        Err(FuncError::msg(format!("{WARN_START}{msg}{WARN_END}")))
    });
    f.insert("include", |ctx: &mut CallContext<'_, '_>, a: &[Value]| {
        if a.len() != 2 {
            return Err(FuncError::msg(format!(
                "wrong number of args: got {} want 2",
                a.len()
            )));
        }
        let name = str_of(&a[0])?;
        let out = ctx.execute_template(&name, &a[1])?;
        Ok(Value::str(out))
    });
    f.insert("tpl", |ctx: &mut CallContext<'_, '_>, a: &[Value]| {
        if a.len() != 2 {
            return Err(FuncError::msg(format!(
                "wrong number of args: got {} want 2",
                a.len()
            )));
        }
        let source = str_of(&a[0])?;
        // Helm parses `tpl` text as a template named after the root set ("gotpl"), so errors
        // inside it read `template: gotpl:LINE:…`.
        let out = ctx
            .execute_source("gotpl", &source, &a[1])
            .map_err(|e| match e {
                FuncError::Template(t) if matches!(*t, gotmpl::TemplateError::Limit(_)) => {
                    FuncError::Template(t)
                }
                FuncError::Template(t) if matches!(*t, gotmpl::TemplateError::Parse { .. }) => {
                    FuncError::msg(format!(
                        "cannot parse template {}: {t}",
                        gotmpl::gofmt::quote(&source)
                    ))
                }
                other => FuncError::msg(format!(
                    "error during tpl function execution for {}: {other}",
                    gotmpl::gofmt::quote(&source)
                )),
            })?;
        Ok(Value::str(strip_no_value(out)))
    });
}

/// The names [`register`] adds (for the function table in `docs/helm-functions.md`).
pub const HELM_FUNCTIONS: &[&str] = &[
    "toYaml",
    "mustToYaml",
    "toYamlPretty",
    "fromYaml",
    "fromYamlArray",
    "toJson",
    "mustToJson",
    "fromJson",
    "fromJsonArray",
    "toToml",
    "mustToToml",
    "fromToml",
    "lookup",
    "getHostByName",
    "required",
    "fail",
    "include",
    "tpl",
];
