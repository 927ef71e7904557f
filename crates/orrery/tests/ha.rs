//! Issue 18, must-show 2: three `orrery serve --kubeconfig` replicas against one
//! `orrery cluster` host (lease 5 s, retry 1 s).
//!
//! - Sessions and revocation are shared: a token from a login at A works at B, its refresh
//!   token at C; logged out at C, it is refused at A and B.
//! - The leader (the Lease's holder) is killed with SIGKILL while it places workspaces into a
//!   member cluster; another replica takes the Lease within the lease duration plus the retry
//!   period and finishes the placement. A watch on the member, open from before the first
//!   workspace, shows every workspace created exactly once and none deleted or missing.

mod common;
mod platform;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ApiResource, DynamicObject, WatchEvent, WatchParams};
use reqwest::Method;
use serde_json::json;

const LEASE: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_secs(1);
const PASSWORD: &str = platform::ADMIN_PASSWORD;
const FIRST_BATCH: usize = 60;
const SECOND_BATCH: usize = 20;

/// A replica (lease 5 s, retry 1 s) resyncing its members every second, over plain HTTP.
fn replica(host: &common::TestCluster, name: &str) -> platform::Replica {
    let flags = [platform::FAST_MEMBERS, &["--tls=false"]].concat();
    platform::replica(&host.kubeconfig, name, &flags, &[])
}

/// The Lease's holder and when it was acquired.
async fn holder(leases: &Api<Lease>) -> Option<(String, k8s_openapi::jiff::Timestamp)> {
    let lease = leases.get_opt("orrery-platform-controllers").await.ok()??;
    let spec = lease.spec?;
    Some((spec.holder_identity?, spec.acquire_time?.0))
}

#[derive(Default, Debug)]
struct Seen {
    added: BTreeMap<String, usize>,
    modified: BTreeMap<String, usize>,
    deleted: BTreeMap<String, usize>,
}

/// Watches the member's Workspaces from `rv` on, into `seen`, resuming where it left off.
async fn record(api: Api<DynamicObject>, mut rv: String, seen: Arc<Mutex<Seen>>) {
    loop {
        let Ok(stream) = api.watch(&WatchParams::default().timeout(60), &rv).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut stream = stream.boxed();
        while let Some(Ok(ev)) = stream.next().await {
            let (map, obj) = match ev {
                WatchEvent::Added(o) => ("added", o),
                WatchEvent::Modified(o) => ("modified", o),
                WatchEvent::Deleted(o) => ("deleted", o),
                WatchEvent::Bookmark(b) => {
                    rv = b.metadata.resource_version;
                    continue;
                }
                WatchEvent::Error(e) => panic!("watch of the member's workspaces: {e:?}"),
            };
            rv = obj.metadata.resource_version.clone().unwrap_or(rv);
            let name = obj.metadata.name.clone().unwrap_or_default();
            if let Ok(mut s) = seen.lock() {
                let m = match map {
                    "added" => &mut s.added,
                    "modified" => &mut s.modified,
                    _ => &mut s.deleted,
                };
                *m.entry(name).or_default() += 1;
            }
        }
    }
}

fn placed(seen: &Mutex<Seen>) -> usize {
    seen.lock()
        .map(|s| s.added.keys().filter(|k| k.starts_with("ha-")).count())
        .unwrap_or(0)
}

async fn create_workspace(http: &reqwest::Client, url: &str, token: &str, name: &str) {
    let (code, v) = platform::call(
        http,
        Method::POST,
        &format!("{url}/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates"),
        token,
        Some(
            json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
            "metadata": {"name": name},
            "spec": {"template": {"spec": {"manager": "admin"}},
                     "placement": {"clusters": [{"name": "member"}]}}}),
        ),
    )
    .await;
    assert!(code < 300, "create {name}: {code} {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_sessions_and_a_killed_leader_hands_placement_over() {
    let host = common::TestCluster::start(&["--nodes", "0"]);
    let member = common::TestCluster::start(&["--nodes", "0"]);
    // The first replica bootstraps the host; the others find it done.
    let mut replicas = vec![replica(&host, "replica-a")];
    replicas.push(replica(&host, "replica-b"));
    replicas.push(replica(&host, "replica-c"));
    let http = platform::http();
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let url = |i: usize| urls[i].clone();

    let admin = sessions_are_shared_and_revoked_across(&http, &urls).await;

    let (member_ws, ar) = member_joined_and_ready_everywhere(&http, &urls, &admin, &member).await;
    let list = platform::until(
        Duration::from_secs(30),
        "the member serves Workspaces",
        || {
            let api = member_ws.clone();
            async move { api.list(&Default::default()).await.ok() }
        },
    )
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let rv = list.metadata.resource_version.unwrap_or_default();
    let watcher = tokio::spawn(record(member_ws.clone(), rv, seen.clone()));

    // --- The leader, killed during placement.
    let host_client = host.client().await;
    let leases: Api<Lease> = Api::namespaced(host_client, "kubesphere-system");
    let (leader, _) = platform::until(Duration::from_secs(30), "a leader", || {
        let leases = leases.clone();
        async move { holder(&leases).await }
    })
    .await;
    let leader_index = replicas
        .iter()
        .position(|r| r.identity == leader)
        .unwrap_or_else(|| panic!("the Lease names {leader}, no replica"));
    let others: Vec<usize> = (0..3).filter(|i| *i != leader_index).collect();
    eprintln!("leader: {leader}");

    // The first batch through the two other replicas, concurrently.
    let creator = {
        let (http, admin) = (http.clone(), admin.clone());
        let urls: Vec<String> = others.iter().map(|i| url(*i)).collect();
        tokio::spawn(async move {
            futures::stream::iter(0..FIRST_BATCH)
                .for_each_concurrent(4, |n| {
                    let (http, admin) = (http.clone(), admin.clone());
                    let url = urls[n % urls.len()].clone();
                    async move { create_workspace(&http, &url, &admin, &format!("ha-{n:03}")).await }
                })
                .await;
        })
    };
    platform::until(
        Duration::from_secs(30),
        "the leader places a first workspace",
        || {
            let seen = seen.clone();
            async move { (placed(&seen) >= 1).then_some(()) }
        },
    )
    .await;
    replicas[leader_index].kill9();
    let killed_at = Instant::now();
    let killed_wall = k8s_openapi::jiff::Timestamp::now();
    let placed_at_kill = placed(&seen);
    eprintln!("SIGKILL to {leader} with {placed_at_kill} workspaces placed");
    creator.await.expect("first batch");
    // The second batch while the Lease still names the dead leader.
    for n in FIRST_BATCH..FIRST_BATCH + SECOND_BATCH {
        create_workspace(&http, &url(others[0]), &admin, &format!("ha-{n:03}")).await;
    }
    let created_all = Instant::now();
    let total = FIRST_BATCH + SECOND_BATCH;
    assert!(placed_at_kill < total, "the kill came during placement");

    // Another replica takes the Lease within its duration plus the retry period.
    let (new_leader, acquired) = platform::until(Duration::from_secs(30), "a new leader", || {
        let (leases, leader) = (leases.clone(), leader.clone());
        async move { holder(&leases).await.filter(|(h, _)| *h != leader) }
    })
    .await;
    let handover = acquired.duration_since(killed_wall);
    eprintln!("{new_leader} took the Lease {handover:?} after the kill");
    assert!(
        replicas.iter().any(|r| r.identity == new_leader),
        "new holder {new_leader} is a replica"
    );
    let bound = LEASE + RETRY;
    assert!(
        handover.as_secs_f64() <= bound.as_secs_f64() + 0.5,
        "handover took {handover:?}, more than lease {LEASE:?} + retry {RETRY:?}"
    );
    // … and finishes the placement.
    platform::until(Duration::from_secs(30), "every workspace placed", || {
        let seen = seen.clone();
        async move { (placed(&seen) == total).then_some(()) }
    })
    .await;
    let finished = killed_at.elapsed();
    eprintln!(
        "all {total} placed {finished:?} after the kill, {:?} after the last was created",
        created_all.elapsed()
    );
    // The new leader's first pass starts as it takes the Lease; allow it (and a pass for the
    // templates created after that) 3 s: two resync periods and the writes on a loaded machine.
    let start = (killed_at + bound).max(created_all);
    assert!(
        Instant::now().saturating_duration_since(start) <= Duration::from_secs(3),
        "placement finished {finished:?} after the kill"
    );

    placed_exactly_once(&member_ws, &seen, &host, &ar, total).await;
    watcher.abort();
    drop(replicas);
}

/// Exactly once, none missing, none deleted: the member's own list agrees with the watch; and
/// in the host one Workspace per template.
async fn placed_exactly_once(
    member_ws: &Api<DynamicObject>,
    seen: &Mutex<Seen>,
    host: &common::TestCluster,
    ar: &ApiResource,
    total: usize,
) {
    // Exactly once, none missing, none deleted: the member's own list agrees with the watch.
    let list = member_ws
        .list(&Default::default())
        .await
        .expect("member workspaces");
    let mut names: Vec<String> = list
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .filter(|n| n.starts_with("ha-"))
        .collect();
    names.sort();
    let want: Vec<String> = (0..total).map(|n| format!("ha-{n:03}")).collect();
    assert_eq!(names, want, "every workspace in the member, once");
    {
        let s = seen.lock().expect("seen");
        for n in &want {
            assert_eq!(s.added.get(n), Some(&1), "{n} created once: {s:?}");
        }
        assert!(s.deleted.is_empty(), "nothing deleted: {:?}", s.deleted);
        assert!(
            s.modified.is_empty(),
            "nothing changed twice: {:?}",
            s.modified
        );
    }
    // And in the host: one Workspace per template, its built-in roles once.
    let hostk = host.client().await;
    let host_ws: Api<DynamicObject> = Api::all_with(hostk.clone(), ar);
    let host_names: Vec<String> = host_ws
        .list(&Default::default())
        .await
        .expect("host workspaces")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .filter(|n| n.starts_with("ha-"))
        .collect();
    assert_eq!(host_names.len(), total);
}

/// Sessions and revocation across replicas: A's token works at B and C, its refresh token at C
/// gives one that works at A, and a logout at C is refused everywhere. An admin token from B.
async fn sessions_are_shared_and_revoked_across(http: &reqwest::Client, urls: &[String]) -> String {
    let url = |i: usize| urls[i].clone();
    // --- Sessions and revocation across replicas.
    let answer: serde_json::Value = http
        .post(format!("{}/oauth/token", url(0)))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await
        .expect("login at A")
        .json()
        .await
        .expect("token JSON");
    let token = answer["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let refresh = answer["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let me = |i: usize| format!("{}/kapis/iam.kubesphere.io/v1beta1/users/admin", url(i));
    for i in [1, 2] {
        let (code, v) = platform::call(http, Method::GET, &me(i), &token, None).await;
        assert_eq!(code, 200, "A's token at replica {i}: {v}");
    }
    // Its refresh token, at C, gives a token that works at A.
    let refreshed: serde_json::Value = http
        .post(format!("{}/oauth/token", url(2)))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await
        .expect("refresh at C")
        .json()
        .await
        .expect("refresh JSON");
    let second = refreshed["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("refresh at C: {refreshed}"));
    assert_eq!(
        platform::call(http, Method::GET, &me(0), second, None)
            .await
            .0,
        200
    );
    // Logged out at C: refused at A and B (each follows the sessions by watch).
    let out = http
        .post(format!("{}/oauth/logout", url(2)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout at C");
    assert_eq!(out.status().as_u16(), 200);
    for i in [0, 1, 2] {
        let token = token.clone();
        let me = me(i);
        let http = http.clone();
        platform::until(
            Duration::from_secs(10),
            &format!("the revoked token refused at replica {i}"),
            || {
                let (http, me, token) = (http.clone(), me.clone(), token.clone());
                async move {
                    (platform::call(&http, Method::GET, &me, &token, None)
                        .await
                        .0
                        == 401)
                        .then_some(())
                }
            },
        )
        .await;
    }
    platform::login(http, &url(1), "admin", PASSWORD)
        .await
        .expect("login at B")
}

/// A member cluster to place workspaces into, Ready at every replica (its registry is per
/// replica); the member's Workspaces and their API resource.
async fn member_joined_and_ready_everywhere(
    http: &reqwest::Client,
    urls: &[String],
    admin: &str,
    member: &common::TestCluster,
) -> (Api<DynamicObject>, ApiResource) {
    let url = |i: usize| urls[i].clone();
    // --- A member cluster to place workspaces into.
    use base64::Engine;
    let kubeconfig = std::fs::read_to_string(&member.kubeconfig).expect("member kubeconfig");
    let (code, v) = platform::call(
        http,
        Method::POST,
        &format!("{}/apis/cluster.kubesphere.io/v1alpha1/clusters", url(1)),
        admin,
        Some(
            json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "member"},
            "spec": {"provider": "orrery", "connection": {"type": "direct",
                "kubeconfig": base64::engine::general_purpose::STANDARD.encode(kubeconfig)}}}),
        ),
    )
    .await;
    assert!(code < 300, "join: {code} {v}");
    let member_client = member.client().await;
    let ar = ApiResource {
        group: "tenant.kubesphere.io".into(),
        version: "v1beta1".into(),
        api_version: "tenant.kubesphere.io/v1beta1".into(),
        kind: "Workspace".into(),
        plural: "workspaces".into(),
    };
    let member_ws: Api<DynamicObject> = Api::all_with(member_client, &ar);
    // Every replica sees the member Ready (its registry is per replica).
    for i in 0..3 {
        let cluster = format!(
            "{}/apis/cluster.kubesphere.io/v1alpha1/clusters/member",
            url(i)
        );
        let (http, admin) = (http.clone(), admin.to_string());
        platform::until(
            Duration::from_secs(60),
            &format!("member Ready at replica {i}"),
            || {
                let (http, admin, cluster) = (http.clone(), admin.clone(), cluster.clone());
                async move {
                    let (_, v) = platform::call(&http, Method::GET, &cluster, &admin, None).await;
                    v["status"]["conditions"]
                        .as_array()?
                        .iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                        .then_some(())
                }
            },
        )
        .await;
    }
    (member_ws, ar)
}
