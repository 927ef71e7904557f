//! `extensions.kubesphere.io` routing (issue 14): APIService, ReverseProxy and JSBundle, with
//! backends started here on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

const EXT: &str = "/apis/extensions.kubesphere.io/v1alpha1";

/// One request a backend saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: http::HeaderMap,
}

/// A backend recording what reaches it; answers 200 with `x-backend` and `x-secret` headers.
struct Backend {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    async fn start() -> Backend {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(Seen {
                    method: req.method().to_string(),
                    uri: req.uri().to_string(),
                    headers: req.headers().clone(),
                });
                (
                    [("x-backend", "yes"), ("x-secret", "s3cret")],
                    axum::Json(json!({"ok": true})),
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Backend {
            url,
            seen,
            stop: Some(stop),
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Stops listening and closes idle connections.
    async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("backend stops")
            .unwrap();
    }
}

/// A user holding a platform role aggregated from an extension's role template.
async fn user_with_template(c: &Client, admin: &str, user: &str, rules: serde_json::Value) {
    let template = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "RoleTemplate",
        "metadata": {"name": "global-demo-view", "labels": {"iam.kubesphere.io/scope": "global",
            "iam.kubesphere.io/category": "extensions"}},
        "spec": {"displayName": {"en": "Demo"}, "rules": rules}});
    c.ok(
        Method::POST,
        "/apis/iam.kubesphere.io/v1beta1/roletemplates",
        admin,
        Some(template),
    )
    .await;
    let role = json!({"metadata": {"name": "demo-viewer"},
        "aggregationRoleTemplates": {"templateNames": ["global-demo-view"]}});
    c.ok(
        Method::POST,
        &format!("{IAM}/globalroles"),
        admin,
        Some(role),
    )
    .await;
    create_user(c, admin, user).await;
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/{user}"),
        admin,
        Some(json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": "demo-viewer"}}})),
    )
    .await;
}

async fn state_of(c: &Client, admin: &str, path: &str) -> String {
    let (_, v) = c.get(path, admin).await;
    v["status"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_service_identity_authorization_and_unavailable() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let mut backend = Backend::start().await;
    let svc = json!({"apiVersion": "extensions.kubesphere.io/v1alpha1", "kind": "APIService",
        "metadata": {"name": "v1alpha1.demo.kubesphere.io"},
        "spec": {"group": "demo.kubesphere.io", "version": "v1alpha1", "url": backend.url}});
    c.ok(
        Method::POST,
        &format!("{EXT}/apiservices"),
        &admin,
        Some(svc),
    )
    .await;
    user_with_template(
        c,
        &admin,
        "dev",
        json!([{"apiGroups": ["demo.kubesphere.io"], "resources": ["*"], "verbs": ["get", "list"]}]),
    )
    .await;
    create_user(c, &admin, "other").await;
    let dev = c.login("dev", USER_PW).await;
    let other = c.login("other", USER_PW).await;
    let path = "/kapis/demo.kubesphere.io/v1alpha1/namespaces/n1/widgets?limit=3";
    let forged = |token: &str| {
        c.inner
            .get(format!("{}{path}", c.base))
            .bearer_auth(token)
            .header("X-Remote-User", "admin")
            .header("X-Remote-Group", "system:masters")
            .header("X-Remote-Extra-Scopes", "all")
            .header("Cookie", "token=stolen")
    };
    // The caller's identity arrives; the forged one, the token and cookies never do.
    eventually("the APIService routes", || async {
        forged(&dev).send().await.unwrap().status() == StatusCode::OK
    })
    .await;
    let seen = backend.seen();
    let last = seen.last().expect("backend reached");
    assert_eq!(last.method, "GET");
    assert_eq!(last.uri, path);
    for s in &seen {
        assert_eq!(s.headers["x-remote-user"], "dev");
        let groups: Vec<_> = s.headers.get_all("x-remote-group").iter().collect();
        assert!(!groups.iter().any(|g| *g == "system:masters"), "{groups:?}");
        assert!(
            groups.iter().any(|g| *g == "system:authenticated"),
            "{groups:?}"
        );
        for h in ["authorization", "cookie", "x-remote-extra-scopes"] {
            assert!(!s.headers.contains_key(h), "{h} reached the backend");
        }
    }
    let r = forged(&dev).send().await.unwrap();
    assert_eq!(r.headers()["x-backend"], "yes");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"ok": true})
    );
    // Without the role template: 403, and the backend sees nothing.
    let before = backend.seen().len();
    assert_eq!(
        forged(&other).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let (s, _) = c
        .call(
            Method::DELETE,
            "/kapis/demo.kubesphere.io/v1alpha1/namespaces/n1/widgets/w",
            Some(&dev),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "dev may only read");
    assert_eq!(backend.seen().len(), before);
    // Another group is not the APIService's.
    let (s, _) = c
        .get("/kapis/other.kubesphere.io/v1alpha1/widgets", &admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let svc_path = format!("{EXT}/apiservices/v1alpha1.demo.kubesphere.io");
    eventually("status Available", || async {
        state_of(c, &admin, &svc_path).await == "Available"
    })
    .await;
    // A stopped backend: 503 quickly, and the state follows.
    backend.stop().await;
    let t = Instant::now();
    let r = forged(&dev).send().await.unwrap();
    let took = t.elapsed();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < Duration::from_secs(3), "503 took {took:?}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "ServiceUnavailable", "{v}");
    eventually("status Unavailable", || async {
        state_of(c, &admin, &svc_path).await == "Unavailable"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_proxy_directives_and_js_bundle_from_configmap() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let backend = Backend::start().await;
    let rp = |name: &str, spec: serde_json::Value| {
        json!({"apiVersion": "extensions.kubesphere.io/v1alpha1", "kind": "ReverseProxy",
            "metadata": {"name": name}, "spec": spec})
    };
    c.ok(
        Method::POST,
        &format!("{EXT}/reverseproxies"),
        &admin,
        Some(rp(
            "demo",
            json!({"matcher": {"path": "/proxy/demo/*", "method": "*"},
                "upstream": {"url": backend.url},
                "directives": {"stripPathPrefix": "/proxy/demo", "method": "PUT",
                    "headerUp": ["X-Added up value", "-X-Drop"],
                    "headerDown": ["X-Down down", "-X-Secret"], "authProxy": true}}),
        )),
    )
    .await;
    c.ok(
        Method::POST,
        &format!("{EXT}/reverseproxies"),
        &admin,
        Some(rp(
            "plain",
            json!({"matcher": {"path": "/proxy/plain", "method": "GET"},
                "upstream": {"url": backend.url}}),
        )),
    )
    .await;
    let send = |method: Method, path: &str, token: &str| {
        c.inner
            .request(method, format!("{}{path}", c.base))
            .bearer_auth(token)
            .header("X-Drop", "1")
            .header("X-Keep", "1")
            .header("X-Remote-User", "forged")
            .send()
    };
    eventually("the ReverseProxy routes", || async {
        send(Method::GET, "/proxy/demo/a/b?q=1", &admin)
            .await
            .unwrap()
            .status()
            == StatusCode::OK
    })
    .await;
    let r = send(Method::GET, "/proxy/demo/a/b?q=1", &admin)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // headerDown: added and removed; the rest of the backend's headers pass.
    assert_eq!(r.headers()["x-down"], "down");
    assert!(!r.headers().contains_key("x-secret"));
    assert_eq!(r.headers()["x-backend"], "yes");
    let s = backend.seen().last().cloned().unwrap();
    // stripPathPrefix, method, headerUp (add and remove), authProxy.
    assert_eq!(s.uri, "/a/b?q=1");
    assert_eq!(s.method, "PUT");
    assert_eq!(s.headers["x-added"], "up value");
    assert!(!s.headers.contains_key("x-drop"));
    assert_eq!(s.headers["x-keep"], "1");
    assert_eq!(s.headers["x-remote-user"], "admin");
    assert!(!s.headers.contains_key("authorization"));
    // No directives: path and method unchanged, no identity (not even the forged one), the
    // client's Host kept (no changeOrigin).
    let r = send(Method::GET, "/proxy/plain", &admin).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-secret"], "s3cret");
    let s = backend.seen().last().cloned().unwrap();
    assert_eq!((s.method.as_str(), s.uri.as_str()), ("GET", "/proxy/plain"));
    assert!(!s.headers.contains_key("x-remote-user"));
    assert_eq!(s.headers["x-drop"], "1");
    let platform_host = c
        .base
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    assert_eq!(s.headers["host"], platform_host);
    // The matcher's method: a POST is no route of "plain".
    let before = backend.seen().len();
    let r = send(Method::POST, "/proxy/plain", &admin).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A user without a role covering the path: 403, nothing reaches the backend.
    create_user(c, &admin, "dev").await;
    let dev = c.login("dev", USER_PW).await;
    let r = send(Method::GET, "/proxy/demo/a", &dev).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(backend.seen().len(), before);

    // A JSBundle from a ConfigMap key, at its default link.
    c.ok(
        Method::POST,
        "/api/v1/namespaces",
        &admin,
        Some(json!({"metadata": {"name": "extension-demo"}})),
    )
    .await;
    let js = "export default { routes: [] };\n";
    c.ok(
        Method::POST,
        "/api/v1/namespaces/extension-demo/configmaps",
        &admin,
        Some(json!({"metadata": {"name": "bundle"}, "data": {"index.js": js}})),
    )
    .await;
    c.ok(
        Method::POST,
        &format!("{EXT}/jsbundles"),
        &admin,
        Some(
            json!({"apiVersion": "extensions.kubesphere.io/v1alpha1", "kind": "JSBundle",
            "metadata": {"name": "demo"},
            "spec": {"rawFrom": {"configMapKeyRef":
                {"namespace": "extension-demo", "name": "bundle", "key": "index.js"}}}}),
        ),
    )
    .await;
    let get = |etag: Option<String>| {
        let mut r = c
            .inner
            .get(format!("{}/dist/demo/index.js", c.base))
            .bearer_auth(&admin);
        if let Some(e) = etag {
            r = r.header("If-None-Match", e);
        }
        r.send()
    };
    eventually("the JSBundle is served", || async {
        get(None).await.unwrap().status() == StatusCode::OK
    })
    .await;
    let r = get(None).await.unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(r.text().await.unwrap(), js);
    let r = get(Some(etag.clone())).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(r.bytes().await.unwrap().is_empty());
    // A changed ConfigMap: a new ETag, the new bytes.
    c.ok(
        Method::PUT,
        "/api/v1/namespaces/extension-demo/configmaps/bundle",
        &admin,
        Some(json!({"metadata": {"name": "bundle"}, "data": {"index.js": "export default 2;\n"}})),
    )
    .await;
    let r = get(Some(etag.clone())).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(r.text().await.unwrap(), "export default 2;\n");
    // Another name under /dist/ is no bundle.
    let (s, _) = c.get("/dist/nothing/index.js", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
