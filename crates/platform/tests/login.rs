//! Login protection, login records, the admin's first password, token revocation across
//! replicas and leader election.
mod common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_after_failures_unlocks_later_and_records_every_attempt() {
    let env = Env::start_with(|c| {
        c.lockout_threshold = 3;
        c.lockout_duration = Duration::from_secs(2);
    })
    .await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "bob").await;
    for _ in 0..2 {
        let (s, v) = c.token("bob", "WrongPassw0rd").await;
        assert_eq!(
            (s, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    let (s, v) = c.token("bob", "WrongPassw0rd").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "third failure locks: {v}");
    let (s, _) = c.token("bob", USER_PW).await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password is refused while locked"
    );
    let v = c
        .ok(Method::GET, &format!("{IAM}/users/bob"), &admin, None)
        .await;
    assert_eq!(v["status"]["state"], "AuthLimitExceeded");
    // The lock lifts by itself (the leader's controller flips the state back).
    eventually("bob unlocked", || async {
        c.ok(Method::GET, &format!("{IAM}/users/bob"), &admin, None)
            .await["status"]["state"]
            == "Active"
    })
    .await;
    let bob = c.login("bob", USER_PW).await;
    let v = c
        .ok(Method::GET, &format!("{IAM}/users/bob"), &bob, None)
        .await;
    assert!(v["status"]["lastLoginTime"].is_string(), "{v}");
    // One failure after the unlock does not lock again (old failures no longer count).
    let (s, _) = c.token("bob", "WrongPassw0rd").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let records = c
        .ok(
            Method::GET,
            &format!("{IAM}/users/bob/loginrecords?sortBy=createTime"),
            &admin,
            None,
        )
        .await;
    let items = records["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 6, "{records}");
    assert_eq!(
        items
            .iter()
            .filter(|r| r["spec"]["success"] == json!(true))
            .count(),
        1
    );
    for r in &items {
        assert_eq!(r["metadata"]["labels"]["iam.kubesphere.io/user-ref"], "bob");
        assert_eq!(r["spec"]["sourceIP"], "127.0.0.1");
        assert!(r["spec"]["type"].is_string() && r["spec"]["reason"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_login_records_are_pruned() {
    let env = Env::start_with(|c| {
        c.login_record_ttl = Duration::from_secs(1);
        c.prune_period = Duration::from_millis(300);
    })
    .await;
    env.admin().await;
    let kube = env.kube().await;
    let api = platform::kinds::Kind::LoginRecord.api(&kube, None);
    assert!(
        !api.list(&Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    eventually("records pruned", || async {
        api.list(&Default::default())
            .await
            .map(|l| l.items.is_empty())
            .unwrap_or(false)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_must_change_initial_password_and_policy_holds() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let v = c
        .ok(Method::GET, &format!("{IAM}/users/admin"), &admin, None)
        .await;
    assert_eq!(
        v["metadata"]["annotations"]["iam.kubesphere.io/uninitialized"],
        "true"
    );
    assert_eq!(v["status"]["passwordChangeRequired"], true);
    // The API keeps working for the uninitialized admin.
    create_user(c, &admin, "someone").await;
    for bad in [
        "Sh0rt",
        "alllowercase1",
        "ALLUPPERCASE1",
        "NoDigitsHere",
        &format!("A1{}", "a".repeat(63)),
    ] {
        let (s, v) = c
            .put(
                &format!("{IAM}/users/admin/password"),
                &admin,
                json!({"currentPassword": ADMIN_PW, "password": bad}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/admin/password"),
        &admin,
        Some(json!({"currentPassword": ADMIN_PW, "password": "Changed1Passw0rd"})),
    )
    .await;
    let admin = c.login("admin", "Changed1Passw0rd").await;
    let v = c
        .ok(Method::GET, &format!("{IAM}/users/admin"), &admin, None)
        .await;
    assert!(
        v["metadata"]["annotations"]["iam.kubesphere.io/uninitialized"].is_null(),
        "{v}"
    );
    assert_eq!(v["status"]["passwordChangeRequired"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_admin_password_is_saved_private_and_returned_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let cluster = start_cluster(dir.path()).await;
    let mut config = test_config(
        kube_config(&cluster.kubeconfig_path).await,
        &dir.path().join("p"),
    );
    config.admin_password = None;
    let p = platform::start(config.clone()).await.expect("start");
    let pw = p.initial_admin_password.clone().expect("generated");
    assert!(platform::password::check_policy(&pw).is_ok());
    let file = dir.path().join("p/admin-password");
    assert_eq!(std::fs::read_to_string(&file).expect("saved").trim(), pw);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    Client::new(&p.url()).login("admin", &pw).await;
    p.shutdown().await;
    let again = platform::start(config).await.expect("restart");
    assert!(
        again.initial_admin_password.is_none(),
        "only the start that created the admin returns it"
    );
    Client::new(&again.url()).login("admin", &pw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_written_with_plain_passwords_get_hashed() {
    let env = Env::start().await;
    let kube = env.kube().await;
    let api = platform::kinds::Kind::User.api(&kube, None);
    let user: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
        "metadata": {"name": "imported"}, "spec": {"password": "Plain1Passw0rd"},
    }))
    .expect("user");
    api.create(&Default::default(), &user)
        .await
        .expect("create");
    eventually("password hashed", || async {
        let u = api.get("imported").await.expect("get");
        let v = serde_json::to_value(&u).unwrap_or(Value::Null);
        v["spec"]["password"]
            .as_str()
            .is_some_and(|p| p.starts_with("$argon2id$"))
            && v["status"]["state"] == "Active"
    })
    .await;
    env.http.login("imported", "Plain1Passw0rd").await;
    // bcrypt hashes of imported users are accepted as they are.
    let hash = bcrypt::hash("Bcrypt1Passw0rd", 4).expect("bcrypt");
    let user: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
        "metadata": {"name": "legacy"}, "spec": {"password": hash},
    }))
    .expect("user");
    api.create(&Default::default(), &user)
        .await
        .expect("create");
    env.http.login("legacy", "Bcrypt1Passw0rd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_login_revokes_older_sessions() {
    let env = Env::start_with(|c| c.multiple_login = false).await;
    let c = &env.http;
    let first = env.admin().await;
    let second = env.admin().await;
    let (s, _) = c.get(&format!("{IAM}/users/admin"), &first).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = c.get(&format!("{IAM}/users/admin"), &second).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_revocation_and_elect_one_leader() {
    let env = Env::start().await;
    let a = &env.http;
    let replica = env.replica().await;
    let b = Client::new(&replica.url());
    // A token from one replica works on the other at once, and logout on one holds on both.
    let token = a.login("admin", ADMIN_PW).await;
    let (s, _) = b.get(&format!("{IAM}/users"), &token).await;
    assert_eq!(s, StatusCode::OK);
    let token_b = b.login("admin", ADMIN_PW).await;
    let (s, _) = a.get(&format!("{IAM}/users"), &token_b).await;
    assert_eq!(s, StatusCode::OK);
    let r = a
        .inner
        .post(format!("{}/oauth/logout", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::OK);
    let (s, _) = a.get(&format!("{IAM}/users"), &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    eventually("replica b refuses the revoked token", || async {
        b.get(&format!("{IAM}/users"), &token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    // Writes through one replica are visible through the other.
    create_user(&b, &token_b, "shared").await;
    eventually("replica a sees the user", || async {
        a.get(&format!("{IAM}/users/shared"), &token_b).await.0 == StatusCode::OK
    })
    .await;
    // Exactly one leader; when it stops, the other takes over.
    let leaders = || (*env.platform.leader.borrow() as u8) + (*replica.leader.borrow() as u8);
    eventually("one leader", || async { leaders() == 1 }).await;
    for _ in 0..10 {
        assert_eq!(leaders(), 1, "never two leaders");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let replica_led = *replica.leader.borrow();
    let follower = if replica_led {
        replica.shutdown().await;
        env.platform.leader.clone()
    } else {
        let Env { platform, .. } = env;
        platform.shutdown().await;
        replica.leader.clone()
    };
    eventually("the other replica leads", || {
        let f = follower.clone();
        async move { *f.borrow() }
    })
    .await;
}

/// A client whose connections come from `ip` (another loopback address).
fn client_from(base: &str, ip: [u8; 4]) -> Client {
    Client {
        base: base.to_string(),
        inner: reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
    }
}

/// `GET path` with HTTP Basic credentials.
async fn basic(c: &Client, path: &str, user: &str, pw: &str) -> StatusCode {
    c.inner
        .get(format!("{}{path}", c.base))
        .basic_auth(user, Some(pw))
        .header("user-agent", "x".repeat(8 * 1024))
        .send()
        .await
        .expect("send")
        .status()
}

async fn records(c: &Client, admin: &str, user: &str) -> Vec<Value> {
    c.ok(
        Method::GET,
        &format!("{IAM}/users/{user}/loginrecords?sortBy=createTime&limit=1000"),
        admin,
        None,
    )
    .await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Issue 11, must-show 6: an anonymous client at 127.0.0.2 cannot lock `admin` out of the
/// address admin logs in from; HTTP Basic attempts count, are recorded and are refused once
/// their address is locked, even with the right password; the admin clears locks; the
/// User-Agent a record keeps is bounded, and so is the number of records per user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_hold_per_address_and_cover_basic_authentication() {
    let env = Env::start_with(|c| {
        c.lockout_threshold = 3;
        c.login_burst = 1000;
    })
    .await;
    let c = &env.http;
    env.admin().await;
    let attacker = client_from(&c.base, [127, 0, 0, 2]);

    // The attacker fails three times as admin: admin is locked — from 127.0.0.2 only.
    for expected in [400, 400, 429, 429] {
        let (s, v) = attacker.token("admin", "WrongPassw0rd").await;
        assert_eq!(s.as_u16(), expected, "{v}");
    }
    let (s, _) = attacker.token("admin", ADMIN_PW).await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "the locked address, right password"
    );
    let again = c.login("admin", ADMIN_PW).await;
    let v = c
        .ok(Method::GET, &format!("{IAM}/users/admin"), &again, None)
        .await;
    assert_eq!(
        v["status"]["state"], "AuthLimitExceeded",
        "admins see the attack: {v}"
    );
    assert!(
        v["status"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.2"),
        "{v}"
    );

    // Basic authentication goes through the same counters.
    create_user(c, &again, "bob").await;
    let path = format!("{IAM}/users/bob");
    for expected in [401, 401, 429] {
        assert_eq!(
            basic(&attacker, &path, "bob", "WrongPassw0rd")
                .await
                .as_u16(),
            expected
        );
    }
    assert_eq!(
        basic(&attacker, &path, "bob", USER_PW).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a locked address is refused even with the right password"
    );
    assert_eq!(
        basic(c, &path, "bob", USER_PW).await,
        StatusCode::OK,
        "from elsewhere"
    );
    let recs = records(c, &again, "bob").await;
    let basic_from_attacker: Vec<&Value> = recs
        .iter()
        .filter(|r| r["spec"]["type"] == "BasicAuth" && r["spec"]["sourceIP"] == "127.0.0.2")
        .collect();
    assert_eq!(basic_from_attacker.len(), 4, "{recs:?}");
    assert!(
        basic_from_attacker
            .iter()
            .all(|r| r["spec"]["success"] == false)
    );
    for r in &recs {
        let ua = r["spec"]["userAgent"].as_str().unwrap_or_default();
        assert!(
            ua.len() <= 256,
            "a record kept {} bytes of User-Agent",
            ua.len()
        );
    }

    // The admin clears bob's locks: the attacker's address may try again.
    let (s, v) = c
        .delete(&format!("{IAM}/users/bob/loginlocks"), &again)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        basic(&attacker, &path, "bob", USER_PW).await,
        StatusCode::OK
    );
    // Clearing is for administrators only.
    let bob = c.login("bob", USER_PW).await;
    let (s, _) = c
        .delete(&format!("{IAM}/users/admin/loginlocks"), &bob)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Records per user are bounded: 110 more attempts leave at most 100.
    for _ in 0..110 {
        basic(&attacker, &path, "bob", "WrongPassw0rd").await;
    }
    let n = records(c, &again, "bob").await.len();
    assert!(n <= 100, "{n} records kept");
    assert!(n >= 90, "{n}: the newest are kept");
}

/// Issue 11, must-show 6 (rate limit): `/oauth/token` answers 429 (OAuth-shaped, with
/// Retry-After) once one address has used its burst; another address is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_logins_are_rate_limited_per_address() {
    let env = Env::start_with(|c| {
        c.login_burst = 5;
        c.login_rate = 0.2;
    })
    .await;
    let c = &env.http;
    let flood = client_from(&c.base, [127, 0, 0, 3]);
    let mut limited = None;
    for _ in 0..8 {
        let r = flood
            .inner
            .post(format!("{}/oauth/token", c.base))
            .form(&[
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", "x"),
            ])
            .send()
            .await
            .expect("send");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry = r.headers().get("retry-after").cloned();
            limited = Some((retry, r.json::<Value>().await.unwrap_or_default()));
            break;
        }
    }
    let (retry, body) = limited.expect("no 429 after 8 attempts with a burst of 5");
    assert!(retry.is_some());
    assert_eq!(body["error"], "invalid_request", "{body}");
    // The admin, at another address, logs in.
    env.admin().await;
}

/// Issue 11, must-show 7: after the token signing key is rotated (by the API, then by the
/// `orrery admin rotate-signing-key` command), every token signed before — access, refresh and
/// kubeconfig tokens — is refused on both replicas; new logins work on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_signing_key_refuses_every_earlier_token() {
    let env = Env::start().await;
    let a = &env.http;
    let replica = env.replica().await;
    let b = Client::new(&replica.url());
    let admin = a.login("admin", ADMIN_PW).await;
    create_user(a, &admin, "bob").await;
    let (s, pair) = a.token("bob", USER_PW).await;
    assert_eq!(s, StatusCode::OK);
    let access = pair["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refresh = pair["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let kubeconfig = a
        .inner
        .get(format!(
            "{}/kapis/resources.kubesphere.io/v1alpha2/users/bob/kubeconfig",
            a.base
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .unwrap_or_default();
    let kc_token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap_or_default()
        .to_string();
    let me = format!("{IAM}/users/bob");
    for t in [&access, &kc_token] {
        assert_eq!(a.get(&me, t).await.0, StatusCode::OK);
        assert_eq!(b.get(&me, t).await.0, StatusCode::OK);
    }
    // Only platform administrators rotate.
    let rotate = format!("{IAM}/signingkey/rotate");
    let (s, _) = a.post(&rotate, &access, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, v) = a.post(&rotate, &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The replica that rotated refuses the old tokens at once: their signature is wrong.
    for t in [&admin, &access, &kc_token] {
        let (s, v) = a.get(&me, t).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("signature"),
            "{v}"
        );
    }
    let r = a
        .inner
        .post(format!("{}/oauth/token", a.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .expect("send");
    assert!(
        r.status().is_client_error(),
        "an old refresh token got {}",
        r.status()
    );
    // The other replica follows its watch of the key.
    eventually("replica b refuses the old tokens", || async {
        b.get(&me, &access).await.0 == StatusCode::UNAUTHORIZED
            && b.get(&me, &kc_token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    // New logins work, and a token from one replica works on the other.
    let fresh = a.login("bob", USER_PW).await;
    assert_eq!(a.get(&me, &fresh).await.0, StatusCode::OK);
    eventually("replica b takes the new key", || async {
        b.get(&me, &fresh).await.0 == StatusCode::OK
    })
    .await;
    let from_b = b.login("admin", ADMIN_PW).await;
    assert_eq!(a.get(&me, &from_b).await.0, StatusCode::OK);

    // The same from the command line, against the host cluster.
    let out = std::process::Command::new(common::process::orrery_bin())
        .args(["admin", "rotate-signing-key", "--kubeconfig"])
        .arg(&env.kubeconfig)
        .output()
        .expect("run orrery admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(
        "both replicas refuse tokens from before the second rotation",
        || async {
            a.get(&me, &fresh).await.0 == StatusCode::UNAUTHORIZED
                && b.get(&me, &from_b).await.0 == StatusCode::UNAUTHORIZED
        },
    )
    .await;
    let again = b.login("bob", USER_PW).await;
    eventually("a new login works on both", || async {
        a.get(&me, &again).await.0 == StatusCode::OK && b.get(&me, &again).await.0 == StatusCode::OK
    })
    .await;
    drop(replica);
}
