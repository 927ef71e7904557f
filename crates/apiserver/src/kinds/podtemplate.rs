//! What every kind with a pod spec or a pod template shares: container and pod-spec defaults
//! (kube's `SetDefaults_Container`, `SetDefaults_PodSpec`) and their validation.

use apimachinery::validation::FieldError;
use serde_json::{Map, Value, json};

use super::{obj_mut, set_default};

/// Fills in the defaults of a container.
fn container(c: &mut Value) {
    let Some(m) = c.as_object_mut() else { return };
    let image = m
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let tag_is_latest = {
        let last = image.rsplit('/').next().unwrap_or("");
        !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"))
    };
    set_default(
        m,
        "imagePullPolicy",
        json!(if tag_is_latest {
            "Always"
        } else {
            "IfNotPresent"
        }),
    );
    set_default(m, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(m, "terminationMessagePolicy", json!("File"));
    set_default(m, "resources", json!({}));
    if let Some(ports) = m.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            if let Some(p) = p.as_object_mut() {
                set_default(p, "protocol", json!("TCP"));
            }
        }
    }
}

/// Fills in the defaults of a pod spec.
pub(super) fn pod_spec(spec: &mut Map<String, Value>, restart_default: &str) {
    set_default(spec, "restartPolicy", json!(restart_default));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for key in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(key).and_then(Value::as_array_mut) {
            for c in cs {
                container(c);
            }
        }
    }
}

/// Fills in the defaults of the pod template in a workload's `spec` map.
pub(super) fn template_defaults(spec: &mut Map<String, Value>, restart_default: &str) {
    if let Some(t) = spec.get_mut("template")
        && let Some(ps) = obj_mut(t, "spec")
    {
        pod_spec(ps, restart_default);
    }
}

/// Checks a pod spec's containers (present, named as DNS labels, with an image).
pub(super) fn containers(pod_spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    // Read in place: every Pod create and workload write passes here.
    let cs: &[Value] = pod_spec["containers"]
        .as_array()
        .map(Vec::as_slice)
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

/// The checks of the `apps` workloads: a selector that matches the template's labels, valid
/// containers, and no negative replica count.
pub(super) fn validate_workload(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
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
    errors
}
