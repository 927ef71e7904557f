//! The simulated data plane through the real kubectl (issue 4, must-show 1): rollouts, image
//! updates and undo, scaling to zero and back, StatefulSet claims, DaemonSets, Jobs, CronJobs on
//! a sped-up clock, Services with endpoints, streaming logs, `kubectl top`, and the failure
//! conventions as `kubectl get pods` shows them.

mod common;
#[path = "kubectl_advanced/run.rs"]
mod run;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::TestCluster;
use run::{Kubectl, eventually, get_json, text};
use serde_json::Value;

/// A cluster with three simulated nodes whose clock runs 30 times faster than real time.
fn sim_cluster() -> TestCluster {
    TestCluster::start(&["--nodes", "3", "--sim-time-scale", "30", "--seed", "7"])
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

/// The pods of `selector` that are Running and Ready.
fn ready_pods(k: &Kubectl, selector: &str) -> Vec<Value> {
    items(&get_json(k, &["get", "pods", "-l", selector]))
        .into_iter()
        .filter(|p| {
            p["metadata"]["deletionTimestamp"].is_null()
                && p["status"]["phase"] == "Running"
                && p["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
        })
        .collect()
}

fn image_of(k: &Kubectl, deployment: &str) -> String {
    get_json(k, &["get", "deployment", deployment])["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn deployment_rolls_out_updates_undoes_and_scales() {
    let c = sim_cluster();
    let k = Kubectl::admin(&c);
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=3",
    ]);
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = ready_pods(&k, "app=web");
    assert_eq!(pods.len(), 3, "{pods:?}");
    let nodes: BTreeSet<String> = items(&get_json(&k, &["get", "nodes"]))
        .iter()
        .map(|n| {
            n["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(nodes.len(), 3);
    for p in &pods {
        let node = p["spec"]["nodeName"].as_str().unwrap_or_default();
        assert!(nodes.contains(node), "pod on unknown node {node}: {p}");
        assert!(p["status"]["podIP"].is_string(), "{p}");
    }

    k.ok(&["set", "image", "deployment/web", "nginx=nginx:1.26"]);
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let rs = items(&get_json(&k, &["get", "rs", "-l", "app=web"]));
    let images: BTreeSet<String> = rs
        .iter()
        .map(|r| {
            r["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(rs.len(), 2, "old and new ReplicaSets: {rs:?}");
    assert_eq!(
        images,
        BTreeSet::from(["nginx:1.25".to_string(), "nginx:1.26".to_string()])
    );
    for r in &rs {
        let image = r["spec"]["template"]["spec"]["containers"][0]["image"].clone();
        let want = if image == "nginx:1.26" { 3 } else { 0 };
        assert_eq!(r["spec"]["replicas"], want, "{r}");
    }
    let history = k.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    let out = k.ok(&["rollout", "undo", "deployment/web"]);
    assert!(out.contains("rolled back"), "{out}");
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(image_of(&k, "web"), "nginx:1.25");
    let pods = ready_pods(&k, "app=web");
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.25"),
        "{pods:?}"
    );

    k.ok(&["scale", "deployment/web", "--replicas=0"]);
    eventually("no pods after scaling to 0", 60, || {
        items(&get_json(&k, &["get", "pods", "-l", "app=web"]))
            .is_empty()
            .then_some(())
    });
    k.ok(&["scale", "deployment/web", "--replicas=2"]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(ready_pods(&k, "app=web").len(), 2);
}

const STATEFUL_AND_DAEMON: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres:16
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: fluent-bit:3}]
"#;

#[test]
fn statefulset_claims_daemonset_job_and_cronjob() {
    let c = sim_cluster();
    let k = Kubectl::admin(&c);
    k.ok_stdin(&["apply", "-f", "-"], Some(STATEFUL_AND_DAEMON));

    let out = k.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]);
    assert!(out.contains("roll"), "{out}");
    let names: BTreeSet<String> = ready_pods(&k, "app=db")
        .iter()
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(names, BTreeSet::from(["db-0".into(), "db-1".into()]));
    let pvcs = eventually("both claims Bound", 60, || {
        let pvcs = items(&get_json(&k, &["get", "pvc"]));
        (pvcs.len() == 2 && pvcs.iter().all(|p| p["status"]["phase"] == "Bound")).then_some(pvcs)
    });
    let claims: BTreeSet<&str> = pvcs
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    assert_eq!(claims, BTreeSet::from(["data-db-0", "data-db-1"]));
    for p in &pvcs {
        let pv = p["spec"]["volumeName"].as_str().unwrap_or_default();
        let v = get_json(&k, &["get", "pv", pv]);
        assert_eq!(v["status"]["phase"], "Bound", "{v}");
    }

    let out = k.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let on: BTreeSet<String> = ready_pods(&k, "app=agent")
        .iter()
        .map(|p| {
            p["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let nodes = items(&get_json(&k, &["get", "nodes"]));
    assert_eq!(on.len(), nodes.len(), "a pod on every node: {on:?}");

    k.ok(&["create", "job", "once", "--image=busybox:1.36"]);
    let out = k.ok(&[
        "wait",
        "--for=condition=complete",
        "job/once",
        "--timeout=60s",
    ]);
    assert!(out.contains("condition met"), "{out}");
    let job = get_json(&k, &["get", "job", "once"]);
    assert_eq!(job["status"]["succeeded"], 1, "{job}");

    // Every minute: at 30x a simulated minute passes in two real seconds.
    k.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox:1.36",
        "--schedule=*/1 * * * *",
    ]);
    let jobs = eventually("the CronJob to create two Jobs", 60, || {
        let jobs: Vec<Value> = items(&get_json(&k, &["get", "jobs"]))
            .into_iter()
            .filter(|j| {
                j["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|o| {
                        o.iter()
                            .any(|r| r["kind"] == "CronJob" && r["name"] == "tick")
                    })
            })
            .collect();
        (jobs.len() >= 2).then_some(jobs)
    });
    assert!(
        jobs.iter().all(|j| j["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("tick-"))),
        "{jobs:?}"
    );
    let cj = get_json(&k, &["get", "cronjob", "tick"]);
    assert!(cj["status"]["lastScheduleTime"].is_string(), "{cj}");
}

#[test]
fn service_endpoints_logs_and_top() {
    let c = sim_cluster();
    let k = Kubectl::admin(&c);
    k.ok(&[
        "create",
        "deployment",
        "api",
        "--image=nginx:1.25",
        "--replicas=2",
        "--port=80",
    ]);
    k.ok(&["rollout", "status", "deployment/api", "--timeout=60s"]);
    k.ok(&["expose", "deployment", "api", "--port=80"]);
    let svc = get_json(&k, &["get", "service", "api"]);
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default();
    assert!(
        ip.starts_with("10."),
        "ClusterIP from the service CIDR: {svc}"
    );

    let pod_ips: BTreeSet<String> = ready_pods(&k, "app=api")
        .iter()
        .map(|p| {
            p["status"]["podIP"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(pod_ips.len(), 2);
    eventually("endpoints of the ready pods", 30, || {
        let ep = get_json(&k, &["get", "endpoints", "api"]);
        let ips: BTreeSet<String> = ep["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["ip"].as_str().map(str::to_string))
            .collect();
        (ips == pod_ips).then_some(())
    });
    let slices = items(&get_json(
        &k,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
        ],
    ));
    assert!(!slices.is_empty(), "an EndpointSlice for the Service");

    // `logs -f` streams: lines keep arriving after the first ones were printed.
    let pod = ready_pods(&k, "app=api")[0]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut child = k.spawn(&["logs", "-f", "--timestamps", &pod], None);
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines.len() < 12 && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
            lines.push(l);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.len() >= 12, "streamed lines: {lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.split(' ').next().is_some_and(|t| t.contains('T'))),
        "timestamps: {lines:?}"
    );
    let tail = k.ok(&["logs", &pod, "--tail=2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");

    let top = eventually("kubectl top nodes", 30, || {
        let out = k.run(&["top", "nodes"], None);
        out.status.success().then(|| text(&out.stdout))
    });
    assert!(
        top.contains("CPU(cores)") && top.contains("MEMORY(bytes)"),
        "{top}"
    );
    assert_eq!(top.lines().count(), 4, "a header and three nodes: {top}");
    let top = eventually("kubectl top pods", 30, || {
        let out = k.run(&["top", "pods", "-l", "app=api"], None);
        let s = text(&out.stdout);
        (out.status.success() && s.lines().count() == 3).then_some(s)
    });
    assert!(top.contains(&pod), "{top}");
}

const FAILING: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: nopull}
spec:
  containers: [{name: c, image: "nginx:bad"}]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers: [{name: c, image: "example/crashloop:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers:
  - name: c
    image: nginx:1.25
    resources: {requests: {cpu: "500"}}
"#;

/// The STATUS column of `kubectl get pods` for `pod`.
fn status_column(k: &Kubectl, pod: &str) -> String {
    let out = k.ok(&["get", "pod", pod, "--no-headers"]);
    out.split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn failure_conventions_show_in_get_pods() {
    let c = sim_cluster();
    let k = Kubectl::admin(&c);
    k.ok_stdin(&["apply", "-f", "-"], Some(FAILING));

    eventually("nopull in ImagePullBackOff", 60, || {
        (status_column(&k, "nopull") == "ImagePullBackOff").then_some(())
    });
    let pod = get_json(&k, &["get", "pod", "nopull"]);
    assert_eq!(pod["status"]["phase"], "Pending", "{pod}");

    let restarts = eventually("crasher in CrashLoopBackOff after restarts", 60, || {
        let out = k.ok(&["get", "pod", "crasher", "--no-headers"]);
        let cols: Vec<&str> = out.split_whitespace().collect();
        let restarts: u64 = cols.get(3).and_then(|r| r.parse().ok()).unwrap_or(0);
        (cols.get(2) == Some(&"CrashLoopBackOff") && restarts >= 2).then_some(restarts)
    });
    assert!(restarts >= 2);

    assert_eq!(status_column(&k, "huge"), "Pending");
    let pod = get_json(&k, &["get", "pod", "huge"]);
    let cond = pod["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "PodScheduled").cloned())
        .unwrap_or_default();
    assert_eq!(cond["status"], "False", "{pod}");
    assert_eq!(cond["reason"], "Unschedulable", "{pod}");
    assert!(
        cond["message"]
            .as_str()
            .is_some_and(|m| m.contains("Insufficient cpu")),
        "{cond}"
    );
    let events = k.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=huge,reason=FailedScheduling",
    ]);
    assert!(events.contains("FailedScheduling"), "{events}");
}
