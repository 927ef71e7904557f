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

fn widget_crd(group: &str, served_label: bool) -> Value {
    let mut labels = json!({});
    if served_label {
        labels["kubesphere.io/resource-served"] = "true".into();
    }
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}"), "labels": labels},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

/// KubeSphere's dynamic API: a CRD labelled `kubesphere.io/resource-served: "true"` is served
/// under `/kapis/{group}/{version}` with every verb, lists in KubeSphere's pages, authorized
/// exactly as the cluster's own API (compared for a project viewer and admin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_crds_get_the_dynamic_api() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    c.ok(
        Method::POST,
        crds,
        &admin,
        Some(widget_crd("example.com", true)),
    )
    .await;
    c.ok(
        Method::POST,
        crds,
        &admin,
        Some(widget_crd("hidden.example.com", false)),
    )
    .await;
    let native = "/apis/example.com/v1alpha1/namespaces/p/widgets";
    eventually("the CRD is served", || async {
        c.get(native, &admin).await.0 == StatusCode::OK
    })
    .await;
    let k = "/kapis/example.com/v1alpha1/namespaces/p/widgets";
    for i in 0..7 {
        let w = json!({"apiVersion": "example.com/v1alpha1", "kind": "Widget",
            "metadata": {"name": format!("w{i}"), "labels": {"size": if i < 3 { "s" } else { "l" }}},
            "spec": {"n": i}});
        let (s, v) = c.post(k, &admin, w).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let v = c
        .ok(
            Method::GET,
            &format!("{k}?sortBy=name&ascending=false&limit=3&page=1"),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 7, "{v}");
    assert_eq!(names_in_order(&v), ["w6", "w5", "w4"]);
    let v = c
        .ok(
            Method::GET,
            &format!("{k}?labelSelector=size%3Ds"),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 3, "{v}");
    let v = c.ok(Method::GET, &format!("{k}/w2"), &admin, None).await;
    assert_eq!(v["spec"]["n"], 2);
    let r = c
        .inner
        .patch(format!("{}{k}/w2", c.base))
        .bearer_auth(&admin)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"spec":{"n":20}}"#)
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    let v = c
        .ok(Method::GET, &format!("{native}/w2"), &admin, None)
        .await;
    assert_eq!(v["spec"]["n"], 20, "the patch reached the cluster");
    c.ok(Method::DELETE, &format!("{k}/w2"), &admin, None).await;
    let (s, _) = c.get(&format!("{native}/w2"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Cluster-wide lists, and a CRD without the label, which KubeSphere does not serve.
    let v = c
        .ok(
            Method::GET,
            "/kapis/example.com/v1alpha1/widgets",
            &admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 6, "{v}");
    let (s, _) = c
        .get(
            "/kapis/hidden.example.com/v1alpha1/namespaces/p/widgets",
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Authorized as the cluster's API: the same answer for a project viewer and admin.
    for (u, role) in [("pviewer", "viewer"), ("padmin", "admin")] {
        create_user(c, &admin, u).await;
        add_member(
            c,
            &admin,
            &format!("{IAM}/namespaces/p/namespacemembers"),
            u,
            role,
        )
        .await;
        let token = c.login(u, USER_PW).await;
        for (kapis, apis) in [
            (k.to_string(), native.to_string()),
            (format!("{k}/w1"), format!("{native}/w1")),
            (
                "/kapis/example.com/v1alpha1/widgets".to_string(),
                "/apis/example.com/v1alpha1/widgets".to_string(),
            ),
        ] {
            let (ks, _) = c.get(&kapis, &token).await;
            let (ns, _) = c.get(&apis, &token).await;
            assert_eq!(ks, ns, "{u}: {kapis} answered {ks}, {apis} {ns}");
        }
        let w = json!({"apiVersion": "example.com/v1alpha1", "kind": "Widget",
            "metadata": {"name": format!("by-{u}")}});
        let (ks, _) = c.post(k, &token, w.clone()).await;
        let mut w2 = w;
        w2["metadata"]["name"] = format!("native-{u}").into();
        let (ns, _) = c.post(native, &token, w2).await;
        assert_eq!(ks.is_success(), ns.is_success(), "{u} create: {ks} vs {ns}");
    }
}
