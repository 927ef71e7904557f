//! A repository's older versions are synced from its index alone: their packages are fetched
//! on first use (files, deploy), checked against the index's digest and kept; a package that
//! does not match fails that use with a clear message on the version, and nothing is deployed.
use std::collections::HashMap;

use crate::common::*;
use crate::repos::{PASSWORD, add_and_sync, index, repo, repo_server, sha};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const APPS: &str = "/kapis/application.kubesphere.io/v2";

/// A small chart package: `Chart.yaml`, a README naming the version, one ConfigMap template.
fn tiny_chart(name: &str, version: &str, readme: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let files = [
        (
            "Chart.yaml",
            format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\n"),
        ),
        ("README.md", readme.to_string()),
        ("values.yaml", "greeting: hello\n".to_string()),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n"
                .to_string(),
        ),
    ];
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{path}"), body.as_bytes())
            .expect("tar");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

/// How many package chunks are stored for `version`.
async fn chunks(env: &Env, version: &str) -> usize {
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.kube().await, "kubesphere-system");
    cms.list(&kube::api::ListParams::default().labels(&format!(
        "application.kubesphere.io/appversion-id={version}"
    )))
    .await
    .expect("configmaps")
    .items
    .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_versions_are_fetched_on_first_use_and_checked() {
    let (files, [newest, older, deployed, listed]) = four_versions_one_tampered();
    let (addr, ca) = repo_server(files).await;

    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    // The sync checks and stores the newest package only: the tampered one is not read yet.
    let r = add_and_sync(
        c,
        &admin,
        repo("lazy", &format!("https://{addr}/r"), &ca, PASSWORD),
    )
    .await;
    assert_eq!(
        (
            r["status"]["state"].as_str(),
            r["status"]["message"].as_str()
        ),
        (Some("successful"), Some("4 new version(s) imported")),
        "{r}"
    );
    assert!(chunks(&env, "lazy-web-2-0-0").await > 0);
    for older in ["lazy-web-1-0-0", "lazy-web-1-1-0", "lazy-web-1-2-0"] {
        assert_eq!(chunks(&env, older).await, 0, "{older} was not fetched");
    }
    let versions = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps/lazy-web/versions?sortBy=name&ascending=true"),
            &admin,
            None,
        )
        .await;
    let listed_versions: Vec<(Value, Value, Value)> = versions["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|v| {
            (
                v["spec"]["versionName"].clone(),
                v["spec"]["digest"].clone(),
                v["status"]["state"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed_versions,
        [
            (json!("1.0.0"), json!(sha(&listed)), json!("active")),
            (json!("1.1.0"), json!(sha(&older)), json!("active")),
            (json!("1.2.0"), json!(sha(&deployed)), json!("active")),
            (json!("2.0.0"), json!(sha(&newest)), json!("active")),
        ]
    );

    // An older version's files: fetched now, checked, and kept.
    let v11 = format!("{APPS}/apps/lazy-web/versions/lazy-web-1-1-0");
    let files = c
        .ok(Method::GET, &format!("{v11}/files"), &admin, None)
        .await;
    let readme = B64
        .decode(files["README.md"].as_str().expect("README"))
        .expect("base64");
    assert_eq!(readme, b"web one point one");
    assert!(chunks(&env, "lazy-web-1-1-0").await > 0);
    let pkg = c
        .ok(Method::GET, &format!("{v11}/package"), &admin, None)
        .await;
    assert_eq!(
        B64.decode(pkg["package"].as_str().expect("package"))
            .expect("base64"),
        older
    );

    deploying_the_tampered_version_fails(&env, &admin, &listed).await;

    // A good older version deploys: its package is fetched on that first use.
    c.ok(
        Method::POST,
        &format!("{APPS}/namespaces/p/applications"),
        &admin,
        Some(json!({"metadata": {"name": "one"},
            "spec": {"appID": "lazy-web", "appVersionID": "lazy-web-1-2-0"}})),
    )
    .await;
    assert!(chunks(&env, "lazy-web-1-2-0").await > 0);
    eventually("the older version's release is created", || async {
        let (_, v) = c
            .get(&format!("{APPS}/namespaces/p/applications/one"), &admin)
            .await;
        matches!(v["status"]["state"].as_str(), Some("created" | "active"))
    })
    .await;

    // A resync writes nothing: every version is there with its digest.
    let r = c
        .ok(
            Method::POST,
            &format!("{APPS}/repos/lazy/action"),
            &admin,
            Some(json!({"action": "sync"})),
        )
        .await;
    assert_eq!(r["status"]["message"], "0 new version(s) imported", "{r}");
}

/// A repository's files: web 1.0.0 (served tampered), 1.1.0, 1.2.0 and 2.0.0; and the packages
/// of 2.0.0, 1.1.0, 1.2.0 and (as the index lists it) 1.0.0.
fn four_versions_one_tampered() -> (HashMap<String, Vec<u8>>, [Vec<u8>; 4]) {
    let newest = tiny_chart("web", "2.0.0", "web two");
    let older = tiny_chart("web", "1.1.0", "web one point one");
    let deployed = tiny_chart("web", "1.2.0", "web one point two");
    let listed = tiny_chart("web", "1.0.0", "web one");
    // The repository now serves another package than its index lists for 1.0.0.
    let tampered = tiny_chart("web", "1.0.0", "web one, changed");
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    files.insert(
        "/r/index.yaml".into(),
        index(&[
            ("web", "1.0.0", "web-1.0.0.tgz", &sha(&listed)),
            ("web", "1.1.0", "web-1.1.0.tgz", &sha(&older)),
            ("web", "1.2.0", "web-1.2.0.tgz", &sha(&deployed)),
            ("web", "2.0.0", "web-2.0.0.tgz", &sha(&newest)),
        ])
        .into_bytes(),
    );
    files.insert("/r/web-2.0.0.tgz".into(), newest.clone());
    files.insert("/r/web-1.1.0.tgz".into(), older.clone());
    files.insert("/r/web-1.2.0.tgz".into(), deployed.clone());
    files.insert("/r/web-1.0.0.tgz".into(), tampered);
    (files, [newest, older, deployed, listed])
}

/// Deploying the tampered version fails with the reason, deploys nothing, stores nothing,
/// and the version says why.
async fn deploying_the_tampered_version_fails(env: &Env, admin: &str, listed: &[u8]) {
    let c = &env.http;
    // Deploying the tampered version fails with the reason, deploys nothing, stores nothing,
    // and the version says why.
    create_workspace(c, admin, "w", "admin").await;
    create_project(c, admin, "w", "p").await;
    let (s, e) = c
        .post(
            &format!("{APPS}/namespaces/p/applications"),
            admin,
            json!({"metadata": {"name": "old"},
                "spec": {"appID": "lazy-web", "appVersionID": "lazy-web-1-0-0"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{e}");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("lazy-web-1-0-0")
            && message.contains(&format!("the index says {}", sha(listed))),
        "{message}"
    );
    let (s, _) = c
        .get(&format!("{APPS}/namespaces/p/applications/old"), admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(chunks(env, "lazy-web-1-0-0").await, 0);
    let v10 = c
        .ok(
            Method::GET,
            &format!("{APPS}/apps/lazy-web/versions/lazy-web-1-0-0"),
            admin,
            None,
        )
        .await;
    let note = v10["status"]["message"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("fetching the package failed") && note.contains("the index says"),
        "{v10}"
    );
    assert_eq!(v10["status"]["state"], "active", "the review state stays");
    let (s, _) = c
        .get(
            &format!("{APPS}/apps/lazy-web/versions/lazy-web-1-0-0/files"),
            admin,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
}
