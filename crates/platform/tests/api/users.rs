//! Users: CRUD, list conventions, self-service, passwords, tokens, kubeconfig.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_crud_list_conventions_and_self_service() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    password_policy_on_create(&admin, c).await;
    let u1 = c.login("u1", USER_PW).await;
    self_service_and_global_roles(&admin, c, &u1).await;
    let u2 = c.login("u2", USER_PW).await;
    u2_sees_the_list(c, &u2).await;
    password_change(c, &u1).await;
    let u1 = c.login("u1", "NewPassw0rd").await;
    login_records(c, &u1).await;
    tokens(c, &u1).await;
    disable_and_delete(&admin, c, &u1).await;
}

/// Password policy on create, and the list conventions.
async fn password_policy_on_create(admin: &str, c: &Client) {
    // Password policy on create.
    let weak = json!({"metadata": {"name": "weak"}, "spec": {"password": "short"}});
    let (s, v) = c.post(&format!("{IAM}/users"), admin, weak).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = c
        .post(
            &format!("{IAM}/users"),
            admin,
            json!({"metadata": {"name": "Bad_Name"}, "spec": {"password": USER_PW}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for (i, n) in ["u1", "u2", "u3", "u4", "u5"].iter().enumerate() {
        let body = json!({"metadata": {"name": n, "labels": {"team": if i % 2 == 0 { "red" } else { "blue" }}}, "spec": {"password": USER_PW, "email": format!("{n}@x.io")}});
        c.ok(Method::POST, &format!("{IAM}/users"), admin, Some(body))
            .await;
    }
    let (s, _) = c
        .post(
            &format!("{IAM}/users"),
            admin,
            json!({"metadata": {"name": "u1"}, "spec": {"password": USER_PW}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/users?sortBy=name&ascending=true&limit=2&page=2"),
            admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 6);
    let got: Vec<&str> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["metadata"]["name"].as_str())
        .collect();
    assert_eq!(got, ["u2", "u3"]);
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/users?labelSelector=team%3Dred"),
            admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["u1", "u3", "u5"]);
    let v = c
        .ok(Method::GET, &format!("{IAM}/users?name=u4"), admin, None)
        .await;
    assert_eq!(names(&v), ["u4"]);
    assert!(
        v["items"][0]["spec"].get("password").is_none(),
        "hashes never leave the platform"
    );
    let (s, _) = c.get(&format!("{IAM}/users?page=0"), admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// Self-service: a regular user reads and edits their own profile, nothing else; the admin grants a global role through the annotation.
async fn self_service_and_global_roles(admin: &str, c: &Client, u1: &str) {
    // Self-service: a regular user reads and edits their own profile, nothing else.
    let (s, v) = c.get(&format!("{IAM}/users/u1"), u1).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = c.get(&format!("{IAM}/users/u2"), u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get(&format!("{IAM}/users"), u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let body = json!({"spec": {"displayName": "User One", "lang": "zh"}, "metadata": {"annotations": {"iam.kubesphere.io/globalrole": "platform-admin"}}});
    let v = c
        .ok(Method::PUT, &format!("{IAM}/users/u1"), u1, Some(body))
        .await;
    assert_eq!(v["spec"]["displayName"], "User One");
    assert!(
        v["metadata"]["annotations"]["iam.kubesphere.io/globalrole"].is_null(),
        "self-service cannot grant roles: {v}"
    );
    let (s, _) = c.get(&format!("{IAM}/users"), u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.delete(&format!("{IAM}/users/u1"), u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The admin grants a global role through the annotation.
    let body =
        json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": "platform-admin"}}});
    c.ok(Method::PUT, &format!("{IAM}/users/u2"), admin, Some(body))
        .await;
}

/// A platform regular may list users.
async fn u2_sees_the_list(c: &Client, u2: &str) {
    let (s, _) = c.get(&format!("{IAM}/users"), u2).await;
    assert_eq!(s, StatusCode::OK);
}

/// Password change: own change needs the current password; old tokens die.
async fn password_change(c: &Client, u1: &str) {
    // Password change: own change needs the current password; old tokens die.
    let (s, _) = c
        .put(
            &format!("{IAM}/users/u1/password"),
            u1,
            json!({"currentPassword": "Wrong0ne", "password": "NewPassw0rd"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c
        .put(
            &format!("{IAM}/users/u1/password"),
            u1,
            json!({"currentPassword": USER_PW, "password": "weak"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/u1/password"),
        u1,
        Some(json!({"currentPassword": USER_PW, "password": "NewPassw0rd"})),
    )
    .await;
    let (s, _) = c.get(&format!("{IAM}/users/u1"), u1).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "password change revokes tokens"
    );
    let (s, _) = c.token("u1", USER_PW).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "the old password is an invalid grant"
    );
}

/// Login records.
async fn login_records(c: &Client, u1: &str) {
    // Login records.
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/users/u1/loginrecords"),
            u1,
            None,
        )
        .await;
    let total = v["totalItems"].as_u64().unwrap_or(0);
    assert!(total >= 3, "{v}");
    assert!(
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["spec"]["success"] == json!(false))
    );
}

/// Tokens: kubeconfig download, list, revoke.
async fn tokens(c: &Client, u1: &str) {
    // Tokens: kubeconfig download, list, revoke.
    let r = c
        .inner
        .get(format!(
            "{}/kapis/resources.kubesphere.io/v1alpha2/users/u1/kubeconfig",
            c.base
        ))
        .bearer_auth(u1)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let kubeconfig = r.text().await.unwrap_or_default();
    assert!(
        kubeconfig.contains(&format!("server: {}", c.base.replace("http:", "https:")))
            && kubeconfig.contains("certificate-authority-data: "),
        "{kubeconfig}"
    );
    let kc_token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap_or_default()
        .to_string();
    let (s, _) = c.get(&format!("{IAM}/users/u1"), &kc_token).await;
    assert_eq!(s, StatusCode::OK);
    let v = c
        .ok(Method::GET, &format!("{IAM}/users/u1/tokens"), u1, None)
        .await;
    let kc = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["type"] == "kubeconfig")
        .cloned()
        .expect("kubeconfig token listed");
    let (s, _) = c
        .delete(
            &format!(
                "{IAM}/users/u1/tokens/{}",
                kc["id"].as_str().unwrap_or_default()
            ),
            u1,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get(&format!("{IAM}/users/u1"), &kc_token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = c.get(&format!("{IAM}/users/u2/tokens"), u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Disabling revokes tokens and blocks login; delete removes the user.
async fn disable_and_delete(admin: &str, c: &Client, u1: &str) {
    // Disabling revokes tokens and blocks login; delete removes the user.
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/u1"),
        admin,
        Some(json!({"status": {"state": "Disabled"}})),
    )
    .await;
    let (s, _) = c.get(&format!("{IAM}/users/u1"), u1).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = c.token("u1", "NewPassw0rd").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    c.ok(Method::DELETE, &format!("{IAM}/users/u3"), admin, None)
        .await;
    let (s, _) = c.get(&format!("{IAM}/users/u3"), admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
