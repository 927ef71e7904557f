//! The subset of client-go's JSONPath that printer columns use: `.a.b`, `['a.b']`, `[0]`,
//! `[-1]`, `[*]`, `..name` and filters `[?(@.type=="Ready")]`, with missing keys allowed.

use serde_json::Value;
use thiserror::Error;

/// A JSONPath that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid JSONPath {path:?}: {reason}")]
pub struct JsonPathError {
    /// The path as given.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Recursive(String),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<Step>,
    op: Option<(String, Value)>,
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses a path such as `.status.conditions[?(@.type=="Ready")].status`; surrounding
    /// braces (`{.spec.size}`) are accepted.
    pub fn parse(path: &str) -> Result<JsonPath, JsonPathError> {
        let trimmed = path.trim();
        let inner = trimmed
            .strip_prefix('{')
            .and_then(|p| p.strip_suffix('}'))
            .unwrap_or(trimmed);
        let err = |reason: &str| JsonPathError {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let steps = parse_steps(inner.strip_prefix('$').unwrap_or(inner)).map_err(|r| err(&r))?;
        Ok(JsonPath { steps })
    }

    /// Every value the path selects in `v`, in document order.
    pub fn find<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        let mut cur = vec![v];
        for step in &self.steps {
            cur = apply(step, cur);
            if cur.is_empty() {
                break;
            }
        }
        cur
    }
}

fn parse_steps(s: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' if b.get(i + 1) == Some(&b'.') => {
                let (name, next) = read_name(s, i + 2);
                if name.is_empty() {
                    return Err("expected a field name after ..".into());
                }
                steps.push(Step::Recursive(name));
                i = next;
            }
            b'.' => {
                let (name, next) = read_name(s, i + 1);
                match name.as_str() {
                    "" if next >= b.len() => {}
                    "" => {}
                    "*" => steps.push(Step::Wildcard),
                    _ => steps.push(Step::Field(name)),
                }
                i = next;
            }
            b'[' => {
                let close = matching_bracket(s, i).ok_or("unterminated [")?;
                steps.push(parse_bracket(&s[i + 1..close])?);
                i = close + 1;
            }
            b' ' => i += 1,
            _ => {
                let (name, next) = read_name(s, i);
                if name.is_empty() {
                    return Err(format!("unexpected character at {i}"));
                }
                steps.push(Step::Field(name));
                i = next;
            }
        }
    }
    Ok(steps)
}

fn read_name(s: &str, start: usize) -> (String, usize) {
    let rest = &s[start.min(s.len())..];
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    (rest[..end].trim().to_string(), start + end)
}

/// The index of the `]` closing the `[` at `open`, skipping quoted text and nested brackets.
fn matching_bracket(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (off, c) in s[open..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + off);
                }
            }
            _ => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    let q = s.chars().next()?;
    if (q == '\'' || q == '"') && s.len() >= 2 && s.ends_with(q) {
        Some(s[1..s.len() - 1].to_string())
    } else {
        None
    }
}

fn parse_bracket(inner: &str) -> Result<Step, String> {
    let t = inner.trim();
    if t == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(name) = unquote(t) {
        return Ok(Step::Field(name));
    }
    if let Some(f) = t.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return parse_filter(f).map(Step::Filter);
    }
    t.parse::<i64>()
        .map(Step::Index)
        .map_err(|_| format!("unsupported subscript [{t}]"))
}

fn parse_filter(f: &str) -> Result<Filter, String> {
    let ops = ["==", "!=", "<=", ">=", "<", ">"];
    let found = ops
        .iter()
        .filter_map(|op| f.find(op).map(|at| (at, *op)))
        .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())));
    let (lhs, op) = match found {
        Some((at, op)) => (&f[..at], Some((op, &f[at + op.len()..]))),
        None => (f, None),
    };
    let lhs = lhs.trim();
    let rel = lhs.strip_prefix('@').ok_or("filters must start with @")?;
    let path = parse_steps(rel)?;
    let op = match op {
        Some((op, rhs)) => {
            let rhs = rhs.trim();
            let lit = match unquote(rhs) {
                Some(s) => Value::String(s),
                None => serde_json::from_str(rhs).map_err(|_| format!("bad literal {rhs}"))?,
            };
            Some((op.to_string(), lit))
        }
        None => None,
    };
    Ok(Filter { path, op })
}

fn apply<'a>(step: &Step, cur: Vec<&'a Value>) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for v in cur {
        match step {
            Step::Field(name) => {
                if let Some(x) = v.get(name.as_str()) {
                    out.push(x);
                }
            }
            Step::Index(i) => {
                if let Some(a) = v.as_array() {
                    let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                    if let Some(x) = usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                        out.push(x);
                    }
                }
            }
            Step::Wildcard => match v {
                Value::Array(a) => out.extend(a.iter()),
                Value::Object(o) => out.extend(o.values()),
                _ => {}
            },
            Step::Recursive(name) => collect_recursive(v, name, &mut out),
            Step::Filter(f) => {
                let items: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    Value::Object(o) => o.values().collect(),
                    _ => Vec::new(),
                };
                out.extend(items.into_iter().filter(|item| matches(f, item)));
            }
        }
    }
    out
}

fn collect_recursive<'a>(v: &'a Value, name: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(o) => {
            if let Some(x) = o.get(name) {
                out.push(x);
            }
            for child in o.values() {
                collect_recursive(child, name, out);
            }
        }
        Value::Array(a) => {
            for child in a {
                collect_recursive(child, name, out);
            }
        }
        _ => {}
    }
}

fn matches(f: &Filter, item: &Value) -> bool {
    let found = JsonPath {
        steps: f.path.clone(),
    }
    .find(item);
    let Some((op, lit)) = &f.op else {
        return !found.is_empty();
    };
    found.iter().any(|x| compare(x, op, lit))
}

fn compare(x: &Value, op: &str, lit: &Value) -> bool {
    let ord = match (x, lit) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match (op, ord) {
        ("==", Some(o)) => o.is_eq(),
        ("!=", Some(o)) => o.is_ne(),
        ("!=", None) => true,
        ("<", Some(o)) => o.is_lt(),
        ("<=", Some(o)) => o.is_le(),
        (">", Some(o)) => o.is_gt(),
        (">=", Some(o)) => o.is_ge(),
        _ => false,
    }
}
