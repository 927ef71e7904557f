//! API auditing (issue 16, must-show 3): three users act in two workspaces (one of them is
//! refused); the expected `audit.k8s.io/v1` Events are in the replica's JSON-lines file and at
//! a webhook receiver started here (which refuses the first batch, so delivery retries), and
//! the query API finds them by user and workspace. No secret is in either: a Secret's value, a
//! user's password (set at creation, typed at login, changed) and the tokens issued. A tenant
//! of one workspace reads nothing of the other.
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const AUDIT: &str = "/kapis/tenant.kubesphere.io/v1alpha2";
const SECRET_VALUE: &str = "zq7-the-secret-value-of-the-audit-test";
const CAROL_PW: &str = "Carol-Audit-Passw0rd-81";
const CAROL_PW2: &str = "Carol-Changed-Passw0rd-92";

/// What the webhook receiver saw: accepted bodies, and how many posts it refused.
#[derive(Clone, Default)]
struct Received {
    bodies: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicUsize>,
}

impl Received {
    fn text(&self) -> String {
        self.bodies.lock().expect("lock").concat()
    }

    fn events(&self) -> Vec<Value> {
        let bodies = self.bodies.lock().expect("lock").clone();
        bodies
            .iter()
            .flat_map(|b| {
                let list: Value = serde_json::from_str(b).expect("webhook body is JSON");
                assert_eq!(list["kind"], "EventList", "{list}");
                assert_eq!(list["apiVersion"], "audit.k8s.io/v1", "{list}");
                list["items"].as_array().cloned().unwrap_or_default()
            })
            .collect()
    }
}

/// A webhook receiver on loopback that refuses its first post with 503 and keeps the others.
async fn receiver() -> (String, Received) {
    use axum::extract::State;
    let got = Received::default();
    let app = axum::Router::new()
        .route(
            "/audit",
            axum::routing::post(|State(got): State<Received>, body: String| async move {
                if got.refused.fetch_add(1, Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                got.refused.fetch_sub(1, Ordering::SeqCst);
                got.bodies.lock().expect("lock").push(body);
                axum::http::StatusCode::OK
            }),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/audit"), got)
}

fn file_events(path: &std::path::Path) -> (String, Vec<Value>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let events = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("each line is one JSON event"))
        .collect();
    (text, events)
}

fn find<'a>(
    events: &'a [Value],
    user: &str,
    verb: &str,
    resource: &str,
    code: u16,
) -> Option<&'a Value> {
    events.iter().find(|e| {
        e["user"]["username"] == user
            && e["verb"] == verb
            && e["objectRef"]["resource"] == resource
            && e["responseStatus"]["code"] == code
    })
}

fn ws_of(e: &Value) -> &str {
    e["annotations"]["kubesphere.io/workspace"]
        .as_str()
        .unwrap_or_default()
}

async fn query(c: &Client, token: &str, path: &str) -> (StatusCode, Value) {
    c.get(&format!("{AUDIT}{path}"), token).await
}

fn records(v: &Value) -> Vec<Value> {
    v["query"]["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_leave_audit_events_without_secrets_and_tenants_see_their_own() {
    let (url, hook) = receiver().await;
    let mut log = std::path::PathBuf::new();
    let env = Env::start_with(|c| {
        log = c.data_dir.join("audit").join("audit.log");
        c.audit.write_level = platform::audit::Level::RequestResponse;
        c.audit.log_path = Some(log.clone());
        c.audit.webhook_url = Some(url.clone());
        c.audit.webhook_batch_max_wait = Duration::from_millis(200);
        c.audit.webhook_initial_backoff = Duration::from_millis(100);
    })
    .await;
    let c = &env.http;
    let admin = env.admin().await;

    let (alice, bob, carol) = alice_bob_and_carol(c, &admin).await;

    writes_of_alice_bob_and_carol(c, &alice, &bob, &carol).await;

    // The file: every expected event, each in the audit shape.
    let mut events = Vec::new();
    eventually("the password change in the audit log", || {
        let found = file_events(&log).1;
        let done = found.iter().any(|e| {
            e["requestURI"] == format!("{IAM}/users/carol/password")
                && e["responseStatus"]["code"] == 200
        });
        events = found;
        async move { done }
    })
    .await;
    for e in &events {
        assert_eq!(e["kind"], "Event", "{e}");
        assert_eq!(e["apiVersion"], "audit.k8s.io/v1", "{e}");
        assert_eq!(e["stage"], "ResponseComplete", "{e}");
        assert!(e["auditID"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
        assert!(e["requestReceivedTimestamp"].as_str().is_some(), "{e}");
        assert!(e["stageTimestamp"].as_str().is_some(), "{e}");
        assert!(e["sourceIPs"][0].as_str().is_some(), "{e}");
        assert_eq!(e["annotations"]["kubesphere.io/cluster"], "host", "{e}");
        // Reads are not audited at the default read level.
        assert!(
            !matches!(e["verb"].as_str(), Some("get" | "list" | "watch")),
            "{e}"
        );
    }
    recorded_who_did_what(&events);

    // The webhook: the same events in EventList batches, delivered although the receiver
    // refused the first post.
    let ids: HashSet<String> = events
        .iter()
        .filter_map(|e| e["auditID"].as_str().map(String::from))
        .collect();
    eventually("the webhook has every event of the file", || {
        let got: HashSet<String> = hook
            .events()
            .iter()
            .filter_map(|e| e["auditID"].as_str().map(String::from))
            .collect();
        let done = ids.is_subset(&got);
        async move { done }
    })
    .await;
    assert_eq!(
        hook.refused.load(Ordering::SeqCst),
        1,
        "the first post was refused once"
    );

    // No secret anywhere: the Secret's value (plain and base64), the passwords, the tokens.
    let file_text = file_events(&log).0;
    for (what, text) in [("file", &file_text), ("webhook", &hook.text())] {
        for needle in [
            SECRET_VALUE.to_string(),
            B64.encode(SECRET_VALUE),
            CAROL_PW.to_string(),
            CAROL_PW2.to_string(),
            USER_PW.to_string(),
            ADMIN_PW.to_string(),
            admin.clone(),
            alice.clone(),
            carol.clone(),
        ] {
            assert!(!text.contains(&needle), "the {what} carries a secret");
        }
    }

    queries_by_admin_and_workspace_admin(c, &admin, &alice).await;
    // bob sees carol's refusal in his workspace.
    let (_, v) = query(
        c,
        &bob,
        "/workspaces/ws-b/auditing/events?user_filter=carol",
    )
    .await;
    assert!(
        find(&records(&v), "carol", "create", "configmaps", 403).is_some(),
        "{v}"
    );
    counted_in_metrics(c, &admin, events.len()).await;
    // carol holds no auditing right anywhere: her list is empty.
    let carol = c.login("carol", CAROL_PW2).await;
    let (s, v) = query(c, &carol, "/auditing/events").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["query"]["total"], 0, "{v}");
}

/// The query API: the admin reads every event, by user and by workspace; alice (ws-a's admin)
/// reads ws-a's events and nothing of ws-b, however she asks.
async fn queries_by_admin_and_workspace_admin(c: &Client, admin: &str, alice: &str) {
    // The query API: the admin reads every event, by user and by workspace.
    let (s, v) = query(c, admin, "/auditing/events?user_filter=alice&size=100").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let by_alice = records(&v);
    assert!(!by_alice.is_empty());
    assert!(by_alice.iter().all(|e| e["user"]["username"] == "alice"));
    assert!(find(&by_alice, "alice", "create", "configmaps", 201).is_some());
    assert!(find(&by_alice, "alice", "create", "roles", 201).is_some());
    let (_, v) = query(c, admin, "/auditing/events?workspace_filter=ws-b&size=100").await;
    let in_b = records(&v);
    assert!(in_b.iter().all(|e| ws_of(e) == "ws-b"), "{v}");
    assert!(find(&in_b, "carol", "create", "configmaps", 403).is_some());
    assert!(find(&in_b, "bob", "create", "secrets", 201).is_some());
    let (_, v) = query(
        c,
        admin,
        "/auditing/events?verb_filter=create&response_code_filter=403&objectref_resource_filter=configmaps",
    )
    .await;
    assert_eq!(v["query"]["total"], 1, "{v}");
    assert_eq!(records(&v)[0]["user"]["username"], "carol");
    let (_, v) = query(c, admin, "/auditing/events?size=1").await;
    assert_eq!(records(&v).len(), 1);
    assert!(v["query"]["total"].as_u64().is_some_and(|n| n > 1), "{v}");
    let (s, _) = query(c, admin, "/auditing/events?size=-1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // alice (ws-a's admin) reads ws-a's events and nothing of ws-b, however she asks.
    let (s, v) = query(c, alice, "/auditing/events?size=1000").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let seen = records(&v);
    assert!(find(&seen, "alice", "create", "configmaps", 201).is_some());
    assert!(seen.iter().all(|e| ws_of(e) == "ws-a"), "{v}");
    let (_, v) = query(c, alice, "/auditing/events?workspace_filter=ws-b").await;
    assert_eq!(v["query"]["total"], 0, "{v}");
    let (s, v) = query(c, alice, "/workspaces/ws-b/auditing/events").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = query(c, alice, "/workspaces/ws-a/auditing/events?size=1000").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(records(&v).iter().all(|e| ws_of(e) == "ws-a"), "{v}");
}

/// What became of the events is counted in the platform's metrics.
async fn counted_in_metrics(c: &Client, admin: &str, events: usize) {
    // What became of the events is counted in the platform's metrics.
    let metrics = c
        .inner
        .get(format!("{}/metrics", c.base))
        .bearer_auth(admin)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let recorded = metrics
        .lines()
        .find(|l| l.starts_with("orrery_audit_events_total{outcome=\"recorded\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the recorded counter");
    assert!(recorded >= events as u64, "{recorded}");
    assert!(
        metrics.contains("orrery_audit_webhook_retries_total 1"),
        "one retry: {metrics}"
    );
}

/// The users: alice manages ws-a, bob ws-b; carol is a regular member of ws-a. Their tokens.
async fn alice_bob_and_carol(c: &Client, admin: &str) -> (String, String, String) {
    // The users: alice manages ws-a, bob ws-b; carol is a regular member of ws-a.
    create_user(c, admin, "alice").await;
    create_user(c, admin, "bob").await;
    let carol = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User",
        "metadata": {"name": "carol"}, "spec": {"email": "carol@example.com", "password": CAROL_PW}});
    c.ok(Method::POST, &format!("{IAM}/users"), admin, Some(carol))
        .await;
    create_workspace(c, admin, "ws-a", "alice").await;
    create_workspace(c, admin, "ws-b", "bob").await;
    add_member(
        c,
        admin,
        &format!("{IAM}/workspaces/ws-a/workspacemembers"),
        "carol",
        "ws-a-regular",
    )
    .await;
    let alice = c.login("alice", USER_PW).await;
    let bob = c.login("bob", USER_PW).await;
    let carol = c.login("carol", CAROL_PW).await;
    (alice, bob, carol)
}

/// alice and bob write in their workspaces; carol is refused in ws-b and changes her password.
async fn writes_of_alice_bob_and_carol(c: &Client, alice: &str, bob: &str, carol: &str) {
    // alice: a project, a ConfigMap and a Role in ws-a.
    create_project(c, alice, "ws-a", "pa").await;
    c.ok(
        Method::POST,
        "/api/v1/namespaces/pa/configmaps",
        alice,
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-a"}, "data": {"colour": "blue"}})),
    )
    .await;
    c.ok(
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/pa/roles",
        alice,
        Some(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]})),
    )
    .await;
    // bob: a project, a ConfigMap and a Secret in ws-b.
    create_project(c, bob, "ws-b", "pb").await;
    c.ok(
        Method::POST,
        "/api/v1/namespaces/pb/configmaps",
        bob,
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-b"}, "data": {"size": "9"}})),
    )
    .await;
    c.ok(
        Method::POST,
        "/api/v1/namespaces/pb/secrets",
        bob,
        Some(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
            "stringData": {"password": SECRET_VALUE}, "data": {"extra": B64.encode(SECRET_VALUE)}}),
        ),
    )
    .await;
    // carol may not write in ws-b.
    let (s, v) = c
        .post(
            "/api/v1/namespaces/pb/configmaps",
            carol,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "intruder"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // carol, a regular member, may not read ws-a's audit events, and sees none in the list.
    let (s, v) = query(c, carol, "/workspaces/ws-a/auditing/events").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // ... and changes her password (a credential path: its body is never kept).
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/carol/password"),
        carol,
        Some(json!({"currentPassword": CAROL_PW, "password": CAROL_PW2})),
    )
    .await;
}

/// Each write in the audit log with its user, workspace, object and (but for credentials)
/// bodies; logins and password changes at Metadata level.
fn recorded_who_did_what(events: &[Value]) {
    let project_a = find(events, "alice", "create", "namespaces", 200)
        .or_else(|| find(events, "alice", "create", "namespaces", 201))
        .expect("alice's project");
    assert_eq!(ws_of(project_a), "ws-a");
    assert_eq!(project_a["objectRef"]["apiGroup"], "tenant.kubesphere.io");
    assert_eq!(project_a["objectRef"]["name"], "pa");
    let cm_a = find(events, "alice", "create", "configmaps", 201).expect("alice's ConfigMap");
    assert_eq!(ws_of(cm_a), "ws-a");
    assert_eq!(cm_a["objectRef"]["namespace"], "pa");
    assert_eq!(cm_a["objectRef"]["name"], "cm-a");
    assert_eq!(cm_a["objectRef"]["apiVersion"], "v1");
    assert_eq!(cm_a["level"], "RequestResponse");
    assert_eq!(cm_a["requestObject"]["data"]["colour"], "blue", "{cm_a}");
    assert_eq!(cm_a["responseObject"]["metadata"]["name"], "cm-a", "{cm_a}");
    assert!(
        cm_a["user"]["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g == "system:authenticated")),
        "{cm_a}"
    );
    let role = find(events, "alice", "create", "roles", 201).expect("alice's Role");
    assert_eq!(role["objectRef"]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(ws_of(role), "ws-a");
    let cm_b = find(events, "bob", "create", "configmaps", 201).expect("bob's ConfigMap");
    assert_eq!(ws_of(cm_b), "ws-b");
    let secret = find(events, "bob", "create", "secrets", 201).expect("bob's Secret");
    assert_eq!(ws_of(secret), "ws-b");
    assert_eq!(
        secret["requestObject"]["data"]["extra"], "REDACTED",
        "{secret}"
    );
    assert_eq!(
        secret["requestObject"]["stringData"]["password"], "REDACTED",
        "{secret}"
    );
    let refused = find(events, "carol", "create", "configmaps", 403).expect("carol's refusal");
    assert_eq!(ws_of(refused), "ws-b");
    assert_eq!(refused["objectRef"]["namespace"], "pb");
    assert_eq!(refused["responseStatus"]["status"], "Failure");
    assert!(
        refused["responseStatus"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("carol")),
        "{refused}"
    );
    let created = events
        .iter()
        .find(|e| e["verb"] == "create" && e["objectRef"]["name"] == "carol")
        .expect("carol's creation");
    assert_eq!(created["user"]["username"], "admin");
    assert_eq!(
        created["requestObject"]["spec"]["password"], "REDACTED",
        "{created}"
    );
    // Logins and password changes: Metadata, whatever the level.
    let logins: Vec<&Value> = events
        .iter()
        .filter(|e| e["requestURI"] == "/oauth/token")
        .collect();
    assert!(logins.len() >= 4, "one per login");
    for e in logins.iter().copied().chain(events.iter().filter(|e| {
        e["requestURI"]
            .as_str()
            .is_some_and(|u| u.ends_with("/password"))
    })) {
        assert_eq!(e["level"], "Metadata", "{e}");
        assert!(e.get("requestObject").is_none() && e.get("responseObject").is_none());
    }
}
