//! Service.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `Service` kind.
pub struct Service;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Type"),
    c("Cluster-IP"),
    c("External-IP"),
    c("Port(s)"),
    c("Age"),
    wide("Selector"),
];

impl Kind for Service {
    fn spec(&self) -> Spec {
        spec("", "v1", "services", "Service")
            .short(&["svc"])
            .all()
            .status()
            .names(NameRule::Label)
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
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
            json!(label_set(s(obj, &["spec", "selector"]))),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
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

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let ports = obj["spec"]["ports"].as_array().cloned().unwrap_or_default();
        let ty = obj["spec"]["type"].as_str().unwrap_or("ClusterIP");
        if ports.is_empty() && ty != "ExternalName" && obj["spec"]["clusterIP"] != json!("None") {
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
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_type_policies_and_target_ports() {
        let mut svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        Service.defaults(&mut svc);
        assert_eq!(svc["spec"]["sessionAffinity"], "None");
        assert_eq!(svc["spec"]["internalTrafficPolicy"], "Cluster");
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
        let mut external = json!({"spec": {"type": "ExternalName", "externalName": "x.example"}});
        Service.defaults(&mut external);
        assert!(external["spec"].get("internalTrafficPolicy").is_none());
    }

    #[test]
    fn validation_names_each_bad_port() {
        let fields = |obj: Value| -> Vec<String> {
            Service
                .validate(&obj)
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(json!({"spec": {}})), ["spec.ports"]);
        assert!(fields(json!({"spec": {"clusterIP": "None"}})).is_empty());
        assert_eq!(
            fields(
                json!({"spec": {"ports": [{"port": 0, "name": "a"}, {"name": "b", "port": 8}]}})
            ),
            ["spec.ports[0].port"]
        );
        assert_eq!(
            fields(json!({"spec": {"ports": [{"port": 1}, {"port": 2, "name": "b"}]}})),
            ["spec.ports[0].name"]
        );
    }

    #[test]
    fn row_shows_ports_external_ips_and_selector() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer",
            "clusterIP": "10.96.0.9", "selector": {"tier": "web", "app": "shop"},
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let row = Service.cells(&svc, json!("5s"));
        assert_eq!(
            row,
            [
                json!("web"),
                json!("LoadBalancer"),
                json!("10.96.0.9"),
                json!("<pending>"),
                json!("80:30080/TCP"),
                json!("5s"),
                json!("app=shop,tier=web"),
            ]
        );
    }
}
