//! HorizontalPodAutoscalers at `autoscaling/v1` and `autoscaling/v2` through kube-rs' typed
//! clients and the real kubectl, as kube-apiserver converts them: a v1 CPU target reads as a v2
//! `cpu` Resource metric; what v1 cannot hold (other metrics, behavior, current metrics,
//! conditions) travels in `autoscaling.alpha.kubernetes.io/*` annotations, so a v1 update,
//! merge patch, client-side or server-side apply loses nothing of the v2 object; a watch and a
//! Table at v1 show v1 objects; defaults and validation apply to the v2 form.

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::autoscaling::{v1, v2};
use kube::api::{
    Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

use common::{TestCluster, json as parse};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";

const V1_HPA: &str = "apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  targetCPUUtilizationPercentage: 50
";

/// Step 1: created at v1 with a CPU target, the HPA reads at v2 as a `cpu` Utilization metric
/// with kube's defaults; `kubectl apply` at v1 again patches against the v1 view.
async fn v1_cpu_target_reads_as_v2_metric(c: &TestCluster, client: &kube::Client) {
    c.ok_stdin(&["apply", "-f", "-"], V1_HPA);
    let v2: Api<v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let hpa = v2.get("web").await.unwrap();
    let spec = hpa.spec.unwrap();
    assert_eq!(spec.min_replicas, Some(1));
    let metrics = spec.metrics.unwrap();
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    let cpu = metrics[0].resource.as_ref().unwrap();
    assert_eq!(
        (cpu.name.as_str(), cpu.target.type_.as_str()),
        ("cpu", "Utilization")
    );
    assert_eq!(cpu.target.average_utilization, Some(50));
    // Client-side apply of a changed v1 manifest: kubectl GETs v1, PATCHes a strategic patch.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &V1_HPA.replace("Percentage: 50", "Percentage: 60"),
    );
    let raw = parse(&c.ok(&[
        "get",
        "horizontalpodautoscalers.v2.autoscaling",
        "web",
        "-o",
        "json",
    ]));
    assert_eq!(raw["apiVersion"], "autoscaling/v2");
    assert_eq!(
        raw["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 60,
        "{raw}"
    );
    let at_v1 = parse(&c.ok(&[
        "get",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "-o",
        "json",
    ]));
    assert_eq!(at_v1["apiVersion"], "autoscaling/v1");
    assert_eq!(
        at_v1["spec"]["targetCPUUtilizationPercentage"], 60,
        "{at_v1}"
    );
    assert!(at_v1["spec"].get("metrics").is_none(), "{at_v1}");
}

fn v2_hpa() -> v2::HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "minReplicas": 2, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "memory",
                "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}]}}}
    }))
    .unwrap()
}

fn annotation(hpa: &v1::HorizontalPodAutoscaler, key: &str) -> Value {
    let text = hpa.metadata.annotations.as_ref().and_then(|a| a.get(key));
    serde_json::from_str(text.map_or("null", String::as_str)).unwrap()
}

/// Step 2: created at v2 with a memory metric and a behavior, the HPA reads at v1 with them
/// in annotations; the controller's v2 status shows at v1 too (conditions annotation).
async fn v2_fields_travel_in_v1_annotations(client: &kube::Client) {
    let v2: Api<v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    v2.create(&PostParams::default(), &v2_hpa()).await.unwrap();
    let v1: Api<v1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let hpa = v1.get("api").await.unwrap();
    let spec = hpa.spec.as_ref().unwrap();
    assert_eq!(spec.target_cpu_utilization_percentage, None);
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 5));
    assert_eq!(
        annotation(&hpa, METRICS),
        json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}])
    );
    let behavior = annotation(&hpa, BEHAVIOR);
    assert_eq!(behavior["ScaleDown"]["StabilizationWindowSeconds"], 60);
    // kube's defaults, applied to the v2 form, filled in the rest of the behavior.
    assert_eq!(behavior["ScaleUp"]["SelectPolicy"], "Max", "{behavior}");
    // The simulated controller writes status at v2 (no Deployment `api`: AbleToScale False).
    let mut seen = hpa;
    for _ in 0..150 {
        if annotation(&seen, CONDITIONS).is_array() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = v1.get("api").await.unwrap();
    }
    let conditions = annotation(&seen, CONDITIONS);
    assert_eq!(conditions[0]["type"], "AbleToScale", "{conditions}");
}

/// Step 3: an update at v1 (the object as read, `minReplicas` changed) and a merge patch at v1
/// keep the v2-only fields and the controller's status; the generation moves with the spec.
async fn v1_writes_lose_nothing(client: &kube::Client, c: &TestCluster) {
    let v1: Api<v1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let v2: Api<v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let before = v2.get("api").await.unwrap();
    // Read-modify-write, retried when the controller's status write comes in between.
    for attempt in 0.. {
        let mut hpa = v1.get("api").await.unwrap();
        hpa.spec.as_mut().unwrap().min_replicas = Some(3);
        match v1.replace("api", &PostParams::default(), &hpa).await {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 && attempt < 20 => continue,
            Err(e) => panic!("v1 update: {e}"),
        }
    }
    let patch = r#"{"spec": {"targetCPUUtilizationPercentage": 70}}"#;
    c.ok(&[
        "patch",
        "horizontalpodautoscalers.v1.autoscaling",
        "api",
        "--type=merge",
        "-p",
        patch,
    ]);
    let after = v2.get("api").await.unwrap();
    let spec = after.spec.as_ref().unwrap();
    assert_eq!(spec.min_replicas, Some(3));
    let metrics = serde_json::to_value(&spec.metrics).unwrap();
    assert_eq!(metrics[0]["resource"]["name"], "memory", "{metrics}");
    assert_eq!(metrics[0]["resource"]["target"]["averageValue"], "100Mi");
    assert_eq!(metrics[1]["resource"]["name"], "cpu", "{metrics}");
    assert_eq!(metrics[1]["resource"]["target"]["averageUtilization"], 70);
    assert_eq!(spec.behavior, before.spec.as_ref().unwrap().behavior);
    let conditions = |h: &v2::HorizontalPodAutoscaler| {
        let c = h.status.as_ref().and_then(|s| s.conditions.clone());
        c.unwrap_or_default()
            .into_iter()
            .map(|c| c.type_)
            .collect::<Vec<_>>()
    };
    assert!(
        conditions(&after).contains(&"AbleToScale".to_string()),
        "{after:?}"
    );
    assert!(after.metadata.annotations.is_none(), "{:?}", after.metadata);
    assert!(after.metadata.generation > before.metadata.generation);
}

/// Step 4: server-side apply at v1 changes only the applied fields, keeping the v2 ones.
async fn v1_server_side_apply(client: &kube::Client) {
    let v1: Api<v1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let config = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "maxReplicas": 6}});
    let params = PatchParams::apply("hpa-versions-test").force();
    v1.patch("api", &params, &Patch::Apply(&config))
        .await
        .unwrap();
    let v2: Api<v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let spec = v2.get("api").await.unwrap().spec.unwrap();
    assert_eq!(spec.max_replicas, 6);
    let names: Vec<String> = spec
        .metrics
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.resource.as_ref().map(|r| r.name.clone()))
        .collect();
    assert_eq!(names, ["memory", "cpu"]);
    assert!(spec.behavior.is_some());
}

/// Step 5: a watch at v1 gets v1 objects (kube-rs decodes them as `autoscaling/v1` only), and
/// `kubectl get` at v1 prints every metric, as kube's table of its internal object does.
async fn v1_watch_and_table(client: &kube::Client, c: &TestCluster) {
    let v1: Api<v1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let rv = v1
        .get("api")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let wp = WatchParams::default()
        .fields("metadata.name=api")
        .timeout(30);
    let mut events = v1.watch(&wp, &rv).await.unwrap().boxed();
    let patch = r#"{"spec": {"maxReplicas": 7}}"#;
    c.ok(&[
        "patch",
        "horizontalpodautoscalers.v1.autoscaling",
        "api",
        "--type=merge",
        "-p",
        patch,
    ]);
    let seen = loop {
        match events.try_next().await.unwrap() {
            Some(WatchEvent::Modified(h)) if h.spec.as_ref().unwrap().max_replicas == 7 => break h,
            Some(WatchEvent::Error(e)) => panic!("watch error: {e:?}"),
            Some(_) => continue,
            None => panic!("watch ended before the change"),
        }
    };
    let spec = seen.spec.unwrap();
    assert_eq!(spec.target_cpu_utilization_percentage, Some(70));
    let table = c.ok(&["get", "horizontalpodautoscalers.v1.autoscaling", "api"]);
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(row.contains("memory: <unknown>/100Mi, cpu: "), "{table}");
}

/// Step 5b: metadata-only answers at v1 (a GET, a list, a watch) carry the v1 object's
/// metadata — its round-trip annotations included — as kube-apiserver cuts them from the
/// converted object; at v2 they have none.
async fn v1_metadata_is_the_v1_objects(client: &kube::Client) {
    let v1: Api<v1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let v2: Api<v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let has = |m: &ObjectMeta| {
        m.annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(METRICS))
    };
    let one = v1.get_metadata("api").await.unwrap();
    assert!(has(&one.metadata), "{:?}", one.metadata.annotations);
    let listed = v1
        .list_metadata(&ListParams::default().fields("metadata.name=api"))
        .await
        .unwrap();
    assert!(
        has(&listed.items[0].metadata),
        "{:?}",
        listed.items[0].metadata.annotations
    );
    let at_v2 = v2.get_metadata("api").await.unwrap();
    assert!(!has(&at_v2.metadata), "{:?}", at_v2.metadata.annotations);
    // A write's metadata-only answer too.
    let labelled = v1
        .patch_metadata(
            "api",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
        )
        .await
        .unwrap();
    assert!(
        has(&labelled.metadata),
        "{:?}",
        labelled.metadata.annotations
    );
    let rv = one.metadata.resource_version.clone().unwrap();
    let wp = WatchParams::default()
        .fields("metadata.name=api")
        .timeout(30);
    let mut events = v1.watch_metadata(&wp, &rv).await.unwrap().boxed();
    v2.patch(
        "api",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"maxReplicas": 8}})),
    )
    .await
    .unwrap();
    let seen = loop {
        match events.try_next().await.unwrap() {
            Some(WatchEvent::Modified(m)) => break m,
            Some(WatchEvent::Error(e)) => panic!("watch error: {e:?}"),
            Some(_) => continue,
            None => panic!("watch ended before the change"),
        }
    };
    assert!(has(&seen.metadata), "{:?}", seen.metadata.annotations);
}

/// Step 6: validation runs on the v2 form (a v1 target of 0% is a metric's utilization).
fn v1_validation_on_v2_form(c: &TestCluster) {
    let bad = V1_HPA
        .replace("name: web\n", "name: bad\n")
        .replace("Percentage: 50", "Percentage: 0");
    let err = c.fails(&["create", "-f", "-"], Some(&bad));
    assert!(
        err.contains("spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"),
        "{err}"
    );
}

#[tokio::test]
async fn hpa_versions_convert_as_kube_does() {
    let c = TestCluster::start(&["--nodes", "1", "--sim-time-scale", "30"]);
    let client = c.client().await;
    v1_cpu_target_reads_as_v2_metric(&c, &client).await;
    v2_fields_travel_in_v1_annotations(&client).await;
    v1_writes_lose_nothing(&client, &c).await;
    v1_server_side_apply(&client).await;
    v1_watch_and_table(&client, &c).await;
    v1_metadata_is_the_v1_objects(&client).await;
    v1_validation_on_v2_form(&c);
}
