//! Alerting in a member cluster: a project's RuleGroup and a ClusterRuleGroup written through
//! `/clusters/{member}` live in the member, are evaluated by the host's leader against the
//! member's monitoring source, and their alerts are listed under the member's path with
//! `cluster` = the member; a GlobalRuleGroup in the host is evaluated against every cluster.
//! A stranger sees none of the member's alerts.
use super::*;

const ALERTING: &str = "/kapis/alerting.kubesphere.io/v2beta1";

fn group(kind: &str, name: &str) -> Value {
    json!({"apiVersion": "alerting.kubesphere.io/v2beta1", "kind": kind,
        "metadata": {"name": name},
        "spec": {"interval": "1s", "rules": [{"alert": "Always", "expr": "vector(1)",
            "annotations": {"summary": "in {{ $labels.cluster }}"}}]}})
}

/// Polls `path` as `token` (bounded) until its answer has `total` items.
async fn listed(c: &Client, token: &str, path: &str, total: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, v) = c.get(path, token).await;
        if s == StatusCode::OK && v["total"] == total {
            return v;
        }
        assert!(Instant::now() < deadline, "{path}: {s} {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_rule_groups_are_evaluated_and_listed_under_the_member() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let env = Env::start_with(|c| {
        fast_clusters(c, vec![]);
        c.monitoring.interval = Duration::from_secs(1);
        c.alerting.tick = Duration::from_millis(200);
    })
    .await;
    let c = &env.http;
    let admin = env.admin().await;
    join(c, &admin, "m1", &cert_kubeconfig(&m1, "m1")).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    create_user(c, &admin, "wsadmin").await;
    create_user(c, &admin, "stranger").await;
    placed_workspace(c, &admin, "ws", "wsadmin", "m1").await;
    let wsadmin = c.login("wsadmin", USER_PW).await;
    let stranger = c.login("stranger", USER_PW).await;
    member_project(c, &wsadmin, "m1", "ws", "p").await;

    let mut rule_group = group("RuleGroup", "always");
    rule_group["metadata"]["namespace"] = "p".into();
    c.ok(
        Method::POST,
        "/clusters/m1/apis/alerting.kubesphere.io/v2beta1/namespaces/p/rulegroups",
        &wsadmin,
        Some(rule_group),
    )
    .await;
    c.ok(
        Method::POST,
        "/clusters/m1/apis/alerting.kubesphere.io/v2beta1/clusterrulegroups",
        &admin,
        Some(group("ClusterRuleGroup", "member-wide")),
    )
    .await;
    c.ok(
        Method::POST,
        "/apis/alerting.kubesphere.io/v2beta1/globalrulegroups",
        &admin,
        Some(group("GlobalRuleGroup", "everywhere")),
    )
    .await;

    let project = format!("/clusters/m1{ALERTING}/namespaces/p/alerts");
    let v = listed(c, &wsadmin, &format!("{project}?state=firing"), 1).await;
    let a = &v["items"][0];
    assert_eq!(a["cluster"], "m1", "{v}");
    assert_eq!(a["labels"]["namespace"], "p");
    assert_eq!(a["annotations"]["summary"], "in m1");
    let v = listed(c, &admin, &format!("/clusters/m1{ALERTING}/alerts"), 1).await;
    assert_eq!(v["items"][0]["ruleGroup"], "member-wide", "{v}");
    // The member's groups live in the member: the host's lists have none of them.
    let v = c
        .ok(Method::GET, &format!("{ALERTING}/alerts"), &admin, None)
        .await;
    assert_eq!(v["total"], 0, "{v}");
    // The global group, once per cluster.
    let v = listed(
        c,
        &admin,
        &format!("{ALERTING}/globalalerts?state=firing"),
        2,
    )
    .await;
    let mut clusters: Vec<&str> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["cluster"].as_str())
        .collect();
    clusters.sort();
    assert_eq!(clusters, ["host", "m1"], "{v}");
    // A stranger sees none of it.
    for path in [project.clone(), format!("/clusters/m1{ALERTING}/alerts")] {
        let (s, _) = c.get(&path, &stranger).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
}
