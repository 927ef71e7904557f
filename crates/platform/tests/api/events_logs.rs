//! Events across clusters and a workload's merged logs: filters, order, paging, the simulated
//! data plane's logs, and tenant isolation.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

const EVENTS: &str = "/kapis/tenant.kubesphere.io/v1alpha2/events";

fn logs_path(ns: &str, kind: &str, name: &str) -> String {
    format!("/kapis/tenant.kubesphere.io/v1alpha2/namespaces/{ns}/workloads/{kind}/{name}/logs")
}

/// Two workspaces, one project each: `alice` manages w1 (project p1), `bob` views project p2
/// of w2; `carol` is a member of nothing.
async fn tenants(c: &Client, admin: &str) -> (String, String, String) {
    for u in ["alice", "bob", "carol"] {
        create_user(c, admin, u).await;
    }
    create_workspace(c, admin, "w1", "alice").await;
    create_workspace(c, admin, "w2", "admin").await;
    create_project(c, admin, "w1", "p1").await;
    create_project(c, admin, "w2", "p2").await;
    add_member(
        c,
        admin,
        &format!("{IAM}/namespaces/p2/namespacemembers"),
        "bob",
        "viewer",
    )
    .await;
    (
        c.login("alice", USER_PW).await,
        c.login("bob", USER_PW).await,
        c.login("carol", USER_PW).await,
    )
}

async fn create_event(kube: &kube::Client, ns: &str, name: &str, e: Value) {
    let api: kube::Api<k8s_openapi::api::core::v1::Event> = kube::Api::namespaced(kube.clone(), ns);
    let mut body = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "source": {"component": "test"},
        "count": 1,
    });
    for (k, v) in e.as_object().expect("object") {
        body[k] = v.clone();
    }
    api.create(
        &Default::default(),
        &serde_json::from_value(body).expect("event"),
    )
    .await
    .expect("create event");
}

fn reasons(v: &Value) -> Vec<String> {
    v["query"]["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn events(c: &Client, token: &str, query: &str) -> Value {
    c.ok(Method::GET, &format!("{EVENTS}?{query}"), token, None)
        .await
}

#[tokio::test]
async fn events_are_filtered_sorted_paged_and_narrowed_to_the_caller() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let (alice, bob, carol) = tenants(c, &admin).await;
    let kube = env.kube().await;
    four_events(&kube).await;
    let mine = "reason_filter=TStarted,TBackOff,TScaled,TFailed";

    the_admin_sorts_pages_and_filters(c, &admin, mine).await;

    // alice manages w1: p1's three, never p2's, even when she asks for p2 or w2.
    let v = events(c, &alice, &format!("{mine}&size=50")).await;
    assert_eq!(reasons(&v), ["TBackOff", "TScaled", "TStarted"], "{v}");
    for q in [
        "namespace_filter=p2",
        "workspace_filter=w2",
        "cluster=host&type_filter=Warning&namespace_filter=p2",
    ] {
        let v = events(c, &alice, &format!("{mine}&{q}")).await;
        assert_eq!(v["query"]["total"], 0, "{q}: {v}");
    }
    // bob views p2 only.
    let v = events(c, &bob, &format!("{mine}&size=50")).await;
    assert_eq!(reasons(&v), ["TFailed"]);
    // carol sees nothing at all (not even Events of other writers).
    let v = events(c, &carol, "size=1000").await;
    assert_eq!(v["query"]["total"], 0, "{v}");

    // Bad values are refused with a reason and change nothing.
    for q in [
        "size=0",
        "from=-3",
        "sort=up",
        "start_time=soon",
        "start_time=9&end_time=1",
    ] {
        let (s, v) = c.get(&format!("{EVENTS}?{q}"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    // Anonymous callers are not served.
    let (s, _) = c.call(Method::GET, EVENTS, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Three Events in p1 (w1) and one in p2 (w2), a second apart. Reasons are unique to this
/// test (T…) so that other writers' Events do not count.
async fn four_events(kube: &kube::Client) {
    // Reasons are unique to this test (T…) so that other writers' Events do not count.
    let ev = |kind: &str, obj: &str, reason: &str, ty: &str, at: &str| {
        json!({"involvedObject": {"kind": kind, "name": obj, "apiVersion": "v1"},
               "reason": reason, "type": ty, "message": format!("{reason} of {obj}"),
               "firstTimestamp": at, "lastTimestamp": at})
    };
    create_event(
        kube,
        "p1",
        "a",
        ev("Pod", "web-1", "TStarted", "Normal", "2026-01-01T00:00:01Z"),
    )
    .await;
    create_event(
        kube,
        "p1",
        "b",
        ev(
            "Pod",
            "web-2",
            "TBackOff",
            "Warning",
            "2026-01-01T00:00:03Z",
        ),
    )
    .await;
    create_event(
        kube,
        "p1",
        "c",
        ev(
            "Deployment",
            "web",
            "TScaled",
            "Normal",
            "2026-01-01T00:00:02Z",
        ),
    )
    .await;
    create_event(
        kube,
        "p2",
        "d",
        ev("Pod", "db-0", "TFailed", "Warning", "2026-01-01T00:00:04Z"),
    )
    .await;
}

/// The admin sees all four, newest first, each naming its cluster and workspace; sorted,
/// paged and filtered by type, kind and name, namespace, workspace, time and cluster.
async fn the_admin_sorts_pages_and_filters(c: &Client, admin: &str, mine: &str) {
    // The admin sees all four, newest first; each record names its cluster and workspace.
    let v = events(c, admin, &format!("{mine}&size=50")).await;
    assert_eq!(v["query"]["total"], 4, "{v}");
    assert_eq!(reasons(&v), ["TFailed", "TBackOff", "TScaled", "TStarted"]);
    let first = &v["query"]["records"][0];
    assert_eq!(
        first["metadata"]["annotations"]["kubesphere.io/cluster"],
        "host"
    );
    assert_eq!(
        first["metadata"]["annotations"]["kubesphere.io/workspace"],
        "w2"
    );
    assert_eq!(first["involvedObject"]["name"], "db-0");
    // Oldest first, paging.
    let v = events(c, admin, &format!("{mine}&sort=asc&from=1&size=2")).await;
    assert_eq!(v["query"]["total"], 4);
    assert_eq!(reasons(&v), ["TScaled", "TBackOff"]);
    // Filters: type, kind + name part, namespace, workspace, time, cluster.
    let v = events(c, admin, &format!("{mine}&type_filter=Warning")).await;
    assert_eq!(reasons(&v), ["TFailed", "TBackOff"]);
    let v = events(
        c,
        admin,
        &format!("{mine}&involved_object_kind_filter=Pod&involved_object_name_filter=WEB"),
    )
    .await;
    assert_eq!(reasons(&v), ["TBackOff", "TStarted"]);
    let v = events(c, admin, &format!("{mine}&namespace_filter=p2")).await;
    assert_eq!(reasons(&v), ["TFailed"]);
    let v = events(c, admin, &format!("{mine}&workspace_filter=w1&size=50")).await;
    assert_eq!(reasons(&v), ["TBackOff", "TScaled", "TStarted"]);
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("time")
            .timestamp()
    };
    let v = events(
        c,
        admin,
        &format!(
            "{mine}&start_time={}&end_time={}",
            t("2026-01-01T00:00:02Z"),
            t("2026-01-01T00:00:03Z")
        ),
    )
    .await;
    assert_eq!(reasons(&v), ["TBackOff", "TScaled"]);
    let v = events(c, admin, &format!("{mine}&cluster=host")).await;
    assert_eq!(v["query"]["total"], 4);
    let (s, _) = c.get(&format!("{EVENTS}?cluster=nowhere"), admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Lines `pod/container timestamp text` → (pod, timestamp).
fn parse_lines(text: &str) -> Vec<(String, chrono::DateTime<chrono::FixedOffset>)> {
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let prefix = parts.next().unwrap_or_default();
            let ts = parts.next().unwrap_or_default();
            let (pod, container) = prefix
                .split_once('/')
                .unwrap_or_else(|| panic!("no prefix: {l}"));
            assert_eq!(container, "app", "{l}");
            let t = chrono::DateTime::parse_from_rfc3339(ts)
                .unwrap_or_else(|_| panic!("no timestamp: {l}"));
            (pod.to_string(), t)
        })
        .collect()
}

#[tokio::test]
async fn a_workloads_pods_logs_are_merged_in_time_order_and_followed() {
    let (env, stop) = sim_env(|_| {}).await;
    let c = &env.http;
    let admin = env.admin().await;
    let (alice, bob, carol) = tenants(c, &admin).await;
    let kube = env.kube().await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(kube.clone(), "p1");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}});
    deployments
        .create(
            &Default::default(),
            &serde_json::from_value(d).expect("deployment"),
        )
        .await
        .expect("create deployment");
    let path = logs_path("p1", "deployments", "web");

    // Both pods' lines, in time order, each prefixed with its pod and container.
    let mut text = String::new();
    for _ in 0..300 {
        let (s, v) = c.get(&format!("{path}?timestamps=true"), &alice).await;
        if s == StatusCode::OK {
            text = v.as_str().unwrap_or_default().to_string();
            let pods: std::collections::BTreeSet<String> =
                parse_lines(&text).into_iter().map(|(p, _)| p).collect();
            if pods.len() == 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lines = parse_lines(&text);
    let pods: std::collections::BTreeSet<&str> = lines.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pods.len(), 2, "lines of both pods: {text}");
    assert!(pods.iter().all(|p| p.starts_with("web-")), "{pods:?}");
    assert!(
        lines.windows(2).all(|w| w[0].1 <= w[1].1),
        "lines not in time order:\n{text}"
    );
    // Without timestamps the prefix is followed by the text; tailLines is per container.
    let (s, v) = c.get(&format!("{path}?tailLines=1"), &alice).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let plain = v.as_str().unwrap_or_default();
    assert_eq!(plain.lines().count(), 2, "{plain}");
    assert!(
        plain
            .lines()
            .all(|l| l.starts_with("web-") && l.contains("/app ")),
        "{plain}"
    );
    // No container ever crashed: there is no previous log.
    let (s, v) = c.get(&format!("{path}?previous=true"), &alice).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // A kind that is not a workload, a workload that does not exist, a bad option.
    let (s, _) = c.get(&logs_path("p1", "services", "web"), &alice).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.get(&logs_path("p1", "deployments", "nope"), &alice).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c.get(&format!("{path}?tailLines=-1"), &alice).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Followed: a chunked stream that keeps bringing both pods' new lines.
    let resp = c
        .inner
        .get(format!(
            "{}{path}?follow=true&tailLines=1&timestamps=true",
            c.base
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("follow");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut followed = String::new();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    // Each pod's tail line plus at least one new line from each (the simulation writes one every
    // few simulated seconds; time runs 20 times faster here).
    while seen.len() < 2 || seen.values().any(|n| *n < 2) {
        use futures::StreamExt;
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap_or_else(|_| panic!("no new followed lines; so far:\n{followed}"))
            .expect("stream ended")
            .expect("chunk");
        followed.push_str(&String::from_utf8_lossy(&chunk));
        seen.clear();
        for (p, _) in parse_lines(&followed) {
            *seen.entry(p).or_default() += 1;
        }
    }
    drop(stream);

    // Tenant isolation: bob and carol are not members of p1, and the host path is not a way
    // around it.
    for t in [&bob, &carol] {
        let (s, _) = c.get(&path, t).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = c.get(&format!("/clusters/host{path}"), t).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    // The same through the cluster path for alice.
    let (s, v) = c
        .get(&format!("/clusters/host{path}?tailLines=1"), &alice)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_str().unwrap_or_default().lines().count(), 2, "{v}");
    stop.cancel();
}
