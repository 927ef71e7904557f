//! Times decode and encode of a ~10 KiB Deployment:
//! `cargo run --release -p kubeproto --example proto_bench`.

use std::time::Instant;

use serde_json::{Value, json};

fn deployment() -> Value {
    let containers: Vec<Value> = (0..10)
        .map(|i| {
            json!({
                "name": format!("c{i}"),
                "image": format!("registry.example.com/team/app-{i}:1.2.3"),
                "args": ["--port", "8080", "--log-level", "info"],
                "env": (0..12).map(|j| json!({"name": format!("VAR_{j}"), "value": format!("value-{i}-{j}")})).collect::<Vec<_>>(),
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": true}]
            })
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "demo", "labels": {"app": "web"},
            "creationTimestamp": "2024-01-02T03:04:05Z",
            "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1",
                "time": "2024-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}}}]
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "containers": containers,
                "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
                "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
            }},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
        }
    })
}

fn main() -> Result<(), kubeproto::ProtoError> {
    let obj = deployment();
    let body = kubeproto::encode(&obj)?;
    let json_len = obj.to_string().len();
    let rounds = 2000;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(kubeproto::decode(std::hint::black_box(&body))?);
    }
    let decode = start.elapsed() / rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(kubeproto::encode(std::hint::black_box(&obj))?);
    }
    let encode = start.elapsed() / rounds;
    let text = obj.to_string();
    let start = Instant::now();
    for _ in 0..rounds {
        let parsed: Result<Value, _> = serde_json::from_str(std::hint::black_box(&text));
        std::hint::black_box(parsed.ok());
    }
    let parse = start.elapsed() / rounds;
    println!(
        "Deployment: {json_len} bytes JSON, {} bytes protobuf",
        body.len()
    );
    println!(
        "decode {decode:?}/op, encode {encode:?}/op (serde_json parse of the JSON: {parse:?}/op)"
    );
    Ok(())
}
