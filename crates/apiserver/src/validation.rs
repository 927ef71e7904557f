//! The kind-specific validation the embedded cluster performs beyond object metadata.

use apimachinery::validation::FieldError;
use serde_json::{Value, json};

use crate::registry::Resource;

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

fn data_keys(obj: &Value, field: &str, errors: &mut Vec<FieldError>) {
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

/// Validates the parts of `obj` specific to its kind.
pub fn validate_kind(res: &Resource, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "configmaps") => {
            data_keys(obj, "data", &mut errors);
            data_keys(obj, "binaryData", &mut errors);
        }
        ("", "secrets") => {
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
        }
        ("", "services") => {
            let ports = obj["spec"]["ports"].as_array().cloned().unwrap_or_default();
            let ty = obj["spec"]["type"].as_str().unwrap_or("ClusterIP");
            if ports.is_empty() && ty != "ExternalName" && obj["spec"]["clusterIP"] != json!("None")
            {
                errors.push(FieldError::required("spec.ports", ""));
            }
            for (i, p) in ports.iter().enumerate() {
                match p.get("port").and_then(Value::as_i64) {
                    Some(n) if (1..=65535).contains(&n) => {}
                    Some(n) => errors.push(FieldError::invalid(
                        &format!("spec.ports[{i}].port"),
                        json!(n),
                        "must be between 1 and 65535, inclusive",
                    )),
                    None => errors.push(FieldError::required(&format!("spec.ports[{i}].port"), "")),
                }
                if ports.len() > 1
                    && p.get("name")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                {
                    errors.push(FieldError::required(&format!("spec.ports[{i}].name"), ""));
                }
            }
        }
        ("apps", "deployments")
        | ("apps", "replicasets")
        | ("apps", "statefulsets")
        | ("apps", "daemonsets") => {
            let spec = &obj["spec"];
            if !spec["selector"].is_object() {
                errors.push(FieldError::required("spec.selector", ""));
            } else if let Some(ml) = spec["selector"]["matchLabels"].as_object() {
                let labels = spec["template"]["metadata"]["labels"].as_object();
                let matches = ml
                    .iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
                if !matches {
                    errors.push(FieldError::invalid(
                        "spec.template.metadata.labels",
                        spec["template"]["metadata"]["labels"].clone(),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            containers(&spec["template"]["spec"], "spec.template.spec", &mut errors);
            if let Some(r) = spec["replicas"].as_i64()
                && r < 0
            {
                errors.push(FieldError::invalid(
                    "spec.replicas",
                    json!(r),
                    "must be greater than or equal to 0",
                ));
            }
        }
        ("", "pods") => containers(&obj["spec"], "spec", &mut errors),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            errors.extend(crate::crd::validate_definition(obj))
        }
        _ => {}
    }
    errors
}

fn containers(pod_spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let cs = pod_spec["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if cs.is_empty() {
        errors.push(FieldError::required(&format!("{path}.containers"), ""));
    }
    for (i, c) in cs.iter().enumerate() {
        let name = c["name"].as_str().unwrap_or("");
        if name.is_empty() {
            errors.push(FieldError::required(
                &format!("{path}.containers[{i}].name"),
                "",
            ));
        } else {
            for msg in apimachinery::validation::is_dns1123_label(name) {
                errors.push(FieldError::invalid(
                    &format!("{path}.containers[{i}].name"),
                    json!(name),
                    &msg,
                ));
            }
        }
        if c["image"].as_str().is_none_or(str::is_empty) {
            errors.push(FieldError::required(
                &format!("{path}.containers[{i}].image"),
                "",
            ));
        }
    }
}
