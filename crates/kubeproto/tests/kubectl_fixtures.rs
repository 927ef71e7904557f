//! Bodies captured from a real kubectl (`tools/kubeproto-gen/capture_kubectl.py`):
//! each must decode to the JSON kube-apiserver would have built from it.

use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/kubectl/{name}.pb",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check(name: &str, expected: Value) {
    let decoded = kubeproto::decode(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(decoded, expected, "{name}");
    // Our own encoding of the result decodes back to it; `null` members are not encoded.
    let again = kubeproto::encode(&decoded).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        kubeproto::decode(&again).ok(),
        Some(without_nulls(expected)),
        "{name} re-encoded"
    );
}

fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[test]
fn namespace_matches_hand_built_bytes() {
    // Built field by field from generated.proto: Unknown{typeMeta{apiVersion, kind}, raw,
    // contentEncoding, contentType}; Namespace{metadata, spec, status}. Go writes every
    // non-pointer field, so ObjectMeta carries empty strings, generation 0 and an empty
    // creationTimestamp.
    fn len(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, u8::try_from(body.len()).unwrap_or(0)];
        out.extend_from_slice(body);
        out
    }
    let type_meta = [len(0x0a, b"v1"), len(0x12, b"Namespace")].concat();
    let meta = [
        len(0x0a, b"demo"), // 1 name
        len(0x12, b""),     // 2 generateName
        len(0x1a, b""),     // 3 namespace
        len(0x22, b""),     // 4 selfLink
        len(0x2a, b""),     // 5 uid
        len(0x32, b""),     // 6 resourceVersion
        vec![0x38, 0x00],   // 7 generation
        len(0x42, b""),     // 8 creationTimestamp
    ]
    .concat();
    let namespace = [
        len(0x0a, &meta),
        len(0x12, b""),             // 2 spec
        len(0x1a, &len(0x0a, b"")), // 3 status{phase: ""}
    ]
    .concat();
    let body = [
        b"k8s\0".to_vec(),
        len(0x0a, &type_meta),
        len(0x12, &namespace),
        len(0x1a, b""),
        len(0x22, b""),
    ]
    .concat();
    assert_eq!(body, fixture("namespace"));
    check(
        "namespace",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}),
    );
}

#[test]
fn config_map_and_secret() {
    check(
        "configmap",
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "demo"},
            "data": {"greeting": "hello"},
            "binaryData": {"blob": "AAEC/v8="}
        }),
    );
    check(
        "secret",
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "demo"},
            "data": {"password": "aHVudGVyMg=="},
            "type": "Opaque"
        }),
    );
}

#[test]
fn service_target_port_is_a_number() {
    check(
        "service",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
            "spec": {
                "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "selector": {"app": "web"},
                "type": "NodePort"
            }
        }),
    );
}

#[test]
fn workloads() {
    check(
        "deployment",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}
                }
            }
        }),
    );
    check(
        "job",
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "once", "namespace": "demo"},
            "spec": {"template": {"spec": {
                "containers": [{"name": "once", "image": "busybox", "command": ["date"]}],
                "restartPolicy": "Never"
            }}}
        }),
    );
    check(
        "cronjob",
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "demo"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "metadata": {"name": "nightly"},
                    "spec": {"template": {"spec": {
                        "containers": [{"name": "nightly", "image": "busybox"}],
                        "restartPolicy": "OnFailure"
                    }}}
                }
            }
        }),
    );
}

#[test]
fn rbac_and_cluster_scoped() {
    check(
        "role",
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "reader", "namespace": "demo"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
        }),
    );
    check(
        "clusterrolebinding",
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "admins"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}
        }),
    );
    check(
        "priorityclass",
        json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "high"},
            "value": 1000,
            "description": "high",
            "preemptionPolicy": "PreemptLowerPriority"
        }),
    );
}

#[test]
fn networking_policy_quota() {
    check(
        "ingress",
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {
                "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
                "rules": [{"host": "a.example.com", "http": {"paths": [{
                    "path": "/", "pathType": "Exact",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}
                }]}}]
            }
        }),
    );
    // PodDisruptionBudgetStatus counters are non-omitempty Go ints, so they stay.
    check(
        "poddisruptionbudget",
        json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        }),
    );
    check(
        "quota",
        json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": "demo"},
            "spec": {"hard": {"cpu": "2", "memory": "1Gi", "pods": "10"}}
        }),
    );
}

#[test]
fn token_request_subresource() {
    // TokenRequestStatus fields are non-omitempty in Go, so they stay (a zero Time is null).
    check(
        "tokenrequest",
        json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": ["api"], "expirationSeconds": 3600},
            "status": {"token": "", "expirationTimestamp": null}
        }),
    );
}
