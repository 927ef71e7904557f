//! Kubernetes fidelity gaps found while moving KubeSphere users over (issue 12), each driven
//! by the real client that hit it.

use super::common::TestCluster;
use super::run::{Kubectl, get_json, wait_until};

/// An export as KubeSphere users make it: one `kind: List` holding several objects.
const EXPORTED_LIST: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: exported-a}
  data: {k: "1"}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: exported-b}
  data: {k: "2"}
"#;

#[test]
fn kubectl_creates_a_list_with_validation_on() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    let out = k.ok_stdin(&["create", "-f", "-"], Some(EXPORTED_LIST));
    assert!(out.contains("configmap/exported-a created"), "{out}");
    assert!(out.contains("configmap/exported-b created"), "{out}");
    // Strict validation still refuses an unknown field inside the list.
    let bad = EXPORTED_LIST
        .replace("exported-a}", "exported-c}\n  bogus: 1")
        .replace("exported-b", "exported-d");
    let err = k.fails(&["create", "--validate=strict", "-f", "-"], Some(&bad));
    assert!(err.contains("bogus"), "{err}");
}

const WITH_ENV: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: envy}
spec:
  selector: {matchLabels: {app: envy}}
  template:
    metadata: {labels: {app: envy}}
    spec:
      containers:
      - name: c
        image: img:1
        env: [{name: A, value: "1"}]
"#;

#[test]
fn apply_of_an_emptied_list_drops_the_field_as_the_typed_round_trip_does() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    k.ok_stdin(&["apply", "-f", "-"], Some(WITH_ENV));
    let emptied = WITH_ENV.replace(r#"[{name: A, value: "1"}]"#, "[]");
    k.ok_stdin(&["apply", "-f", "-"], Some(&emptied));
    let dep = get_json(&k, &["get", "deployment", "envy"]);
    let container = &dep["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container.get("env").is_none(),
        "env: [] is dropped: {container}"
    );
    assert_eq!(
        container["resources"],
        serde_json::json!({}),
        "structs stay: {container}"
    );
    // A Role's `rules: []` is not omitempty and stays.
    let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: empty}\nrules: []\n";
    k.ok_stdin(&["apply", "-f", "-"], Some(role));
    let r = get_json(&k, &["get", "role", "empty"]);
    assert_eq!(r["rules"], serde_json::json!([]), "{r}");
}

/// A watch resuming from a revision the server has not reached gets kube-apiserver's answer
/// before any stream starts — 504 Timeout, "Too large resource version", a `Retry-After` of
/// 1 s and the `ResourceVersionTooLarge` cause — instead of a 500 ERROR event. (Asked with a
/// plain HTTP client: kubectl and kube-rs honour the Retry-After and retry, as they do against
/// kube-apiserver.)
#[tokio::test]
async fn a_watch_from_a_future_revision_is_too_large_a_resource_version() {
    let c = TestCluster::start(&[]);
    let kubeconfig = std::fs::read_to_string(&c.kubeconfig).expect("kubeconfig");
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("a token in the kubeconfig")
        .trim_matches('"')
        .to_string();
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let r = http
        .get(format!(
            "{}/api/v1/configmaps?watch=true&resourceVersion=999999999",
            c.url
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 504);
    assert_eq!(r.headers()["retry-after"], "1");
    let s: serde_json::Value = r.json().await.expect("a Status");
    assert_eq!(s["reason"], "Timeout", "{s}");
    assert!(
        s["message"].as_str().is_some_and(
            |m| m.starts_with("Timeout: Too large resource version: 999999999, current: ")
        ),
        "{s}"
    );
    assert_eq!(
        s["details"]["causes"][0]["reason"], "ResourceVersionTooLarge",
        "{s}"
    );
}

#[test]
fn a_create_without_a_field_manager_is_recorded_under_the_user_agent() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    let cm = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "raw"}, "data": {"k": "v"}}"#;
    k.ok_stdin(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            "-",
        ],
        Some(cm),
    );
    let got = get_json(&k, &["get", "configmap", "raw", "--show-managed-fields"]);
    let managers: Vec<&str> = got["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["kubectl"], "{got}");
}

fn pod(name: &str, resources: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n  - name: {name}\n    image: img:1\n    resources: {resources}\n"
    )
}

/// Namespace quotas and LimitRanges answer as kube-apiserver's `ResourceQuota` and
/// `LimitRanger` admission do, word for word.
#[test]
fn quotas_and_limit_ranges_answer_as_kube_apiserver() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    k.ok(&["create", "namespace", "q"]);
    k.ok(&[
        "create",
        "quota",
        "small",
        "--hard=pods=2,configmaps=3",
        "-n",
        "q",
    ]);
    for p in ["p1", "p2"] {
        k.ok_stdin(&["create", "-n", "q", "-f", "-"], Some(&pod(p, "{}")));
    }
    let err = k.fails(&["create", "-n", "q", "-f", "-"], Some(&pod("p3", "{}")));
    assert!(
        err.contains(r#"pods "p3" is forbidden: exceeded quota: small, requested: pods=1, used: pods=2, limited: pods=2"#),
        "{err}"
    );
    // The quota's status follows (kube's quota controller).
    wait_until("status.used is kept", || {
        let q = get_json(&k, &["get", "quota", "small", "-n", "q"]);
        q["status"]["used"]["pods"] == "2" && q["status"]["hard"]["configmaps"] == "3"
    });

    // A cpu quota needs every container to say what it takes.
    k.ok(&["create", "namespace", "q2"]);
    k.ok(&[
        "create",
        "quota",
        "cpu",
        "--hard=requests.cpu=1,limits.cpu=2",
        "-n",
        "q2",
    ]);
    let err = k.fails(&["create", "-n", "q2", "-f", "-"], Some(&pod("bare", "{}")));
    assert!(
        err.contains(r#"pods "bare" is forbidden: failed quota: cpu: must specify limits.cpu for: bare; requests.cpu for: bare"#),
        "{err}"
    );
    // A LimitRange fills in what containers leave out, and bounds what they ask.
    let limits = "apiVersion: v1\nkind: LimitRange\nmetadata: {name: cpu}\nspec:\n  limits:\n  - type: Container\n    default: {cpu: 500m}\n    defaultRequest: {cpu: 250m}\n    max: {cpu: '1'}\n";
    k.ok_stdin(&["create", "-n", "q2", "-f", "-"], Some(limits));
    k.ok_stdin(
        &["create", "-n", "q2", "-f", "-"],
        Some(&pod("filled", "{}")),
    );
    let filled = get_json(&k, &["get", "pod", "filled", "-n", "q2"]);
    let res = &filled["spec"]["containers"][0]["resources"];
    assert_eq!(
        (
            res["requests"]["cpu"].as_str(),
            res["limits"]["cpu"].as_str()
        ),
        (Some("250m"), Some("500m")),
        "{filled}"
    );
    assert_eq!(
        filled["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu request for container filled; cpu limit for container filled"
    );
    let err = k.fails(
        &["create", "-n", "q2", "-f", "-"],
        Some(&pod(
            "greedy",
            "{limits: {cpu: '2'}, requests: {cpu: 100m}}",
        )),
    );
    assert!(
        err.contains(
            r#"pods "greedy" is forbidden: maximum cpu usage per Container is 1, but limit is 2"#
        ),
        "{err}"
    );
    // Requests add up against the quota: 250m + 800m > 1.
    let err = k.fails(
        &["create", "-n", "q2", "-f", "-"],
        Some(&pod(
            "heavy",
            "{limits: {cpu: 800m}, requests: {cpu: 800m}}",
        )),
    );
    assert!(
        err.contains("exceeded quota: cpu, requested: requests.cpu=800m, used: requests.cpu=250m, limited: requests.cpu=1"),
        "{err}"
    );
}
