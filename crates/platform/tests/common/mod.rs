//! Test harness: an in-process host cluster and platform, and an HTTP client for the platform.
#![allow(dead_code)]

pub mod kubectl;
pub mod node;
pub mod process;

use std::path::PathBuf;
use std::time::Duration;

use platform::{PlatformConfig, RunningPlatform};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The admin password tests start with.
pub const ADMIN_PW: &str = "AdminPassw0rd";
/// A password every test user gets.
pub const USER_PW: &str = "UserPassw0rd";

/// A host cluster plus one platform replica.
pub struct Env {
    pub cluster: Option<apiserver::RunningCluster>,
    pub kubeconfig: PathBuf,
    pub platform: RunningPlatform,
    pub http: Client,
    pub dir: tempfile::TempDir,
}

/// Loads a kube config from a kubeconfig file.
pub async fn kube_config(path: &std::path::Path) -> kube::Config {
    let kc = kube::config::Kubeconfig::read_from(path).expect("read kubeconfig");
    kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config")
}

/// Test defaults: cheap hashing, fast controllers.
pub fn test_config(kube: kube::Config, dir: &std::path::Path) -> PlatformConfig {
    let mut c = PlatformConfig::new(kube, dir);
    c.listen = "127.0.0.1:0".parse().expect("addr");
    c.admin_password = Some(ADMIN_PW.into());
    c.hash_cost = platform::password::HashCost {
        memory_kib: 256,
        iterations: 1,
    };
    c.resync_period = Duration::from_millis(300);
    c.lease_retry = Duration::from_millis(500);
    c.lease_duration = Duration::from_secs(3);
    c
}

/// An Env whose host cluster runs the simulated data plane (two nodes, kubelets, logs,
/// metrics); `configure` adjusts the platform's configuration before it starts. Cancel the
/// token to stop the simulation.
pub async fn sim_env(
    configure: impl FnOnce(&mut PlatformConfig),
) -> (Env, tokio_util::sync::CancellationToken) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cc = apiserver::ClusterConfig::new(dir.path().join("cluster"));
    cc.listen = "127.0.0.1:0".parse().expect("addr");
    cc.durable = false;
    let config = sim::SimConfig {
        nodes: 2,
        time_scale: 20.0,
        seed: Some(16),
        ..Default::default()
    };
    cc.data_plane = Some(std::sync::Arc::new(sim::SimDataPlane {
        time_scale: config.time_scale,
    }));
    let cluster = apiserver::start(cc).await.expect("start cluster");
    let kubeconfig = cluster.kubeconfig_path.clone();
    let kube = kube::Client::try_from(kube_config(&kubeconfig).await).expect("client");
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        if let Err(e) = sim::run(kube, config, s).await {
            panic!("simulation stopped: {e}");
        }
    });
    let mut pc = test_config(kube_config(&kubeconfig).await, &dir.path().join("platform"));
    configure(&mut pc);
    let platform = platform::start(pc).await.expect("start platform");
    let http = Client::new(&platform.url());
    (
        Env {
            cluster: Some(cluster),
            kubeconfig,
            platform,
            http,
            dir,
        },
        stop,
    )
}

/// Starts an in-process host cluster.
pub async fn start_cluster(dir: &std::path::Path) -> apiserver::RunningCluster {
    let mut cc = apiserver::ClusterConfig::new(dir.join("cluster"));
    cc.listen = "127.0.0.1:0".parse().expect("addr");
    cc.durable = false;
    apiserver::start(cc).await.expect("start cluster")
}

impl Env {
    /// A fresh cluster and platform with test defaults, adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut PlatformConfig)) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let cluster = start_cluster(dir.path()).await;
        let kubeconfig = cluster.kubeconfig_path.clone();
        let mut config = test_config(kube_config(&kubeconfig).await, &dir.path().join("platform"));
        tweak(&mut config);
        let platform = platform::start(config).await.expect("start platform");
        let http = Client::new(&platform.url());
        Env {
            cluster: Some(cluster),
            kubeconfig,
            platform,
            http,
            dir,
        }
    }

    /// A fresh cluster and platform with test defaults.
    pub async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    /// Another platform replica on the same host cluster.
    pub async fn replica(&self) -> RunningPlatform {
        let config = test_config(
            kube_config(&self.kubeconfig).await,
            &self.dir.path().join("platform2"),
        );
        platform::start(config).await.expect("start replica")
    }

    /// A kube-rs client for the host cluster (admin).
    pub async fn kube(&self) -> kube::Client {
        kube::Client::try_from(kube_config(&self.kubeconfig).await).expect("client")
    }

    /// The admin's token.
    pub async fn admin(&self) -> String {
        self.http.login("admin", ADMIN_PW).await
    }
}

/// A small JSON HTTP client for the platform.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub inner: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            inner: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    /// Password grant; returns the whole answer.
    pub async fn token(&self, user: &str, pw: &str) -> (StatusCode, Value) {
        let r = self
            .inner
            .post(format!("{}/oauth/token", self.base))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", pw),
                ("client_id", "kubesphere"),
                ("client_secret", "kubesphere"),
            ])
            .send()
            .await
            .expect("send");
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Logs in, panicking on failure.
    pub async fn login(&self, user: &str, pw: &str) -> String {
        let (s, v) = self.token(user, pw).await;
        assert_eq!(s, StatusCode::OK, "login {user}: {v}");
        v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Any request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.inner.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("send");
        let s = r.status();
        let text = r.text().await.unwrap_or_default();
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// A JSON merge patch (`application/merge-patch+json`) that must succeed.
    pub async fn merge_patch(&self, path: &str, token: &str, patch: Value) {
        let r = self
            .inner
            .patch(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .expect("patch");
        let s = r.status();
        assert!(
            s.is_success(),
            "PATCH {path}: {s} {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// Asserts a 2xx and returns the body.
    pub async fn ok(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method.clone(), path, Some(token), body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }
}

pub const IAM: &str = "/kapis/iam.kubesphere.io/v1beta1";
pub const TENANT: &str = "/kapis/tenant.kubesphere.io/v1beta1";

/// Creates a user with [`USER_PW`] (as `admin`).
pub async fn create_user(c: &Client, admin: &str, name: &str) {
    let body = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User", "metadata": {"name": name}, "spec": {"email": format!("{name}@example.com"), "password": USER_PW}});
    c.ok(Method::POST, &format!("{IAM}/users"), admin, Some(body))
        .await;
}

/// Creates a workspace managed by `manager`.
pub async fn create_workspace(c: &Client, admin: &str, ws: &str, manager: &str) {
    let body = json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate", "metadata": {"name": ws},
        "spec": {"template": {"spec": {"manager": manager}}, "placement": {"clusters": [{"name": "host"}]}}});
    c.ok(
        Method::POST,
        &format!("{TENANT}/workspacetemplates"),
        admin,
        Some(body),
    )
    .await;
}

/// Creates a project in a workspace.
pub async fn create_project(c: &Client, token: &str, ws: &str, ns: &str) {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    c.ok(
        Method::POST,
        &format!("{TENANT}/workspaces/{ws}/namespaces"),
        token,
        Some(body),
    )
    .await;
}

/// Adds members at some level (`…/workspacemembers` etc.).
pub async fn add_member(c: &Client, admin: &str, path: &str, user: &str, role: &str) {
    c.ok(
        Method::POST,
        path,
        admin,
        Some(json!([{"username": user, "roleRef": role}])),
    )
    .await;
}

/// Waits (10 s at most) until `check` holds; panics naming `what` if it never does.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The names of `items` in a list answer.
pub fn names(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .collect();
    out.sort();
    out
}

/// `{qualifier}/{name}` of `items` in a list answer, sorted: `qualifier` picks the value that
/// names each item's place (its namespace, the cluster of a search result).
pub fn qualified_names(v: &Value, qualifier: impl Fn(&Value) -> &Value) -> Vec<String> {
    let mut out: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            format!(
                "{}/{}",
                qualifier(i).as_str().unwrap_or_default(),
                i["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    out.sort();
    out
}

/// A CA and a certificate it signed for 127.0.0.1 (with its key), for servers the tests start
/// on loopback with TLS.
pub fn loopback_certificate() -> (rcgen::Certificate, rcgen::Certificate, rcgen::KeyPair) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params
        .signed_by(&key, &rcgen::Issuer::new(ca_params, ca_key))
        .expect("cert");
    (ca, cert, key)
}

/// Creates or replaces identity provider `name` (KubeSphere's Secret in kubesphere-system,
/// `configuration.yaml` with `type` `kind`, `mappingMethod` and `provider` settings).
pub async fn set_identity_provider(
    env: &Env,
    name: &str,
    kind: &str,
    mapping: &str,
    provider: Value,
) {
    use base64::Engine;
    use k8s_openapi::api::core::v1::Secret;
    let cfg = serde_json::json!({"name": name, "type": kind, "mappingMethod": mapping,
        "displayName": format!("{name} login"), "provider": provider});
    let yaml = serde_saphyr::to_string(&cfg).expect("yaml");
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("idp-{name}"), "namespace": "kubesphere-system",
            "labels": {"config.kubesphere.io/type": "identityprovider"}},
        "type": "config.kubesphere.io/identityprovider",
        "data": {"configuration.yaml": base64::engine::general_purpose::STANDARD.encode(yaml)},
    }))
    .expect("secret");
    let api: kube::Api<Secret> = kube::Api::namespaced(env.kube().await, "kubesphere-system");
    let pp = kube::api::PatchParams::apply("sso-test").force();
    api.patch(
        &format!("idp-{name}"),
        &pp,
        &kube::api::Patch::Apply(&secret),
    )
    .await
    .expect("identity provider secret");
}

/// Grants `role` of workspace `ws` to group `group` (a directory group: no workspace Group
/// object, so the binding is made directly).
pub async fn bind_group_in_workspace(c: &Client, admin: &str, ws: &str, group: &str, role: &str) {
    let name = format!("{ws}-{}", group.replace([':', '/'], "-"));
    c.ok(Method::POST, "/apis/iam.kubesphere.io/v1beta1/workspacerolebindings", admin,
        Some(json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "WorkspaceRoleBinding",
            "metadata": {"name": name, "labels": {"kubesphere.io/workspace": ws}},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group}],
            "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "WorkspaceRole", "name": format!("{ws}-{role}")}}))).await;
}

/// A kind to list through the dynamic API (`group` empty for the core group).
pub fn api_resource(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Every object of `kinds` matching label `selector`, in all namespaces, as sorted
/// `Kind namespace/name` lines (what an uninstall must leave empty).
pub async fn labelled_objects(
    kube: &kube::Client,
    kinds: &[kube::api::ApiResource],
    selector: &str,
) -> Vec<String> {
    let lp = kube::api::ListParams::default().labels(selector);
    let mut out = Vec::new();
    for r in kinds {
        let api: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(kube.clone(), r);
        for o in api.list(&lp).await.expect("list").items {
            out.push(format!(
                "{} {}/{}",
                r.kind,
                o.metadata.namespace.unwrap_or_default(),
                o.metadata.name.unwrap_or_default()
            ));
        }
    }
    out.sort();
    out
}
