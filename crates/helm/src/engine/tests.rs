//! Engine tests on small in-memory charts.

use super::*;
use crate::chart::File;

fn file(name: &str, text: &str) -> File {
    File {
        name: name.into(),
        data: text.as_bytes().to_vec().into(),
    }
}

fn chart(name: &str, values: &str, templates: &[(&str, &str)]) -> Chart {
    let mut c = Chart::default();
    c.metadata.name = name.into();
    c.metadata.version = "0.1.0".into();
    c.metadata.api_version = "v2".into();
    c.values = crate::yaml::parse_map(values).unwrap_or_default();
    c.templates = templates.iter().map(|(n, t)| file(n, t)).collect();
    c
}

fn render_ok(c: &Chart, user: &str) -> BTreeMap<String, String> {
    let user = crate::yaml::parse_map(user).unwrap_or_default();
    match render_chart(c, &user, &RenderOptions::default()) {
        Ok(m) => m,
        Err(e) => panic!("render failed: {e}"),
    }
}

#[test]
fn partials_excluded_and_paths_prefixed() {
    let c = chart(
        "demo",
        "a: 1",
        &[
            (
                "templates/_h.tpl",
                r#"{{ define "x" }}X{{ .Values.a }}{{ end }}"#,
            ),
            (
                "templates/cm.yaml",
                r#"v: {{ include "x" . }} {{ .Template.Name }} {{ .Template.BasePath }}"#,
            ),
        ],
    );
    let out = render_ok(&c, "");
    assert_eq!(out.len(), 1);
    assert_eq!(
        out.get("demo/templates/cm.yaml").map(String::as_str),
        Some("v: X1 demo/templates/cm.yaml demo/templates")
    );
}

#[test]
fn subchart_scope_and_globals() {
    let sub = chart(
        "sub",
        "x: 1\nglobal: {g: s}",
        &[(
            "templates/s.yaml",
            "{{ .Values.x }} {{ .Values.global.g }} {{ .Chart.Name }} {{ .Chart.IsRoot }}",
        )],
    );
    let mut top = chart(
        "top",
        "global: {g: t}\nsub: {x: 2}",
        &[("templates/t.yaml", "{{ .Subcharts.sub.Values.x }}")],
    );
    top.dependencies = vec![sub];
    let out = render_ok(&top, "");
    assert_eq!(
        out.get("top/charts/sub/templates/s.yaml")
            .map(String::as_str),
        Some("2 t sub false")
    );
    assert_eq!(
        out.get("top/templates/t.yaml").map(String::as_str),
        Some("2")
    );
}

#[test]
fn tpl_and_missing_values() {
    let c = chart(
        "demo",
        "name: world\ngreet: 'hi {{ .Values.name }}'",
        &[(
            "templates/a.yaml",
            "{{ tpl .Values.greet . }}|{{ .Values.nope }}|",
        )],
    );
    let out = render_ok(&c, "");
    assert_eq!(
        out.get("demo/templates/a.yaml").map(String::as_str),
        Some("hi world||")
    );
}

#[test]
fn required_reports_message() {
    let c = chart(
        "demo",
        "",
        &[("templates/a.yaml", "{{ required \"need x\" .Values.x }}")],
    );
    let err = render_chart(&c, &Map::new(), &RenderOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("execution error at (demo/templates/a.yaml:1:"),
        "{err}"
    );
    assert!(err.ends_with("): need x"), "{err}");
}

#[test]
fn library_charts_only_contribute_partials() {
    let mut lib = chart(
        "lib",
        "",
        &[
            ("templates/_l.tpl", r#"{{ define "lib.x" }}L{{ end }}"#),
            ("templates/x.yaml", "not rendered"),
        ],
    );
    lib.metadata.chart_type = "library".into();
    let mut top = chart(
        "top",
        "",
        &[("templates/t.yaml", r#"{{ include "lib.x" . }}"#)],
    );
    top.dependencies = vec![lib];
    let out = render_ok(&top, "");
    assert_eq!(out.keys().collect::<Vec<_>>(), vec!["top/templates/t.yaml"]);
    assert_eq!(
        out.get("top/templates/t.yaml").map(String::as_str),
        Some("L")
    );
}

#[test]
fn recursive_include_is_an_error_not_a_hang() {
    let c = chart(
        "demo",
        "",
        &[
            (
                "templates/_r.tpl",
                r#"{{ define "r" }}{{ include "r" . }}{{ end }}"#,
            ),
            ("templates/a.yaml", r#"{{ include "r" . }}"#),
        ],
    );
    let t0 = Instant::now();
    assert!(render_chart(&c, &Map::new(), &RenderOptions::default()).is_err());
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn runaway_range_hits_the_budget() {
    let c = chart(
        "demo",
        "",
        &[(
            "templates/a.yaml",
            "{{ range $i := until 100000000 }}{{ range $j := until 100000000 }}x{{ end }}{{ end }}",
        )],
    );
    let opts = RenderOptions {
        timeout: Duration::from_millis(300),
        max_output: 1 << 20,
        ..RenderOptions::default()
    };
    let t0 = Instant::now();
    let r = render_chart(&c, &Map::new(), &opts);
    assert!(r.is_err());
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn files_object() {
    let mut c = chart(
        "demo",
        "",
        &[(
            "templates/a.yaml",
            r#"{{ .Files.Get "files/a.txt" }}|{{ (.Files.Glob "files/a.txt").AsConfig }}|{{ (.Files.Glob "files/*.json").AsSecrets }}|{{ .Files.Lines "files/a.txt" }}"#,
        )],
    );
    c.files = vec![
        file("files/a.txt", "hello\nworld\n"),
        file("files/b.json", "{}"),
    ];
    let out = render_ok(&c, "");
    assert_eq!(
        out.get("demo/templates/a.yaml").map(String::as_str),
        Some("hello\nworld\n|a.txt: |\n  hello\n  world|b.json: e30=|[hello world]")
    );
}

#[test]
fn functions_doc_is_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/helm-functions.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    for name in function_names() {
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "docs/helm-functions.md lacks {name}"
        );
    }
    assert!(
        doc == functions_doc(),
        "docs/helm-functions.md is stale; regenerate with: \
         cargo run -p helm --example functions_doc > docs/helm-functions.md"
    );
}

fn render_err(template: &str) -> String {
    let c = chart("probe", "", &[("templates/p.yaml", template)]);
    render_chart(&c, &Map::new(), &RenderOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn error_messages_match_helm() {
    // Each expectation is Helm v4.2.3's message for the same template.
    assert_eq!(
        render_err(r#"x: {{ include "nope" . }}"#),
        "probe/templates/p.yaml:1:6\n  executing \"probe/templates/p.yaml\" at <include \"nope\" .>:\n    \
         error calling include:\ntemplate: no template \"nope\" associated with template \"gotpl\""
    );
    assert_eq!(
        render_err("x: {{ .Values.a.b.c }}"),
        "probe/templates/p.yaml:1:13\n  executing \"probe/templates/p.yaml\" at <.Values.a.b.c>:\n    \
         nil pointer evaluating interface {}.b"
    );
    assert_eq!(
        render_err(r#"x: {{ fail "boom" }}"#),
        "execution error at (probe/templates/p.yaml:1:6): boom"
    );
    assert_eq!(
        render_err(r#"x: {{ tpl "{{ .Values.a.b.c }}" . }}"#),
        "template: probe/templates/p.yaml:1:6: executing \"probe/templates/p.yaml\" at <tpl \"{{ .Values.a.b.c }}\" .>: \
         error calling tpl: error during tpl function execution for \"{{ .Values.a.b.c }}\": template: gotpl:1:10: \
         executing \"gotpl\" at <.Values.a.b.c>: nil pointer evaluating interface {}.b"
    );
}
