//! Encode-then-decode round trips for realistic objects of the major kinds.

use serde_json::{Value, json};

fn round_trip(obj: Value) {
    let body = kubeproto::encode(&obj).unwrap_or_else(|e| panic!("encode {}: {e}", obj["kind"]));
    assert!(body.starts_with(kubeproto::MAGIC));
    let back = kubeproto::decode(&body).unwrap_or_else(|e| panic!("decode {}: {e}", obj["kind"]));
    assert_eq!(back, obj, "round trip of {}", obj["kind"]);
    // Encoding is deterministic: the decoded object encodes to the same bytes.
    assert_eq!(kubeproto::encode(&back).ok(), Some(body));
}

fn managed_fields() -> Value {
    json!([{
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2024-01-02T03:04:05Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
    }])
}

#[test]
fn namespace() {
    round_trip(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "demo",
            "uid": "6f0f5f0e-2a7b-4c1e-9d2a-0a1b2c3d4e5f",
            "resourceVersion": "42",
            "creationTimestamp": "2024-01-02T03:04:05Z",
            "labels": {"kubernetes.io/metadata.name": "demo", "team": "a"},
            "annotations": {"note": "ünïcødé ✓"},
            "managedFields": managed_fields()
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}
    }));
}

#[test]
fn config_map_with_binary_data() {
    round_trip(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "demo"},
        "data": {"app.properties": "a=1\nb=2\n", "empty": ""},
        "binaryData": {"blob": "AAECAwT/", "none": ""},
        "immutable": false
    }));
}

#[test]
fn secret() {
    round_trip(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls", "namespace": "demo", "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
            "uid": "u-1", "controller": true, "blockOwnerDeletion": true
        }]},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "LS0tLS1CRUdJTg==", "tls.key": "c2VjcmV0"},
        "stringData": {"extra": "plain"}
    }));
}

#[test]
fn service_with_int_or_string_ports() {
    round_trip(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 30443}
            ],
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "type": "NodePort",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster"
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    }));
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "demo",
            "generation": 3,
            "creationTimestamp": "2024-01-02T03:04:05Z",
            "labels": {"app": "web"},
            "managedFields": managed_fields()
        },
        "spec": {
            "replicas": 0,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "volumes": [
                        {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}},
                        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}
                    ],
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "args": ["--port", "8080"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [
                            {"name": "MODE", "value": "prod"},
                            {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}
                        ],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "256Mi"},
                            "requests": {"cpu": "100m", "memory": "64Mi"}
                        },
                        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": true}],
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                            "initialDelaySeconds": 5,
                            "periodSeconds": 10
                        },
                        "readinessProbe": {"tcpSocket": {"port": 8080}, "failureThreshold": 3},
                        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 5"]}}},
                        "imagePullPolicy": "IfNotPresent",
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "allowPrivilegeEscalation": false}
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [
                        {"key": "node-role", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "slow", "operator": "Equal", "value": "yes", "effect": "NoExecute", "tolerationSeconds": 300}
                    ],
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
                    }]}}
                }
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 2,
            "conditions": [{
                "type": "Available",
                "status": "True",
                "lastUpdateTime": "2024-01-02T03:04:05Z",
                "lastTransitionTime": "2024-01-02T03:04:05Z",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability."
            }]
        }
    })
}

#[test]
fn deployment_round_trip() {
    round_trip(deployment());
}

#[test]
fn custom_resource_definition() {
    round_trip(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["size"],
                            "properties": {
                                "size": {"type": "integer", "minimum": 1, "maximum": 10.5, "default": 3},
                                "mode": {"type": "string", "enum": ["a", "b"], "pattern": "^[ab]$"},
                                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                                "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "open": {"type": "object", "additionalProperties": false},
                                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                                "deps": {"type": "object", "dependencies": {"a": ["b", "c"], "d": {"required": ["e"]}}}
                            },
                            "x-kubernetes-validations": [{"rule": "self.size < 10", "message": "too big"}]
                        }
                    }
                }},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
            }],
            "conversion": {"strategy": "None"}
        }
    }));
}

#[test]
fn lease_and_event_micro_times() {
    round_trip(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader", "namespace": "kube-system"},
        "spec": {
            "holderIdentity": "node-a",
            "leaseDurationSeconds": 15,
            "acquireTime": "2024-01-02T03:04:05.123456Z",
            "renewTime": "2024-01-02T03:04:06.000000Z",
            "leaseTransitions": 0
        }
    }));
    round_trip(json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "demo"},
        "eventTime": "2024-01-02T03:04:05.654321Z",
        "series": {"count": 2, "lastObservedTime": "2024-01-02T03:04:07.000001Z"},
        "reportingController": "orrery/sim",
        "reportingInstance": "sim-0",
        "action": "Scheduled",
        "reason": "Scheduled",
        "regarding": {"kind": "Pod", "namespace": "demo", "name": "web-1"},
        "note": "assigned",
        "type": "Normal"
    }));
}

#[test]
fn controller_revision_raw_extension_and_token_review_extra() {
    round_trip(json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "web-1", "namespace": "demo"},
        "data": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}},
        "revision": 1
    }));
    round_trip(json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": "abc", "audiences": ["api"]},
        "status": {"authenticated": true, "user": {
            "username": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"], "none": []}
        }}
    }));
}

#[test]
fn meta_kinds_under_any_group() {
    round_trip(json!({
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": "pods \"x\" not found",
        "reason": "NotFound",
        "details": {"name": "x", "kind": "pods", "causes": [{"reason": "FieldValueInvalid", "field": "spec"}], "retryAfterSeconds": 1},
        "code": 404
    }));
    round_trip(json!({
        "apiVersion": "apps/v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
        "dryRun": ["All"]
    }));
}

#[test]
fn lists_and_batch() {
    round_trip(json!({
        "apiVersion": "v1",
        "kind": "ConfigMapList",
        "metadata": {"resourceVersion": "7", "continue": "abc", "remainingItemCount": 3},
        "items": [
            {"metadata": {"name": "a", "namespace": "demo"}, "data": {"k": "v"}},
            {"metadata": {"name": "b", "namespace": "demo"}}
        ]
    }));
    round_trip(json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "demo"},
        "spec": {
            "schedule": "0 3 * * *",
            "timeZone": "UTC",
            "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "job", "image": "busybox", "command": ["date"]}]
            }}}}
        }
    }));
}

#[test]
fn rbac_networking_policy_autoscaling() {
    round_trip(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}
    }));
    round_trip(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
            "rules": [{"host": "a.example.com", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}
            }]}}]
        }
    }));
    round_trip(json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}
    }));
    round_trip(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
        }
    }));
}

#[test]
fn go_zero_values_of_omitempty_fields_are_dropped() {
    // What Go writes for unset non-pointer fields must read as "unset", so that server
    // defaulting still applies; pointer fields keep explicit zeros (replicas: 0).
    let sent = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "", "generation": 0, "labels": {}},
        "spec": {
            "replicas": 0,
            "template": {"spec": {"containers": [{
                "name": "web", "image": "", "imagePullPolicy": "", "stdin": false,
                "ports": [{"containerPort": 80, "hostPort": 0}],
                "resources": {}
            }]}},
            "strategy": {},
            "paused": false
        },
        "status": {}
    });
    let body = kubeproto::encode(&sent).unwrap_or_default();
    let expected = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 0,
            "template": {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80}]}]}}
        }
    });
    assert_eq!(kubeproto::decode(&body).ok(), Some(expected));
}

#[test]
fn encoding_matches_go_byte_for_byte() {
    // A Service port with a string targetPort, laid out by hand from generated.proto:
    // Go writes IntOrString's type, intVal and strVal whichever is set.
    let obj = json!({
        "apiVersion": "v1", "kind": "Service",
        "spec": {"ports": [{"port": 80, "targetPort": "http"}]}
    });
    let body = kubeproto::encode(&obj).unwrap_or_default();
    let int_or_string = [0x08, 0x01, 0x10, 0x00, 0x1a, 0x04, b'h', b't', b't', b'p'];
    let mut port = vec![0x18, 80, 0x22, int_or_string.len() as u8];
    port.extend_from_slice(&int_or_string);
    let mut spec = vec![0x0a, port.len() as u8];
    spec.extend_from_slice(&port);
    let mut service = vec![0x12, spec.len() as u8];
    service.extend_from_slice(&spec);
    let mut expected = b"k8s\0\x0a\x0d\x0a\x02v1\x12\x07Service".to_vec();
    expected.push(0x12);
    expected.push(service.len() as u8);
    expected.extend_from_slice(&service);
    expected.extend_from_slice(&[0x1a, 0x00, 0x22, 0x00]);
    assert_eq!(body, expected);
}
