//! Annotation templates as Prometheus expands them: Go `text/template` (the `gotmpl` crate)
//! with `$labels` (the alert's labels) and `$value` (the sample's value, a float64) defined
//! before the text, exactly as Prometheus prefixes
//! `{{$labels := .Labels}}{{$value := .Value}}`. Prometheus' own functions (`humanize`,
//! `query`…) are not provided: a template calling one fails and the raw text is kept.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use gotmpl::{Dict, FuncMap, Limits, TemplateSet, Value};

static FUNCS: LazyLock<Arc<FuncMap>> = LazyLock::new(|| Arc::new(FuncMap::new()));

/// Bounds on one expansion (a template is written by a tenant).
const MAX_OUTPUT: usize = 4 * 1024;
const MAX_TIME: Duration = Duration::from_millis(100);

/// Expands `text` for an alert with `labels` and `value`.
pub fn expand(text: &str, labels: &BTreeMap<String, String>, value: f64) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let source = format!("{{{{$labels := .Labels}}}}{{{{$value := .Value}}}}{text}");
    let mut set = TemplateSet::new(FUNCS.clone());
    set.parse("annotation", &source)
        .map_err(|e| e.to_string())?;
    let label_map: BTreeMap<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let data: BTreeMap<String, Value> = [
        ("Labels".to_string(), Value::Map(Dict::from(label_map))),
        ("Value".to_string(), Value::Float(value)),
    ]
    .into_iter()
    .collect();
    let limits = Limits {
        max_depth: 10,
        deadline: Some(Instant::now() + MAX_TIME),
        max_output: MAX_OUTPUT,
        missing_key_error: false,
    };
    let mut out = String::new();
    set.execute(
        "annotation",
        &Value::Map(Dict::from(data)),
        &mut out,
        &limits,
    )
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Expands every annotation; one that fails keeps its text (as Prometheus does, with the
/// error in its place) so an alert is never lost to a template.
pub fn expand_all(
    annotations: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    value: f64,
) -> BTreeMap<String, String> {
    annotations
        .iter()
        .map(|(k, t)| {
            let v = expand(t, labels, value)
                .unwrap_or_else(|e| format!("<error expanding template: {e}>"));
            (k.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> BTreeMap<String, String> {
        [("pod", "web-1"), ("namespace", "shop")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_and_value() {
        assert_eq!(
            expand(
                "{{ $labels.pod }} in {{ $labels.namespace }} restarted {{ $value }} times",
                &labels(),
                3.0
            ),
            Ok("web-1 in shop restarted 3 times".into())
        );
        assert_eq!(expand("{{ $value }}", &labels(), 0.25), Ok("0.25".into()));
        assert_eq!(expand("plain", &labels(), 1.0), Ok("plain".into()));
        assert_eq!(
            expand(
                "{{ if gt $value 2.0 }}high{{ else }}low{{ end }}",
                &labels(),
                3.0
            ),
            Ok("high".into())
        );
        // A missing label prints as Go prints a missing map key.
        assert_eq!(
            expand("{{ $labels.nope }}", &labels(), 1.0),
            Ok("<no value>".into())
        );
    }

    #[test]
    fn errors_keep_the_alert() {
        assert!(expand("{{ humanize $value }}", &labels(), 1.0).is_err());
        assert!(expand("{{ $labels.pod", &labels(), 1.0).is_err());
        let a: BTreeMap<String, String> = [("summary".to_string(), "{{ nope }}".to_string())]
            .into_iter()
            .collect();
        let out = expand_all(&a, &labels(), 1.0);
        assert!(
            out["summary"].starts_with("<error expanding template"),
            "{out:?}"
        );
    }

    #[test]
    fn output_is_bounded() {
        assert!(expand("{{ printf \"%01000d\" 1 }}", &labels(), 1.0).is_ok());
        assert!(expand("{{ printf \"%05000d\" 1 }}", &labels(), 1.0).is_err());
    }
}
