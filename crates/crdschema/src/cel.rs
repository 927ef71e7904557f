//! `x-kubernetes-validations`: CEL rules compiled once per schema and evaluated against an
//! object (and its old version for transition rules), with the Kubernetes CEL libraries from
//! `kube-cel` on top of the `cel` interpreter.

use std::collections::HashMap;
use std::sync::Arc;

use apimachinery::FieldError;
use base64::Engine;
use kube_cel::KubeCelExt;
use kube_cel::cel::objects::{Key, Map, OptionalValue};
use kube_cel::cel::{Context, Program, Value as Cel};
use serde_json::Value;

use crate::node::{Additional, Node, Type};
use crate::path::child;

/// One compiled `x-kubernetes-validations` entry.
#[derive(Debug)]
pub(crate) struct Rule {
    source: String,
    program: Program,
    message: Option<String>,
    message_expression: Option<Program>,
    reason: Option<String>,
    field_path: Option<String>,
    transition: bool,
    optional_old_self: bool,
}

const REASONS: [&str; 4] = [
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

/// A problem with one rule: the sub-field, the offending value, and kube's detail (an
/// empty detail means the rule is missing).
pub(crate) type RuleProblem = (&'static str, Value, String);

/// Compiles one rule object; `node` is the schema it is attached to.
pub(crate) fn compile_rule(raw: &Value, _node: &Node) -> Result<Rule, Vec<RuleProblem>> {
    let mut problems = Vec::new();
    let source = raw.get("rule").and_then(Value::as_str).unwrap_or_default();
    if source.trim().is_empty() {
        problems.push(("rule", Value::from(""), String::new()));
    }
    let program = match Program::compile(source) {
        Ok(p) => Some(p),
        Err(e) => {
            if !source.trim().is_empty() {
                problems.push((
                    "rule",
                    Value::from(source),
                    format!("compilation failed: {}", one_line(&e.to_string())),
                ));
            }
            None
        }
    };
    let message = raw
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .map(String::from);
    if let Some(m) = &message
        && m.contains('\n')
    {
        problems.push((
            "message",
            Value::from(m.as_str()),
            "message must not contain line breaks".to_string(),
        ));
    }
    let message_expression = match raw.get("messageExpression").and_then(Value::as_str) {
        Some(src) if !src.trim().is_empty() => match Program::compile(src) {
            Ok(p) => Some(p),
            Err(e) => {
                problems.push((
                    "messageExpression",
                    Value::from(src),
                    format!(
                        "messageExpression compilation failed: {}",
                        one_line(&e.to_string())
                    ),
                ));
                None
            }
        },
        _ => None,
    };
    let reason = raw.get("reason").and_then(Value::as_str).map(String::from);
    if let Some(r) = &reason
        && !REASONS.contains(&r.as_str())
    {
        let quoted: Vec<String> = REASONS.iter().map(|r| format!("{r:?}")).collect();
        problems.push((
            "reason",
            Value::from(r.as_str()),
            format!("supported values: {}", quoted.join(", ")),
        ));
    }
    let field_path = raw
        .get("fieldPath")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(normalize_field_path);
    let optional_old_self = raw
        .get("optionalOldSelf")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match program {
        Some(program) if problems.is_empty() => {
            let transition = program.references().has_variable("oldSelf");
            Ok(Rule {
                source: source.to_string(),
                program,
                message,
                message_expression,
                reason,
                field_path,
                transition,
                optional_old_self,
            })
        }
        _ => Err(problems),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `.spec.foo['bar']` → `spec.foo.bar`, the way kube prints a rule's `fieldPath`.
fn normalize_field_path(p: &str) -> String {
    let mut out = String::new();
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").unwrap_or(r.len());
            out = child(&out, &r[..end]);
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out = child(&out, &r[..end]);
            rest = &r[end..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out = child(&out, &rest[..end]);
            rest = &rest[end..];
            if end == 0 {
                // An unparseable character: keep the rest verbatim rather than loop.
                out.push_str(rest);
                break;
            }
        }
    }
    out
}

thread_local! {
    /// The standard library plus the Kubernetes libraries; built once per thread because
    /// registering every function takes longer than evaluating a typical rule.
    static BASE: Context<'static> = {
        let mut ctx = Context::default();
        ctx.register_all();
        ctx
    };
}

/// Evaluates the rules of `node` against `value` (and `old`, when the old object has a
/// correlated value here), appending kube's field errors.
pub(crate) fn evaluate(
    node: &Node,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    root: bool,
    errors: &mut Vec<FieldError>,
) {
    if node.rules.is_empty() {
        return;
    }
    let this = to_cel(Some(node), value, root);
    let previous = old.map(|o| to_cel(Some(node), o, root));
    BASE.with(|base| {
        for rule in &node.rules {
            if rule.transition && previous.is_none() && !rule.optional_old_self {
                continue;
            }
            let mut ctx = base.new_inner_scope();
            ctx.add_variable_from_value("self", this.clone());
            if rule.optional_old_self {
                let opt = match &previous {
                    Some(p) => OptionalValue::of(p.clone()),
                    None => OptionalValue::none(),
                };
                ctx.add_variable_from_value("oldSelf", Cel::Opaque(Arc::new(opt)));
            } else if let Some(p) = &previous {
                ctx.add_variable_from_value("oldSelf", p.clone());
            }
            let err_path = match &rule.field_path {
                Some(fp) => child(path, fp),
                None => path.to_string(),
            };
            let ty = node.type_name();
            match rule.program.execute(&ctx) {
                Ok(Cel::Bool(true)) => {}
                Ok(Cel::Bool(false)) => {
                    let detail = message_for(rule, &ctx);
                    errors.push(match rule.reason.as_deref() {
                        Some("FieldValueForbidden") => FieldError::forbidden(&err_path, &detail),
                        Some("FieldValueRequired") => FieldError::required(&err_path, &detail),
                        Some("FieldValueDuplicate") => FieldError::duplicate(&err_path, ty),
                        _ => FieldError::invalid(&err_path, ty, &detail),
                    });
                }
                Ok(_) => errors.push(FieldError::invalid(
                    &err_path,
                    ty,
                    &format!("rule did not evaluate to a bool: {}", rule.source.trim()),
                )),
                Err(e) => errors.push(FieldError::invalid(
                    &err_path,
                    ty,
                    &format!("{}: {e}", rule.source.trim()),
                )),
            }
        }
    });
}

/// The failure message: `messageExpression` when it yields a usable string, else
/// `message`, else `failed rule: <rule>`.
fn message_for(rule: &Rule, ctx: &Context<'_>) -> String {
    if let Some(expr) = &rule.message_expression
        && let Ok(Cel::String(s)) = expr.execute(ctx)
        && !s.trim().is_empty()
        && !s.contains('\n')
    {
        return s.trim().to_string();
    }
    match &rule.message {
        Some(m) => m.trim().to_string(),
        None => format!("failed rule: {}", rule.source.trim()),
    }
}

const CEL_KEYWORDS: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// kube's property-name escaping, which makes `foo-bar` reachable as `self.foo__dash__bar`.
pub(crate) fn escape(name: &str) -> String {
    if CEL_KEYWORDS.contains(&name) {
        return format!("__{name}__");
    }
    name.replace("__", "__underscores__")
        .replace('.', "__dot__")
        .replace('-', "__dash__")
        .replace('/', "__slash__")
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_string()))
}

/// Converts a JSON value to CEL the way kube types it from the schema: `number` fields are
/// doubles, `date-time` strings timestamps, `duration` strings durations, `byte` strings bytes.
pub(crate) fn to_cel(node: Option<&Node>, v: &Value, root: bool) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => {
            let wants_float = node.is_some_and(|n| n.ty == Some(Type::Number));
            match (n.as_i64(), wants_float) {
                (Some(i), false) => Cel::Int(i),
                _ => match n.as_u64() {
                    Some(u) if !wants_float => Cel::UInt(u),
                    _ => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
            }
        }
        Value::String(s) => string_to_cel(node.and_then(|n| n.format.as_deref()), s),
        Value::Array(items) => {
            let item_node = node.and_then(|n| n.items.as_deref());
            Cel::List(Arc::new(
                items.iter().map(|i| to_cel(item_node, i, false)).collect(),
            ))
        }
        Value::Object(obj) => {
            let mut map: HashMap<Key, Cel> = HashMap::with_capacity(obj.len());
            let embedded = root || node.is_some_and(|n| n.embedded);
            for (k, val) in obj {
                if embedded && k == "metadata" {
                    map.insert(key("metadata"), metadata_to_cel(val));
                    continue;
                }
                match node {
                    Some(n) => {
                        if let Some(p) = n.properties.get(k) {
                            map.insert(key(&escape(k)), to_cel(Some(p), val, false));
                        } else if let Additional::Schema(s) = &n.additional {
                            map.insert(key(k), to_cel(Some(s), val, false));
                        } else if n.properties.is_empty()
                            || embedded && (k == "apiVersion" || k == "kind")
                        {
                            map.insert(key(&escape(k)), to_cel(None, val, false));
                        }
                    }
                    None => {
                        map.insert(key(k), to_cel(None, val, false));
                    }
                }
            }
            Cel::Map(Map { map: Arc::new(map) })
        }
    }
}

/// Rules see only `name` and `generateName` of an object's metadata.
fn metadata_to_cel(v: &Value) -> Cel {
    let mut map = HashMap::new();
    for k in ["name", "generateName"] {
        if let Some(s) = v.get(k).and_then(Value::as_str) {
            map.insert(key(k), Cel::String(Arc::new(s.to_string())));
        }
    }
    Cel::Map(Map { map: Arc::new(map) })
}

fn string_to_cel(format: Option<&str>, s: &str) -> Cel {
    match format {
        Some("date-time") => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                return Cel::Timestamp(t);
            }
        }
        Some("duration") => {
            if let Some(d) = parse_go_duration(s) {
                return Cel::Duration(d);
            }
        }
        Some("byte") => {
            if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(s) {
                return Cel::Bytes(Arc::new(b));
            }
        }
        _ => {}
    }
    Cel::String(Arc::new(s.to_string()))
}

/// Go's `time.ParseDuration` (`1h30m`, `-1.5s`, `300ms`).
pub(crate) fn parse_go_duration(s: &str) -> Option<chrono::Duration> {
    gofmt::parse_duration(s)
        .ok()
        .map(chrono::Duration::nanoseconds)
}
