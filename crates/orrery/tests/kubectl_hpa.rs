//! The embedded cluster's HorizontalPodAutoscaler controller through the real kubectl: an HPA
//! with a low CPU target scales its Deployment up to `maxReplicas` (status, conditions and the
//! SuccessfulRescale event as `kubectl get`/`describe hpa` show them), a high target with a
//! zero scale-down window brings it down to `minReplicas`, `kubectl autoscale` works, and a
//! Deployment without CPU requests gets kube's FailedGetResourceMetric condition. The
//! simulated usage is 1%–71% of each container's request, so a 1% target always means "more".

mod common;
#[path = "kubectl_advanced/run.rs"]
mod run;

use common::TestCluster;
use run::{Kubectl, eventually, get_json};
use serde_json::Value;

fn deployment(name: &str, cpu_request: Option<&str>) -> String {
    let resources = cpu_request.map_or(String::new(), |cpu| {
        format!("\n          resources:\n            requests:\n              cpu: {cpu}")
    });
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: app
          image: nginx:1.25{resources}
"
    )
}

const HPA: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 1
  maxReplicas: 4
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 1
";

/// The deployment's `spec.replicas` once it equals `n` and as many pods are ready.
fn wait_scaled(k: &Kubectl, name: &str, n: i64) {
    eventually(&format!("{name} at {n} ready replicas"), 60, || {
        let d = get_json(k, &["get", "deployment", name]);
        (d["spec"]["replicas"] == n && d["status"]["readyReplicas"] == n).then_some(())
    });
}

fn condition<'a>(hpa: &'a Value, kind: &str) -> &'a Value {
    hpa["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

/// Step 1: a 1% CPU target takes `web` from 1 to `maxReplicas` 4, with kube's status.
fn scales_up_to_max(k: &Kubectl) {
    k.ok_stdin(
        &["apply", "-f", "-"],
        Some(&deployment("web", Some("100m"))),
    );
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    k.ok_stdin(&["apply", "-f", "-"], Some(HPA));
    wait_scaled(k, "web", 4);
    // Limited by maxReplicas once the new pods count (while they start, they count as 0%).
    let hpa = eventually(
        "the HPA's status at 4 replicas, TooManyReplicas",
        60,
        || {
            let h = get_json(k, &["get", "hpa", "web"]);
            let limited = condition(&h, "ScalingLimited")["reason"] == "TooManyReplicas";
            (h["status"]["currentReplicas"] == 4 && h["status"]["desiredReplicas"] == 4 && limited)
                .then_some(h)
        },
    );
    let status = &hpa["status"];
    assert_eq!(status["observedGeneration"], hpa["metadata"]["generation"]);
    assert!(status["lastScaleTime"].is_string(), "{status}");
    let current = &status["currentMetrics"][0]["resource"];
    assert_eq!(current["name"], "cpu", "{status}");
    let utilization = current["current"]["averageUtilization"].as_i64().unwrap();
    assert!((1..=71).contains(&utilization), "{status}");
    assert_eq!(condition(&hpa, "AbleToScale")["status"], "True", "{status}");
    let active = condition(&hpa, "ScalingActive");
    assert_eq!(active["reason"], "ValidMetricFound", "{status}");
    let limited = condition(&hpa, "ScalingLimited");
    assert_eq!(
        (&limited["status"], &limited["reason"]),
        (&Value::from("True"), &Value::from("TooManyReplicas")),
        "{status}"
    );
    let table = k.ok(&["get", "hpa", "web"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..2], ["web", "Deployment/web"], "{table}");
    assert_eq!(row[2], "cpu:", "{table}");
    assert!(row[3].ends_with("%/1%"), "{table}");
    assert_eq!(row[4..7], ["1", "4", "4"], "{table}");
    // Events are written in the background: wait for the last rescale's.
    let rescaled =
        "New size: 4; reason: cpu resource utilization (percentage of request) above target";
    let described = eventually("the SuccessfulRescale event", 30, || {
        let d = k.ok(&["describe", "hpa", "web"]);
        d.contains(rescaled).then_some(d)
    });
    assert!(described.contains("SuccessfulRescale"), "{described}");
    assert!(described.contains("TooManyReplicas"), "{described}");
    assert!(described.contains("Min replicas:"), "{described}");
}

/// Step 2: a 1000% target with a zero scale-down window and `minReplicas` 2 brings `web` down
/// to 2 at once (the default scale-down policy allows 100% per 15 s).
fn scales_down_to_min(k: &Kubectl) {
    let patch = r#"{"spec": {"minReplicas": 2, "metrics": [{"type": "Resource", "resource":
        {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 1000}}}],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}}"#;
    k.ok(&["patch", "hpa", "web", "--type=merge", "-p", patch]);
    wait_scaled(k, "web", 2);
    let hpa = eventually("the HPA's status at 2 replicas, TooFewReplicas", 60, || {
        let h = get_json(k, &["get", "hpa", "web"]);
        let limited = condition(&h, "ScalingLimited")["reason"] == "TooFewReplicas";
        (h["status"]["currentReplicas"] == 2 && h["status"]["desiredReplicas"] == 2 && limited)
            .then_some(h)
    });
    // The API server filled in the rest of the behavior with kube's defaults.
    let behavior = &hpa["spec"]["behavior"];
    assert_eq!(
        behavior["scaleDown"]["policies"][0]["type"], "Percent",
        "{behavior}"
    );
    assert_eq!(behavior["scaleUp"]["selectPolicy"], "Max", "{behavior}");
    assert_eq!(condition(&hpa, "ScalingLimited")["status"], "True", "{hpa}");
    let described = eventually("the scale-down event", 30, || {
        let d = k.ok(&["describe", "hpa", "web"]);
        d.contains("New size: 2; reason: All metrics below target")
            .then_some(d)
    });
    assert!(described.contains("SuccessfulRescale"), "{described}");
}

/// Step 2b: a second HPA over the same pods makes both refuse to scale, as in kube.
fn two_hpas_over_the_same_pods(k: &Kubectl) {
    k.ok(&[
        "autoscale",
        "deployment",
        "web",
        "--name=web-too",
        "--max=3",
    ]);
    let expected =
        "pods by selector app=web are controlled by multiple HPAs: [default/web default/web-too]";
    for name in ["web-too", "web"] {
        let active = eventually(&format!("{name}: AmbiguousSelector"), 30, || {
            let h = get_json(k, &["get", "hpa", name]);
            let c = condition(&h, "ScalingActive").clone();
            (c["reason"] == "AmbiguousSelector").then_some(c)
        });
        assert_eq!(active["message"], expected, "{active}");
    }
    k.ok(&["delete", "hpa", "web-too"]);
    eventually("web's HPA active again", 30, || {
        let h = get_json(k, &["get", "hpa", "web"]);
        (condition(&h, "ScalingActive")["reason"] == "ValidMetricFound").then_some(())
    });
}

/// Step 3: `kubectl autoscale` makes an HPA the controller acts on.
fn kubectl_autoscale_works(k: &Kubectl) {
    k.ok_stdin(&["apply", "-f", "-"], Some(&deployment("api", Some("50m"))));
    k.ok(&["rollout", "status", "deployment/api", "--timeout=60s"]);
    let out = k.ok(&[
        "autoscale",
        "deployment",
        "api",
        "--max=3",
        "--cpu-percent=1",
    ]);
    assert!(out.contains("autoscaled"), "{out}");
    wait_scaled(k, "api", 3);
    let hpa = get_json(k, &["get", "hpa", "api"]);
    assert_eq!(hpa["spec"]["minReplicas"], 1, "{hpa}");
}

/// Step 4: a pod without a CPU request makes CPU utilization uncomputable, as in kube.
fn missing_request_is_reported(k: &Kubectl) {
    k.ok_stdin(&["apply", "-f", "-"], Some(&deployment("bare", None)));
    k.ok(&["rollout", "status", "deployment/bare", "--timeout=60s"]);
    k.ok(&[
        "autoscale",
        "deployment",
        "bare",
        "--max=3",
        "--cpu-percent=1",
    ]);
    let active = eventually("ScalingActive False", 30, || {
        let h = get_json(k, &["get", "hpa", "bare"]);
        let c = condition(&h, "ScalingActive").clone();
        (c["status"] == "False").then_some(c)
    });
    assert_eq!(active["reason"], "FailedGetResourceMetric", "{active}");
    let message = active["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container app of Pod bare-"
        ),
        "{message}"
    );
    let d = get_json(k, &["get", "deployment", "bare"]);
    assert_eq!(d["spec"]["replicas"], 1, "{d}");
}

const WIDGETS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
      subresources:
        status: {}
        scale:
          specReplicasPath: .spec.replicas
          statusReplicasPath: .status.replicas
          labelSelectorPath: .status.selector
";

const WIDGET_HPA: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: widget
spec:
  scaleTargetRef: {apiVersion: example.com/v1, kind: Widget, name: w}
  minReplicas: 2
  maxReplicas: 3
";

/// Step 5: a custom resource with a scale subresource is a target too: below `minReplicas` it
/// is raised to it; its scale has no selector, so its metrics cannot be computed.
fn custom_resource_target(k: &Kubectl) {
    k.ok_stdin(&["apply", "-f", "-"], Some(WIDGETS));
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    let widget =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {replicas: 1}\n";
    eventually("the Widget created", 30, || {
        (k.run(&["apply", "-f", "-"], Some(widget)).status.success()).then_some(())
    });
    k.ok_stdin(&["apply", "-f", "-"], Some(WIDGET_HPA));
    eventually("the Widget scaled to 2", 30, || {
        (get_json(k, &["get", "widget", "w"])["spec"]["replicas"] == 2).then_some(())
    });
    let active = eventually("InvalidSelector", 30, || {
        let h = get_json(k, &["get", "hpa", "widget"]);
        let c = condition(&h, "ScalingActive").clone();
        (c["reason"] == "InvalidSelector").then_some(c)
    });
    assert_eq!(
        active["message"],
        "the HPA target's scale is missing a selector"
    );
}

#[test]
fn hpa_scales_deployments_as_kube_does() {
    let c = TestCluster::start(&["--nodes", "2", "--sim-time-scale", "30", "--seed", "11"]);
    let k = Kubectl::admin(&c);
    scales_up_to_max(&k);
    scales_down_to_min(&k);
    two_hpas_over_the_same_pods(&k);
    kubectl_autoscale_works(&k);
    missing_request_is_reported(&k);
    custom_resource_target(&k);
}
