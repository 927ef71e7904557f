//! Structural checks of the published documents, against what kubectl's parsers need.

mod common;

use std::collections::BTreeSet;

use common::{find_by_gvk, gv_path, openapi, parse, patch_operation, refs, sample_crd, v3};
use serde_json::{Value, json};

/// Every built-in (group, version, kind) the embedded cluster serves.
const BUILTIN: &[(&str, &str, &[&str])] = &[
    (
        "",
        "v1",
        &[
            "Namespace",
            "Pod",
            "Service",
            "Endpoints",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Node",
            "Event",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "ResourceQuota",
            "LimitRange",
            "Binding",
            "PodList",
            "NamespaceList",
            "ConfigMapList",
        ],
    ),
    (
        "apps",
        "v1",
        &[
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "ControllerRevision",
            "DeploymentList",
        ],
    ),
    ("batch", "v1", &["Job", "CronJob", "JobList"]),
    (
        "networking.k8s.io",
        "v1",
        &["Ingress", "IngressClass", "NetworkPolicy"],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        &["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    ),
    (
        "storage.k8s.io",
        "v1",
        &["StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"],
    ),
    ("coordination.k8s.io", "v1", &["Lease"]),
    ("events.k8s.io", "v1", &["Event"]),
    ("policy", "v1", &["PodDisruptionBudget", "Eviction"]),
    ("autoscaling", "v2", &["HorizontalPodAutoscaler"]),
    ("autoscaling", "v1", &["Scale", "HorizontalPodAutoscaler"]),
    ("discovery.k8s.io", "v1", &["EndpointSlice"]),
    ("apiextensions.k8s.io", "v1", &["CustomResourceDefinition"]),
    (
        "authentication.k8s.io",
        "v1",
        &["TokenReview", "SelfSubjectReview", "TokenRequest"],
    ),
    (
        "authorization.k8s.io",
        "v1",
        &[
            "SubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "LocalSubjectAccessReview",
        ],
    ),
    ("metrics.k8s.io", "v1beta1", &["NodeMetrics", "PodMetrics"]),
];

#[test]
fn every_builtin_kind_is_in_v2_and_its_v3_document_with_its_gvk() {
    let v2 = parse(&openapi().v2(&[]));
    for (group, version, kinds) in BUILTIN {
        let doc = v3(&gv_path(group, version), &[]);
        for kind in *kinds {
            assert!(
                find_by_gvk(&v2["definitions"], group, version, kind).is_some(),
                "v2 lacks {group}/{version} {kind}"
            );
            assert!(
                find_by_gvk(&doc["components"]["schemas"], group, version, kind).is_some(),
                "v3 lacks {group}/{version} {kind}"
            );
        }
    }
}

#[test]
fn definitions_use_kube_names() {
    let v2 = parse(&openapi().v2(&[]));
    for name in [
        "io.k8s.api.core.v1.ConfigMap",
        "io.k8s.api.apps.v1.Deployment",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    ] {
        assert!(v2["definitions"].get(name).is_some(), "{name} missing");
    }
}

fn assert_refs_resolve(doc: &Value, prefix: &str, schemas: &Value, what: &str) {
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(!all.is_empty(), "{what} has no refs at all");
    for reference in all {
        let Some(name) = reference.strip_prefix(prefix) else {
            panic!("{what}: foreign ref {reference}")
        };
        assert!(
            schemas.get(name).is_some(),
            "{what}: dangling ref {reference}"
        );
    }
}

#[test]
fn every_ref_resolves_in_every_document() {
    let crds = [sample_crd(json!({"type": "string"}))];
    let v2 = parse(&openapi().v2(&crds));
    assert_refs_resolve(&v2, "#/definitions/", &v2["definitions"], "v2");
    let index = parse(&openapi().v3_index(&crds));
    let Some(paths) = index["paths"].as_object() else {
        panic!("index has no paths")
    };
    for path in paths.keys() {
        let doc = v3(path, &crds);
        assert_refs_resolve(
            &doc,
            "#/components/schemas/",
            &doc["components"]["schemas"],
            path,
        );
    }
}

#[test]
fn v3_documents_have_what_kubectls_openapi3_parser_needs() {
    let index = parse(&openapi().v3_index(&[]));
    let Some(paths) = index["paths"].as_object() else {
        panic!("index has no paths")
    };
    assert!(paths.contains_key("api/v1") && paths.contains_key("apis/apps/v1"));
    for (path, entry) in paths {
        let Some(url) = entry["serverRelativeURL"].as_str() else {
            panic!("{path}: no serverRelativeURL")
        };
        let Some(hash) = url.strip_prefix(&format!("/openapi/v3/{path}?hash=")) else {
            panic!("{path}: bad url {url}")
        };
        assert_eq!(hash.len(), 128, "kube's hash is hex SHA-512");
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        let doc = v3(path, &[]);
        assert_eq!(doc["openapi"], json!("3.0.0"));
        assert_eq!(doc["info"]["title"], json!("Kubernetes"));
        assert!(doc["info"]["version"].is_string());
        assert!(
            doc["components"]["schemas"]
                .as_object()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
        assert!(
            doc["components"]["schemas"]
                .get("io.k8s.apimachinery.pkg.apis.meta.v1.Status")
                .is_some()
        );
    }
}

#[test]
fn unknown_group_versions_have_no_document() {
    assert!(
        openapi()
            .v3_group_version("apis/nope.example/v1", &[])
            .is_none()
    );
    assert!(openapi().v3_group_version("api/v2", &[]).is_none());
    assert!(
        openapi().v3_group_version("apis/apps/v1/", &[]).is_some(),
        "a trailing slash is tolerated"
    );
}

#[test]
fn patch_operations_advertise_strategic_merge_and_field_validation_for_builtins() {
    for (group, version, kinds) in BUILTIN {
        let doc = v3(&gv_path(group, version), &[]);
        for kind in *kinds {
            let Some(op) = patch_operation(&doc, group, version, kind) else {
                continue;
            };
            assert!(
                op["requestBody"]["content"]
                    .get("application/strategic-merge-patch+json")
                    .is_some(),
                "{kind}: no strategic merge patch"
            );
            let params = op["parameters"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == json!("fieldValidation") && p["in"] == json!("query")),
                "{kind}: no fieldValidation"
            );
        }
    }
    let apps = v3("apis/apps/v1", &[]);
    assert!(patch_operation(&apps, "apps", "v1", "Deployment").is_some());
    assert!(
        patch_operation(&apps, "autoscaling", "v1", "Scale").is_some(),
        "deployments/scale"
    );
}

/// Follows kubectl's `PatchMetaFromOpenAPIV3`: property, then `allOf[0]`, then `$ref`.
fn resolve<'a>(schemas: &'a Value, mut schema: &'a Value) -> &'a Value {
    if let Some(first) = schema.get("allOf").and_then(|a| a.get(0)) {
        schema = first;
    }
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return &schemas[name];
    }
    schema
}

#[test]
fn strategic_merge_metadata_is_reachable_the_way_kubectl_looks_it_up() {
    let doc = v3("apis/apps/v1", &[]);
    let schemas = &doc["components"]["schemas"];
    let Some((_, deployment)) = find_by_gvk(schemas, "apps", "v1", "Deployment") else {
        panic!("no Deployment")
    };
    let mut schema = deployment;
    for field in ["spec", "template", "spec"] {
        schema = resolve(schemas, &schema["properties"][field]);
    }
    let containers = &schema["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], json!("merge"));
    assert_eq!(containers["x-kubernetes-patch-merge-key"], json!("name"));
    assert_eq!(containers["x-kubernetes-list-type"], json!("map"));
    let container = resolve(schemas, &containers["items"]);
    for (field, key) in [
        ("env", "name"),
        ("ports", "containerPort"),
        ("volumeMounts", "mountPath"),
    ] {
        assert_eq!(
            container["properties"][field]["x-kubernetes-patch-merge-key"],
            json!(key),
            "{field}"
        );
    }
    assert_eq!(
        schema["properties"]["volumes"]["x-kubernetes-patch-strategy"],
        json!("merge,retainKeys")
    );
    assert_eq!(
        schema["properties"]["imagePullSecrets"]["x-kubernetes-patch-merge-key"],
        json!("name")
    );
    let meta = resolve(schemas, &deployment["properties"]["metadata"]);
    assert_eq!(
        meta["properties"]["ownerReferences"]["x-kubernetes-patch-merge-key"],
        json!("uid")
    );
    assert_eq!(
        meta["properties"]["finalizers"]["x-kubernetes-patch-strategy"],
        json!("merge")
    );
    let status = resolve(schemas, &deployment["properties"]["status"]);
    assert_eq!(
        status["properties"]["conditions"]["x-kubernetes-patch-merge-key"],
        json!("type")
    );
}

#[test]
fn scalars_are_spelled_like_kube() {
    let v2 = parse(&openapi().v2(&[]));
    let defs = &v2["definitions"];
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        json!("int-or-string")
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"],
        json!("string")
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        json!("string")
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["format"],
        json!("date-time")
    );
    let doc = v3("api/v1", &[]);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["x-kubernetes-int-or-string"],
        json!(true)
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["type"],
        json!("string")
    );
}

#[test]
fn list_kinds_reference_their_items() {
    let v2 = parse(&openapi().v2(&[]));
    let list = &v2["definitions"]["io.k8s.api.core.v1.PodList"];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        json!("#/definitions/io.k8s.api.core.v1.Pod")
    );
    assert_eq!(list["required"], json!(["items"]));
}

#[test]
fn v2_operations_carry_kube_extensions() {
    let v2 = parse(&openapi().v2(&[]));
    let item = &v2["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"];
    assert_eq!(
        item["patch"]["operationId"],
        json!("patchCoreV1NamespacedConfigMap")
    );
    assert_eq!(item["patch"]["x-kubernetes-action"], json!("patch"));
    assert_eq!(
        item["patch"]["x-kubernetes-group-version-kind"],
        json!({"group": "", "kind": "ConfigMap", "version": "v1"})
    );
    let consumes: BTreeSet<&str> = item["patch"]["consumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(consumes.contains("application/strategic-merge-patch+json"));
    assert_eq!(v2["swagger"], json!("2.0"));
}

#[test]
fn openapi_can_be_shared_across_request_handlers() {
    fn shareable<T: Send + Sync + 'static>(_: &T) {}
    shareable(openapi());
}
