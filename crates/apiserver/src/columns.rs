//! The columns `kubectl get` shows for each kind, as kube-apiserver's table convertors define them.

use serde_json::{Value, json};

use crate::registry::Resource;
use crate::table::age;

struct Col {
    name: &'static str,
    ty: &'static str,
    priority: u8,
}

const fn c(name: &'static str) -> Col {
    Col {
        name,
        ty: "string",
        priority: 0,
    }
}
const fn wide(name: &'static str) -> Col {
    Col {
        name,
        ty: "string",
        priority: 1,
    }
}
const fn int(name: &'static str) -> Col {
    Col {
        name,
        ty: "integer",
        priority: 0,
    }
}

fn columns_for(res: &Resource) -> Vec<Col> {
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => vec![
            c("Name"),
            c("Ready"),
            c("Status"),
            c("Restarts"),
            c("Age"),
            wide("IP"),
            wide("Node"),
            wide("Nominated Node"),
            wide("Readiness Gates"),
        ],
        ("", "namespaces") => vec![c("Name"), c("Status"), c("Age")],
        ("", "configmaps") => vec![c("Name"), int("Data"), c("Age")],
        ("", "secrets") => vec![c("Name"), c("Type"), int("Data"), c("Age")],
        ("", "services") => vec![
            c("Name"),
            c("Type"),
            c("Cluster-IP"),
            c("External-IP"),
            c("Port(s)"),
            c("Age"),
            wide("Selector"),
        ],
        ("", "nodes") => vec![
            c("Name"),
            c("Status"),
            c("Roles"),
            c("Age"),
            c("Version"),
            wide("Internal-IP"),
            wide("External-IP"),
            wide("OS-Image"),
            wide("Kernel-Version"),
            wide("Container-Runtime"),
        ],
        ("", "serviceaccounts") => vec![c("Name"), int("Secrets"), c("Age")],
        ("", "endpoints") => vec![c("Name"), c("Endpoints"), c("Age")],
        ("", "events") => vec![
            c("Last Seen"),
            c("Type"),
            c("Reason"),
            c("Object"),
            c("Message"),
        ],
        ("", "persistentvolumeclaims") => vec![
            c("Name"),
            c("Status"),
            c("Volume"),
            c("Capacity"),
            c("Access Modes"),
            c("StorageClass"),
            c("VolumeAttributesClass"),
            c("Age"),
        ],
        ("", "persistentvolumes") => vec![
            c("Name"),
            c("Capacity"),
            c("Access Modes"),
            c("Reclaim Policy"),
            c("Status"),
            c("Claim"),
            c("StorageClass"),
            c("VolumeAttributesClass"),
            c("Reason"),
            c("Age"),
        ],
        ("apps", "deployments") => vec![
            c("Name"),
            c("Ready"),
            int("Up-to-date"),
            int("Available"),
            c("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("apps", "replicasets") => vec![
            c("Name"),
            int("Desired"),
            int("Current"),
            int("Ready"),
            c("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("apps", "statefulsets") => vec![
            c("Name"),
            c("Ready"),
            c("Age"),
            wide("Containers"),
            wide("Images"),
        ],
        ("apps", "daemonsets") => vec![
            c("Name"),
            int("Desired"),
            int("Current"),
            int("Ready"),
            int("Up-to-date"),
            int("Available"),
            c("Node Selector"),
            c("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("batch", "jobs") => vec![
            c("Name"),
            c("Status"),
            c("Completions"),
            c("Duration"),
            c("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("batch", "cronjobs") => vec![
            c("Name"),
            c("Schedule"),
            c("Timezone"),
            c("Suspend"),
            int("Active"),
            c("Last Schedule"),
            c("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("coordination.k8s.io", "leases") => vec![c("Name"), c("Holder"), c("Age")],
        ("storage.k8s.io", "storageclasses") => vec![
            c("Name"),
            c("Provisioner"),
            c("ReclaimPolicy"),
            c("VolumeBindingMode"),
            c("AllowVolumeExpansion"),
            c("Age"),
        ],
        _ => vec![c("Name"), c("Age")],
    }
}

fn custom_definitions(cols: &[Value]) -> Value {
    let mut out = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for c in cols {
        out.push(json!({
            "name": c["name"],
            "type": c["type"],
            "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")),
            "priority": c.get("priority").cloned().unwrap_or(json!(0)),
        }));
    }
    Value::Array(out)
}

/// `columnDefinitions` of a resource's Table.
pub fn definitions(res: &Resource) -> Value {
    if let Some(cols) = res.printer_columns.as_array().filter(|c| !c.is_empty()) {
        return custom_definitions(cols);
    }
    let cols: Vec<Value> = columns_for(res)
        .iter()
        .map(|col| {
            json!({
                "name": col.name,
                "type": col.ty,
                "format": if col.name == "Name" { "name" } else { "" },
                "description": "",
                "priority": col.priority,
            })
        })
        .collect();
    Value::Array(cols)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for p in path {
        cur = match cur.get(p) {
            Some(x) => x,
            None => return &Value::Null,
        };
    }
    cur
}

fn str_or<'a>(v: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    s(v, path).as_str().unwrap_or(default)
}

fn int_of(v: &Value, path: &[&str]) -> i64 {
    s(v, path).as_i64().unwrap_or(0)
}

fn count(v: &Value, path: &[&str]) -> i64 {
    match s(v, path) {
        Value::Object(m) => m.len() as i64,
        Value::Array(a) => a.len() as i64,
        _ => 0,
    }
}

fn name(obj: &Value) -> Value {
    Value::String(str_or(obj, &["metadata", "name"], "").to_string())
}

fn containers_images(spec: &Value) -> (String, String) {
    let cs = s(spec, &["containers"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let images: Vec<&str> = cs
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect();
    (names.join(","), images.join(","))
}

fn selector_string(sel: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    } else if let Some(m) = sel.as_object() {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                parts.push(format!("{k}={v}"));
            }
        }
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

/// What the pod's STATUS column shows (kubectl's printPod logic, reduced to what the
/// embedded cluster produces).
pub fn pod_status(obj: &Value) -> String {
    let mut reason = str_or(obj, &["status", "phase"], "Pending").to_string();
    if let Some(r) = s(obj, &["status", "reason"]).as_str() {
        reason = r.to_string();
    }
    let statuses = s(obj, &["status", "containerStatuses"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    for cs in statuses.iter().rev() {
        if let Some(w) = s(cs, &["state", "waiting", "reason"]).as_str() {
            reason = w.to_string();
        } else if let Some(t) = s(cs, &["state", "terminated", "reason"]).as_str() {
            reason = t.to_string();
        } else if s(cs, &["state", "terminated"]).is_object() {
            let code = int_of(cs, &["state", "terminated", "exitCode"]);
            reason = format!("ExitCode:{code}");
        }
    }
    if s(obj, &["metadata", "deletionTimestamp"]).is_string() {
        reason = "Terminating".into();
    }
    reason
}

/// The cells of one row.
pub fn cells(res: &Resource, obj: &Value) -> Vec<Value> {
    if res
        .printer_columns
        .as_array()
        .is_some_and(|c| !c.is_empty())
    {
        let mut out = vec![name(obj)];
        out.extend(crdschema::printer_cells(&res.printer_columns, obj));
        return out;
    }
    let age = Value::String(age(obj));
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => {
            let statuses = s(obj, &["status", "containerStatuses"])
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = s(obj, &["spec", "containers"])
                .as_array()
                .map(Vec::len)
                .unwrap_or(0);
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready") == Some(&Value::Bool(true)))
                .count();
            let restarts: i64 = statuses
                .iter()
                .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
                .sum();
            vec![
                name(obj),
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts.to_string()),
                age,
                json!(str_or(obj, &["status", "podIP"], "<none>")),
                json!(str_or(obj, &["spec", "nodeName"], "<none>")),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        ("", "namespaces") => vec![
            name(obj),
            json!(str_or(obj, &["status", "phase"], "Active")),
            age,
        ],
        ("", "configmaps") => vec![
            name(obj),
            json!(count(obj, &["data"]) + count(obj, &["binaryData"])),
            age,
        ],
        ("", "secrets") => vec![
            name(obj),
            json!(str_or(obj, &["type"], "Opaque")),
            json!(count(obj, &["data"])),
            age,
        ],
        ("", "services") => {
            let ports: Vec<String> = s(obj, &["spec", "ports"])
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort").and_then(Value::as_i64) {
                        Some(np) => format!("{port}:{np}/{proto}"),
                        None => format!("{port}/{proto}"),
                    }
                })
                .collect();
            let external = s(obj, &["spec", "externalIPs"])
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|x| !x.is_empty())
                .unwrap_or_else(|| {
                    if str_or(obj, &["spec", "type"], "ClusterIP") == "LoadBalancer" {
                        "<pending>".into()
                    } else {
                        "<none>".into()
                    }
                });
            vec![
                name(obj),
                json!(str_or(obj, &["spec", "type"], "ClusterIP")),
                json!(str_or(obj, &["spec", "clusterIP"], "<none>")),
                json!(external),
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports.join(",")
                }),
                age,
                json!(selector_string(s(obj, &["spec", "selector"]))),
            ]
        }
        ("", "nodes") => {
            let conds = s(obj, &["status", "conditions"])
                .as_array()
                .cloned()
                .unwrap_or_default();
            let ready = conds
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
            let mut status = match ready.and_then(|c| c.get("status")).and_then(Value::as_str) {
                Some("True") => "Ready".to_string(),
                Some(_) => "NotReady".to_string(),
                None => "Unknown".to_string(),
            };
            if s(obj, &["spec", "unschedulable"]) == &Value::Bool(true) {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = s(obj, &["metadata", "labels"])
                .as_object()
                .map(|m| {
                    m.keys()
                        .filter_map(|k| {
                            k.strip_prefix("node-role.kubernetes.io/").map(String::from)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let addr = |t: &str| -> String {
                s(obj, &["status", "addresses"])
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .find(|x| x.get("type").and_then(Value::as_str) == Some(t))
                    })
                    .and_then(|x| x.get("address").and_then(Value::as_str))
                    .unwrap_or("<none>")
                    .to_string()
            };
            vec![
                name(obj),
                json!(status),
                json!(if roles.is_empty() {
                    "<none>".to_string()
                } else {
                    roles.join(",")
                }),
                age,
                json!(str_or(obj, &["status", "nodeInfo", "kubeletVersion"], "")),
                json!(addr("InternalIP")),
                json!(addr("ExternalIP")),
                json!(str_or(obj, &["status", "nodeInfo", "osImage"], "")),
                json!(str_or(obj, &["status", "nodeInfo", "kernelVersion"], "")),
                json!(str_or(
                    obj,
                    &["status", "nodeInfo", "containerRuntimeVersion"],
                    ""
                )),
            ]
        }
        ("", "serviceaccounts") => vec![name(obj), json!(count(obj, &["secrets"])), age],
        ("", "endpoints") => {
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
        ("", "events") => {
            let last = s(obj, &["lastTimestamp"])
                .as_str()
                .or_else(|| s(obj, &["eventTime"]).as_str());
            let last_seen = last
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| {
                    crate::table::human_duration(
                        (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds(),
                    )
                })
                .unwrap_or_else(|| "<unknown>".into());
            vec![
                json!(last_seen),
                json!(str_or(obj, &["type"], "")),
                json!(str_or(obj, &["reason"], "")),
                json!(format!(
                    "{}/{}",
                    str_or(obj, &["involvedObject", "kind"], "").to_ascii_lowercase(),
                    str_or(obj, &["involvedObject", "name"], "")
                )),
                json!(str_or(obj, &["message"], "")),
            ]
        }
        ("", "persistentvolumeclaims") => vec![
            name(obj),
            json!(str_or(obj, &["status", "phase"], "Pending")),
            json!(str_or(obj, &["spec", "volumeName"], "")),
            json!(str_or(obj, &["status", "capacity", "storage"], "")),
            json!(access_modes(s(obj, &["status", "accessModes"]))),
            json!(str_or(obj, &["spec", "storageClassName"], "<unset>")),
            json!("<unset>"),
            age,
        ],
        ("", "persistentvolumes") => {
            let claim = match (
                s(obj, &["spec", "claimRef", "namespace"]).as_str(),
                s(obj, &["spec", "claimRef", "name"]).as_str(),
            ) {
                (Some(ns), Some(n)) => format!("{ns}/{n}"),
                _ => String::new(),
            };
            vec![
                name(obj),
                json!(str_or(obj, &["spec", "capacity", "storage"], "")),
                json!(access_modes(s(obj, &["spec", "accessModes"]))),
                json!(str_or(obj, &["spec", "persistentVolumeReclaimPolicy"], "")),
                json!(str_or(obj, &["status", "phase"], "")),
                json!(claim),
                json!(str_or(obj, &["spec", "storageClassName"], "")),
                json!("<unset>"),
                json!(str_or(obj, &["status", "reason"], "")),
                age,
            ]
        }
        ("apps", "deployments") => {
            let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    int_of(obj, &["status", "readyReplicas"]),
                    int_of(obj, &["spec", "replicas"])
                )),
                json!(int_of(obj, &["status", "updatedReplicas"])),
                json!(int_of(obj, &["status", "availableReplicas"])),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(s(obj, &["spec", "selector"]))),
            ]
        }
        ("apps", "replicasets") => {
            let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
            vec![
                name(obj),
                json!(int_of(obj, &["spec", "replicas"])),
                json!(int_of(obj, &["status", "replicas"])),
                json!(int_of(obj, &["status", "readyReplicas"])),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(s(obj, &["spec", "selector"]))),
            ]
        }
        ("apps", "statefulsets") => {
            let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    int_of(obj, &["status", "readyReplicas"]),
                    int_of(obj, &["spec", "replicas"])
                )),
                age,
                json!(cs),
                json!(is),
            ]
        }
        ("apps", "daemonsets") => {
            let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
            vec![
                name(obj),
                json!(int_of(obj, &["status", "desiredNumberScheduled"])),
                json!(int_of(obj, &["status", "currentNumberScheduled"])),
                json!(int_of(obj, &["status", "numberReady"])),
                json!(int_of(obj, &["status", "updatedNumberScheduled"])),
                json!(int_of(obj, &["status", "numberAvailable"])),
                json!(selector_string(s(
                    obj,
                    &["spec", "template", "spec", "nodeSelector"]
                ))),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(s(obj, &["spec", "selector"]))),
            ]
        }
        ("batch", "jobs") => {
            let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
            let conds = s(obj, &["status", "conditions"])
                .as_array()
                .cloned()
                .unwrap_or_default();
            let has = |t: &str| {
                conds.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some(t)
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else if s(obj, &["metadata", "deletionTimestamp"]).is_string() {
                "Terminating"
            } else {
                "Running"
            };
            let completions = s(obj, &["spec", "completions"]).as_i64().unwrap_or(1);
            let duration = match (
                s(obj, &["status", "startTime"]).as_str(),
                s(obj, &["status", "completionTime"]).as_str(),
            ) {
                (Some(a), Some(b)) => match (
                    chrono::DateTime::parse_from_rfc3339(a),
                    chrono::DateTime::parse_from_rfc3339(b),
                ) {
                    (Ok(a), Ok(b)) => crate::table::human_duration((b - a).num_seconds()),
                    _ => String::new(),
                },
                (Some(a), None) => chrono::DateTime::parse_from_rfc3339(a)
                    .map(|a| {
                        crate::table::human_duration(
                            (chrono::Utc::now() - a.with_timezone(&chrono::Utc)).num_seconds(),
                        )
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            vec![
                name(obj),
                json!(status),
                json!(format!(
                    "{}/{completions}",
                    int_of(obj, &["status", "succeeded"])
                )),
                json!(duration),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(s(obj, &["spec", "selector"]))),
            ]
        }
        ("batch", "cronjobs") => {
            let (cs, is) =
                containers_images(s(obj, &["spec", "jobTemplate", "spec", "template", "spec"]));
            let last = s(obj, &["status", "lastScheduleTime"])
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| {
                    crate::table::human_duration(
                        (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds(),
                    )
                })
                .unwrap_or_else(|| "<none>".into());
            vec![
                name(obj),
                json!(str_or(obj, &["spec", "schedule"], "")),
                json!(str_or(obj, &["spec", "timeZone"], "<none>")),
                json!(if s(obj, &["spec", "suspend"]) == &Value::Bool(true) {
                    "True"
                } else {
                    "False"
                }),
                json!(count(obj, &["status", "active"])),
                json!(last),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(s(
                    obj,
                    &["spec", "jobTemplate", "spec", "selector"]
                ))),
            ]
        }
        ("coordination.k8s.io", "leases") => vec![
            name(obj),
            json!(str_or(obj, &["spec", "holderIdentity"], "")),
            age,
        ],
        ("storage.k8s.io", "storageclasses") => {
            let mut n = str_or(obj, &["metadata", "name"], "").to_string();
            if s(
                obj,
                &[
                    "metadata",
                    "annotations",
                    "storageclass.kubernetes.io/is-default-class",
                ],
            )
            .as_str()
                == Some("true")
            {
                n.push_str(" (default)");
            }
            vec![
                json!(n),
                json!(str_or(obj, &["provisioner"], "")),
                json!(str_or(obj, &["reclaimPolicy"], "Delete")),
                json!(str_or(obj, &["volumeBindingMode"], "Immediate")),
                json!(if s(obj, &["allowVolumeExpansion"]) == &Value::Bool(true) {
                    "true"
                } else {
                    "false"
                }),
                age,
            ]
        }
        _ => vec![name(obj), age],
    }
}

fn access_modes(v: &Value) -> String {
    let modes: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    modes
        .iter()
        .map(|m| match *m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}
