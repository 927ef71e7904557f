//! Members at every level, roles, templates, aggregation and access reviews.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_at_every_level() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    for u in ["x", "y"] {
        create_user(c, &admin, u).await;
    }
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    for (base, role, role2, ann) in [
        (
            format!("{IAM}/workspaces/w/workspacemembers"),
            "w-viewer",
            "w-admin",
            "iam.kubesphere.io/workspacerole",
        ),
        (
            format!("{IAM}/namespaces/p/namespacemembers"),
            "viewer",
            "operator",
            "iam.kubesphere.io/role",
        ),
        (
            format!("{IAM}/clustermembers"),
            "cluster-viewer",
            "cluster-admin",
            "iam.kubesphere.io/clusterrole",
        ),
    ] {
        let added = c
            .ok(
                Method::POST,
                &base,
                &admin,
                Some(
                    json!([{"username": "x", "roleRef": role}, {"username": "y", "roleRef": role}]),
                ),
            )
            .await;
        assert_eq!(added.as_array().map(Vec::len), Some(2), "{added}");
        let v = c
            .ok(
                Method::GET,
                &format!("{base}?sortBy=name&ascending=true"),
                &admin,
                None,
            )
            .await;
        assert!(
            names(&v).contains(&"x".to_string()) && names(&v).contains(&"y".to_string()),
            "{base}: {v}"
        );
        let v = c.ok(Method::GET, &format!("{base}/x"), &admin, None).await;
        assert_eq!(v["metadata"]["annotations"][ann], role, "{base}");
        let v = c
            .ok(
                Method::PUT,
                &format!("{base}/x"),
                &admin,
                Some(json!({"username": "x", "roleRef": role2})),
            )
            .await;
        assert_eq!(v["roleRef"], role2);
        let v = c.ok(Method::GET, &format!("{base}/x"), &admin, None).await;
        assert_eq!(
            v["metadata"]["annotations"][ann], role2,
            "one role per member at a level"
        );
        c.ok(Method::DELETE, &format!("{base}/y"), &admin, None)
            .await;
        let (s, _) = c.get(&format!("{base}/y"), &admin).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{base}");
        let (s, _) = c
            .post(
                &base,
                &admin,
                json!([{"username": "ghost", "roleRef": role}]),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{base}");
        let (s, _) = c
            .post(
                &base,
                &admin,
                json!([{"username": "y", "roleRef": "no-such-role"}]),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{base}");
        let (s, _) = c.post(&base, &admin, json!({"username": "y"})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{base}");
    }
    short_workspace_role_names(&admin, c).await;
}

/// Short workspace role names are accepted; x, now workspace admin, manages members there but not cluster members.
async fn short_workspace_role_names(admin: &str, c: &Client) {
    // Short workspace role names are accepted.
    add_member(
        c,
        admin,
        &format!("{IAM}/workspaces/w/workspacemembers"),
        "y",
        "regular",
    )
    .await;
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/workspaces/w/workspacemembers/y"),
            admin,
            None,
        )
        .await;
    assert_eq!(
        v["metadata"]["annotations"]["iam.kubesphere.io/workspacerole"],
        "w-regular"
    );
    // x is now workspace admin: manages members there, but not cluster members.
    let x = c.login("x", USER_PW).await;
    c.ok(
        Method::DELETE,
        &format!("{IAM}/workspaces/w/workspacemembers/y"),
        &x,
        None,
    )
    .await;
    let (s, _) = c.get(&format!("{IAM}/clustermembers"), &x).await;
    assert_eq!(s, StatusCode::OK, "x is cluster-admin now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_templates_aggregation_and_reviews() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/roletemplates?labelSelector=iam.kubesphere.io%2Fscope%3Dnamespace"),
            &admin,
            None,
        )
        .await;
    assert!(v["totalItems"].as_u64().unwrap_or(0) >= 5, "{v}");
    assert!(
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|t| t["spec"]["displayName"]["zh"].is_string()
                && t["spec"]["displayName"]["en"].is_string())
    );
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{IAM}/globalroles"), &admin, None)
                .await
        ),
        [
            "platform-admin",
            "platform-regular",
            "platform-self-provisioner"
        ]
    );
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{IAM}/clusterroles"), &admin, None)
                .await
        ),
        ["cluster-admin", "cluster-viewer"]
    );
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    assert_eq!(
        names(
            &c.ok(
                Method::GET,
                &format!("{IAM}/workspaces/w/workspaceroles"),
                &admin,
                None
            )
            .await
        ),
        ["w-admin", "w-regular", "w-self-provisioner", "w-viewer"]
    );
    let auditor = aggregation_from_templates(&admin, c).await;
    roles_written_to_the_cluster(&admin, c, &env).await;
    workspace_and_namespace_roles(&admin, c).await;
    level_templates(&admin, c, &auditor).await;
    subject_access_review(&admin, c, &auditor).await;
    self_reviews(c, &auditor).await;
}

/// A custom role aggregated from templates gets their rules, now and when they change.
async fn aggregation_from_templates(admin: &str, c: &Client) -> String {
    // A custom role aggregated from templates gets their rules, now and when they change.
    let body = json!({"metadata": {"name": "users-viewer"}, "aggregationRoleTemplates": {"templateNames": ["global-users-view"]}});
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/globalroles"),
            admin,
            Some(body),
        )
        .await;
    assert_eq!(v["rules"][0]["resources"][0], "users", "{v}");
    create_user(c, admin, "auditor").await;
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/auditor"),
        admin,
        Some(
            json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": "users-viewer"}}}),
        ),
    )
    .await;
    let auditor = c.login("auditor", USER_PW).await;
    let (s, _) = c.get(&format!("{IAM}/users"), &auditor).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.delete(&format!("{IAM}/users/admin"), &auditor).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let body = json!({"aggregationRoleTemplates": {"templateNames": ["global-users-view", "global-workspaces-view"]}});
    let v = c
        .ok(
            Method::PUT,
            &format!("{IAM}/globalroles/users-viewer"),
            admin,
            Some(body),
        )
        .await;
    assert_eq!(v["rules"].as_array().map(Vec::len), Some(2));
    auditor
}

/// The controller keeps a role written straight to the cluster in step too.
async fn roles_written_to_the_cluster(admin: &str, c: &Client, env: &Env) {
    // The controller keeps a role written straight to the cluster in step too.
    let kube = env.kube().await;
    let api = platform::kinds::Kind::Role.api(&kube, Some("p"));
    let role: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "Role",
        "metadata": {"name": "cm-editor", "namespace": "p"},
        "aggregationRoleTemplates": {"templateNames": ["namespace-config-manage"]},
    }))
    .expect("role");
    api.create(&Default::default(), &role)
        .await
        .expect("create role");
    // The platform reads roles from its watch-fed cache: wait for the role to show up there,
    // filled by the aggregation controller.
    eventually("the aggregation controller filled the rules", || async {
        let (s, v) = c
            .get(&format!("{IAM}/namespaces/p/roles/cm-editor"), admin)
            .await;
        s == StatusCode::OK && v["rules"].as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
}

/// Workspace and namespace role CRUD.
async fn workspace_and_namespace_roles(admin: &str, c: &Client) {
    // Workspace and namespace role CRUD.
    let v = c.ok(Method::POST, &format!("{IAM}/workspaces/w/workspaceroles"), admin, Some(json!({"metadata": {"name": "w-custom"}, "rules": [{"apiGroups": ["*"], "resources": ["namespaces"], "verbs": ["get"]}]}))).await;
    assert_eq!(v["metadata"]["labels"]["kubesphere.io/workspace"], "w");
    c.ok(
        Method::DELETE,
        &format!("{IAM}/workspaces/w/workspaceroles/w-custom"),
        admin,
        None,
    )
    .await;
    let (s, _) = c
        .get(
            &format!("{IAM}/workspaces/w/workspaceroles/w-custom"),
            admin,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    c.ok(
        Method::DELETE,
        &format!("{IAM}/namespaces/p/roles/cm-editor"),
        admin,
        None,
    )
    .await;
}

/// The templates of a workspace's or project's roles, readable by those who build them there.
async fn level_templates(admin: &str, c: &Client, auditor: &str) {
    let scopes = |v: &serde_json::Value| -> Vec<String> {
        let mut s: Vec<String> = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                t["metadata"]["labels"]["iam.kubesphere.io/scope"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        s.dedup();
        s
    };
    let ws_templates = format!("{IAM}/workspaces/w/roletemplates");
    let (s, _) = c.get(&ws_templates, auditor).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not a member of w");
    c.ok(
        Method::POST,
        &format!("{IAM}/workspaces/w/workspacemembers"),
        admin,
        Some(json!([{"username": "auditor", "roleRef": "w-admin"}])),
    )
    .await;
    let v = c.ok(Method::GET, &ws_templates, auditor, None).await;
    assert_eq!(scopes(&v), ["workspace"], "{v}");
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/namespaces/p/roletemplates"),
            admin,
            None,
        )
        .await;
    assert_eq!(scopes(&v), ["namespace"], "{v}");
    c.ok(
        Method::DELETE,
        &format!("{IAM}/workspaces/w/workspacemembers/auditor"),
        admin,
        None,
    )
    .await;
}

/// SubjectAccessReview.
async fn subject_access_review(admin: &str, c: &Client, auditor: &str) {
    // SubjectAccessReview.
    let sar = |user: &str, verb: &str, resource: &str, ns: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": {"verb": verb, "group": "", "resource": resource, "namespace": ns}}})
    };
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/subjectaccessreviews"),
            admin,
            Some(sar("auditor", "list", "pods", "p")),
        )
        .await;
    assert_eq!(v["status"]["allowed"], false);
    add_member(
        c,
        admin,
        &format!("{IAM}/namespaces/p/namespacemembers"),
        "auditor",
        "viewer",
    )
    .await;
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/subjectaccessreviews"),
            admin,
            Some(sar("auditor", "list", "pods", "p")),
        )
        .await;
    assert_eq!(v["status"]["allowed"], true);
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/subjectaccessreviews"),
            admin,
            Some(sar("auditor", "delete", "pods", "p")),
        )
        .await;
    assert_eq!(v["status"]["allowed"], false);
    let (s, _) = c
        .post(
            &format!("{IAM}/subjectaccessreviews"),
            auditor,
            sar("admin", "list", "pods", "p"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Self reviews through the native paths.
async fn self_reviews(c: &Client, auditor: &str) {
    // Self reviews through the native paths.
    let v = c
        .ok(
            Method::POST,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            auditor,
            Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
        )
        .await;
    assert_eq!(v["status"]["userInfo"]["username"], "auditor");
    let ssar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": {"verb": "get", "resource": "configmaps", "namespace": "p"}}});
    let v = c
        .ok(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            auditor,
            Some(ssar),
        )
        .await;
    assert_eq!(v["status"]["allowed"], true);
    let v = c
        .ok(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            auditor,
            Some(json!({"spec": {"namespace": "p"}})),
        )
        .await;
    assert!(
        v["status"]["resourceRules"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{v}"
    );
}
