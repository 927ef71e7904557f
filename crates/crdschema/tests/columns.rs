//! `additionalPrinterColumns` cells and the JSONPath subset behind them.

use chrono::{DateTime, Utc};
use crdschema::{JsonPath, human_duration, printer_cells_at};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-01T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn object() -> Value {
    json!({
        "metadata": {"name": "db", "labels": {"app": "pg", "app.kubernetes.io/name": "x"},
                     "creationTimestamp": "2024-01-01T11:55:00Z"},
        "spec": {"size": 3, "ratio": 0.5, "paused": false, "version": "15",
                 "hosts": ["a", "b"], "selector": {"k": "v"}},
        "status": {"conditions": [
            {"type": "Progressing", "status": "False"},
            {"type": "Ready", "status": "True", "count": 2}
        ]}
    })
}

#[test]
fn cells_follow_column_types() {
    let columns = json!([
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
        {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "App", "type": "string", "jsonPath": ".metadata.labels.app"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
        {"name": "Mismatch", "type": "integer", "jsonPath": ".spec.version"},
        {"name": "First", "type": "string", "jsonPath": ".spec.hosts[0]"},
        {"name": "All", "type": "string", "jsonPath": ".spec.hosts"},
        {"name": "Map", "type": "string", "jsonPath": ".spec.selector"},
        {"name": "SizeText", "type": "string", "jsonPath": ".spec.size"}
    ]);
    assert_eq!(
        printer_cells_at(&columns, &object(), now()),
        [
            json!(3),
            json!(0.5),
            json!(false),
            json!("15"),
            json!("True"),
            json!("pg"),
            json!("5m"),
            Value::Null,
            Value::Null,
            json!("a"),
            json!("[a b]"),
            json!("map[k:v]"),
            json!("3")
        ]
    );
}

#[test]
fn jsonpath_subset() {
    let o = object();
    let find = |p: &str| -> Vec<Value> {
        JsonPath::parse(p)
            .unwrap_or_else(|e| panic!("{e}"))
            .find(&o)
            .into_iter()
            .cloned()
            .collect()
    };
    assert_eq!(find("{.spec.size}"), [json!(3)]);
    assert_eq!(find(".spec.hosts[*]"), [json!("a"), json!("b")]);
    assert_eq!(find(".spec.hosts[-1]"), [json!("b")]);
    assert_eq!(
        find(".metadata.labels['app.kubernetes.io/name']"),
        [json!("x")]
    );
    assert_eq!(
        find(".status.conditions[?(@.count>1)].type"),
        [json!("Ready")]
    );
    assert_eq!(
        find(".status.conditions[?(@.count)].type"),
        [json!("Ready")]
    );
    assert_eq!(
        find(".status.conditions[?(@.status!='True')].type"),
        [json!("Progressing")]
    );
    assert_eq!(find("..status").len(), 3);
    assert!(find(".spec.hosts[5]").is_empty());
    assert!(JsonPath::parse(".spec[").is_err());
    assert!(JsonPath::parse(".spec[?(x)]").is_err());
}

#[test]
fn dates_render_as_ages() {
    let d = |s: i64| human_duration(chrono::Duration::seconds(s));
    assert_eq!(d(5), "5s");
    assert_eq!(d(119), "119s");
    assert_eq!(d(150), "2m30s");
    assert_eq!(d(600), "10m");
    assert_eq!(d(3 * 3600 + 60), "3h1m");
    assert_eq!(d(30 * 3600), "30h");
    assert_eq!(d(3 * 86400 + 3600), "3d1h");
    assert_eq!(d(100 * 86400), "100d");
    assert_eq!(d(3 * 365 * 86400 + 86400), "3y1d");
    assert_eq!(d(-5), "<invalid>");
    let cols = json!([{"name": "T", "type": "date", "jsonPath": ".t"}]);
    assert_eq!(
        printer_cells_at(&cols, &json!({"t": "bad"}), now()),
        [json!("<invalid>")]
    );
}
