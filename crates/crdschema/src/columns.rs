//! `additionalPrinterColumns`: one Table cell per column, as kube's CRD table convertor
//! computes them (first JSONPath result, converted by the column's `type`; `date` columns
//! show the age, like every other Age column).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::gofmt::go_number;
use crate::jsonpath::JsonPath;

/// The cells of one row: `columns` is a CRD version's `additionalPrinterColumns` array.
pub fn printer_cells(columns: &Value, obj: &Value) -> Vec<Value> {
    printer_cells_at(columns, obj, Utc::now())
}

/// [`printer_cells`] with the current time given, so `date` cells are reproducible.
pub fn printer_cells_at(columns: &Value, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let Some(cols) = columns.as_array() else {
        return Vec::new();
    };
    cols.iter()
        .map(|col| {
            let ty = col.get("type").and_then(Value::as_str).unwrap_or("string");
            let path = col.get("jsonPath").and_then(Value::as_str).unwrap_or("");
            let Ok(parsed) = JsonPath::parse(path) else {
                return Value::Null;
            };
            match parsed.find(obj).first() {
                Some(v) => cell(ty, v, now),
                None => Value::Null,
            }
        })
        .collect()
}

fn cell(ty: &str, v: &Value, now: DateTime<Utc>) -> Value {
    match (ty, v) {
        (_, Value::Null) => Value::Null,
        ("string", v) => Value::String(go_print(v)),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => n.as_f64().map_or(Value::Null, |f| Value::from(f as i64)),
        },
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Value::String(human_duration(now.signed_duration_since(t))),
            Err(_) => Value::String("<invalid>".into()),
        },
        _ => Value::Null,
    }
}

/// How client-go's JSONPath prints a value as text (Go's `fmt.Print`).
fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(go_print).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_print(&o[k.as_str()])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// apimachinery's `duration.HumanDuration`, the age format of `kubectl get` (from [`gofmt`]).
pub fn human_duration(d: chrono::Duration) -> String {
    gofmt::human_duration(d.num_seconds())
}
