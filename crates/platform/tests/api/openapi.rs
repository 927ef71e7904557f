//! The platform's OpenAPI documents: the host's, every native path kept, with the platform's
//! `/kapis` routes and the dynamic API merged in; read by kubectl through the platform for
//! validation, `explain` and apply.
use crate::common::kubectl::{kubectl, out};
use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every `$ref` in `v` (recursively).
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

async fn raw(c: &Client, path: &str, token: &str, accept: &str) -> reqwest::Response {
    c.inner
        .get(format!("{}{path}", c.base))
        .bearer_auth(token)
        .header("accept", accept)
        .send()
        .await
        .expect("send")
}

fn served_crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.demo.example.com", "labels": {"kubesphere.io/resource-served": "true"}},
        "spec": {"group": "demo.example.com", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "description": "What a gadget does.",
                        "properties": {"size": {"type": "integer", "description": "How big the gadget is."}}}}}}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_merge_the_platform_routes_into_the_hosts() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    c.ok(
        Method::POST,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &admin,
        Some(served_crd()),
    )
    .await;
    eventually("the CRD is served", || async {
        c.get(
            "/apis/demo.example.com/v1/namespaces/default/gadgets",
            &admin,
        )
        .await
        .0 == StatusCode::OK
    })
    .await;

    // v2 as JSON: native paths kept, the platform's and the dynamic API's added, every
    // reference resolving.
    let r = raw(c, "/openapi/v2", &admin, "application/json").await;
    assert_eq!(r.status(), StatusCode::OK);
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    let doc: Value = r.json().await.expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/namespaces/{namespace}/pods",
        "/apis/apps/v1/namespaces/{namespace}/deployments",
        "/apis/iam.kubesphere.io/v1beta1/users",
        "/kapis/iam.kubesphere.io/v1beta1/users",
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/{workspace}/workspacemembers",
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/{workspace}/resourcequotas/{quota}",
        "/kapis/resources.kubesphere.io/v1alpha3/namespaces/{namespace}/{resources}",
        "/kapis/demo.example.com/v1/namespaces/{namespace}/gadgets",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    let users = &paths["/kapis/iam.kubesphere.io/v1beta1/users/{user}"]["get"];
    assert_eq!(
        users["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.kubesphere.iam.v1beta1.User"
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r.strip_prefix("#/definitions/").expect("v2 ref");
        assert!(
            doc["definitions"].get(name).is_some(),
            "{r} does not resolve"
        );
    }
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().into_iter().flatten())
        .filter_map(|(_, op)| op["operationId"].as_str())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "operation ids are unique");
    // Unchanged documents answer 304 to their ETag.
    let r = c
        .inner
        .get(format!("{}/openapi/v2", c.base))
        .bearer_auth(&admin)
        .header("accept", "application/json")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // As gnostic protobuf when client-go asks for it.
    let r = raw(
        c,
        "/openapi/v2",
        &admin,
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    // Without credentials: nothing.
    let r = c
        .inner
        .get(format!("{}/openapi/v2", c.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    v3_documents_are_self_contained(c, &admin).await;
}

/// v3: the host's index plus the platform's group-versions, each document self-contained.
async fn v3_documents_are_self_contained(c: &Client, admin: &str) {
    // v3: the host's index plus the platform's group-versions, each document self-contained.
    let (s, index) = c.get("/openapi/v3", admin).await;
    assert_eq!(s, StatusCode::OK);
    for key in [
        "api/v1",
        "apis/apps/v1",
        "kapis/iam.kubesphere.io/v1beta1",
        "kapis/tenant.kubesphere.io/v1beta1",
        "kapis/demo.example.com/v1",
    ] {
        let url = index["paths"][key]["serverRelativeURL"]
            .as_str()
            .unwrap_or_else(|| panic!("{key} not in the index"));
        let (s, doc) = c.get(url, admin).await;
        assert_eq!(s, StatusCode::OK, "{url}");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in &all {
            let name = r.strip_prefix("#/components/schemas/").expect("v3 ref");
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{key}: {r} does not resolve"
            );
        }
        if key == "kapis/iam.kubesphere.io/v1beta1" {
            assert_eq!(
                doc["paths"]["/kapis/iam.kubesphere.io/v1beta1/users/{user}"]["get"]["responses"]["200"]
                    ["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/io.kubesphere.iam.v1beta1.User"
            );
        }
    }
    let (s, _) = c
        .get("/openapi/v3/kapis/nowhere.example.com/v1", admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// kubectl through the platform: client-side validation (which reads the OpenAPI documents)
/// of a Deployment and of a `kind: List`, `apply`, and `explain` of native and platform kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_validates_applies_and_explains_through_the_platform() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    c.ok(
        Method::POST,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &admin,
        Some(served_crd()),
    )
    .await;
    let r = c
        .inner
        .get(format!(
            "{}/kapis/resources.kubesphere.io/v1alpha2/users/admin/kubeconfig",
            c.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    let kc = env.dir.path().join("admin.kubeconfig");
    std::fs::write(&kc, r.text().await.expect("kubeconfig")).expect("write");
    let home = env.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let manifest = env.dir.path().join("app.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: settings\n    namespace: default\n  data:\n    k: v\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n    namespace: default\n  spec:\n    replicas: 2\n    selector:\n      matchLabels: {app: web}\n    template:\n      metadata:\n        labels: {app: web}\n      spec:\n        containers:\n        - name: web\n          image: nginx\n",
    )
    .expect("manifest");
    let run = |args: Vec<String>| {
        let (kc, home) = (kc.clone(), home.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                kubectl(&kc, &home, &args)
            })
            .await
            .expect("join")
        }
    };
    let m = manifest.display().to_string();
    for verb in ["create", "apply"] {
        let mut args = vec![verb.to_string(), "-f".into(), m.clone()];
        if verb == "apply" {
            args.push("--server-side".into());
        }
        let o = run(args).await;
        assert!(o.status.success(), "kubectl {verb}: {}", out(&o));
    }
    let o = run(vec![
        "apply".into(),
        "-f".into(),
        m.clone(),
        "--dry-run=server".into(),
    ])
    .await;
    assert!(o.status.success(), "client-side apply: {}", out(&o));
    // A misspelt field is caught by validation against the merged schema.
    let bad = env.dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  replicaz: 2\n  selector:\n    matchLabels: {app: bad}\n  template:\n    metadata:\n      labels: {app: bad}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
    )
    .expect("bad");
    let o = run(vec![
        "create".into(),
        "-f".into(),
        bad.display().to_string(),
    ])
    .await;
    assert!(
        !o.status.success() && out(&o).contains("replicaz"),
        "{}",
        out(&o)
    );
    for (what, expect) in [
        ("deployments.spec.replicas", "replicas"),
        ("users.iam.kubesphere.io.spec", "email"),
        (
            "gadgets.demo.example.com.spec.size",
            "How big the gadget is.",
        ),
    ] {
        let o = run(vec!["explain".into(), what.into()]).await;
        assert!(
            o.status.success() && out(&o).contains(expect),
            "explain {what}: {}",
            out(&o)
        );
        let o = run(vec![
            "explain".into(),
            what.into(),
            "--output=plaintext-openapiv2".into(),
        ])
        .await;
        assert!(
            o.status.success() && out(&o).contains(expect),
            "explain (v2) {what}: {}",
            out(&o)
        );
    }
}

/// Each documented route and method is one the platform serves: none falls through to the
/// native proxy's "not found" or to "method not allowed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    for route in platform::http::openapi::ROUTES {
        // The generic API's `{resources}` must name a resource the cluster serves.
        let plural = if route.path.contains("/namespaces/{namespace}/{resources}") {
            "configmaps"
        } else {
            "nodes"
        };
        let path: String = route
            .path
            .split('/')
            .map(|s| match s {
                "{resources}" => plural,
                s if s.starts_with('{') => "zz-none",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        for m in route.methods {
            if path.ends_with("/signingkey/rotate") {
                continue; // rotating the key would end the admin's session; api/users tests it
            }
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
            let r = c
                .inner
                .request(method.clone(), format!("{}{path}", c.base))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body("{")
                .send()
                .await
                .expect("send");
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {body}"
            );
            assert!(
                !(status == StatusCode::NOT_FOUND
                    && body.contains("the server could not find the requested resource")),
                "{method} {path} is not routed: {body}"
            );
        }
    }
}
