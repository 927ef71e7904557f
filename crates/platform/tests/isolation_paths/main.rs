//! Tenant isolation on every path form (issue 11, must-show 1 and 2), on one shared fixture (a
//! host, an in-process member, two workspaces, users holding each built-in role at each
//! level):
//! - a property test: request paths generated from the URL grammar, spelled every way a
//!   server could read differently, are answered as an independent oracle ([`oracle`]) says;
//! - the namespace-path form of every cluster-scoped resource of each cluster's discovery is
//!   404 for every verb and every role, and changes nothing;
//! - the `Upgrade`/`Connection: Upgrade` header forms of every route family get the same
//!   decision as without them;
//! - the attacks of the issue, each refused with the right status, nothing changed.
//!
//! An extension is installed in the fixture ([`extension`]): its APIService, ReverseProxy and
//! JSBundle routes are in the grammar, and its backend must see the caller's identity and
//! nothing the platform refused.
//!
//! Sections report their failures together at the end, so one broken rule does not hide the
//! others. The property test prints its seed; `ISOLATION_SEED=<seed>` replays a run and
//! `ISOLATION_CASES=<n>` changes how many paths it generates (default 1000, each sent by every
//! user).
#[path = "../common/mod.rs"]
mod common;

mod attacks;
mod extension;
mod fixture;
mod grammar;
mod matrix;
mod observability;
mod oracle;
mod raw;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::Value;

use fixture::{Fixture, USERS};
use oracle::{Expect, Request, World};

/// Generated paths per run, each sent by every user (`ISOLATION_CASES` overrides it).
const DEFAULT_CASES: u32 = 1000;

/// Whether an answer is what the oracle predicts.
pub fn agrees(expect: &Expect, status: u16) -> bool {
    match expect {
        Expect::NotFound(_) => status == 404,
        Expect::Forbidden(_) => status == 403,
        Expect::Allowed(_) => status != 401 && status != 403,
        Expect::Refused(_) => (403..=405).contains(&status),
    }
}

/// Judges the body of an answer the oracle allowed (observability routes: what it holds must
/// be the caller's to see); `None` when it passes or is not judged.
pub fn leak(world: &World, user: &str, req: &raw::Raw, got: &raw::Answer) -> Option<String> {
    if !(200..300).contains(&got.status) {
        return None;
    }
    let (path, query) = req
        .target
        .split_once('?')
        .unwrap_or((req.target.as_str(), ""));
    let segs = oracle::decode_segments(path).ok()?;
    let (cluster, rest) = if segs.len() > 2 && segs[0] == "clusters" {
        (segs[1].as_str(), &segs[2..])
    } else {
        ("host", &segs[..])
    };
    let cluster = world.cluster_name(cluster)?;
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let place = observability::Place {
        cluster,
        rest,
        query: &query,
    };
    observability::check_body(world, user, &place, &got.body)
        .err()
        .map(|why| {
            format!(
                "{}
    leaks: {why}",
                describe_request(user, req)
            )
        })
}

/// A request of the grammar rendered for sending, with the oracle's prediction; `None` when
/// it must not be sent (a write the oracle allows on a platform route that knows no dry run).
pub fn prepare(
    f: &Fixture,
    world: &World,
    case: &grammar::Case,
    user: &str,
) -> Option<(raw::Raw, Expect)> {
    let raw_path = case.raw_path();
    let query = case.query();
    let expect = world.decide(&Request {
        user,
        method: case.method(),
        raw_path: &raw_path,
        query: query.clone(),
    });
    // Platform routes (`/kapis`, member routes included) have no dry run: an allowed DELETE
    // is not sent, other writes carry a body that is not JSON so that nothing is written.
    let platform_route = oracle::decode_segments(&raw_path)
        .map(|s| {
            let rest = if s.first().is_some_and(|x| x == "clusters") && s.len() > 2 {
                &s[2..]
            } else {
                &s[..]
            };
            rest.first().is_some_and(|x| x == "kapis")
        })
        .unwrap_or(false);
    if platform_route && case.method() == "DELETE" && matches!(expect, Expect::Allowed(_)) {
        return None;
    }
    let body = match case.method() {
        "GET" | "DELETE" => None,
        _ if platform_route => Some(("application/json".to_string(), b"{".to_vec())),
        "PATCH" => Some(("application/merge-patch+json".to_string(), b"{}".to_vec())),
        _ => Some(("application/json".to_string(), b"{}".to_vec())),
    };
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&query)
        .finish();
    let target = if q.is_empty() {
        raw_path
    } else {
        format!("{raw_path}?{q}")
    };
    Some((
        raw::Raw {
            method: case.method().to_string(),
            target,
            headers: case
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body,
            token: f.token(user).to_string(),
        },
        expect,
    ))
}

fn describe_request(user: &str, req: &raw::Raw) -> String {
    let headers: Vec<String> = req
        .headers
        .iter()
        .map(|(k, v)| format!("-H '{k}: {v}'"))
        .collect();
    format!(
        "as {user}: {} {} {}",
        req.method,
        req.target,
        headers.join(" ")
    )
}

fn describe(user: &str, req: &raw::Raw, expect: &Expect, got: &raw::Answer) -> String {
    let body: String = got.body.chars().take(300).collect();
    format!(
        "{}\n    oracle: {expect:?}\n    platform: {} {body}",
        describe_request(user, req),
        got.status
    )
}

/// The property: generated requests are answered as the oracle says. Returns failures.
async fn property(f: &Fixture, world: &World) -> Vec<String> {
    let cases = std::env::var("ISOLATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    // A random seed each run, printed so that a failure can be replayed.
    let seed = std::env::var("ISOLATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let addr = f.env.platform.addr;
    let handle = tokio::runtime::Handle::current();
    let started = Instant::now();
    // Predictions of the first `cases` requests (shrinking sends more): not-found, forbidden,
    // allowed.
    let counts = std::sync::Mutex::new([0u32; 5]);
    // Answers of the extension's backend, to compare with the requests it saw.
    let backend_answers = std::sync::atomic::AtomicU32::new(0);
    let backend_hits = f.extension.hits();
    let (outcome, sent) = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 4000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
            ..Config::default()
        });
        let sent = std::sync::atomic::AtomicU32::new(0);
        let runs = std::sync::atomic::AtomicU32::new(0);
        let outcome = runner.run(&grammar::cases(), |case| {
            let first_pass = runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < cases;
            // Every caller gets the same request, at once.
            let prepared: Vec<(&str, raw::Raw, Expect)> = USERS
                .iter()
                .filter_map(|u| prepare(f, world, &case, u).map(|(r, e)| (*u, r, e)))
                .collect();
            sent.fetch_add(
                u32::try_from(prepared.len()).unwrap_or(u32::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
            let whole = case.reads_body();
            let answers = handle.block_on(futures::future::join_all(
                prepared
                    .iter()
                    .map(|(_, req, _)| raw::send_reading(addr, req, whole)),
            ));
            let mut wrong = Vec::new();
            for ((user, req, expect), got) in prepared.iter().zip(answers) {
                if first_pass {
                    let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
                    c[match expect {
                        Expect::NotFound(_) => 0,
                        Expect::Forbidden(_) | Expect::Refused(_) => 1,
                        Expect::Allowed(_) => 2,
                    }] += 1;
                    if case.obs.is_some() {
                        c[3] += 1;
                    }
                }
                match judge(world, &case, user, req, expect, got, &backend_answers) {
                    Ok(judged) if judged && first_pass => {
                        counts.lock().unwrap_or_else(|e| e.into_inner())[4] += 1;
                    }
                    Ok(_) => {}
                    Err(why) => wrong.push(why),
                }
            }
            if wrong.is_empty() {
                return Ok(());
            }
            let more = wrong.len().saturating_sub(4);
            wrong.truncate(4);
            if more > 0 {
                wrong.push(format!("and {more} more callers"));
            }
            Err(TestCaseError::fail(wrong.join("\n  ")))
        });
        (outcome, sent.into_inner())
    });
    let [not_found, forbidden, allowed, observed, judged] =
        counts.into_inner().unwrap_or_else(|e| e.into_inner());
    let total = not_found + forbidden + allowed;
    eprintln!(
        "property (ISOLATION_SEED={seed}): {cases} paths × {} users, {sent} requests sent (shrinking included) in {:.1} s; predicted {not_found} not found, {forbidden} forbidden, {allowed} allowed; {observed} on observability routes, {judged} of their answers' bodies judged",
        USERS.len(),
        started.elapsed().as_secs_f64()
    );
    let mut failures = backend_reached(
        f.extension.hits() - backend_hits,
        backend_answers.into_inner(),
    );
    // The grammar must keep exercising all three answers, or the property says little.
    if outcome.is_ok() {
        for (what, n) in [
            ("not found", not_found),
            ("forbidden", forbidden),
            ("allowed", allowed),
        ] {
            if n * 33 < total {
                failures.push(format!(
                    "property: only {n} of {total} requests predicted {what}"
                ));
            }
        }
    }
    failures.extend(match outcome {
        Ok(()) => Vec::new(),
        Err(TestError::Fail(why, case)) => vec![format!(
            "property (ISOLATION_SEED={seed}): the platform disagrees with the oracle; minimal case {case:?}:\n  {why}"
        )],
        Err(TestError::Abort(why)) => vec![format!("property: aborted: {why}")],
    });
    failures
}

/// Every request the extension's backend saw (`reached`) came back as its answer
/// (`answered`): none reached it that the platform then refused.
fn backend_reached(reached: u32, answered: u32) -> Vec<String> {
    eprintln!("extension backend: {reached} requests reached it");
    if reached == answered {
        return Vec::new();
    }
    vec![format!(
        "the extension's backend saw {reached} requests, {answered} of its answers came back"
    )]
}

/// Judges one answer: the oracle's status, then (bodies read) what it may hold — the
/// caller's own data on observability routes, the caller's identity as the extension's
/// backend saw it. `Ok(true)` when a successful answer's body was judged; counts the
/// backend's answers.
fn judge(
    world: &World,
    case: &grammar::Case,
    user: &str,
    req: &raw::Raw,
    expect: &Expect,
    got: Result<raw::Answer, String>,
    backend_answers: &std::sync::atomic::AtomicU32,
) -> Result<bool, String> {
    let a = got.map_err(|e| format!("as {user}: {e}"))?;
    if case.extension() && a.body.contains(extension::MARK) {
        backend_answers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if !agrees(expect, a.status) {
        return Err(describe(user, req, expect, &a));
    }
    let whole = case.reads_body();
    if whole && let Some(why) = leak(world, user, req, &a) {
        return Err(why);
    }
    if case.extension()
        && let Some(why) = extension::misidentified(user, &a.body)
    {
        return Err(format!("{}\n    {why}", describe_request(user, req)));
    }
    Ok(whole && (200..300).contains(&a.status))
}

/// Waits (bounded) until the platform's caches show the fixture's roles: a few requests per
/// user whose answers depend on every level agree with the oracle.
async fn settle(f: &Fixture, world: &World) -> Vec<String> {
    let probes = [
        "/api/v1/namespaces/a-p/configmaps",
        "/api/v1/namespaces/b-p/configmaps",
        "/api/v1/nodes",
        "/clusters/member/api/v1/namespaces/a-mp/configmaps",
        "/clusters/member/api/v1/nodes",
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/a/workspacemembers",
        "/kapis/iam.kubesphere.io/v1beta1/users",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut failures = Vec::new();
    for user in USERS {
        for path in probes {
            let expect = world.decide(&Request {
                user,
                method: "GET",
                raw_path: path,
                query: Vec::new(),
            });
            let req = raw::Raw {
                method: "GET".into(),
                target: path.into(),
                headers: Vec::new(),
                body: None,
                token: f.token(user).to_string(),
            };
            loop {
                let got = raw::send(f.env.platform.addr, &req).await;
                match got {
                    Ok(a) if agrees(&expect, a.status) => break,
                    Ok(a) if Instant::now() >= deadline => {
                        failures.push(format!("settle: {}", describe(user, &req, &expect, &a)));
                        break;
                    }
                    Err(e) if Instant::now() >= deadline => {
                        failures.push(format!("settle: {e}"));
                        break;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    }
    failures
}

/// Waits (bounded) until the observability routes hold the fixture's data for the
/// administrator: the pods in both clusters' monitoring stores, the projects' alerts firing,
/// the Events listed; otherwise the bodies judged would be empty and the checks say nothing.
async fn observability_ready(f: &Fixture) -> Vec<String> {
    let count = "targets/query?expr=count(kube_pod_info)";
    let mut probes: Vec<(String, &str)> = Vec::new();
    for (prefix, projects) in [("", ["a-p", "b-p"]), ("/clusters/member", ["a-mp", "b-mp"])] {
        probes.push((
            format!("{prefix}/kapis/monitoring.kubesphere.io/v1alpha3/{count}"),
            "/data/result/0/value/1",
        ));
        for ns in projects {
            probes.push((
                format!("{prefix}/kapis/alerting.kubesphere.io/v2beta1/namespaces/{ns}/alerts"),
                "/total",
            ));
        }
    }
    probes.push((
        "/kapis/tenant.kubesphere.io/v1alpha2/events?size=1000".into(),
        "/query/total",
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut failures = Vec::new();
    for (target, pointer) in probes {
        let req = raw::Raw {
            method: "GET".into(),
            target: target.clone(),
            headers: Vec::new(),
            body: None,
            token: f.admin.clone(),
        };
        // Pods per cluster: a project of each workspace and `default`; an Event each.
        let want = if pointer == "/total" {
            1.0
        } else if pointer == "/query/total" {
            6.0
        } else {
            3.0
        };
        loop {
            let got = raw::send_reading(f.env.platform.addr, &req, true).await;
            let seen = got
                .as_ref()
                .ok()
                .and_then(|a| serde_json::from_str::<Value>(&a.body).ok())
                .and_then(|v| {
                    let x = v.pointer(pointer)?.clone();
                    x.as_f64()
                        .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                });
            if seen.is_some_and(|n| n >= want) {
                break;
            }
            if Instant::now() >= deadline {
                failures.push(format!(
                    "observability data: {target} never showed {want} at {pointer}: {got:?}"
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    failures
}

/// Kinds whose objects must not change while the requests under test run.
const WATCHED: [&str; 21] = [
    "/api/v1/namespaces",
    "/api/v1/pods",
    "/apis/alerting.kubesphere.io/v2beta1/rulegroups",
    "/apis/alerting.kubesphere.io/v2beta1/clusterrulegroups",
    "/api/v1/configmaps",
    "/api/v1/secrets",
    "/apis/rbac.authorization.k8s.io/v1/roles",
    "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/iam.kubesphere.io/v1beta1/users",
    "/apis/iam.kubesphere.io/v1beta1/globalroles",
    "/apis/iam.kubesphere.io/v1beta1/globalrolebindings",
    "/apis/iam.kubesphere.io/v1beta1/workspaceroles",
    "/apis/iam.kubesphere.io/v1beta1/workspacerolebindings",
    "/apis/iam.kubesphere.io/v1beta1/roles",
    "/apis/iam.kubesphere.io/v1beta1/rolebindings",
    "/apis/iam.kubesphere.io/v1beta1/clusterroles",
    "/apis/iam.kubesphere.io/v1beta1/clusterrolebindings",
    "/apis/tenant.kubesphere.io/v1beta1/workspacetemplates",
    "/apis/cluster.kubesphere.io/v1alpha1/clusters",
];

/// What of an object counts as a change: identity, labels and content (not status, versions
/// or annotations, which controllers and logins touch).
fn content(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "uid" | "labels"));
        }
    }
    v
}

/// Every watched object of both clusters, by (cluster, kind, namespace/name).
pub async fn snapshot(f: &Fixture) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for cluster in ["host", "member"] {
        let client = f.kube(cluster);
        for kind in WATCHED {
            let req = http::Request::get(kind).body(Vec::new()).expect("request");
            // A kind the member does not serve (cluster.kubesphere.io) has nothing to change.
            let Ok(list) = client.request::<Value>(req).await else {
                continue;
            };
            for item in list["items"].as_array().into_iter().flatten() {
                // The monitoring leader republishes its store every interval.
                if item["metadata"]["labels"]["orrery.io/monitoring-store"].is_string() {
                    continue;
                }
                let key = format!(
                    "{cluster} {kind} {}/{}",
                    item["metadata"]["namespace"].as_str().unwrap_or_default(),
                    item["metadata"]["name"].as_str().unwrap_or_default()
                );
                out.insert(key, content(item));
            }
        }
    }
    out
}

/// The differences between two snapshots.
pub fn changes(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            None => out.push(format!("deleted: {k}")),
            Some(a) if a != v => out.push(format!("changed: {k}: {v} → {a}")),
            Some(_) => {}
        }
    }
    for k in after.keys() {
        if !before.contains_key(k) {
            out.push(format!("created: {k}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_isolation_holds_on_every_path_form() {
    let started = Instant::now();
    let f = fixture::start().await;
    let world = fixture::world(&f).await;
    let bound = oracle::bound_users(&world);
    for u in USERS.iter().filter(|u| **u != "nobody") {
        assert!(bound.contains(*u), "the oracle sees no binding of {u}");
    }
    eprintln!("fixture ready in {:.1} s", started.elapsed().as_secs_f64());
    let mut failures = settle(&f, &world).await;
    failures.extend(observability_ready(&f).await);
    let before = snapshot(&f).await;
    failures.extend(property(&f, &world).await);
    let t = Instant::now();
    failures.extend(matrix::namespace_paths(&f, &world).await);
    eprintln!("namespace paths: {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    failures.extend(matrix::upgrade_forms(&f, &world).await);
    eprintln!("upgrade forms: {:.1} s", t.elapsed().as_secs_f64());
    let after = snapshot(&f).await;
    failures.extend(
        changes(&before, &after)
            .into_iter()
            .map(|c| format!("nothing may change, but: {c}")),
    );
    let t = Instant::now();
    failures.extend(attacks::run(&f).await);
    eprintln!("attacks: {:.1} s", t.elapsed().as_secs_f64());
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
