//! The isolation matrix: users holding each built-in role at each level against every route
//! family (platform REST, native proxy, watch). Each call is allowed or denied exactly as the
//! role says; nothing of workspace `b` is reachable from a role in workspace `a`.
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const USERS: [&str; 11] = [
    "padmin",
    "pregular",
    "wsadmin",
    "wsregular",
    "wsself",
    "wsviewer",
    "nsadmin",
    "nsoperator",
    "nsviewer",
    "cadmin",
    "cviewer",
];

struct Case {
    what: &'static str,
    method: Method,
    /// `{u}` is replaced by the caller's name (for creates).
    path: &'static str,
    body: Option<fn(&str) -> Value>,
    allowed: &'static [&'static str],
}

fn cm(u: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{u}")}})
}
fn project_a(u: &str) -> Value {
    json!({"metadata": {"name": format!("pa-{u}")}})
}
fn project_b(u: &str) -> Value {
    json!({"metadata": {"name": format!("pb-{u}")}})
}
fn member(_: &str) -> Value {
    json!([{"username": "dummy", "roleRef": "viewer"}])
}
fn ns_member(_: &str) -> Value {
    json!([{"username": "dummy", "roleRef": "viewer"}])
}

const NS_READERS: &[&str] = &[
    "padmin",
    "wsadmin",
    "wsviewer",
    "nsadmin",
    "nsoperator",
    "nsviewer",
    "cadmin",
    "cviewer",
];
const NS_WRITERS: &[&str] = &["padmin", "wsadmin", "nsadmin", "nsoperator", "cadmin"];
const CLUSTER_READERS: &[&str] = &["padmin", "cadmin", "cviewer"];
const ONLY_ADMIN: &[&str] = &["padmin"];
const WS_MEMBERS: &[&str] = &["padmin", "wsadmin", "wsregular", "wsself", "wsviewer"];
/// Who reads a workspace's own resources (its admins and viewers).
const WS_READERS: &[&str] = &["padmin", "wsadmin", "wsviewer"];

// A data table (one entry per request and who may make it), read top to bottom.
#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let get = Method::GET;
    let post = Method::POST;
    let mut cases = vec![
        Case {
            what: "REST get own workspace",
            method: get.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a",
            body: None,
            allowed: WS_MEMBERS,
        },
        Case {
            what: "REST get other workspace",
            method: get.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b",
            body: None,
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST workspace template b",
            method: get.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates/b",
            body: None,
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST list members a",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/workspaces/a/workspacemembers",
            body: None,
            allowed: &["padmin", "wsadmin", "wsregular", "wsviewer"],
        },
        Case {
            what: "REST list members b",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/workspaces/b/workspacemembers",
            body: None,
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST add member a",
            method: post.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/workspaces/a/workspacemembers",
            body: Some(member),
            allowed: &["padmin", "wsadmin"],
        },
        Case {
            what: "REST add member b",
            method: post.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/workspaces/b/workspacemembers",
            body: Some(member),
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST workspace roles b",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/workspaces/b/workspaceroles",
            body: None,
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST create project in a",
            method: post.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a/namespaces",
            body: Some(project_a),
            allowed: &["padmin", "wsadmin", "wsself"],
        },
        Case {
            what: "REST create project in b",
            method: post.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b/namespaces",
            body: Some(project_b),
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST list projects a",
            method: get.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a/namespaces",
            body: None,
            allowed: &[
                "padmin",
                "wsadmin",
                "wsregular",
                "wsself",
                "wsviewer",
                "nsadmin",
                "nsoperator",
                "nsviewer",
            ],
        },
        Case {
            what: "REST list projects b",
            method: get.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b/namespaces",
            body: None,
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST b's project through a's path",
            method: get.clone(),
            path: "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a/namespaces/b-p",
            body: None,
            allowed: &[],
        },
        Case {
            what: "REST namespace members a-p",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/namespaces/a-p/namespacemembers",
            body: None,
            allowed: NS_READERS,
        },
        Case {
            what: "REST namespace members b-p",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/namespaces/b-p/namespacemembers",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "REST add namespace member a-p",
            method: post.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/namespaces/a-p/namespacemembers",
            body: Some(ns_member),
            allowed: &["padmin", "wsadmin", "nsadmin", "cadmin"],
        },
        Case {
            what: "REST roles b-p",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/namespaces/b-p/roles",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "REST users",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/users",
            body: None,
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST global roles",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/globalroles",
            body: None,
            allowed: ONLY_ADMIN,
        },
        Case {
            what: "REST cluster members",
            method: get.clone(),
            path: "/kapis/iam.kubesphere.io/v1beta1/clustermembers",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "native list configmaps a-p",
            method: get.clone(),
            path: "/api/v1/namespaces/a-p/configmaps",
            body: None,
            allowed: NS_READERS,
        },
        Case {
            what: "native list configmaps b-p",
            method: get.clone(),
            path: "/api/v1/namespaces/b-p/configmaps",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "native get secret-like object b-p",
            method: get.clone(),
            path: "/api/v1/namespaces/b-p/configmaps/seed",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "native create configmap a-p",
            method: post.clone(),
            path: "/api/v1/namespaces/a-p/configmaps",
            body: Some(cm),
            allowed: NS_WRITERS,
        },
        Case {
            what: "native create configmap b-p",
            method: post.clone(),
            path: "/api/v1/namespaces/b-p/configmaps",
            body: Some(cm),
            allowed: &["padmin", "cadmin"],
        },
        Case {
            what: "native delete configmap b-p",
            method: Method::DELETE,
            path: "/api/v1/namespaces/b-p/configmaps/cm-{u}",
            body: None,
            allowed: &["padmin", "cadmin"],
        },
        Case {
            what: "native get namespace b-p",
            method: get.clone(),
            path: "/api/v1/namespaces/b-p",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "native list all configmaps",
            method: get.clone(),
            path: "/api/v1/configmaps",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "native list nodes",
            method: get.clone(),
            path: "/api/v1/nodes",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "watch configmaps a-p",
            method: get.clone(),
            path: "/api/v1/namespaces/a-p/configmaps?watch=true&timeoutSeconds=1",
            body: None,
            allowed: NS_READERS,
        },
        Case {
            what: "watch configmaps b-p",
            method: get.clone(),
            path: "/api/v1/namespaces/b-p/configmaps?watch=true&timeoutSeconds=1",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "watch path form b-p",
            method: get.clone(),
            path: "/api/v1/watch/namespaces/b-p/configmaps?timeoutSeconds=1",
            body: None,
            allowed: CLUSTER_READERS,
        },
        Case {
            what: "watch all namespaces",
            method: get.clone(),
            path: "/api/v1/configmaps?watch=true&timeoutSeconds=1",
            body: None,
            allowed: CLUSTER_READERS,
        },
    ];
    // Observability (issue 16): each level as listing its pods (monitoring), reading its rule
    // groups (alerts) or auditing in its workspace; the platform-wide events and auditing
    // queries answer everyone (narrowed by their handlers).
    for (what, path, allowed) in [
        (
            "monitoring project a",
            "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/a-p",
            NS_READERS,
        ),
        (
            "monitoring project b",
            "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/b-p",
            CLUSTER_READERS,
        ),
        (
            "PromQL in project a",
            "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/a-p/targets/query?expr=up",
            NS_READERS,
        ),
        (
            "PromQL in project b",
            "/kapis/monitoring.kubesphere.io/v1alpha3/namespaces/b-p/targets/query?expr=up",
            CLUSTER_READERS,
        ),
        (
            "PromQL of the cluster",
            "/kapis/monitoring.kubesphere.io/v1alpha3/targets/query?expr=up",
            CLUSTER_READERS,
        ),
        (
            "monitoring cluster",
            "/kapis/monitoring.kubesphere.io/v1alpha3/cluster",
            CLUSTER_READERS,
        ),
        (
            "monitoring workspace a",
            "/kapis/monitoring.kubesphere.io/v1alpha3/workspaces/a",
            WS_READERS,
        ),
        (
            "monitoring workspace b",
            "/kapis/monitoring.kubesphere.io/v1alpha3/workspaces/b",
            ONLY_ADMIN,
        ),
        (
            "alerts project a",
            "/kapis/alerting.kubesphere.io/v2beta1/namespaces/a-p/alerts",
            NS_READERS,
        ),
        (
            "alerts project b",
            "/kapis/alerting.kubesphere.io/v2beta1/namespaces/b-p/alerts",
            CLUSTER_READERS,
        ),
        (
            "alerts of the cluster",
            "/kapis/alerting.kubesphere.io/v2beta1/alerts",
            CLUSTER_READERS,
        ),
        (
            "platform alerts",
            "/kapis/alerting.kubesphere.io/v2beta1/globalalerts",
            ONLY_ADMIN,
        ),
        (
            "auditing workspace a",
            "/kapis/tenant.kubesphere.io/v1alpha2/workspaces/a/auditing/events",
            WS_READERS,
        ),
        (
            "auditing workspace b",
            "/kapis/tenant.kubesphere.io/v1alpha2/workspaces/b/auditing/events",
            ONLY_ADMIN,
        ),
        (
            "auditing platform-wide",
            "/kapis/tenant.kubesphere.io/v1alpha2/auditing/events",
            &USERS,
        ),
        (
            "events across clusters",
            "/kapis/tenant.kubesphere.io/v1alpha2/events",
            &USERS,
        ),
    ] {
        cases.push(Case {
            what,
            method: get.clone(),
            path,
            body: None,
            allowed,
        });
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_at_every_level_against_every_route_family() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    tenants_and_members(c, &admin).await;
    let mut tokens = Vec::new();
    for u in USERS {
        tokens.push((u, c.login(u, USER_PW).await));
    }
    every_case_for_every_user(c, &tokens).await;
    // Lists never leak the other workspace.
    let wsadmin = &tokens[2].1;
    let v = c
        .ok(Method::GET, &format!("{TENANT}/workspaces"), wsadmin, None)
        .await;
    assert_eq!(names(&v), ["a"]);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/a/namespaces"),
            wsadmin,
            None,
        )
        .await;
    assert!(!names(&v).contains(&"b-p".to_string()));
    let nsviewer = &tokens[8].1;
    let v = c
        .ok(Method::GET, &format!("{TENANT}/workspaces"), nsviewer, None)
        .await;
    assert_eq!(
        names(&v),
        ["a"],
        "a project member sees the project's workspace only"
    );
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/a/namespaces"),
            nsviewer,
            None,
        )
        .await;
    assert_eq!(names(&v), ["a-p"]);
}

/// Users, workspaces a and b with a project each, and a member at every level of a.
async fn tenants_and_members(c: &Client, admin: &str) {
    for u in USERS.iter().chain(&["dummy"]) {
        create_user(c, admin, u).await;
    }
    create_workspace(c, admin, "a", "admin").await;
    create_workspace(c, admin, "b", "admin").await;
    create_project(c, admin, "a", "a-p").await;
    create_project(c, admin, "b", "b-p").await;
    for ns in ["a-p", "b-p"] {
        c.ok(
            Method::POST,
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            admin,
            Some(json!({"metadata": {"name": "seed"}})),
        )
        .await;
    }
    let set_global = |u: &'static str, role: &'static str| {
        let admin = admin.to_string();
        async move {
            c.ok(
                Method::PUT,
                &format!("{IAM}/users/{u}"),
                &admin,
                Some(json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": role}}})),
            )
            .await;
        }
    };
    set_global("padmin", "platform-admin").await;
    set_global("pregular", "platform-regular").await;
    for (u, role) in [
        ("wsadmin", "a-admin"),
        ("wsregular", "a-regular"),
        ("wsself", "a-self-provisioner"),
        ("wsviewer", "a-viewer"),
    ] {
        add_member(
            c,
            admin,
            &format!("{IAM}/workspaces/a/workspacemembers"),
            u,
            role,
        )
        .await;
    }
    for (u, role) in [
        ("nsadmin", "admin"),
        ("nsoperator", "operator"),
        ("nsviewer", "viewer"),
    ] {
        add_member(
            c,
            admin,
            &format!("{IAM}/namespaces/a-p/namespacemembers"),
            u,
            role,
        )
        .await;
    }
    for (u, role) in [("cadmin", "cluster-admin"), ("cviewer", "cluster-viewer")] {
        add_member(c, admin, &format!("{IAM}/clustermembers"), u, role).await;
    }
}

/// Every case of [`cases`] for every user: allowed exactly when the case lists the user.
async fn every_case_for_every_user(c: &Client, tokens: &[(&str, String)]) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        for (u, token) in tokens {
            let path = case.path.replace("{u}", u);
            let body = case.body.map(|f| f(u));
            let mut req = c
                .inner
                .request(case.method.clone(), format!("{}{}", c.base, path))
                .bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.expect("send");
            let status = resp.status();
            drop(resp);
            let expect_allowed = case.allowed.contains(u);
            let ok = if expect_allowed {
                status.is_success()
            } else {
                status == StatusCode::FORBIDDEN || (case.allowed.is_empty() && !status.is_success())
            };
            checked += 1;
            if !ok {
                failures.push(format!(
                    "{:<40} {:<11} expected {} got {status}",
                    case.what,
                    u,
                    if expect_allowed { "allowed" } else { "403" }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
