use serde_json::json;

use super::*;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn field_error_display_matches_kube() {
    let e = FieldError::invalid("metadata.name", "Foo", "bad");
    assert_eq!(e.to_string(), "metadata.name: Invalid value: \"Foo\": bad");
    assert_eq!(
        FieldError::required("metadata.name", "name or generateName is required").to_string(),
        "metadata.name: Required value: name or generateName is required"
    );
    assert_eq!(
        FieldError::required("x", "").to_string(),
        "x: Required value"
    );
    assert_eq!(
        FieldError::forbidden("metadata.namespace", "not allowed on this type").to_string(),
        "metadata.namespace: Forbidden: not allowed on this type"
    );
    assert_eq!(
        FieldError::not_supported("spec.type", "Foo", &["ClusterIP", "NodePort"]).to_string(),
        "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\""
    );
    assert_eq!(
        FieldError::duplicate("x[1]", 80).to_string(),
        "x[1]: Duplicate value: 80"
    );
    assert_eq!(
        FieldError::too_long("metadata.annotations", Some(262144)).to_string(),
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    );
    assert_eq!(
        FieldError::too_long("x", None).to_string(),
        "x: Too long: value is too long"
    );
    assert_eq!(
        FieldError::too_many("x", 5, Some(3)).to_string(),
        "x: Too many: 5: must have at most 3 items"
    );
    assert_eq!(
        FieldError::internal("x", "oops").to_string(),
        "x: Internal error: oops"
    );
    assert_eq!(
        FieldError::not_found("x", "y").to_string(),
        "x: Not found: \"y\""
    );
    assert_eq!(
        FieldError::invalid("x", json!(["a", "b"]), "d").to_string(),
        "x: Invalid value: []string{\"a\", \"b\"}: d"
    );
    assert_eq!(
        FieldError::invalid("x", true, "d").to_string(),
        "x: Invalid value: true: d"
    );
    assert_eq!(
        FieldError::invalid("x", json!(null), "d").to_string(),
        "x: Invalid value: \"null\": d"
    );
    assert_eq!(
        FieldError::type_invalid("x", 1, "must be of type string")
            .kind
            .cause_type(),
        "FieldValueTypeInvalid"
    );
}

#[test]
fn aggregate_formats() {
    assert_eq!(aggregate_messages(&[]), None);
    let a = FieldError::required("a", "");
    let b = FieldError::required("b", "");
    assert_eq!(
        aggregate_messages(std::slice::from_ref(&a)).as_deref(),
        Some("a: Required value")
    );
    assert_eq!(
        aggregate_messages(&[a.clone(), b, a]).as_deref(),
        Some("[a: Required value, b: Required value]")
    );
}

#[test]
fn dns1123_subdomain() {
    assert!(is_dns1123_subdomain("foo").is_empty());
    assert!(is_dns1123_subdomain("foo.bar-baz.example.com").is_empty());
    assert!(is_dns1123_subdomain("0").is_empty());
    for bad in [
        "", "Foo", "-foo", "foo-", "foo..bar", ".foo", "foo.", "foo_bar", "fo o", "ü",
    ] {
        assert_eq!(
            is_dns1123_subdomain(bad),
            vec![SUBDOMAIN_MSG.to_string()],
            "{bad:?}"
        );
    }
    let long = "a".repeat(254);
    assert_eq!(
        is_dns1123_subdomain(&long),
        vec!["must be no more than 253 characters".to_string()]
    );
    assert!(is_dns1123_subdomain(&"a".repeat(253)).is_empty());
}

#[test]
fn dns1123_label() {
    assert!(is_dns1123_label("my-name").is_empty());
    assert!(is_dns1123_label("123").is_empty());
    assert_eq!(
        is_dns1123_label("a.b"),
        vec!["must not contain dots".to_string()]
    );
    assert_eq!(is_dns1123_label("A"), vec![LABEL_MSG]);
    assert_eq!(
        is_dns1123_label(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
}

#[test]
fn dns1035_label() {
    assert!(is_dns1035_label("web").is_empty());
    assert_eq!(
        is_dns1035_label("1web"),
        vec![
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ]
    );
}

#[test]
fn qualified_names() {
    for ok in ["a", "A_b.c-D", "example.com/MyName", "k8s.io/x", "1"] {
        assert!(is_qualified_name(ok).is_empty(), "{ok}");
    }
    let name_part = NAME_PART_MSG;
    assert_eq!(
        is_qualified_name(""),
        vec![
            "name part must be non-empty".to_string(),
            name_part.to_string()
        ]
    );
    assert_eq!(is_qualified_name("-a"), vec![name_part.to_string()]);
    assert_eq!(
        is_qualified_name("/a"),
        vec!["prefix part must be non-empty".to_string()]
    );
    assert_eq!(
        is_qualified_name("Example.com/a"),
        vec![format!("prefix part {SUBDOMAIN_MSG}")]
    );
    assert_eq!(
        is_qualified_name(&"a".repeat(64)),
        vec!["name part must be no more than 63 characters".to_string()]
    );
    assert_eq!(
        is_qualified_name("a/b/c"),
        vec!["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".to_string()]
    );
}

#[test]
fn label_values() {
    for ok in ["", "a", "MyValue", "my_value", "1.2-3"] {
        assert!(is_valid_label_value(ok).is_empty(), "{ok}");
    }
    let msg = VALUE_MSG;
    assert_eq!(is_valid_label_value("-a"), vec![msg.to_string()]);
    assert_eq!(is_valid_label_value("a b"), vec![msg.to_string()]);
    assert_eq!(
        is_valid_label_value(&format!("-{}", "a".repeat(63))),
        vec![
            "must be no more than 63 characters".to_string(),
            msg.to_string()
        ]
    );
}

#[test]
fn path_segments() {
    assert_eq!(
        is_valid_path_segment_name(".."),
        vec!["may not be '..'".to_string()]
    );
    assert_eq!(
        is_valid_path_segment_name("."),
        vec!["may not be '.'".to_string()]
    );
    assert_eq!(
        is_valid_path_segment_name("a/b%c"),
        vec![
            "may not contain '/'".to_string(),
            "may not contain '%'".to_string()
        ]
    );
    assert!(is_valid_path_segment_name("system:admin").is_empty());
    assert!(is_valid_path_segment_prefix("..").is_empty());
}

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

#[test]
fn object_meta_valid() {
    let meta = json!({"name":"foo","namespace":"default","labels":{"app":"web"},
        "annotations":{"Example.com/Note":"x"},"finalizers":["example.com/f"],
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"1","controller":true}]});
    assert_eq!(
        messages(&validate_object_meta(&meta, true, NameRule::Subdomain)),
        Vec::<String>::new()
    );
}

#[test]
fn object_meta_names_and_namespace() {
    let errs = validate_object_meta(&json!({"name":"Foo"}), true, NameRule::Subdomain);
    assert_eq!(
        messages(&errs),
        vec![
            format!("metadata.name: Invalid value: \"Foo\": {SUBDOMAIN_MSG}"),
            "metadata.namespace: Required value".to_string(),
        ]
    );
    let errs = validate_object_meta(&json!({}), false, NameRule::Subdomain);
    assert_eq!(
        messages(&errs),
        vec!["metadata.name: Required value: name or generateName is required"]
    );
    let errs = validate_object_meta(&json!({"name":"n","namespace":"x"}), false, NameRule::Label);
    assert_eq!(
        messages(&errs),
        vec!["metadata.namespace: Forbidden: not allowed on this type"]
    );
    let errs = validate_object_meta(
        &json!({"name":"n","namespace":"a.b"}),
        true,
        NameRule::Label,
    );
    assert_eq!(
        messages(&errs),
        vec!["metadata.namespace: Invalid value: \"a.b\": must not contain dots"]
    );
    let errs = validate_object_meta(&json!({"name":"a:b"}), false, NameRule::PathSegment);
    assert!(errs.is_empty());
    let errs = validate_object_meta(&json!({"name":"a/b"}), false, NameRule::PathSegment);
    assert_eq!(
        messages(&errs),
        vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
    );
}

#[test]
fn generate_name_masks_trailing_dash() {
    let errs = validate_object_meta(
        &json!({"generateName":"web-","name":"web-x1"}),
        false,
        NameRule::Subdomain,
    );
    assert!(errs.is_empty());
    let errs = validate_object_meta(
        &json!({"generateName":"Web-","name":"web-x1"}),
        false,
        NameRule::Subdomain,
    );
    assert_eq!(
        messages(&errs),
        vec![format!(
            "metadata.generateName: Invalid value: \"Web-\": {SUBDOMAIN_MSG}"
        )]
    );
    assert_eq!(NameRule::Label.check("é-", true).len(), 1);
}

#[test]
fn object_meta_labels_annotations() {
    let meta = json!({"name":"n","labels":{"a b":"-x"},"annotations":{"a/b/c":"v"}});
    let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
    assert_eq!(errs.len(), 3);
    assert!(errs.iter().all(|e| e.kind == FieldErrorKind::Invalid));
    assert_eq!(errs[0].field, "metadata.labels");
    assert_eq!(errs[1].bad_value, Some(json!("-x")));
    assert_eq!(errs[2].field, "metadata.annotations");
    let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
    let meta = json!({"name":"n","annotations":{"k": big}});
    assert_eq!(
        messages(&validate_object_meta(&meta, false, NameRule::Subdomain)),
        vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
    );
    let meta = json!({"name":"n","labels":{"a":1}});
    let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
    assert_eq!(errs[0].kind, FieldErrorKind::TypeInvalid);
}

#[test]
fn object_meta_finalizers_owner_refs_generation() {
    let meta = json!({"name":"n","finalizers":["orphan","foregroundDeletion","a/b/c"],"generation":-1,
        "ownerReferences":[{"apiVersion":"v1","kind":"Event","name":"e","uid":"u","controller":true},
                           {"apiVersion":"","kind":"","name":"","controller":true}]});
    let msgs = messages(&validate_object_meta(&meta, false, NameRule::Subdomain));
    assert_eq!(
        msgs[0],
        "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
    );
    assert!(msgs[1].ends_with("/v1, Kind=Event is disallowed from being an owner"));
    assert_eq!(
        msgs[2],
        "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty"
    );
    assert_eq!(
        msgs[3],
        "metadata.ownerReferences.kind: Invalid value: \"\": kind must not be empty"
    );
    assert_eq!(
        msgs[4],
        "metadata.ownerReferences.name: Invalid value: \"\": name must not be empty"
    );
    assert_eq!(
        msgs[5],
        "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"
    );
    assert!(msgs[6].ends_with("Only one reference can have Controller set to true. Found \"true\" in references for Event/e and /"));
    assert!(msgs[7].starts_with("metadata.finalizers: Invalid value: \"a/b/c\": a qualified name"));
    assert_eq!(
        msgs[8],
        "metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\", \"a/b/c\"}: finalizer orphan and foregroundDeletion cannot be both set"
    );
    assert_eq!(msgs.len(), 9);
}

#[test]
fn update_meta_immutable_fields() {
    let old = json!({"name":"a","namespace":"ns","uid":"1","creationTimestamp":"2024-01-01T00:00:00Z","resourceVersion":"5","generation":3});
    let ok = json!({"name":"a","namespace":"ns","uid":"1","creationTimestamp":"2024-01-01T00:00:00Z","resourceVersion":"5","generation":3,"labels":{"x":"y"}});
    assert!(validate_update_object_meta(&old, &ok).is_empty());
    let new = json!({"name":"b","namespace":"ns","uid":"2","generation":2});
    assert_eq!(
        messages(&validate_update_object_meta(&old, &new)),
        vec![
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
            "metadata.generation: Invalid value: 2: must not be decremented",
            "metadata.name: Invalid value: \"b\": field is immutable",
            "metadata.uid: Invalid value: \"2\": field is immutable",
            "metadata.creationTimestamp: Invalid value: \"null\": field is immutable",
        ]
    );
}

#[test]
fn update_meta_no_new_finalizers_while_deleting() {
    let old = json!({"name":"a","resourceVersion":"1","deletionTimestamp":"2024-01-01T00:00:00Z","finalizers":["a.io/x"]});
    let new = json!({"name":"a","resourceVersion":"1","deletionTimestamp":"2024-01-01T00:00:00Z","finalizers":["a.io/x","b.io/y"]});
    assert_eq!(
        messages(&validate_update_object_meta(&old, &new)),
        vec![
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b.io/y\"}"
        ]
    );
}
