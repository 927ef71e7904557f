//! Custom resources in the documents, and the strict unknown-field check.

mod common;

use common::{find_by_gvk, has_gvk, openapi, parse, patch_operation, sample_crd, v3};
use openapi::CrdSchema;
use serde_json::{Value, json};

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

#[test]
fn changing_one_crd_leaves_other_custom_group_versions_alone() {
    let mut gadget = sample_crd(json!({"type": "string"}));
    gadget.group = "gadgets.example.org".into();
    gadget.kind = "Gadget".into();
    gadget.list_kind = "GadgetList".into();
    gadget.plural = "gadgets".into();
    let before = index_hashes(&[sample_crd(json!({"type": "string"})), gadget.clone()]);
    let after = index_hashes(&[sample_crd(json!({"type": "boolean"})), gadget]);
    assert_ne!(before["apis/example.com/v1"], after["apis/example.com/v1"]);
    assert_eq!(
        before["apis/gadgets.example.org/v1"],
        after["apis/gadgets.example.org/v1"]
    );
}
