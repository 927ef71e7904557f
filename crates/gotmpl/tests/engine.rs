//! Engine behaviour: limits, template sets, `include`/`tpl` through `CallContext`, shared maps,
//! and a property test that parsing never panics and printed trees re-parse to the same text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gotmpl::{FuncMap, Limits, TemplateError, TemplateSet, Value, sprig};
use proptest::prelude::*;

fn set_with(src: &str) -> TemplateSet {
    let mut f = sprig();
    f.insert("include", |ctx, a| {
        let name = a.first().and_then(|v| v.as_str()).unwrap_or("").to_string();
        Ok(Value::from(ctx.execute_template(
            &name,
            a.get(1).unwrap_or(&Value::Nil),
        )?))
    });
    f.insert("tpl", |ctx, a| {
        let src = a.first().and_then(|v| v.as_str()).unwrap_or("").to_string();
        Ok(Value::from(ctx.execute_source(
            "gotpl",
            &src,
            a.get(1).unwrap_or(&Value::Nil),
        )?))
    });
    let mut s = TemplateSet::new(Arc::new(f));
    s.parse("t", src).expect("parses");
    s
}

fn run(src: &str, limits: &Limits) -> Result<String, TemplateError> {
    let s = set_with(src);
    let mut out = String::new();
    s.execute("t", &Value::Nil, &mut out, limits).map(|_| out)
}

#[test]
fn recursive_template_hits_depth_limit() {
    let e = run(
        r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" }}"#,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, TemplateError::Limit(_)), "{e}");
    let e = run(
        r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, TemplateError::Limit(_)), "{e}");
}

#[test]
fn runaway_range_hits_output_and_time_limits() {
    let limits = Limits {
        max_output: 10_000,
        ..Limits::default()
    };
    let e = run("{{ range until 1000000 }}xxxxxxxx{{ end }}", &limits).unwrap_err();
    assert!(matches!(e, TemplateError::Limit(_)), "{e}");
    let limits = Limits {
        deadline: Some(Instant::now() + Duration::from_millis(50)),
        ..Limits::default()
    };
    let start = Instant::now();
    let e = run("{{ range until 10000000 }}{{ end }}", &limits).unwrap_err();
    assert!(matches!(e, TemplateError::Limit(_)), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let e = run("{{ range until 100000000 }}{{ end }}", &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("exceeds the limit"), "{e}");
}

#[test]
fn later_definitions_replace_earlier_unless_empty() {
    let mut s = TemplateSet::new(Arc::new(FuncMap::new()));
    s.parse("a", r#"{{ define "x" }}one{{ end }}"#).unwrap();
    s.parse("b", r#"{{ define "x" }}two{{ end }}"#).unwrap();
    s.parse("c", r#"{{ define "x" }}  {{ end }}{{ template "x" }}"#)
        .unwrap();
    let mut out = String::new();
    s.execute("c", &Value::Nil, &mut out, &Limits::default())
        .unwrap();
    assert_eq!(out, "two");
    assert!(s.has("a") && s.has("x"));
}

#[test]
fn tpl_defines_stay_local_and_see_the_set() {
    let out = run(
        r#"{{ define "base" }}B{{ end }}{{ tpl "{{ define \"loc\" }}L{{ end }}{{ template \"loc\" }}{{ include \"base\" . }}" . }}"#,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(out, "LB");
    let s = set_with(r#"{{ tpl "{{ define \"loc\" }}L{{ end }}" . }}"#);
    let mut o = String::new();
    s.execute("t", &Value::Nil, &mut o, &Limits::default())
        .unwrap();
    assert!(!s.has("loc"));
}

#[test]
fn set_mutates_shared_maps_across_include() {
    let out = run(
        r#"{{ define "m" }}{{ $_ := set . "k" "v" }}{{ end }}{{ $d := dict }}{{ include "m" $d }}{{ $d.k }}"#,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(out, "v");
}

#[test]
fn missing_key_error_mode() {
    let mut s = TemplateSet::new(Arc::new(FuncMap::new()));
    s.parse("t", "{{ .a }}").unwrap();
    let limits = Limits {
        missing_key_error: true,
        ..Limits::default()
    };
    let mut out = String::new();
    let e = s
        .execute("t", &Value::map(Default::default()), &mut out, &limits)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"template: t:1:3: executing "t" at <.a>: map has no entry for key "a""#
    );
}

#[test]
fn parse_errors_name_the_line() {
    let mut s = TemplateSet::new(Arc::new(FuncMap::new()));
    let e = s.parse("n", "a\nb\n{{ if }}").unwrap_err();
    assert_eq!(e.to_string(), "template: n:3: missing value for if");
    let e = s.parse("n", "{{ nofunc }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"template: n:1: function "nofunc" not defined"#
    );
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let mut s = TemplateSet::new(Arc::new(FuncMap::new()));
    let src = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    let r = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || s.parse("deep", &src).is_err())
        .unwrap()
        .join();
    assert!(r.is_ok());
}

proptest! {
    #[test]
    fn parse_never_panics(src in "\\PC{0,80}") {
        let mut s = TemplateSet::new(Arc::new(sprig()));
        let _ = s.parse("p", &src);
    }

    #[test]
    fn actions_never_panic(src in "(\\{\\{-? ?(\\.|\\$|if|end|range|else|with|[a-z]+|[0-9.e+-]+|\"[a-z]*\"|\\(|\\)|\\||:=| )* ?-?\\}\\}|[a-z \\n]){0,12}") {
        let mut s = TemplateSet::new(Arc::new(sprig()));
        if s.parse("p", &src).is_ok() {
            let mut out = String::new();
            let limits = Limits { max_output: 1 << 16, deadline: Some(Instant::now() + Duration::from_millis(100)), ..Limits::default() };
            let _ = s.execute("p", &Value::Nil, &mut out, &limits);
        }
    }

    #[test]
    fn printed_trees_reparse_to_the_same_text(src in "(\\{\\{ ?(\\.[a-z]|\\$|[0-9]|\"s\"|\\| len|printf \"%d\" 1) ?\\}\\}|\\{\\{ if \\. \\}\\}a\\{\\{ else \\}\\}b\\{\\{ end \\}\\}|[a-z ]){0,8}") {
        let mut s = TemplateSet::new(Arc::new(sprig()));
        if s.parse("p", &src).is_ok() {
            let printed: String = s.tree("p").map(|t| t.root.iter().map(|n| n.to_string()).collect()).unwrap_or_default();
            let mut s2 = TemplateSet::new(Arc::new(sprig()));
            s2.parse("p", &printed).unwrap();
            let again: String = s2.tree("p").map(|t| t.root.iter().map(|n| n.to_string()).collect()).unwrap_or_default();
            prop_assert_eq!(printed, again);
        }
    }
}

struct Files;

impl gotmpl::Object for Files {
    fn type_name(&self) -> &str {
        "engine.files"
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn print(&self) -> String {
        "map[a:[104]]".into()
    }
    fn to_value(&self) -> Value {
        let mut m = std::collections::BTreeMap::new();
        m.insert("a".to_string(), Value::str("x"));
        Value::map(m)
    }
}

#[test]
fn objects_that_are_maps_range_len_index_and_truth() {
    let mut s = TemplateSet::new(Arc::new(FuncMap::new()));
    s.parse("t", r#"{{ range $k, $v := . }}{{ $k }}={{ $v }}{{ end }} {{ len . }} {{ index . "a" }} {{ if . }}yes{{ end }}"#).unwrap();
    let mut out = String::new();
    s.execute(
        "t",
        &Value::Object(Arc::new(Files)),
        &mut out,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(out, "a=x 1 x yes");
}
