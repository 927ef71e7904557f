//! kube-apiserver's RBAC escalation prevention on the embedded cluster (issue 11, must-show 3),
//! checked with the real `kubectl` acting as ServiceAccounts that hold some but not all
//! permissions: a role may only be written with rules its author holds (or with `escalate`),
//! a binding only to a role whose rules its author holds (or with `bind` on that role), and
//! every refusal changes nothing.

mod common;

use common::{TestCluster, json};

const NS: &str = "esc";

/// A ServiceAccount in `NS` holding exactly `rules` there (through a Role and RoleBinding made
/// by the admin), and a token for it.
fn service_account(c: &TestCluster, name: &str, rules: serde_json::Value) -> String {
    c.ok(&["create", "serviceaccount", name, "-n", NS]);
    let role = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": format!("{name}-rights"), "namespace": NS},
        "rules": rules,
    });
    c.ok_stdin(&["apply", "-f", "-"], &role.to_string());
    c.ok(&[
        "create",
        "rolebinding",
        &format!("{name}-rights"),
        "-n",
        NS,
        &format!("--role={name}-rights"),
        &format!("--serviceaccount={NS}:{name}"),
    ]);
    c.ok(&["create", "token", name, "-n", NS])
        .trim()
        .to_string()
}

/// Runs kubectl as the holder of `token` (the admin kubeconfig's server and CA, its token
/// replaced).
fn as_sa(c: &TestCluster, token: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--token", token];
    all.extend_from_slice(args);
    c.kubectl(&all)
}

fn assert_forbidden_escalation(out: &std::process::Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} succeeded");
    assert!(
        err.contains("is forbidden")
            && err.contains("is attempting to grant RBAC permissions not currently held"),
        "{what}: {err}"
    );
}

/// The names of the objects of `kind` in `NS`, as the admin sees them.
fn names(c: &TestCluster, kind: &str) -> Vec<String> {
    let v = json(&c.ok(&["get", kind, "-n", NS, "-o", "json"]));
    let mut out: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

#[test]
fn escalation_is_refused_unless_held_or_granted() {
    let c = TestCluster::start(&[]);
    c.ok(&["create", "namespace", NS]);
    binder_cannot_bind_what_it_does_not_hold(&c);
    roler_cannot_grant_what_it_does_not_hold(&c);
    named_binder_binds_only_what_bind_names(&c);
    escalator_may_write_any_role(&c);
    // The admin (system:masters) is not limited.
    c.ok(&[
        "create",
        "clusterrolebinding",
        "admin-can",
        "--clusterrole=cluster-admin",
        "--user=anyone",
    ]);
}

/// binder may create rolebindings (and read them), nothing else.
fn binder_cannot_bind_what_it_does_not_hold(c: &TestCluster) {
    // binder: may create rolebindings (and read them), nothing else.
    let binder = service_account(
        c,
        "binder",
        serde_json::json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create", "get", "list"]}]),
    );
    let bindings_before = names(c, "rolebindings");
    let out = as_sa(
        c,
        &binder,
        &[
            "create",
            "rolebinding",
            "grab-admin",
            "-n",
            NS,
            "--clusterrole=cluster-admin",
            &format!("--serviceaccount={NS}:binder"),
        ],
    );
    assert_forbidden_escalation(&out, "binding cluster-admin with create rolebindings only");
    assert_eq!(
        names(c, "rolebindings"),
        bindings_before,
        "a refused binding was stored"
    );
    // A role whose rules binder holds may be bound.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "read-bindings", "namespace": NS},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["get", "list"]}]})
        .to_string(),
    );
    let out = as_sa(
        c,
        &binder,
        &[
            "create",
            "rolebinding",
            "fine",
            "-n",
            NS,
            "--role=read-bindings",
            "--user=someone",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A role that does not exist cannot be bound without `bind`: NotFound, nothing stored.
    let out = as_sa(
        c,
        &binder,
        &[
            "create",
            "rolebinding",
            "ghost",
            "-n",
            NS,
            "--role=no-such-role",
            "--user=someone",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not found"), "{err}");
    assert!(!names(c, "rolebindings").contains(&"ghost".to_string()));
}

/// roler may create, get and patch roles; nothing else.
fn roler_cannot_grant_what_it_does_not_hold(c: &TestCluster) {
    // roler: may create, get and patch roles; nothing else.
    let roler = service_account(
        c,
        "roler",
        serde_json::json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create", "get", "list", "patch", "update"]}]),
    );
    let roles_before = names(c, "roles");
    let out = as_sa(
        c,
        &roler,
        &[
            "create",
            "role",
            "everything",
            "-n",
            NS,
            "--verb=*",
            "--resource=*.*",
        ],
    );
    assert_forbidden_escalation(&out, "a */*/* Role with create roles only");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#)
    );
    assert_eq!(names(c, "roles"), roles_before);
    // Within its own rules it may create a role ...
    let out = as_sa(
        c,
        &roler,
        &[
            "create",
            "role",
            "within",
            "-n",
            NS,
            "--verb=get,list",
            "--resource=roles.rbac.authorization.k8s.io",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = c.ok(&["get", "role", "within", "-n", NS, "-o", "json"]);
    // ... but not widen it afterwards.
    let out = as_sa(
        c,
        &roler,
        &[
            "patch",
            "role",
            "within",
            "-n",
            NS,
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}}]"#,
        ],
    );
    assert_forbidden_escalation(&out, "widening a role by patch");
    assert_eq!(
        c.ok(&["get", "role", "within", "-n", NS, "-o", "json"]),
        before
    );
}

/// named-binder may create rolebindings and `bind` exactly one ClusterRole.
fn named_binder_binds_only_what_bind_names(c: &TestCluster) {
    // named-binder: may create rolebindings and `bind` exactly the ClusterRole `view`.
    let named = service_account(
        c,
        "named-binder",
        serde_json::json!([
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["view"]}
        ]),
    );
    let out = as_sa(
        c,
        &named,
        &[
            "create",
            "rolebinding",
            "viewers",
            "-n",
            NS,
            "--clusterrole=view",
            "--user=someone",
        ],
    );
    assert!(
        out.status.success(),
        "bind view: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_sa(
        c,
        &named,
        &[
            "create",
            "rolebinding",
            "editors",
            "-n",
            NS,
            "--clusterrole=edit",
            "--user=someone",
        ],
    );
    assert_forbidden_escalation(&out, "binding edit with bind on view only");
    assert!(!names(c, "rolebindings").contains(&"editors".to_string()));
}

/// escalator may `escalate` roles, so any Role goes — in its namespace only.
fn escalator_may_write_any_role(c: &TestCluster) {
    // escalator: may `escalate` roles, so any Role goes.
    let escalator = service_account(
        c,
        "escalator",
        serde_json::json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create", "escalate"]}]),
    );
    let out = as_sa(
        c,
        &escalator,
        &[
            "create",
            "role",
            "everything",
            "-n",
            NS,
            "--verb=*",
            "--resource=*.*",
        ],
    );
    assert!(
        out.status.success(),
        "escalate: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Cluster scope: rights in a namespace do not count for a ClusterRole.
    let out = as_sa(
        c,
        &escalator,
        &[
            "create",
            "clusterrole",
            "mine",
            "--verb=get",
            "--resource=roles.rbac.authorization.k8s.io",
        ],
    );
    assert!(!out.status.success(), "a ClusterRole from namespace rights");
    assert!(c.kubectl(&["get", "clusterrole", "mine"]).status.code() != Some(0));
}
