//! OpenAPI value validation with kube-openapi's semantics and messages, converted to field
//! errors the way apiextensions-apiserver converts them (`kubeOpenAPIResultToFieldErrors`).

use apimachinery::{FieldError, FieldErrorKind, go_quote};
use serde_json::Value;

use crate::formats;
use crate::gofmt::{go_float, json_kind};
use crate::node::{Additional, Node, Type};
use crate::path::{child, index};

/// kube prints errors that kube-openapi reports without a field (anyOf/allOf/…) under the
/// nil path of custom-resource validation.
pub(crate) const NIL_PATH: &str = "<nil>";

fn nil_invalid(detail: String) -> FieldError {
    FieldError::invalid(NIL_PATH, "", &detail)
}

/// The type list kube-openapi joins into messages (`integer,string` for int-or-string).
fn type_list(node: &Node) -> Option<&'static str> {
    if node.int_or_string {
        return Some("integer,string");
    }
    node.ty.map(Type::name)
}

fn type_matches(node: &Node, v: &Value) -> bool {
    let kind = json_kind(v);
    let accepts = |t: &str| {
        if node.int_or_string {
            t == "integer" || t == "string"
        } else {
            node.ty.is_some_and(|ty| ty.name() == t)
        }
    };
    let float_int = kind == "number"
        && accepts("integer")
        && v.as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15);
    let int_float = kind == "integer" && accepts("number");
    accepts(kind) || float_int || int_float
}

/// Validates `v` against `node` (no CEL, no list types), appending kube's errors.
pub(crate) fn check(node: &Node, v: &Value, path: &str, out: &mut Vec<FieldError>) {
    if v.is_null() {
        if let Some(t) = type_list(node)
            && !node.nullable
        {
            out.push(FieldError::type_invalid(
                path,
                "null",
                &format!("{path} in body must be of type {t}: \"null\""),
            ));
        }
        enumeration(node, v, path, out);
        return;
    }
    if let Some(t) = type_list(node)
        && !type_matches(node, v)
    {
        let kind = json_kind(v);
        out.push(FieldError::type_invalid(
            path,
            kind,
            &format!("{path} in body must be of type {t}: {}", go_quote(kind)),
        ));
    }
    combinators(node, v, path, out);
    match v {
        Value::String(s) => {
            string(node, s, path, out);
            if let Some(f) = &node.format
                && !formats::is_valid(f, s)
                && formats::is_known(f)
            {
                out.push(FieldError::type_invalid(
                    path,
                    s.as_str(),
                    &format!("{path} in body must be of type {f}: {}", go_quote(s)),
                ));
            }
        }
        Value::Number(_) => number(node, v, path, out),
        Value::Array(items) => array(node, items, path, out),
        _ => {}
    }
    enumeration(node, v, path, out);
    if let Value::Object(obj) = v {
        object(node, obj, path, out);
    }
}

fn combinators(node: &Node, v: &Value, path: &str, out: &mut Vec<FieldError>) {
    if !node.any_of.is_empty() {
        let mut first_failure: Option<Vec<FieldError>> = None;
        let mut ok = false;
        for b in &node.any_of {
            let mut errs = Vec::new();
            check(b, v, path, &mut errs);
            if errs.is_empty() {
                ok = true;
                break;
            }
            first_failure.get_or_insert(errs);
        }
        if !ok {
            out.push(nil_invalid(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            )));
            out.extend(first_failure.unwrap_or_default());
        }
    }
    if !node.one_of.is_empty() {
        let mut valid = 0;
        let mut first_failure: Option<Vec<FieldError>> = None;
        for b in &node.one_of {
            let mut errs = Vec::new();
            check(b, v, path, &mut errs);
            if errs.is_empty() {
                valid += 1;
            } else if valid == 0 {
                first_failure.get_or_insert(errs);
            }
        }
        if valid != 1 {
            let extra = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            out.push(nil_invalid(format!(
                "{} must validate one and only one schema (oneOf). {extra}",
                go_quote(path)
            )));
            if valid == 0 {
                out.extend(first_failure.unwrap_or_default());
            }
        }
    }
    if !node.all_of.is_empty() {
        let mut valid = 0;
        for b in &node.all_of {
            let before = out.len();
            check(b, v, path, out);
            if out.len() == before {
                valid += 1;
            }
        }
        if valid != node.all_of.len() {
            let extra = if valid == 0 { ". None validated" } else { "" };
            out.push(nil_invalid(format!(
                "{} must validate all the schemas (allOf){extra}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = &node.not {
        let mut errs = Vec::new();
        check(not, v, path, &mut errs);
        if errs.is_empty() {
            out.push(nil_invalid(format!(
                "{} must not validate the schema (not)",
                go_quote(path)
            )));
        }
    }
}

/// kube-openapi reports only the first of maxLength, minLength and pattern.
fn string(node: &Node, s: &str, path: &str, out: &mut Vec<FieldError>) {
    let len = s.chars().count() as u64;
    if let Some(max) = node.max_length
        && len > max
    {
        out.push(FieldError::too_long(path, usize::try_from(max).ok()));
    } else if let Some(min) = node.min_length
        && len < min
    {
        out.push(FieldError::invalid(
            path,
            s,
            &format!("{path} in body should be at least {min} chars long"),
        ));
    } else if let Some(p) = &node.pattern
        && !p.regex.is_match(s)
    {
        out.push(FieldError::invalid(
            path,
            s,
            &format!("{path} in body should match '{}'", p.source),
        ));
    }
}

fn number(node: &Node, v: &Value, path: &str, out: &mut Vec<FieldError>) {
    let Value::Number(n) = v else { return };
    let int = n.as_i64();
    let f = n.as_f64().unwrap_or(0.0);
    if node.ty == Some(Type::Integer) && node.format.as_deref() == Some("int32") {
        let fits = int.is_some_and(|i| i32::try_from(i).is_ok());
        if !fits {
            out.push(nil_invalid(format!(
                "Checked value must be of type integer with format int32 in {path}"
            )));
        }
    }
    if let Some(m) = node.multiple_of {
        let bad = match int {
            Some(i) if m >= 1.0 => {
                let factor = m as i64;
                factor != 0 && i % factor != 0
            }
            _ => {
                let q = if m < 1.0 { f * (1.0 / m) } else { f / m };
                q.fract() != 0.0
            }
        };
        if bad {
            let shown = match int {
                Some(_) if m >= 1.0 => (m as i64).to_string(),
                _ => go_float(m),
            };
            out.push(FieldError::invalid(
                path,
                go_number_value(v),
                &format!("{path} in body should be a multiple of {shown}"),
            ));
        }
    }
    if let Some(min) = node.minimum {
        let excl = node.exclusive_minimum;
        let (bad, shown) = match int {
            Some(i) => {
                let m = min as i64;
                (if excl { i <= m } else { i < m }, m.to_string())
            }
            None => (if excl { f <= min } else { f < min }, go_float(min)),
        };
        if bad {
            let rel = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            out.push(FieldError::invalid(
                path,
                go_number_value(v),
                &format!("{path} in body should be {rel} {shown}"),
            ));
        }
    }
    if let Some(max) = node.maximum {
        let excl = node.exclusive_maximum;
        let (bad, shown) = match int {
            Some(i) => {
                let m = max as i64;
                (if excl { i >= m } else { i > m }, m.to_string())
            }
            None => (if excl { f >= max } else { f > max }, go_float(max)),
        };
        if bad {
            let rel = if excl {
                "less than"
            } else {
                "less than or equal to"
            };
            out.push(FieldError::invalid(
                path,
                go_number_value(v),
                &format!("{path} in body should be {rel} {shown}"),
            ));
        }
    }
}

fn array(node: &Node, items: &[Value], path: &str, out: &mut Vec<FieldError>) {
    if let Some(item_node) = &node.items {
        for (i, item) in items.iter().enumerate() {
            check(item_node, item, &index(path, i), out);
        }
    }
    let size = items.len() as u64;
    if let Some(min) = node.min_items
        && size < min
    {
        out.push(FieldError::invalid(
            path,
            size,
            &format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = node.max_items
        && size > max
    {
        out.push(FieldError::too_many(
            path,
            items.len(),
            usize::try_from(max).ok(),
        ));
    }
    if node.unique_items && has_duplicates(items) {
        out.push(FieldError::invalid(
            path,
            "",
            &format!("{path} in body shouldn't contain duplicates"),
        ));
    }
}

fn has_duplicates(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items[..i].iter().any(|b| json_equal(a, b)))
}

/// Equality that treats `1` and `1.0` as the same number, as Go's decoded values compare
/// after kube-openapi's conversions.
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn enumeration(node: &Node, v: &Value, path: &str, out: &mut Vec<FieldError>) {
    let Some(values) = &node.enumeration else {
        return;
    };
    if values.is_empty() || values.iter().any(|e| json_equal(e, v)) {
        return;
    }
    let shown: Vec<String> = values
        .iter()
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let refs: Vec<&str> = shown.iter().map(String::as_str).collect();
    out.push(FieldError::not_supported(path, v.clone(), &refs));
}

fn object(
    node: &Node,
    obj: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let size = obj.len() as u64;
    if let Some(min) = node.min_properties
        && size < min
    {
        out.push(FieldError::invalid(
            path,
            size,
            &format!("{path} in body should have at least {min} properties"),
        ));
    }
    if let Some(max) = node.max_properties
        && size > max
    {
        out.push(FieldError::too_many(
            path,
            obj.len(),
            usize::try_from(max).ok(),
        ));
    }
    if let Additional::Schema(s) = &node.additional {
        for (k, val) in obj {
            if !node.properties.contains_key(k) {
                check(s, val, &child(path, k), out);
            }
        }
    }
    for (name, p) in &node.properties {
        if let Some(val) = obj.get(name) {
            check(p, val, &child(path, name), out);
        }
    }
    for r in &node.required {
        if !obj.contains_key(r) {
            out.push(FieldError::required(&child(path, r), ""));
        }
    }
}

/// Whether kube stops before CEL because of these errors (a wrong type or enum value makes
/// rule evaluation meaningless).
pub(crate) fn blocks_cel(errors: &[FieldError]) -> bool {
    errors.iter().any(|e| {
        matches!(
            e.kind,
            FieldErrorKind::TypeInvalid | FieldErrorKind::NotSupported
        )
    })
}

/// The error kube adds instead of running CEL over an object with blocking errors.
pub(crate) fn cel_skipped() -> FieldError {
    FieldError {
        kind: FieldErrorKind::Invalid,
        field: NIL_PATH.to_string(),
        bad_value: None,
        detail: "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation".to_string(),
    }
}

/// The bad value of a numeric error: Go decoded an integral JSON float like `5.0` into a
/// `float64` that prints as `5`.
fn go_number_value(v: &Value) -> Value {
    match v.as_f64() {
        Some(f) if v.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => Value::from(f as i64),
        _ => v.clone(),
    }
}
