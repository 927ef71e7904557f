//! HorizontalPodAutoscaler, served as `autoscaling/v2` (preferred) and `autoscaling/v1` and
//! stored at v2 (`hpa_conversion` converts): kube's defaults (`minReplicas` 1, a CPU
//! utilization metric of 80% when none is given, and a given `behavior` filled in with the
//! default scaling rules), the validation of replicas, the target reference, utilization
//! targets and the scaling rules, and kubectl's columns — all on the v2 form, whatever version
//! a request names.

use serde_json::{Value, json};

use super::fields::*;
use super::hpa_conversion::{self, DEFAULT_CPU_UTILIZATION};
use super::*;

/// The `HorizontalPodAutoscaler` kind at one version.
pub struct HorizontalPodAutoscaler(pub &'static str);

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Reference"),
    c("Targets"),
    c("MinPods"),
    int("MaxPods"),
    int("Replicas"),
    c("Age"),
];

impl Kind for HorizontalPodAutoscaler {
    fn spec(&self) -> Spec {
        spec(
            "autoscaling",
            self.0,
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
        )
        .short(&["hpa"])
        .all()
        .status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        // kube prints its internal object: every metric, whatever the version asked for.
        let converted;
        let obj = if obj["apiVersion"] == hpa_conversion::V1 {
            converted = hpa_conversion::to_v2(obj.clone());
            &converted
        } else {
            obj
        };
        let spec = s(obj, &["spec"]);
        let min = match s(spec, &["minReplicas"]).as_i64() {
            Some(n) => n.to_string(),
            None => "<unset>".into(),
        };
        vec![
            name(obj),
            json!(format!(
                "{}/{}",
                str_or(spec, &["scaleTargetRef", "kind"], ""),
                str_or(spec, &["scaleTargetRef", "name"], "")
            )),
            json!(targets(obj)),
            json!(min),
            json!(int_of(spec, &["maxReplicas"])),
            json!(int_of(obj, &["status", "currentReplicas"])),
            age,
        ]
    }

    fn converts(&self) -> bool {
        true
    }

    fn stored_form(&self, obj: Value) -> Value {
        hpa_conversion::to_v2(obj)
    }

    fn served_form(&self, obj: Value) -> Value {
        let v2 = hpa_conversion::to_v2(obj);
        if self.0 == "v1" {
            hpa_conversion::to_v1(v2)
        } else {
            v2
        }
    }

    fn defaults(&self, obj: &mut Value) {
        if self.0 == "v1" {
            let mut v2 = hpa_conversion::to_v2(std::mem::take(obj));
            defaults_v2(&mut v2);
            *obj = hpa_conversion::to_v1(v2);
        } else {
            defaults_v2(obj);
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        if self.0 == "v1" {
            validate_v2(&hpa_conversion::to_v2(obj.clone()))
        } else {
            validate_v2(obj)
        }
    }
}

/// kube's v2 `SetDefaults_HorizontalPodAutoscaler`.
fn defaults_v2(obj: &mut Value) {
    let Some(spec) = obj_mut(obj, "spec") else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    if spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]),
        );
    }
    if let Some(behavior) = spec.get_mut("behavior").and_then(Value::as_object_mut) {
        fill_rules(behavior, "scaleUp");
        fill_rules(behavior, "scaleDown");
    }
}

/// kube's validation of the v2 form.
fn validate_v2(obj: &Value) -> Vec<FieldError> {
    let spec = s(obj, &["spec"]);
    let mut errs = Vec::new();
    for (key, field) in [
        ("kind", "spec.scaleTargetRef.kind"),
        ("name", "spec.scaleTargetRef.name"),
    ] {
        if str_or(spec, &["scaleTargetRef", key], "").is_empty() {
            errs.push(FieldError::required(field, ""));
        }
    }
    let min = s(spec, &["minReplicas"]).as_i64();
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = int_of(spec, &["maxReplicas"]);
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    } else if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    validate_utilization(spec, &mut errs);
    for direction in ["scaleUp", "scaleDown"] {
        let rules = s(spec, &["behavior", direction]);
        if rules.is_object() {
            validate_rules(rules, &format!("spec.behavior.{direction}"), &mut errs);
        }
    }
    errs
}

/// `validateMetricTarget`: a utilization target of a (container) resource metric is positive.
fn validate_utilization(spec: &Value, errs: &mut Vec<FieldError>) {
    for (i, m) in s(spec, &["metrics"])
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for source in ["resource", "containerResource"] {
            if let Some(u) = m[source]["target"]["averageUtilization"]
                .as_i64()
                .filter(|u| *u < 1)
            {
                errs.push(FieldError::invalid(
                    &format!("spec.metrics[{i}].{source}.target.averageUtilization"),
                    u,
                    "must be greater than 0",
                ));
            }
        }
    }
}

/// `validateScalingRules`: the window within an hour, at least one policy, each a known type
/// with a positive value and a period of at most 30 minutes.
fn validate_rules(rules: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(w) = rules["stabilizationWindowSeconds"].as_i64() {
        let field = format!("{path}.stabilizationWindowSeconds");
        if w < 0 {
            errs.push(FieldError::invalid(
                &field,
                w,
                "must be greater than or equal to zero",
            ));
        } else if w > 3600 {
            errs.push(FieldError::invalid(
                &field,
                w,
                "must be less than or equal to 3600",
            ));
        }
    }
    if let Some(p) = rules["selectPolicy"]
        .as_str()
        .filter(|p| !matches!(*p, "Max" | "Min" | "Disabled"))
    {
        errs.push(FieldError::not_supported(
            &format!("{path}.selectPolicy"),
            p,
            &["Disabled", "Max", "Min"],
        ));
    }
    let policies = rules["policies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if policies.is_empty() {
        errs.push(FieldError::required(
            &format!("{path}.policies"),
            "must specify at least one Policy",
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        let at = format!("{path}.policies[{i}]");
        if let Some(t) = p["type"]
            .as_str()
            .filter(|t| !matches!(*t, "Pods" | "Percent"))
        {
            errs.push(FieldError::not_supported(
                &format!("{at}.type"),
                t,
                &["Percent", "Pods"],
            ));
        }
        let value = p["value"].as_i64().unwrap_or(0);
        if value <= 0 {
            errs.push(FieldError::invalid(
                &format!("{at}.value"),
                value,
                "must be greater than zero",
            ));
        }
        let period = p["periodSeconds"].as_i64().unwrap_or(0);
        if period <= 0 {
            errs.push(FieldError::invalid(
                &format!("{at}.periodSeconds"),
                period,
                "must be greater than zero",
            ));
        } else if period > 1800 {
            errs.push(FieldError::invalid(
                &format!("{at}.periodSeconds"),
                period,
                "must be less than or equal to 1800",
            ));
        }
    }
}

/// `GenerateHPAScaleUpRules`/`GenerateHPAScaleDownRules`: the unset parts of a direction's
/// rules take the defaults (up: no stabilization, the larger of 4 pods or 100% per 15 s; down:
/// 100% per 15 s, the window left to the controller's 300 s).
fn fill_rules(behavior: &mut Map<String, Value>, direction: &str) {
    let Some(rules) = obj_mut_in(behavior, direction) else {
        return;
    };
    let up = direction == "scaleUp";
    if up {
        set_default(rules, "stabilizationWindowSeconds", json!(0));
    }
    set_default(rules, "selectPolicy", json!("Max"));
    if rules
        .get("policies")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        let policies = if up {
            json!([{"type": "Pods", "value": 4, "periodSeconds": 15},
                   {"type": "Percent", "value": 100, "periodSeconds": 15}])
        } else {
            json!([{"type": "Percent", "value": 100, "periodSeconds": 15}])
        };
        rules.insert("policies".into(), policies);
    }
}

fn obj_mut_in<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The TARGETS cell as kubectl prints it (`formatHPAMetrics`): `cpu: 12%/50%` per metric,
/// `<unknown>` before the controller reports, the first two and `+ N more...`, `<none>`.
fn targets(obj: &Value) -> String {
    let spec = s(obj, &["spec"]);
    let statuses = s(obj, &["status", "currentMetrics"]).as_array();
    let status = |i: usize| statuses.and_then(|a| a.get(i)).unwrap_or(&Value::Null);
    let mut list: Vec<String> = Vec::new();
    for (i, m) in s(spec, &["metrics"])
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        list.push(metric_target(m, status(i)));
    }
    match list.len() {
        0 => "<none>".into(),
        1 | 2 => list.join(", "),
        n => format!("{} + {} more...", list[..2].join(", "), n - 2),
    }
}

fn metric_target(m: &Value, st: &Value) -> String {
    let unknown = || "<unknown>".to_string();
    let text = |v: &Value| v.as_str().map(str::to_string);
    let (source, key) = match m["type"].as_str().unwrap_or("") {
        "Resource" => ("resource", "resource"),
        "ContainerResource" => ("containerResource", "containerResource"),
        "Pods" => ("pods", "pods"),
        "Object" => ("object", "object"),
        _ => ("external", "external"),
    };
    let target = &m[source]["target"];
    let cur = &st[key]["current"];
    let name = m[source]["name"]
        .as_str()
        .or_else(|| m[source]["metric"]["name"].as_str())
        .unwrap_or("");
    let value = if let Some(v) = text(&target["averageValue"]) {
        format!(
            "{}/{v} (avg)",
            text(&cur["averageValue"]).unwrap_or_else(unknown)
        )
    } else if let Some(v) = text(&target["value"]) {
        format!("{}/{v}", text(&cur["value"]).unwrap_or_else(unknown))
    } else {
        let current = cur["averageUtilization"]
            .as_i64()
            .map_or_else(unknown, |u| format!("{u}%"));
        let target = target["averageUtilization"]
            .as_i64()
            .map_or("<auto>".to_string(), |u| format!("{u}%"));
        format!("{current}/{target}")
    };
    if matches!(source, "resource" | "containerResource") {
        // Resource metrics print as `cpu: 12%/50%`, without `(avg)` on an AverageValue.
        return format!("{name}: {}", value.trim_end_matches(" (avg)"));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_defaults_fill_min_metrics_and_behavior_rules() {
        let mut o = json!({"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}});
        HorizontalPodAutoscaler("v2").defaults(&mut o);
        assert_eq!(o["spec"]["minReplicas"], 1);
        assert_eq!(
            o["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(
            o["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
            0
        );
        assert_eq!(
            o["spec"]["behavior"]["scaleDown"]["policies"][0]["type"],
            "Percent"
        );
        assert_eq!(
            o["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
            0
        );
        assert_eq!(o["spec"]["behavior"]["scaleUp"]["policies"][0]["value"], 4);
        let mut v1 = json!({"spec": {"maxReplicas": 3}});
        HorizontalPodAutoscaler("v1").defaults(&mut v1);
        assert_eq!(v1["spec"]["minReplicas"], 1);
        assert!(v1["spec"].get("metrics").is_none());
    }

    #[test]
    fn validation_as_kube_refuses() {
        let fields = |o: Value| -> Vec<String> {
            let mut o = o;
            HorizontalPodAutoscaler("v2").defaults(&mut o);
            HorizontalPodAutoscaler("v2")
                .validate(&o)
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        let target = json!({"kind": "Deployment", "name": "web"});
        assert!(fields(json!({"spec": {"scaleTargetRef": target, "maxReplicas": 2}})).is_empty());
        assert_eq!(
            fields(json!({"spec": {"scaleTargetRef": {}, "minReplicas": 3, "maxReplicas": 2}})),
            [
                "spec.scaleTargetRef.kind",
                "spec.scaleTargetRef.name",
                "spec.maxReplicas"
            ]
        );
        assert_eq!(
            fields(json!({"spec": {"scaleTargetRef": target, "minReplicas": 0, "maxReplicas": 0}})),
            ["spec.minReplicas", "spec.maxReplicas"]
        );
        let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 4000, "selectPolicy": "Most",
            "policies": [{"type": "Pods", "value": 0, "periodSeconds": 2000}, {"type": "Nodes", "value": 1, "periodSeconds": 15}]}});
        assert_eq!(
            fields(
                json!({"spec": {"scaleTargetRef": target, "maxReplicas": 2, "behavior": behavior}})
            ),
            [
                "spec.behavior.scaleDown.stabilizationWindowSeconds",
                "spec.behavior.scaleDown.selectPolicy",
                "spec.behavior.scaleDown.policies[0].value",
                "spec.behavior.scaleDown.policies[0].periodSeconds",
                "spec.behavior.scaleDown.policies[1].type",
            ]
        );
    }

    #[test]
    fn cells_as_kubectl_prints_them() {
        let o = json!({"metadata": {"name": "web"}, "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "12m"}}}]}});
        let cells = HorizontalPodAutoscaler("v2").cells(&o, json!("1m"));
        assert_eq!(cells[1], "Deployment/web");
        assert_eq!(
            cells[2],
            "cpu: 12%/50%, memory: <unknown>/100Mi + 1 more..."
        );
        assert_eq!(cells[3], "<unset>");
        assert_eq!(cells[4], 4);
        assert_eq!(cells[5], 2);
    }
}
