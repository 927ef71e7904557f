//! One host, one member (in-process), two workspaces placed on both, a project of each in each
//! cluster, and users holding each built-in role at each level; plus the oracle's view of it,
//! read from the clusters themselves.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;
use crate::oracle::{Binding, ClusterData, PolicyRule, Served, World, rules_of};

/// Users and what they hold. Namespace roles are held in `a-p` on the host and `a-mp` on the
/// member; `c*` roles on the host, `mc*` on the member; `binder` holds a custom Role in `a-mp`
/// (write role bindings, read ConfigMaps, `get` on pods and their streams; no `bind`, no `*`,
/// no `create` on streams).
pub const USERS: [&str; 15] = [
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
    "mcadmin",
    "mcviewer",
    "binder",
    "nobody",
];

/// Projects: (cluster, workspace, namespace).
pub const PROJECTS: [(&str, &str, &str); 4] = [
    ("host", "a", "a-p"),
    ("host", "b", "b-p"),
    ("member", "a", "a-mp"),
    ("member", "b", "b-mp"),
];

/// The running fixture.
pub struct Fixture {
    /// Host cluster and platform.
    pub env: Env,
    /// The member cluster (kept running).
    pub member: apiserver::RunningCluster,
    /// The admin's token.
    pub admin: String,
    /// Tokens by user.
    pub tokens: BTreeMap<&'static str, String>,
    /// Admin client of the host cluster.
    pub host_kube: kube::Client,
    /// Admin client of the member cluster.
    pub member_kube: kube::Client,
    /// The installed extension's backend.
    pub extension: crate::extension::Backend,
}

impl Fixture {
    /// A user's token.
    pub fn token(&self, user: &str) -> &str {
        self.tokens.get(user).map(String::as_str).unwrap_or("")
    }

    /// The admin client of a cluster by name.
    pub fn kube(&self, cluster: &str) -> &kube::Client {
        if cluster == "member" {
            &self.member_kube
        } else {
            &self.host_kube
        }
    }
}

/// Retries until `path` answers `want` (caches catch up), at most 30 s.
pub async fn eventually(
    c: &Client,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    want: StatusCode,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
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

fn ready(cluster: &Value) -> bool {
    cluster["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Builds the fixture.
pub async fn start() -> Fixture {
    let env = Env::start_with(|c| {
        c.clusters.health_period = Duration::from_millis(300);
        c.clusters.health_timeout = Duration::from_secs(2);
        c.clusters.backoff_max = Duration::from_secs(1);
        c.clusters.proxy_timeout = Duration::from_secs(10);
        // Monitoring samples every second, so its store holds the fixture's pods at once.
        c.monitoring.interval = Duration::from_secs(1);
    })
    .await;
    let member = start_cluster(&env.dir.path().join("member")).await;
    let c = env.http.clone();
    let admin = env.admin().await;
    join_member(&c, &admin, &member).await;
    tenants(&c, &admin).await;
    workspace_and_project_members(&c, &admin).await;
    binder(&c, &admin).await;
    cluster_members(&c, &admin).await;
    observability_data(&c, &admin).await;
    let extension = crate::extension::install(&c, &admin).await;
    let mut tokens = BTreeMap::new();
    for u in USERS {
        tokens.insert(u, c.login(u, USER_PW).await);
    }
    let host_kube = env.kube().await;
    let member_kube =
        kube::Client::try_from(kube_config(&member.kubeconfig_path).await).expect("member client");
    Fixture {
        env,
        member,
        admin,
        tokens,
        host_kube,
        member_kube,
        extension,
    }
}

/// Joins the member cluster and waits until it is Ready.
async fn join_member(c: &Client, admin: &str, member: &apiserver::RunningCluster) {
    let kc = std::fs::read_to_string(&member.kubeconfig_path).expect("member kubeconfig");
    let body = json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": "member"},
        "spec": {"provider": "orrery", "connection": {"type": "direct",
            "kubeconfig": B64.encode(kc.as_bytes())}}});
    let (s, v) = c
        .post("/apis/cluster.kubesphere.io/v1alpha1/clusters", admin, body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "join: {v}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = c
            .get(
                "/apis/cluster.kubesphere.io/v1alpha1/clusters/member",
                admin,
            )
            .await;
        if ready(&v) {
            break;
        }
        assert!(Instant::now() < deadline, "member not Ready: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The users, workspaces a and b on both clusters, and their projects with seed objects.
async fn tenants(c: &Client, admin: &str) {
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
    for (cluster, ws, ns) in PROJECTS {
        let prefix = if cluster == "host" {
            String::new()
        } else {
            format!("/clusters/{cluster}")
        };
        eventually(
            c,
            Method::POST,
            &format!("{prefix}{TENANT}/workspaces/{ws}/namespaces"),
            admin,
            Some(json!({"metadata": {"name": ns}})),
            StatusCode::OK,
        )
        .await;
        c.ok(
            Method::POST,
            &format!("{prefix}/api/v1/namespaces/{ns}/configmaps"),
            admin,
            Some(json!({"metadata": {"name": "seed"}, "data": {"k": "v"}})),
        )
        .await;
        c.ok(
            Method::POST,
            &format!("{prefix}/api/v1/namespaces/{ns}/secrets"),
            admin,
            Some(json!({"metadata": {"name": "seed"}, "stringData": {"password": "seed-secret-value"}})),
        )
        .await;
    }
}

/// Platform roles, workspace members of a, and project members of a-p and a-mp.
async fn workspace_and_project_members(c: &Client, admin: &str) {
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
    for prefix in ["", "/clusters/member"] {
        let ns = if prefix.is_empty() { "a-p" } else { "a-mp" };
        for (u, role) in [
            ("nsadmin", "admin"),
            ("nsoperator", "operator"),
            ("nsviewer", "viewer"),
        ] {
            add_member(
                c,
                admin,
                &format!("{prefix}{IAM}/namespaces/{ns}/namespacemembers"),
                u,
                role,
            )
            .await;
        }
    }
}

/// `binder`: a member of a-mp through a custom Role that may write bindings and roles.
async fn binder(c: &Client, admin: &str) {
    let binder = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "Role",
        "metadata": {"name": "binder", "namespace": "a-mp"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io", "iam.kubesphere.io"], "resources": ["rolebindings", "roles"],
         "verbs": ["get", "list", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods", "pods/exec", "pods/attach", "pods/portforward"], "verbs": ["get", "list"]}]});
    c.ok(
        Method::POST,
        "/clusters/member/apis/iam.kubesphere.io/v1beta1/namespaces/a-mp/roles",
        admin,
        Some(binder),
    )
    .await;
    // The member's caches learn of the new Role shortly after it is written.
    let members = format!("/clusters/member{IAM}/namespaces/a-mp/namespacemembers");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let add = json!([{"username": "binder", "roleRef": "binder"}]);
        let (s, v) = c.post(&members, admin, add).await;
        if s.is_success() {
            break;
        }
        assert!(Instant::now() < deadline, "binder's membership: {s} {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the observability routes read: a pod `pod-{ns}` and an Event `ev-{ns}` in each
/// namespace of [`crate::observability::POD_NAMESPACES`], a RuleGroup `rg-{ns}` in each
/// project (its rule selects `kube_pod_info`, so every pod of the namespace fires) and a
/// ClusterRuleGroup in each cluster.
async fn observability_data(c: &Client, admin: &str) {
    for (cluster, ns) in crate::observability::POD_NAMESPACES {
        let prefix = if cluster == "host" {
            String::new()
        } else {
            format!("/clusters/{cluster}")
        };
        let pod = format!("pod-{ns}");
        c.ok(
            Method::POST,
            &format!("{prefix}/api/v1/namespaces/{ns}/pods"),
            admin,
            Some(json!({"metadata": {"name": pod, "labels": {"app": "obs"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}})),
        )
        .await;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        c.ok(
            Method::POST,
            &format!("{prefix}/api/v1/namespaces/{ns}/events"),
            admin,
            Some(json!({"metadata": {"name": format!("ev-{ns}")},
                "involvedObject": {"kind": "Pod", "name": pod, "namespace": ns},
                "reason": "Isolation", "message": format!("an event of {ns}"), "type": "Normal",
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "source": {"component": "isolation-test"}})),
        )
        .await;
        if ns == "default" {
            continue;
        }
        c.ok(
            Method::POST,
            &format!("{prefix}/apis/alerting.kubesphere.io/v2beta1/namespaces/{ns}/rulegroups"),
            admin,
            Some(
                json!({"apiVersion": "alerting.kubesphere.io/v2beta1", "kind": "RuleGroup",
                "metadata": {"name": format!("rg-{ns}")},
                "spec": {"interval": "1s", "rules": [{"alert": "PodSeen",
                    "expr": "kube_pod_info", "severity": "info"}]}}),
            ),
        )
        .await;
    }
    for prefix in ["", "/clusters/member"] {
        c.ok(
            Method::POST,
            &format!("{prefix}/apis/alerting.kubesphere.io/v2beta1/clusterrulegroups"),
            admin,
            Some(
                json!({"apiVersion": "alerting.kubesphere.io/v2beta1", "kind": "ClusterRuleGroup",
                "metadata": {"name": "pods-seen"},
                "spec": {"interval": "1s", "rules": [{"alert": "PodsSeen",
                    "expr": "count(kube_pod_info) > 0", "severity": "info"}]}}),
            ),
        )
        .await;
    }
}

/// Cluster members of the host and of the member.
async fn cluster_members(c: &Client, admin: &str) {
    for (prefix, users) in [
        (
            "",
            [("cadmin", "cluster-admin"), ("cviewer", "cluster-viewer")],
        ),
        (
            "/clusters/member",
            [("mcadmin", "cluster-admin"), ("mcviewer", "cluster-viewer")],
        ),
    ] {
        for (u, role) in users {
            add_member(c, admin, &format!("{prefix}{IAM}/clustermembers"), u, role).await;
        }
    }
}

/// GETs a path from a cluster as its admin.
pub async fn get_json(client: &kube::Client, path: &str) -> Value {
    let req = http::Request::get(path).body(Vec::new()).expect("request");
    client
        .request::<Value>(req)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The items of a list.
pub async fn list(client: &kube::Client, path: &str) -> Vec<Value> {
    get_json(client, path).await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A cluster's discovery, read directly from it: (group, version) → resource → namespaced.
pub async fn discovery(
    client: &kube::Client,
) -> BTreeMap<(String, String), BTreeMap<String, Served>> {
    let mut out = BTreeMap::new();
    let mut gvs = vec![(String::new(), "v1".to_string())];
    for g in client.list_api_groups().await.expect("api groups").groups {
        for v in g.versions {
            gvs.push((g.name.clone(), v.version));
        }
    }
    for (group, version) in gvs {
        let list = if group.is_empty() {
            client.list_core_api_resources(&version).await
        } else {
            client
                .list_api_group_resources(&format!("{group}/{version}"))
                .await
        }
        .unwrap_or_else(|e| panic!("discovery of {group}/{version}: {e}"));
        let resources = list
            .resources
            .into_iter()
            .map(|r| {
                let served = Served {
                    namespaced: r.namespaced,
                    kind: r.kind,
                    verbs: r.verbs,
                };
                (r.name, served)
            })
            .collect();
        out.insert((group, version), resources);
    }
    out
}

const IAM_API: &str = "/apis/iam.kubesphere.io/v1beta1";

fn label(v: &Value, key: &str) -> Option<String> {
    v["metadata"]["labels"][key].as_str().map(str::to_string)
}

fn name(v: &Value) -> String {
    v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn cluster_data(client: &kube::Client, host: bool) -> ClusterData {
    let mut d = ClusterData {
        host,
        discovery: discovery(client).await,
        ..ClusterData::default()
    };
    for ns in list(client, "/api/v1/namespaces").await {
        d.namespaces
            .insert(name(&ns), label(&ns, "kubesphere.io/workspace"));
    }
    for r in list(client, &format!("{IAM_API}/clusterroles")).await {
        d.cluster_roles.insert(name(&r), rules_of(&r));
    }
    for b in list(client, &format!("{IAM_API}/clusterrolebindings")).await {
        d.cluster_bindings.push(Binding::from_json(&b, None));
    }
    for r in list(client, &format!("{IAM_API}/roles")).await {
        let ns = r["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        d.roles.insert((ns, name(&r)), rules_of(&r));
    }
    for b in list(client, &format!("{IAM_API}/rolebindings")).await {
        let ns = b["metadata"]["namespace"].as_str().map(str::to_string);
        d.role_bindings.push(Binding::from_json(&b, ns));
    }
    d
}

fn builtin(roles: &[Value]) -> BTreeMap<String, Vec<PolicyRule>> {
    roles
        .iter()
        .filter(|r| r["metadata"]["annotations"]["iam.kubesphere.io/builtin"] == "true")
        .map(|r| (name(r), rules_of(r)))
        .collect()
}

/// The oracle's world, read from both clusters.
pub async fn world(f: &Fixture) -> World {
    let host = &f.host_kube;
    let mut w = World::default();
    for r in list(host, &format!("{IAM_API}/globalroles")).await {
        w.global_roles.insert(name(&r), rules_of(&r));
    }
    for b in list(host, &format!("{IAM_API}/globalrolebindings")).await {
        w.global_bindings.push(Binding::from_json(&b, None));
    }
    for r in list(host, &format!("{IAM_API}/workspaceroles")).await {
        w.workspace_roles.insert(
            name(&r),
            (label(&r, "kubesphere.io/workspace"), rules_of(&r)),
        );
    }
    for b in list(host, &format!("{IAM_API}/workspacerolebindings")).await {
        let ws = label(&b, "kubesphere.io/workspace");
        w.workspace_bindings.push(Binding::from_json(&b, ws));
    }
    w.builtin_namespace_roles =
        builtin(&list(host, &format!("{IAM_API}/namespaces/a-p/roles")).await);
    w.builtin_cluster_roles = builtin(&list(host, &format!("{IAM_API}/clusterroles")).await);
    w.clusters
        .insert("host".into(), cluster_data(host, true).await);
    w.clusters
        .insert("member".into(), cluster_data(&f.member_kube, false).await);
    w
}
