//! Finalizers, ownerReference garbage collection (background, foreground, orphan) and the
//! namespace lifecycle (issue: everything kubectl, controllers and CRDs expect, must-show 3).

mod common;

use std::time::{Duration, Instant};

use common::{TestCluster, json};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the object `args` get names exists: true on success, false on NotFound; any
/// other failure (the server down, a typo) fails the test instead of reading as "gone".
fn exists(c: &TestCluster, args: &[&str]) -> bool {
    let out = c.kubectl(args);
    if out.status.success() {
        return true;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "kubectl {args:?} failed for another reason than NotFound: {err}"
    );
    false
}

/// Creates an owner ConfigMap and `n` dependent ConfigMaps pointing at it.
fn owner_with_dependents(c: &TestCluster, owner: &str, n: usize, block: bool) {
    c.ok(&["create", "configmap", owner]);
    let uid = json(&c.ok(&["get", "cm", owner, "-o", "json"]))["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..n {
        let dep = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{owner}-dep-{i}"), "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid, "blockOwnerDeletion": block}
            ]}
        });
        c.ok_stdin(&["create", "-f", "-"], &dep.to_string());
    }
}

#[test]
fn background_deletion_collects_dependents() {
    let c = TestCluster::start(&[]);
    owner_with_dependents(&c, "bg", 3, false);
    c.ok(&["delete", "cm", "bg"]);
    wait_until("dependents collected", || {
        (0..3).all(|i| !exists(&c, &["get", "cm", &format!("bg-dep-{i}")]))
    });
}

#[test]
fn foreground_deletion_waits_for_dependents() {
    let c = TestCluster::start(&[]);
    owner_with_dependents(&c, "fg", 2, true);
    // A dependent with a finalizer holds the owner in the foreground.
    c.ok(&[
        "patch",
        "cm",
        "fg-dep-0",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    c.ok(&["delete", "cm", "fg", "--cascade=foreground", "--wait=false"]);
    wait_until("fg-dep-1 deleted", || {
        !exists(&c, &["get", "cm", "fg-dep-1"])
    });
    let owner = json(&c.ok(&["get", "cm", "fg", "-o", "json"]));
    assert!(
        owner["metadata"]["deletionTimestamp"].is_string(),
        "owner is terminating"
    );
    assert!(
        owner["metadata"]["finalizers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "foregroundDeletion")
    );
    let held = json(&c.ok(&["get", "cm", "fg-dep-0", "-o", "json"]));
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    c.ok(&[
        "patch",
        "cm",
        "fg-dep-0",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_until("owner deleted after its dependents", || {
        !exists(&c, &["get", "cm", "fg"])
    });
    assert!(!exists(&c, &["get", "cm", "fg-dep-0"]));
}

#[test]
fn orphan_deletion_keeps_dependents() {
    let c = TestCluster::start(&[]);
    owner_with_dependents(&c, "or", 2, true);
    c.ok(&["delete", "cm", "or", "--cascade=orphan"]);
    wait_until("owner gone", || !exists(&c, &["get", "cm", "or"]));
    for i in 0..2 {
        let dep = json(&c.ok(&["get", "cm", &format!("or-dep-{i}"), "-o", "json"]));
        assert!(
            dep["metadata"].get("ownerReferences").is_none(),
            "owner reference removed: {dep}"
        );
    }
}

#[test]
fn finalizer_holds_deletion_until_removed() {
    let c = TestCluster::start(&[]);
    c.ok_stdin(&["create", "-f", "-"], r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/wait"]}}"#);
    c.ok(&["delete", "cm", "held", "--wait=false"]);
    let obj = json(&c.ok(&["get", "cm", "held", "-o", "json"]));
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    // Deleting again changes nothing; the object stays until the finalizer goes.
    c.ok(&["delete", "cm", "held", "--wait=false"]);
    assert!(exists(&c, &["get", "cm", "held"]));
    c.ok(&[
        "patch",
        "cm",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    wait_until("held deleted", || !exists(&c, &["get", "cm", "held"]));
}

#[test]
fn namespace_terminates_after_its_contents() {
    let c = TestCluster::start(&[]);
    c.ok(&["create", "namespace", "doomed"]);
    c.ok_stdin(&["-n", "doomed", "create", "-f", "-"], r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sticky","finalizers":["example.com/wait"]}}"#);
    c.ok(&["-n", "doomed", "create", "configmap", "plain"]);
    c.ok(&["delete", "namespace", "doomed", "--wait=false"]);
    wait_until("plain content removed", || {
        !exists(&c, &["-n", "doomed", "get", "cm", "plain"])
    });
    let ns = json(&c.ok(&["get", "ns", "doomed", "-o", "json"]));
    assert_eq!(ns["status"]["phase"], "Terminating");
    let err = c.fails(&["-n", "doomed", "create", "configmap", "late"], None);
    assert!(err.contains("being terminated"), "{err}");
    c.ok(&[
        "-n",
        "doomed",
        "patch",
        "cm",
        "sticky",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_until("namespace gone", || !exists(&c, &["get", "ns", "doomed"]));
}
