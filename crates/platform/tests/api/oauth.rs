//! OAuth grants, refresh, logout, anonymous and Basic access.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_grants_refresh_logout_and_anonymous() {
    let env = Env::start().await;
    let c = &env.http;
    let (s, v) = c.token("admin", ADMIN_PW).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 7200);
    let access = v["access_token"].as_str().unwrap_or_default().to_string();
    let refresh = v["refresh_token"].as_str().unwrap_or_default().to_string();
    refused_grants(c).await;
    refresh_once_and_logout(&access, c, &refresh).await;
    anonymous(c).await;
    basic_auth(c).await;
}

/// Wrong client, wrong password, bad grant.
async fn refused_grants(c: &Client) {
    // Wrong client, wrong password, bad grant.
    let r = c
        .inner
        .post(format!("{}/oauth/token", c.base))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PW),
            ("client_id", "kubesphere"),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );
    let (s, v) = c.token("admin", "WrongPassw0rd").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, v) = c.token("nobody", "WrongPassw0rd").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let r = c
        .inner
        .post(format!("{}/oauth/token", c.base))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "unsupported_grant_type"
    );
}

/// Refresh tokens work once; logout revokes the session (both tokens of it).
async fn refresh_once_and_logout(access: &str, c: &Client, refresh: &str) {
    // Refresh tokens work once.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", "kubesphere"),
        ("client_secret", "kubesphere"),
    ];
    let r = c
        .inner
        .post(format!("{}/oauth/token", c.base))
        .form(&refresh_form)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let renewed: Value = r.json().await.expect("json");
    let access2 = renewed["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(access2, access);
    let r = c
        .inner
        .post(format!("{}/oauth/token", c.base))
        .form(&refresh_form)
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a refresh token is single-use (400 invalid_grant)"
    );
    let (s, _) = c.get(&format!("{IAM}/users"), &access2).await;
    assert_eq!(s, StatusCode::OK);
    // Logout revokes the session (both tokens of it).
    let r = c
        .inner
        .get(format!("{}/oauth/logout", c.base))
        .bearer_auth(&access2)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let (s, _) = c.get(&format!("{IAM}/users"), &access2).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = c.get(&format!("{IAM}/users"), access).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Anonymous: health and version only.
async fn anonymous(c: &Client) {
    // Anonymous: health and version only.
    for p in ["/healthz", "/version", "/readyz"] {
        let (s, _) = c.call(Method::GET, p, None, None).await;
        assert_eq!(s, StatusCode::OK, "{p}");
    }
    for p in [
        format!("{IAM}/users"),
        "/api/v1/namespaces".to_string(),
        "/api".to_string(),
        format!("{TENANT}/workspaces"),
    ] {
        let (s, _) = c.call(Method::GET, &p, None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{p}");
    }
    let (s, _) = c.get("/api/v1/namespaces", "garbage.token.here").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// HTTP Basic (kubectl with username/password).
async fn basic_auth(c: &Client) {
    // HTTP Basic (kubectl with username/password).
    let r = c
        .inner
        .get(format!("{}/api/v1/namespaces", c.base))
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .inner
        .get(format!("{}/api/v1/namespaces", c.base))
        .basic_auth("admin", Some("bad"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
