//! Releases of the App Store are ordinary Helm releases: real Helm (`helm-python-sdk`, Helm v4's
//! engine) lists a release the store made and upgrades it, and the store shows the new
//! revision; the store then upgrades it in turn, and real Helm sees that revision.
use std::path::{Path, PathBuf};

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::Method;
use serde_json::{Value, json};

const APPS: &str = "/kapis/application.kubesphere.io/v2";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference Helm's `releases.py`, run as the venv's `bin/helm` (scripts/helm-reference).
fn real_helm(kubeconfig: &Path, ns: &str, args: &[&str]) -> Value {
    static HELM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let helm = HELM.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(repo_root().join("scripts/helm-reference/setup.sh"))
            .output()
            .expect("setup.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let py = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("python")
            .trim()
            .to_string();
        PathBuf::from(py).with_file_name("helm")
    });
    let out = std::process::Command::new(helm)
        .arg(repo_root().join("scripts/helm-reference/releases.py"))
        .arg(kubeconfig)
        .arg(ns)
        .args(args)
        .output()
        .expect("releases.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

async fn history(c: &Client, admin: &str, path: &str) -> Value {
    c.ok(Method::GET, &format!("{path}/history"), admin, None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_releases_and_real_helm_upgrade_each_other() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    // The platform's own app (no workspace), through review by the platform admin.
    let up = c
        .ok(
            Method::POST,
            &format!("{APPS}/apps"),
            &admin,
            Some(json!({"package": B64.encode(testdata::helm_chart_package("openelb"))})),
        )
        .await;
    let version = up["versionName"].as_str().expect("version").to_string();
    let vpath = format!("{APPS}/apps/openelb/versions/{version}");
    for state in ["submitted", "passed", "active"] {
        c.ok(
            Method::POST,
            &format!("{vpath}/action"),
            &admin,
            Some(json!({"state": state})),
        )
        .await;
    }
    let rel = format!("{APPS}/namespaces/p/applications/lb");
    c.ok(
        Method::POST,
        &format!("{APPS}/namespaces/p/applications"),
        &admin,
        Some(json!({"metadata": {"name": "lb"}, "spec": {"appID": "openelb", "appVersionID": version}})),
    )
    .await;
    eventually("the store installed it", || async {
        let (_, v) = c.get(&rel, &admin).await;
        matches!(v["status"]["state"].as_str(), Some("created" | "active"))
    })
    .await;

    // Real Helm lists it and upgrades it; the store shows the new revision.
    let kc = env.kubeconfig.clone();
    let list = tokio::task::spawn_blocking({
        let kc = kc.clone();
        move || real_helm(&kc, "p", &["list"])
    })
    .await
    .expect("join");
    let found: Vec<&Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == "lb")
        .collect();
    assert_eq!(found.len(), 1, "{list}");
    assert_eq!(found[0]["revision"], 1, "{list}");
    assert_eq!(
        (
            found[0]["chart_name"].as_str(),
            found[0]["chart_version"].as_str()
        ),
        (Some("openelb"), Some("0.6.1")),
        "{list}"
    );
    let chart = testdata::helm_chart("openelb").display().to_string();
    let up = tokio::task::spawn_blocking({
        let (kc, chart) = (kc.clone(), chart.clone());
        move || {
            real_helm(
                &kc,
                "p",
                &["upgrade-nowait", "lb", &chart, r#"{"fromHelm": true}"#],
            )
        }
    })
    .await
    .expect("join");
    assert!(up.get("error").is_none(), "{up}");
    let h = history(c, &admin, &rel).await;
    assert_eq!(h["totalItems"], 2, "{h}");
    assert_eq!(
        (
            h["items"][0]["revision"].as_i64(),
            h["items"][0]["status"].as_str()
        ),
        (Some(2), Some("deployed"))
    );

    // The store upgrades it in turn (new values); real Helm sees revision 3 and its values.
    c.ok(
        Method::PATCH,
        &rel,
        &admin,
        Some(json!({"spec": {"values": B64.encode("fromStore: 1\n")}})),
    )
    .await;
    eventually("the store upgraded it", || async {
        let (_, v) = c.get(&rel, &admin).await;
        history(c, &admin, &rel).await["totalItems"] == 3
            && matches!(v["status"]["state"].as_str(), Some("upgraded" | "active"))
    })
    .await;
    let got = tokio::task::spawn_blocking(move || real_helm(&kc, "p", &["get", "lb"]))
        .await
        .expect("join");
    assert_eq!(got["values"], json!({"fromStore": 1}), "{}", got["values"]);
    let summary = &got["all"]["summary"];
    assert_eq!(
        (summary["revision"].as_i64(), summary["status"].as_str()),
        (Some(3), Some("deployed")),
        "{}",
        got["status"]
    );
}
