//! KubeSphere's generic resources API on the host: any resource by its plural, paged, sorted
//! and filtered on the server with KubeSphere's list conventions.
use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const G: &str = "/kapis/resources.kubesphere.io/v1alpha3";

fn names_in_order(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_lists_are_paged_sorted_and_filtered_on_the_server() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    for i in 0..25 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        c.ok(
            Method::POST,
            "/api/v1/namespaces/p/configmaps",
            &admin,
            Some(
                json!({"metadata": {"name": format!("cm-{i:02}"), "labels": {"tier": tier}},
                "data": {"i": i.to_string()}}),
            ),
        )
        .await;
    }
    // Page 2 of 10, by name, descending: the server sorted all 25 first.
    let v = c
        .ok(
            Method::GET,
            &format!(
                "{G}/namespaces/p/configmaps?name=cm-&sortBy=name&ascending=false&limit=10&page=2"
            ),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 25, "{v}");
    let expected: Vec<String> = (5..15).rev().map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names_in_order(&v), expected);
    assert_eq!(v["items"][0]["kind"], "ConfigMap");
    assert_eq!(v["items"][0]["apiVersion"], "v1");
    // A label selector and a field selector (the latter answered by the cluster).
    let v = c
        .ok(
            Method::GET,
            &format!("{G}/namespaces/p/configmaps?labelSelector=tier%3Dodd&limit=100"),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 12, "{v}");
    let v = c
        .ok(
            Method::GET,
            &format!("{G}/namespaces/p/configmaps?fieldSelector=metadata.name%3Dcm-07"),
            &admin,
            None,
        )
        .await;
    assert_eq!(names_in_order(&v), ["cm-07"]);
    // One object; a missing one; a resource of another group; a cluster-scoped one.
    let v = c
        .ok(
            Method::GET,
            &format!("{G}/namespaces/p/configmaps/cm-03"),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["data"]["i"], "3");
    let (s, _) = c
        .get(&format!("{G}/namespaces/p/configmaps/nope"), &admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v = c
        .ok(
            Method::GET,
            &format!("{G}/namespaces/p/roles"),
            &admin,
            None,
        )
        .await;
    assert!(v["totalItems"].as_u64().is_some(), "{v}");
    let v = c
        .ok(Method::GET, &format!("{G}/namespaces"), &admin, None)
        .await;
    assert!(names_in_order(&v).contains(&"p".to_string()), "{v}");
    let (s, _) = c.get(&format!("{G}/namespaces/p/nodes"), &admin).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a cluster-scoped resource under a namespace"
    );
    let (s, _) = c.get(&format!("{G}/gadgets"), &admin).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a resource the cluster does not serve"
    );
    // A project viewer reads its project's lists, and nothing cluster-wide.
    create_user(c, &admin, "viewer").await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/p/namespacemembers"),
        "viewer",
        "viewer",
    )
    .await;
    let viewer = c.login("viewer", USER_PW).await;
    let v = c
        .ok(
            Method::GET,
            &format!("{G}/namespaces/p/configmaps?limit=5"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(
        (v["totalItems"].as_u64(), names_in_order(&v).len()),
        (Some(25), 5)
    );
    let (s, _) = c.get(&format!("{G}/configmaps"), &viewer).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .get(&format!("{G}/namespaces/default/configmaps"), &viewer)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
