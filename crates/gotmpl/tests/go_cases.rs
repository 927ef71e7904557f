//! Compares rendering against outputs recorded from real Helm (Go text/template + Sprig);
//! see `data/gen_go_cases.py`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::sprig::json::from_serde;
use gotmpl::{FuncError, Limits, TemplateSet, Value, sprig};

const NAME: &str = "c/templates/t.txt";

/// Helm reformats some Go errors; this undoes it so both sides are in Go's form.
fn helm_error_to_go(e: &str) -> Option<String> {
    if let Some(rest) = e.strip_prefix("parse error at (") {
        let (loc, msg) = rest.split_once("): ")?;
        return Some(format!("template: {loc}: {msg}"));
    }
    if e.starts_with("template: ") {
        return Some(e.to_string());
    }
    let mut lines = e.lines();
    let loc = lines.next()?;
    let exec = lines.next()?.trim().strip_suffix(':')?;
    let msg = lines.next()?.trim();
    Some(format!("template: {loc}: {exec}: {msg}"))
}

fn nondeterministic(tpl: &str) -> bool {
    tpl.contains("date ") && !tpl.contains("toDate") && !tpl.contains(" 0 }}")
}

#[test]
fn matches_helm() {
    let data = include_str!("data/go_cases.json");
    let cases: Vec<serde_json::Value> = serde_json::from_str(data).expect("valid json");
    let mut funcs = sprig();
    funcs.insert("include", |ctx, a| {
        let name = a.first().and_then(|v| v.as_str()).unwrap_or("").to_string();
        Ok(Value::from(ctx.execute_template(
            &name,
            a.get(1).unwrap_or(&Value::Nil),
        )?))
    });
    funcs.insert("tpl", |ctx, a| {
        let src = a.first().and_then(|v| v.as_str()).unwrap_or("").to_string();
        ctx.execute_source("gotpl", &src, a.get(1).unwrap_or(&Value::Nil))
            .map(Value::from)
            .map_err(|e| {
                FuncError::msg(format!(
                    "error during tpl function execution for {src:?}: {e}"
                ))
            })
    });
    let funcs = Arc::new(funcs);
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let tpl = c["tpl"].as_str().unwrap_or_default();
        if nondeterministic(tpl) {
            continue;
        }
        let mut top = BTreeMap::new();
        top.insert("Values".to_string(), from_serde(&c["values"]));
        let data = Value::map(top);
        let mut set = TemplateSet::new(funcs.clone());
        let got = set.parse(NAME, tpl).and_then(|_| {
            let mut out = String::new();
            set.execute(NAME, &data, &mut out, &Limits::default())
                .map(|_| out.replace("<no value>", ""))
        });
        match (
            c.get("out").and_then(|o| o.as_str()),
            c.get("err").and_then(|e| e.as_str()),
            got,
        ) {
            (Some(want), _, Ok(got)) if want == got => {}
            (Some(want), _, got) => {
                failures.push(format!("case {i} {tpl:?}\n  want {want:?}\n  got  {got:?}"))
            }
            (None, Some(err), Ok(got)) => failures.push(format!(
                "case {i} {tpl:?}\n  want error {err:?}\n  got  {got:?}"
            )),
            (None, Some(err), Err(e)) => {
                if let Some(want) = helm_error_to_go(err)
                    && want != e.to_string()
                    && !err.contains("multiple definition")
                {
                    failures.push(format!(
                        "case {i} {tpl:?}\n  want error {want:?}\n  got  error {:?}",
                        e.to_string()
                    ));
                }
            }
            _ => failures.push(format!("case {i}: malformed case")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
