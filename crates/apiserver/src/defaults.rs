//! Server-side defaulting of the built-in kinds, as kube-apiserver's defaulters fill fields in.

use serde_json::{Map, Value, json};

use crate::registry::Resource;

fn obj_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let o = v.as_object_mut()?;
    if !o.get(key).is_some_and(Value::is_object) {
        o.insert(key.to_string(), Value::Object(Map::new()));
    }
    o.get_mut(key).and_then(Value::as_object_mut)
}

fn set_default(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), value);
    }
}

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
pub fn pod_spec(spec: &mut Map<String, Value>, restart_default: &str) {
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

fn template_spec(spec: &mut Value, restart_default: &str) {
    if let Some(t) = spec.get_mut("template")
        && let Some(ps) = obj_mut(t, "spec")
    {
        pod_spec(ps, restart_default);
    }
}

/// A Job's generated selector: unless `manualSelector`, kube selects the Job's pods by its uid
/// and labels the pod template with it.
fn job_selector(obj: &mut Value) {
    if obj["spec"]["manualSelector"] == json!(true) || !obj["spec"]["selector"].is_null() {
        return;
    }
    let (Some(uid), Some(name)) = (
        obj["metadata"]["uid"].as_str().map(String::from),
        obj["metadata"]["name"].as_str().map(String::from),
    ) else {
        return;
    };
    obj["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels[k] = json!(v);
    }
}

/// Applies the defaults of `res`'s kind to `obj`.
pub fn apply(res: &Resource, obj: &mut Value) {
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "namespaces") => {
            if let Some(spec) = obj_mut(obj, "spec") {
                set_default(spec, "finalizers", json!(["kubernetes"]));
            }
            if let Some(status) = obj_mut(obj, "status") {
                set_default(status, "phase", json!("Active"));
            }
        }
        ("", "secrets") => {
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
        ("", "pods") => {
            if let Some(spec) = obj_mut(obj, "spec") {
                pod_spec(spec, "Always");
                set_default(spec, "enableServiceLinks", json!(true));
                set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
                set_default(spec, "priority", json!(0));
            }
        }
        ("", "services") => {
            let Some(spec) = obj_mut(obj, "spec") else {
                return;
            };
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
            let ty = spec
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP")
                .to_string();
            if ty != "ExternalName" {
                set_default(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            if ty == "NodePort" || ty == "LoadBalancer" {
                set_default(spec, "externalTrafficPolicy", json!("Cluster"));
            }
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    if let Some(p) = p.as_object_mut() {
                        set_default(p, "protocol", json!("TCP"));
                        if p.get("targetPort").is_none_or(Value::is_null)
                            && let Some(port) = p.get("port").cloned()
                        {
                            p.insert("targetPort".into(), port);
                        }
                    }
                }
            }
        }
        ("", "persistentvolumeclaims") => {
            if let Some(spec) = obj_mut(obj, "spec") {
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        ("", "serviceaccounts") | ("", "configmaps") | ("", "endpoints") | ("", "events") => {}
        ("apps", "deployments") => {
            let Some(spec) = obj_mut(obj, "spec") else {
                return;
            };
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            if let Some(st) = spec.get_mut("strategy").and_then(Value::as_object_mut)
                && st.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            {
                let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
                if let Some(ru) = ru.as_object_mut() {
                    set_default(ru, "maxUnavailable", json!("25%"));
                    set_default(ru, "maxSurge", json!("25%"));
                }
            }
            let mut spec_v = Value::Object(std::mem::take(spec));
            template_spec(&mut spec_v, "Always");
            if let (Some(spec), Value::Object(m)) = (obj_mut(obj, "spec"), spec_v) {
                *spec = m;
            }
        }
        ("apps", "replicasets") | ("", "replicationcontrollers") => {
            let Some(spec) = obj_mut(obj, "spec") else {
                return;
            };
            set_default(spec, "replicas", json!(1));
            let mut spec_v = Value::Object(std::mem::take(spec));
            template_spec(&mut spec_v, "Always");
            if let (Some(spec), Value::Object(m)) = (obj_mut(obj, "spec"), spec_v) {
                *spec = m;
            }
        }
        ("apps", "statefulsets") => {
            let Some(spec) = obj_mut(obj, "spec") else {
                return;
            };
            set_default(spec, "replicas", json!(1));
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            set_default(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            let mut spec_v = Value::Object(std::mem::take(spec));
            template_spec(&mut spec_v, "Always");
            if let (Some(spec), Value::Object(m)) = (obj_mut(obj, "spec"), spec_v) {
                *spec = m;
            }
        }
        ("apps", "daemonsets") => {
            let Some(spec) = obj_mut(obj, "spec") else {
                return;
            };
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            let mut spec_v = Value::Object(std::mem::take(spec));
            template_spec(&mut spec_v, "Always");
            if let (Some(spec), Value::Object(m)) = (obj_mut(obj, "spec"), spec_v) {
                *spec = m;
            }
        }
        ("batch", "jobs") => {
            job_selector(obj);
            let Some(spec) = obj_mut(obj, "spec") else {
                return;
            };
            set_default(spec, "parallelism", json!(1));
            set_default(spec, "backoffLimit", json!(6));
            set_default(spec, "completionMode", json!("NonIndexed"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
            if spec.get("completions").is_none() {
                spec.insert("completions".into(), json!(1));
            }
            let mut spec_v = Value::Object(std::mem::take(spec));
            template_spec(&mut spec_v, "Never");
            if let (Some(spec), Value::Object(m)) = (obj_mut(obj, "spec"), spec_v) {
                *spec = m;
            }
        }
        ("batch", "cronjobs") => {
            let Some(spec) = obj_mut(obj, "spec") else {
                return;
            };
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
        }
        _ => {}
    }
}
