//! Workload verbs through the real kubectl: edit with an editor script, set image, scale
//! through the scale subresource, cascading deletes of a Deployment owning a ReplicaSet,
//! rollout restart and strategic merge patches on containers.

use std::os::unix::fs::PermissionsExt;

use crate::common::{TestCluster, json};
use crate::run::{Kubectl, wait_until};
use crate::{APP, containers, get_json};

#[test]
fn edit_saves_what_the_editor_wrote() {
    let c = TestCluster::start(&[]);
    let script = c.data_dir.join("editor.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nsed -i -e 's/mode: before/mode: edited/' -e 's/image: img:1/image: img:edited/' \"$1\"\n",
    )
    .expect("write editor");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("chmod editor");
    let editor = script.display().to_string();
    let k = Kubectl::admin(&c).env("KUBE_EDITOR", &editor);
    k.ok(&["create", "configmap", "e", "--from-literal=mode=before"]);
    k.ok_stdin(&["apply", "-f", "-"], Some(APP));
    let out = k.ok(&["edit", "configmap", "e"]);
    assert!(out.contains("configmap/e edited"), "{out}");
    assert_eq!(get_json(&k, &["get", "cm", "e"])["data"]["mode"], "edited");
    let out = k.ok(&["edit", "deployment/web"]);
    assert!(out.contains("deployment.apps/web edited"), "{out}");
    let dep = get_json(&k, &["get", "deploy", "web"]);
    assert_eq!(
        containers(&dep),
        vec![
            ("c".into(), "img:edited".into()),
            ("side".into(), "side:1".into())
        ]
    );
}

#[test]
fn set_image_and_scale_through_the_scale_subresource() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    k.ok_stdin(&["apply", "-f", "-"], Some(APP));
    let out = k.ok(&["set", "image", "deployment/web", "c=img:2"]);
    assert!(out.contains("deployment.apps/web image updated"), "{out}");
    let dep = get_json(&k, &["get", "deploy", "web"]);
    assert_eq!(
        containers(&dep),
        vec![
            ("c".into(), "img:2".into()),
            ("side".into(), "side:1".into())
        ]
    );
    let out = k.ok(&["scale", "deployment/web", "--replicas=5"]);
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    assert_eq!(
        get_json(&k, &["get", "deploy", "web"])["spec"]["replicas"],
        5
    );
    let scale = json(&k.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
    ]));
    assert_eq!(scale["kind"], "Scale", "{scale}");
    assert_eq!(scale["apiVersion"], "autoscaling/v1", "{scale}");
    assert_eq!(scale["spec"]["replicas"], 5, "{scale}");
    assert_eq!(scale["status"]["selector"], "app=web", "{scale}");
}

/// Creates Deployment `name` and a ReplicaSet `<name>-rs` it controls (optionally held by a
/// finalizer), as the deployment controller would.
fn deployment_with_replicaset(k: &Kubectl, name: &str, hold: bool) {
    let dep = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "img:1"}]}}}
    });
    k.ok_stdin(&["create", "-f", "-"], Some(&dep.to_string()));
    let uid = get_json(k, &["get", "deploy", name])["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let mut rs = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("{name}-rs"), "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "img:1"}]}}}
    });
    if hold {
        rs["metadata"]["finalizers"] = serde_json::json!(["example.com/hold"]);
    }
    k.ok_stdin(&["create", "-f", "-"], Some(&rs.to_string()));
}

fn exists(k: &Kubectl, args: &[&str]) -> bool {
    k.run(args, None).status.success()
}

#[test]
fn delete_deployment_with_foreground_cascade() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    // Waiting delete: when kubectl returns, the ReplicaSet is already gone.
    deployment_with_replicaset(&k, "quick", false);
    k.ok(&[
        "delete",
        "deployment",
        "quick",
        "--cascade=foreground",
        "--timeout=30s",
    ]);
    assert!(!exists(&k, &["get", "deploy", "quick"]));
    assert!(!exists(&k, &["get", "rs", "quick-rs"]));

    // A held ReplicaSet keeps its owner in the foregroundDeletion state.
    deployment_with_replicaset(&k, "fg", true);
    k.ok(&[
        "delete",
        "deployment",
        "fg",
        "--cascade=foreground",
        "--wait=false",
    ]);
    wait_until("ReplicaSet marked for deletion", || {
        get_json(&k, &["get", "rs", "fg-rs"])["metadata"]["deletionTimestamp"].is_string()
    });
    let dep = get_json(&k, &["get", "deploy", "fg"]);
    assert!(dep["metadata"]["deletionTimestamp"].is_string(), "{dep}");
    assert!(
        dep["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion")),
        "{dep}"
    );
    k.ok(&[
        "patch",
        "rs",
        "fg-rs",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_until("deployment gone after its ReplicaSet", || {
        !exists(&k, &["get", "deploy", "fg"])
    });
    assert!(!exists(&k, &["get", "rs", "fg-rs"]));
}

#[test]
fn delete_deployment_with_orphan_cascade() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    deployment_with_replicaset(&k, "or", false);
    k.ok(&[
        "delete",
        "deployment",
        "or",
        "--cascade=orphan",
        "--timeout=30s",
    ]);
    assert!(!exists(&k, &["get", "deploy", "or"]));
    let rs = get_json(&k, &["get", "rs", "or-rs"]);
    let refs = rs["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(refs.is_empty(), "owner reference removed: {rs}");
    assert!(rs["metadata"]["deletionTimestamp"].is_null(), "{rs}");
}

#[test]
fn rollout_restart_sets_restarted_at() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    k.ok_stdin(&["apply", "-f", "-"], Some(APP));
    let out = k.ok(&["rollout", "restart", "deployment/web"]);
    assert!(out.contains("deployment.apps/web restarted"), "{out}");
    let dep = get_json(&k, &["get", "deploy", "web"]);
    let at =
        &dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    assert!(at.as_str().is_some_and(|t| t.contains('T')), "{dep}");
    assert_eq!(dep["metadata"]["generation"], 2, "{dep}");
    assert_eq!(containers(&dep).len(), 2, "the patch kept both containers");
}

#[test]
fn strategic_patch_merges_containers_by_name() {
    let c = TestCluster::start(&[]);
    let k = Kubectl::admin(&c);
    k.ok_stdin(&["apply", "-f", "-"], Some(APP));
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[
            {"name":"side","image":"side:2"},
            {"name":"c","env":[{"name":"NEW","value":"3"}]},
            {"name":"extra","image":"extra:1"}]}}}}"#,
    ]);
    let dep = get_json(&k, &["get", "deploy", "web"]);
    let got = containers(&dep);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains(&("c".into(), "img:1".into())), "{got:?}");
    assert!(got.contains(&("side".into(), "side:2".into())), "{got:?}");
    assert!(got.contains(&("extra".into(), "extra:1".into())), "{got:?}");
    let c0 = dep["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "c"))
        .cloned()
        .expect("container c");
    let env: Vec<&str> = c0["env"]
        .as_array()
        .map(|e| e.iter().filter_map(|v| v["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(env.len(), 3, "env merged by name: {env:?}");
    for name in ["KEEP", "DROP", "NEW"] {
        assert!(env.contains(&name), "{env:?}");
    }
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"extra","$patch":"delete"}]}}}}"#,
    ]);
    let dep = get_json(&k, &["get", "deploy", "web"]);
    let names: Vec<String> = containers(&dep).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(!names.contains(&"extra".to_string()), "{names:?}");
}
