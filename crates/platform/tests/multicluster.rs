//! A host and member clusters, each member an `orrery cluster` process started by the test:
//! joining (client-certificate and exec-plugin kubeconfigs), status, the cluster proxy (reads,
//! writes, watches, authorization against each member's namespaces and bindings), validation
//! refusals, and a member that goes down and comes back.
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::kubectl::{kubectl, out};
use common::process::OrreryCluster;
use common::*;
use platform::PlatformConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CLUSTERS: &str = "/apis/cluster.kubesphere.io/v1alpha1/clusters";
const VALIDATION: &str = "/kapis/cluster.kubesphere.io/v1alpha1/clusters/validation";

fn fast_clusters(c: &mut PlatformConfig, allow: Vec<String>) {
    c.clusters.health_period = Duration::from_millis(300);
    c.clusters.health_timeout = Duration::from_secs(2);
    c.clusters.backoff_max = Duration::from_secs(1);
    c.clusters.proxy_timeout = Duration::from_secs(10);
    if !allow.is_empty() {
        c.clusters.exec_allow = allow;
    }
}

fn cluster_body(name: &str, kubeconfig: &str) -> Value {
    json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"provider": "orrery", "connection": {"type": "direct",
            "kubeconfig": B64.encode(kubeconfig.as_bytes())}}})
}

/// A kubeconfig whose user is a client certificate (CN=admin, O=system:masters) signed by the
/// member's CA.
fn cert_kubeconfig(m: &OrreryCluster, name: &str) -> String {
    let ca = apiserver::pki::CertificateAuthority::load_or_create(&m.dir.join("pki")).expect("ca");
    let (cert, key) = ca
        .issue(
            "admin",
            &["system:masters".to_string()],
            &[],
            &[],
            false,
            365,
        )
        .expect("issue");
    apiserver::pki::kubeconfig_yaml(
        name,
        &m.url,
        &m.ca_pem(),
        "admin",
        apiserver::pki::KubeconfigAuth::ClientCert {
            cert_pem: &cert,
            key_pem: &key,
        },
    )
}

/// A small exec plugin printing an ExecCredential with `token`.
fn write_plugin(dir: &Path, token: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("orrery-test-credential-plugin");
    let script = format!(
        "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n"
    );
    std::fs::write(&path, script).expect("write plugin");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn exec_kubeconfig(m: &OrreryCluster, name: &str, command: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\nusers:\n- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {command}\n      interactiveMode: Never\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\ncurrent-context: {name}\n",
        url = m.url,
        ca = B64.encode(m.ca_pem().as_bytes()),
    )
}

async fn join(c: &Client, admin: &str, name: &str, kubeconfig: &str) -> Value {
    let (s, v) = c
        .post(CLUSTERS, admin, cluster_body(name, kubeconfig))
        .await;
    assert_eq!(s, StatusCode::CREATED, "join {name}: {v}");
    v
}

fn ready_status(cluster: &Value) -> Option<&str> {
    cluster["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
}

/// Waits (bounded) until the Cluster's Ready condition is `want`; returns the Cluster.
async fn wait_ready(c: &Client, admin: &str, name: &str, want: bool, within: Duration) -> Value {
    let want = if want { "True" } else { "False" };
    let deadline = Instant::now() + within;
    loop {
        let (s, v) = c.get(&format!("{CLUSTERS}/{name}"), admin).await;
        if s == StatusCode::OK && ready_status(&v) == Some(want) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "cluster {name} did not turn Ready={want} within {within:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Retries `path` until it answers `want` (caches of a member catch up) or 20 s pass.
async fn eventually(
    c: &Client,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    want: StatusCode,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = c
            .call(method.clone(), path, Some(token), body.clone())
            .await;
        if s == want {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{method} {path}: {s} {v}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn namespace(name: &str, ws: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubesphere.io/workspace": ws}}})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

async fn member_client(m: &OrreryCluster) -> kube::Client {
    kube::Client::try_from(kube_config(&m.kubeconfig).await).expect("member client")
}

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

    // The host registered itself.
    let host = wait_ready(c, &admin, "host", true, Duration::from_secs(30)).await;
    assert!(host["metadata"]["labels"]["cluster-role.kubesphere.io/host"].is_string());

    // m1 joins with a client certificate, m2 with an exec plugin; both turn Ready.
    let joined = join(c, &admin, "m1", &cert_kubeconfig(&m1, "m1")).await;
    assert!(
        joined["spec"]["connection"]["kubeconfig"].is_null(),
        "{joined}"
    );
    let exec = exec_kubeconfig(&m2, "m2", &plugin.display().to_string());
    join(c, &admin, "m2", &exec).await;
    let s1 = wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    let s2 = wait_ready(c, &admin, "m2", true, Duration::from_secs(30)).await;
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

    // The kubeconfig lives in a Secret only platform administrators read.
    for u in ["alice", "bob", "carol", "ops"] {
        create_user(c, &admin, u).await;
    }
    add_member(
        c,
        &admin,
        &format!("{IAM}/clustermembers"),
        "ops",
        "cluster-admin",
    )
    .await;
    let ops = c.login("ops", USER_PW).await;
    let secret = "/api/v1/namespaces/kubesphere-system/secrets/orrery-cluster-m1-kubeconfig";
    let (s, v) = c.get(secret, &admin).await;
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

    // Projects per cluster, in workspaces of the host.
    // Workspace a is placed on both members by name, b on the clusters labelled env=prod (m2).
    let kube = env.kube().await;
    platform::hostapi::merge_patch(
        &kube,
        platform::kinds::Kind::Cluster,
        None,
        "m2",
        json!({"metadata": {"labels": {"env": "prod"}}}),
    )
    .await
    .expect("label m2");
    let placed = |clusters: &[&str]| json!({"clusters": clusters.iter().map(|c| json!({"name": c})).collect::<Vec<_>>()});
    for (ws, manager, placement) in [
        ("a", "alice", placed(&["host", "m1", "m2"])),
        (
            "b",
            "bob",
            json!({"clusterSelector": {"matchLabels": {"env": "prod"}}}),
        ),
    ] {
        let t = json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
            "metadata": {"name": ws},
            "spec": {"template": {"spec": {"manager": manager}}, "placement": placement}});
        c.ok(
            Method::POST,
            &format!("{TENANT}/workspacetemplates"),
            &admin,
            Some(t),
        )
        .await;
    }
    let ws_path = |cluster: &str, ws: &str| {
        format!("/clusters/{cluster}/apis/tenant.kubesphere.io/v1beta1/workspaces/{ws}")
    };
    for (cluster, ws) in [("m1", "a"), ("m2", "a"), ("m2", "b")] {
        let v = eventually(
            c,
            Method::GET,
            &ws_path(cluster, ws),
            &admin,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            v["spec"]["manager"],
            if ws == "a" { "alice" } else { "bob" }
        );
    }
    let (s, _) = c.get(&ws_path("m1", "b"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/a/clusters"),
            &admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["host", "m1", "m2"]);
    let v = c
        .ok(
            Method::GET,
            &format!("{TENANT}/workspaces/b/clusters"),
            &admin,
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
                &admin,
                namespace(ns, ws),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{cluster}/{ns}: {v}");
    }
    let alice = c.login("alice", USER_PW).await;
    let bob = c.login("bob", USER_PW).await;
    let carol = c.login("carol", USER_PW).await;
    let a_m1 = "/clusters/m1/api/v1/namespaces/a-m1/configmaps";
    let b_m2 = "/clusters/m2/api/v1/namespaces/b-m2/configmaps";
    let list = eventually(c, Method::GET, a_m1, &alice, None, StatusCode::OK).await;
    eventually(c, Method::GET, b_m2, &bob, None, StatusCode::OK).await;

    // Writes land in the member, and only there.
    let (s, v) = c.post(a_m1, &alice, configmap("conf")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let direct: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(member_client(&m1).await, "a-m1");
    assert!(direct.get_opt("conf").await.expect("get").is_some());
    let (s, _) = c
        .get(
            "/clusters/m2/api/v1/namespaces/a-m1/configmaps/conf",
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c
        .get("/api/v1/namespaces/a-m1/configmaps/conf", &admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Isolation across clusters.
    for (path, token, who) in [
        (a_m1, &bob, "bob in a-m1"),
        (b_m2, &alice, "alice in b-m2"),
        (
            "/clusters/m2/api/v1/namespaces/b-m2/configmaps?watch=true&timeoutSeconds=1",
            &alice,
            "alice watching b-m2",
        ),
        (
            "/clusters/m1/api/v1/namespaces",
            &alice,
            "alice listing m1's namespaces",
        ),
        (a_m1, &carol, "carol before her binding"),
    ] {
        let (s, v) = c.get(path, token).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}: {v}");
    }
    let (s, _) = c.post(b_m2, &alice, configmap("x")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .call(Method::GET, "/clusters/m1/api/v1/namespaces", None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = c.get("/clusters/nowhere/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = c
        .get("/clusters/host/api/v1/namespaces/kubesphere-system", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

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
        &admin,
        Some(rb),
        StatusCode::CREATED,
    )
    .await;
    eventually(c, Method::GET, a_m1, &carol, None, StatusCode::OK).await;
    let (s, _) = c.post(a_m1, &carol, configmap("nope")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .get("/clusters/m2/api/v1/namespaces/a-m2/configmaps", &carol)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // `kubectl auth can-i` through the member tells the truth about carol there.
    let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "a-m1", "verb": "get", "resource": "configmaps"}}});
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let (_, v) = c
        .post(&format!("/clusters/m1{ssar}"), &carol, review.clone())
        .await;
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let (_, v) = c.post(&format!("/clusters/m2{ssar}"), &carol, review).await;
    assert_eq!(v["status"]["allowed"], false, "{v}");

    // kubectl through the platform with a downloaded kubeconfig: one context per cluster.
    let r = c
        .inner
        .get(format!(
            "{}/kapis/resources.kubesphere.io/v1alpha2/users/alice/kubeconfig",
            c.base
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("kubeconfig");
    let kc = dir.path().join("alice.kubeconfig");
    std::fs::write(&kc, r.text().await.expect("text")).expect("write");
    let home = dir.path().join("home");
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

    // A watch through the proxy sees a write made through it.
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let mut watch = c
        .inner
        .get(format!(
            "{}{a_m1}?watch=true&resourceVersion={rv}&timeoutSeconds=20",
            c.base
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("watch");
    assert_eq!(watch.status(), StatusCode::OK);
    let (s, _) = c.post(a_m1, &alice, configmap("watched")).await;
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

    // Projects are created in a chosen cluster of the workspace.
    let projects = |cluster: &str, ws: &str| {
        format!("/clusters/{cluster}/kapis/tenant.kubesphere.io/v1beta1/workspaces/{ws}/namespaces")
    };
    let (s, v) = c
        .post(
            &projects("m1", "a"),
            &alice,
            json!({"metadata": {"name": "a-m1-dev"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["metadata"]["labels"]["kubesphere.io/workspace"], "a");
    let (s, v) = c
        .get("/clusters/m1/apis/iam.kubesphere.io/v1beta1/namespaces/a-m1-dev/rolebindings/alice-admin", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = c.get("/api/v1/namespaces/a-m1-dev", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the project is in m1 only");
    let v = c.ok(Method::GET, &projects("m1", "a"), &alice, None).await;
    assert_eq!(names(&v), ["a-m1", "a-m1-dev"]);
    let (s, v) = c
        .post(
            &projects("m1", "b"),
            &admin,
            json!({"metadata": {"name": "b-m1"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "b is not placed on m1: {v}");
    let (s, _) = c
        .post(
            &projects("m2", "a"),
            &bob,
            json!({"metadata": {"name": "bob-in-a"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

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
            &alice,
            deploy,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let search = "/kapis/search.orrery.io/v1alpha1/resources";
    let found = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["cluster"].as_str().unwrap_or(""),
                    i["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        out.sort();
        out
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = c
            .ok(
                Method::GET,
                &format!("{search}?kind=pods&workspace=a&labelSelector=app%3Dweb"),
                &alice,
                None,
            )
            .await;
        if v["totalItems"] == 2 {
            assert!(found(&v).iter().all(|n| n.starts_with("m1/web-")), "{v}");
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
            &bob,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 0, "bob sees none of a's pods: {v}");
    let v = c
        .ok(
            Method::GET,
            &format!("{search}?kind=namespaces&name=-m&sortBy=name&ascending=true"),
            &alice,
            None,
        )
        .await;
    assert_eq!(found(&v), ["m1/a-m1", "m1/a-m1-dev", "m2/a-m2"], "{v}");
    let v = c
        .ok(
            Method::GET,
            &format!("{search}?kind=namespaces&name=-m"),
            &bob,
            None,
        )
        .await;
    assert_eq!(found(&v), ["m2/b-m2"], "{v}");
    let v = c
        .ok(
            Method::GET,
            &format!(
                "{search}?kind=namespaces&name=-m&cluster=m2&limit=1&sortBy=name&ascending=true"
            ),
            &admin,
            None,
        )
        .await;
    assert_eq!(
        (found(&v), v["totalItems"].clone()),
        (vec!["m2/a-m2".to_string()], json!(2)),
        "{v}"
    );
    let v = c
        .ok(
            Method::GET,
            &format!("{search}?kind=nodes&cluster=m1"),
            &admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 2, "{v}");
    let v = c
        .ok(Method::GET, &format!("{search}?kind=nodes"), &alice, None)
        .await;
    assert_eq!(v["totalItems"], 0, "{v}");
    let (s, _) = c.get(&format!("{search}?kind=gadgets"), &alice).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.call(Method::GET, search, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    eventually(
        c,
        Method::GET,
        "/clusters/m2/api/v1/namespaces/a-m2/configmaps",
        &alice,
        None,
        StatusCode::OK,
    )
    .await;
    // Taking m2 out of a's placement removes a's Workspace there and its projects leave it.
    let t = json!({"spec": {"template": {"spec": {"manager": "alice"}}, "placement": placed(&["host", "m1"])}});
    c.ok(
        Method::PUT,
        &format!("{TENANT}/workspacetemplates/a"),
        &admin,
        Some(t),
    )
    .await;
    eventually(
        c,
        Method::GET,
        &ws_path("m2", "a"),
        &admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let (s, _) = c.get(&ws_path("m1", "a"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    eventually(
        c,
        Method::GET,
        "/clusters/m2/api/v1/namespaces/a-m2/configmaps",
        &alice,
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    drop((m1, m2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_refuses_with_clear_messages() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "alice").await;
    let alice = c.login("alice", USER_PW).await;
    let good = m1.kubeconfig_text();
    let host_kc = std::fs::read_to_string(&env.kubeconfig).expect("host kubeconfig");
    let unreachable = good.replace(&m1.url, "https://127.0.0.1:1");
    let bad_token = good.replace(&m1.admin_token(), "not-a-valid-token");
    let not_allowed = exec_kubeconfig(&m1, "m1", "/bin/sh");
    let cases: [(&str, &str, &str, StatusCode, &str); 7] = [
        (
            "non-admin",
            &alice,
            good.as_str(),
            StatusCode::FORBIDDEN,
            "User \"alice\" cannot create resource \"clusters\"",
        ),
        (
            "malformed",
            &admin,
            "clusters: [unclosed",
            StatusCode::BAD_REQUEST,
            "malformed kubeconfig",
        ),
        (
            "unreachable",
            &admin,
            unreachable.as_str(),
            StatusCode::BAD_REQUEST,
            "unreachable",
        ),
        (
            "bad credentials",
            &admin,
            bad_token.as_str(),
            StatusCode::BAD_REQUEST,
            "refused the credentials",
        ),
        (
            "exec not allowed",
            &admin,
            not_allowed.as_str(),
            StatusCode::BAD_REQUEST,
            "\"/bin/sh\" is not allowed",
        ),
        (
            "the host itself",
            &admin,
            host_kc.as_str(),
            StatusCode::CONFLICT,
            "already joined: it is the host cluster",
        ),
        (
            "empty",
            &admin,
            "",
            StatusCode::BAD_REQUEST,
            "kubeconfig is required",
        ),
    ];
    for (what, token, kc, code, message) in cases {
        let (s, v) = c.post(VALIDATION, token, cluster_body("m1", kc)).await;
        assert_eq!(s, code, "{what}: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.contains(message), "{what}: {msg:?} lacks {message:?}");
        // Joining refuses the same way and leaves nothing behind.
        let (s, _) = c.post(CLUSTERS, token, cluster_body("m1", kc)).await;
        assert_eq!(s, code, "{what} (join)");
    }
    let (s, _) = c.get(&format!("{CLUSTERS}/m1"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, v) = c.post(VALIDATION, &admin, cluster_body("m1", &good)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    join(c, &admin, "m1", &good).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    // The same cluster under another name is refused (same kube-system uid).
    let (s, v) = c
        .post(VALIDATION, &admin, cluster_body("again", &good))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already joined as \"m1\""),
        "{v}"
    );
    let (s, _) = c.post(CLUSTERS, &admin, cluster_body("again", &good)).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The kubeconfig can be replaced, but not by one for another cluster.
    let put = "/kapis/cluster.kubesphere.io/v1alpha1/clusters/m1/kubeconfig";
    let (s, v) = c
        .put(
            put,
            &admin,
            json!({"kubeconfig": B64.encode(cert_kubeconfig(&m1, "m1"))}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = c
        .put(put, &alice, json!({"kubeconfig": good.clone()}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.put(put, &admin, json!({"kubeconfig": host_kc})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let kube = env.kube().await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(kube.clone(), "kubesphere-system");
    let stored = secrets
        .get("orrery-cluster-m1-kubeconfig")
        .await
        .expect("secret");
    let config = stored
        .data
        .and_then(|d| d.get("config").cloned())
        .expect("config");
    assert!(String::from_utf8_lossy(&config.0).contains("client-certificate-data"));
    // After the replacement the member still answers.
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces/kube-system",
        &admin,
        None,
        StatusCode::OK,
    )
    .await;

    // Deleting the Cluster removes its Secret (finalizer) and the proxy route.
    let (s, v) = c.delete(&format!("{CLUSTERS}/m1"), &admin).await;
    assert!(s.is_success(), "{v}");
    eventually(
        c,
        Method::GET,
        &format!("{CLUSTERS}/m1"),
        &admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        secrets
            .get_opt("orrery-cluster-m1-kubeconfig")
            .await
            .expect("get")
            .is_none()
    );
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces",
        &admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    drop(m1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_goes_down_turns_not_ready_and_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let m2 = OrreryCluster::start_async(&dir.path().join("m2")).await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    join(c, &admin, "m1", &m1.kubeconfig_text()).await;
    join(c, &admin, "m2", &m2.kubeconfig_text()).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    wait_ready(c, &admin, "m2", true, Duration::from_secs(30)).await;
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces",
        &admin,
        None,
        StatusCode::OK,
    )
    .await;

    m1.stop();
    let down = wait_ready(c, &admin, "m1", false, Duration::from_secs(30)).await;
    let cond = down["status"]["conditions"][0].clone();
    assert!(
        cond["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{cond}"
    );
    let started = Instant::now();
    let (s, v) = c.get("/clusters/m1/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not ready"),
        "{v}"
    );
    println!(
        "503 from a stopped member answered in {:?}",
        started.elapsed()
    );
    // The other clusters are unaffected.
    let (s, _) = c.get("/clusters/m2/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get("/clusters/host/api/v1/namespaces", &admin).await;
    assert_eq!(s, StatusCode::OK);
    wait_ready(c, &admin, "m2", true, Duration::from_secs(1)).await;

    let m1 = tokio::task::spawn_blocking(move || {
        m1.restart();
        m1
    })
    .await
    .expect("restart");
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    eventually(
        c,
        Method::GET,
        "/clusters/m1/api/v1/namespaces",
        &admin,
        None,
        StatusCode::OK,
    )
    .await;
    // The member's caches resynced: a namespace made while the platform was not looking shows
    // up in them.
    let ns: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(member_client(&m1).await);
    let obj: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "after-restart"}})).expect("ns");
    ns.create(&Default::default(), &obj).await.expect("create");
    let member = env.platform.state.clusters.get("m1").expect("member");
    let seen = member
        .caches
        .namespaces
        .wait_for(Duration::from_secs(20), |c| {
            c.get("after-restart").is_some()
        })
        .await;
    assert!(seen, "the member's namespace cache did not resync");
    drop((m1, m2));
}

/// A small upstream that passes the health checks and speaks the `v5.channel.k8s.io` exec
/// protocol: it greets on stdout (channel 1) and echoes stdin (channel 0) back on stdout.
async fn exec_upstream() -> String {
    use axum::routing::get;
    async fn exec(mut req: axum::extract::Request) -> axum::response::Response {
        use axum::response::IntoResponse;
        use sha1::Digest;
        let protocols = req
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let key = req
            .headers()
            .get("sec-websocket-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !protocols
            .split(',')
            .any(|p| p.trim() == "v5.channel.k8s.io")
            || key.is_empty()
        {
            return (StatusCode::BAD_REQUEST, "v5.channel.k8s.io required").into_response();
        }
        let accept = B64.encode(sha1::Sha1::digest(
            format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
        ));
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let Ok(up) = upgrade.await else { return };
            let mut io = hyper_util::rt::TokioIo::new(up);
            let greet = b"\x01hello from exec\n";
            let mut frame = vec![0x82, greet.len() as u8];
            frame.extend_from_slice(greet);
            if io.write_all(&frame).await.is_err() {
                return;
            }
            let mut head = [0u8; 6];
            if io.read_exact(&mut head).await.is_err() {
                return;
            }
            let len = (head[1] & 0x7f) as usize;
            let mut data = vec![0u8; len];
            if io.read_exact(&mut data).await.is_err() {
                return;
            }
            for (i, b) in data.iter_mut().enumerate() {
                *b ^= head[2 + i % 4];
            }
            let mut reply = b"\x01echo: ".to_vec();
            reply.extend_from_slice(&data[1..]);
            let mut frame = vec![0x82, reply.len() as u8];
            frame.extend_from_slice(&reply);
            let _ = io.write_all(&frame).await;
            let _ = io.flush().await;
        });
        axum::response::Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", accept)
            .header("sec-websocket-protocol", "v5.channel.k8s.io")
            .body(axum::body::Body::empty())
            .unwrap_or_default()
    }
    let app = axum::Router::new()
        .route("/version", get(|| async { axum::Json(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-exec-upstream"})) }))
        .route("/api/v1/namespaces/kube-system", get(|| async {
            axum::Json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": "exec-upstream-uid"}}))
        }))
        .route("/api/v1/nodes", get(|| async { axum::Json(json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": []})) }))
        .route("/api/v1/namespaces/{ns}/pods/{pod}/exec", get(exec));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn read_frame(s: &mut tokio::net::TcpStream) -> (u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.expect("frame head");
    let mut data = vec![0u8; (head[1] & 0x7f) as usize];
    s.read_exact(&mut data).await.expect("frame data");
    (head[0], data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_websocket_upgrades_pass_through_the_cluster_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = exec_upstream().await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    let kc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: {upstream}\nusers:\n- name: x\n  user:\n    token: upstream-token\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: x\ncurrent-context: x\n"
    );
    join(c, &admin, "edge", &kc).await;
    wait_ready(c, &admin, "edge", true, Duration::from_secs(30)).await;

    let mut s = tokio::net::TcpStream::connect(env.platform.addr)
        .await
        .expect("connect");
    let req = format!(
        "GET /clusters/edge/api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true&stdout=true HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {admin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
        env.platform.addr
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.expect("response head");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    assert!(
        head.contains("sec-websocket-protocol: v5.channel.k8s.io"),
        "{head}"
    );
    let (op, data) = read_frame(&mut s).await;
    assert_eq!((op, data[0]), (0x82, 1));
    assert_eq!(&data[1..], b"hello from exec\n");
    // stdin (channel 0), masked as a client must.
    let mask = [7u8, 1, 9, 3];
    let payload = b"\x00ping";
    let mut frame = vec![0x82, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await.expect("stdin");
    let (_, data) = read_frame(&mut s).await;
    assert_eq!(&data[..], b"\x01echo: ping");

    // Without credentials nothing is upgraded.
    let mut s = tokio::net::TcpStream::connect(env.platform.addr)
        .await
        .expect("connect");
    let anon = req.replace(&format!("Authorization: Bearer {admin}\r\n"), "");
    s.write_all(anon.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 12];
    s.read_exact(&mut buf).await.expect("read");
    assert_eq!(&buf, b"HTTP/1.1 401");
}
