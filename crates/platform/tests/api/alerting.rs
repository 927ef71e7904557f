//! Alerting end to end (issue 16, must-show 2): a project's RuleGroup over the simulated data
//! plane — a crash-looping pod (the simulation's `crashloop` image convention) — fires, reaches
//! a webhook receiver (axum on loopback) and a real SMTP server (aiosmtpd, with a login whose
//! password the platform reads from a Secret), survives a leader handover without notifying
//! twice, resolves when the workload is fixed (resolved notifications at both), and a Silence
//! stops the next notifications while the alert is listed as silenced. Tenants of another
//! workspace see none of it.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use platform::RunningPlatform;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const ALERTS: &str = "/kapis/alerting.kubesphere.io/v2beta1";
const RULEGROUPS: &str = "/apis/alerting.kubesphere.io/v2beta1/namespaces/p/rulegroups";
const NOTIFICATION: &str = "/apis/notification.kubesphere.io/v2beta2";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/p/deployments/web";
const SMTP_USER: &str = "alerts";
const SMTP_PASSWORD: &str = "smtp-Passw0rd-in-a-Secret";

/// Polls `f` every 100 ms until it gives a value (bounded); panics naming `what`.
async fn poll_until<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {}s waiting for: {what}", limit.as_secs());
}

/// Waits (bounded) until `check` holds.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll_until(what, limit, || {
        let f = check();
        async move { f.await.then_some(()) }
    })
    .await
}

/// What a receiver got.
type Inbox = Arc<Mutex<Vec<Value>>>;

fn snapshot(inbox: &Inbox) -> Vec<Value> {
    inbox.lock().map(|v| v.clone()).unwrap_or_default()
}

/// An Alertmanager-style webhook receiver on loopback: every POST body is kept.
async fn webhook_receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let kept = inbox.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                if let Ok(mut v) = kept.lock() {
                    v.push(body);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind webhook");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), inbox)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The test venv's python (`scripts/python-test-env.sh` installs aiosmtpd from PyPI).
async fn venv_python() -> PathBuf {
    let root = repo_root();
    let out = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::process::Command::new("bash")
            .arg(root.join("scripts/python-test-env.sh"))
            .current_dir(&root)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("python-test-env.sh finished")
    .expect("run python-test-env.sh");
    assert!(
        out.status.success(),
        "python-test-env.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    root.join(stdout.lines().last().unwrap_or_default().trim())
}

/// aiosmtpd on a loopback port, requiring a login; each message it accepts is kept.
struct Smtpd {
    port: u16,
    inbox: Inbox,
    _child: tokio::process::Child,
}

async fn smtp_server() -> Smtpd {
    smtp_server_with(&[]).await
}

/// aiosmtpd with extra arguments (a certificate and key: STARTTLS required).
async fn smtp_server_with(extra: &[&std::path::Path]) -> Smtpd {
    let python = venv_python().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = tokio::process::Command::new(python)
        .arg(repo_root().join("tests/python/smtp_server.py"))
        .arg(port.to_string())
        .arg(SMTP_USER)
        .arg(SMTP_PASSWORD)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start aiosmtpd");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("aiosmtpd ready in time")
        .expect("read aiosmtpd");
    assert_eq!(ready.as_deref(), Some("ready"));
    let inbox: Inbox = Arc::default();
    let kept = inbox.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let (Ok(v), Ok(mut k)) = (serde_json::from_str::<Value>(&line), kept.lock()) {
                k.push(v);
            }
        }
    });
    Smtpd {
        port,
        inbox,
        _child: child,
    }
}

fn tweak(c: &mut platform::PlatformConfig) {
    c.monitoring.interval = Duration::from_secs(1);
    c.alerting.tick = Duration::from_millis(200);
    c.alerting.retry.attempts = 3;
    c.alerting.retry.initial_backoff = Duration::from_millis(100);
    c.alerting.retry.timeout = Duration::from_secs(5);
}

/// Webhook bodies about `pod`'s alert with status `status`.
fn hooks(inbox: &Inbox, pod: &str, status: &str) -> usize {
    snapshot(inbox)
        .iter()
        .filter(|b| b["status"] == status && b["alerts"][0]["labels"]["pod"] == pod)
        .count()
}

/// E-mails whose subject is `[STATUS] PodCrashing …` and whose text names `pod`.
fn mails(inbox: &Inbox, pod: &str, status: &str) -> usize {
    let subject = format!("Subject: [{status}] PodCrashing (namespace p, cluster host)");
    snapshot(inbox)
        .iter()
        .filter(|m| {
            let data = m["data"].as_str().unwrap_or_default();
            data.contains(&subject) && data.contains(&format!("pod = {pod}"))
        })
        .count()
}

async fn project_alerts(c: &Client, token: &str, query: &str) -> Value {
    c.ok(
        Method::GET,
        &format!("{ALERTS}/namespaces/p/alerts?{query}"),
        token,
        None,
    )
    .await
}

/// The firing alert's pod, once there is exactly one firing alert.
async fn firing_pod(c: &Client, token: &str) -> Option<String> {
    let v = project_alerts(c, token, "state=firing").await;
    (v["total"] == 1)
        .then(|| v["items"][0]["labels"]["pod"].as_str().map(str::to_string))
        .flatten()
}

async fn set_image(c: &Client, admin: &str, image: &str) {
    let mut d = c.ok(Method::GET, DEPLOYMENT, admin, None).await;
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image.into();
    c.ok(Method::PUT, DEPLOYMENT, admin, Some(d)).await;
}

async fn last_evaluation(c: &Client, token: &str) -> String {
    let g = c
        .ok(Method::GET, &format!("{RULEGROUPS}/crashes"), token, None)
        .await;
    g["status"]["lastEvaluation"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until the group has been evaluated `n` more times (each evaluation stamps a new
/// second-resolution time; the group's interval is above a second).
async fn evaluations_pass(c: &Client, token: &str, n: usize) {
    let mut last = last_evaluation(c, token).await;
    for i in 0..n {
        let seen = last.clone();
        last = poll_until(
            &format!("evaluation {} of {n}", i + 1),
            Duration::from_secs(30),
            || {
                let seen = seen.clone();
                async move { Some(last_evaluation(c, token).await).filter(|t| *t != seen) }
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_pod_fires_notifies_once_resolves_and_is_silenced() {
    let smtp = smtp_server().await;
    let (hook_url, hook) = webhook_receiver().await;
    let env = Env::start_with(tweak).await;
    // A second replica: only the leader evaluates and notifies.
    let mut second_config = test_config(
        kube_config(&env.kubeconfig).await,
        &env.dir.path().join("platform2"),
    );
    tweak(&mut second_config);
    let second = platform::start(second_config)
        .await
        .expect("second replica");
    let sim_stop = tokio_util::sync::CancellationToken::new();
    let sim = tokio::spawn(sim::run(
        env.kube().await,
        sim::SimConfig {
            nodes: 1,
            time_scale: 5.0,
            ..Default::default()
        },
        sim_stop.clone(),
    ));
    let Env {
        cluster: _cluster,
        platform: first,
        dir: _dir,
        ..
    } = env;
    let mut replicas: Vec<Option<RunningPlatform>> = vec![Some(first), Some(second)];
    let c = Client::new(&replicas[1].as_ref().expect("second").url());
    let (admin, owner, other) = owner_and_other_tenants(&c).await;

    notifications_to_smtp_and_webhook(&c, &admin, &owner, smtp.port, &hook_url).await;

    crash_rule_and_crash_looping_workload(&c, &admin, &owner, &other).await;

    let pod = fires_for_the_projects_members_only(&c, &owner, &other).await;

    firing_notified_and_recorded(&c, &owner, &hook, &smtp.inbox, &pod).await;

    // The leader goes away; the other replica carries on from the rule group's status and
    // does not notify again what was sent.
    let leader = replicas
        .iter()
        .position(|r| r.as_ref().is_some_and(|p| *p.leader.borrow()))
        .expect("a leader");
    let gone = replicas[leader].take().expect("leader");
    gone.shutdown().await;
    let survivor = replicas[1 - leader].as_ref().expect("survivor");
    let c = Client::new(&survivor.url());
    let mut leads = survivor.leader.clone();
    wait_for("the other replica to lead", Duration::from_secs(30), || {
        let now = *leads.borrow_and_update();
        async move { now }
    })
    .await;
    evaluations_pass(&c, &owner, 3).await;
    assert_eq!(firing_pod(&c, &owner).await.as_deref(), Some(pod.as_str()));
    assert_eq!(
        hooks(&hook, &pod, "firing"),
        1,
        "one firing notification per alert: {:?}",
        snapshot(&hook)
            .iter()
            .map(|b| (
                b["status"].clone(),
                b["alerts"][0]["startsAt"].clone(),
                b["alerts"][0]["labels"]["pod"].clone()
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(mails(&smtp.inbox, &pod, "FIRING"), 1);

    fixed_resolves_once(&c, &admin, &owner, &hook, &smtp.inbox, &pod).await;

    silenced_while_broken_again(&c, &admin, &owner, &hook, &smtp.inbox, &pod).await;

    sim_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), sim).await;
    for r in replicas.into_iter().flatten() {
        r.shutdown().await;
    }
}

/// Users `owner` (admin of project p in workspace w) and `other` (of q in w2); the admin's,
/// owner's and other's tokens.
async fn owner_and_other_tenants(c: &Client) -> (String, String, String) {
    let admin = c.login("admin", ADMIN_PW).await;
    for u in ["owner", "other"] {
        create_user(c, &admin, u).await;
    }
    create_workspace(c, &admin, "w", "owner").await;
    create_project(c, &admin, "w", "p").await;
    create_workspace(c, &admin, "w2", "other").await;
    create_project(c, &admin, "w2", "q").await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/p/namespacemembers"),
        "owner",
        "admin",
    )
    .await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/q/namespacemembers"),
        "other",
        "admin",
    )
    .await;
    let owner = c.login("owner", USER_PW).await;
    let other = c.login("other", USER_PW).await;
    (admin, owner, other)
}

/// Where notifications go (platform administrators only): the SMTP server, its login's
/// password in a Secret, a receiver with a webhook and an address.
async fn notifications_to_smtp_and_webhook(
    c: &Client,
    admin: &str,
    owner: &str,
    smtp_port: u16,
    hook_url: &str,
) {
    // Where notifications go (platform administrators only): the SMTP server, its login's
    // password in a Secret, a receiver with a webhook and an address.
    c.ok(
        Method::POST,
        "/api/v1/namespaces/kubesphere-system/secrets",
        admin,
        Some(
            json!({"metadata": {"name": "smtp-login"}, "stringData": {"password": SMTP_PASSWORD}}),
        ),
    )
    .await;
    let config = json!({"apiVersion": "notification.kubesphere.io/v2beta2", "kind": "Config",
        "metadata": {"name": "default-email-config"},
        "spec": {"email": {"smartHost": {"host": "127.0.0.1", "port": smtp_port},
            "from": "orrery@example.com", "authUsername": SMTP_USER,
            "authPassword": {"valueFrom": {"secretKeyRef": {"namespace": "kubesphere-system", "name": "smtp-login", "key": "password"}}},
            "tls": {"mode": "none"}}}});
    let (s, v) = c
        .post(&format!("{NOTIFICATION}/configs"), owner, config.clone())
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a tenant configures no notifications: {v}"
    );
    c.ok(
        Method::POST,
        &format!("{NOTIFICATION}/configs"),
        admin,
        Some(config),
    )
    .await;
    c.ok(
        Method::POST,
        &format!("{NOTIFICATION}/receivers"),
        admin,
        Some(
            json!({"apiVersion": "notification.kubesphere.io/v2beta2", "kind": "Receiver",
            "metadata": {"name": "ops"},
            "spec": {"webhook": {"url": hook_url}, "email": {"to": ["ops@example.com"]}}}),
        ),
    )
    .await;
}

/// The project's rule (a container of the project restarted; short `for` and interval) and a
/// deployment whose container crash-loops.
async fn crash_rule_and_crash_looping_workload(c: &Client, admin: &str, owner: &str, other: &str) {
    // The project's rule: a container of the project restarted; short `for` and interval.
    let group = json!({"apiVersion": "alerting.kubesphere.io/v2beta1", "kind": "RuleGroup",
        "metadata": {"name": "crashes", "namespace": "p"},
        "spec": {"interval": "2s", "rules": [{
            "alert": "PodCrashing",
            "expr": "kube_pod_container_status_restarts_total > 0",
            "for": "2s", "severity": "critical",
            "labels": {"team": "shop"},
            "annotations": {"summary": "{{ $labels.pod }} restarted {{ $value }} times",
                            "description": "container {{ $labels.container }} crash-loops"}}]}});
    let (s, _) = c.post(RULEGROUPS, other, group.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another workspace's tenant");
    c.ok(Method::POST, RULEGROUPS, owner, Some(group)).await;
    c.ok(
        Method::POST,
        "/apis/apps/v1/namespaces/p/deployments",
        admin,
        Some(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "p"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "example/crashloop:1"}]}}}})),
    )
    .await;
}

/// The alert fires and is listed for the project's members, and for nobody else; answers the
/// crash-looping pod.
async fn fires_for_the_projects_members_only(c: &Client, owner: &str, other: &str) -> String {
    // It fires, listed for the project's members…
    let pod = poll_until("a firing alert in p", Duration::from_secs(90), || {
        firing_pod(c, owner)
    })
    .await;
    assert!(pod.starts_with("web-"), "{pod}");
    let v = project_alerts(c, owner, "label_filters=severity%3Dcritical,pod~web-").await;
    let item = &v["items"][0];
    assert_eq!(item["ruleGroup"], "crashes", "{v}");
    assert_eq!(item["ruleName"], "PodCrashing");
    assert_eq!(item["cluster"], "host");
    assert_eq!(item["silenced"], false);
    assert_eq!(item["labels"]["alertname"], "PodCrashing");
    assert_eq!(item["labels"]["namespace"], "p");
    assert_eq!(item["labels"]["team"], "shop");
    assert_eq!(item["labels"]["container"], "app");
    assert_eq!(
        item["annotations"]["summary"],
        format!(
            "{pod} restarted {} times",
            item["value"].as_str().unwrap_or("?")
        )
    );
    assert_eq!(
        item["annotations"]["description"],
        "container app crash-loops"
    );
    assert!(project_alerts(c, owner, "label_filters=severity%3Dinfo").await["total"] == 0);
    let (s, _) = c
        .get(
            &format!("{ALERTS}/namespaces/p/alerts?state=burning"),
            owner,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // … and nobody else: another workspace's tenant gets 403 on p and nothing in its own
    // project; a project member is no cluster viewer and no platform administrator.
    let (s, _) = c.get(&format!("{ALERTS}/namespaces/p/alerts"), other).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = c.get(&format!("{ALERTS}/namespaces/q/alerts"), other).await;
    assert_eq!((s, v["total"].clone()), (StatusCode::OK, json!(0)), "{v}");
    let (s, _) = c
        .get(
            &format!("/clusters/host{ALERTS}/namespaces/p/alerts"),
            other,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in [format!("{ALERTS}/alerts"), format!("{ALERTS}/globalalerts")] {
        for t in [&owner, &other] {
            let (s, _) = c.get(&path, t).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let (s, _) = c.get(RULEGROUPS, other).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Through the cluster path too, for the member.
    let v = c
        .ok(
            Method::GET,
            &format!("/clusters/host{ALERTS}/namespaces/p/alerts?state=firing"),
            owner,
            None,
        )
        .await;
    assert_eq!(v["total"], 1, "{v}");
    pod
}

/// The firing notification reaches both receivers and is recorded as sent in the rule group's
/// status.
async fn firing_notified_and_recorded(
    c: &Client,
    owner: &str,
    hook: &Inbox,
    smtp: &Inbox,
    pod: &str,
) {
    // The firing notification reaches both receivers.
    wait_for("the firing webhook", Duration::from_secs(30), || async {
        hooks(hook, pod, "firing") >= 1
    })
    .await;
    wait_for("the firing e-mail", Duration::from_secs(30), || async {
        mails(smtp, pod, "FIRING") >= 1
    })
    .await;
    let body = snapshot(hook)
        .into_iter()
        .find(|b| b["status"] == "firing")
        .expect("firing body");
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "ops");
    let a = &body["alerts"][0];
    assert_eq!(a["status"], "firing");
    assert_eq!(a["labels"]["alertname"], "PodCrashing");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(a["fingerprint"].as_str().map(str::len), Some(16));
    assert!(
        a["annotations"]["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with(pod)
    );
    let mail = snapshot(smtp)[0].clone();
    assert_eq!(mail["from"], "orrery@example.com");
    assert_eq!(mail["to"], json!(["ops@example.com"]));
    assert!(
        !mail["data"]
            .as_str()
            .unwrap_or_default()
            .contains(SMTP_PASSWORD)
    );

    // The firing was recorded as sent in the rule group's status: what a new leader reads.
    wait_for(
        "the firing recorded as notified",
        Duration::from_secs(30),
        || async {
            let g = c
                .ok(Method::GET, &format!("{RULEGROUPS}/crashes"), owner, None)
                .await;
            g["status"]["alerts"].as_array().is_some_and(|a| {
                a.iter().any(|a| {
                    a["labels"]["pod"] == pod
                        && a["notifiedFiring"].is_string()
                        && a["notifyError"].is_null()
                })
            })
        },
    )
    .await;
}

/// Fixed (a healthy image): the alert resolves, and both receivers hear it once.
async fn fixed_resolves_once(
    c: &Client,
    admin: &str,
    owner: &str,
    hook: &Inbox,
    smtp: &Inbox,
    pod: &str,
) {
    // Fixed: a healthy image; the alert resolves, and both receivers hear it once.
    set_image(c, admin, "example/web:2").await;
    wait_for("the alert resolved", Duration::from_secs(90), || async {
        let v = project_alerts(c, owner, "state=inactive").await;
        v["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|a| a["labels"]["pod"] == pod))
    })
    .await;
    wait_for("the resolved webhook", Duration::from_secs(30), || async {
        hooks(hook, pod, "resolved") == 1
    })
    .await;
    wait_for("the resolved e-mail", Duration::from_secs(30), || async {
        mails(smtp, pod, "RESOLVED") == 1
    })
    .await;
    let resolved = snapshot(hook)
        .into_iter()
        .find(|b| b["status"] == "resolved")
        .expect("resolved body");
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(project_alerts(c, owner, "state=firing").await["total"], 0);
}

/// A Silence over the project's PodCrashing alerts: the workload breaks again, its alert
/// fires and is listed as silenced, and nothing is sent.
async fn silenced_while_broken_again(
    c: &Client,
    admin: &str,
    owner: &str,
    hook: &Inbox,
    smtp: &Inbox,
    pod: &str,
) {
    // A Silence over the project's PodCrashing alerts: the workload breaks again, its alert
    // fires and is listed as silenced, and nothing is sent.
    let (hooks_before, mails_before) = (snapshot(hook).len(), snapshot(smtp).len());
    c.ok(
        Method::POST,
        &format!("{NOTIFICATION}/silences"),
        admin,
        Some(
            json!({"apiVersion": "notification.kubesphere.io/v2beta2", "kind": "Silence",
            "metadata": {"name": "maintenance"},
            "spec": {"matcher": {"matchLabels": {"alertname": "PodCrashing", "namespace": "p"}},
                     "duration": "1h"}}),
        ),
    )
    .await;
    set_image(c, admin, "example/crashloop:2").await;
    let again = poll_until(
        "the silenced alert firing",
        Duration::from_secs(90),
        || async {
            let v = project_alerts(c, owner, "state=firing").await;
            v["items"]
                .as_array()
                .and_then(|i| i.iter().find(|a| a["silenced"] == true))
                .cloned()
        },
    )
    .await;
    assert_ne!(again["labels"]["pod"], pod, "a new pod: {again}");
    evaluations_pass(c, owner, 3).await;
    assert_eq!(snapshot(hook).len(), hooks_before, "{:?}", snapshot(hook));
    assert_eq!(snapshot(smtp).len(), mails_before);
}

/// Cluster and platform rule groups: a ClusterRuleGroup's alerts are listed for cluster viewers
/// (and not for project members), a GlobalRuleGroup's for platform administrators only (who
/// alone may write one); a receiver that cannot be reached has its failure recorded in the
/// alert after bounded retries while evaluation goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_and_global_alerts_are_for_their_levels_and_failures_are_recorded() {
    let env = Env::start_with(tweak).await;
    let c = &env.http;
    let admin = env.admin().await;
    let (viewer, tenant) = viewer_and_tenant(c, &admin).await;

    let smtp = unreachable_webhook_and_starttls_mail(c, &admin, env.dir.path()).await;
    bad_groups_refused_cluster_and_global_made(c, &admin, &viewer, &tenant).await;

    alerts_listed_at_their_levels(c, &admin, &viewer, &tenant).await;

    // The unreachable receiver: the failure is recorded once the retries are spent, and the
    // group keeps being evaluated.
    let failed = poll_until("the failure recorded", Duration::from_secs(30), || async {
        let v = c
            .ok(Method::GET, &format!("{ALERTS}/alerts"), &viewer, None)
            .await;
        v["items"][0]["notifyError"].as_str().map(str::to_string)
    })
    .await;
    assert!(
        !failed.contains("receiver mail"),
        "the e-mail went through: {failed}"
    );
    let mail = snapshot(&smtp.inbox);
    assert_eq!(mail.len(), 1, "only the selected group's alert: {mail:?}");
    assert!(
        mail[0]["data"]
            .as_str()
            .unwrap_or_default()
            .contains("Subject: [FIRING] Always (cluster host)"),
        "{mail:?}"
    );
    assert!(
        failed.contains("receiver unreachable (webhook)")
            && failed.contains("gave up after 3 attempts"),
        "{failed}"
    );
    let path = "/apis/alerting.kubesphere.io/v2beta1/clusterrulegroups/node-health";
    let first = c.ok(Method::GET, path, &admin, None).await["status"]["lastEvaluation"].clone();
    wait_for("another evaluation", Duration::from_secs(30), || async {
        c.ok(Method::GET, path, &admin, None).await["status"]["lastEvaluation"] != first
    })
    .await;
}

/// A cluster viewer and a tenant (admin of project p in workspace w); their tokens.
async fn viewer_and_tenant(c: &Client, admin: &str) -> (String, String) {
    for u in ["viewer", "tenant"] {
        create_user(c, admin, u).await;
    }
    add_member(
        c,
        admin,
        &format!("{IAM}/clustermembers"),
        "viewer",
        "cluster-viewer",
    )
    .await;
    create_workspace(c, admin, "w", "tenant").await;
    create_project(c, admin, "w", "p").await;
    add_member(
        c,
        admin,
        &format!("{IAM}/namespaces/p/namespacemembers"),
        "tenant",
        "admin",
    )
    .await;
    let viewer = c.login("viewer", USER_PW).await;
    let tenant = c.login("tenant", USER_PW).await;
    (viewer, tenant)
}

/// A webhook receiver nothing listens on, and e-mail over STARTTLS for the node-health group
/// (the server's certificate signed by a CA given in the Config; its files under `dir`).
async fn unreachable_webhook_and_starttls_mail(
    c: &Client,
    admin: &str,
    dir: &std::path::Path,
) -> Smtpd {
    // Nothing listens on this port: every attempt fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    c.ok(
        Method::POST,
        &format!("{NOTIFICATION}/receivers"),
        admin,
        Some(
            json!({"apiVersion": "notification.kubesphere.io/v2beta2", "kind": "Receiver",
            "metadata": {"name": "unreachable"},
            "spec": {"webhook": {"url": format!("http://{closed}/hook")}}}),
        ),
    )
    .await;
    // E-mail over STARTTLS, the server's certificate signed by a CA given in the Config.
    let (ca, cert, key) = loopback_certificate();
    let pem = dir.join("smtp");
    std::fs::create_dir_all(&pem).expect("dir");
    std::fs::write(pem.join("cert.pem"), cert.pem()).expect("cert");
    std::fs::write(pem.join("key.pem"), key.serialize_pem()).expect("key");
    let smtp = smtp_server_with(&[&pem.join("cert.pem"), &pem.join("key.pem")]).await;
    c.ok(
        Method::POST,
        "/api/v1/namespaces/kubesphere-system/secrets",
        admin,
        Some(
            json!({"metadata": {"name": "smtp-login"}, "stringData": {"password": SMTP_PASSWORD}}),
        ),
    )
    .await;
    c.ok(
        Method::POST,
        &format!("{NOTIFICATION}/configs"),
        admin,
        Some(json!({"apiVersion": "notification.kubesphere.io/v2beta2", "kind": "Config",
            "metadata": {"name": "default-email-config"},
            "spec": {"email": {"smartHost": {"host": "127.0.0.1", "port": smtp.port},
                "from": "orrery@example.com", "authUsername": SMTP_USER,
                "authPassword": {"valueFrom": {"secretKeyRef": {"name": "smtp-login", "key": "password"}}},
                "tls": {"mode": "starttls", "rootCA": ca.pem()}}}})),
    )
    .await;
    c.ok(
        Method::POST,
        &format!("{NOTIFICATION}/receivers"),
        admin,
        Some(
            json!({"apiVersion": "notification.kubesphere.io/v2beta2", "kind": "Receiver",
            "metadata": {"name": "mail"},
            "spec": {"email": {"to": ["oncall@example.com"],
                "alertSelector": {"matchLabels": {"rule_group": "node-health"}}}}}),
        ),
    )
    .await;
    smtp
}

/// A mistaken rule group is refused with the reason on both paths; a GlobalRuleGroup is the
/// platform administrator's; a GlobalRuleGroup and a ClusterRuleGroup are made.
async fn bad_groups_refused_cluster_and_global_made(
    c: &Client,
    admin: &str,
    viewer: &str,
    tenant: &str,
) {
    let group = |kind: &str, name: &str| {
        json!({"apiVersion": "alerting.kubesphere.io/v2beta1", "kind": kind,
            "metadata": {"name": name},
            "spec": {"interval": "1s", "rules": [
                {"alert": "Always", "expr": "vector(1)", "severity": "info",
                 "annotations": {"summary": "value {{ $value }}"}},
                {"alert": "Never", "expr": "vector(1) > 2"},
                {"alert": "Off", "expr": "vector(1)", "disable": true}]}})
    };
    // A mistake is refused with the reason, on both paths, and nothing is stored.
    let bad = json!({"apiVersion": "alerting.kubesphere.io/v2beta1", "kind": "RuleGroup",
        "metadata": {"name": "typo", "namespace": "p"},
        "spec": {"rules": [{"alert": "A", "expr": "sum(rate(x[5m]"}]}});
    for path in [
        RULEGROUPS.to_string(),
        format!("/clusters/host{RULEGROUPS}"),
    ] {
        let (s, v) = c.post(&path, tenant, bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or_default()
                .contains("spec.rules[0].expr is not PromQL"),
            "{v}"
        );
    }
    let v = c.ok(Method::GET, RULEGROUPS, tenant, None).await;
    assert_eq!(v["items"], json!([]), "{v}");
    let global = "/apis/alerting.kubesphere.io/v2beta1/globalrulegroups";
    for t in [&viewer, &tenant] {
        let (s, _) = c
            .post(global, t, group("GlobalRuleGroup", "everywhere"))
            .await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "a GlobalRuleGroup is the platform's"
        );
    }
    c.ok(
        Method::POST,
        global,
        admin,
        Some(group("GlobalRuleGroup", "everywhere")),
    )
    .await;
    c.ok(
        Method::POST,
        "/apis/alerting.kubesphere.io/v2beta1/clusterrulegroups",
        admin,
        Some(group("ClusterRuleGroup", "node-health")),
    )
    .await;
}

/// The cluster alert for cluster viewers (not project members), the global one for platform
/// administrators only, neither for a project.
async fn alerts_listed_at_their_levels(c: &Client, admin: &str, viewer: &str, tenant: &str) {
    let cluster = poll_until("a cluster alert", Duration::from_secs(30), || async {
        let v = c
            .ok(
                Method::GET,
                &format!("{ALERTS}/alerts?state=firing"),
                viewer,
                None,
            )
            .await;
        (v["total"] == 1).then_some(v)
    })
    .await;
    let a = &cluster["items"][0];
    assert_eq!(a["ruleGroup"], "node-health", "{cluster}");
    assert_eq!(a["labels"]["alertname"], "Always");
    assert_eq!(a["labels"]["cluster"], "host");
    assert_eq!(a["annotations"]["summary"], "value 1");
    assert!(a["labels"].get("namespace").is_none(), "{a}");
    // The same through the cluster path.
    let v = c
        .ok(
            Method::GET,
            &format!("/clusters/host{ALERTS}/alerts"),
            viewer,
            None,
        )
        .await;
    assert_eq!(v["total"], 1, "{v}");
    let (s, _) = c.get(&format!("{ALERTS}/alerts"), tenant).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a project member is no cluster viewer"
    );
    let (s, _) = c.get(&format!("{ALERTS}/globalalerts"), viewer).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a cluster viewer is no platform administrator"
    );
    let global_alerts = poll_until("a global alert", Duration::from_secs(30), || async {
        let v = c
            .ok(Method::GET, &format!("{ALERTS}/globalalerts"), admin, None)
            .await;
        (v["total"] == 1).then_some(v)
    })
    .await;
    assert_eq!(global_alerts["items"][0]["ruleGroup"], "everywhere");
    assert_eq!(global_alerts["items"][0]["cluster"], "host");
    // A project sees neither.
    let v = c
        .ok(
            Method::GET,
            &format!("{ALERTS}/namespaces/p/alerts"),
            tenant,
            None,
        )
        .await;
    assert_eq!(v["total"], 0, "{v}");
}
