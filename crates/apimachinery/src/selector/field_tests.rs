use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn parse(s: &str) -> FieldSelector {
    FieldSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> String {
    match FieldSelector::parse(s) {
        Ok(sel) => panic!("{s:?} should fail, got {sel}"),
        Err(e) => e.message,
    }
}

fn getter<'a>(m: &'a BTreeMap<&'a str, &'a str>) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| m.get(k).map(|v| v.to_string())
}

#[test]
fn parses_and_sorts_terms() {
    let s = parse("status.phase!=Running,metadata.name==foo,spec.nodeName=n1");
    assert_eq!(
        s.to_string(),
        "metadata.name=foo,spec.nodeName=n1,status.phase!=Running"
    );
    assert_eq!(s.requirements().len(), 3);
    assert_eq!(s.requirements()[2].operator, FieldOperator::NotEquals);
    assert!(parse("").is_empty());
    assert!(parse(",,").is_empty());
    assert_eq!(parse("a=").requirements()[0].value, "");
}

#[test]
fn escaping() {
    let s = parse(r"metadata.name=a\,b\=c\\d");
    assert_eq!(s.requirements()[0].value, r"a,b=c\d");
    assert_eq!(s.to_string(), r"metadata.name=a\,b\=c\\d");
    assert_eq!(
        err(r"a=b\x"),
        r"invalid field selector: invalid escape sequence: \x"
    );
    assert_eq!(
        err(r"a=b\"),
        r"invalid field selector: invalid escape sequence: \"
    );
    assert_eq!(
        err("a=b=c"),
        "invalid field selector: unescaped character in value: 61"
    );
    assert_eq!(
        err("foo"),
        "invalid selector: 'foo'; can't understand 'foo'"
    );
    assert_eq!(
        err("a=1,foo"),
        "invalid selector: 'a=1,foo'; can't understand 'foo'"
    );
}

#[test]
fn first_operator_wins() {
    let s = parse("a!=b");
    assert_eq!(s.requirements()[0].field, "a");
    let s = parse("a=!b");
    assert_eq!(s.requirements()[0].value, "!b");
}

#[test]
fn matching_treats_missing_as_empty() {
    let fields: BTreeMap<&str, &str> =
        [("metadata.name", "foo"), ("status.phase", "Running")].into();
    assert!(parse("metadata.name=foo").matches(getter(&fields)));
    assert!(parse("metadata.name=foo,status.phase!=Pending").matches(getter(&fields)));
    assert!(!parse("status.phase!=Running").matches(getter(&fields)));
    assert!(parse("spec.nodeName=").matches(getter(&fields)));
    assert!(parse("spec.nodeName!=n1").matches(getter(&fields)));
    assert!(!parse("spec.nodeName=n1").matches(getter(&fields)));
}

#[test]
fn supported_fields() {
    let s = parse("metadata.name=a,spec.nodeName=n");
    assert!(s.check_supported(&["spec.nodeName"]).is_ok());
    let e = s.check_supported(&[]).err();
    assert_eq!(
        e.map(|e| (e.code, e.message)),
        Some((400, "field label not supported: spec.nodeName".to_string()))
    );
    assert_eq!(s.requires_exact_match("metadata.name"), Some("a"));
    assert_eq!(parse("a!=b").requires_exact_match("a"), None);
}

proptest! {
    #[test]
    fn never_panics(s in ".{0,40}") {
        let _ = FieldSelector::parse(&s);
    }

    #[test]
    fn display_round_trips(terms in prop::collection::vec(("[a-z.]{1,8}", any::<bool>(), "[a-z=,\\\\!]{0,6}"), 0..4)) {
        let reqs: Vec<FieldRequirement> = terms.into_iter().map(|(field, ne, value)| FieldRequirement {
            field, operator: if ne { FieldOperator::NotEquals } else { FieldOperator::Equals }, value,
        }).collect();
        let text: Vec<String> = reqs.iter().map(ToString::to_string).collect();
        let parsed = FieldSelector::parse(&text.join(","));
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        let parsed = parsed.unwrap_or_default();
        let mut got: Vec<String> = parsed.requirements().iter().map(ToString::to_string).collect();
        let mut want = text.clone();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn kind_conversion_and_values() {
    use serde_json::json;
    let s = parse("spec.host=n1,status.phase=Running");
    let converted = s.for_kind("", "Pod").map(|s| s.to_string());
    assert_eq!(
        converted,
        Ok("spec.nodeName=n1,status.phase=Running".to_string())
    );
    let err = parse("metadata.namespace=x").for_kind("", "Node").err();
    assert_eq!(
        err.map(|e| e.message),
        Some("field label not supported: metadata.namespace".into())
    );
    assert!(
        parse("metadata.namespace=x")
            .for_kind("example.com", "Widget")
            .is_ok()
    );
    let pod = json!({"metadata":{"name":"p"},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIPs":[{"ip":"10.0.0.1"}]}});
    assert!(
        parse("spec.hostNetwork=false,status.podIP=10.0.0.1,spec.nodeName=n1")
            .matches_object("", "Pod", &pod)
    );
    assert!(!parse("spec.nodeName!=n1").matches_object("", "Pod", &pod));
    let ev = json!({"source":{"component":"kubelet"},"involvedObject":{"kind":"Pod"}});
    assert!(parse("source=kubelet,involvedObject.kind=Pod").matches_object("", "Event", &ev));
    let rs = json!({"status":{}});
    assert!(parse("status.replicas=0").matches_object("apps", "ReplicaSet", &rs));
    let node = json!({"spec":{"unschedulable":true}});
    assert!(parse("spec.unschedulable=true").matches_object("", "Node", &node));
}
