//! HorizontalPodAutoscaler between `autoscaling/v1` and the stored `autoscaling/v2`, as
//! kube-apiserver converts it (`pkg/apis/autoscaling/v1/conversion.go`, with the annotations
//! of `pkg/apis/autoscaling/annotations.go`).
//!
//! v1 has one metric, `spec.targetCPUUtilizationPercentage` (v2's first `Resource` `cpu`
//! metric with an `averageUtilization`), and one current value,
//! `status.currentCPUUtilizationPercentage`. What v1 cannot hold travels in annotations of the
//! v1 object, so a v1 client that reads and writes an HPA back loses nothing: the other
//! metrics and the current metrics in v1's own metric shape (`targetAverageValue`,
//! `metricName`…), the conditions, and the behavior as Go marshals kube's *internal* type
//! (field names, `ScaleUp`…, read back case-insensitively as `encoding/json` does). Going to
//! v2, the other metrics come first and the CPU one last, a v1 object with no metric gets
//! kube's 80% CPU target, and the annotations are dropped — also from objects written at v2,
//! as kube's v2 conversion does. Go's non-pointer quantities show as `"0"` when unset (an
//! Object metric's `value`, a current Resource metric's `averageValue`), as in kube.
//!
//! Pure functions on JSON values: both directions work from one field table per metric source.

use serde_json::{Map, Value, json};

/// The API version kube stores HPAs in (and Orrery too).
pub const V2: &str = "autoscaling/v2";
/// The older API version, converted on the way in and out.
pub const V1: &str = "autoscaling/v1";

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
/// `DropRoundTripHorizontalPodAutoscalerAnnotations`' list.
const ROUND_TRIP: [&str; 4] = [METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR];

/// The status fields both versions have.
const STATUS_FIELDS: [&str; 4] = [
    "observedGeneration",
    "lastScaleTime",
    "currentReplicas",
    "desiredReplicas",
];

/// kube's `autoscaling.DefaultCPUUtilization`.
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// How a field reads when it is unset, as Go marshals its type.
#[derive(Clone, Copy)]
enum Unset {
    /// A pointer or `omitempty` field: left out.
    Omit,
    /// A non-pointer `resource.Quantity`: `"0"`.
    Zero,
    /// A plain `string`: `""`.
    Empty,
    /// A `CrossVersionObjectReference` (`kind`, `name`, optional `apiVersion`).
    Ref,
}

/// One field of a metric source: its v1 name, its path in v2, and how it reads when unset.
type Field = (&'static str, &'static [&'static str], Unset);

/// The fields of each metric source (`MetricSpec`'s), v1 name against v2 path.
fn spec_fields(source: &str) -> &'static [Field] {
    use Unset::*;
    match source {
        "object" => &[
            ("target", &["describedObject"], Ref),
            ("metricName", &["metric", "name"], Empty),
            ("targetValue", &["target", "value"], Zero),
            ("selector", &["metric", "selector"], Omit),
            ("averageValue", &["target", "averageValue"], Omit),
        ],
        "pods" => &[
            ("metricName", &["metric", "name"], Empty),
            ("targetAverageValue", &["target", "averageValue"], Zero),
            ("selector", &["metric", "selector"], Omit),
        ],
        "resource" => &[
            ("name", &["name"], Empty),
            (
                "targetAverageUtilization",
                &["target", "averageUtilization"],
                Omit,
            ),
            ("targetAverageValue", &["target", "averageValue"], Omit),
        ],
        "containerResource" => &[
            ("name", &["name"], Empty),
            (
                "targetAverageUtilization",
                &["target", "averageUtilization"],
                Omit,
            ),
            ("targetAverageValue", &["target", "averageValue"], Omit),
            ("container", &["container"], Empty),
        ],
        _ => &[
            ("metricName", &["metric", "name"], Empty),
            ("metricSelector", &["metric", "selector"], Omit),
            ("targetValue", &["target", "value"], Omit),
            ("targetAverageValue", &["target", "averageValue"], Omit),
        ],
    }
}

/// The fields of each current metric source (`MetricStatus`'s), v1 name against v2 path.
fn status_fields(source: &str) -> &'static [Field] {
    use Unset::*;
    match source {
        "object" => &[
            ("target", &["describedObject"], Ref),
            ("metricName", &["metric", "name"], Empty),
            ("currentValue", &["current", "value"], Zero),
            ("selector", &["metric", "selector"], Omit),
            ("averageValue", &["current", "averageValue"], Omit),
        ],
        "pods" => &[
            ("metricName", &["metric", "name"], Empty),
            ("currentAverageValue", &["current", "averageValue"], Zero),
            ("selector", &["metric", "selector"], Omit),
        ],
        "resource" => &[
            ("name", &["name"], Empty),
            (
                "currentAverageUtilization",
                &["current", "averageUtilization"],
                Omit,
            ),
            ("currentAverageValue", &["current", "averageValue"], Zero),
        ],
        "containerResource" => &[
            ("name", &["name"], Empty),
            (
                "currentAverageUtilization",
                &["current", "averageUtilization"],
                Omit,
            ),
            ("currentAverageValue", &["current", "averageValue"], Zero),
            ("container", &["container"], Empty),
        ],
        _ => &[
            ("metricName", &["metric", "name"], Empty),
            ("metricSelector", &["metric", "selector"], Omit),
            ("currentValue", &["current", "value"], Zero),
            ("currentAverageValue", &["current", "averageValue"], Omit),
        ],
    }
}

/// The metric sources a `MetricSpec`/`MetricStatus` may carry, each converted when present.
const SOURCES: [&str; 5] = [
    "object",
    "pods",
    "resource",
    "containerResource",
    "external",
];

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| v.get(k).unwrap_or(&Value::Null))
}

fn set_at(m: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut m = m;
    for k in parents {
        let entry = m.entry(*k).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        let Some(inner) = entry.as_object_mut() else {
            return;
        };
        m = inner;
    }
    m.insert((*last).to_string(), value);
}

/// A field's value as Go would marshal it (`None`: left out).
fn read(v: &Value, unset: Unset) -> Option<Value> {
    match (unset, v) {
        (Unset::Ref, _) => {
            let mut r = Map::new();
            r.insert("kind".into(), read(&v["kind"], Unset::Empty)?);
            r.insert("name".into(), read(&v["name"], Unset::Empty)?);
            if let Some(av) = v.get("apiVersion").filter(|a| !a.is_null()) {
                r.insert("apiVersion".into(), av.clone());
            }
            Some(Value::Object(r))
        }
        (_, v) if !v.is_null() => Some(v.clone()),
        (Unset::Omit, _) => None,
        (Unset::Zero, _) => Some(json!("0")),
        (Unset::Empty, _) => Some(json!("")),
    }
}

/// One v2 metric (spec or status) in v1's shape.
fn metric_to_v1(m: &Value, fields: fn(&str) -> &'static [Field]) -> Value {
    let mut out = Map::new();
    out.insert(
        "type".into(),
        read(&m["type"], Unset::Empty).unwrap_or_default(),
    );
    for source in SOURCES {
        let src = &m[source];
        if src.is_null() {
            continue;
        }
        let mut v1 = Map::new();
        for (name, path, unset) in fields(source) {
            if let Some(v) = read(at(src, path), *unset) {
                v1.insert((*name).to_string(), v);
            }
        }
        out.insert(source.into(), Value::Object(v1));
    }
    Value::Object(out)
}

/// One v1 metric (spec or status) in v2's shape; a spec's targets get their `type` as kube
/// infers it from which values are set.
fn metric_to_v2(m: &Value, fields: fn(&str) -> &'static [Field], spec: bool) -> Value {
    let mut out = Map::new();
    out.insert(
        "type".into(),
        read(&m["type"], Unset::Empty).unwrap_or_default(),
    );
    for source in SOURCES {
        let src = &m[source];
        if src.is_null() {
            continue;
        }
        let mut v2 = Map::new();
        if spec {
            set_at(
                &mut v2,
                &["target", "type"],
                json!(target_type(source, src)),
            );
        }
        for (name, path, unset) in fields(source) {
            if let Some(v) = read(&src[*name], *unset) {
                set_at(&mut v2, path, v);
            }
        }
        out.insert(source.into(), Value::Object(v2));
    }
    Value::Object(out)
}

/// The v2 target type of a v1 metric source (the `Convert_v1_*MetricSource_*` functions).
fn target_type(source: &str, v1: &Value) -> &'static str {
    let set = |k: &str| !v1[k].is_null();
    match source {
        "object" if !set("averageValue") => "Value",
        "external" if set("targetValue") => "Value",
        "resource" | "containerResource" if set("targetAverageUtilization") => "Utilization",
        _ => "AverageValue",
    }
}

/// A v2 metric that v1's `targetCPUUtilizationPercentage` stands for.
fn is_cpu_utilization(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && !m["resource"]["target"]["averageUtilization"].is_null()
}

fn cpu_metric(utilization: Value) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": utilization}}})
}

fn api_version(obj: &Value) -> &str {
    obj["apiVersion"].as_str().unwrap_or_default()
}

fn annotations_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    obj.get_mut("metadata")?
        .get_mut("annotations")?
        .as_object_mut()
}

/// Removes the round-trip annotations, and the annotations map if that empties it.
fn drop_round_trip(obj: &mut Value) {
    let Some(annotations) = annotations_mut(obj) else {
        return;
    };
    if !ROUND_TRIP.iter().any(|k| annotations.contains_key(*k)) {
        return;
    }
    for k in ROUND_TRIP {
        annotations.shift_remove(k);
    }
    if annotations.is_empty()
        && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.shift_remove("annotations");
    }
}

fn set_annotation(obj: &mut Value, key: &str, value: &Value) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    let text = Value::String(value.to_string());
    set_at(o, &["metadata", "annotations", key], text);
}

/// An annotation's JSON value (`None` when missing or not JSON, which kube ignores too).
fn annotation(obj: &Value, key: &str) -> Option<Value> {
    let text = obj["metadata"]["annotations"][key].as_str()?;
    serde_json::from_str(text).ok()
}

fn copy_present(from: &Value, to: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = from.get(*k).filter(|v| !v.is_null()) {
            to.insert((*k).to_string(), v.clone());
        }
    }
}

/// The object at `autoscaling/v1`; an object already there is returned as it is.
pub fn to_v1(mut obj: Value) -> Value {
    if api_version(&obj) == V1 || !obj.is_object() {
        return obj;
    }
    drop_round_trip(&mut obj);
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    let status = obj.get("status").cloned();
    let metrics = spec["metrics"].as_array().cloned().unwrap_or_default();
    let mut v1_spec = Map::new();
    if let Some(r) = spec.get("scaleTargetRef") {
        v1_spec.insert(
            "scaleTargetRef".into(),
            read(r, Unset::Ref).unwrap_or_default(),
        );
    }
    copy_present(&spec, &mut v1_spec, &["minReplicas", "maxReplicas"]);
    if let Some(cpu) = metrics.iter().find(|m| is_cpu_utilization(m)) {
        let pct = cpu["resource"]["target"]["averageUtilization"].clone();
        v1_spec.insert("targetCPUUtilizationPercentage".into(), pct);
    }
    let others: Vec<Value> = metrics
        .iter()
        .filter(|m| !is_cpu_utilization(m))
        .map(|m| metric_to_v1(m, spec_fields))
        .collect();
    if !others.is_empty() {
        set_annotation(&mut obj, METRICS, &Value::Array(others));
    }
    if let Some(behavior) = spec.get("behavior").filter(|b| !b.is_null()) {
        set_annotation(&mut obj, BEHAVIOR, &behavior_to_go(behavior));
    }
    obj["apiVersion"] = json!(V1);
    obj["spec"] = Value::Object(v1_spec);
    if let Some(status) = status {
        obj["status"] = status_to_v1(&mut obj, &status);
    }
    obj
}

/// The v1 status; the current metrics and conditions go into `obj`'s annotations.
fn status_to_v1(obj: &mut Value, status: &Value) -> Value {
    let mut v1 = Map::new();
    copy_present(status, &mut v1, &STATUS_FIELDS);
    let current = status["currentMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for m in &current {
        if m["type"] == "Resource" && m["resource"]["name"] == "cpu" {
            let u = &m["resource"]["current"]["averageUtilization"];
            if !u.is_null() {
                v1.insert("currentCPUUtilizationPercentage".into(), u.clone());
            }
        }
    }
    if !current.is_empty() {
        let list: Vec<Value> = current
            .iter()
            .map(|m| metric_to_v1(m, status_fields))
            .collect();
        set_annotation(obj, CURRENT_METRICS, &Value::Array(list));
    }
    if let Some(conditions) = status["conditions"].as_array().filter(|c| !c.is_empty()) {
        let list: Vec<Value> = conditions.iter().map(condition).collect();
        set_annotation(obj, CONDITIONS, &Value::Array(list));
    }
    Value::Object(v1)
}

/// A condition as Go marshals v1's `HorizontalPodAutoscalerCondition` (the transition time
/// is a struct, so an unset one is `null`).
fn condition(c: &Value) -> Value {
    let mut out = Map::new();
    for k in ["type", "status"] {
        out.insert(k.into(), read(&c[k], Unset::Empty).unwrap_or_default());
    }
    out.insert("lastTransitionTime".into(), c["lastTransitionTime"].clone());
    copy_present(c, &mut out, &["reason", "message"]);
    Value::Object(out)
}

/// The object at `autoscaling/v2`, the stored version: a v1 object converted, any other
/// without the round-trip annotations (kube's v2 conversion drops them).
pub fn to_v2(mut obj: Value) -> Value {
    if api_version(&obj) != V1 || !obj.is_object() {
        drop_round_trip(&mut obj);
        return obj;
    }
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    let mut v2_spec = Map::new();
    if let Some(r) = spec.get("scaleTargetRef") {
        v2_spec.insert(
            "scaleTargetRef".into(),
            read(r, Unset::Ref).unwrap_or_default(),
        );
    }
    copy_present(&spec, &mut v2_spec, &["minReplicas", "maxReplicas"]);
    let mut metrics: Vec<Value> = annotation(&obj, METRICS)
        .and_then(|a| a.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|m| m.is_object())
        .map(|m| metric_to_v2(m, spec_fields, true))
        .collect();
    let pct = &spec["targetCPUUtilizationPercentage"];
    if !pct.is_null() {
        metrics.push(cpu_metric(pct.clone()));
    }
    if metrics.is_empty() {
        metrics.push(cpu_metric(json!(DEFAULT_CPU_UTILIZATION)));
    }
    v2_spec.insert("metrics".into(), Value::Array(metrics));
    if let Some(behavior) = annotation(&obj, BEHAVIOR).and_then(|b| behavior_from_go(&b)) {
        v2_spec.insert("behavior".into(), behavior);
    }
    if let Some(status) = obj.get("status").cloned() {
        obj["status"] = status_to_v2(&obj, &status);
    }
    obj["spec"] = Value::Object(v2_spec);
    obj["apiVersion"] = json!(V2);
    drop_round_trip(&mut obj);
    obj
}

/// The v2 status of a v1 object: current metrics and conditions from its annotations.
fn status_to_v2(obj: &Value, status: &Value) -> Value {
    let mut v2 = Map::new();
    copy_present(status, &mut v2, &STATUS_FIELDS);
    let from_annotation = annotation(obj, CURRENT_METRICS).and_then(|a| a.as_array().cloned());
    let current = match from_annotation {
        // Richer than the one CPU value, so it wins (as in kube).
        Some(list) => list
            .iter()
            .filter(|m| m.is_object())
            .map(|m| metric_to_v2(m, status_fields, false))
            .collect(),
        None => match status.get("currentCPUUtilizationPercentage") {
            Some(u) if !u.is_null() => vec![json!({"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": u}}})],
            _ => Vec::new(),
        },
    };
    if !current.is_empty() {
        v2.insert("currentMetrics".into(), Value::Array(current));
    }
    // Empty lists are left out, as Go's `omitempty` leaves them.
    if let Some(conditions) = annotation(obj, CONDITIONS)
        .and_then(|a| a.as_array().cloned())
        .filter(|c| !c.is_empty())
    {
        let list = conditions.iter().filter(|c| c.is_object()).map(|c| {
            let mut c = condition(c);
            if let Some(o) = c
                .as_object_mut()
                .filter(|o| o["lastTransitionTime"].is_null())
            {
                o.shift_remove("lastTransitionTime");
            }
            c
        });
        v2.insert("conditions".into(), Value::Array(list.collect()));
    }
    Value::Object(v2)
}

/// The behavior's rules, policies and their fields, by their v2 (JSON) names; Go's field
/// names are these with a capital first letter.
const RULES: [&str; 4] = [
    "stabilizationWindowSeconds",
    "selectPolicy",
    "policies",
    "tolerance",
];
const POLICY: [&str; 3] = ["type", "value", "periodSeconds"];

fn go_name(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The behavior as Go marshals kube's internal `HorizontalPodAutoscalerBehavior` (no JSON
/// tags: Go's field names, nil pointers as `null`, plain ints and strings as zero values).
fn behavior_to_go(b: &Value) -> Value {
    let mut out = Map::new();
    for direction in ["scaleUp", "scaleDown"] {
        let rules = &b[direction];
        let go = if rules.is_object() {
            let mut r = Map::new();
            for k in RULES {
                let v = if k == "policies" && rules[k].is_array() {
                    Value::Array(
                        rules[k]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(policy_to_go)
                            .collect(),
                    )
                } else {
                    rules[k].clone()
                };
                r.insert(go_name(k), v);
            }
            Value::Object(r)
        } else {
            Value::Null
        };
        out.insert(go_name(direction), go);
    }
    Value::Object(out)
}

/// A policy's field, Go's zero value when unset (`Type` is a string, the others `int32`).
fn policy_field(v: &Value, k: &str) -> Value {
    match (v, k) {
        (Value::Null, "type") => json!(""),
        (Value::Null, _) => json!(0),
        (v, _) => v.clone(),
    }
}

fn policy_to_go(p: &Value) -> Value {
    let mut out = Map::new();
    for k in POLICY {
        out.insert(go_name(k), policy_field(&p[k], k));
    }
    Value::Object(out)
}

/// The member of `m` whose name matches `name` regardless of case (`encoding/json`'s rule),
/// an exact match first.
fn member<'a>(m: &'a Value, name: &str) -> &'a Value {
    let Some(o) = m.as_object() else {
        return &Value::Null;
    };
    o.get(name)
        .or_else(|| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null)
}

/// A behavior from the Go-marshalled annotation; `None` when neither direction is set (kube
/// then leaves `behavior` unset).
fn behavior_from_go(go: &Value) -> Option<Value> {
    let mut out = Map::new();
    for direction in ["scaleUp", "scaleDown"] {
        let rules = member(go, direction);
        if !rules.is_object() {
            continue;
        }
        let mut r = Map::new();
        for k in RULES {
            let v = member(rules, k);
            if k == "policies" && v.is_array() {
                let list = v.as_array().into_iter().flatten().map(|p| {
                    let mut policy = Map::new();
                    for k in POLICY {
                        policy.insert(k.into(), policy_field(member(p, k), k));
                    }
                    Value::Object(policy)
                });
                r.insert(k.into(), Value::Array(list.collect()));
            } else if !v.is_null() {
                r.insert(k.into(), v.clone());
            }
        }
        out.insert(direction.into(), Value::Object(r));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

#[cfg(test)]
#[path = "hpa_conversion_tests.rs"]
mod tests;
