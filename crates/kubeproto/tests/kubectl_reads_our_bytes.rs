//! The real kubectl (Go's decoder) reads what `encode` writes: a fake API server answers
//! `kubectl create … -o json` with protobuf from `kubeproto::encode`, and kubectl's printout
//! must carry every value the server put in. Skipped when kubectl is not installed
//! (`KUBECTL` overrides the path).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

use serde_json::{Value, json};

fn kubectl() -> Option<String> {
    let path = std::env::var("KUBECTL").unwrap_or_else(|_| "/usr/bin/kubectl".into());
    std::path::Path::new(&path).exists().then_some(path)
}

fn resources(path: &str) -> Option<Value> {
    let (gv, list): (&str, &[(&str, &str, bool)]) = match path {
        "/api/v1" => (
            "v1",
            &[
                ("namespaces", "Namespace", false),
                ("services", "Service", true),
                ("configmaps", "ConfigMap", true),
            ],
        ),
        "/apis/apps/v1" => ("apps/v1", &[("deployments", "Deployment", true)]),
        _ => return None,
    };
    let resources: Vec<Value> = list
        .iter()
        .map(|(name, kind, namespaced)| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["create", "get"]}))
        .collect();
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// What the server adds to a created object: every special type and a few zeros.
fn server_side(mut obj: Value) -> Value {
    let api_version = obj["apiVersion"].clone();
    let meta = &mut obj["metadata"];
    meta["uid"] = json!("0b9c7e0e-1d1a-4f7b-9a51-2f1f3d0c4e5a");
    meta["resourceVersion"] = json!("17");
    meta["generation"] = json!(1);
    meta["creationTimestamp"] = json!("2024-01-02T03:04:05Z");
    meta["annotations"] = json!({"note": "ünïcødé"});
    meta["managedFields"] = json!([{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": api_version,
        "time": "2024-01-02T03:04:05Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}
    }]);
    match obj["kind"].as_str() {
        Some("Namespace") => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        Some("Service") => {
            obj["spec"]["clusterIP"] = json!("10.96.0.10");
            obj["spec"]["clusterIPs"] = json!(["10.96.0.10"]);
            obj["spec"]["ports"][0]["nodePort"] = json!(30080);
            obj["spec"]["sessionAffinity"] = json!("None");
            obj["status"] = json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}});
        }
        Some("ConfigMap") => {
            obj["binaryData"] = json!({"blob": "AAEC/v8="});
            obj["immutable"] = json!(true);
        }
        Some("Deployment") => {
            let container = &mut obj["spec"]["template"]["spec"]["containers"][0];
            container["resources"] = json!({"limits": {"cpu": "500m", "memory": "1Gi"}});
            container["livenessProbe"] =
                json!({"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10});
            container["terminationMessagePath"] = json!("/dev/termination-log");
            obj["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "slow", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]);
            obj["spec"]["template"]["spec"]["securityContext"] = json!({"runAsNonRoot": false});
            obj["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}});
            obj["status"] = json!({
                "observedGeneration": 1, "replicas": 2,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                    "lastUpdateTime": "2024-01-02T03:04:06Z", "lastTransitionTime": "2024-01-02T03:04:07Z"}]
            });
        }
        _ => {}
    }
    obj
}

fn respond(stream: &mut TcpStream, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)
}

fn serve(stream: TcpStream, created: std::sync::mpsc::Sender<Value>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = path.split('?').next().unwrap_or("");
        if method == "POST" {
            let sent = kubeproto::decode(&body).map_err(std::io::Error::other)?;
            let stored = server_side(sent);
            let bytes = kubeproto::encode(&stored).map_err(std::io::Error::other)?;
            let _ = created.send(stored);
            respond(&mut stream, kubeproto::CONTENT_TYPE, &bytes)?;
        } else {
            let doc = match path {
                "/api" => {
                    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
                }
                "/apis" => {
                    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [{"name": "apps",
                    "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]})
                }
                other => resources(other)
                    .unwrap_or_else(|| json!({"kind": "Status", "apiVersion": "v1", "code": 404})),
            };
            respond(&mut stream, "application/json", doc.to_string().as_bytes())?;
        }
    }
}

/// Canonical form for comparing: Go prints zero values our decoder drops, so both sides
/// go through encode + decode.
fn canonical(obj: &Value) -> Option<Value> {
    kubeproto::encode(obj)
        .ok()
        .and_then(|b| kubeproto::decode(&b).ok())
}

#[test]
fn kubectl_decodes_encoded_objects() -> std::io::Result<()> {
    let Some(kubectl) = kubectl() else {
        eprintln!("kubectl not installed; skipping");
        return Ok(());
    };
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || serve(stream, tx));
        }
    });
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: f, cluster: {{server: \"http://127.0.0.1:{port}\"}}}}]\n\
             users: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: c, context: {{cluster: f, user: u}}}}]\ncurrent-context: c\n"
        ),
    )?;
    let commands: [&[&str]; 4] = [
        &["create", "namespace", "demo"],
        &[
            "create",
            "configmap",
            "cfg",
            "-n",
            "demo",
            "--from-literal=a=b",
        ],
        &[
            "create",
            "service",
            "nodeport",
            "web",
            "-n",
            "demo",
            "--tcp=80:8080",
        ],
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "demo",
            "--image=nginx:1.27",
            "--replicas=2",
            "--port=80",
        ],
    ];
    for args in commands {
        let out = Command::new(&kubectl)
            .args(args)
            .args(["-o", "json", "--show-managed-fields"])
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?}: {stderr}");
        let printed: Value = serde_json::from_slice(&out.stdout).map_err(std::io::Error::other)?;
        let stored = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .map_err(std::io::Error::other)?;
        assert_eq!(
            printed["metadata"]["uid"], stored["metadata"]["uid"],
            "{args:?}"
        );
        assert_eq!(
            printed["metadata"]["creationTimestamp"],
            json!("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            printed["metadata"]["managedFields"],
            stored["metadata"]["managedFields"]
        );
        assert_eq!(
            canonical(&printed),
            canonical(&stored),
            "kubectl {args:?} printed {printed:#}"
        );
    }
    Ok(())
}
