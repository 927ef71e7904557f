//! The isolation matrix across clusters: users holding each built-in role at each level
//! (global and workspace roles on the host, namespace and cluster bindings in the member)
//! against reads, writes and watches in a member through `/clusters/{c}/…`, and the search.
//! The member here is an in-process cluster; a host cluster-admin is nobody in the member.
use super::*;

const USERS: [&str; 12] = [
    "padmin",
    "pregular",
    "wsadmin",
    "wsregular",
    "wsself",
    "wsviewer",
    "nsadmin",
    "nsoperator",
    "nsviewer",
    "cadmin",
    "cviewer",
    "hostcadmin",
];
const NS_READERS: &[&str] = &[
    "padmin",
    "wsadmin",
    "wsviewer",
    "nsadmin",
    "nsoperator",
    "nsviewer",
    "cadmin",
    "cviewer",
];
const NS_WRITERS: &[&str] = &["padmin", "wsadmin", "nsadmin", "nsoperator", "cadmin"];
const CLUSTER_READERS: &[&str] = &["padmin", "cadmin", "cviewer"];
const CLUSTER_WRITERS: &[&str] = &["padmin", "cadmin"];

fn binding(kind: &str, name: &str, user: &str, role_kind: &str, role: &str) -> Value {
    json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": kind,
        "metadata": {"name": name, "labels": {"iam.kubesphere.io/user-ref": user}},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": role_kind, "name": role}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_at_every_level_in_a_member_cluster() {
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let member = start_cluster(&env.dir.path().join("member")).await;
    let c = &env.http;
    let admin = env.admin().await;
    let kc = std::fs::read_to_string(&member.kubeconfig_path).expect("member kubeconfig");
    join(c, &admin, "member", &kc).await;
    wait_ready(c, &admin, "member", true, Duration::from_secs(30)).await;
    users_workspaces_and_projects(c, &admin).await;
    roles_and_bindings(c, &admin).await;
    let mut tokens = Vec::new();
    for u in USERS {
        tokens.push((u, c.login(u, USER_PW).await));
    }
    // The member's caches see its bindings before the matrix runs.
    eventually(
        c,
        Method::GET,
        "/clusters/member/api/v1/nodes",
        &tokens[10].1,
        None,
        StatusCode::OK,
    )
    .await;
    eventually(
        c,
        Method::GET,
        "/clusters/member/api/v1/namespaces/a-mp/configmaps",
        &tokens[8].1,
        None,
        StatusCode::OK,
    )
    .await;
    the_matrix(c, &tokens).await;
    search_shows_what_each_may_list(c, &tokens).await;
    member_cluster_members(c, &admin, &tokens).await;
    member_project_roles(c, &admin, &tokens).await;
    dynamic_api_answers_as_the_native_api(c, &admin, &tokens).await;
    secret_metadata_answers_as_the_native_list(c, &admin, &tokens).await;
    drop(member);
}

/// The search shows each caller only what they may list there.
async fn search_shows_what_each_may_list(c: &Client, tokens: &[(&str, String)]) {
    // The search shows each caller only what they may list there.
    let search =
        "/kapis/search.orrery.io/v1alpha1/resources?kind=namespaces&cluster=member&name=-mp";
    for (u, token) in tokens {
        let v = c.ok(Method::GET, search, token, None).await;
        let mut seen: Vec<String> = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        seen.sort();
        if CLUSTER_READERS.contains(u) {
            assert_eq!(seen, ["a-mp", "b-mp"], "{u}");
        } else if u.starts_with("ns") {
            assert_eq!(seen, ["a-mp"], "{u}");
        } else {
            assert!(!seen.contains(&"b-mp".to_string()), "{u} sees b-mp");
            if *u == "hostcadmin" || *u == "pregular" {
                assert!(seen.is_empty(), "{u}: {seen:?}");
            }
        }
    }
}

/// Members of the member cluster are managed there: its own bindings, the host's users.
async fn member_cluster_members(c: &Client, admin: &str, tokens: &[(&str, String)]) {
    // Members of the member cluster are managed there: its own bindings, the host's users.
    let kiam = "/clusters/member/kapis/iam.kubesphere.io/v1beta1";
    let add = json!([{"username": "pregular", "roleRef": "cluster-viewer"}]);
    let (s, _) = c
        .post(&format!("{kiam}/clustermembers"), &tokens[6].1, add.clone())
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a namespace admin cannot add cluster members"
    );
    c.ok(
        Method::POST,
        &format!("{kiam}/clustermembers"),
        admin,
        Some(add),
    )
    .await;
    let pregular = &tokens[1].1;
    eventually(
        c,
        Method::GET,
        "/clusters/member/api/v1/nodes",
        pregular,
        None,
        StatusCode::OK,
    )
    .await;
    let (s, _) = c.get("/api/v1/nodes", pregular).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "cluster membership is per cluster"
    );
    let v = c
        .ok(Method::GET, &format!("{kiam}/clustermembers"), admin, None)
        .await;
    assert_eq!(names(&v), ["cadmin", "cviewer", "pregular"], "{v}");
    let v = c
        .ok(Method::GET, &format!("{IAM}/clustermembers"), admin, None)
        .await;
    assert!(!names(&v).contains(&"pregular".to_string()), "{v}");
    // The roles a member's members can be given are listed there, built-in ones included
    // (the member holds no role objects of its own until someone makes one).
    let v = c
        .ok(Method::GET, &format!("{kiam}/clusterroles"), admin, None)
        .await;
    for builtin in ["cluster-admin", "cluster-viewer"] {
        assert!(names(&v).contains(&builtin.to_string()), "{v}");
        let r = c
            .ok(
                Method::GET,
                &format!("{kiam}/clusterroles/{builtin}"),
                admin,
                None,
            )
            .await;
        assert!(r["rules"].as_array().is_some_and(|r| !r.is_empty()), "{r}");
    }
    let v = c
        .ok(
            Method::GET,
            &format!("{kiam}/namespaces/a-mp/namespacemembers"),
            &tokens[6].1,
            None,
        )
        .await;
    assert!(names(&v).contains(&"nsviewer".to_string()), "{v}");
    c.ok(
        Method::DELETE,
        &format!("{kiam}/clustermembers/pregular"),
        admin,
        None,
    )
    .await;
    eventually(
        c,
        Method::GET,
        "/clusters/member/api/v1/nodes",
        pregular,
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
}

/// A project's roles in a member cluster are managed through `/clusters/{c}/kapis/…/roles`, as
/// the console's Roles page and member dialog call them: listed, created (by those who may),
/// granted to a member and deleted; another project's roles stay out of reach.
async fn member_project_roles(c: &Client, admin: &str, tokens: &[(&str, String)]) {
    let kiam = "/clusters/member/kapis/iam.kubesphere.io/v1beta1";
    let nsadmin = &tokens[6].1;
    let v = c
        .ok(
            Method::GET,
            &format!("{kiam}/namespaces/a-mp/roles"),
            nsadmin,
            None,
        )
        .await;
    for r in ["admin", "operator", "viewer"] {
        assert!(names(&v).contains(&r.to_string()), "{r}: {v}");
    }
    let (s, _) = c
        .get(&format!("{kiam}/namespaces/b-mp/roles"), nsadmin)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another project's roles");
    let role = json!({"metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]});
    let created = c
        .ok(
            Method::POST,
            &format!("{kiam}/namespaces/a-mp/roles"),
            nsadmin,
            Some(role.clone()),
        )
        .await;
    assert_eq!(created["metadata"]["namespace"], "a-mp", "{created}");
    let (s, _) = c
        .post(&format!("{kiam}/namespaces/a-mp/roles"), &tokens[8].1, role)
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a project viewer creates no roles"
    );
    let (s, _) = c
        .get(&format!("{IAM}/namespaces/a-mp/roles/cm-reader"), admin)
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "created in the member, not the host"
    );
    c.ok(
        Method::POST,
        &format!("{kiam}/namespaces/a-mp/namespacemembers"),
        nsadmin,
        Some(json!([{"username": "pregular", "roleRef": "cm-reader"}])),
    )
    .await;
    eventually(
        c,
        Method::GET,
        "/clusters/member/api/v1/namespaces/a-mp/configmaps",
        &tokens[1].1,
        None,
        StatusCode::OK,
    )
    .await;
    c.ok(
        Method::DELETE,
        &format!("{kiam}/namespaces/a-mp/namespacemembers/pregular"),
        nsadmin,
        None,
    )
    .await;
    c.ok(
        Method::DELETE,
        &format!("{kiam}/namespaces/a-mp/roles/cm-reader"),
        nsadmin,
        None,
    )
    .await;
    let (s, _) = c
        .get(&format!("{kiam}/namespaces/a-mp/roles/cm-reader"), nsadmin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The users, workspaces a and b placed on both clusters, and a project of each in the member.
async fn users_workspaces_and_projects(c: &Client, admin: &str) {
    for u in USERS {
        create_user(c, admin, u).await;
    }
    for ws in ["a", "b"] {
        let t = json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
            "metadata": {"name": ws}, "spec": {"template": {"spec": {"manager": "admin"}},
                "placement": {"clusters": [{"name": "host"}, {"name": "member"}]}}});
        c.ok(
            Method::POST,
            &format!("{TENANT}/workspacetemplates"),
            admin,
            Some(t),
        )
        .await;
    }
    let projects = |ws: &str| {
        format!("/clusters/member/kapis/tenant.kubesphere.io/v1beta1/workspaces/{ws}/namespaces")
    };
    for (ws, ns) in [("a", "a-mp"), ("b", "b-mp")] {
        let body = json!({"metadata": {"name": ns}});
        eventually(
            c,
            Method::POST,
            &projects(ws),
            admin,
            Some(body),
            StatusCode::OK,
        )
        .await;
        c.ok(
            Method::POST,
            &format!("/clusters/member/api/v1/namespaces/{ns}/configmaps"),
            admin,
            Some(configmap("seed")),
        )
        .await;
    }
}

/// Platform roles, workspace members, and bindings made in the member at project and cluster
/// level.
async fn roles_and_bindings(c: &Client, admin: &str) {
    for (u, role) in [
        ("padmin", "platform-admin"),
        ("pregular", "platform-regular"),
    ] {
        let body = json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": role}}});
        c.ok(Method::PUT, &format!("{IAM}/users/{u}"), admin, Some(body))
            .await;
    }
    for (u, role) in [
        ("wsadmin", "a-admin"),
        ("wsregular", "a-regular"),
        ("wsself", "a-self-provisioner"),
        ("wsviewer", "a-viewer"),
    ] {
        add_member(
            c,
            admin,
            &format!("{IAM}/workspaces/a/workspacemembers"),
            u,
            role,
        )
        .await;
    }
    add_member(
        c,
        admin,
        &format!("{IAM}/clustermembers"),
        "hostcadmin",
        "cluster-admin",
    )
    .await;
    let iam = "/clusters/member/apis/iam.kubesphere.io/v1beta1";
    for (u, role) in [
        ("nsadmin", "admin"),
        ("nsoperator", "operator"),
        ("nsviewer", "viewer"),
    ] {
        let b = binding("RoleBinding", &format!("{u}-{role}"), u, "Role", role);
        c.ok(
            Method::POST,
            &format!("{iam}/namespaces/a-mp/rolebindings"),
            admin,
            Some(b),
        )
        .await;
    }
    for (u, role) in [("cadmin", "cluster-admin"), ("cviewer", "cluster-viewer")] {
        let b = binding(
            "ClusterRoleBinding",
            &format!("{u}-{role}"),
            u,
            "ClusterRole",
            role,
        );
        c.ok(
            Method::POST,
            &format!("{iam}/clusterrolebindings"),
            admin,
            Some(b),
        )
        .await;
    }
}

/// Every user against every case: allowed exactly when the case lists them, 403 otherwise.
async fn the_matrix(c: &Client, tokens: &[(&str, String)]) {
    let m = "/clusters/member/api/v1";
    let cases: Vec<(&str, Method, String, bool, &[&str])> = vec![
        (
            "get cm in own project",
            Method::GET,
            format!("{m}/namespaces/a-mp/configmaps/seed"),
            false,
            NS_READERS,
        ),
        (
            "create cm in own project",
            Method::POST,
            format!("{m}/namespaces/a-mp/configmaps"),
            true,
            NS_WRITERS,
        ),
        (
            "watch own project",
            Method::GET,
            format!("{m}/namespaces/a-mp/configmaps?watch=true&timeoutSeconds=1"),
            false,
            NS_READERS,
        ),
        (
            "get cm in other workspace",
            Method::GET,
            format!("{m}/namespaces/b-mp/configmaps/seed"),
            false,
            CLUSTER_READERS,
        ),
        (
            "create cm in other workspace",
            Method::POST,
            format!("{m}/namespaces/b-mp/configmaps"),
            true,
            CLUSTER_WRITERS,
        ),
        (
            "watch other workspace",
            Method::GET,
            format!("{m}/namespaces/b-mp/configmaps?watch=true&timeoutSeconds=1"),
            false,
            CLUSTER_READERS,
        ),
        (
            "list nodes",
            Method::GET,
            format!("{m}/nodes"),
            false,
            CLUSTER_READERS,
        ),
        (
            "list all configmaps",
            Method::GET,
            format!("{m}/configmaps"),
            false,
            CLUSTER_READERS,
        ),
        (
            "watch all configmaps",
            Method::GET,
            format!("{m}/configmaps?watch=true&timeoutSeconds=1"),
            false,
            CLUSTER_READERS,
        ),
    ];
    let mut failures = Vec::new();
    for (what, method, path, body, allowed) in &cases {
        for (u, token) in tokens {
            let body = body.then(|| configmap(&format!("cm-{u}")));
            let (s, _) = c.call(method.clone(), path, Some(token), body).await;
            let expect = allowed.contains(u);
            if expect != s.is_success() || (!expect && s != StatusCode::FORBIDDEN) {
                failures.push(format!(
                    "{what:<30} {u:<11} expected {} got {s}",
                    if expect { "allowed" } else { "403" }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    generic_api_answers_as_the_native_api(c, tokens).await;
}

/// KubeSphere's dynamic API in a member: a CRD labelled `kubesphere.io/resource-served` is
/// served under `/clusters/{c}/kapis/{group}/{version}`, each read answering for every user
/// exactly as the member's own `/apis` does (the reference).
async fn dynamic_api_answers_as_the_native_api(c: &Client, admin: &str, tokens: &[(&str, String)]) {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "labels": {"kubesphere.io/resource-served": "true"}},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    c.ok(
        Method::POST,
        "/clusters/member/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        admin,
        Some(crd),
    )
    .await;
    let native = "/clusters/member/apis/example.com/v1";
    eventually(
        c,
        Method::GET,
        &format!("{native}/widgets"),
        admin,
        None,
        StatusCode::OK,
    )
    .await;
    for ns in ["a-mp", "b-mp"] {
        let w =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        c.ok(
            Method::POST,
            &format!("{native}/namespaces/{ns}/widgets"),
            admin,
            Some(w),
        )
        .await;
    }
    let dynamic = "/clusters/member/kapis/example.com/v1";
    let mut failures = Vec::new();
    for path in [
        "widgets",
        "namespaces/a-mp/widgets",
        "namespaces/a-mp/widgets/w",
        "namespaces/b-mp/widgets",
    ] {
        for (u, token) in tokens {
            let (ds, dv) = c.get(&format!("{dynamic}/{path}"), token).await;
            let (ns, nv) = c.get(&format!("{native}/{path}"), token).await;
            let count = |v: &Value| {
                v["items"]
                    .as_array()
                    .map_or(usize::from(v["metadata"]["name"].is_string()), Vec::len)
            };
            if ds != ns || ds.is_success() && count(&dv) != count(&nv) {
                failures.push(format!("{path:<28} {u:<11} dynamic {ds}, native {ns}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// KubeSphere's generic resources API (`resources.kubesphere.io/v1alpha3`) is authorized as
/// the resource it names: for every user, each of its reads succeeds exactly when the same
/// read of the cluster's own API does (the reference), and finds the same objects.
async fn generic_api_answers_as_the_native_api(c: &Client, tokens: &[(&str, String)]) {
    let g = "/clusters/member/kapis/resources.kubesphere.io/v1alpha3";
    let m = "/clusters/member";
    let pairs = [
        (
            "namespaces/a-mp/configmaps",
            "api/v1/namespaces/a-mp/configmaps",
        ),
        (
            "namespaces/a-mp/configmaps/seed",
            "api/v1/namespaces/a-mp/configmaps/seed",
        ),
        (
            "namespaces/b-mp/configmaps",
            "api/v1/namespaces/b-mp/configmaps",
        ),
        ("configmaps", "api/v1/configmaps"),
        ("nodes", "api/v1/nodes"),
        ("namespaces", "api/v1/namespaces"),
        ("namespaces/a-mp", "api/v1/namespaces/a-mp"),
        (
            "namespaces/a-mp/deployments",
            "apis/apps/v1/namespaces/a-mp/deployments",
        ),
        (
            "clusterroles",
            "apis/rbac.authorization.k8s.io/v1/clusterroles",
        ),
        (
            "namespaces/a-mp/roles",
            "apis/rbac.authorization.k8s.io/v1/namespaces/a-mp/roles",
        ),
    ];
    let mut failures = Vec::new();
    for (generic, native) in pairs {
        for (u, token) in tokens {
            let (gs, gv) = c.get(&format!("{g}/{generic}"), token).await;
            let (ns, nv) = c.get(&format!("{m}/{native}"), token).await;
            if gs != ns {
                failures.push(format!("{generic:<36} {u:<11} generic {gs}, native {ns}"));
            } else if gs.is_success() {
                let found = |v: &Value| match v["items"].as_array() {
                    Some(items) => items.len(),
                    None => usize::from(v["metadata"]["name"].is_string()),
                };
                if found(&gv) != found(&nv)
                    || gv["items"].is_array() && gv["totalItems"] != found(&nv)
                {
                    failures.push(format!("{generic:<36} {u:<11} different objects"));
                }
            }
        }
    }
    // A cluster-scoped resource under a namespace does not exist, as in the native API.
    let (s, _) = c
        .get(&format!("{g}/namespaces/a-mp/nodes"), &tokens[0].1)
        .await;
    if s != StatusCode::NOT_FOUND {
        failures.push(format!("namespaces/a-mp/nodes answered {s}"));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every namespace's Secrets, metadata only, in a member
/// (`/clusters/member/kapis/resources.kubesphere.io/v1alpha3/secrets`): answered to exactly those
/// the member's own cluster-wide list of Secrets answers (the reference), with the member's
/// Secrets and never the host's, and without a value.
async fn secret_metadata_answers_as_the_native_list(
    c: &Client,
    admin: &str,
    tokens: &[(&str, String)],
) {
    const VALUE: &str = "member-only-value-7d1";
    let secret = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": {"password": VALUE}})
    };
    c.ok(
        Method::POST,
        "/clusters/member/api/v1/namespaces/b-mp/secrets",
        admin,
        Some(secret("in-member")),
    )
    .await;
    c.ok(
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        admin,
        Some(secret("in-host")),
    )
    .await;
    let names = |v: &Value| qualified_names(v, |i| &i["metadata"]["namespace"]);

    let encoded = B64.encode(VALUE);
    let mut failures = Vec::new();
    let mut allowed = Vec::new();
    for (u, token) in tokens {
        let (ms, mv) = c
            .get(
                "/clusters/member/kapis/resources.kubesphere.io/v1alpha3/secrets?limit=500",
                token,
            )
            .await;
        let (ns, nv) = c.get("/clusters/member/api/v1/secrets", token).await;
        if ms != ns {
            failures.push(format!("{u:<11} metadata {ms}, native {ns}"));
            continue;
        }
        if !ms.is_success() {
            if ms != StatusCode::FORBIDDEN {
                failures.push(format!("{u:<11} refused with {ms}, not 403"));
            }
            continue;
        }
        allowed.push(*u);
        let (seen, native) = (names(&mv), names(&nv));
        let text = mv.to_string();
        if seen != native {
            failures.push(format!("{u:<11} saw {seen:?}, the member lists {native:?}"));
        } else if !seen.contains(&"b-mp/in-member".to_string())
            || seen.iter().any(|n| n.ends_with("/in-host"))
        {
            failures.push(format!("{u:<11} saw {seen:?}"));
        } else if text.contains(VALUE) || text.contains(&encoded) {
            failures.push(format!("{u:<11} received a value"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The reference is not empty-handed: the member's cluster administrators list its Secrets.
    assert!(allowed.contains(&"cadmin"), "allowed: {allowed:?}");
}
