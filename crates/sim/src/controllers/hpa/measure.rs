//! `computeReplicasForMetrics`: each metric of an HPA against the pods its target's scale
//! selects, with usage from the same synthetic metrics `metrics.k8s.io` serves
//! ([`crate::metrics::pod_usage_milli`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use apimachinery::quantity::Quantity;
use apimachinery::selector::LabelSelector;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::ResourceExt;
use serde_json::{Value, json};

use super::calc::{
    self, Cond, PodFacts, Sample, TOLERANCE, Timings, average_value_replicas, utilization_replicas,
};
use super::spec::{MetricSpec, Target};

/// A metric's proposal: replicas, the name kube gives the metric in messages, its status.
pub struct Proposal {
    pub replicas: i32,
    pub name: String,
    pub status: Value,
}

/// A metric that could not be computed: the ScalingActive condition kube sets, the Warning
/// event (reason, message) it records, and the error it returns.
pub struct Failure {
    pub condition: Cond,
    pub event: (&'static str, String),
    pub error: String,
}

impl Failure {
    fn new(reason: &'static str, inner: String, outer: String) -> Failure {
        Failure {
            condition: Cond {
                status: false,
                reason,
                message: format!("the HPA was unable to compute the replica count: {inner}"),
            },
            event: (reason, inner),
            error: outer,
        }
    }
}

/// The pods of one namespace matched by the scale's selector, and the moment they are judged.
pub struct PodsView<'a> {
    pub pods: Vec<&'a Arc<Pod>>,
    pub now: DateTime<Utc>,
    pub timings: Timings,
}

impl<'a> PodsView<'a> {
    /// The pods of `namespace` that `selector` matches.
    pub fn select(
        all: &'a [Arc<Pod>],
        namespace: &str,
        selector: &LabelSelector,
        now: DateTime<Utc>,
        timings: Timings,
    ) -> PodsView<'a> {
        let pods = all
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
            .filter(|p| selector.matches(p.labels()))
            .collect();
        PodsView { pods, now, timings }
    }
}

/// The containers whose requests count: regular ones and restartable (sidecar) init ones.
fn counted_containers(pod: &Pod) -> Vec<&Container> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers.iter().chain(sidecars).collect()
}

/// `calculateRequests`: each pod's request in milli-units, or kube's error for the first
/// container without one.
fn requests(
    pods: &[&Arc<Pod>],
    resource: &str,
    container: Option<&str>,
) -> Result<BTreeMap<String, i64>, String> {
    let mut out = BTreeMap::new();
    for pod in pods {
        let mut sum = 0;
        for c in counted_containers(pod) {
            if container.is_some_and(|want| want != c.name) {
                continue;
            }
            let request = c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get(resource))
                .and_then(|q| super::spec::milli_value(&q.0))
                .filter(|m| *m != 0);
            let Some(m) = request else {
                return Err(format!(
                    "missing request for {resource} in container {} of Pod {}",
                    c.name,
                    pod.name_any()
                ));
            };
            sum = i64::saturating_add(sum, m);
        }
        out.insert(pod.name_any(), sum);
    }
    Ok(out)
}

fn time(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<DateTime<Utc>> {
    t.map(|t| crate::clock::from_k8s(&t.0))
}

/// Each selected pod's group and usage of `resource` (milli-units).
fn samples(view: &PodsView<'_>, resource: &str, container: Option<&str>) -> Vec<Sample> {
    view.pods
        .iter()
        .map(|pod| {
            let json = serde_json::to_value(pod.as_ref()).unwrap_or(Value::Null);
            let usage = crate::metrics::pod_usage_milli(&json, view.now).and_then(|cs| {
                let picked: Vec<_> = cs
                    .iter()
                    .filter(|(name, _, _)| container.is_none_or(|want| want == name))
                    .map(|(_, cpu, mem)| if resource == "cpu" { *cpu } else { *mem })
                    .collect();
                (!picked.is_empty()).then(|| picked.iter().fold(0i64, |a, v| a.saturating_add(*v)))
            });
            let status = pod.status.as_ref();
            let ready = status
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
                .map(|c| {
                    let at = time(c.last_transition_time.as_ref()).unwrap_or_default();
                    (c.status == "True", at)
                });
            let facts = PodFacts {
                deleting: pod.metadata.deletion_timestamp.is_some(),
                phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
                ready,
                start_time: time(status.and_then(|s| s.start_time.as_ref())),
                has_metric: usage.is_some(),
            };
            Sample {
                name: pod.name_any(),
                state: calc::classify(&facts, resource == "cpu", view.now, &view.timings),
                usage,
            }
        })
        .collect()
}

/// A milli-value as a canonical quantity string (`resource.NewMilliQuantity(v, DecimalSI)`).
fn milli_quantity(m: i64) -> String {
    Quantity::parse(&format!("{m}m")).map_or_else(|_| format!("{m}m"), |q| q.to_string())
}

/// `computeStatusForResourceMetricGeneric`: the proposal of one resource metric.
fn resource_metric(
    current: i32,
    resource: &str,
    container: Option<&str>,
    target: &Target,
    view: &PodsView<'_>,
) -> Result<(i32, String, Value), String> {
    if !matches!(resource, "cpu" | "memory") {
        return Err(format!(
            "failed to get {resource} utilization: unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        ));
    }
    let samples = samples(view, resource, container);
    let what = if container.is_some() {
        "container resource"
    } else {
        "resource"
    };
    match target {
        Target::AverageValue(milli) => {
            let (replicas, average) = average_value_replicas(current, *milli, &samples, TOLERANCE)
                .map_err(|e| format!("failed to get {resource} usage: {e}"))?;
            let current = json!({"averageValue": milli_quantity(average)});
            Ok((replicas, format!("{resource} resource"), current))
        }
        Target::Utilization(pct) => {
            let fail = |e: String| format!("failed to get {resource} utilization: {e}");
            let requests = requests(&view.pods, resource, container).map_err(fail)?;
            let u = utilization_replicas(current, *pct, &samples, &requests, TOLERANCE).map_err(fail)?;
            let current = json!({"averageUtilization": u.utilization, "averageValue": milli_quantity(u.raw_average)});
            Ok((u.replicas, format!("{resource} {what} utilization (percentage of request)"), current))
        }
        Target::Invalid => Err("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set".into()),
    }
}

/// `computeReplicasForMetric`: one metric's proposal, or why there is none.
pub fn metric(spec: &MetricSpec, current: i32, view: &PodsView<'_>) -> Result<Proposal, Failure> {
    match spec {
        MetricSpec::Resource {
            name,
            container,
            target,
        } => {
            let (reason, status_key, kind) = match container {
                None => ("FailedGetResourceMetric", "resource", "Resource"),
                Some(_) => (
                    "FailedGetContainerResourceMetric",
                    "containerResource",
                    "ContainerResource",
                ),
            };
            match resource_metric(current, name, container.as_deref(), target, view) {
                Ok((replicas, metric_name, value)) => {
                    let mut source = json!({"name": name, "current": value});
                    if let Some(c) = container {
                        source["container"] = json!(c);
                    }
                    Ok(Proposal {
                        replicas,
                        name: metric_name,
                        status: json!({"type": kind, status_key: source}),
                    })
                }
                Err(e) => {
                    let outer = match container {
                        None => format!("failed to get {name} resource metric value: {e}"),
                        Some(_) => format!("failed to get {name} container metric value: {e}"),
                    };
                    Err(Failure::new(reason, e, outer))
                }
            }
        }
        MetricSpec::Custom { kind, name } => {
            let (reason, source) = match kind.as_str() {
                "Pods" => ("FailedGetPodsMetric", "pods"),
                "Object" => ("FailedGetObjectMetric", "object"),
                _ => ("FailedGetExternalMetric", "external"),
            };
            let api = if source == "external" {
                "external.metrics.k8s.io"
            } else {
                "custom.metrics.k8s.io"
            };
            let inner = format!(
                "unable to get metric {name}: no metrics API ({api}) is served by this cluster"
            );
            Err(Failure::new(
                reason,
                inner.clone(),
                format!("failed to get {source} metric value: {inner}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn pod(name: &str, request: Option<&str>) -> Arc<Pod> {
        let now = Utc::now() - Duration::minutes(10);
        let ts = now.to_rfc3339();
        let resources = request.map_or(json!({}), |r| json!({"requests": {"cpu": r}}));
        Arc::new(serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("u-{name}"), "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "x", "resources": resources}]},
            "status": {"phase": "Running", "startTime": ts, "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ts}]}
        })).unwrap())
    }

    fn view(pods: &[Arc<Pod>]) -> PodsView<'_> {
        let timings = Timings {
            cpu_initialization: Duration::seconds(300),
            initial_readiness_delay: Duration::seconds(30),
            metric_window: Duration::seconds(15),
        };
        PodsView::select(
            pods,
            "ns",
            &LabelSelector::parse("app=web").unwrap(),
            Utc::now(),
            timings,
        )
    }

    #[test]
    fn cpu_utilization_from_the_served_usage() {
        let pods = vec![pod("a", Some("100m")), pod("b", Some("100m"))];
        let spec = MetricSpec::Resource {
            name: "cpu".into(),
            container: None,
            target: Target::Utilization(1),
        };
        let p = metric(&spec, 2, &view(&pods)).ok().unwrap();
        assert_eq!(p.name, "cpu resource utilization (percentage of request)");
        let u = p.status["resource"]["current"]["averageUtilization"]
            .as_i64()
            .unwrap();
        // The synthetic usage is 1%..71% of the request, so a 1% target asks for more pods.
        assert!((1..=71).contains(&u), "{u}");
        assert!(u == 1 || p.replicas > 2, "{u} {}", p.replicas);
    }

    #[test]
    fn a_missing_request_fails_as_kube_does() {
        let pods = vec![pod("a", Some("100m")), pod("b", None)];
        let spec = MetricSpec::Resource {
            name: "cpu".into(),
            container: None,
            target: Target::Utilization(50),
        };
        let Err(f) = metric(&spec, 2, &view(&pods)) else {
            panic!("computed")
        };
        assert_eq!(f.condition.reason, "FailedGetResourceMetric");
        assert!(!f.condition.status);
        assert_eq!(
            f.condition.message,
            "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container app of Pod b"
        );
        assert_eq!(f.event.0, "FailedGetResourceMetric");
        assert!(
            f.error
                .starts_with("failed to get cpu resource metric value: ")
        );
        // An average value needs no request.
        let avg = MetricSpec::Resource {
            name: "cpu".into(),
            container: None,
            target: Target::AverageValue(1),
        };
        assert!(metric(&avg, 2, &view(&pods)).is_ok());
    }
}
