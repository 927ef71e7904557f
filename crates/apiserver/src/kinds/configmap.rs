//! ConfigMap.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `ConfigMap` kind.
pub struct ConfigMap;

const COLUMNS: &[Col] = &[c("Name"), int("Data"), c("Age")];

impl Kind for ConfigMap {
    fn spec(&self) -> Spec {
        spec("", "v1", "configmaps", "ConfigMap").short(&["cm"])
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        vec![
            name(obj),
            json!(count(obj, &["data"]) + count(obj, &["binaryData"])),
            age,
        ]
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        data_keys(obj, "data", &mut errors);
        data_keys(obj, "binaryData", &mut errors);
        errors
    }
}

/// Kubernetes' `IsConfigMapKey`.
fn is_config_map_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string());
    }
    if key == "." {
        errs.push("must not be '.'".to_string());
    } else if key == ".." {
        errs.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// Checks the keys of a data map (`data`, `binaryData`, `stringData`) and that its values are strings.
pub(super) fn data_keys(obj: &Value, field: &str, errors: &mut Vec<FieldError>) {
    if let Some(m) = obj.get(field).and_then(Value::as_object) {
        for (k, v) in m {
            for msg in is_config_map_key(k) {
                errors.push(FieldError::invalid(field, json!(k), &msg));
            }
            if !v.is_string() {
                errors.push(FieldError::type_invalid(
                    &format!("{field}[{k}]"),
                    v.clone(),
                    "must be a string",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_is_config_map_key() {
        assert!(is_config_map_key("a.b_c-D").is_empty());
        assert!(!is_config_map_key("").is_empty());
        assert!(!is_config_map_key("a/b").is_empty());
        assert_eq!(is_config_map_key(".."), ["must not be '..'"]);
        assert!(!is_config_map_key(&"k".repeat(254)).is_empty());
    }

    #[test]
    fn values_must_be_strings() {
        let errors = ConfigMap.validate(&json!({"data": {"n": 1}, "binaryData": {"ok": "eA=="}}));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "data[n]");
    }

    #[test]
    fn row_counts_data_and_binary_data() {
        let cm =
            json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "eA=="}});
        assert_eq!(
            ConfigMap.cells(&cm, json!("1m")),
            [json!("c"), json!(2), json!("1m")]
        );
    }
}
