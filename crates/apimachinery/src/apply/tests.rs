use serde_json::{Value, json};

use super::*;
use crate::patch::builtin_patch_schema;

const NOW: &str = "2026-01-01T00:00:00Z";

fn req<'a>(
    manager: &'a str,
    api_version: &'a str,
    ignored: &'a FieldSet,
    kind: (&str, &str),
) -> Request<'a> {
    Request {
        manager,
        api_version,
        subresource: "",
        now: NOW,
        ignored,
        schema: builtin_patch_schema(kind.0, kind.1),
    }
}

fn applied(live: &Value, config: Value, manager: &str, force: bool) -> Result<Value, ApplyError> {
    let none = FieldSet::new();
    let out = apply(
        live,
        &config,
        force,
        &req(manager, "apps/v1", &none, ("apps", "Deployment")),
    )?;
    let mut obj = out.object;
    write_managed_fields(&mut obj, &out.managed_fields);
    Ok(obj)
}

fn must(r: Result<Value, ApplyError>) -> Value {
    r.unwrap_or_else(|e| panic!("apply failed: {e}"))
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","labels":{"app":"web"}},
           "spec":{"replicas":replicas,"template":{"spec":{"containers":[
               {"name":"web","image":image,"ports":[{"containerPort":80}]}]}}}})
}

#[test]
fn apply_create_records_fields_v1() {
    let obj = must(applied(
        &json!({}),
        deployment(1, "nginx"),
        "kubectl",
        false,
    ));
    assert_eq!(obj["spec"]["replicas"], json!(1));
    assert_eq!(
        obj["metadata"]["managedFields"],
        json!([{"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1","time":NOW,"fieldsType":"FieldsV1",
            "fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},
                        "f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
                            "k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},
                                "f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}}])
    );
}

#[test]
fn fields_v1_round_trips_and_orders() {
    let v = json!({"f:b":{},"f:a":{".":{},"f:x":{}},"k:{\"name\":\"z\"}":{},"v:\"q\"":{},"i:3":{}});
    let set = FieldSet::from_fields_v1(&v).unwrap_or_default();
    let out = set.to_fields_v1();
    let keys: Vec<&String> = out
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["f:a", "f:b", "k:{\"name\":\"z\"}", "v:\"q\"", "i:3"]);
    assert_eq!(FieldSet::from_fields_v1(&out), Ok(set.clone()));
    let paths: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    assert_eq!(
        paths,
        [".a", ".a.x", ".b", "[name=\"z\"]", "[=\"q\"]", "[3]"]
    );
    assert!(FieldSet::from_fields_v1(&json!({"x:y":{}})).is_err());
    assert!(FieldSet::from_fields_v1(&json!([])).is_err());
}

#[test]
fn conflicts_with_an_updater() {
    let none = FieldSet::new();
    let created = update(
        &json!({}),
        &deployment(1, "nginx"),
        &req("kube-controller", "apps/v1", &none, ("apps", "Deployment")),
    );
    let created = created.unwrap_or_else(|e| panic!("{e}"));
    let mut live = created.object;
    write_managed_fields(&mut live, &created.managed_fields);
    let err = applied(
        &live,
        json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3}}),
        "kubectl",
        false,
    );
    let Err(err) = err else {
        panic!("expected a conflict")
    };
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kube-controller\" using apps/v1: .spec.replicas"
    );
    let api = err.to_api_error();
    assert_eq!((api.code, api.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        api.to_status()["details"],
        json!({"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kube-controller\" using apps/v1","field":".spec.replicas"}]})
    );
    let forced = must(applied(
        &live,
        json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3}}),
        "kubectl",
        true,
    ));
    assert_eq!(forced["spec"]["replicas"], json!(3));
    let mf = forced["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(mf.len(), 2);
    assert!(mf[0]["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert_eq!(mf[1]["fieldsV1"], json!({"f:spec":{"f:replicas":{}}}));
}

#[test]
fn same_value_is_shared_not_conflicting() {
    let first = must(applied(&json!({}), deployment(2, "nginx"), "a", false));
    let second = must(applied(&first, deployment(2, "nginx"), "b", false));
    let mf = second["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(mf.len(), 2);
    assert_eq!(mf[0]["fieldsV1"], mf[1]["fieldsV1"]);
}

#[test]
fn multiple_conflicts_message() {
    let first = must(applied(&json!({}), deployment(2, "nginx"), "a", false));
    let err = applied(&first, deployment(3, "httpd"), "b", false).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image".to_string())
    );
}

#[test]
fn fields_no_longer_applied_are_removed_unless_owned_elsewhere() {
    let cm = |labels: Value| json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":labels}});
    let none = FieldSet::new();
    let r = req("a", "v1", &none, ("", "ConfigMap"));
    let step1 = apply(&json!({}), &cm(json!({"x":"1","y":"2"})), false, &r)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut live = step1.object;
    write_managed_fields(&mut live, &step1.managed_fields);
    let step2 = apply(&live, &cm(json!({"x":"1"})), false, &r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(step2.object["metadata"]["labels"], json!({"x":"1"}));
    // Now another manager co-owns y: dropping it from a's config keeps it.
    let rb = req("b", "v1", &none, ("", "ConfigMap"));
    let both = apply(&live, &cm(json!({"y":"2"})), false, &rb).unwrap_or_else(|e| panic!("{e}"));
    let mut live = both.object;
    write_managed_fields(&mut live, &both.managed_fields);
    let step3 = apply(&live, &cm(json!({"x":"1"})), false, &r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(step3.object["metadata"]["labels"], json!({"x":"1","y":"2"}));
}

#[test]
fn sets_and_ignored_fields() {
    let cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":["a.io/x"]},"status":{"s":1}});
    let mut status = FieldSet::new();
    status.insert(&[PathElement::Field("status".into())]);
    let out = apply(
        &json!({}),
        &cm,
        false,
        &req("m", "v1", &status, ("", "ConfigMap")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.managed_fields[0].fields.to_fields_v1(),
        json!({"f:metadata":{"f:finalizers":{".":{},"v:\"a.io/x\"":{}}}})
    );
}

#[test]
fn update_tracks_changed_fields() {
    let none = FieldSet::new();
    let r = req("editor", "apps/v1", &none, ("apps", "Deployment"));
    let created = update(&json!({}), &deployment(1, "nginx"), &r).unwrap_or_else(|e| panic!("{e}"));
    let mut live = created.object;
    write_managed_fields(&mut live, &created.managed_fields);
    let scaler = req("scaler", "apps/v1", &none, ("apps", "Deployment"));
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let out = update(&live, &scaled, &scaler).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.managed_fields.len(), 2);
    assert_eq!(
        out.managed_fields[1].fields.to_fields_v1(),
        json!({"f:spec":{"f:replicas":{}}})
    );
    assert!(!out.managed_fields[0].fields.contains(&[
        PathElement::Field("spec".into()),
        PathElement::Field("replicas".into())
    ]));
    assert!(out.object["metadata"].get("managedFields").is_none());
}

#[test]
fn describe_managers() {
    let e = ManagedFieldsEntry {
        manager: "m".into(),
        operation: "Update".into(),
        api_version: "v1".into(),
        time: None,
        subresource: "status".into(),
        fields: FieldSet::new(),
    };
    assert_eq!(e.describe(), "\"m\" with subresource \"status\" using v1");
}

#[test]
fn value_order_numbers_before_strings() {
    use std::cmp::Ordering;
    assert_eq!(compare_values(&json!(80), &json!(443)), Ordering::Less);
    assert_eq!(compare_values(&json!(1), &json!("a")), Ordering::Less);
    assert_eq!(compare_values(&json!(null), &json!({})), Ordering::Greater);
}

#[test]
fn a_changed_map_entry_conflicts_on_the_entry_not_on_the_map() {
    let mine = json!({"apiVersion":"apps/v1","kind":"Deployment",
        "metadata":{"name":"d","labels":{"app":"web","tier":"front"}}});
    let live = must(applied(&json!({}), mine, "helm", false));
    let theirs = json!({"apiVersion":"apps/v1","kind":"Deployment",
        "metadata":{"name":"d","labels":{"app":"api"}}});
    let Err(err) = applied(&live, theirs.clone(), "kubectl", false) else {
        panic!("expected a conflict")
    };
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"helm\": .metadata.labels.app"
    );
    // Adding an entry to a map another manager owns is no conflict at all.
    let added = json!({"apiVersion":"apps/v1","kind":"Deployment",
        "metadata":{"name":"d","labels":{"team":"blue"}}});
    let obj = must(applied(&live, added, "kubectl", false));
    assert_eq!(
        obj["metadata"]["labels"],
        json!({"app":"web","tier":"front","team":"blue"})
    );
    // Forced, the entry changes hands and the map stays shared.
    let obj = must(applied(&live, theirs, "kubectl", true));
    assert_eq!(obj["metadata"]["labels"]["app"], "api");
    let fields = &obj["metadata"]["managedFields"];
    assert_eq!(
        fields[0]["fieldsV1"],
        json!({"f:metadata":{"f:labels":{".":{},"f:tier":{}}}}),
        "{fields}"
    );
    assert_eq!(
        fields[1]["fieldsV1"],
        json!({"f:metadata":{"f:labels":{".":{},"f:app":{}}}}),
        "{fields}"
    );
}

/// `compare` as it was before it skipped top-level fields equal on both sides: both objects
/// walked whole.
fn compare_walking_everything(
    old: &Value,
    new: &Value,
    schema: Option<&dyn PatchSchema>,
    ignored: &[&FieldSet],
) -> Changes {
    let before = fields_of_except(old, schema, ignored);
    let after = fields_of_except(new, schema, ignored);
    let mut modified = FieldSet::new();
    for p in before.intersection(&after).paths() {
        let granular = before.has_descendants(&p.0) || after.has_descendants(&p.0);
        let (was, is) = (get_path(old, &p.0), get_path(new, &p.0));
        let both_maps = was.is_some_and(Value::is_object) && is.is_some_and(Value::is_object);
        if was != is && !is_list_item(&p) && !(granular && both_maps) {
            modified.insert(&p.0);
        }
    }
    Changes {
        added: after.difference(&before),
        removed: before.difference(&after),
        modified,
    }
}

fn arb_object() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0i32..3).prop_map(|i| json!(i)),
        "[a-b]{0,2}".prop_map(Value::String),
    ];
    let tree = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]|name|labels|containers", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("metadata|spec|status|[a-b]", tree, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest::proptest! {
    /// Skipping the top-level fields equal on both sides finds exactly the changes a walk of
    /// both whole objects finds (objects drawn from few values, so that many fields are equal).
    #[test]
    fn comparing_only_differing_fields_finds_the_same_changes(
        old in arb_object(), new in arb_object(), status in proptest::bool::ANY,
    ) {
        let schema = builtin_patch_schema("apps", "Deployment");
        let mut reset = FieldSet::new();
        if status {
            reset.insert(&[PathElement::Field("spec".into())]);
        }
        let ignored = [&*IGNORED_FIELDS, &reset];
        // Also with `new` sharing most of `old`, as a status write's object does.
        let mut shared = old.clone();
        if let (Some(o), Some(n)) = (shared.as_object_mut(), new.get("status")) {
            o.insert("status".into(), n.clone());
        }
        for new in [new, shared] {
            let fast = compare(&old, &new, schema, &ignored);
            let full = compare_walking_everything(&old, &new, schema, &ignored);
            proptest::prop_assert_eq!(fast.added.paths(), full.added.paths());
            proptest::prop_assert_eq!(fast.removed.paths(), full.removed.paths());
            proptest::prop_assert_eq!(fast.modified.paths(), full.modified.paths());
        }
    }

    /// `intersects` says whether the intersection is non-empty.
    #[test]
    fn intersects_is_a_non_empty_intersection(a in arb_object(), b in arb_object()) {
        let schema = builtin_patch_schema("apps", "Deployment");
        let (a, b) = (fields_of(&a, schema), fields_of(&b, schema));
        proptest::prop_assert_eq!(a.intersects(&b), !a.intersection(&b).is_empty());
        proptest::prop_assert_eq!(b.intersects(&a), !a.intersection(&b).is_empty());
    }
}
