//! The attacks of issue 11 reproduced against the fixture, each refused with the right status,
//! the objects compared before and after.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::fixture::Fixture;

const IAM_API: &str = "/apis/iam.kubesphere.io/v1beta1";
const RBAC_API: &str = "/apis/rbac.authorization.k8s.io/v1";

/// A request with a content type and extra headers; (status, body text).
async fn send(
    f: &Fixture,
    method: reqwest::Method,
    path: &str,
    user: &str,
    body: Option<(&str, Value)>,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let c = &f.env.http;
    let mut req = c
        .inner
        .request(method, format!("{}{path}", c.base))
        .bearer_auth(f.token(user));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some((ctype, b)) = body {
        req = req.header("content-type", ctype).body(b.to_string());
    }
    match req.send().await {
        Ok(r) => {
            let s = r.status();
            (s, r.text().await.unwrap_or_default())
        }
        Err(e) => (StatusCode::from_u16(599).unwrap_or_default(), e.to_string()),
    }
}

struct Report(Vec<String>);

impl Report {
    fn status(&mut self, what: &str, got: (StatusCode, String), want: StatusCode) -> String {
        if got.0 != want {
            let body: String = got.1.chars().take(300).collect();
            self.0.push(format!(
                "attack {what}: expected {want}, got {} {body}",
                got.0
            ));
        }
        got.1
    }

    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(format!("attack: {}", what.into()));
        }
    }
}

fn binding(kind: &str, api: &str, name: &str, user: &str, role_kind: &str, role: &str) -> Value {
    let group = api
        .trim_start_matches("/apis/")
        .split('/')
        .next()
        .unwrap_or_default();
    json!({"apiVersion": api.trim_start_matches("/apis/"), "kind": kind,
        "metadata": {"name": name},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
        "roleRef": {"apiGroup": group, "kind": role_kind, "name": role}})
}

/// The host's and member's objects, but not the platform's session Secrets (logins below
/// create them).
async fn snapshot(f: &Fixture) -> std::collections::BTreeMap<String, Value> {
    let mut s = crate::snapshot(f).await;
    s.retain(|k, _| !k.contains("/api/v1/secrets kubesphere-system/"));
    s
}

/// Runs every attack; returns failures.
pub async fn run(f: &Fixture) -> Vec<String> {
    let mut r = Report(Vec::new());
    let before = snapshot(f).await;
    user_through_namespace(f, &mut r).await;
    self_binding_platform_admin(f, &mut r).await;
    relabel_foreign_namespace(f, &mut r).await;
    foreign_password_reset(f, &mut r).await;
    member_cluster_admin(f, &mut r).await;
    upgrade_around_secrets_guard(f, &mut r).await;
    viewer_reads_secrets(f, &mut r).await;
    viewer_websocket_exec(f, &mut r).await;
    move_project_to_foreign_workspace(f, &mut r).await;
    native_workspace_list(f, &mut r).await;
    let after = snapshot(f).await;
    for change in crate::changes(&before, &after) {
        r.0.push(format!("attacks changed {change}"));
    }
    r.0
}

/// A project member reads the admin's User (and its password hash) through a namespace.
async fn user_through_namespace(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    for user in ["nsviewer", "nsadmin", "wsadmin"] {
        for prefix in ["", "/clusters/host"] {
            let path = format!("{prefix}{IAM_API}/namespaces/a-p/users/admin");
            let got = send(f, Method::GET, &path, user, None, &[]).await;
            let body = r.status(&format!("{user} GET {path}"), got, StatusCode::NOT_FOUND);
            r.check(
                !body.contains("$argon2") && !body.contains("\"password\""),
                format!("{user} GET {path} shows a password: {body}"),
            );
        }
    }
}

/// A project or workspace admin binds themself platform-admin under a namespace path.
async fn self_binding_platform_admin(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    let json_ct = "application/json";
    for user in ["nsadmin", "wsadmin"] {
        let b = binding(
            "GlobalRoleBinding",
            IAM_API,
            &format!("{user}-pwn"),
            user,
            "GlobalRole",
            "platform-admin",
        );
        let path = format!("{IAM_API}/namespaces/a-p/globalrolebindings");
        let got = send(f, Method::POST, &path, user, Some((json_ct, b)), &[]).await;
        r.status(&format!("{user} POST {path}"), got, StatusCode::NOT_FOUND);
        let got = send(
            f,
            Method::GET,
            "/kapis/iam.kubesphere.io/v1beta1/users",
            user,
            None,
            &[],
        )
        .await;
        r.status(
            &format!("{user} lists users afterwards"),
            got,
            StatusCode::FORBIDDEN,
        );
    }
}

/// Relabelling another tenant's namespace into one's own workspace.
async fn relabel_foreign_namespace(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    let merge = "application/merge-patch+json";
    for user in ["nsadmin", "wsadmin"] {
        let patch = json!({"metadata": {"labels": {"kubesphere.io/workspace": "a"}}});
        let path = "/api/v1/namespaces/a-p/namespaces/b-p";
        let got = send(f, Method::PATCH, path, user, Some((merge, patch)), &[]).await;
        r.status(&format!("{user} PATCH {path}"), got, StatusCode::NOT_FOUND);
    }
}

/// Resetting another user's password under a namespace path.
async fn foreign_password_reset(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    let merge = "application/merge-patch+json";
    let victim_before =
        crate::fixture::get_json(&f.host_kube, &format!("{IAM_API}/users/nsviewer")).await;
    for user in ["nsadmin", "wsadmin"] {
        let patch = json!({"spec": {"password": "Hijacked123"}});
        let path = format!("{IAM_API}/namespaces/a-p/users/nsviewer");
        let got = send(f, Method::PATCH, &path, user, Some((merge, patch)), &[]).await;
        r.status(&format!("{user} PATCH {path}"), got, StatusCode::NOT_FOUND);
    }
    let victim_after =
        crate::fixture::get_json(&f.host_kube, &format!("{IAM_API}/users/nsviewer")).await;
    r.check(
        victim_before["spec"]["password"] == victim_after["spec"]["password"],
        "the victim's password hash changed",
    );
    let (s, _) = f.env.http.token("nsviewer", "Hijacked123").await;
    r.check(
        s != StatusCode::OK,
        "the attacker's password logs the victim in",
    );
    let (s, _) = f.env.http.token("nsviewer", USER_PW).await;
    r.check(
        s == StatusCode::OK,
        "the victim cannot log in with their own password",
    );
}

/// Binding oneself cluster-admin on a member.
async fn member_cluster_admin(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    let json_ct = "application/json";
    for user in ["nsadmin", "wsadmin", "binder"] {
        for api in [RBAC_API, IAM_API] {
            let crb = binding(
                "ClusterRoleBinding",
                api,
                &format!("{user}-crb"),
                user,
                "ClusterRole",
                "cluster-admin",
            );
            // The namespace-path form of the cluster-scoped binding does not exist.
            let path = format!("/clusters/member{api}/namespaces/a-mp/clusterrolebindings");
            let got = send(
                f,
                Method::POST,
                &path,
                user,
                Some((json_ct, crb.clone())),
                &[],
            )
            .await;
            r.status(&format!("{user} POST {path}"), got, StatusCode::NOT_FOUND);
            // The cluster-scoped path is not theirs.
            let path = format!("/clusters/member{api}/clusterrolebindings");
            let got = send(f, Method::POST, &path, user, Some((json_ct, crb)), &[]).await;
            r.status(&format!("{user} POST {path}"), got, StatusCode::FORBIDDEN);
        }
    }
    // A RoleBinding to cluster-admin in one's project: refused to a caller who may write role
    // bindings but holds neither `bind` nor the role's rules (Kubernetes' escalation rule)…
    for api in [RBAC_API, IAM_API] {
        let rb = binding(
            "RoleBinding",
            api,
            "binder-rb",
            "binder",
            "ClusterRole",
            "cluster-admin",
        );
        let path = format!("/clusters/member{api}/namespaces/a-mp/rolebindings");
        let got = send(f, Method::POST, &path, "binder", Some((json_ct, rb)), &[]).await;
        r.status(
            &format!("binder POST {path} (to cluster-admin)"),
            got,
            StatusCode::FORBIDDEN,
        );
        let role = json!({"apiVersion": api.trim_start_matches("/apis/"), "kind": "Role",
            "metadata": {"name": "binder-star"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
        let path = format!("/clusters/member{api}/namespaces/a-mp/roles");
        let got = send(f, Method::POST, &path, "binder", Some((json_ct, role)), &[]).await;
        r.status(
            &format!("binder POST {path} (a */*/* role)"),
            got,
            StatusCode::FORBIDDEN,
        );
    }
    // …allowed to a project or workspace admin, whose `*` verbs include `bind` in the project
    // (as in Kubernetes), and then it grants nothing outside the project.
    for user in ["nsadmin", "wsadmin"] {
        for api in [RBAC_API, IAM_API] {
            let name = format!("{user}-rb");
            let rb = binding(
                "RoleBinding",
                api,
                &name,
                user,
                "ClusterRole",
                "cluster-admin",
            );
            let path = format!("/clusters/member{api}/namespaces/a-mp/rolebindings");
            let got = send(f, Method::POST, &path, user, Some((json_ct, rb)), &[]).await;
            r.status(
                &format!("{user} POST {path} (to cluster-admin)"),
                got,
                StatusCode::CREATED,
            );
        }
        for path in [
            "/clusters/member/api/v1/nodes",
            "/clusters/member/api/v1/namespaces/b-mp/configmaps",
            "/clusters/member/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        ] {
            let got = send(f, Method::GET, path, user, None, &[]).await;
            r.status(
                &format!("{user} GET {path} after binding cluster-admin in a-mp"),
                got,
                StatusCode::FORBIDDEN,
            );
        }
        for api in [RBAC_API, IAM_API] {
            let path = format!("/clusters/member{api}/namespaces/a-mp/rolebindings/{user}-rb");
            let got = send(f, Method::DELETE, &path, "padmin", None, &[]).await;
            r.status(&format!("cleanup DELETE {path}"), got, StatusCode::OK);
        }
    }
}

/// `Upgrade: x` around the platform-secrets guard, host and `/clusters/host`.
async fn upgrade_around_secrets_guard(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    for user in ["cviewer", "cadmin"] {
        for prefix in ["", "/clusters/host"] {
            for headers in [
                &[("upgrade", "x")][..],
                &[("connection", "Upgrade"), ("upgrade", "websocket")][..],
            ] {
                let path = format!("{prefix}/api/v1/namespaces/kubesphere-system/secrets");
                let got = send(f, Method::GET, &path, user, None, headers).await;
                let body = r.status(
                    &format!("{user} GET {path} {headers:?}"),
                    got,
                    StatusCode::FORBIDDEN,
                );
                r.check(
                    !body.contains("\"data\""),
                    format!("{user} read platform secrets: {body}"),
                );
            }
        }
    }
}

/// A project viewer reads Secrets (Kubernetes' view role excludes them).
async fn viewer_reads_secrets(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    for path in [
        "/api/v1/namespaces/a-p/secrets",
        "/api/v1/namespaces/a-p/secrets/seed",
        "/api/v1/namespaces/a-p/secrets?watch=true",
        "/clusters/host/api/v1/namespaces/a-p/secrets/seed",
        "/clusters/member/api/v1/namespaces/a-mp/secrets",
        "/clusters/member/api/v1/namespaces/a-mp/secrets/seed",
    ] {
        for user in ["nsviewer", "wsviewer"] {
            let got = send(f, Method::GET, path, user, None, &[]).await;
            let body = r.status(&format!("{user} GET {path}"), got, StatusCode::FORBIDDEN);
            r.check(
                !body.contains("c2VlZC1zZWNyZXQtdmFsdWU"),
                format!("{user} read a secret: {body}"),
            );
        }
    }
    let got = send(
        f,
        Method::GET,
        "/api/v1/namespaces/a-p/secrets/seed",
        "nsoperator",
        None,
        &[],
    )
    .await;
    r.status(
        "nsoperator reads a Secret of their project",
        got,
        StatusCode::OK,
    );
}

/// A viewer's WebSocket exec: exec needs create; an operator passes the check.
async fn viewer_websocket_exec(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    for (user, prefix, ns, want_refused) in [
        ("nsviewer", "", "a-p", true),
        ("wsviewer", "", "a-p", true),
        ("nsviewer", "/clusters/member", "a-mp", true),
        // Holds `get` on pods/exec, but not `create`.
        ("binder", "/clusters/member", "a-mp", true),
        ("nsoperator", "", "a-p", false),
        ("nsoperator", "/clusters/member", "a-mp", false),
    ] {
        let path = format!("{prefix}/api/v1/namespaces/{ns}/pods/p1/exec?command=sh&stdout=true");
        let status = websocket_status(f, &path, user).await;
        let refused = status == Some(403);
        r.check(
            refused == want_refused,
            format!(
                "{user} WebSocket exec {path}: status {status:?}, expected refused={want_refused}"
            ),
        );
    }

    for method in [Method::GET, Method::POST] {
        let path = "/clusters/member/api/v1/namespaces/a-mp/pods/p1/exec?command=sh&stdout=true";
        let got = send(f, method.clone(), path, "binder", None, &[]).await;
        r.status(
            &format!("binder {method} {path}"),
            got,
            StatusCode::FORBIDDEN,
        );
    }
}

/// A workspace admin moves their own project into a workspace they do not belong to.
async fn move_project_to_foreign_workspace(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    let merge = "application/merge-patch+json";
    let json_ct = "application/json";
    for (prefix, ns) in [
        ("", "a-p"),
        ("/clusters/host", "a-p"),
        ("/clusters/member", "a-mp"),
    ] {
        let patch = json!({"metadata": {"labels": {"kubesphere.io/workspace": "b"}}});
        let path = format!("{prefix}/api/v1/namespaces/{ns}");
        let got = send(
            f,
            Method::PATCH,
            &path,
            "wsadmin",
            Some((merge, patch)),
            &[],
        )
        .await;
        r.status(
            &format!("wsadmin PATCH {path} into b"),
            got,
            StatusCode::FORBIDDEN,
        );
        let put = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubesphere.io/workspace": "b"}}});
        let got = send(f, Method::PUT, &path, "wsadmin", Some((json_ct, put)), &[]).await;
        r.status(
            &format!("wsadmin PUT {path} into b"),
            got,
            StatusCode::FORBIDDEN,
        );
    }
}

/// The workspace list of the native API shows every workspace to anyone: the platform
/// narrows its own `/kapis` list, but the native list went to the cluster as it was.
async fn native_workspace_list(f: &Fixture, r: &mut Report) {
    use reqwest::Method;
    for user in ["wsadmin", "nsviewer", "nobody"] {
        for prefix in ["", "/clusters/host"] {
            let path = format!("{prefix}/apis/tenant.kubesphere.io/v1beta1/workspaces");
            let got = send(f, Method::GET, &path, user, None, &[]).await;
            let body = r.status(&format!("{user} GET {path}"), got, StatusCode::FORBIDDEN);
            r.check(
                !body.contains("\"name\":\"b\""),
                format!("{user} GET {path} lists workspace b"),
            );
        }
    }
}

/// The HTTP status a WebSocket handshake gets (`Some(101)` when it succeeds).
async fn websocket_status(f: &Fixture, path_and_query: &str, user: &str) -> Option<u16> {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://{}{path_and_query}", f.env.platform.addr);
    let mut req = url.as_str().into_client_request().ok()?;
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", f.token(user)).parse().ok()?,
    );
    req.headers_mut()
        .insert("sec-websocket-protocol", "v5.channel.k8s.io".parse().ok()?);
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => Some(resp.status().as_u16()),
        Err(Error::Http(resp)) => Some(resp.status().as_u16()),
        Err(_) => None,
    }
}
