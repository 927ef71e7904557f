//! Endpoints.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `Endpoints` kind.
pub struct Endpoints;

const COLUMNS: &[Col] = &[c("Name"), c("Endpoints"), c("Age")];

impl Kind for Endpoints {
    fn spec(&self) -> Spec {
        spec("", "v1", "endpoints", "Endpoints").short(&["ep"])
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let mut eps = Vec::new();
        for subset in s(obj, &["subsets"]).as_array().cloned().unwrap_or_default() {
            let ports: Vec<i64> = s(&subset, &["ports"])
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.get("port").and_then(Value::as_i64))
                .collect();
            for a in s(&subset, &["addresses"])
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let ip = a.get("ip").and_then(Value::as_str).unwrap_or("");
                if ports.is_empty() {
                    eps.push(ip.to_string());
                }
                for p in &ports {
                    eps.push(format!("{ip}:{p}"));
                }
            }
        }
        vec![
            name(obj),
            json!(if eps.is_empty() {
                "<none>".to_string()
            } else {
                eps.join(",")
            }),
            age,
        ]
    }
}
