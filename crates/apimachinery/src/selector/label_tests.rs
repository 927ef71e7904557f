use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(s: &str) -> LabelSelector {
    match LabelSelector::parse(s) {
        Ok(sel) => sel,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

fn parse_err(s: &str) -> String {
    match LabelSelector::parse(s) {
        Ok(sel) => panic!("{s:?} should not parse, got {sel}"),
        Err(e) => e.message,
    }
}

#[test]
fn parses_all_operators_and_canonicalises() {
    let cases = [
        ("", ""),
        ("x", "x"),
        ("!x", "!x"),
        ("x=a", "x=a"),
        ("x==a", "x==a"),
        ("x!=a", "x!=a"),
        ("x=", "x="),
        ("x>1", "x>1"),
        ("x<1", "x<1"),
        ("x in (b,a,b)", "x in (a,b)"),
        ("x notin ( a , b )", "x notin (a,b)"),
        ("x in ()", "x in ()"),
        ("x in (,a)", "x in (,a)"),
        ("x in (a,)", "x in (,a)"),
        ("x in (a,,b)", "x in (,a,b)"),
        ("  z = 1 , y,!x  ", "!x,y,z=1"),
        ("example.com/app in (web)", "example.com/app in (web)"),
        ("in in (in, notin)", "in in (in,notin)"),
        ("a=b\t,\nc", "a=b,c"),
    ];
    for (input, canonical) in cases {
        assert_eq!(parse(input).to_string(), canonical, "{input:?}");
    }
}

#[test]
fn parse_errors_are_kubes() {
    let cases = [
        ("x,", "found '', expected: identifier after ','"),
        (
            ",x",
            "found ',', expected: !, identifier, or 'end of string'",
        ),
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        (
            "x y",
            "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "x in a",
            "unable to parse requirement: found 'a' expected: '('",
        ),
        (
            "x in (a",
            "unable to parse requirement: found '', expected: ',' or ')'",
        ),
        (
            "x in (a b)",
            "unable to parse requirement: found 'b', expected: ',' or ')'",
        ),
        (
            "x in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier",
        ),
        (
            "x in (a,=)",
            "unable to parse requirement: found '=', expected: ',', or identifier",
        ),
        (
            "x==(",
            "unable to parse requirement: found '(', expected: identifier",
        ),
        (
            "!",
            "unable to parse requirement: found '', expected: identifier",
        ),
        (
            "!=a",
            "found '!=', expected: !, identifier, or 'end of string'",
        ),
        (
            "!!a",
            "unable to parse requirement: found '!', expected: identifier",
        ),
        (
            "x in (a,,)",
            "unable to parse requirement: found ')', expected: ',', or identifier",
        ),
        ("x in ()x", "found 'x', expected: ',' or 'end of string'"),
    ];
    for (input, msg) in cases {
        assert_eq!(parse_err(input), msg, "{input:?}");
    }
}

#[test]
fn key_and_value_validation_messages() {
    assert_eq!(
        parse_err("a/b/c"),
        "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    );
    assert_eq!(
        parse_err("x=-a"),
        "unable to parse requirement: values[0][x]: Invalid value: \"-a\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );
    let two = parse_err("x in (-a,-b)");
    assert!(
        two.starts_with("unable to parse requirement: [values[0][x]: Invalid value: \"-a\""),
        "{two}"
    );
    assert!(two.contains(", values[1][x]: Invalid value: \"-b\""));
    assert_eq!(
        parse_err("x>a"),
        "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
}

#[test]
fn matching() {
    let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
    let yes = [
        "",
        "app",
        "!missing",
        "app=web",
        "app==web",
        "app!=db",
        "missing!=x",
        "app in (web,db)",
        "app notin (db)",
        "missing notin (x)",
        "n>4",
        "n<6",
        "app,tier=front",
    ];
    let no = [
        "missing",
        "!app",
        "app=db",
        "app!=web",
        "app in (db)",
        "app notin (web)",
        "n>5",
        "app>1",
        "missing>1",
        "missing=x",
        "missing in (x)",
    ];
    for s in yes {
        assert!(parse(s).matches(&l), "{s} should match");
    }
    for s in no {
        assert!(!parse(s).matches(&l), "{s} should not match");
    }
    assert!(parse("x=").matches(&labels(&[("x", "")])));
    assert!(!parse("x=").matches(&labels(&[])));
}

#[test]
fn matches_json_labels() {
    let meta = json!({"app": "web", "n": 1});
    let sel = parse("app=web,!n");
    assert!(sel.matches(&meta));
    let map = meta.as_object().cloned().unwrap_or_default();
    assert!(sel.matches(&map));
}

#[test]
fn nul_byte_ends_the_input_like_kube() {
    assert_eq!(parse("a,b\0,c").to_string(), "a,b,c");
    assert_eq!(
        parse_err("a, \0b"),
        "found '', expected: identifier after ','"
    );
    assert_eq!(
        parse_err("a\0b"),
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    );
}

#[test]
fn exact_match_and_emptiness() {
    let s = parse("a=1,b in (2),c in (3,4),d!=5");
    assert_eq!(s.requires_exact_match("a"), Some("1"));
    assert_eq!(s.requires_exact_match("b"), Some("2"));
    assert_eq!(s.requires_exact_match("c"), None);
    assert_eq!(s.requires_exact_match("d"), None);
    assert!(parse("").is_empty());
    assert!(!s.is_empty());
    assert!(!LabelSelector::nothing().is_empty());
    assert!(!LabelSelector::nothing().matches(&labels(&[])));
    assert!(LabelSelector::everything().matches(&labels(&[])));
}

#[test]
fn metav1_label_selector() {
    let sel = LabelSelector::from_label_selector_json(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "gpu", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "Exists"}
        ]
    }));
    let sel = sel.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sel.to_string(),
        "app=web,env notin (prod),!gpu,tier in (a,b),zone"
    );
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("zone", "z")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a")])));
    let everything = LabelSelector::from_label_selector_json(&json!({}));
    assert_eq!(everything.map(|s| s.is_empty()), Ok(true));
    let nothing = LabelSelector::from_label_selector_json(&json!(null));
    assert_eq!(nothing.map(|s| s.is_nothing()), Ok(true));
}

#[test]
fn metav1_label_selector_errors() {
    let err = |v: serde_json::Value| match LabelSelector::from_label_selector_json(&v) {
        Ok(s) => panic!("{v} should fail, got {s}"),
        Err(e) => e.message,
    };
    assert_eq!(
        err(json!({"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]})),
        "\"Gt\" is not a valid label selector operator"
    );
    assert_eq!(
        err(json!({"matchExpressions":[{"key":"a","operator":"In","values":[]}]})),
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        err(json!({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})),
        "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
    );
    assert!(
        err(json!({"matchLabels":{"-a":"b"}})).starts_with("key: Invalid value: \"-a\": name part")
    );
}

#[test]
fn requirement_new_checks_arity() {
    let e = Requirement::new("a", Operator::Equals, vec![]);
    assert_eq!(
        e.map_err(|e| e.message),
        Err("values: Invalid value: []string{}: exact-match compatibility requires one single value".to_string())
    );
    let e = Requirement::new("a", Operator::GreaterThan, vec!["1".into(), "2".into()]);
    assert_eq!(
        e.map_err(|e| e.message),
        Err("values: Invalid value: []string{\"1\", \"2\"}: for 'Gt', 'Lt' operators, exactly one value is required".to_string())
    );
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,3}",
        "[a-z]{1,3}\\.io/[a-z]{1,3}",
        Just("in".to_string()),
        Just("notin".to_string()),
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,2}",
        Just("in".to_string()),
        "[a-z0-9][a-z0-9._-]{0,3}[a-z0-9]"
    ]
}

#[derive(Debug, Clone)]
enum Model {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

impl Model {
    fn render(&self) -> String {
        match self {
            Model::Eq(k, v) => format!("{k} = {v}"),
            Model::Ne(k, v) => format!("{k}!={v}"),
            Model::In(k, vs) => format!("{k} in ({})", vs.join(", ")),
            Model::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
            Model::Exists(k) => k.clone(),
            Model::Absent(k) => format!("! {k}"),
        }
    }

    fn eval(&self, l: &BTreeMap<String, String>) -> bool {
        match self {
            Model::Eq(k, v) => l.get(k) == Some(v),
            Model::Ne(k, v) => l.get(k) != Some(v),
            Model::In(k, vs) => l.get(k).is_some_and(|x| vs.contains(x)),
            Model::NotIn(k, vs) => !l.get(k).is_some_and(|x| vs.contains(x)),
            Model::Exists(k) => l.contains_key(k),
            Model::Absent(k) => !l.contains_key(k),
        }
    }
}

fn model_strategy() -> impl Strategy<Value = Model> {
    // Two empty values in a row before `)` are a syntax error in kube, so lists use
    // non-empty values.
    let vs = || prop::collection::vec("[a-c]{1,2}", 1..4);
    prop_oneof![
        (key_strategy(), value_strategy()).prop_map(|(k, v)| Model::Eq(k, v)),
        (key_strategy(), value_strategy()).prop_map(|(k, v)| Model::Ne(k, v)),
        (key_strategy(), vs()).prop_map(|(k, v)| Model::In(k, v)),
        (key_strategy(), vs()).prop_map(|(k, v)| Model::NotIn(k, v)),
        key_strategy().prop_map(Model::Exists),
        key_strategy().prop_map(Model::Absent),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(s in ".{0,40}") {
        let _ = LabelSelector::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_selector_alphabet(s in "[a-c !=(),<>\\-\\x00in]{0,30}") {
        if let Ok(sel) = LabelSelector::parse(&s) {
            let again = LabelSelector::parse(&sel.to_string());
            prop_assert_eq!(again.map(|a| a.to_string()), Ok(sel.to_string()));
        }
    }

    #[test]
    fn display_round_trips_and_matches_model(
        models in prop::collection::vec(model_strategy(), 0..5),
        pairs in prop::collection::btree_map(key_strategy(), value_strategy(), 0..5),
    ) {
        let text: Vec<String> = models.iter().map(Model::render).collect();
        let sel = LabelSelector::parse(&text.join(","));
        prop_assert!(sel.is_ok(), "{:?}", sel);
        let sel = sel.unwrap_or_default();
        let again = LabelSelector::parse(&sel.to_string());
        prop_assert_eq!(again.as_ref().map(ToString::to_string), Ok(sel.to_string()));
        let expected = models.iter().all(|m| m.eval(&pairs));
        prop_assert_eq!(sel.matches(&pairs), expected);
        prop_assert_eq!(again.map(|a| a.matches(&pairs)), Ok(expected));
    }
}
