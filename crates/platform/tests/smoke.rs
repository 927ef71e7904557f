//! First vertical slice: start, admin login, users, workspaces, projects, proxy.
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertical_slice() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let (s, me) = c.get(&format!("{IAM}/users/admin"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert!(me["spec"].get("password").is_none());
    assert_eq!(me["status"]["passwordChangeRequired"], json!(true));
    create_user(c, &admin, "alice").await;
    create_workspace(c, &admin, "wa", "alice").await;
    let alice = c.login("alice", USER_PW).await;
    create_project(c, &alice, "wa", "pa").await;
    let (s, v) = c.get(&format!("{TENANT}/workspaces"), &alice).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["wa"]);
    let (s, v) = c.get("/api/v1/namespaces/pa/configmaps", &alice).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = c
        .get("/api/v1/namespaces/kube-system/configmaps", &alice)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let _ = Method::GET;
}
