//! An HPA's spec read from its `autoscaling/v2` JSON, with kube's defaults (`minReplicas` 1,
//! CPU at 80% without metrics, a given `behavior`'s unset rules).

use apimachinery::quantity::Quantity;
use serde_json::Value;

/// kube's `autoscaling.DefaultCPUUtilization`.
const DEFAULT_CPU_UTILIZATION: i32 = 80;
/// kube-controller-manager's `--horizontal-pod-autoscaler-downscale-stabilization` (seconds).
pub const DOWNSCALE_STABILIZATION_SECONDS: i64 = 300;

/// What the controller acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSpec {
    pub target: TargetRef,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub metrics: Vec<MetricSpec>,
    /// `None` when the object has no `behavior` (kube then uses its older normalization).
    pub behavior: Option<Behavior>,
}

/// `spec.scaleTargetRef`.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// One entry of `spec.metrics`.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricSpec {
    /// `Resource` (container `None`) or `ContainerResource`.
    Resource {
        name: String,
        container: Option<String>,
        target: Target,
    },
    /// `Pods`, `Object` or `External`: metrics from custom or external metrics APIs, which the
    /// embedded cluster does not serve. Carries the type and the metric's name.
    Custom { kind: String, name: String },
}

/// A resource metric's target.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `averageUtilization`, percent of the pods' requests.
    Utilization(i32),
    /// `averageValue`, in milli-units (millicores, milli-bytes).
    AverageValue(i64),
    /// Neither set (or unreadable).
    Invalid,
}

/// `spec.behavior`, defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Behavior {
    pub scale_up: Rules,
    pub scale_down: Rules,
}

/// `HPAScalingRules`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub stabilization_window_seconds: i64,
    pub select: Select,
    pub policies: Vec<Policy>,
}

/// `selectPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    Max,
    Min,
    Disabled,
}

/// `HPAScalingPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub percent: bool,
    pub value: i32,
    pub period_seconds: i64,
}

impl Rules {
    /// kube's default scale-up rules: no stabilization, the larger of 4 pods or 100% per 15 s.
    pub fn default_up() -> Rules {
        Rules {
            stabilization_window_seconds: 0,
            select: Select::Max,
            policies: vec![
                Policy {
                    percent: false,
                    value: 4,
                    period_seconds: 15,
                },
                Policy {
                    percent: true,
                    value: 100,
                    period_seconds: 15,
                },
            ],
        }
    }

    /// kube's default scale-down rules: 100% per 15 s, after the controller's 300 s window.
    pub fn default_down() -> Rules {
        Rules {
            stabilization_window_seconds: DOWNSCALE_STABILIZATION_SECONDS,
            select: Select::Max,
            policies: vec![Policy {
                percent: true,
                value: 100,
                period_seconds: 15,
            }],
        }
    }

    /// The rules as written, unset parts from `default`.
    fn parse(v: &Value, default: Rules) -> Rules {
        if !v.is_object() {
            return default;
        }
        let policies: Vec<Policy> = v["policies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(Policy {
                    percent: p["type"] == "Percent",
                    value: i32::try_from(p["value"].as_i64()?).ok()?,
                    period_seconds: p["periodSeconds"].as_i64()?,
                })
            })
            .collect();
        Rules {
            stabilization_window_seconds: v["stabilizationWindowSeconds"]
                .as_i64()
                .unwrap_or(default.stabilization_window_seconds),
            select: match v["selectPolicy"].as_str() {
                Some("Min") => Select::Min,
                Some("Disabled") => Select::Disabled,
                Some("Max") => Select::Max,
                _ => default.select,
            },
            policies: if policies.is_empty() {
                default.policies
            } else {
                policies
            },
        }
    }

    /// The longest `periodSeconds` of the policies (how long scale events matter).
    pub fn longest_period(&self) -> i64 {
        self.policies
            .iter()
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or(0)
    }
}

/// A quantity in milli-units, rounded up as `Quantity.MilliValue` does.
pub fn milli_value(q: &str) -> Option<i64> {
    let q = Quantity::parse(q).ok()?;
    let m = (q.as_f64() * 1000.0).ceil();
    (m.is_finite() && m.abs() < 9.0e18).then_some(m as i64)
}

fn resource_target(t: &Value) -> Target {
    match t["type"].as_str() {
        Some("AverageValue") => t["averageValue"]
            .as_str()
            .and_then(milli_value)
            .map_or(Target::Invalid, Target::AverageValue),
        _ => match t["averageUtilization"].as_i64() {
            Some(u) => i32::try_from(u).map_or(Target::Invalid, Target::Utilization),
            None => t["averageValue"]
                .as_str()
                .and_then(milli_value)
                .map_or(Target::Invalid, Target::AverageValue),
        },
    }
}

fn metric(m: &Value) -> MetricSpec {
    let kind = m["type"].as_str().unwrap_or("").to_string();
    let key = match kind.as_str() {
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        "Pods" => "pods",
        "Object" => "object",
        _ => "external",
    };
    let src = &m[key];
    if matches!(key, "resource" | "containerResource") {
        return MetricSpec::Resource {
            name: src["name"].as_str().unwrap_or("").to_string(),
            container: src["container"].as_str().map(str::to_string),
            target: resource_target(&src["target"]),
        };
    }
    MetricSpec::Custom {
        kind,
        name: src["metric"]["name"].as_str().unwrap_or("").to_string(),
    }
}

impl HpaSpec {
    /// Reads the spec of an HPA at `autoscaling/v2`.
    pub fn parse(obj: &Value) -> HpaSpec {
        let spec = &obj["spec"];
        let r = &spec["scaleTargetRef"];
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let int = |v: &Value| v.as_i64().and_then(|n| i32::try_from(n).ok());
        let given: Vec<MetricSpec> = spec["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(metric)
            .collect();
        let metrics = if given.is_empty() {
            vec![cpu_utilization(DEFAULT_CPU_UTILIZATION)]
        } else {
            given
        };
        let behavior = spec["behavior"].is_object().then(|| Behavior {
            scale_up: Rules::parse(&spec["behavior"]["scaleUp"], Rules::default_up()),
            scale_down: Rules::parse(&spec["behavior"]["scaleDown"], Rules::default_down()),
        });
        HpaSpec {
            target: TargetRef {
                api_version: text(&r["apiVersion"]),
                kind: text(&r["kind"]),
                name: text(&r["name"]),
            },
            min_replicas: int(&spec["minReplicas"]).unwrap_or(1),
            max_replicas: int(&spec["maxReplicas"]).unwrap_or(0),
            metrics,
            behavior,
        }
    }
}

fn cpu_utilization(pct: i32) -> MetricSpec {
    MetricSpec::Resource {
        name: "cpu".into(),
        container: None,
        target: Target::Utilization(pct),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn v2_with_defaults_and_behavior() {
        let s = HpaSpec::parse(&json!({"apiVersion": "autoscaling/v2", "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Min",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}}));
        assert_eq!(s.min_replicas, 1);
        assert_eq!(s.max_replicas, 5);
        assert_eq!(
            s.metrics[0],
            MetricSpec::Resource {
                name: "memory".into(),
                container: None,
                target: Target::AverageValue(100 * 1024 * 1024 * 1000)
            }
        );
        assert_eq!(
            s.metrics[1],
            MetricSpec::Custom {
                kind: "Pods".into(),
                name: "qps".into()
            }
        );
        let b = s.behavior.unwrap();
        assert_eq!(b.scale_up, Rules::default_up());
        assert_eq!(b.scale_down.stabilization_window_seconds, 0);
        assert_eq!(b.scale_down.select, Select::Min);
        assert_eq!(b.scale_down.longest_period(), 60);
    }

    #[test]
    fn empty_metrics_become_cpu_utilization() {
        let bare =
            HpaSpec::parse(&json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 2}}));
        assert_eq!(bare.metrics, vec![cpu_utilization(80)]);
        assert_eq!(milli_value("250m"), Some(250));
        assert_eq!(milli_value("1.5"), Some(1500));
        assert_eq!(milli_value("x"), None);
    }
}
