//! Structural checks of the published documents, against what kubectl's parsers need.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use openapi::{CrdSchema, OpenApi};
use serde_json::{Value, json};

fn openapi() -> &'static OpenApi {
    static OPENAPI: OnceLock<OpenApi> = OnceLock::new();
    OPENAPI.get_or_init(OpenApi::builtin)
}

fn parse(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(err) => panic!("document is not JSON: {err}"),
    }
}

fn v3(path: &str, crds: &[CrdSchema]) -> Value {
    match openapi().v3_group_version(path, crds) {
        Some(bytes) => parse(&bytes),
        None => panic!("no v3 document for {path}"),
    }
}

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

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn has_gvk(schema: &Value, group: &str, version: &str, kind: &str) -> bool {
    schema["x-kubernetes-group-version-kind"]
        .as_array()
        .is_some_and(|list| {
            list.iter()
                .any(|g| g == &json!({"group": group, "version": version, "kind": kind}))
        })
}

fn find_by_gvk<'a>(
    schemas: &'a Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<(&'a String, &'a Value)> {
    schemas
        .as_object()?
        .iter()
        .find(|(_, schema)| has_gvk(schema, group, version, kind))
}

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

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref"
                    && let Some(target) = child.as_str()
                {
                    out.push(target.to_owned());
                }
                refs(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|child| refs(child, out)),
        _ => {}
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

fn sample_crd(extra: Value) -> CrdSchema {
    CrdSchema {
        group: "example.com".into(),
        version: "v1".into(),
        kind: "Widget".into(),
        list_kind: "WidgetList".into(),
        plural: "widgets".into(),
        namespaced: true,
        schema: json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {"size": {"type": "integer"}, "extra": extra},
                },
            },
        }),
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

/// kubectl's `gvkSupportsPatchOpenAPIV3` plus cli-runtime's `supportsQueryParamV3`.
fn patch_operation<'a>(
    doc: &'a Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<&'a Value> {
    let want = json!({"group": group, "version": version, "kind": kind});
    doc["paths"].as_object()?.values().find_map(|item| {
        let op = item.get("patch")?;
        (op["x-kubernetes-group-version-kind"] == want).then_some(op)
    })
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
fn a_crd_appears_in_v2_the_index_and_its_document() {
    let crds = [sample_crd(
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    )];
    let v2 = parse(&openapi().v2(&crds));
    let widget = &v2["definitions"]["com.example.v1.Widget"];
    assert!(has_gvk(widget, "example.com", "v1", "Widget"));
    assert!(has_gvk(
        &v2["definitions"]["com.example.v1.WidgetList"],
        "example.com",
        "v1",
        "WidgetList"
    ));
    assert!(
        v2["paths"]
            .get("/apis/example.com/v1/namespaces/{namespace}/widgets/{name}")
            .is_some()
    );
    assert!(
        v2["definitions"].get("io.k8s.api.core.v1.Pod").is_some(),
        "built-ins stay"
    );

    let index = parse(&openapi().v3_index(&crds));
    assert!(index["paths"].get("apis/example.com/v1").is_some());
    assert!(index["paths"].get("api/v1").is_some());

    let doc = v3("apis/example.com/v1", &crds);
    let schemas = &doc["components"]["schemas"];
    let widget = &schemas["com.example.v1.Widget"];
    assert!(has_gvk(widget, "example.com", "v1", "Widget"));
    assert_eq!(
        widget["properties"]["spec"]["properties"]["extra"]["x-kubernetes-preserve-unknown-fields"],
        json!(true)
    );
    assert_eq!(
        widget["properties"]["metadata"]["allOf"][0]["$ref"],
        json!("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    );
    assert!(
        schemas
            .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            .is_some()
    );
    let Some(op) = patch_operation(&doc, "example.com", "v1", "Widget") else {
        panic!("no CR patch op")
    };
    let content = &op["requestBody"]["content"];
    assert!(content.get("application/merge-patch+json").is_some());
    assert!(
        content
            .get("application/strategic-merge-patch+json")
            .is_none(),
        "CRs take no strategic merge patch"
    );
}

fn index_hashes(crds: &[CrdSchema]) -> Value {
    parse(&openapi().v3_index(crds))["paths"].clone()
}

#[test]
fn index_hash_changes_when_a_crd_changes_and_only_for_its_group_version() {
    let before = index_hashes(&[sample_crd(json!({"type": "string"}))]);
    let after = index_hashes(&[sample_crd(json!({"type": "integer"}))]);
    assert_ne!(before["apis/example.com/v1"], after["apis/example.com/v1"]);
    assert_eq!(before["api/v1"], after["api/v1"]);
    assert_eq!(before["api/v1"], index_hashes(&[])["api/v1"]);
    assert_eq!(
        index_hashes(&[sample_crd(json!({"type": "string"}))]),
        before,
        "stable for the same CRDs"
    );
    let served = openapi().v3_hash(
        "apis/example.com/v1",
        &[sample_crd(json!({"type": "integer"}))],
    );
    let url = after["apis/example.com/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(served.is_some_and(|h| url.ends_with(&h)));
}

#[test]
fn a_crd_in_a_new_version_of_a_group_does_not_disturb_builtins() {
    let mut crd = sample_crd(json!({"type": "string"}));
    crd.group = "apps".into();
    crd.version = "v1".into();
    crd.kind = "Gadget".into();
    crd.list_kind = "GadgetList".into();
    crd.plural = "gadgets".into();
    let doc = v3("apis/apps/v1", std::slice::from_ref(&crd));
    let schemas = &doc["components"]["schemas"];
    assert!(find_by_gvk(schemas, "apps", "v1", "Deployment").is_some());
    assert!(find_by_gvk(schemas, "apps", "v1", "Gadget").is_some());
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
fn strict_field_check_reports_unknown_fields_like_kube() {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "bogus": 1},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "imagePullPolice": "Always",
                    "resources": {"limits": {"cpu": "1"}}}]},
            },
        },
    });
    let found = openapi().unknown_fields("apps", "v1", "Deployment", &deployment, &[]);
    assert_eq!(
        found,
        Some(vec![
            "metadata.bogus".to_owned(),
            "spec.template.spec.containers[0].imagePullPolice".to_owned()
        ])
    );
    let clean = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    assert_eq!(
        openapi().unknown_fields("", "v1", "ConfigMap", &clean, &[]),
        Some(Vec::new())
    );
    assert_eq!(
        openapi().unknown_fields("nope.example", "v1", "Thing", &clean, &[]),
        None
    );
}

#[test]
fn strict_field_check_covers_custom_resources() {
    let crds = [sample_crd(
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    )];
    let widget = json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "extra": {"anything": [1, 2]}, "colour": "red"},
        "status": {},
    });
    let found = openapi().unknown_fields("example.com", "v1", "Widget", &widget, &crds);
    assert_eq!(
        found,
        Some(vec!["spec.colour".to_owned(), "status".to_owned()])
    );
}
