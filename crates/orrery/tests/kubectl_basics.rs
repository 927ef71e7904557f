//! The real kubectl against an embedded cluster: CRUD, apply, patch, selectors, watch,
//! discovery (issue: embedded cluster store/REST, must-show 1 and 2).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{TestCluster, json};

const MANIFEST: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels: {app: shop, tier: backend}
data:
  mode: production
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
  labels: {app: shop}
type: Opaque
data:
  token: dG9rZW4=
---
apiVersion: v1
kind: Service
metadata:
  name: shop
  labels: {app: shop}
spec:
  selector: {app: shop}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8080
"#;

#[test]
fn fresh_cluster_has_the_system_namespaces() {
    let c = TestCluster::start(&[]);
    let out = c.ok(&["get", "ns", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            out.contains(&format!("namespace/{ns}")),
            "missing {ns} in {out}"
        );
    }
    let table = c.ok(&["get", "ns"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("Active"), "{table}");
}

#[test]
fn create_get_list_with_formats_and_selectors() {
    let c = TestCluster::start(&[]);
    c.ok(&["create", "namespace", "shop"]);
    c.ok(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "a",
        "--from-literal=k=v",
    ]);
    c.ok(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "b",
        "--from-literal=k=w",
    ]);
    c.ok(&["-n", "shop", "label", "configmap", "a", "color=red"]);
    c.ok(&["-n", "shop", "label", "configmap", "b", "color=blue"]);

    let a = json(&c.ok(&["-n", "shop", "get", "configmap", "a", "-o", "json"]));
    assert_eq!(a["data"]["k"], "v");
    assert_eq!(a["metadata"]["labels"]["color"], "red");
    assert!(a["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(a["metadata"]["creationTimestamp"].as_str().is_some());
    assert!(
        a["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|rv| rv.parse::<i64>().is_ok())
    );

    let yaml = c.ok(&["-n", "shop", "get", "configmap", "b", "-o", "yaml"]);
    assert!(yaml.contains("name: b") && yaml.contains("k: w"), "{yaml}");

    let names = c.ok(&["-n", "shop", "get", "configmaps", "-o", "name"]);
    assert!(
        names.contains("configmap/a") && names.contains("configmap/b"),
        "{names}"
    );

    let red = c.ok(&["-n", "shop", "get", "cm", "-l", "color=red", "-o", "name"]);
    assert_eq!(red.trim(), "configmap/a");
    let not_red = c.ok(&[
        "-n",
        "shop",
        "get",
        "cm",
        "-l",
        "color!=red,color",
        "-o",
        "name",
    ]);
    assert_eq!(not_red.trim(), "configmap/b");
    let set = c.ok(&[
        "-n",
        "shop",
        "get",
        "cm",
        "-l",
        "color in (red,blue)",
        "-o",
        "name",
    ]);
    assert_eq!(set.lines().count(), 2, "{set}");

    let by_field = c.ok(&[
        "-n",
        "shop",
        "get",
        "cm",
        "--field-selector",
        "metadata.name=b",
        "-o",
        "name",
    ]);
    assert_eq!(by_field.trim(), "configmap/b");
    let all_ns = c.ok(&[
        "get",
        "cm",
        "-A",
        "--field-selector",
        "metadata.namespace=shop",
        "-o",
        "name",
    ]);
    assert_eq!(all_ns.lines().count(), 2, "{all_ns}");

    // stringData is merged into data, base64-encoded, and not stored itself.
    c.ok_stdin(
        &["-n", "shop", "create", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: s3cret\ndata:\n  token: dG9rZW4=\n",
    );
    let secret = json(&c.ok(&["-n", "shop", "get", "secret", "s", "-o", "json"]));
    assert_eq!(secret["data"]["password"], "czNjcmV0");
    assert_eq!(secret["data"]["token"], "dG9rZW4=");
    assert!(secret.get("stringData").is_none());

    // generateName
    let gen_out = c.ok_stdin(
        &["-n", "shop", "create", "-f", "-", "-o", "name"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n",
    );
    assert!(
        gen_out.trim().starts_with("configmap/gen-")
            && gen_out.trim().len() == "configmap/gen-".len() + 5,
        "{gen_out}"
    );
}

#[test]
fn apply_twice_label_annotate_patch_replace_delete() {
    let c = TestCluster::start(&[]);
    c.ok(&["create", "namespace", "shop"]);
    apply_creates_then_leaves_then_configures(&c);
    label_annotate_patch_and_replace(&c);
    delete_by_name_label_and_namespace(&c);
}

/// `kubectl apply` creates, then leaves unchanged, then configures what changed.
fn apply_creates_then_leaves_then_configures(c: &TestCluster) {
    let first = c.ok_stdin(&["-n", "shop", "apply", "-f", "-"], MANIFEST);
    for what in [
        "configmap/app-config created",
        "secret/app-secret created",
        "service/shop created",
        "deployment.apps/shop created",
    ] {
        assert!(first.contains(what), "{first}");
    }
    let second = c.ok_stdin(&["-n", "shop", "apply", "-f", "-"], MANIFEST);
    for what in [
        "configmap/app-config unchanged",
        "secret/app-secret unchanged",
        "service/shop unchanged",
        "deployment.apps/shop unchanged",
    ] {
        assert!(second.contains(what), "{second}");
    }
    let changed = MANIFEST
        .replace("mode: production", "mode: staging")
        .replace("replicas: 2", "replicas: 3");
    let third = c.ok_stdin(&["-n", "shop", "apply", "-f", "-"], &changed);
    assert!(third.contains("configmap/app-config configured"), "{third}");
    assert!(third.contains("deployment.apps/shop configured"), "{third}");
    let dep = json(&c.ok(&["-n", "shop", "get", "deploy", "shop", "-o", "json"]));
    assert_eq!(dep["spec"]["replicas"], 3);
    assert_eq!(dep["metadata"]["generation"], 2);
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        8080
    );
    let svc = json(&c.ok(&["-n", "shop", "get", "svc", "shop", "-o", "json"]));
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.")),
        "{svc}"
    );
    let secret = json(&c.ok(&["-n", "shop", "get", "secret", "app-secret", "-o", "json"]));
    assert_eq!(secret["data"]["token"], "dG9rZW4=");
}

/// Labels, annotations, JSON and merge patches, a failed test op, replace and a stale replace.
fn label_annotate_patch_and_replace(c: &TestCluster) {
    c.ok(&["-n", "shop", "label", "cm", "app-config", "stage=two"]);
    c.ok(&["-n", "shop", "annotate", "cm", "app-config", "owner=team-a"]);
    let cm = json(&c.ok(&["-n", "shop", "get", "cm", "app-config", "-o", "json"]));
    assert_eq!(cm["metadata"]["labels"]["stage"], "two");
    assert_eq!(cm["metadata"]["annotations"]["owner"], "team-a");
    c.ok(&["-n", "shop", "label", "cm", "app-config", "stage-"]);
    let cm = json(&c.ok(&["-n", "shop", "get", "cm", "app-config", "-o", "json"]));
    assert!(cm["metadata"]["labels"].get("stage").is_none());

    c.ok(&["-n", "shop", "patch", "cm", "app-config", "--type=json", "-p", r#"[{"op":"add","path":"/data/extra","value":"1"},{"op":"replace","path":"/data/mode","value":"json"}]"#]);
    c.ok(&[
        "-n",
        "shop",
        "patch",
        "cm",
        "app-config",
        "--type=merge",
        "-p",
        r#"{"data":{"extra":null,"merged":"yes"}}"#,
    ]);
    let cm = json(&c.ok(&["-n", "shop", "get", "cm", "app-config", "-o", "json"]));
    assert_eq!(cm["data"]["mode"], "json");
    assert_eq!(cm["data"]["merged"], "yes");
    assert!(cm["data"].get("extra").is_none());
    let bad = c.fails(
        &[
            "-n",
            "shop",
            "patch",
            "cm",
            "app-config",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/data/mode","value":"nope"}]"#,
        ],
        None,
    );
    assert!(!bad.is_empty());

    let mut replaced = cm.clone();
    replaced["data"] = serde_json::json!({"replaced": "true"});
    c.ok_stdin(&["-n", "shop", "replace", "-f", "-"], &replaced.to_string());
    let cm2 = json(&c.ok(&["-n", "shop", "get", "cm", "app-config", "-o", "json"]));
    assert_eq!(cm2["data"], serde_json::json!({"replaced": "true"}));
    // A replace carrying the old resourceVersion is a conflict.
    let stale = c.fails(
        &["-n", "shop", "replace", "-f", "-"],
        Some(&replaced.to_string()),
    );
    assert!(stale.contains("the object has been modified"), "{stale}");
}

/// Deleting by name, by label, and a namespace with what is in it.
fn delete_by_name_label_and_namespace(c: &TestCluster) {
    c.ok(&["-n", "shop", "delete", "secret", "app-secret"]);
    assert!(
        c.fails(&["-n", "shop", "get", "secret", "app-secret"], None)
            .contains("NotFound")
    );
    c.ok(&["-n", "shop", "delete", "cm,svc,deploy", "-l", "app=shop"]);
    let left = c.ok(&[
        "-n",
        "shop",
        "get",
        "cm,svc,deploy",
        "-l",
        "app=shop",
        "-o",
        "name",
    ]);
    assert!(left.trim().is_empty(), "{left}");

    c.ok(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "leftover",
        "--from-literal=a=b",
    ]);
    c.ok(&["delete", "namespace", "shop", "--timeout=30s"]);
    let ns = c.kubectl(&["get", "namespace", "shop"]);
    assert!(!ns.status.success(), "namespace still there");
    assert!(
        c.fails(&["-n", "shop", "get", "cm", "leftover"], None)
            .contains("NotFound")
    );
}

#[test]
fn bounded_watch_sees_changes() {
    let c = TestCluster::start(&[]);
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args([
            "get",
            "configmaps",
            "--watch",
            "-o",
            "name",
            "-n",
            "default",
        ])
        .env("HOME", c.data_dir.join("home"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubectl get --watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Let the watch establish, then make changes it must report.
    std::thread::sleep(Duration::from_millis(500));
    c.ok(&["create", "configmap", "watched-1", "--from-literal=a=b"]);
    c.ok(&["create", "configmap", "watched-2", "--from-literal=a=b"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline
        && !(seen.iter().any(|l: &String| l.contains("watched-1"))
            && seen.iter().any(|l| l.contains("watched-2")))
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|l| l.contains("configmap/watched-1")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("configmap/watched-2")),
        "{seen:?}"
    );
}

#[test]
fn discovery_commands() {
    let c = TestCluster::start(&[]);
    let resources = c.ok(&["api-resources"]);
    for r in [
        "configmaps",
        "deployments",
        "namespaces",
        "leases",
        "customresourcedefinitions",
        "clusterroles",
    ] {
        assert!(
            resources.contains(r),
            "{r} missing from api-resources:\n{resources}"
        );
    }
    let versions = c.ok(&["api-versions"]);
    for v in [
        "v1",
        "apps/v1",
        "batch/v1",
        "rbac.authorization.k8s.io/v1",
        "coordination.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l.trim() == v),
            "{v} missing from {versions}"
        );
    }
    let version = json(&c.ok(&["version", "-o", "json"]));
    assert_eq!(version["serverVersion"]["major"], "1");
    assert_eq!(version["serverVersion"]["minor"], "33");
    assert!(
        version["serverVersion"]["gitVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.33."))
    );
}
