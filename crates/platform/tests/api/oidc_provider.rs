//! Orrery as an OpenID provider, against a real relying party: `scripts/oidc/relying-party.mjs`
//! (the npm package `openid-client` v6) discovers the platform, builds the authorization URL
//! (PKCE S256, state, nonce), and — once this test, playing the browser with a cookie jar
//! logged in to the console, has followed the authorization redirect to the callback — redeems
//! the code, validating the ID token against `/oauth/keys`, and reads `/oauth/userinfo`.
//! Then the refusals, driven directly: an unregistered redirect URI (400, never a redirect), a
//! replayed code (refused, and the tokens it bought revoked), a wrong code_verifier, a wrong
//! client secret; a code redeemed at another replica; and an ID token signed before a key
//! rotation still validating against the JWKS after it.
//!
//! The platform serves HTTPS with its own certificate; the relying party trusts it through
//! `NODE_EXTRA_CA_CERTS` (the certificate itself), set for that child process only — TLS is
//! verified, never switched off.
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::common::node::{NodeScript, query_of};
use crate::common::*;
use crate::oidc::browser;

const CLIENT: &str = "grafana";
const SECRET: &str = "grafana-client-secret";
const REDIRECT: &str = "http://127.0.0.1:8000/callback";
const ALICE_PW: &str = "AlicePassw0rd";

/// The relying party (`scripts/oidc/relying-party.mjs`): trusts the platform through
/// `NODE_EXTRA_CA_CERTS` (its certificate only; TLS verification stays on).
fn relying_party(config: Value, ca_file: &Path) -> NodeScript {
    NodeScript::start(
        "relying-party.mjs",
        &[config.to_string()],
        &[("NODE_EXTRA_CA_CERTS", ca_file)],
    )
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location ({})", r.status()))
        .to_string()
}

/// Creates or replaces OAuth client `name` (KubeSphere's Secret in kubesphere-system).
async fn set_oauth_client(env: &Env, name: &str, configuration: &str) {
    use k8s_openapi::api::core::v1::Secret;
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("oauthclient-{name}"), "namespace": "kubesphere-system",
            "labels": {"config.kubesphere.io/type": "oauthclient"}},
        "type": "config.kubesphere.io/oauthclient",
        "data": {"configuration.yaml": B64.encode(configuration)},
    }))
    .expect("secret");
    let api: kube::Api<Secret> = kube::Api::namespaced(env.kube().await, "kubesphere-system");
    let pp = kube::api::PatchParams::apply("oidc-provider-test").force();
    api.patch(
        &format!("oauthclient-{name}"),
        &pp,
        &kube::api::Patch::Apply(&secret),
    )
    .await
    .expect("oauth client secret");
}

/// A PKCE pair (verifier, S256 challenge).
fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = B64URL.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `/oauth/authorize` for the test client with `extra` parameters.
fn authorize_url(base: &str, redirect: &str, extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid email");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("{base}/oauth/authorize?{}", q.finish())
}

/// A fresh code for the logged-in browser `b`, bound to `challenge`.
async fn code_for(b: &reqwest::Client, base: &str, challenge: &str) -> String {
    let url = authorize_url(
        base,
        REDIRECT,
        &[
            ("state", "st"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let r = b.get(&url).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
    let q = query_of(&to);
    assert_eq!(q["state"], "st");
    q["code"].clone()
}

/// `POST /oauth/token` with the code grant; the status and answer.
async fn redeem(
    base: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut req = browser()
        .post(format!("{base}/oauth/token"))
        .form(&[&[("grant_type", "authorization_code")], form].concat());
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.expect("token");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The code grant with `client_secret_post`.
async fn redeem_post(base: &str, code: &str, verifier: &str, secret: &str) -> (StatusCode, Value) {
    let form = [
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
        ("client_id", CLIENT),
        ("client_secret", secret),
    ];
    redeem(base, &form, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_through_orrery() {
    let env = Env::start().await;
    // The platform's public URL, the issuer: HTTPS with its own certificate on the same port.
    let base = env.http.base.replacen("http://", "https://", 1);
    let c = &env.http;
    let admin = env.admin().await;
    alice_and_a_client_discovered(&env, &admin, &base).await;
    let (b, first_code, access, id_token, nonce) = relying_party_signs_alice_in(&env, &base).await;

    spent_codes_wrong_verifiers_and_secrets_are_refused(&b, &base, &first_code, &access).await;
    bad_authorize_requests_are_refused(&b, &base).await;

    // Codes work across replicas: issued here, redeemed at another replica.
    let replica = env.replica().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&b, &base, &challenge).await;
    let (s, v) = redeem(
        &replica.url(),
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some((CLIENT, SECRET)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["id_token"].is_string(), "{v}");

    key_rotation_keeps_earlier_tokens_valid(c, &admin, &b, &base, &id_token, &nonce).await;

    prompt_asks_the_person_and_the_answer_is_theirs(&env, &b, &base).await;
    replica.shutdown().await;
}

/// User alice, an OAuth client with grantMethod auto, and the issuer's discovery document.
async fn alice_and_a_client_discovered(env: &Env, admin: &str, base: &str) {
    let c = &env.http;
    c.ok(
        Method::POST,
        &format!("{IAM}/users"),
        admin,
        Some(json!({"apiVersion": "iam.kubesphere.io/v1beta1",
        "kind": "User", "metadata": {"name": "alice"}, "spec": {"email": "alice@corp.test",
        "displayName": "Alice Liddell", "groups": ["devs"], "password": ALICE_PW}})),
    )
    .await;
    set_oauth_client(
        env,
        CLIENT,
        &format!(
            "name: {CLIENT}\nsecret: {SECRET}\ngrantMethod: auto\nredirectURIs:\n  - {REDIRECT}\n"
        ),
    )
    .await;
    let discovery: Value = browser()
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["issuer"], base);
    assert_eq!(discovery["jwks_uri"], format!("{base}/oauth/keys"));
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
}

/// The relying party signs alice in through the console's login page; her browser, the code,
/// the access and ID tokens and the ID token's nonce.
async fn relying_party_signs_alice_in(
    env: &Env,
    base: &str,
) -> (reqwest::Client, String, String, String, String) {
    let c = &env.http;
    // The relying party starts a login; the person is not logged in yet: to the console's
    // login page, which brings them back to this very request.
    let ca = env.dir.path().join("platform-ca.pem");
    std::fs::write(
        &ca,
        env.platform
            .state
            .settings
            .ca_pem
            .as_deref()
            .expect("the platform's certificate"),
    )
    .expect("write CA");
    let mut rp = relying_party(
        json!({"issuer": base, "client_id": CLIENT, "client_secret": SECRET, "redirect_uri": REDIRECT,
            "scope": "openid profile email groups", "auth": "basic"}),
        &ca,
    );
    let url = rp.next("authorize").await;
    assert!(
        url.starts_with(&format!("{base}/oauth/authorize?")),
        "{url}"
    );
    let b = browser();
    let r = b.get(&url).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = location(&r);
    assert!(login.starts_with("/console/login?"), "{login}");
    assert_eq!(query_of(&login)["redirect"], &url[base.len()..]);
    let r = b
        .post(format!("{base}/console/session"))
        .json(&json!({"username": "alice", "password": ALICE_PW}))
        .send()
        .await
        .expect("console login");
    assert_eq!(r.status(), StatusCode::OK);
    // Logged in, the same request goes back to the relying party with a code.
    let r = b.get(&url).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let callback = location(&r);
    assert!(callback.starts_with(&format!("{REDIRECT}?")), "{callback}");
    let q = query_of(&callback);
    assert_eq!(q["iss"], base);
    let first_code = q["code"].clone();
    rp.send(&callback);
    let result: Value = serde_json::from_str(&rp.next("result").await).expect("result JSON");
    let claims = &result["claims"];
    assert_eq!(claims["iss"], base);
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["email"], "alice@corp.test");
    assert_eq!(claims["groups"], json!(["devs"]));
    assert!(
        claims["nonce"].is_string() && claims["auth_time"].is_i64(),
        "{claims}"
    );
    let info = &result["userinfo"];
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@corp.test");
    assert_eq!(info["groups"], json!(["devs"]));
    assert!(
        result["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{result}"
    );
    assert_eq!(result["has_refresh_token"], true);
    // The access token is an Orrery login: it works on the API.
    let access = result["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let (s, me) = c.get(&format!("{IAM}/users/alice"), &access).await;
    assert_eq!(
        (s, me["metadata"]["name"].as_str()),
        (StatusCode::OK, Some("alice"))
    );
    let id_token = result["id_token"].as_str().expect("id token").to_string();
    drop(rp);
    let nonce = claims["nonce"].as_str().expect("nonce").to_string();
    (b, first_code, access, id_token, nonce)
}

/// A code is redeemed once (a second try revokes its tokens), with the right verifier and the
/// right client secret only.
async fn spent_codes_wrong_verifiers_and_secrets_are_refused(
    b: &reqwest::Client,
    base: &str,
    first_code: &str,
    access: &str,
) {
    // The same code again is refused — and the tokens it bought are revoked.
    let (s, v) = redeem(
        base,
        &[
            ("code", first_code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"v".repeat(43)),
        ],
        Some((CLIENT, SECRET)),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{v}"
    );
    assert!(
        v["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("already used"),
        "{v}"
    );
    let r = browser()
        .get(format!("{base}/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));

    // A wrong code_verifier is refused (and the code is spent).
    let (verifier, challenge) = pkce();
    let code = code_for(b, base, &challenge).await;
    let (wrong, _) = pkce();
    let (s, v) = redeem(
        base,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &wrong),
        ],
        Some((CLIENT, SECRET)),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{v}"
    );
    let (s, _) = redeem(
        base,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some((CLIENT, SECRET)),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a code is tried once");

    // A wrong client secret is refused before the code is touched; the right one
    // (client_secret_post this time) then redeems it, once.
    let (verifier, challenge) = pkce();
    let code = code_for(b, base, &challenge).await;
    let (s, v) = redeem_post(base, &code, &verifier, "not-the-secret").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{v}"
    );
    let (s, v) = redeem_post(base, &code, &verifier, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["id_token"].is_string() && v["access_token"].is_string(),
        "{v}"
    );
    let (s, v) = redeem_post(base, &code, &verifier, SECRET).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "used twice"
    );
}

/// An unregistered redirect URI or unknown client: a 400 page, never a redirect; other errors
/// go back to the registered redirect URI, with the state.
async fn bad_authorize_requests_are_refused(b: &reqwest::Client, base: &str) {
    // An unregistered redirect URI: a 400 page, never a redirect; so for an unknown client.
    for (client, redirect) in [
        (CLIENT, "https://evil.example/callback"),
        (CLIENT, "http://127.0.0.1:8000/callback/"),
        (CLIENT, "http://127.0.0.1:8000/callback?x=1"),
        ("nobody", REDIRECT),
    ] {
        let url = authorize_url(base, redirect, &[("state", "x")]).replace(CLIENT, client);
        let r = b.get(&url).send().await.expect("authorize");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{client} {redirect}");
        assert!(r.headers().get("location").is_none(), "{client} {redirect}");
        let page = r.text().await.unwrap_or_default();
        assert!(
            page.contains("not registered") || page.contains("no OAuth client"),
            "{page}"
        );
    }
    // Other errors go back to the (registered) redirect URI, with the state.
    let r = b
        .get(
            authorize_url(base, REDIRECT, &[("state", "s2")])
                .replace("response_type=code", "response_type=token"),
        )
        .send()
        .await
        .expect("authorize");
    let q = query_of(&location(&r));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("unsupported_response_type", "s2")
    );
    let r = browser()
        .get(authorize_url(base, REDIRECT, &[("prompt", "none")]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(query_of(&location(&r))["error"], "login_required");
}

/// Key rotation: the ID token signed before still validates against the published keys; new
/// tokens are signed with the new key.
async fn key_rotation_keeps_earlier_tokens_valid(
    c: &Client,
    admin: &str,
    b: &reqwest::Client,
    base: &str,
    id_token: &str,
    nonce: &str,
) {
    // Key rotation: the ID token signed before still validates against the published keys.
    let old_kid = jsonwebtoken::decode_header(id_token)
        .expect("header")
        .kid
        .expect("kid");
    let alice = c.login("alice", ALICE_PW).await;
    let (s, _) = c
        .post(&format!("{IAM}/idtokenkey/rotate"), &alice, json!({}))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only platform administrators rotate keys"
    );
    let rotated = c
        .ok(
            Method::POST,
            &format!("{IAM}/idtokenkey/rotate"),
            admin,
            Some(json!({})),
        )
        .await;
    let new_kid = rotated["kid"].as_str().expect("kid").to_string();
    assert_ne!(new_kid, old_kid);
    let jwks: jsonwebtoken::jwk::JwkSet = browser()
        .get(format!("{base}/oauth/keys"))
        .send()
        .await
        .expect("keys")
        .json()
        .await
        .expect("jwks");
    let kids: Vec<_> = jwks
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    assert_eq!(kids, vec![new_kid.clone(), old_kid.clone()]);
    let expect = platform::identity::oidc::Expect {
        issuer: base,
        client_id: CLIENT,
        nonce,
    };
    platform::identity::oidc::validate_id_token(id_token, &jwks, &expect)
        .expect("an ID token signed before the rotation still validates");
    let (verifier, challenge) = pkce();
    let code = code_for(b, base, &challenge).await;
    let (_, v) = redeem(
        base,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some((CLIENT, SECRET)),
    )
    .await;
    let fresh = v["id_token"].as_str().expect("id token");
    assert_eq!(
        jsonwebtoken::decode_header(fresh)
            .expect("header")
            .kid
            .as_deref(),
        Some(new_kid.as_str()),
        "new tokens are signed with the new key"
    );
}

/// grantMethod: prompt — the person is asked first; the answer is theirs alone.
async fn prompt_asks_the_person_and_the_answer_is_theirs(
    env: &Env,
    b: &reqwest::Client,
    base: &str,
) {
    // grantMethod: prompt — the person is asked first; the answer is theirs alone.
    set_oauth_client(
        env,
        "asking",
        &format!(
            "name: asking\nsecret: {SECRET}\ngrantMethod: prompt\nredirectURIs:\n  - {REDIRECT}\n"
        ),
    )
    .await;
    let ask = authorize_url(base, REDIRECT, &[("state", "st")])
        .replace(&format!("client_id={CLIENT}"), "client_id=asking");
    let r = b.get(&ask).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::OK, "a consent page, not a code");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = r.text().await.expect("page");
    assert!(
        page.contains("Allow asking to sign you in?") && page.contains("alice"),
        "{page}"
    );
    let sealed = page
        .split("name=\"consent\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("the sealed consent")
        .to_string();
    let answer = |decision: &str, consent: &str| {
        format!(
            "{ask}&{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("consent", consent)
                .append_pair("decision", decision)
                .finish()
        )
    };
    // Declined: access_denied, back to the client.
    let r = b.get(answer("deny", &sealed)).send().await.expect("deny");
    let to = location(&r);
    assert_eq!(query_of(&to)["error"], "access_denied", "{to}");
    assert_eq!(query_of(&to)["state"], "st");
    // A client without grantMethod prompt is not asked, consent or not.
    let other =
        answer("allow", &sealed).replace("client_id=asking", &format!("client_id={CLIENT}"));
    let r = b.get(&other).send().await.expect("other client");
    assert!(
        query_of(&location(&r)).contains_key("code"),
        "the auto client ignores consent"
    );
    let forged = answer("allow", "not-a-sealed-consent");
    let r = b.get(forged).send().await.expect("forged");
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
    // Allowed: a code.
    let r = b.get(answer("allow", &sealed)).send().await.expect("allow");
    let to = location(&r);
    assert!(query_of(&to).contains_key("code"), "{to}");
    // Someone else (logged in as admin) cannot use alice's consent.
    let admin_browser = browser();
    admin_browser
        .post(format!("{base}/console/session"))
        .json(&json!({"username": "admin", "password": ADMIN_PW}))
        .send()
        .await
        .expect("admin login");
    let r = admin_browser
        .get(answer("allow", &sealed))
        .send()
        .await
        .expect("admin");
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
}
