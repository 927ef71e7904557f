//! Issue 18, upgrades: two adjacent versions side by side, as during a rolling upgrade. One
//! build runs as this release and as the previous one (`ORRERY_TEST_REPORTED_VERSION`, the
//! test-only way to make a replica report and install as another version).
//!
//! - The older replica, started after the newer one, leaves the CRDs as the newer one
//!   installed them (no write to any of them) and records nothing of its own.
//! - Sessions are shared both ways: a login at the older replica works at the newer, a logout
//!   at the newer is refused at the older.
//! - One replica leads: the Lease names it and its version, and `orrery_leader` is 1 on it
//!   and 0 on the other; killed, the other version takes over.
//! - A replica two minor versions away refuses to start, saying why.

mod common;
mod platform;

use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use reqwest::Method;

const PASSWORD: &str = platform::ADMIN_PASSWORD;
const ANNOTATION: &str = "orrery.io/platform-version";

/// This release and the one before it (same major, previous minor).
fn versions() -> (String, String) {
    let this = env!("CARGO_PKG_VERSION").to_string();
    let mut parts = this.split('.');
    let major: u64 = parts.next().and_then(|p| p.parse().ok()).expect("major");
    let minor: u64 = parts.next().and_then(|p| p.parse().ok()).expect("minor");
    assert!(
        minor > 0,
        "the test needs a previous minor version of {this}"
    );
    (this, format!("{major}.{}.9", minor - 1))
}

/// A replica over plain HTTP reporting `version` as its own (its real one when `None`).
fn replica(host: &common::TestCluster, name: &str, version: Option<&str>) -> platform::Replica {
    let env: Vec<(&str, &str)> = version
        .map(|v| vec![("ORRERY_TEST_REPORTED_VERSION", v)])
        .unwrap_or_default();
    platform::replica(&host.kubeconfig, name, &["--tls=false"], &env)
}

/// The CRDs' versions (resourceVersion, recorded platform version), by name.
async fn crds(api: &Api<CustomResourceDefinition>) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = api
        .list(&Default::default())
        .await
        .expect("list CRDs")
        .items
        .into_iter()
        .filter_map(|c| {
            let recorded = c.metadata.annotations.as_ref()?.get(ANNOTATION)?.clone();
            Some((
                c.metadata.name.clone()?,
                c.metadata.resource_version.clone()?,
                recorded,
            ))
        })
        .collect();
    v.sort();
    v
}

/// `orrery_leader`'s value at a replica.
async fn leading(http: &reqwest::Client, url: &str, token: &str) -> Option<bool> {
    let text = http
        .get(format!("{url}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let line = text.lines().find(|l| l.starts_with("orrery_leader "))?;
    Some(line.trim_start_matches("orrery_leader ").trim() == "1")
}

async fn holder(leases: &Api<Lease>) -> Option<(String, String)> {
    let l = leases.get_opt("orrery-platform-controllers").await.ok()??;
    let version = l.metadata.annotations.as_ref()?.get(ANNOTATION)?.clone();
    Some((l.spec?.holder_identity?, version))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adjacent_versions_share_sessions_one_leads_and_the_older_changes_no_crd() {
    let (new_version, old_version) = versions();
    let host = common::TestCluster::start(&["--nodes", "0"]);
    let client = host.client().await;
    let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client, "kubesphere-system");

    let mut newer = replica(&host, "replica-new", None);
    // Once the API server has written every CRD's status, nothing else writes them.
    platform::until(Duration::from_secs(30), "every CRD established", || {
        let api = crd_api.clone();
        async move {
            let list = api.list(&Default::default()).await.ok()?;
            list.items
                .iter()
                .all(|c| {
                    let st = c.status.as_ref();
                    st.and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    }) && st
                        .and_then(|s| s.stored_versions.as_ref())
                        .is_some_and(|v| !v.is_empty())
                })
                .then_some(())
        }
    })
    .await;
    let installed = crds(&crd_api).await;
    assert!(installed.len() > 10, "the platform's CRDs: {installed:?}");
    assert!(
        installed.iter().all(|(_, _, v)| *v == new_version),
        "{installed:?}"
    );
    let mut older = replica(&host, "replica-old", Some(&old_version));
    assert_eq!(
        crds(&crd_api).await,
        installed,
        "the older replica wrote no CRD"
    );
    let http = platform::http();
    let reported = |url: String| {
        let http = http.clone();
        async move {
            let v: serde_json::Value = http
                .get(format!("{url}/version"))
                .send()
                .await
                .expect("version")
                .json()
                .await
                .expect("version JSON");
            v["platform"]["gitVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(reported(newer.url.clone()).await, format!("v{new_version}"));
    assert_eq!(reported(older.url.clone()).await, format!("v{old_version}"));

    let second = sessions_cross_versions(&http, &older.url, &newer.url).await;

    // One leader, named with its version by the Lease; the other knows it does not lead.
    let (leader, version) = platform::until(Duration::from_secs(30), "a leader", || {
        let leases = leases.clone();
        async move { holder(&leases).await }
    })
    .await;
    let (lead, follow) = if leader == "replica-new" {
        assert_eq!(version, new_version);
        (&mut newer, &mut older)
    } else {
        assert_eq!(leader, "replica-old");
        assert_eq!(version, old_version);
        (&mut older, &mut newer)
    };
    let (lead_url, follow_url) = (lead.url.clone(), follow.url.clone());
    platform::until(
        Duration::from_secs(10),
        "orrery_leader 1 at the leader, 0 at the other",
        || {
            let (http, a, b, t) = (
                http.clone(),
                lead_url.clone(),
                follow_url.clone(),
                second.clone(),
            );
            async move {
                (leading(&http, &a, &t).await == Some(true)
                    && leading(&http, &b, &t).await == Some(false))
                .then_some(())
            }
        },
    )
    .await;
    // The leader killed: the other version takes over.
    lead.kill9();
    let follower = follow.identity.clone();
    platform::until(Duration::from_secs(30), "the other replica leads", || {
        let (leases, follower) = (leases.clone(), follower.clone());
        async move {
            holder(&leases)
                .await
                .filter(|(h, _)| *h == follower)
                .map(drop)
        }
    })
    .await;
    platform::until(
        Duration::from_secs(10),
        "orrery_leader 1 at the survivor",
        || {
            let (http, b, t) = (http.clone(), follow_url.clone(), second.clone());
            async move { (leading(&http, &b, &t).await == Some(true)).then_some(()) }
        },
    )
    .await;

    two_minor_versions_away_is_refused(&host.kubeconfig, &new_version);
    assert_eq!(crds(&crd_api).await, installed, "and changed nothing");
}

/// Sessions: issued by either version, honoured by both; revoked at one, refused at the other.
/// A token from the newer replica.
async fn sessions_cross_versions(http: &reqwest::Client, older: &str, newer: &str) -> String {
    // Sessions: issued by either, honoured by both; revoked at one, refused at the other.
    let token = platform::login(http, older, "admin", PASSWORD)
        .await
        .expect("login at the older replica");
    let me = |url: &str| format!("{url}/kapis/iam.kubesphere.io/v1beta1/users/admin");
    let (code, v) = platform::call(http, Method::GET, &me(newer), &token, None).await;
    assert_eq!(code, 200, "the older replica's token at the newer: {v}");
    let second = platform::login(http, newer, "admin", PASSWORD)
        .await
        .expect("login at the newer replica");
    let (code, _) = platform::call(http, Method::GET, &me(older), &second, None).await;
    assert_eq!(code, 200, "the newer replica's token at the older");
    let out = http
        .post(format!("{newer}/oauth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout at the newer replica");
    assert_eq!(out.status().as_u16(), 200);
    platform::until(
        Duration::from_secs(10),
        "the logged-out token refused at the older replica",
        || {
            let (http, url, token) = (http.clone(), me(older), token.clone());
            async move {
                (platform::call(&http, Method::GET, &url, &token, None)
                    .await
                    .0
                    == 401)
                    .then_some(())
            }
        },
    )
    .await;
    second
}

/// Two minor versions away: refused at start, saying what to do.
fn two_minor_versions_away_is_refused(kubeconfig: &std::path::Path, new_version: &str) {
    // Two minor versions away: refused at start, saying what to do.
    let (major, minor) = {
        let mut p = new_version.split('.');
        let major: u64 = p.next().and_then(|x| x.parse().ok()).expect("major");
        let minor: u64 = p.next().and_then(|x| x.parse().ok()).expect("minor");
        (major, minor)
    };
    let far = format!("{major}.{}.0", minor + 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .arg("serve")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls=false",
            "--admin-password",
            PASSWORD,
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("ORRERY_TEST_REPORTED_VERSION", &far)
        .stdin(Stdio::null())
        .output()
        .expect("run a far newer replica");
    assert!(
        !out.status.success(),
        "a replica {far} against {new_version} must refuse"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("one minor version at a time"), "{err}");
}
