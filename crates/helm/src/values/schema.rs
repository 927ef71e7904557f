//! `values.schema.json` validation of the merged values (Helm's `ValidateAgainstSchema`),
//! for the chart and, recursively, each subchart against its own values.

use gotmpl::Value;

use super::coalesce::Map;
use crate::chart::Chart;

/// Values that do not meet a chart's schema; the text lists each chart and its errors.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("values don't meet the specifications of the schema(s) in the following chart(s):\n{0}")]
pub struct SchemaError(pub String);

/// A [`Value`] as JSON (what Go's `encoding/json` would produce).
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i, _) => serde_json::Value::from(*i),
        Value::Uint(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Bytes(b) => serde_json::Value::String(String::from_utf8_lossy(b).to_string()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => serde_json::Value::Object(
            m.snapshot()
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Value::Object(o) => to_json(&o.to_value()),
    }
}

fn validate_single(values: &Map, schema: &[u8]) -> Result<(), String> {
    let mut schema: serde_json::Value =
        serde_json::from_slice(schema).map_err(|e| e.to_string())?;
    let validator = match jsonschema::validator_for(&schema) {
        Ok(v) => v,
        Err(first) => {
            // Drafts the crate does not know (e.g. "http://json-schema.org/schema#") are read
            // as the latest draft, as Helm's validator does.
            if let Some(obj) = schema.as_object_mut() {
                obj.remove("$schema");
            }
            jsonschema::validator_for(&schema).map_err(|_| first.to_string())?
        }
    };
    let instance = to_json(&Value::map(values.clone()));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("- at '{}': {}", e.instance_path, e))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n") + "\n")
    }
}

fn validate_rec(chart: &Chart, values: &Map, out: &mut String) {
    if let Some(schema) = &chart.schema
        && let Err(e) = validate_single(values, schema)
    {
        out.push_str(&format!("{}:\n{e}", chart.name()));
    }
    for sub in &chart.dependencies {
        match values.get(sub.name()) {
            None | Some(Value::Nil) => {}
            Some(Value::Map(m)) => validate_rec(sub, &m.snapshot(), out),
            Some(_) => out.push_str(&format!(
                "{}:\ninvalid type for values: expected object (map)\n",
                sub.name()
            )),
        }
    }
}

/// Validates coalesced values against the schemas of the chart and its subcharts.
pub fn validate(chart: &Chart, values: &Map) -> Result<(), SchemaError> {
    let mut out = String::new();
    validate_rec(chart, values, &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        Err(SchemaError(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_chart_and_path() {
        let mut c = Chart::default();
        c.metadata.name = "demo".into();
        c.schema = Some(
            br#"{"$schema":"http://json-schema.org/schema#","type":"object","properties":{"replicas":{"type":"integer"}}}"#
                .to_vec()
                .into(),
        );
        let ok = crate::yaml::parse_map("replicas: 3").unwrap_or_default();
        assert!(validate(&c, &ok).is_ok());
        let bad = crate::yaml::parse_map("replicas: three").unwrap_or_default();
        let msg = validate(&c, &bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.starts_with("values don't meet the specifications of the schema(s) in the following chart(s):\ndemo:\n- at '/replicas'"), "{msg}");
    }
}
