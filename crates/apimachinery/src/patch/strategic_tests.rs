use proptest::prelude::*;
use serde_json::{Value, json};

use super::super::{PatchError, builtin_patch_schema};
use super::*;

fn smp(
    group: &str,
    kind: &str,
    doc: Value,
    patch: Value,
) -> std::result::Result<Value, PatchError> {
    let Some(schema) = builtin_patch_schema(group, kind) else {
        panic!("no schema for {group}/{kind}");
    };
    let body = serde_json::to_vec(&patch).unwrap_or_default();
    strategic_merge_patch(&doc, &body, schema)
}

fn ok(group: &str, kind: &str, doc: Value, patch: Value) -> Value {
    match smp(group, kind, doc, patch) {
        Ok(v) => v,
        Err(e) => panic!("patch failed: {e}"),
    }
}

fn pod(containers: Value) -> Value {
    json!({"metadata":{"name":"p"},"spec":{"containers": containers}})
}

#[test]
fn new_list_items_come_first_like_kube() {
    let doc = pod(json!([{"name":"a","image":"x"}]));
    let out = ok(
        "",
        "Pod",
        doc,
        json!({"spec":{"containers":[{"name":"b","image":"y"}]}}),
    );
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name":"b","image":"y"},{"name":"a","image":"x"}])
    );
}

#[test]
fn updates_merge_in_place_and_keep_order() {
    let doc = pod(
        json!([{"name":"a","image":"x"},{"name":"b","image":"y","env":[{"name":"E","value":"1"}]},{"name":"c"}]),
    );
    let out = ok(
        "",
        "Pod",
        doc,
        json!({"spec":{"containers":[{"name":"b","image":"z","env":[{"name":"F","value":"2"}]}]}}),
    );
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name":"a","image":"x"},
               {"name":"b","image":"z","env":[{"name":"F","value":"2"},{"name":"E","value":"1"}]},
               {"name":"c"}])
    );
}

#[test]
fn deployment_template_uses_pod_spec_keys() {
    let doc = json!({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1","ports":[{"containerPort":80}]}]}}}});
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2","ports":[{"containerPort":443}]}]}}}});
    let out = ok("apps", "Deployment", doc, patch);
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name":"web","image":"nginx:2","ports":[{"containerPort":443},{"containerPort":80}]}])
    );
    let cron = json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a"}]}}}}}});
    let out = ok(
        "batch",
        "CronJob",
        cron,
        json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"b"}]}}}}}}),
    );
    assert_eq!(
        out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
        json!([{"name":"b"},{"name":"a"}])
    );
}

#[test]
fn delete_and_replace_directives_in_lists() {
    let doc = pod(json!([{"name":"a"},{"name":"b"}]));
    let out = ok(
        "",
        "Pod",
        doc.clone(),
        json!({"spec":{"containers":[{"name":"a","$patch":"delete"}]}}),
    );
    assert_eq!(out["spec"]["containers"], json!([{"name":"b"}]));
    let out = ok(
        "",
        "Pod",
        doc.clone(),
        json!({"spec":{"containers":[{"name":"c"},{"$patch":"replace"}]}}),
    );
    assert_eq!(out["spec"]["containers"], json!([{"name":"c"}]));
    let e = smp(
        "",
        "Pod",
        doc.clone(),
        json!({"spec":{"containers":[{"$patch":"merge"}]}}),
    );
    assert_eq!(
        e,
        Err(PatchError::Internal(
            "merging lists cannot yet be specified in the patch".into()
        ))
    );
    let e = smp(
        "",
        "Pod",
        doc,
        json!({"spec":{"containers":[{"$patch":"delete"}]}}),
    );
    assert_eq!(
        e,
        Err(PatchError::Internal(
            "map: map[$patch:delete] does not contain declared merge key: name".into()
        ))
    );
}

#[test]
fn map_directives() {
    let doc = json!({"metadata":{"labels":{"a":"1","b":"2"}}});
    let out = ok(
        "",
        "ConfigMap",
        doc.clone(),
        json!({"metadata":{"labels":{"$patch":"replace","c":"3"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"c":"3"}));
    let out = ok(
        "",
        "ConfigMap",
        doc.clone(),
        json!({"metadata":{"labels":{"$patch":"delete"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({}));
    let e = smp(
        "",
        "ConfigMap",
        doc,
        json!({"metadata":{"labels":{"$patch":"bogus"}}}),
    );
    assert_eq!(
        e,
        Err(PatchError::Internal(
            "unknown patch type: bogus in map: map[$patch:bogus]".into()
        ))
    );
}

#[test]
fn null_deletes_and_maps_merge() {
    let doc = json!({"metadata":{"labels":{"a":"1","b":"2"}},"data":{"k":"v"}});
    let out = ok(
        "",
        "ConfigMap",
        doc,
        json!({"metadata":{"labels":{"a":null,"c":"3"}},"data":null}),
    );
    assert_eq!(out, json!({"metadata":{"labels":{"b":"2","c":"3"}}}));
}

#[test]
fn primitive_merge_lists() {
    let doc = json!({"metadata":{"finalizers":["a","b"]}});
    let out = ok(
        "",
        "ConfigMap",
        doc.clone(),
        json!({"metadata":{"finalizers":["c","a"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
    let out = ok(
        "",
        "ConfigMap",
        doc.clone(),
        json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    let e = smp(
        "",
        "ConfigMap",
        doc,
        json!({"metadata":{"$deleteFromPrimitiveList":["a"]}}),
    );
    assert_eq!(e.map_err(|e| e.to_api_error().code), Err(400));
}

#[test]
fn untagged_lists_replace() {
    let doc =
        json!({"spec":{"tolerations":[{"key":"a"}],"containers":[{"name":"c","args":["1","2"]}]}});
    let out = ok(
        "",
        "Pod",
        doc,
        json!({"spec":{"tolerations":[{"key":"b"}],"containers":[{"name":"c","args":["3"]}]}}),
    );
    assert_eq!(out["spec"]["tolerations"], json!([{"key":"b"}]));
    assert_eq!(out["spec"]["containers"][0]["args"], json!(["3"]));
}

#[test]
fn set_element_order() {
    let doc = pod(json!([{"name":"a"},{"name":"b"},{"name":"c"}]));
    let patch = json!({"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"},{"name":"b"}],
                               "containers":[{"name":"a","image":"x"}]}});
    let out = ok("", "Pod", doc, patch);
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name":"c"},{"name":"a","image":"x"},{"name":"b"}])
    );
    let doc = json!({"metadata":{"finalizers":["a","b"]}});
    let out = ok(
        "",
        "ConfigMap",
        doc,
        json!({"metadata":{"$setElementOrder/finalizers":["b","a"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b", "a"]));
}

#[test]
fn retain_keys() {
    let doc = json!({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}});
    let patch = json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}});
    assert_eq!(
        ok("apps", "Deployment", doc.clone(), patch)["spec"]["strategy"],
        json!({"type":"Recreate"})
    );
    let bad = json!({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{}}}});
    assert_eq!(
        smp("apps", "Deployment", doc.clone(), bad),
        Err(PatchError::BadRequest(
            "invalid patch format of retainKeys".into()
        ))
    );
    let bad = json!({"spec":{"strategy":{"$retainKeys":"type"}}});
    assert_eq!(
        smp("apps", "Deployment", doc, bad).map_err(|e| e.to_api_error().code),
        Err(400)
    );
    let vol = json!({"spec":{"volumes":[{"name":"v","emptyDir":{}}]}});
    let patch = json!({"spec":{"volumes":[{"name":"v","$retainKeys":["name","configMap"],"configMap":{"name":"cm"}}]}});
    assert_eq!(
        ok("", "Pod", vol, patch)["spec"]["volumes"],
        json!([{"name":"v","configMap":{"name":"cm"}}])
    );
}

#[test]
fn service_ports_owner_refs_conditions() {
    let svc = json!({"spec":{"ports":[{"port":80,"targetPort":8080}]}});
    let out = ok(
        "",
        "Service",
        svc,
        json!({"spec":{"ports":[{"port":80,"targetPort":9090},{"port":443}]}}),
    );
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port":80,"targetPort":9090},{"port":443}])
    );
    let meta = json!({"metadata":{"ownerReferences":[{"uid":"1","name":"a"}]}});
    let out = ok(
        "",
        "Secret",
        meta,
        json!({"metadata":{"ownerReferences":[{"uid":"2","name":"b"}]}}),
    );
    assert_eq!(
        out["metadata"]["ownerReferences"],
        json!([{"uid":"2","name":"b"},{"uid":"1","name":"a"}])
    );
    let st = json!({"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}});
    let out = ok(
        "",
        "Pod",
        st,
        json!({"status":{"conditions":[{"type":"Ready","status":"True"}]}}),
    );
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}])
    );
}

#[test]
fn pdb_selector_replaces() {
    let doc = json!({"spec":{"selector":{"matchLabels":{"a":"1"}}}});
    let out = ok(
        "policy",
        "PodDisruptionBudget",
        doc,
        json!({"spec":{"selector":{"matchLabels":{"b":"2"}}}}),
    );
    assert_eq!(out["spec"]["selector"], json!({"matchLabels":{"b":"2"}}));
}

#[test]
fn type_changes_replace_and_new_fields_are_cleaned() {
    let doc = json!({"data":{"a":"1"}});
    let out = ok(
        "",
        "ConfigMap",
        doc,
        json!({"data":"x","extra":{"k":null,"m":{"$patch":"delete"},"n":1}}),
    );
    assert_eq!(out, json!({"data":"x","extra":{"n":1}}));
}

#[test]
fn error_classes() {
    let doc = json!({"spec":{"containers":[{"name":"a"}]}});
    let e = smp(
        "",
        "Pod",
        doc.clone(),
        json!({"spec":{"containers":[{"image":"nginx"}]}}),
    );
    let api = e.map_err(|e| e.to_api_error()).err();
    assert_eq!(
        api.map(|a| (a.code, a.reason, a.message)),
        Some((
            500,
            String::new(),
            "map: map[image:nginx] does not contain declared merge key: name".into()
        ))
    );
    let e = smp(
        "",
        "Pod",
        json!({"spec":{"containers":[]}}),
        json!({"spec":{"containers":[["x"]]}}),
    );
    assert_eq!(
        e,
        Err(PatchError::Unprocessable(
            "lists of lists are not supported".into()
        ))
    );
    let e = smp("", "Pod", doc.clone(), json!({"spec":{"containers":["x"]}}));
    assert!(
        matches!(e, Err(PatchError::Internal(m)) if m.starts_with("list element types are not identical"))
    );
    let e = smp(
        "",
        "Pod",
        json!({"spec":{"containers":["x"]}}),
        json!({"spec":{"containers":[{"name":"a"}]}}),
    );
    assert!(e.is_err());
    let schema = builtin_patch_schema("", "Pod");
    if let Some(schema) = schema {
        assert!(
            matches!(strategic_merge_patch(&doc, b"[1]", schema), Err(PatchError::BadRequest(m)) if m == "json: cannot unmarshal array into Go value of type map[string]interface {}")
        );
        assert!(matches!(
            strategic_merge_patch(&doc, b"{", schema),
            Err(PatchError::BadRequest(_))
        ));
        assert_eq!(
            strategic_merge_patch(&doc, b"null", schema),
            Ok(doc.clone())
        );
    }
}

#[test]
fn custom_resources_have_no_schema() {
    assert!(builtin_patch_schema("example.com", "Widget").is_none());
    assert!(builtin_patch_schema("", "ConfigMap").is_some());
    assert!(builtin_patch_schema("rbac.authorization.k8s.io", "Role").is_some());
}

#[test]
fn dedup_matches_go_order() {
    let v = |s: &[&str]| s.iter().map(|x| Value::from(*x)).collect::<Vec<_>>();
    assert_eq!(
        deduplicate_scalars(v(&["a", "b", "a", "c"])),
        v(&["a", "b", "c"])
    );
    assert_eq!(
        deduplicate_scalars(v(&["a", "a", "b", "c"])),
        v(&["a", "c", "b"])
    );
}

fn fuzz_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0i64..3).prop_map(Value::from),
        prop_oneof![
            Just("a"),
            Just("b"),
            Just("delete"),
            Just("replace"),
            Just("merge")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("containers".to_string()),
                    Just("spec".to_string()),
                    Just("$patch".to_string()),
                    Just("$retainKeys".to_string()),
                    Just("$setElementOrder/containers".to_string()),
                    Just("$deleteFromPrimitiveList/finalizers".to_string()),
                    Just("finalizers".to_string()),
                    Just("metadata".to_string()),
                    Just("template".to_string()),
                ],
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn never_panics(doc in fuzz_value(), patch in fuzz_value()) {
        for (g, k) in [("", "Pod"), ("apps", "Deployment"), ("", "ConfigMap")] {
            if let Some(schema) = builtin_patch_schema(g, k) {
                let body = serde_json::to_vec(&patch).unwrap_or_default();
                let _ = strategic_merge_patch(&doc, &body, schema);
            }
        }
    }
}

#[test]
fn set_element_order_sees_in_place_deletes_like_go() {
    // kube deletes and appends inside the live list's array, so the "live order" it then
    // consults is [b, d, c], not [a, b, d]: d stays before the new c.
    let doc = pod(json!([{"name":"a"},{"name":"b"},{"name":"d","image":"x"}]));
    let patch = json!({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"c"}],
                               "containers":[{"name":"c"},{"name":"a","$patch":"delete"}]}});
    let out = ok("", "Pod", doc, patch);
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name":"b"},{"name":"d","image":"x"},{"name":"c"}])
    );
}
