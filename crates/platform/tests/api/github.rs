//! GitHub logins. github.com cannot be reached from the test machines, so the test starts a
//! stand-in for GitHub's documented OAuth web flow and REST endpoints on loopback
//! (`/login/oauth/authorize`, `/login/oauth/access_token`, `/user`, `/user/emails`,
//! `/user/orgs`, `/user/teams`), answering as GitHub does — including a refused code answered
//! with 200 and an `error`, and PKCE checked. Orrery is configured with it as GitHub Enterprise
//! would be (endpoint and apiURL).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::common::node::query_of;
use crate::common::*;
use crate::oidc::{browser, follow, session_user, to_callback};

#[derive(Default)]
struct GitHub {
    /// The account the next authorization logs in as.
    next: Option<&'static str>,
    /// code → (account, PKCE challenge, redirect_uri)
    codes: HashMap<String, (&'static str, String, String)>,
    /// Codes issued so far (each code is new, as GitHub's are).
    issued: usize,
}

type Shared = Arc<Mutex<GitHub>>;

/// id, login, name, public e-mail, orgs, teams (org, slug)
type Account = (
    u64,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

fn account(login: &str) -> Option<Account> {
    match login {
        "octocat" => Some((
            583231,
            "octocat",
            "The Octocat",
            None,
            &["orrery-org"],
            &[("orrery-org", "platform")],
        )),
        "hubot" => Some((
            1000,
            "hubot",
            "Hubot",
            Some("hubot@github.test"),
            &["other-org"],
            &[],
        )),
        _ => None,
    }
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("client_id").map(String::as_str) != Some("gh-client") {
        return (AxStatus::NOT_FOUND, "unknown client").into_response();
    }
    let mut g = s.lock().expect("lock");
    let Some(who) = g.next.take() else {
        return (AxStatus::BAD_REQUEST, "nobody is logging in").into_response();
    };
    g.issued += 1;
    let code = format!("code-{}-{}", who, g.issued);
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let challenge = q.get("code_challenge").cloned().unwrap_or_default();
    g.codes
        .insert(code.clone(), (who, challenge, redirect.clone()));
    let state = q.get("state").cloned().unwrap_or_default();
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &code)
        .append_pair("state", &state)
        .finish();
    Redirect::to(&format!("{redirect}?{q}")).into_response()
}

async fn access_token(
    State(s): State<Shared>,
    Form(f): Form<HashMap<String, String>>,
) -> Json<Value> {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if get("client_id") != "gh-client" || get("client_secret") != "gh-secret" {
        return Json(json!({"error": "incorrect_client_credentials"}));
    }
    let Some((who, challenge, redirect)) = s.lock().expect("lock").codes.remove(&get("code"))
    else {
        return Json(
            json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}),
        );
    };
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
    if verifier != challenge || redirect != get("redirect_uri") {
        return Json(json!({"error": "bad_verification_code"}));
    }
    Json(
        json!({"access_token": format!("gho_{who}"), "token_type": "bearer", "scope": "read:user,user:email,read:org"}),
    )
}

fn who(headers: &HeaderMap) -> Option<Account> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    account(auth.strip_prefix("Bearer gho_")?)
}

async fn user(headers: HeaderMap) -> Response {
    match who(&headers) {
        Some((id, login, name, email, ..)) => {
            Json(json!({"id": id, "login": login, "name": name, "email": email})).into_response()
        }
        None => (
            AxStatus::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response(),
    }
}

async fn emails(headers: HeaderMap) -> Response {
    match who(&headers) {
        Some((_, login, ..)) => Json(json!([
            {"email": format!("{login}-old@github.test"), "primary": false, "verified": true},
            {"email": format!("{login}@github.test"), "primary": true, "verified": true}]))
        .into_response(),
        None => AxStatus::UNAUTHORIZED.into_response(),
    }
}

async fn orgs(headers: HeaderMap) -> Response {
    match who(&headers) {
        Some((.., orgs, _)) => {
            Json(orgs.iter().map(|o| json!({"login": o})).collect::<Vec<_>>()).into_response()
        }
        None => AxStatus::UNAUTHORIZED.into_response(),
    }
}

async fn teams(headers: HeaderMap) -> Response {
    match who(&headers) {
        Some((.., teams)) => Json(
            teams
                .iter()
                .map(|(o, t)| json!({"slug": t, "organization": {"login": o}}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => AxStatus::UNAUTHORIZED.into_response(),
    }
}

async fn stand_in() -> (String, Shared) {
    let s: Shared = Arc::default();
    let app = Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token))
        .route("/api/user", get(user))
        .route("/api/user/emails", get(emails))
        .route("/api/user/orgs", get(orgs))
        .route("/api/user/teams", get(teams))
        .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_logins_with_orgs_and_teams_as_groups() {
    let env = Env::start().await;
    let base = env.http.base.replacen("http://", "https://", 1);
    let c = &env.http;
    let admin = env.admin().await;
    let (gh, s) = stand_in().await;
    set_identity_provider(&env, "gh", "GitHubIdentityProvider", "auto",
        json!({"clientID": "gh-client", "clientSecret": "gh-secret",
            "endpoint": {"authURL": format!("{gh}/login/oauth/authorize"), "tokenURL": format!("{gh}/login/oauth/access_token")},
            "apiURL": format!("{gh}/api")})).await;

    // octocat logs in: the user is created, linked to GitHub's numeric id, with the primary
    // verified e-mail (the profile hides it) and the org and team as groups.
    s.lock().expect("lock").next = Some("octocat");
    let b = browser();
    let end = follow(&b, &base, format!("{base}/oauth/authorize?idp=gh"))
        .await
        .expect("back");
    assert_eq!(end, "/console/");
    assert_eq!(session_user(&b, &base).await.as_deref(), Some("octocat"));
    let u = c
        .ok(Method::GET, &format!("{IAM}/users/octocat"), &admin, None)
        .await;
    assert_eq!(
        u["metadata"]["annotations"]["iam.kubesphere.io/identity-provider.gh"],
        "583231"
    );
    assert_eq!(u["spec"]["email"], "octocat@github.test");
    assert_eq!(u["spec"]["displayName"], "The Octocat");
    let bindings = c.ok(Method::GET, "/apis/iam.kubesphere.io/v1beta1/groupbindings?labelSelector=iam.orrery.io%2Fidentity-provider%3Dgh", &admin, None).await;
    let mut groups: Vec<String> = bindings["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|b| {
            b["groupRef"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    groups.sort();
    assert_eq!(groups, ["gh:orrery-org", "gh:orrery-org/platform"]);

    // The team grants a workspace.
    create_workspace(c, &admin, "w", "admin").await;
    bind_group_in_workspace(c, &admin, "w", "gh:orrery-org/platform", "viewer").await;
    eventually("octocat's team grants the workspace", || async {
        b.get(format!("{base}{TENANT}/workspaces/w"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    // hubot (another org) does not get it.
    s.lock().expect("lock").next = Some("hubot");
    let h = browser();
    follow(&h, &base, format!("{base}/oauth/authorize?idp=gh"))
        .await
        .expect("back");
    assert_eq!(session_user(&h, &base).await.as_deref(), Some("hubot"));
    let r = h
        .get(format!("{base}{TENANT}/workspaces/w"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A code GitHub refuses (one already used) ends on the login page with GitHub's reason.
    s.lock().expect("lock").next = Some("octocat");
    let b = browser();
    let first = to_callback(&b, &base, "gh").await;
    follow(&b, &base, first.clone()).await.expect("first use");
    assert_eq!(session_user(&b, &base).await.as_deref(), Some("octocat"));
    s.lock().expect("lock").next = Some("octocat");
    let b2 = browser();
    let second = to_callback(&b2, &base, "gh").await;
    let used = &query_of(&first)["code"];
    let replayed = second.replace(&query_of(&second)["code"], used);
    let end = follow(&b2, &base, replayed).await.expect("replayed code");
    assert!(
        end.contains("sso_error") && end.contains("bad_verification_code"),
        "{end}"
    );
    assert_eq!(session_user(&b2, &base).await, None);
}
