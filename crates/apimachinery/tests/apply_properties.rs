//! Properties of server-side apply: re-applying the same configuration changes nothing, a
//! manager owns exactly what it applied, a second manager conflicts on a field it changes and
//! wins with force, and no input panics.

use apimachinery::apply::{self, FieldSet, PathElement, Request};
use proptest::prelude::*;
use serde_json::{Value, json};

fn req<'a>(manager: &'a str, ignored: &'a FieldSet) -> Request<'a> {
    Request {
        manager,
        api_version: "apps/v1",
        subresource: "",
        now: "2026-01-01T00:00:00Z",
        ignored,
        schema: apimachinery::builtin_patch_schema("apps", "Deployment"),
    }
}

fn without_managed(mut v: Value) -> Value {
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    v
}

fn config_strategy() -> impl Strategy<Value = Value> {
    let env = prop::collection::btree_map("[A-Z]{1,3}", "[a-z0-9]{0,4}", 0..4);
    let labels = prop::collection::btree_map("[a-z]{1,4}", "[a-z0-9]{0,4}", 0..3);
    (0i64..5, "[a-z]{1,6}", env, labels).prop_map(|(replicas, image, env, labels)| {
        let env: Vec<Value> = env
            .into_iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": labels},
            "spec": {
                "replicas": replicas,
                "template": {"spec": {"containers": [{"name": "c", "image": image, "env": env}]}},
            },
        })
    })
}

proptest! {
    #[test]
    fn reapplying_is_a_no_op(config in config_strategy()) {
        let ignored = FieldSet::new();
        let first = apply::apply(&json!({}), &config, false, &req("a", &ignored)).unwrap();
        let mut live = first.object.clone();
        apply::write_managed_fields(&mut live, &first.managed_fields);
        let second = apply::apply(&live, &config, false, &req("a", &ignored)).unwrap();
        prop_assert_eq!(without_managed(second.object), without_managed(first.object.clone()));
        prop_assert_eq!(second.managed_fields.len(), 1);
        prop_assert_eq!(&second.managed_fields[0].manager, "a");
    }

    #[test]
    fn applied_fields_are_in_the_object(config in config_strategy()) {
        let ignored = FieldSet::new();
        let out = apply::apply(&json!({}), &config, false, &req("a", &ignored)).unwrap();
        prop_assert_eq!(&out.object["spec"]["replicas"], &config["spec"]["replicas"]);
        prop_assert_eq!(
            &out.object["spec"]["template"]["spec"]["containers"][0]["image"],
            &config["spec"]["template"]["spec"]["containers"][0]["image"]
        );
    }

    #[test]
    fn a_second_manager_conflicts_then_forces(config in config_strategy(), other in 5i64..9) {
        let ignored = FieldSet::new();
        let first = apply::apply(&json!({}), &config, false, &req("a", &ignored)).unwrap();
        let mut live = first.object.clone();
        apply::write_managed_fields(&mut live, &first.managed_fields);
        let theirs = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "d"}, "spec": {"replicas": other}});
        prop_assert!(apply::apply(&live, &theirs, false, &req("b", &ignored)).is_err());
        let forced = apply::apply(&live, &theirs, true, &req("b", &ignored)).unwrap();
        prop_assert_eq!(&forced.object["spec"]["replicas"], &json!(other));
    }

    #[test]
    fn arbitrary_json_never_panics(live in arb_json(), config in arb_json(), force in any::<bool>()) {
        let ignored = FieldSet::new();
        let _ = apply::apply(&live, &config, force, &req("a", &ignored));
        let _ = apply::update(&live, &config, &req("a", &ignored));
    }
}

/// Field sets to leave out: kube's reset fields of a main resource and of a status write, and
/// arbitrary short paths.
fn arb_ignored() -> impl Strategy<Value = FieldSet> {
    let name = prop_oneof![
        Just("metadata".to_string()),
        Just("spec".to_string()),
        Just("status".to_string()),
        "[a-z]{1,3}",
    ];
    prop::collection::vec(prop::collection::vec(name, 1..3), 0..3).prop_map(|paths| {
        let mut set = FieldSet::new();
        for p in paths {
            let p: Vec<PathElement> = p.into_iter().map(PathElement::Field).collect();
            set.insert(&p);
        }
        set
    })
}

proptest! {
    /// The one-walk form gives exactly what collecting everything and filtering gives.
    #[test]
    fn fields_of_except_is_fields_of_without_subtrees(
        obj in arb_json(), a in arb_ignored(), b in arb_ignored(),
    ) {
        let schema = apimachinery::builtin_patch_schema("apps", "Deployment");
        let filtered = apply::fields_of(&obj, schema).without_subtrees(&a.union(&b));
        let walked = apply::fields_of_except(&obj, schema, &[&a, &b]);
        prop_assert_eq!(walked.to_fields_v1(), filtered.to_fields_v1());
        prop_assert_eq!(walked.paths(), filtered.paths());
    }

    /// `FieldsV1` reads back as the set it was written from.
    #[test]
    fn fields_v1_round_trips(obj in arb_json(), config in config_strategy()) {
        let schema = apimachinery::builtin_patch_schema("apps", "Deployment");
        for v in [obj, config] {
            let set = apply::fields_of(&v, schema);
            let back = FieldSet::from_fields_v1(&set.to_fields_v1()).unwrap();
            prop_assert_eq!(back.paths(), set.paths());
        }
    }

    /// A create's shortcut (live `{}`) records what the general bookkeeping records for a live
    /// object that owns nothing (only ignored fields set), and leaves the object the same.
    #[test]
    fn create_shortcut_matches_the_general_update(new in arb_json(), config in config_strategy()) {
        let ignored = FieldSet::new();
        let owns_nothing = json!({"metadata": {"name": "d"}});
        for new in [new, config] {
            let short = apply::update(&json!({}), &new, &req("a", &ignored)).unwrap();
            let general = apply::update(&owns_nothing, &new, &req("a", &ignored)).unwrap();
            prop_assert_eq!(&short.object, &general.object);
            let json_of = |m: &[apply::ManagedFieldsEntry]| -> Vec<Value> {
                m.iter().map(apply::ManagedFieldsEntry::to_json).collect()
            };
            prop_assert_eq!(json_of(&short.managed_fields), json_of(&general.managed_fields));
            let mut in_place = new.clone();
            let entries = apply::update_in_place(&json!({}), &mut in_place, &req("a", &ignored)).unwrap();
            prop_assert_eq!(&in_place, &short.object);
            prop_assert_eq!(json_of(&entries), json_of(&short.managed_fields));
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        "[a-z]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}|metadata|spec|managedFields", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
