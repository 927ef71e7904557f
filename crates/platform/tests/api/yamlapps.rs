//! Plain-manifest apps (`appType: yaml`): uploaded as YAML into a workspace, deployed from the
//! workspace's own templates into its project, upgraded with a new version and uninstalled like
//! a chart's release; the manifests are applied verbatim (nothing in them is templated) and a
//! yaml app takes no values.
use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use k8s_openapi::api::core::v1::ConfigMap;
use reqwest::{Method, StatusCode};
use serde_json::json;

const APPS: &str = "/kapis/application.kubesphere.io/v2";

const V1: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: \"{{ .Values.not.a.template }}\"\n";
const V2: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: hello\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\ndata: {}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_app_is_released_like_a_chart() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    let apps = format!("{APPS}/workspaces/w/apps");

    bad_uploads_are_refused(c, &admin, &apps).await;

    let v1 = uploaded_as_yaml(c, &admin, &apps).await;

    // Deployed from the workspace's own template into its project; values are refused.
    let rels = format!("{APPS}/namespaces/p/applications");
    let (s, v) = c
        .post(
            &rels,
            &admin,
            json!({"metadata": {"name": "greet"}, "spec": {"appID": "greet", "appVersionID": v1,
                "values": B64.encode("a: 1\n")}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no values"),
        "{v}"
    );
    let made = c
        .ok(
            Method::POST,
            &rels,
            &admin,
            Some(json!({"metadata": {"name": "greet"}, "spec": {"appID": "greet", "appVersionID": v1}})),
        )
        .await;
    assert_eq!(made["spec"]["appType"], "yaml", "{made}");
    let rel = format!("{rels}/greet");
    eventually("the yaml app is released", || async {
        let (_, v) = c.get(&rel, &admin).await;
        matches!(v["status"]["state"].as_str(), Some("created" | "active"))
    })
    .await;
    let cms: kube::Api<ConfigMap> = kube::Api::namespaced(env.kube().await, "p");
    let cm = cms.get("greeting").await.expect("configmap");
    assert_eq!(
        cm.data.unwrap_or_default().get("text").map(String::as_str),
        Some("{{ .Values.not.a.template }}"),
        "applied verbatim"
    );
    let res = c
        .ok(Method::GET, &format!("{rel}/resources"), &admin, None)
        .await;
    assert_eq!(res["totalItems"], 1, "{res}");

    // A new version upgrades it: one object changed, one added.
    let v2 = c
        .ok(
            Method::POST,
            &format!("{apps}/greet/versions"),
            &admin,
            Some(json!({"appType": "yaml", "versionName": "1.1.0", "package": B64.encode(V2)})),
        )
        .await;
    let v2 = v2["metadata"]["name"].as_str().expect("name").to_string();
    c.ok(
        Method::PATCH,
        &rel,
        &admin,
        Some(json!({"spec": {"appVersionID": v2}})),
    )
    .await;
    eventually("upgraded to 1.1.0", || async {
        cms.get_opt("second").await.ok().flatten().is_some()
    })
    .await;
    let cm = cms.get("greeting").await.expect("configmap");
    assert_eq!(
        cm.data.unwrap_or_default().get("text").map(String::as_str),
        Some("hello")
    );
    let h = c
        .ok(Method::GET, &format!("{rel}/history"), &admin, None)
        .await;
    assert_eq!(h["totalItems"], 2, "{h}");

    // Uninstalled: its objects go with it.
    c.ok(Method::DELETE, &rel, &admin, None).await;
    eventually("uninstalled", || async {
        cms.get_opt("greeting").await.ok().flatten().is_none()
            && cms.get_opt("second").await.ok().flatten().is_none()
    })
    .await;
}

/// What is refused, each with its reason and nothing made.
async fn bad_uploads_are_refused(c: &Client, admin: &str, apps: &str) {
    // What is refused, each with its reason and nothing made.
    for (body, why) in [
        (
            json!({"appType": "yaml", "package": B64.encode(V1)}),
            "appName",
        ),
        (
            json!({"appType": "yaml", "appName": "greet", "package": B64.encode(V1)}),
            "versionName",
        ),
        (
            json!({"appType": "yaml", "appName": "greet", "versionName": "one", "package": B64.encode(V1)}),
            "semantic version",
        ),
        (
            json!({"appType": "yaml", "appName": "greet", "versionName": "1.0.0", "package": B64.encode("kind: ConfigMap\n")}),
            "lacks apiVersion",
        ),
        (
            json!({"appType": "kustomize", "appName": "greet", "package": B64.encode(V1)}),
            "neither helm",
        ),
    ] {
        let (s, v) = c.post(apps, admin, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["message"].as_str().unwrap_or_default().contains(why),
            "{why}: {v}"
        );
    }
    let (_, list) = c.get(apps, admin).await;
    assert_eq!(list["totalItems"], 0, "{list}");
}

/// Uploaded as a yaml app, its files show the manifests as uploaded, and a chart cannot become
/// a version of it. The version's name.
async fn uploaded_as_yaml(c: &Client, admin: &str, apps: &str) -> String {
    let up = c
        .ok(
            Method::POST,
            apps,
            admin,
            Some(
                json!({"appType": "yaml", "appName": "greet", "versionName": "1.0.0",
                "package": B64.encode(V1)}),
            ),
        )
        .await;
    assert_eq!(up["application"]["spec"]["appType"], "yaml", "{up}");
    assert_eq!(up["version"]["spec"]["appType"], "yaml", "{up}");
    let v1 = up["versionName"].as_str().expect("version").to_string();
    // Its files show the manifests as uploaded.
    let files = c
        .ok(
            Method::GET,
            &format!("{apps}/greet/versions/{v1}/files"),
            admin,
            None,
        )
        .await;
    let shown = B64
        .decode(files["manifests.yaml"].as_str().expect("manifests"))
        .expect("b64");
    assert_eq!(shown, V1.as_bytes());
    // A chart cannot become a version of it.
    let (s, v) = c
        .post(
            &format!("{apps}/greet/versions"),
            admin,
            json!({"package": B64.encode(testdata::helm_chart_package("openelb"))}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    v1
}
