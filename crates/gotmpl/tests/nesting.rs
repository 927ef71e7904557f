//! Deep but legal nesting (Helm allows 1000 nested includes) renders on small thread stacks,
//! because the parser and executor continue on heap-allocated stack segments.

use std::sync::Arc;

use gotmpl::{Limits, TemplateError, TemplateSet, Value, sprig};

fn funcs() -> gotmpl::FuncMap {
    let mut f = sprig();
    f.insert("include", |ctx, a| {
        let name = a.first().and_then(|v| v.as_str()).unwrap_or("").to_string();
        Ok(Value::from(ctx.execute_template(
            &name,
            a.get(1).unwrap_or(&Value::Nil),
        )?))
    });
    f
}

/// Parses and runs `src` on a thread with a 256 KiB stack (far too small without growth).
fn run_small_stack(src: String) -> Result<String, String> {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut s = TemplateSet::new(Arc::new(funcs()));
            s.parse("t", &src).map_err(|e| e.to_string())?;
            let mut out = String::new();
            s.execute("t", &Value::int(0), &mut out, &Limits::default())
                .map_err(|e| e.to_string())?;
            Ok(out)
        })
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "thread panicked".to_string())?
}

#[test]
fn include_recursion_to_990_levels_renders() {
    // "r" includes itself with dot+1 until dot reaches 990, then prints it.
    let src = r#"{{ define "r" }}{{ if lt . 990 }}{{ include "r" (add1 . | int) }}{{ else }}{{ . }}{{ end }}{{ end }}{{ include "r" . }}"#;
    assert_eq!(run_small_stack(src.to_string()), Ok("990".to_string()));
}

#[test]
fn include_recursion_stops_at_the_default_limit_of_1000() {
    let src = r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#;
    let mut s = TemplateSet::new(Arc::new(funcs()));
    assert!(s.parse("t", src).is_ok());
    let mut out = String::new();
    let e = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || s.execute("t", &Value::Nil, &mut out, &Limits::default()))
        .map(|h| h.join());
    match e {
        Ok(Ok(Err(TemplateError::Limit(m)))) => {
            assert!(m.contains("exceeded maximum template depth (1000)"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Limits::default().max_depth, 1000);
}

#[test]
fn nested_blocks_to_900_levels() {
    let ifs = format!(
        "{}x{}",
        "{{ if true }}".repeat(900),
        "{{ end }}".repeat(900)
    );
    assert_eq!(run_small_stack(ifs), Ok("x".to_string()));
}

#[test]
fn nested_parentheses_to_900_levels() {
    let parens = format!("{{{{ {}1{} }}}}", "(add1 ".repeat(900), ")".repeat(900));
    assert_eq!(run_small_stack(parens), Ok("901".to_string()));
    // An error deep inside quotes the whole (deep) expression without overflowing either.
    let failing = format!(
        "{{{{ {}(fail \"x\"){} }}}}",
        "(add1 ".repeat(900),
        ")".repeat(900)
    );
    assert!(run_small_stack(failing).is_err_and(|e| e.contains("error calling fail: x")));
    let too_deep = format!("{{{{ {}1{} }}}}", "(".repeat(1001), ")".repeat(1001));
    assert!(run_small_stack(too_deep).is_err_and(|e| e.contains("nesting exceeds 1000")));
}
