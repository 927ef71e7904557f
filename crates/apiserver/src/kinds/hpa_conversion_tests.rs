use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn annotation_json(obj: &Value, key: &str) -> Value {
    let text = obj["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or("null");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[test]
fn v1_cpu_target_becomes_a_v2_resource_metric_and_back() {
    let v1 = json!({"apiVersion": V1, "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "annotations": {"team": "a"}},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 50},
        "status": {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 40}});
    let v2 = to_v2(v1.clone());
    assert_eq!(v2["apiVersion"], V2);
    assert_eq!(v2["spec"]["metrics"], json!([cpu_metric(json!(50))]));
    assert!(v2["spec"].get("targetCPUUtilizationPercentage").is_none());
    assert_eq!(
        v2["status"]["currentMetrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}])
    );
    assert_eq!(v2["metadata"]["annotations"], json!({"team": "a"}));
    let back = to_v1(v2);
    assert_eq!(back["spec"], v1["spec"]);
    assert_eq!(back["status"], v1["status"]);
    // The richer current metric is kept too (with Go's zero quantity for the unset value).
    assert_eq!(
        annotation_json(&back, CURRENT_METRICS),
        json!([{"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 40, "currentAverageValue": "0"}}])
    );
}

#[test]
fn v1_without_a_target_gets_kubes_default_cpu_metric() {
    let v1 = json!({"apiVersion": V1, "spec": {"maxReplicas": 2}});
    let v2 = to_v2(v1);
    assert_eq!(
        v2["spec"]["metrics"],
        json!([cpu_metric(json!(DEFAULT_CPU_UTILIZATION))])
    );
    assert!(v2.get("status").is_none());
}

fn rich_v2() -> Value {
    json!({"apiVersion": V2, "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 6,
            "metrics": [
                cpu_metric(json!(60)),
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Min",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}]}}},
        "status": {"currentReplicas": 2, "desiredReplicas": 2,
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 30, "averageValue": "30m"}}}],
            "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "ReadyForNewScale", "message": "ok"}]}})
}

#[test]
fn v2_only_fields_travel_in_v1_annotations() {
    let v1 = to_v1(rich_v2());
    assert_eq!(v1["apiVersion"], V1);
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
    assert!(v1["spec"].get("metrics").is_none());
    assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 30);
    assert_eq!(
        annotation_json(&v1, METRICS),
        json!([
            {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
            {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k"}},
        ])
    );
    // Go marshals kube's internal behavior type: field names, nil pointers as null.
    assert_eq!(
        annotation_json(&v1, BEHAVIOR),
        json!({"ScaleUp": null, "ScaleDown": {"StabilizationWindowSeconds": 60, "SelectPolicy": "Min",
            "Policies": [{"Type": "Pods", "Value": 1, "PeriodSeconds": 30}], "Tolerance": null}})
    );
    assert_eq!(
        annotation_json(&v1, CONDITIONS)[0]["reason"],
        "ReadyForNewScale"
    );
    assert_eq!(
        annotation_json(&v1, CURRENT_METRICS)[0]["resource"]["currentAverageValue"],
        "30m"
    );
}

#[test]
fn v2_to_v1_to_v2_loses_nothing_but_moves_cpu_last() {
    let original = rich_v2();
    let back = to_v2(to_v1(original.clone()));
    let mut expected = original;
    let metrics = expected["spec"]["metrics"].as_array_mut().unwrap();
    let cpu = metrics.remove(0);
    metrics.push(cpu);
    assert_eq!(back, expected);
}

#[test]
fn behavior_annotation_is_read_case_insensitively_and_ignored_when_broken() {
    let v1 = |behavior: &str| {
        json!({"apiVersion": V1, "metadata": {"annotations": {BEHAVIOR: behavior}},
            "spec": {"maxReplicas": 2}})
    };
    let b = to_v2(v1(r#"{"scaleup":{"selectPolicy":"Disabled"}}"#));
    assert_eq!(
        b["spec"]["behavior"],
        json!({"scaleUp": {"selectPolicy": "Disabled"}})
    );
    assert!(b["metadata"].get("annotations").is_none());
    for broken in ["not json", "{}", r#"{"ScaleUp":null}"#] {
        let b = to_v2(v1(broken));
        assert!(b["spec"].get("behavior").is_none(), "{broken}");
    }
}

#[test]
fn round_trip_annotations_are_dropped_from_v2_objects() {
    let mut o = rich_v2();
    o["metadata"]["annotations"] = json!({METRICS: "[]", CONDITIONS: "[]", "keep": "me"});
    let v2 = to_v2(o);
    assert_eq!(v2["metadata"]["annotations"], json!({"keep": "me"}));
}

#[test]
fn other_metric_sources_convert_as_kube_does() {
    let object = json!({"type": "Object", "object": {
        "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
        "metric": {"name": "rps", "selector": {"matchLabels": {"a": "b"}}},
        "target": {"type": "AverageValue", "averageValue": "10"}}});
    let external = json!({"type": "External", "external": {"metric": {"name": "queue"},
        "target": {"type": "Value", "value": "30"}}});
    let container = json!({"type": "ContainerResource", "containerResource": {"name": "cpu",
        "container": "app", "target": {"type": "Utilization", "averageUtilization": 70}}});
    let v1 = |m: &Value| metric_to_v1(m, spec_fields);
    assert_eq!(
        v1(&object)["object"],
        json!({"target": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
            "metricName": "rps", "targetValue": "0", "selector": {"matchLabels": {"a": "b"}}, "averageValue": "10"})
    );
    let back = |m: &Value| metric_to_v2(&v1(m), spec_fields, true);
    // Go's non-pointer `targetValue` comes back as a value of "0".
    let mut object_back = object.clone();
    object_back["object"]["target"]["value"] = json!("0");
    assert_eq!(
        back(&object)["object"]["target"],
        object_back["object"]["target"]
    );
    assert_eq!(
        back(&object)["object"]["metric"],
        object["object"]["metric"]
    );
    assert_eq!(back(&external), external);
    assert_eq!(back(&container), container);
}

/// v2 metrics of every source with the values a target or current value may take.
fn metric() -> impl Strategy<Value = (Value, Value)> {
    let quantity = prop_oneof![
        Just(Value::Null),
        "[1-9][0-9]{0,3}(m|Mi)?".prop_map(Value::from)
    ];
    let name = "[a-z]{1,8}";
    (0..5usize, name, quantity.clone(), quantity, proptest::option::of(1..200i64)).prop_map(
        |(kind, name, q1, q2, util)| {
            let util = util.map_or(Value::Null, Value::from);
            let (ty, key, spec, current) = match kind {
                0 => ("Resource", "resource",
                    json!({"name": name, "target": {"type": if util.is_null() {"AverageValue"} else {"Utilization"}, "averageUtilization": util, "averageValue": if util.is_null() {json!(q1.as_str().unwrap_or("1"))} else {q1.clone()}}}),
                    json!({"name": name, "current": {"averageUtilization": util, "averageValue": q1.as_str().unwrap_or("0")}})),
                1 => ("ContainerResource", "containerResource",
                    json!({"name": name, "container": "app", "target": {"type": if util.is_null() {"AverageValue"} else {"Utilization"}, "averageUtilization": util, "averageValue": if util.is_null() {json!(q1.as_str().unwrap_or("1"))} else {q1.clone()}}}),
                    json!({"name": name, "container": "app", "current": {"averageUtilization": util, "averageValue": q1.as_str().unwrap_or("0")}})),
                2 => ("Pods", "pods",
                    json!({"metric": {"name": name}, "target": {"type": "AverageValue", "averageValue": q1.as_str().unwrap_or("1")}}),
                    json!({"metric": {"name": name}, "current": {"averageValue": q1.as_str().unwrap_or("0")}})),
                3 => ("Object", "object",
                    json!({"describedObject": {"kind": "Service", "name": name}, "metric": {"name": name},
                        "target": {"type": if q2.is_null() {"Value"} else {"AverageValue"}, "value": q1.as_str().unwrap_or("0"), "averageValue": q2}}),
                    json!({"describedObject": {"kind": "Service", "name": name}, "metric": {"name": name},
                        "current": {"value": q1.as_str().unwrap_or("0"), "averageValue": q2}})),
                _ => ("External", "external",
                    json!({"metric": {"name": name}, "target": {"type": if q1.is_null() {"AverageValue"} else {"Value"}, "value": q1, "averageValue": q2}}),
                    json!({"metric": {"name": name}, "current": {"value": q1.as_str().unwrap_or("0"), "averageValue": q2}})),
            };
            let strip = |v: Value| strip_nulls(json!({"type": ty, key: v}));
            (strip(spec), strip(current))
        },
    )
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

fn rules() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(0..3600i64),
        prop_oneof![Just("Max"), Just("Min"), Just("Disabled")],
        1..100i64,
        1..1800i64,
    )
        .prop_map(|(window, select, value, period)| {
            strip_nulls(
                json!({"stabilizationWindowSeconds": window, "selectPolicy": select,
                "policies": [{"type": "Percent", "value": value, "periodSeconds": period}]}),
            )
        })
}

proptest! {
    /// Whatever a v2 HPA holds comes back from a trip through v1, in kube's order: the CPU
    /// utilization metric v1's field stands for moves after the others.
    #[test]
    fn round_trip_through_v1_keeps_every_field(
        metrics in proptest::collection::vec(metric(), 0..5),
        up in proptest::option::of(rules()),
        down in proptest::option::of(rules()),
        min in proptest::option::of(1..10i64),
        conditions in proptest::collection::vec(("[A-Za-z]{1,10}", prop_oneof![Just("True"), Just("False")]), 0..3),
        annotations in proptest::collection::btree_map("[a-z]{1,6}", "[ -~]{0,12}", 0..3),
    ) {
        let (specs, currents): (Vec<Value>, Vec<Value>) = metrics.into_iter().unzip();
        let behavior = (up.is_some() || down.is_some())
            .then(|| strip_nulls(json!({"scaleUp": up, "scaleDown": down})));
        let conditions: Vec<Value> = conditions.into_iter().map(|(reason, status)| json!({
            "type": "ScalingActive", "status": status, "lastTransitionTime": "2026-01-01T00:00:00Z",
            "reason": reason, "message": "m"})).collect();
        let annotations = (!annotations.is_empty()).then(|| json!(annotations));
        let original = strip_nulls(json!({"apiVersion": V2, "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": annotations},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": min,
                "maxReplicas": 10, "metrics": specs, "behavior": behavior},
            "status": {"currentReplicas": 1, "desiredReplicas": 1,
                "currentMetrics": (!currents.is_empty()).then_some(&currents),
                "conditions": (!conditions.is_empty()).then_some(&conditions)}}));
        let v1 = to_v1(original.clone());
        prop_assert_eq!(&v1["apiVersion"], V1);
        prop_assert!(v1["spec"].get("metrics").is_none());
        let back = to_v2(v1);
        let mut expected = original;
        let metrics = expected["spec"]["metrics"].as_array().cloned().unwrap_or_default();
        let cpu = metrics.iter().find(|m| is_cpu_utilization(m)).cloned();
        let mut want: Vec<Value> = metrics.into_iter().filter(|m| !is_cpu_utilization(m)).collect();
        want.extend(cpu);
        if want.is_empty() {
            want.push(cpu_metric(json!(DEFAULT_CPU_UTILIZATION)));
        }
        expected["spec"]["metrics"] = Value::Array(want);
        prop_assert_eq!(back, expected);
    }

    /// Any annotation text a v1 client sends converts without panicking, and the result is
    /// at v2 without round-trip annotations.
    #[test]
    fn arbitrary_annotations_never_panic(metrics in "[ -~]{0,40}", behavior in "[ -~]{0,40}", current in "[ -~]{0,40}") {
        let v1 = json!({"apiVersion": V1, "metadata": {"annotations": {
            METRICS: metrics, BEHAVIOR: behavior, CURRENT_METRICS: current, CONDITIONS: "[1]"}},
            "spec": {"maxReplicas": 1}, "status": {}});
        let v2 = to_v2(v1);
        prop_assert_eq!(&v2["apiVersion"], V2);
        prop_assert!(v2["metadata"].get("annotations").is_none());
    }
}
