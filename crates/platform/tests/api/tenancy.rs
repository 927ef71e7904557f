//! Workspace templates, workspaces, placement and projects.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_projects_and_placement() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    for u in ["m", "r", "outsider"] {
        create_user(c, &admin, u).await;
    }
    create_workspace(c, &admin, "w1", "m").await;
    create_workspace(c, &admin, "w2", "admin").await;
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspacetemplates"),
            &admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["system-workspace", "w1", "w2"]);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspacetemplates/w1"),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["spec"]["placement"]["clusters"][0]["name"], "host");
    let body = json!({"metadata": {"annotations": {"kubesphere.io/description": "first"}}, "spec": {"template": {"spec": {"manager": "m"}}, "placement": {"clusters": [{"name": "host"}]}}});
    let v = c
        .ok(
            Method::PUT,
            &format!("{TENANT}/workspacetemplates/w1"),
            &admin,
            Some(body),
        )
        .await;
    assert_eq!(
        v["metadata"]["annotations"]["kubesphere.io/description"],
        "first"
    );
    let (m, r, outsider) = (
        c.login("m", USER_PW).await,
        c.login("r", USER_PW).await,
        c.login("outsider", USER_PW).await,
    );
    workspace_visibility(&admin, c, &m, &outsider).await;
    projects(&admin, c, &m, &outsider).await;
    regulars_see_joined_projects(&admin, c, &m, &outsider, &r).await;
    deleting(&admin, c, &m, &r).await;
    self_provisioner(&admin, c, &outsider).await;
}

/// Each sees the workspaces they belong to, and their clusters.
async fn workspace_visibility(admin: &str, c: &Client, m: &str, outsider: &str) {
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), admin, None)
                .await
        ),
        ["system-workspace", "w1", "w2"]
    );
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), m, None)
                .await
        ),
        ["w1"]
    );
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), outsider, None)
                .await
        ),
        Vec::<String>::new()
    );
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces?limit=1&page=2&sortBy=name&ascending=true"),
            admin,
            None,
        )
        .await;
    assert_eq!(
        (v["totalItems"].as_u64(), names(&v)),
        (Some(3), vec!["w1".to_string()])
    );
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces?name=w2"),
            admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["w2"]);
    let (s, _) = c.get(&format!("{TENANT}/workspaces/w1"), m).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get(&format!("{TENANT}/workspaces/w1"), outsider).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/w1/clusters"),
            m,
            None,
        )
        .await;
    assert_eq!(names(&v), ["host"]);
}

/// Projects: created in a workspace, listed, labelled and guarded.
async fn projects(admin: &str, c: &Client, m: &str, outsider: &str) {
    // Projects.
    create_project(c, m, "w1", "p1").await;
    let (s, v) = c
        .post(
            &format!("{TENANT}/workspaces/w1/namespaces"),
            m,
            json!({"metadata": {"name": "Not_Valid"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = c
        .post(
            &format!("{TENANT}/workspaces/w1/namespaces"),
            outsider,
            json!({"metadata": {"name": "evil"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let ns = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/w1/namespaces/p1"),
            m,
            None,
        )
        .await;
    assert_eq!(ns["metadata"]["labels"]["kubesphere.io/workspace"], "w1");
    let ns = c
        .ok(Method::GET, "/api/v1/namespaces/p1", admin, None)
        .await;
    assert_eq!(
        ns["metadata"]["labels"]["kubesphere.io/workspace"], "w1",
        "the platform created a real namespace"
    );
    let roles = c
        .ok(Method::GET, &format!("{IAM}/namespaces/p1/roles"), m, None)
        .await;
    assert_eq!(names(&roles), ["admin", "operator", "viewer"]);
    let (s, _) = c
        .get(&format!("{TENANT}/workspaces/w2/namespaces/p1"), admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        names(
            &c.ok(
                Method::GET,
                &format!("{TENANT}/workspaces/w1/namespaces"),
                m,
                None
            )
            .await
        ),
        ["p1"]
    );
}

/// A workspace regular sees only the projects they joined.
async fn regulars_see_joined_projects(admin: &str, c: &Client, m: &str, outsider: &str, r: &str) {
    // A workspace regular sees only the projects they joined.
    add_member(
        c,
        admin,
        &format!("{IAM}/workspaces/w1/workspacemembers"),
        "r",
        "w1-regular",
    )
    .await;
    assert_eq!(
        names(
            &c.ok(
                Method::GET,
                &format!("{TENANT}/workspaces/w1/namespaces"),
                r,
                None
            )
            .await
        ),
        Vec::<String>::new()
    );
    add_member(
        c,
        m,
        &format!("{IAM}/namespaces/p1/namespacemembers"),
        "r",
        "viewer",
    )
    .await;
    assert_eq!(
        names(
            &c.ok(
                Method::GET,
                &format!("{TENANT}/workspaces/w1/namespaces"),
                r,
                None
            )
            .await
        ),
        ["p1"]
    );
    let (s, _) = c
        .get(&format!("{TENANT}/workspaces/w1/namespaces"), outsider)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Deleting projects and workspaces.
async fn deleting(admin: &str, c: &Client, m: &str, r: &str) {
    // Deleting.
    let (s, _) = c
        .delete(&format!("{TENANT}/workspaces/w1/namespaces/p1"), r)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.ok(
        Method::DELETE,
        &format!("{TENANT}/workspaces/w1/namespaces/p1"),
        m,
        None,
    )
    .await;
    let (s, _) = c
        .delete(
            &format!("{TENANT}/workspacetemplates/system-workspace"),
            admin,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.ok(
        Method::DELETE,
        &format!("{TENANT}/workspacetemplates/w2"),
        admin,
        None,
    )
    .await;
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), admin, None)
                .await
        ),
        ["system-workspace", "w1"]
    );
}

/// A self-provisioner creates their own workspace and manages it.
async fn self_provisioner(admin: &str, c: &Client, outsider: &str) {
    // A self-provisioner creates their own workspace and manages it.
    c.ok(Method::PUT, &format!("{IAM}/users/outsider"), admin, Some(json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": "platform-self-provisioner"}}}))).await;
    let body = json!({"metadata": {"name": "own"}, "spec": {"template": {"spec": {}}}});
    let v = c
        .ok(
            Method::POST,
            &format!("{TENANT}/workspacetemplates"),
            outsider,
            Some(body),
        )
        .await;
    assert_eq!(v["spec"]["template"]["spec"]["manager"], "outsider");
    create_project(c, outsider, "own", "own-p").await;
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), outsider, None)
                .await
        ),
        ["own"]
    );
}
