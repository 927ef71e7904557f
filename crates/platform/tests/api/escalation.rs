//! Granting through the platform: roles, bindings and members need the rules they grant (or
//! `escalate`/`bind`), whichever route writes them; moving a project needs rights in the
//! target workspace; viewers see Secret names and keys, never values.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

async fn patch(c: &Client, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let r = c
        .inner
        .patch(format!("{}{path}", c.base))
        .bearer_auth(token)
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_need_the_rules_they_grant() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    for u in ["wsa", "writer", "viewer", "outsider"] {
        create_user(c, &admin, u).await;
    }
    create_workspace(c, &admin, "w1", "wsa").await;
    create_workspace(c, &admin, "w2", "admin").await;
    let wsa = c.login("wsa", USER_PW).await;
    create_project(c, &wsa, "w1", "p1").await;
    create_project(c, &admin, "w2", "p2").await;
    let star = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]);
    let secrets = json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]);
    let held = json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]);
    the_writer_role(&admin, c).await;
    let writer = c.login("writer", USER_PW).await;
    kubesphere_roles(&admin, c, &held, &secrets, &star, &writer).await;
    kubernetes_roles(&admin, c, &held, &star, &writer).await;
    moving_projects(&admin, c, &wsa).await;
}

/// The writer's role: it may write roles and bindings in p1 and read ConfigMaps, nothing more.
async fn the_writer_role(admin: &str, c: &Client) {
    // A role that may write roles and bindings in p1 and read ConfigMaps, nothing more (not
    // `*` verbs: those include `escalate` and `bind`, as in Kubernetes).
    let writer_role = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "Role", "metadata": {"name": "role-writer"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io", "iam.kubesphere.io"], "resources": ["roles", "rolebindings", "namespacemembers"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    ]});
    c.ok(
        Method::POST,
        &format!("{IAM}/namespaces/p1/roles"),
        admin,
        Some(writer_role),
    )
    .await;
    add_member(
        c,
        admin,
        &format!("{IAM}/namespaces/p1/namespacemembers"),
        "writer",
        "role-writer",
    )
    .await;
    add_member(
        c,
        admin,
        &format!("{IAM}/namespaces/p1/namespacemembers"),
        "viewer",
        "viewer",
    )
    .await;
}

/// KubeSphere roles through /kapis: only rules the writer holds (a template's count), and
/// members with held roles.
async fn kubesphere_roles(
    admin: &str,
    c: &Client,
    held: &Value,
    secrets: &Value,
    star: &Value,
    writer: &str,
) {
    // KubeSphere roles through /kapis.
    for (name, rules) in [("star", star), ("sec", secrets)] {
        let (s, v) = c
            .post(
                &format!("{IAM}/namespaces/p1/roles"),
                writer,
                role(name, rules.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{name}: {v}");
        assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("not currently held")),
            "{v}"
        );
        let (s, _) = c
            .get(&format!("{IAM}/namespaces/p1/roles/{name}"), admin)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{name} was created");
    }
    // Templates a role aggregates count as its rules.
    let (s, v) = c
        .post(
            &format!("{IAM}/namespaces/p1/roles"),
            writer,
            json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "Role", "metadata": {"name": "agg"},
                   "aggregationRoleTemplates": {"templateNames": ["namespace-resources-manage"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    c.ok(
        Method::POST,
        &format!("{IAM}/namespaces/p1/roles"),
        writer,
        Some(role("cm-reader", held.clone())),
    )
    .await;
    // Members: binding the built-in admin role needs its rules; a held role is fine.
    let (s, v) = c
        .post(
            &format!("{IAM}/namespaces/p1/namespacemembers"),
            writer,
            json!([{"username": "outsider", "roleRef": "admin"}]),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = c
        .get(
            &format!("{IAM}/namespaces/p1/namespacemembers/outsider"),
            admin,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    add_member(
        c,
        writer,
        &format!("{IAM}/namespaces/p1/namespacemembers"),
        "outsider",
        "cm-reader",
    )
    .await;
}

/// Kubernetes roles and bindings through the native proxy: the cluster sees the platform's
/// credentials, so the platform checks for the caller.
async fn kubernetes_roles(admin: &str, c: &Client, held: &Value, star: &Value, writer: &str) {
    // Kubernetes roles and bindings through the native proxy (the cluster sees the platform's
    // credentials, so the platform checks for the caller).
    let k8s_role = |name: &str, rules: &Value| json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}, "rules": rules});
    let (s, v) = c
        .post(
            &format!("{RBAC}/namespaces/p1/roles"),
            writer,
            k8s_role("star", star),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = c
        .post(
            &format!("{RBAC}/namespaces/p1/roles"),
            writer,
            k8s_role("cm", held),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Widening it by a patch is refused too, and leaves it as it was.
    let (s, v) = patch(
        c,
        &format!("{RBAC}/namespaces/p1/roles/cm"),
        writer,
        json!({"rules": star}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (_, now) = c
        .get(&format!("{RBAC}/namespaces/p1/roles/cm"), admin)
        .await;
    assert_eq!(now["rules"][0]["resources"], json!(["configmaps"]));
    let binding = |name: &str, kind: &str, role: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
        "subjects": [{"kind": "User", "name": "writer", "apiGroup": "rbac.authorization.k8s.io"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}})
    };
    for (name, kind, role) in [
        ("to-admin", "ClusterRole", "cluster-admin"),
        ("to-missing", "Role", "does-not-exist"),
    ] {
        let (s, v) = c
            .post(
                &format!("{RBAC}/namespaces/p1/rolebindings"),
                writer,
                binding(name, kind, role),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{name}: {v}");
        let (s, _) = c
            .get(&format!("{RBAC}/namespaces/p1/rolebindings/{name}"), admin)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (s, v) = c
        .post(
            &format!("{RBAC}/namespaces/p1/rolebindings"),
            writer,
            binding("to-cm", "Role", "cm"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The same refusal through the cluster proxy.
    let (s, v) = c
        .post(
            &format!("/clusters/host{RBAC}/namespaces/p1/rolebindings"),
            writer,
            binding("to-admin", "ClusterRole", "cluster-admin"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

/// Moving a project into a workspace one has no rights in.
async fn moving_projects(admin: &str, c: &Client, wsa: &str) {
    // Moving a project into a workspace one has no rights in.
    for prefix in ["", "/clusters/host"] {
        let (s, v) = patch(
            c,
            &format!("{prefix}/api/v1/namespaces/p1"),
            wsa,
            json!({"metadata": {"labels": {"kubesphere.io/workspace": "w2"}}}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{prefix}: {v}");
        let (_, ns) = c.get("/api/v1/namespaces/p1", admin).await;
        assert_eq!(ns["metadata"]["labels"]["kubesphere.io/workspace"], "w1");
    }
    // Other changes to one's own project still work.
    let (s, v) = patch(
        c,
        "/api/v1/namespaces/p1",
        wsa,
        json!({"metadata": {"labels": {"team": "blue"}}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Once wsa administers w2 too, the move is allowed.
    add_member(
        c,
        admin,
        &format!("{IAM}/workspaces/w2/workspacemembers"),
        "wsa",
        "w2-admin",
    )
    .await;
    let (s, v) = patch(
        c,
        "/api/v1/namespaces/p1",
        wsa,
        json!({"metadata": {"labels": {"kubesphere.io/workspace": "w2"}}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["metadata"]["labels"]["kubesphere.io/workspace"], "w2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_secret_names_and_keys_never_values() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    for u in ["wsa", "viewer", "outsider"] {
        create_user(c, &admin, u).await;
    }
    create_workspace(c, &admin, "w1", "wsa").await;
    let wsa = c.login("wsa", USER_PW).await;
    create_project(c, &wsa, "w1", "p1").await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/p1/namespacemembers"),
        "viewer",
        "viewer",
    )
    .await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "kubernetes.io/basic-auth",
        "stringData": {"username": "app", "password": "hunter2-value"}});
    c.ok(
        Method::POST,
        "/api/v1/namespaces/p1/secrets",
        &wsa,
        Some(secret),
    )
    .await;
    let (viewer, outsider) = (
        c.login("viewer", USER_PW).await,
        c.login("outsider", USER_PW).await,
    );
    for path in [
        "/api/v1/namespaces/p1/secrets",
        "/api/v1/namespaces/p1/secrets/db",
        "/api/v1/watch/namespaces/p1/secrets",
    ] {
        let (s, v) = c.get(path, &viewer).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
    }
    // ConfigMaps stay readable.
    let (s, _) = c.get("/api/v1/namespaces/p1/configmaps", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let meta = "/kapis/resources.kubesphere.io/v1alpha3/namespaces/p1/secrets";
    for path in [meta.to_string(), format!("/clusters/host{meta}")] {
        let (s, v) = c.get(&path, &viewer).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        let text = v.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("aHVudGVyMi12YWx1ZQ"), "{text}");
        let db = v["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["metadata"]["name"] == "db"))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(db["type"], "kubernetes.io/basic-auth", "{v}");
        assert_eq!(db["keys"], json!(["password", "username"]), "{v}");
    }
    let (s, v) = c.get(&format!("{meta}/db"), &viewer).await;
    assert_eq!(
        (s, v["keys"].clone()),
        (StatusCode::OK, json!(["password", "username"]))
    );
    let (s, _) = c.get(meta, &outsider).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .get(
            "/kapis/resources.kubesphere.io/v1alpha3/namespaces/kubesphere-system/secrets",
            &viewer,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Streams into pods need create: a viewer's exec is refused before anything is forwarded.
    let (s, v) = c
        .get("/api/v1/namespaces/p1/pods/x/exec?command=sh", &viewer)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let outsider = c.login("outsider", USER_PW).await;
    searched_secrets(c, &admin, &wsa, &outsider).await;
}

/// Every namespace's Secrets, metadata only (`…/v1alpha3/secrets`): names, types, keys and
/// sizes without `data` or `stringData`, to exactly those the native cluster-wide list answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_wide_secret_metadata_is_authorized_as_a_secrets_list() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    for u in ["wsa", "viewer"] {
        create_user(c, &admin, u).await;
    }
    create_workspace(c, &admin, "w1", "wsa").await;
    let wsa = c.login("wsa", USER_PW).await;
    create_project(c, &wsa, "w1", "p1").await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/p1/namespacemembers"),
        "viewer",
        "viewer",
    )
    .await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "data": {"password": "aHVudGVyMi12YWx1ZQ=="}, "stringData": {"user": "app-user"}});
    c.ok(
        Method::POST,
        "/api/v1/namespaces/p1/secrets",
        &wsa,
        Some(secret),
    )
    .await;
    let meta = "/kapis/resources.kubesphere.io/v1alpha3/secrets";
    for path in [meta.to_string(), format!("/clusters/host{meta}")] {
        let (s, v) = c.get(&format!("{path}?name=db"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        let text = v.to_string();
        assert!(
            !text.contains("hunter2")
                && !text.contains("aHVudGVyMi12YWx1ZQ")
                && !text.contains("app-user"),
            "{text}"
        );
        let items = v["items"].as_array().cloned().unwrap_or_default();
        assert!(
            items
                .iter()
                .all(|i| i.get("data").is_none() && i.get("stringData").is_none()),
            "{text}"
        );
        let db = items
            .iter()
            .find(|i| i["metadata"]["namespace"] == "p1" && i["metadata"]["name"] == "db")
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(db["keys"], json!(["password", "user"]), "{text}");
        assert_eq!(db["sizes"], json!({"password": 13, "user": 8}), "{text}");
    }
    let (viewer, wsa) = (
        c.login("viewer", USER_PW).await,
        c.login("wsa", USER_PW).await,
    );
    for (who, token) in [("admin", &admin), ("wsa", &wsa), ("viewer", &viewer)] {
        let (native, _) = c.get("/api/v1/secrets", token).await;
        let (s, v) = c.get(meta, token).await;
        assert_eq!(s, native, "{who}: {v}");
    }
    let (s, _) = c.get(meta, &viewer).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a project viewer lists no cluster's Secrets"
    );
}

/// Searches as `token` until the answer's total is `want` (the index is fed by watches).
async fn search_total(c: &Client, query: &str, token: &str, want: impl Fn(u64) -> bool) -> Value {
    let path = format!("/kapis/search.orrery.io/v1alpha1/resources?{query}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let v = c.ok(Method::GET, &path, token, None).await;
        if want(v["totalItems"].as_u64().unwrap_or(0)) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{query}: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The global search names Secrets as the proxy does: to those who may list them, without
/// their data, and those of the platform's own namespace to platform administrators only, even
/// when a Role there grants more.
async fn searched_secrets(c: &Client, admin: &str, wsa: &str, outsider: &str) {
    let v = search_total(c, "kind=secrets&name=db&namespace=p1", wsa, |n| n == 1).await;
    assert_eq!(v["items"][0]["metadata"]["name"], "db");
    let text = v.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("aHVudGVyMi12YWx1ZQ"),
        "{text}"
    );
    search_total(c, "kind=secrets&name=db", outsider, |n| n == 0).await;
    // A Role in kubesphere-system listing Secrets and ConfigMaps, the outsider a member with it.
    let rules = json!([{"apiGroups": [""], "resources": ["secrets", "configmaps"],
        "verbs": ["get", "list", "watch"]}]);
    let ns = format!("{IAM}/namespaces/kubesphere-system");
    c.ok(
        Method::POST,
        &format!("{ns}/roles"),
        admin,
        Some(role("lister", rules)),
    )
    .await;
    add_member(
        c,
        admin,
        &format!("{ns}/namespacemembers"),
        "outsider",
        "lister",
    )
    .await;
    let probe =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "search-probe"}});
    c.ok(
        Method::POST,
        "/api/v1/namespaces/kubesphere-system/configmaps",
        admin,
        Some(probe),
    )
    .await;
    // The binding holds (its ConfigMaps are found), the platform's Secrets stay unnamed.
    search_total(
        c,
        "kind=configmaps&namespace=kubesphere-system&name=search-probe",
        outsider,
        |n| n == 1,
    )
    .await;
    let v = search_total(c, "kind=secrets&namespace=kubesphere-system", admin, |n| {
        n > 0
    })
    .await;
    assert!(v["items"][0]["data"].is_null(), "{v}");
    let v = c
        .ok(
            Method::GET,
            "/kapis/search.orrery.io/v1alpha1/resources?kind=secrets&namespace=kubesphere-system",
            outsider,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 0, "{v}");
}

/// A KubeSphere Role in the request body shape.
fn role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "Role", "metadata": {"name": name}, "rules": rules})
}
