//! End-to-end tests of every platform route over HTTP (in-process host cluster + platform).
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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
        (StatusCode::UNAUTHORIZED, Some("invalid_grant"))
    );
    let (s, v) = c.token("nobody", "WrongPassw0rd").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_grant"))
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
    // Refresh tokens work once.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
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
        StatusCode::UNAUTHORIZED,
        "a refresh token is single-use"
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
    let (s, _) = c.get(&format!("{IAM}/users"), &access).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_crud_list_conventions_and_self_service() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    // Password policy on create.
    let weak = json!({"metadata": {"name": "weak"}, "spec": {"password": "short"}});
    let (s, v) = c.post(&format!("{IAM}/users"), &admin, weak).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = c
        .post(
            &format!("{IAM}/users"),
            &admin,
            json!({"metadata": {"name": "Bad_Name"}, "spec": {"password": USER_PW}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for (i, n) in ["u1", "u2", "u3", "u4", "u5"].iter().enumerate() {
        let body = json!({"metadata": {"name": n, "labels": {"team": if i % 2 == 0 { "red" } else { "blue" }}}, "spec": {"password": USER_PW, "email": format!("{n}@x.io")}});
        c.ok(Method::POST, &format!("{IAM}/users"), &admin, Some(body))
            .await;
    }
    let (s, _) = c
        .post(
            &format!("{IAM}/users"),
            &admin,
            json!({"metadata": {"name": "u1"}, "spec": {"password": USER_PW}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/users?sortBy=name&ascending=true&limit=2&page=2"),
            &admin,
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
            &admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["u1", "u3", "u5"]);
    let v = c
        .ok(Method::GET, &format!("{IAM}/users?name=u4"), &admin, None)
        .await;
    assert_eq!(names(&v), ["u4"]);
    assert!(
        v["items"][0]["spec"].get("password").is_none(),
        "hashes never leave the platform"
    );
    let (s, _) = c.get(&format!("{IAM}/users?page=0"), &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Self-service: a regular user reads and edits their own profile, nothing else.
    let u1 = c.login("u1", USER_PW).await;
    let (s, v) = c.get(&format!("{IAM}/users/u1"), &u1).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = c.get(&format!("{IAM}/users/u2"), &u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get(&format!("{IAM}/users"), &u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let body = json!({"spec": {"displayName": "User One", "lang": "zh"}, "metadata": {"annotations": {"iam.kubesphere.io/globalrole": "platform-admin"}}});
    let v = c
        .ok(Method::PUT, &format!("{IAM}/users/u1"), &u1, Some(body))
        .await;
    assert_eq!(v["spec"]["displayName"], "User One");
    assert!(
        v["metadata"]["annotations"]["iam.kubesphere.io/globalrole"].is_null(),
        "self-service cannot grant roles: {v}"
    );
    let (s, _) = c.get(&format!("{IAM}/users"), &u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.delete(&format!("{IAM}/users/u1"), &u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The admin grants a global role through the annotation.
    let body =
        json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": "platform-admin"}}});
    c.ok(Method::PUT, &format!("{IAM}/users/u2"), &admin, Some(body))
        .await;
    let u2 = c.login("u2", USER_PW).await;
    let (s, _) = c.get(&format!("{IAM}/users"), &u2).await;
    assert_eq!(s, StatusCode::OK);
    // Password change: own change needs the current password; old tokens die.
    let (s, _) = c
        .put(
            &format!("{IAM}/users/u1/password"),
            &u1,
            json!({"currentPassword": "Wrong0ne", "password": "NewPassw0rd"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c
        .put(
            &format!("{IAM}/users/u1/password"),
            &u1,
            json!({"currentPassword": USER_PW, "password": "weak"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/u1/password"),
        &u1,
        Some(json!({"currentPassword": USER_PW, "password": "NewPassw0rd"})),
    )
    .await;
    let (s, _) = c.get(&format!("{IAM}/users/u1"), &u1).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "password change revokes tokens"
    );
    let (s, _) = c.token("u1", USER_PW).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let u1 = c.login("u1", "NewPassw0rd").await;
    // Login records.
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/users/u1/loginrecords"),
            &u1,
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
    // Tokens: kubeconfig download, list, revoke.
    let r = c
        .inner
        .get(format!(
            "{}/kapis/resources.kubesphere.io/v1alpha2/users/u1/kubeconfig",
            c.base
        ))
        .bearer_auth(&u1)
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
        .ok(Method::GET, &format!("{IAM}/users/u1/tokens"), &u1, None)
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
            &u1,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get(&format!("{IAM}/users/u1"), &kc_token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = c.get(&format!("{IAM}/users/u2/tokens"), &u1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Disabling revokes tokens and blocks login; delete removes the user.
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/u1"),
        &admin,
        Some(json!({"status": {"state": "Disabled"}})),
    )
    .await;
    let (s, _) = c.get(&format!("{IAM}/users/u1"), &u1).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = c.token("u1", "NewPassw0rd").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_grant"))
    );
    c.ok(Method::DELETE, &format!("{IAM}/users/u3"), &admin, None)
        .await;
    let (s, _) = c.get(&format!("{IAM}/users/u3"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

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
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), &admin, None)
                .await
        ),
        ["system-workspace", "w1", "w2"]
    );
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), &m, None)
                .await
        ),
        ["w1"]
    );
    assert_eq!(
        names(
            &c.ok(
                Method::GET,
                &format!("{TENANT}/workspaces"),
                &outsider,
                None
            )
            .await
        ),
        Vec::<String>::new()
    );
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces?limit=1&page=2&sortBy=name&ascending=true"),
            &admin,
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
            &admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["w2"]);
    let (s, _) = c.get(&format!("{TENANT}/workspaces/w1"), &m).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get(&format!("{TENANT}/workspaces/w1"), &outsider).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/w1/clusters"),
            &m,
            None,
        )
        .await;
    assert_eq!(names(&v), ["host"]);
    // Projects.
    create_project(c, &m, "w1", "p1").await;
    let (s, v) = c
        .post(
            &format!("{TENANT}/workspaces/w1/namespaces"),
            &m,
            json!({"metadata": {"name": "Not_Valid"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = c
        .post(
            &format!("{TENANT}/workspaces/w1/namespaces"),
            &outsider,
            json!({"metadata": {"name": "evil"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let ns = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/w1/namespaces/p1"),
            &m,
            None,
        )
        .await;
    assert_eq!(ns["metadata"]["labels"]["kubesphere.io/workspace"], "w1");
    let ns = c
        .ok(Method::GET, "/api/v1/namespaces/p1", &admin, None)
        .await;
    assert_eq!(
        ns["metadata"]["labels"]["kubesphere.io/workspace"], "w1",
        "the platform created a real namespace"
    );
    let roles = c
        .ok(Method::GET, &format!("{IAM}/namespaces/p1/roles"), &m, None)
        .await;
    assert_eq!(names(&roles), ["admin", "operator", "viewer"]);
    let (s, _) = c
        .get(&format!("{TENANT}/workspaces/w2/namespaces/p1"), &admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        names(
            &c.ok(
                Method::GET,
                &format!("{TENANT}/workspaces/w1/namespaces"),
                &m,
                None
            )
            .await
        ),
        ["p1"]
    );
    // A workspace regular sees only the projects they joined.
    add_member(
        c,
        &admin,
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
                &r,
                None
            )
            .await
        ),
        Vec::<String>::new()
    );
    add_member(
        c,
        &m,
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
                &r,
                None
            )
            .await
        ),
        ["p1"]
    );
    let (s, _) = c
        .get(&format!("{TENANT}/workspaces/w1/namespaces"), &outsider)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Deleting.
    let (s, _) = c
        .delete(&format!("{TENANT}/workspaces/w1/namespaces/p1"), &r)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.ok(
        Method::DELETE,
        &format!("{TENANT}/workspaces/w1/namespaces/p1"),
        &m,
        None,
    )
    .await;
    let (s, _) = c
        .delete(
            &format!("{TENANT}/workspacetemplates/system-workspace"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.ok(
        Method::DELETE,
        &format!("{TENANT}/workspacetemplates/w2"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        names(
            &c.ok(Method::GET, &format!("{TENANT}/workspaces"), &admin, None)
                .await
        ),
        ["system-workspace", "w1"]
    );
    // A self-provisioner creates their own workspace and manages it.
    c.ok(Method::PUT, &format!("{IAM}/users/outsider"), &admin, Some(json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": "platform-self-provisioner"}}}))).await;
    let body = json!({"metadata": {"name": "own"}, "spec": {"template": {"spec": {}}}});
    let v = c
        .ok(
            Method::POST,
            &format!("{TENANT}/workspacetemplates"),
            &outsider,
            Some(body),
        )
        .await;
    assert_eq!(v["spec"]["template"]["spec"]["manager"], "outsider");
    create_project(c, &outsider, "own", "own-p").await;
    assert_eq!(
        names(
            &c.ok(
                Method::GET,
                &format!("{TENANT}/workspaces"),
                &outsider,
                None
            )
            .await
        ),
        ["own"]
    );
}

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
    // Short workspace role names are accepted.
    add_member(
        c,
        &admin,
        &format!("{IAM}/workspaces/w/workspacemembers"),
        "y",
        "regular",
    )
    .await;
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/workspaces/w/workspacemembers/y"),
            &admin,
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
    // A custom role aggregated from templates gets their rules, now and when they change.
    let body = json!({"metadata": {"name": "users-viewer"}, "aggregationRoleTemplates": {"templateNames": ["global-users-view"]}});
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/globalroles"),
            &admin,
            Some(body),
        )
        .await;
    assert_eq!(v["rules"][0]["resources"][0], "users", "{v}");
    create_user(c, &admin, "auditor").await;
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/auditor"),
        &admin,
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
            &admin,
            Some(body),
        )
        .await;
    assert_eq!(v["rules"].as_array().map(Vec::len), Some(2));
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
    let mut filled = false;
    for _ in 0..50 {
        let v = c
            .ok(
                Method::GET,
                &format!("{IAM}/namespaces/p/roles/cm-editor"),
                &admin,
                None,
            )
            .await;
        if v["rules"].as_array().is_some_and(|r| !r.is_empty()) {
            filled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(filled, "aggregation controller filled the rules");
    // Workspace and namespace role CRUD.
    let v = c.ok(Method::POST, &format!("{IAM}/workspaces/w/workspaceroles"), &admin, Some(json!({"metadata": {"name": "w-custom"}, "rules": [{"apiGroups": ["*"], "resources": ["namespaces"], "verbs": ["get"]}]}))).await;
    assert_eq!(v["metadata"]["labels"]["kubesphere.io/workspace"], "w");
    c.ok(
        Method::DELETE,
        &format!("{IAM}/workspaces/w/workspaceroles/w-custom"),
        &admin,
        None,
    )
    .await;
    let (s, _) = c
        .get(
            &format!("{IAM}/workspaces/w/workspaceroles/w-custom"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    c.ok(
        Method::DELETE,
        &format!("{IAM}/namespaces/p/roles/cm-editor"),
        &admin,
        None,
    )
    .await;
    // SubjectAccessReview.
    let sar = |user: &str, verb: &str, resource: &str, ns: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": {"verb": verb, "group": "", "resource": resource, "namespace": ns}}})
    };
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/subjectaccessreviews"),
            &admin,
            Some(sar("auditor", "list", "pods", "p")),
        )
        .await;
    assert_eq!(v["status"]["allowed"], false);
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/p/namespacemembers"),
        "auditor",
        "viewer",
    )
    .await;
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/subjectaccessreviews"),
            &admin,
            Some(sar("auditor", "list", "pods", "p")),
        )
        .await;
    assert_eq!(v["status"]["allowed"], true);
    let v = c
        .ok(
            Method::POST,
            &format!("{IAM}/subjectaccessreviews"),
            &admin,
            Some(sar("auditor", "delete", "pods", "p")),
        )
        .await;
    assert_eq!(v["status"]["allowed"], false);
    let (s, _) = c
        .post(
            &format!("{IAM}/subjectaccessreviews"),
            &auditor,
            sar("admin", "list", "pods", "p"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Self reviews through the native paths.
    let v = c
        .ok(
            Method::POST,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &auditor,
            Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
        )
        .await;
    assert_eq!(v["status"]["userInfo"]["username"], "auditor");
    let ssar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": {"verb": "get", "resource": "configmaps", "namespace": "p"}}});
    let v = c
        .ok(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &auditor,
            Some(ssar),
        )
        .await;
    assert_eq!(v["status"]["allowed"], true);
    let v = c
        .ok(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            &auditor,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_proxy_crud_and_watch() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "dev").await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/p/namespacemembers"),
        "dev",
        "operator",
    )
    .await;
    let dev = c.login("dev", USER_PW).await;
    // Discovery is open to every user.
    for p in ["/api", "/apis", "/api/v1", "/version"] {
        let (s, _) = c.get(p, &dev).await;
        assert_eq!(s, StatusCode::OK, "{p}");
    }
    // A watch stream through the proxy sees a write.
    let watch = c
        .inner
        .get(format!(
            "{}/api/v1/namespaces/p/configmaps?watch=true",
            c.base
        ))
        .bearer_auth(&dev)
        .send()
        .await
        .expect("watch");
    assert_eq!(watch.status(), StatusCode::OK);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"}, "data": {"k": "v"}});
    let (s, v) = c.post("/api/v1/namespaces/p/configmaps", &dev, cm).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut stream = watch.bytes_stream();
    use futures::StreamExt;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains("cm1") {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("watch ended before the event: {other:?} {seen}"),
        }
    }
    assert!(seen.contains("\"ADDED\""), "{seen}");
    // Update and delete pass through; the answer is the host's.
    let v = c
        .ok(
            Method::GET,
            "/api/v1/namespaces/p/configmaps/cm1",
            &dev,
            None,
        )
        .await;
    assert_eq!(v["data"]["k"], "v");
    let (s, v) = c.call(Method::PUT, "/api/v1/namespaces/p/configmaps/cm1", Some(&dev), Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1", "resourceVersion": "1"}, "data": {}}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["kind"], "Status");
    let (s, _) = c.delete("/api/v1/namespaces/p/configmaps/cm1", &dev).await;
    assert_eq!(s, StatusCode::OK);
    // Elsewhere: a Kubernetes-shaped 403.
    let (s, v) = c
        .get("/api/v1/namespaces/kube-system/configmaps", &dev)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str(), v["code"].as_u64()),
        (Some("Status"), Some("Forbidden"), Some(403))
    );
    let (s, _) = c
        .get("/api/v1/watch/namespaces/kube-system/configmaps", &dev)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get("/api/v1/configmaps?watch=1", &dev).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get("/api/v1/nodes", &dev).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
