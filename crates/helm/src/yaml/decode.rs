//! YAML → [`Value`] the way Helm reads YAML (`sigs.k8s.io/yaml`): yaml.v2 decodes the document,
//! it is converted to JSON, and `encoding/json` decodes that — so every number ends up a
//! `float64`, YAML 1.1 booleans (`yes`, `on`) are booleans, and timestamps stay strings.

use std::collections::{BTreeMap, HashMap};

use gotmpl::Value;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::resolve::{Resolved, resolve};

/// A YAML document that Helm could not read.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("yaml: line {line}: {message}")]
pub struct YamlError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Nesting deeper than this is refused (protects the recursive decoder).
const MAX_DEPTH: usize = 512;
/// Alias expansions allowed per document (protects against "billion laughs").
const MAX_ALIAS_NODES: usize = 100_000;

struct Decoder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: HashMap<usize, Value>,
    alias_budget: usize,
}

fn err(mark: Marker, message: impl Into<String>) -> YamlError {
    YamlError {
        line: mark.line(),
        message: message.into(),
    }
}

impl Decoder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), YamlError> {
        self.parser.next_token().map_err(|e| YamlError {
            line: e.marker().line(),
            message: e.info().to_string(),
        })
    }

    /// Reads the node that starts with `ev`.
    fn node(&mut self, ev: Event, mark: Marker, depth: usize) -> Result<Value, YamlError> {
        if depth > MAX_DEPTH {
            return Err(err(mark, "document nested too deeply"));
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = scalar(&text, style, tag.as_ref().map(|t| t.suffix.as_str()), mark)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::Alias(id) => {
                let v = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| err(mark, "unknown anchor"))?;
                let cost = node_count(&v);
                if cost > self.alias_budget {
                    return Err(err(mark, "document contains excessive aliasing"));
                }
                self.alias_budget -= cost;
                Ok(v)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, m, depth + 1)?);
                }
                let v = Value::list(items);
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = BTreeMap::new();
                loop {
                    let (ev, m) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge =
                        matches!(&ev, Event::Scalar(t, TScalarStyle::Plain, _, None) if t == "<<");
                    let key = self.node(ev, m, depth + 1)?;
                    let (vev, vm) = self.next()?;
                    let value = self.node(vev, vm, depth + 1)?;
                    if is_merge {
                        merge_into(&mut map, &value, m)?;
                        continue;
                    }
                    map.insert(key_string(&key), value);
                }
                let v = Value::map(map);
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            _ => Err(err(mark, "unexpected YAML event")),
        }
    }
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::List(l) => 1 + l.iter().map(node_count).sum::<usize>(),
        Value::Map(m) => 1 + m.snapshot().values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

fn merge_into(
    map: &mut BTreeMap<String, Value>,
    value: &Value,
    mark: Marker,
) -> Result<(), YamlError> {
    match value {
        Value::Map(m) => {
            for (k, v) in m.snapshot().iter() {
                map.insert(k.clone(), v.clone());
            }
            Ok(())
        }
        Value::List(items) => {
            // yaml.v2 merges a list of maps so that earlier maps win.
            for item in items.iter().rev() {
                merge_into(map, item, mark)?;
            }
            Ok(())
        }
        _ => Err(err(
            mark,
            "map merge requires map or sequence of maps as the value",
        )),
    }
}

/// How sigs.k8s.io/yaml turns a non-string key into a JSON object key.
fn key_string(key: &Value) -> String {
    match key {
        Value::String(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                format!("{}", *f as i64)
            } else {
                gofmt::format_float(*f, 'g', -1)
            }
        }
        Value::Nil => "null".into(),
        other => format!("{other:?}"),
    }
}

fn scalar(
    text: &str,
    style: TScalarStyle,
    tag: Option<&str>,
    mark: Marker,
) -> Result<Value, YamlError> {
    if let Some(tag) = tag {
        match tag {
            "str" => return Ok(Value::str(text)),
            "bool" | "int" | "float" | "null" => {}
            "binary" => return Ok(Value::str(text)),
            _ => {}
        }
    }
    if !matches!(style, TScalarStyle::Plain) {
        return Ok(Value::str(text));
    }
    Ok(match resolve(text) {
        Resolved::Null => Value::Nil,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::Float(i as f64),
        Resolved::Uint(u) => Value::Float(u as f64),
        Resolved::Float(f) => {
            if !f.is_finite() {
                return Err(err(
                    mark,
                    "error converting YAML to JSON: json: unsupported value",
                ));
            }
            Value::Float(f)
        }
        Resolved::Merge | Resolved::Timestamp | Resolved::Str => Value::str(text),
    })
}

/// Parses every document of a YAML stream (`Nil` for an empty document).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let mut d = Decoder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        alias_budget: MAX_ALIAS_NODES,
    };
    let mut docs = Vec::new();
    loop {
        let (ev, mark) = d.next()?;
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart => {
                let (ev, mark) = d.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Value::Nil);
                    continue;
                }
                docs.push(d.node(ev, mark, 0)?);
                d.anchors.clear();
            }
            other => {
                let v = d.node(other, mark, 0)?;
                docs.push(v);
            }
        }
    }
    Ok(docs)
}

/// `yaml.Unmarshal` into `interface{}`: the first document only.
pub fn parse_value(text: &str) -> Result<Value, YamlError> {
    Ok(parse_documents(text)?
        .into_iter()
        .next()
        .unwrap_or(Value::Nil))
}

/// `yaml.Unmarshal` into `map[string]interface{}`: an empty document is an empty map.
pub fn parse_map(text: &str) -> Result<BTreeMap<String, Value>, YamlError> {
    match parse_value(text)? {
        Value::Nil => Ok(BTreeMap::new()),
        Value::Map(m) => Ok(m.to_btree()),
        other => Err(YamlError {
            line: 1,
            message: format!(
                "error unmarshaling JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            ),
        }),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "array",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        _ => "number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_float64() {
        let v = parse_value("a: 3\nb: 1.5\nc: '3'\nd: yes\ne: ~\nf: 2001-01-01\n").ok();
        let m = v
            .as_ref()
            .and_then(|v| v.as_map())
            .map(|m| (*m).clone())
            .unwrap_or_default();
        assert_eq!(m.get("a"), Some(&Value::Float(3.0)));
        assert_eq!(m.get("b"), Some(&Value::Float(1.5)));
        assert_eq!(m.get("c"), Some(&Value::str("3")));
        assert_eq!(m.get("d"), Some(&Value::Bool(true)));
        assert_eq!(m.get("e"), Some(&Value::Nil));
        assert_eq!(m.get("f"), Some(&Value::str("2001-01-01")));
    }

    #[test]
    fn anchors_and_merge_keys() {
        let v = parse_value("base: &b {x: 1, w: 2}\nd:\n  <<: *b\n  w: 3\n").ok();
        let d = v
            .as_ref()
            .and_then(|v| v.as_map())
            .and_then(|m| m.get("d").cloned());
        let d = d
            .and_then(|d| d.as_map())
            .map(|m| (*m).clone())
            .unwrap_or_default();
        assert_eq!(d.get("x"), Some(&Value::Float(1.0)));
        assert_eq!(d.get("w"), Some(&Value::Float(3.0)));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse_value(&doc).is_err());
    }

    #[test]
    fn non_string_keys() {
        let v = parse_value("1: a\ntrue: b\n").ok();
        let m = v
            .as_ref()
            .and_then(|v| v.as_map())
            .map(|m| (*m).clone())
            .unwrap_or_default();
        assert!(m.contains_key("1") && m.contains_key("true"));
    }
}
