//! Job.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `Job` kind.
pub struct Job;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Status"),
    c("Completions"),
    c("Duration"),
    c("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

impl Kind for Job {
    fn spec(&self) -> Spec {
        spec("batch", "v1", "jobs", "Job").all().status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let (cs, is) = containers_images(s(obj, &["spec", "template", "spec"]));
        let conds = s(obj, &["status", "conditions"])
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has = |t: &str| {
            conds.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(t)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        };
        let status = if has("Complete") {
            "Complete"
        } else if has("Failed") {
            "Failed"
        } else if s(obj, &["metadata", "deletionTimestamp"]).is_string() {
            "Terminating"
        } else {
            "Running"
        };
        let completions = s(obj, &["spec", "completions"]).as_i64().unwrap_or(1);
        let duration = match (
            s(obj, &["status", "startTime"]).as_str(),
            s(obj, &["status", "completionTime"]).as_str(),
        ) {
            (Some(a), Some(b)) => match (
                chrono::DateTime::parse_from_rfc3339(a),
                chrono::DateTime::parse_from_rfc3339(b),
            ) {
                (Ok(a), Ok(b)) => crate::table::human_duration((b - a).num_seconds()),
                _ => String::new(),
            },
            (Some(a), None) => chrono::DateTime::parse_from_rfc3339(a)
                .map(|a| {
                    crate::table::human_duration(
                        (chrono::Utc::now() - a.with_timezone(&chrono::Utc)).num_seconds(),
                    )
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        vec![
            name(obj),
            json!(status),
            json!(format!(
                "{}/{completions}",
                int_of(obj, &["status", "succeeded"])
            )),
            json!(duration),
            age,
            json!(cs),
            json!(is),
            json!(label_selector(s(obj, &["spec", "selector"]))),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        job_selector(obj);
        let Some(spec) = obj_mut(obj, "spec") else {
            return;
        };
        set_default(spec, "parallelism", json!(1));
        set_default(spec, "backoffLimit", json!(6));
        set_default(spec, "completionMode", json!("NonIndexed"));
        set_default(spec, "suspend", json!(false));
        set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
        if spec.get("completions").is_none() {
            spec.insert("completions".into(), json!(1));
        }
        template_defaults(spec, "Never");
    }
}

/// A Job's generated selector: unless `manualSelector`, kube selects the Job's pods by its uid
/// and labels the pod template with it.
fn job_selector(obj: &mut Value) {
    if obj["spec"]["manualSelector"] == json!(true) || !obj["spec"]["selector"].is_null() {
        return;
    }
    let (Some(uid), Some(name)) = (
        obj["metadata"]["uid"].as_str().map(String::from),
        obj["metadata"]["name"].as_str().map(String::from),
    ) else {
        return;
    };
    obj["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels[k] = json!(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_selects_its_pods_by_its_uid() {
        let mut job = json!({"metadata": {"name": "j", "uid": "u-1"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        Job.defaults(&mut job);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        let labels = &job["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["job-name"], "j");
        assert_eq!(labels["controller-uid"], "u-1");
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(job["spec"]["completions"], 1);
    }

    #[test]
    fn a_manual_selector_is_kept() {
        let mut job = json!({"metadata": {"name": "j", "uid": "u-1"},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"x": "y"}}, "template": {}}});
        Job.defaults(&mut job);
        assert_eq!(job["spec"]["selector"], json!({"matchLabels": {"x": "y"}}));
    }
}
