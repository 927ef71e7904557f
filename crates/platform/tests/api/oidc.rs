//! OIDC logins against a real OpenID provider (the npm package `oidc-provider`, started by the
//! test on loopback by `scripts/oidc/provider.mjs`), driven as a browser would drive them (a
//! cookie jar, redirects followed one by one): each mapping method, the groups claim granting
//! access, and the refusals — a wrong or missing `state`, a flow not started in this browser, a
//! redirect URI the provider has not registered, and open redirects through the login flow.
//! (Bad ID tokens — audience, nonce, issuer, signature, expiry — are checked in
//! `identity::oidc`'s unit tests on tokens the test signs itself: a real provider never issues
//! them.)
use std::time::Duration;

use crate::common::node::NodeScript;
use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "orrery-client-secret";

/// The OpenID provider (`scripts/oidc/provider.mjs`).
struct Provider {
    _script: NodeScript,
    issuer: String,
}

impl Provider {
    fn start(platform: &str, idps: &[&str]) -> Provider {
        let redirects: Vec<String> = idps
            .iter()
            .map(|i| format!("{platform}/oauth/callback/{i}"))
            .collect();
        let config = json!({
            "clients": [{"client_id": "orrery", "client_secret": SECRET, "redirect_uris": redirects,
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic"}],
            "accounts": {
                "alice": {"email": "alice@corp.test", "name": "Alice", "groups": ["devs"]},
                "bob": {"email": "bob@corp.test", "name": "Bob", "groups": []},
                "carol": {"email": "carol@corp.test", "name": "Carol", "groups": ["devs"]},
                "mallory": {"username": "admin", "email": "admin@corp.test", "name": "Not the admin"},
            },
        });
        let script = NodeScript::start("provider.mjs", &[config.to_string()], &[]);
        let issuer = script.next_blocking("ready");
        Provider {
            _script: script,
            issuer,
        }
    }

    async fn next_login(&self, account: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/test/next-login", self.issuer))
            .body(account.to_string())
            .send()
            .await
            .expect("next-login");
        assert!(r.status().is_success());
    }
}

/// A browser: a cookie jar, redirects seen one by one.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Follows redirects from `url` until one leads back to the platform's console or a page
/// answers; returns that last Location (or the final status and body).
pub(crate) async fn follow(
    b: &reqwest::Client,
    base: &str,
    mut url: String,
) -> Result<String, (StatusCode, String)> {
    for _ in 0..20 {
        let r = b.get(&url).send().await.expect("request");
        if !r.status().is_redirection() {
            let s = r.status();
            return Err((s, r.text().await.unwrap_or_default()));
        }
        let loc = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location")
            .to_string();
        let next = if loc.starts_with("http") {
            loc.clone()
        } else if loc.starts_with('/') {
            let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            format!("{origin}{loc}")
        } else {
            panic!("relative location {loc}")
        };
        if next.starts_with(&format!("{base}/console")) {
            return Ok(next[base.len()..].to_string());
        }
        url = next;
    }
    panic!("too many redirects")
}

/// Runs the provider's part of a login and stops at the redirect back to the platform's
/// callback (not followed); returns its URL.
pub(crate) async fn to_callback(b: &reqwest::Client, base: &str, idp: &str) -> String {
    let mut url = format!("{base}/oauth/authorize?idp={idp}&redirect_uri=/console/");
    for _ in 0..20 {
        let r = b.get(&url).send().await.expect("request");
        assert!(r.status().is_redirection(), "{url}: {}", r.status());
        let loc = r.headers()["location"].to_str().expect("loc").to_string();
        let next = if loc.starts_with('/') {
            let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            format!("{origin}{loc}")
        } else {
            loc
        };
        if next.starts_with(&format!("{base}/oauth/callback/")) {
            return next;
        }
        url = next;
    }
    panic!("never came back")
}

pub(crate) async fn session_user(b: &reqwest::Client, base: &str) -> Option<String> {
    let r = b
        .get(format!("{base}/console/session"))
        .send()
        .await
        .expect("session");
    if !r.status().is_success() {
        return None;
    }
    let v: Value = r.json().await.expect("json");
    v["username"].as_str().map(str::to_string)
}

fn settings(p: &Provider) -> Value {
    json!({"issuer": p.issuer, "clientID": "orrery", "clientSecret": SECRET,
        "scopes": ["openid", "email", "profile", "groups"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_logins_mapping_methods_groups_and_refusals() {
    let env = Env::start().await;
    // The platform's public URL (it serves HTTPS with its own certificate on the same port):
    // what the provider sends people back to, and where the browser's Secure cookies go.
    let base = env.http.base.replacen("http://", "https://", 1);
    let c = &env.http;
    let admin = env.admin().await;
    let provider = tokio::task::spawn_blocking({
        let base = base.clone();
        move || Provider::start(&base, &["auto", "lookup", "manual"])
    })
    .await
    .expect("provider");
    register_providers(&env, &provider).await;

    // The administrators' check finds the provider's discovery document and keys.
    let v = c.ok(Method::POST, "/kapis/iam.kubesphere.io/v1beta1/identityproviders/test", &admin,
        Some(json!({"name": "auto", "type": "OIDCIdentityProvider", "provider": settings(&provider)}))).await;
    assert_eq!(v["ok"], true, "{v}");
    let v = c.ok(Method::POST, "/kapis/iam.kubesphere.io/v1beta1/identityproviders/test", &admin,
        Some(json!({"name": "x", "type": "OIDCIdentityProvider", "provider": {"issuer": "http://127.0.0.1:9", "clientID": "c"}}))).await;
    assert_eq!(v["ok"], false, "{v}");

    // auto: alice logs in; her user is created, linked to her `sub`, with her groups.
    provider.next_login("alice").await;
    let b = browser();
    let end = follow(
        &b,
        &base,
        format!("{base}/oauth/authorize?idp=auto&redirect_uri=/console/workspaces/w/overview"),
    )
    .await
    .expect("back in the console");
    assert_eq!(end, "/console/workspaces/w/overview");
    assert_eq!(session_user(&b, &base).await.as_deref(), Some("alice"));
    let alice = c
        .ok(Method::GET, &format!("{IAM}/users/alice"), &admin, None)
        .await;
    assert_eq!(
        alice["metadata"]["annotations"]["iam.kubesphere.io/identity-provider.auto"],
        "alice"
    );
    assert_eq!(alice["spec"]["email"], "alice@corp.test");
    let records = c
        .ok(
            Method::GET,
            &format!("{IAM}/users/alice/loginrecords"),
            &admin,
            None,
        )
        .await;
    assert!(
        records["items"]
            .as_array()
            .expect("records")
            .iter()
            .any(|r| r["spec"]["provider"] == "auto"),
        "{records}"
    );
    // Her groups claim grants a workspace (role bound to group auto:devs), in her console session.
    create_workspace(c, &admin, "w", "admin").await;
    bind_group_in_workspace(c, &admin, "w", "auto:devs", "viewer").await;
    eventually("alice's groups claim grants her the workspace", || async {
        b.get(format!("{base}{TENANT}/workspaces/w"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    // Bob (no such group) does not get it.
    provider.next_login("bob").await;
    let bob = browser();
    follow(&bob, &base, format!("{base}/oauth/authorize?idp=auto"))
        .await
        .expect("bob");
    assert_eq!(session_user(&bob, &base).await.as_deref(), Some("bob"));
    let r = bob
        .get(format!("{base}{TENANT}/workspaces/w"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // An identity calling itself "admin" never becomes the local admin.
    provider.next_login("mallory").await;
    let m = browser();
    let end = follow(&m, &base, format!("{base}/oauth/authorize?idp=auto"))
        .await
        .expect("redirect");
    assert!(end.starts_with("/console/login?sso_error="), "{end}");
    assert!(end.contains("already+exists"), "{end}");
    assert_eq!(session_user(&m, &base).await, None);

    lookup_admits_only_linked_identities(c, &admin, &provider, &base).await;

    manual_lets_people_choose_a_username(c, &admin, &provider, &base).await;

    tampered_flows_and_bad_redirects_are_refused(&provider, &base).await;
}

/// The three mapping methods' providers, and one whose redirect URL the provider has not
/// registered.
async fn register_providers(env: &Env, provider: &Provider) {
    for (idp, mapping) in [("auto", "auto"), ("lookup", "lookup"), ("manual", "manual")] {
        set_identity_provider(
            env,
            idp,
            "OIDCIdentityProvider",
            mapping,
            settings(provider),
        )
        .await;
    }
    set_identity_provider(
        env,
        "unregistered",
        "OIDCIdentityProvider",
        "auto",
        json!({"issuer": provider.issuer, "clientID": "orrery", "clientSecret": SECRET,
            "redirectURL": "http://127.0.0.1:9/elsewhere"}),
    )
    .await;
}

/// lookup: carol is linked to nobody, so refused and nothing created (also not through a
/// local user with her e-mail); once an administrator links a user to her, she is that user.
async fn lookup_admits_only_linked_identities(
    c: &Client,
    admin: &str,
    provider: &Provider,
    base: &str,
) {
    // lookup: carol is linked to nobody: refused, nothing created.
    provider.next_login("carol").await;
    let b = browser();
    let end = follow(&b, base, format!("{base}/oauth/authorize?idp=lookup"))
        .await
        .expect("redirect");
    assert!(
        end.starts_with("/console/login?sso_error=") && end.contains("linked"),
        "{end}"
    );
    assert_eq!(
        c.get(&format!("{IAM}/users/carol"), admin).await.0,
        StatusCode::NOT_FOUND
    );
    // …also not through a local user with her e-mail (an e-mail proves nothing).
    c.ok(Method::POST, &format!("{IAM}/users"), admin, Some(json!({"apiVersion": "iam.kubesphere.io/v1beta1",
        "kind": "User", "metadata": {"name": "cee"}, "spec": {"email": "carol@corp.test", "password": "Cee0Pass1"}}))).await;
    provider.next_login("carol").await;
    let end = follow(
        &browser(),
        base,
        format!("{base}/oauth/authorize?idp=lookup"),
    )
    .await
    .expect("redirect");
    assert!(end.contains("sso_error"), "{end}");
    // Once an administrator links a user to her identity, she is that user.
    c.ok(Method::PATCH, &format!("{IAM}/users/cee"), admin,
        Some(json!({"metadata": {"annotations": {"iam.kubesphere.io/identity-provider.lookup": "carol"}}}))).await;
    eventually("the link is seen", || async {
        provider.next_login("carol").await;
        let b = browser();
        let _ = follow(&b, base, format!("{base}/oauth/authorize?idp=lookup")).await;
        session_user(&b, base).await.as_deref() == Some("cee")
    })
    .await;
}

/// manual: carol chooses her username on the first login, and is that user next time.
async fn manual_lets_people_choose_a_username(
    c: &Client,
    admin: &str,
    provider: &Provider,
    base: &str,
) {
    // manual: carol chooses her username on the first login.
    provider.next_login("carol").await;
    let b = browser();
    let end = follow(&b, base, format!("{base}/oauth/authorize?idp=manual"))
        .await
        .expect("redirect");
    assert_eq!(end, "/console/first-login");
    let info: Value = b
        .get(format!("{base}/oauth/first-login"))
        .send()
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    assert_eq!(info["username"], "carol", "{info}");
    assert_eq!(info["email"], "carol@corp.test");
    let r = b
        .post(format!("{base}/oauth/first-login"))
        .json(&json!({"username": "admin"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT, "a taken name");
    let r = b
        .post(format!("{base}/oauth/first-login"))
        .form(&[("username", "carol-c")])
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "only JSON (no cross-site form posts)"
    );
    let r = b
        .post(format!("{base}/oauth/first-login"))
        .json(&json!({"username": "carol-c"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(session_user(&b, base).await.as_deref(), Some("carol-c"));
    let u = c
        .ok(Method::GET, &format!("{IAM}/users/carol-c"), admin, None)
        .await;
    assert_eq!(
        u["metadata"]["annotations"]["iam.kubesphere.io/identity-provider.manual"],
        "carol"
    );
    // Next time she is carol-c at once.
    provider.next_login("carol").await;
    let b = browser();
    follow(&b, base, format!("{base}/oauth/authorize?idp=manual"))
        .await
        .expect("again");
    assert_eq!(session_user(&b, base).await.as_deref(), Some("carol-c"));
}

/// Tampered states, open redirects, unregistered redirect URIs, unknown providers: each ends
/// on the login page or in a refusal, with no session.
async fn tampered_flows_and_bad_redirects_are_refused(provider: &Provider, base: &str) {
    // Refusals. A wrong state, a missing one, and a callback in a browser that never started
    // the flow each end on the login page with the reason, and no session.
    for tamper in ["wrong", "missing", "other-browser"] {
        provider.next_login("alice").await;
        let b = browser();
        let cb = to_callback(&b, base, "auto").await;
        let url = match tamper {
            "wrong" => regex_replace_state(&cb, "state=forged"),
            "missing" => regex_replace_state(&cb, ""),
            _ => cb.clone(),
        };
        let who = if tamper == "other-browser" {
            browser()
        } else {
            b.clone()
        };
        let end = follow(&who, base, url).await.expect("redirect");
        assert!(
            end.starts_with("/console/login?sso_error="),
            "{tamper}: {end}"
        );
        assert_eq!(session_user(&who, base).await, None, "{tamper}");
    }
    // Open redirects: the flow returns only to this console's pages.
    for bad in [
        "https://evil.example/",
        "//evil.example/",
        "/console/../oauth/token",
        "/console\\@evil.example",
    ] {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("idp", "auto")
            .append_pair("redirect_uri", bad)
            .finish();
        let r = browser()
            .get(format!("{base}/oauth/authorize?{q}"))
            .send()
            .await
            .expect("authorize");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.headers().get("location").is_none(), "{bad}");
    }
    // A redirect URI the provider has not registered: the provider refuses, nobody is sent there.
    match follow(
        &browser(),
        base,
        format!("{base}/oauth/authorize?idp=unregistered"),
    )
    .await
    {
        Err((s, body)) => assert!(
            s.is_client_error() && body.contains("redirect_uri"),
            "{s} {body}"
        ),
        Ok(end) => panic!("went to {end}"),
    }
    // Unknown and disabled providers.
    let end = follow(&browser(), base, format!("{base}/oauth/authorize?idp=nope"))
        .await
        .expect("redirect");
    assert!(end.contains("sso_error"), "{end}");
}

/// `url` with its `state` parameter replaced by `with` (`""`: removed).
fn regex_replace_state(url: &str, with: &str) -> String {
    let (path, q) = url.split_once('?').expect("query");
    let kept: Vec<&str> = q
        .split('&')
        .filter(|kv| !kv.starts_with("state="))
        .collect();
    let mut parts = kept;
    if !with.is_empty() {
        parts.push(with);
    }
    format!("{path}?{}", parts.join("&"))
}
