//! Pod.

use serde_json::{Value, json};

use super::fields::*;
use super::podtemplate::*;
use super::*;

/// The `Pod` kind.
pub struct Pod;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Ready"),
    c("Status"),
    c("Restarts"),
    c("Age"),
    wide("IP"),
    wide("Node"),
    wide("Nominated Node"),
    wide("Readiness Gates"),
];

impl Kind for Pod {
    fn spec(&self) -> Spec {
        spec("", "v1", "pods", "Pod").short(&["po"]).all().status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let statuses = s(obj, &["status", "containerStatuses"])
            .as_array()
            .cloned()
            .unwrap_or_default();
        let total = s(obj, &["spec", "containers"])
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        let ready = statuses
            .iter()
            .filter(|c| c.get("ready") == Some(&Value::Bool(true)))
            .count();
        let restarts: i64 = statuses
            .iter()
            .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
            .sum();
        vec![
            name(obj),
            json!(format!("{ready}/{total}")),
            json!(pod_status(obj)),
            json!(restarts.to_string()),
            age,
            json!(str_or(obj, &["status", "podIP"], "<none>")),
            json!(str_or(obj, &["spec", "nodeName"], "<none>")),
            json!("<none>"),
            json!("<none>"),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        if let Some(spec) = obj_mut(obj, "spec") {
            pod_spec(spec, "Always");
            set_default(spec, "enableServiceLinks", json!(true));
            set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            set_default(spec, "priority", json!(0));
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        containers(&obj["spec"], "spec", &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_the_pod_spec_and_each_container() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "nginx:1.27"},
        ]}});
        Pod.defaults(&mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn containers_need_a_dns_label_name_and_an_image() {
        let fields = |obj: Value| -> Vec<String> {
            Pod.validate(&obj).into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(json!({"spec": {}})), ["spec.containers"]);
        assert_eq!(
            fields(
                json!({"spec": {"containers": [{"name": "Bad_Name", "image": "x"}, {"name": "ok"}]}})
            ),
            ["spec.containers[0].name", "spec.containers[1].image"]
        );
    }

    #[test]
    fn status_column_follows_kubectl() {
        let waiting = json!({"status": {"phase": "Pending", "containerStatuses": [
            {"ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&waiting), "CrashLoopBackOff");
        let exited = json!({"status": {"phase": "Failed", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 2}}}]}});
        assert_eq!(pod_status(&exited), "ExitCode:2");
        let deleting = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running"}});
        assert_eq!(pod_status(&deleting), "Terminating");
    }
}
