//! Joining with client-certificate and exec-plugin kubeconfigs, status, the cluster proxy,
//! isolation across members, workspaces across clusters, kubectl and the search.
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_and_serve_through_the_proxy() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let m2 = OrreryCluster::start_async(&dir.path().join("m2")).await;
    let plugin = write_plugin(dir.path(), &m2.admin_token());
    let allow = vec![plugin.display().to_string()];
    let env = Env::start_with(|c| fast_clusters(c, allow)).await;
    let c = &env.http;
    let admin = env.admin().await;
    members_join(c, &admin, &m1, &m2, &plugin).await;
    let ops = kubeconfig_secret_and_cluster_rights(c, &admin).await;
    place_workspaces(c, &admin, &ops).await;
    let alice = c.login("alice", USER_PW).await;
    let bob = c.login("bob", USER_PW).await;
    let carol = c.login("carol", USER_PW).await;
    let list = eventually(c, Method::GET, A_M1, &alice, None, StatusCode::OK).await;
    eventually(c, Method::GET, B_M2, &bob, None, StatusCode::OK).await;
    let direct = writes_land_in_the_member(c, &admin, &alice, &m1).await;
    isolation_across_clusters(c, &admin, &alice, &bob, &carol).await;
    member_bindings(c, &admin, &carol).await;
    kubectl_with_a_context_per_cluster(c, dir.path(), &alice, &direct).await;
    watch_through_the_proxy(c, &alice, &list).await;
    projects_in_a_chosen_cluster(c, &admin, &alice, &bob).await;
    cross_cluster_search(c, &admin, &alice, &bob).await;
    search_console_kinds(c, &admin, &alice, &bob).await;
    placement_removal(c, &admin, &alice).await;
    drop((m1, m2));
}

/// a-m1's ConfigMaps through the proxy to m1.
const A_M1: &str = "/clusters/m1/api/v1/namespaces/a-m1/configmaps";
/// b-m2's ConfigMaps through the proxy to m2.
const B_M2: &str = "/clusters/m2/api/v1/namespaces/b-m2/configmaps";

/// A workspace placement on the named clusters.
fn placed(clusters: &[&str]) -> Value {
    json!({"clusters": clusters.iter().map(|c| json!({"name": c})).collect::<Vec<_>>()})
}

/// A Workspace in a cluster, through the proxy.
fn ws_path(cluster: &str, ws: &str) -> String {
    format!("/clusters/{cluster}/apis/tenant.kubesphere.io/v1beta1/workspaces/{ws}")
}

/// A workspace's projects in a cluster.
fn projects(cluster: &str, ws: &str) -> String {
    format!("/clusters/{cluster}/kapis/tenant.kubesphere.io/v1beta1/workspaces/{ws}/namespaces")
}

/// `cluster/name` of each search result, sorted.
fn found_names(v: &Value) -> Vec<String> {
    qualified_names(v, |i| &i["cluster"])
}

/// The host registers itself; m1 joins with a client certificate, m2 with an exec plugin.
async fn members_join(
    c: &Client,
    admin: &str,
    m1: &OrreryCluster,
    m2: &OrreryCluster,
    plugin: &std::path::Path,
) {
    // The host registered itself.
    let host = wait_ready(c, admin, "host", true, Duration::from_secs(30)).await;
    assert!(host["metadata"]["labels"]["cluster-role.kubesphere.io/host"].is_string());

    // m1 joins with a client certificate, m2 with an exec plugin; both turn Ready.
    let joined = join(c, admin, "m1", &cert_kubeconfig(m1, "m1")).await;
    assert!(
        joined["spec"]["connection"]["kubeconfig"].is_null(),
        "{joined}"
    );
    let exec = exec_kubeconfig(m2, "m2", &plugin.display().to_string());
    join(c, admin, "m2", &exec).await;
    let s1 = wait_ready(c, admin, "m1", true, Duration::from_secs(30)).await;
    let s2 = wait_ready(c, admin, "m2", true, Duration::from_secs(30)).await;
    for s in [&s1, &s2] {
        let st = &s["status"];
        assert!(
            st["kubernetesVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("v1.33")),
            "{st}"
        );
        assert_eq!(st["nodeCount"], 2, "{st}");
        assert!(
            st["zones"].as_array().is_some_and(|z| !z.is_empty()),
            "{st}"
        );
        assert!(st["uid"].as_str().is_some_and(|u| !u.is_empty()), "{st}");
        assert!(s["spec"]["connection"]["kubeconfig"].is_null());
        assert!(s["spec"]["connection"]["kubeconfigSecretRef"]["name"].is_string());
    }
    assert_ne!(s1["status"]["uid"], s2["status"]["uid"]);
    assert_ne!(s1["status"]["uid"], host["status"]["uid"]);
    // The client certificate's expiry is watched.
    let cert_cond = s1["status"]["conditions"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "KubeConfigCertExpiresInSevenDays")
                .cloned()
        })
        .expect("cert condition");
    assert_eq!(cert_cond["status"], "False", "{cert_cond}");
}

/// Member kubeconfigs are platform administrators' only; cluster admins cannot change Clusters.
async fn kubeconfig_secret_and_cluster_rights(c: &Client, admin: &str) -> String {
    // The kubeconfig lives in a Secret only platform administrators read.
    for u in ["alice", "bob", "carol", "ops"] {
        create_user(c, admin, u).await;
    }
    add_member(
        c,
        admin,
        &format!("{IAM}/clustermembers"),
        "ops",
        "cluster-admin",
    )
    .await;
    let ops = c.login("ops", USER_PW).await;
    let secret = "/api/v1/namespaces/kubesphere-system/secrets/orrery-cluster-m1-kubeconfig";
    let (s, v) = c.get(secret, admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    eventually(
        c,
        Method::GET,
        "/api/v1/namespaces",
        &ops,
        None,
        StatusCode::OK,
    )
    .await;
    for path in [
        secret,
        "/api/v1/secrets",
        "/api/v1/namespaces/kubesphere-system/secrets",
    ] {
        let (s, _) = c.get(path, &ops).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }

    // Host-level roles do not let anyone but platform administrators change Clusters.
    let (s, _) = c.delete(&format!("{CLUSTERS}/m1"), &ops).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .put(
            &format!("{CLUSTERS}/m1"),
            &ops,
            cluster_body("m1", "apiVersion: v1"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get(&format!("{CLUSTERS}/m1"), &ops).await;
    assert_eq!(s, StatusCode::OK);
    ops
}

/// Workspaces placed by name and by cluster Label, and their projects in each member.
async fn place_workspaces(c: &Client, admin: &str, ops: &str) {
    // Projects per cluster, in workspaces of the host.
    // Workspace a is placed on both members by name, b on the clusters carrying the cluster
    // Label "prod" (m2).
    let label = json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Label",
        "metadata": {"name": "prod"}, "spec": {"key": "env", "value": "prod", "clusters": ["m2"]}});
    let (s, v) = c
        .post("/apis/cluster.kubesphere.io/v1alpha1/labels", admin, label)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = c.get(&format!("{CLUSTERS}/m2"), admin).await;
        if v["metadata"]["labels"]["label.cluster.kubesphere.io/prod"] == "" {
            break;
        }
        assert!(Instant::now() < deadline, "label not applied: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, _) = c
        .post(
            "/apis/cluster.kubesphere.io/v1alpha1/labels",
            ops,
            json!({"metadata": {"name": "x"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (ws, manager, placement) in [
        ("a", "alice", placed(&["host", "m1", "m2"])),
        (
            "b",
            "bob",
            json!({"clusterSelector": {"matchLabels": {"label.cluster.kubesphere.io/prod": ""}}}),
        ),
    ] {
        let t = json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
            "metadata": {"name": ws},
            "spec": {"template": {"spec": {"manager": manager}}, "placement": placement}});
        c.ok(
            Method::POST,
            &format!("{TENANT}/workspacetemplates"),
            admin,
            Some(t),
        )
        .await;
    }
    for (cluster, ws) in [("m1", "a"), ("m2", "a"), ("m2", "b")] {
        let v = eventually(
            c,
            Method::GET,
            &ws_path(cluster, ws),
            admin,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            v["spec"]["manager"],
            if ws == "a" { "alice" } else { "bob" }
        );
    }
    let (s, _) = c.get(&ws_path("m1", "b"), admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/a/clusters"),
            admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["host", "m1", "m2"]);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/b/clusters"),
            admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["m2"]);
    for (cluster, ns, ws) in [
        ("m1", "a-m1", "a"),
        ("m2", "a-m2", "a"),
        ("m2", "b-m2", "b"),
    ] {
        let (s, v) = c
            .post(
                &format!("/clusters/{cluster}/api/v1/namespaces"),
                admin,
                namespace(ns, ws),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{cluster}/{ns}: {v}");
    }
}

/// A write through the proxy lands in the member only; returns the member's ConfigMaps API.
async fn writes_land_in_the_member(
    c: &Client,
    admin: &str,
    alice: &str,
    m1: &OrreryCluster,
) -> kube::Api<k8s_openapi::api::core::v1::ConfigMap> {
    // Writes land in the member, and only there.
    let (s, v) = c.post(A_M1, alice, configmap("conf")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let direct: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(member_client(m1).await, "a-m1");
    assert!(direct.get_opt("conf").await.expect("get").is_some());
    let (s, _) = c
        .get("/clusters/m2/api/v1/namespaces/a-m1/configmaps/conf", admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c
        .get("/api/v1/namespaces/a-m1/configmaps/conf", admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    direct
}

/// Nobody reaches another tenant's project in any cluster.
async fn isolation_across_clusters(c: &Client, admin: &str, alice: &str, bob: &str, carol: &str) {
    // Isolation across clusters.
    for (path, token, who) in [
        (A_M1, bob, "bob in a-m1"),
        (B_M2, alice, "alice in b-m2"),
        (
            "/clusters/m2/api/v1/namespaces/b-m2/configmaps?watch=true&timeoutSeconds=1",
            alice,
            "alice watching b-m2",
        ),
        (
            "/clusters/m1/api/v1/namespaces",
            alice,
            "alice listing m1's namespaces",
        ),
        (A_M1, carol, "carol before her binding"),
    ] {
        let (s, v) = c.get(path, token).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}: {v}");
    }
    let (s, _) = c.post(B_M2, alice, configmap("x")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .call(Method::GET, "/clusters/m1/api/v1/namespaces", None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = c.get("/clusters/nowhere/api/v1/namespaces", admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = c
        .get("/clusters/host/api/v1/namespaces/kubesphere-system", admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Bindings made in a member grant rights in that member only.
async fn member_bindings(c: &Client, admin: &str, carol: &str) {
    // A RoleBinding in the member (the platform's CRDs were installed there) grants carol
    // read access to a-m1 in m1, and nothing in m2.
    let rb = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "RoleBinding",
        "metadata": {"name": "carol-viewer", "labels": {"iam.kubesphere.io/user-ref": "carol"}},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "carol"}],
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "Role", "name": "viewer"}});
    eventually(
        c,
        Method::POST,
        "/clusters/m1/apis/iam.kubesphere.io/v1beta1/namespaces/a-m1/rolebindings",
        admin,
        Some(rb),
        StatusCode::CREATED,
    )
    .await;
    eventually(c, Method::GET, A_M1, carol, None, StatusCode::OK).await;
    let (s, _) = c.post(A_M1, carol, configmap("nope")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .get("/clusters/m2/api/v1/namespaces/a-m2/configmaps", carol)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A ClusterRoleBinding in m1 makes carol a cluster viewer there only.
    let crb = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "carol-cluster-viewer"},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "carol"}],
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "ClusterRole", "name": "cluster-viewer"}});
    let (s, v) = c
        .post(
            "/clusters/m1/apis/iam.kubesphere.io/v1beta1/clusterrolebindings",
            admin,
            crb,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/nodes",
        carol,
        None,
        StatusCode::OK,
    )
    .await;
    for path in [
        "/clusters/m2/api/v1/nodes",
        "/api/v1/nodes",
        "/clusters/host/api/v1/nodes",
    ] {
        let (s, _) = c.get(path, carol).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    // `kubectl auth can-i` through the member tells the truth about carol there.
    let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "a-m1", "verb": "get", "resource": "configmaps"}}});
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let (_, v) = c
        .post(&format!("/clusters/m1{ssar}"), carol, review.clone())
        .await;
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let (_, v) = c.post(&format!("/clusters/m2{ssar}"), carol, review).await;
    assert_eq!(v["status"]["allowed"], false, "{v}");
}

/// kubectl with a downloaded kubeconfig: one context per cluster.
async fn kubectl_with_a_context_per_cluster(
    c: &Client,
    dir: &std::path::Path,
    alice: &str,
    direct: &kube::Api<k8s_openapi::api::core::v1::ConfigMap>,
) {
    // kubectl through the platform with a downloaded kubeconfig: one context per cluster.
    let r = c
        .inner
        .get(format!(
            "{}/kapis/resources.kubesphere.io/v1alpha2/users/alice/kubeconfig",
            c.base
        ))
        .bearer_auth(alice)
        .send()
        .await
        .expect("kubeconfig");
    let kc = dir.join("alice.kubeconfig");
    std::fs::write(&kc, r.text().await.expect("text")).expect("write");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let (kc2, home2) = (kc.clone(), home.clone());
    let runs = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| kubectl(&kc2, &home2, args);
        vec![
            run(&["config", "get-contexts", "-o", "name"]),
            run(&["--context", "alice@m1", "get", "configmaps", "-n", "a-m1"]),
            run(&["--context", "alice@m2", "get", "configmaps", "-n", "b-m2"]),
            run(&[
                "--context",
                "alice@m1",
                "auth",
                "can-i",
                "create",
                "configmaps",
                "-n",
                "a-m1",
            ]),
            run(&[
                "--context",
                "alice@m1",
                "create",
                "configmap",
                "from-kubectl",
                "-n",
                "a-m1",
            ]),
        ]
    })
    .await
    .expect("kubectl");
    let contexts = out(&runs[0]);
    for ctx in ["alice@orrery", "alice@m1", "alice@m2"] {
        assert!(contexts.contains(ctx), "{contexts}");
    }
    assert!(
        runs[1].status.success() && out(&runs[1]).contains("conf"),
        "{}",
        out(&runs[1])
    );
    assert!(
        !runs[2].status.success() && out(&runs[2]).contains("Forbidden"),
        "{}",
        out(&runs[2])
    );
    assert_eq!(
        String::from_utf8_lossy(&runs[3].stdout).trim(),
        "yes",
        "{}",
        out(&runs[3])
    );
    assert!(runs[4].status.success(), "{}", out(&runs[4]));
    assert!(direct.get_opt("from-kubectl").await.expect("get").is_some());
}

/// A watch through the proxy sees a write made through it.
async fn watch_through_the_proxy(c: &Client, alice: &str, list: &Value) {
    // A watch through the proxy sees a write made through it.
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let mut watch = c
        .inner
        .get(format!(
            "{}{A_M1}?watch=true&resourceVersion={rv}&timeoutSeconds=20",
            c.base
        ))
        .bearer_auth(alice)
        .send()
        .await
        .expect("watch");
    assert_eq!(watch.status(), StatusCode::OK);
    let (s, _) = c.post(A_M1, alice, configmap("watched")).await;
    assert_eq!(s, StatusCode::CREATED);
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(chunk)) = watch.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"watched\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "watch stream: {seen}");
}

/// Projects are created in a chosen cluster of the workspace.
async fn projects_in_a_chosen_cluster(c: &Client, admin: &str, alice: &str, bob: &str) {
    // Projects are created in a chosen cluster of the workspace.
    let (s, v) = c
        .post(
            &projects("m1", "a"),
            alice,
            json!({"metadata": {"name": "a-m1-dev"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["metadata"]["labels"]["kubesphere.io/workspace"], "a");
    let (s, v) = c
        .get("/clusters/m1/apis/iam.kubesphere.io/v1beta1/namespaces/a-m1-dev/rolebindings/alice-admin", admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = c.get("/api/v1/namespaces/a-m1-dev", admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the project is in m1 only");
    let v = c.ok(Method::GET, &projects("m1", "a"), alice, None).await;
    assert_eq!(names(&v), ["a-m1", "a-m1-dev"]);
    let (s, v) = c
        .post(
            &projects("m1", "b"),
            admin,
            json!({"metadata": {"name": "b-m1"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "b is not placed on m1: {v}");
    let (s, _) = c
        .post(
            &projects("m2", "a"),
            bob,
            json!({"metadata": {"name": "bob-in-a"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The cross-cluster search shows each caller only what they may list.
async fn cross_cluster_search(c: &Client, admin: &str, alice: &str, bob: &str) {
    // The cross-cluster search, answered from per-cluster indexes, shows each caller only
    // what they may list.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
    let (s, v) = c
        .post(
            "/clusters/m1/apis/apps/v1/namespaces/a-m1/deployments",
            alice,
            deploy,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let search = "/kapis/search.orrery.io/v1alpha1/resources";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = c
            .ok(
                Method::GET,
                &format!("{search}?kind=pods&workspace=a&labelSelector=app%3Dweb"),
                alice,
                None,
            )
            .await;
        if v["totalItems"] == 2 {
            assert!(
                found_names(&v).iter().all(|n| n.starts_with("m1/web-")),
                "{v}"
            );
            assert_eq!(v["items"][0]["workspace"], "a");
            break;
        }
        assert!(Instant::now() < deadline, "pods not found: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let v = c
        .ok(
            Method::GET,
            &format!("{search}?kind=pods&labelSelector=app%3Dweb"),
            bob,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 0, "bob sees none of a's pods: {v}");
    let v = c
        .ok(
            Method::GET,
            &format!("{search}?kind=namespaces&name=-m&sortBy=name&ascending=true"),
            alice,
            None,
        )
        .await;
    assert_eq!(
        found_names(&v),
        ["m1/a-m1", "m1/a-m1-dev", "m2/a-m2"],
        "{v}"
    );
    let v = c
        .ok(
            Method::GET,
            &format!("{search}?kind=namespaces&name=-m"),
            bob,
            None,
        )
        .await;
    assert_eq!(found_names(&v), ["m2/b-m2"], "{v}");
    let v = c
        .ok(
            Method::GET,
            &format!(
                "{search}?kind=namespaces&name=-m&cluster=m2&limit=1&sortBy=name&ascending=true"
            ),
            admin,
            None,
        )
        .await;
    assert_eq!(
        (found_names(&v), v["totalItems"].clone()),
        (vec!["m2/a-m2".to_string()], json!(2)),
        "{v}"
    );
    let v = c
        .ok(
            Method::GET,
            &format!("{search}?kind=nodes&cluster=m1"),
            admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 2, "{v}");
    let v = c
        .ok(Method::GET, &format!("{search}?kind=nodes"), alice, None)
        .await;
    assert_eq!(v["totalItems"], 0, "{v}");
    let (s, _) = c.get(&format!("{search}?kind=gadgets"), alice).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.call(Method::GET, search, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Creates `body` at `path` (through a member's proxy) as `token`.
async fn created(c: &Client, path: &str, token: &str, body: Value) {
    let (s, v) = c.post(path, token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
}

/// Searches as `token` until `want(found names)` holds (the indexes are fed by watches).
async fn search_until(
    c: &Client,
    query: &str,
    token: &str,
    want: impl Fn(&[String]) -> bool,
) -> Value {
    let path = format!("/kapis/search.orrery.io/v1alpha1/resources?{query}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = c.ok(Method::GET, &path, token, None).await;
        if want(&found_names(&v)) {
            return v;
        }
        assert!(Instant::now() < deadline, "{query}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The search covers what the console shows besides workloads — ConfigMaps, Secrets (by
/// metadata only), ServiceAccounts, custom resources — in both members, each caller seeing
/// only their own.
async fn search_console_kinds(c: &Client, admin: &str, alice: &str, bob: &str) {
    let ns = "/clusters/m1/api/v1/namespaces/a-m1";
    created(
        c,
        &format!("{ns}/configmaps"),
        alice,
        json!({"metadata": {"name": "shop-settings"}, "data": {"url": "postgres://db"}}),
    )
    .await;
    created(
        c,
        &format!("{ns}/secrets"),
        alice,
        json!({"metadata": {"name": "shop-password"}, "stringData": {"pw": "hunter2-plain"}}),
    )
    .await;
    created(
        c,
        &format!("{ns}/serviceaccounts"),
        alice,
        json!({"metadata": {"name": "shop-robot"}}),
    )
    .await;
    created(
        c,
        "/clusters/m2/api/v1/namespaces/b-m2/configmaps",
        bob,
        json!({"metadata": {"name": "shop-bob"}}),
    )
    .await;
    created(
        c,
        "/clusters/m1/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        admin,
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]}}),
    )
    .await;
    let gadgets = "/clusters/m1/apis/example.com/v1/namespaces/a-m1/gadgets";
    let deadline = Instant::now() + Duration::from_secs(30);
    while c
        .post(
            gadgets,
            admin,
            json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": "shop-gadget"}}),
        )
        .await
        .0
        != StatusCode::CREATED
    {
        assert!(Instant::now() < deadline, "the CRD is not served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mine = [
        "m1/shop-gadget",
        "m1/shop-password",
        "m1/shop-robot",
        "m1/shop-settings",
    ];
    let v = search_until(c, "name=shop-&sortBy=name&ascending=true", alice, |n| {
        n == mine
    })
    .await;
    let kinds: Vec<&str> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["Gadget", "Secret", "ServiceAccount", "ConfigMap"],
        "{v}"
    );
    assert_eq!(v["items"][0]["apiVersion"], "example.com/v1");
    let text = v.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("postgres"),
        "data answered: {text}"
    );
    search_until(c, "name=shop-&kind=secrets", alice, |n| {
        n == ["m1/shop-password"]
    })
    .await;
    search_until(c, "name=shop-&kind=gadgets.example.com", alice, |n| {
        n == ["m1/shop-gadget"]
    })
    .await;
    search_until(c, "name=shop-", bob, |n| n == ["m2/shop-bob"]).await;
    let v = search_until(c, "name=shop-&sortBy=name&ascending=true", admin, |n| {
        n.len() == 5
    })
    .await;
    assert_eq!(found_names(&v)[0], "m1/shop-gadget", "{v}");
    let (s, _) = c.delete("/clusters/m1/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com", admin).await;
    assert!(s.is_success(), "{s}");
    search_until(c, "name=shop-gadget", admin, <[String]>::is_empty).await;
}

/// Taking a cluster out of a workspace's placement removes the workspace there.
async fn placement_removal(c: &Client, admin: &str, alice: &str) {
    eventually(
        c,
        Method::GET,
        "/clusters/m2/api/v1/namespaces/a-m2/configmaps",
        alice,
        None,
        StatusCode::OK,
    )
    .await;
    // Taking m2 out of a's placement removes a's Workspace there and its projects leave it.
    let t = json!({"spec": {"template": {"spec": {"manager": "alice"}}, "placement": placed(&["host", "m1"])}});
    c.ok(
        Method::PUT,
        &format!("{TENANT}/workspacetemplates/a"),
        admin,
        Some(t),
    )
    .await;
    eventually(
        c,
        Method::GET,
        &ws_path("m2", "a"),
        admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let (s, _) = c.get(&ws_path("m1", "a"), admin).await;
    assert_eq!(s, StatusCode::OK);
    eventually(
        c,
        Method::GET,
        "/clusters/m2/api/v1/namespaces/a-m2/configmaps",
        alice,
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
}
