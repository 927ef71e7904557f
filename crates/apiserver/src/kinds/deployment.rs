//! Deployment.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `Deployment` kind.
pub struct Deployment;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Ready"),
    int("Up-to-date"),
    int("Available"),
    c("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

impl Kind for Deployment {
    fn spec(&self) -> Spec {
        spec("apps", "v1", "deployments", "Deployment")
            .short(&["deploy"])
            .all()
            .status()
            .scale()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
        vec![
            name(obj),
            json!(format!(
                "{}/{}",
                int_of(obj, &["status", "readyReplicas"]),
                int_of(obj, &["spec", "replicas"])
            )),
            json!(int_of(obj, &["status", "updatedReplicas"])),
            json!(int_of(obj, &["status", "availableReplicas"])),
            age,
            json!(cs),
            json!(is),
            json!(label_selector(s(obj, &["spec", "selector"]))),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        let Some(spec) = obj_mut(obj, "spec") else {
            return;
        };
        set_default(spec, "replicas", json!(1));
        set_default(spec, "revisionHistoryLimit", json!(10));
        set_default(spec, "progressDeadlineSeconds", json!(600));
        set_default(
            spec,
            "strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
        );
        if let Some(st) = spec.get_mut("strategy").and_then(Value::as_object_mut)
            && st.get("type").and_then(Value::as_str) == Some("RollingUpdate")
        {
            let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                set_default(ru, "maxUnavailable", json!("25%"));
                set_default(ru, "maxSurge", json!("25%"));
            }
        }
        template_defaults(spec, "Always");
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_workload(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_strategy_and_the_template() {
        let mut d = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}},
            "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        Deployment.defaults(&mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(
            d["spec"]["strategy"]["rollingUpdate"],
            json!({"maxSurge": 2, "maxUnavailable": "25%"})
        );
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn selector_must_match_the_template_labels() {
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}, "replicas": -1,
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        let fields: Vec<String> = Deployment
            .validate(&d)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["spec.template.metadata.labels", "spec.replicas"]);
        let missing: Vec<String> = Deployment
            .validate(&json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(missing, ["spec.selector"]);
    }

    #[test]
    fn scale_selector_is_the_label_selector_string() {
        let d = json!({"spec": {"selector": {"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "c", "operator": "Exists"}]}}});
        assert_eq!(Deployment.scale_selector(&d), "a=1,b=2,c");
    }
}
