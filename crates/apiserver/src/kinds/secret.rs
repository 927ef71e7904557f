//! Secret.

use serde_json::{Value, json};

use super::configmap::data_keys;
use super::fields::*;
use super::*;

/// The `Secret` kind.
pub struct Secret;

const COLUMNS: &[Col] = &[c("Name"), c("Type"), int("Data"), c("Age")];

impl Kind for Secret {
    fn spec(&self) -> Spec {
        spec("", "v1", "secrets", "Secret")
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        vec![
            name(obj),
            json!(str_or(obj, &["type"], "Opaque")),
            json!(count(obj, &["data"])),
            age,
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        if let Some(m) = obj.as_object_mut() {
            set_default(m, "type", json!("Opaque"));
            // `stringData` is write-only: its entries are merged into `data`, base64-encoded.
            if let Some(Value::Object(string_data)) = m.remove("stringData") {
                use base64::Engine;
                let data = m.entry("data").or_insert_with(|| json!({}));
                if let Some(data) = data.as_object_mut() {
                    for (k, v) in string_data {
                        let text = v
                            .as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string());
                        data.insert(
                            k,
                            json!(base64::engine::general_purpose::STANDARD.encode(text)),
                        );
                    }
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        data_keys(obj, "data", &mut errors);
        data_keys(obj, "stringData", &mut errors);
        if let Some(m) = obj.get("data").and_then(Value::as_object) {
            use base64::Engine;
            for (k, v) in m {
                if let Some(s) = v.as_str()
                    && base64::engine::general_purpose::STANDARD.decode(s).is_err()
                {
                    errors.push(FieldError::invalid(
                        &format!("data[{k}]"),
                        json!("<secret contents redacted>"),
                        "must be base64 encoded",
                    ));
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_data_is_merged_into_data_base64_encoded() {
        let mut s = json!({"data": {"a": "eA=="}, "stringData": {"b": "hello"}});
        Secret.defaults(&mut s);
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["data"], json!({"a": "eA==", "b": "aGVsbG8="}));
        assert!(s.get("stringData").is_none());
    }

    #[test]
    fn data_must_be_base64_and_is_never_echoed() {
        let errors = Secret.validate(&json!({"data": {"k": "not base64!"}}));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "data[k]");
        assert!(!format!("{errors:?}").contains("not base64!"));
        assert!(Secret.validate(&json!({"data": {"k": "aGk="}})).is_empty());
    }
}
