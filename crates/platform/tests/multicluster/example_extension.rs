//! The repository's example extension (`examples/extensions/hello`, packaged by the code
//! `orrery extension package` runs) through its whole life across two clusters (issue 14,
//! must-show 1). A Repository served by the test holds two versions of the example, the first
//! `HostOnly` (the test writes `installationMode: HostOnly` into its copy of `extension.yaml`
//! before packaging 0.1.0) and 0.2.0 as shipped (`Multicluster`). An install with a config that
//! is not YAML fails with its reason, is retried as it is and fails again, and is uninstalled
//! from `InstallFailed` leaving nothing; installed again with the same bad config, it fails,
//! and fixing the config retries it (a changed spec is a retry: the installer acts on a new
//! spec hash; the retry annotation is for trying again unchanged): 0.1.0 is installed
//! `HostOnly`, backend included, on the host and nothing in member `m1` although the placement
//! names it. The upgrade to 0.2.0 (`Multicluster`) moves the backend: off the host, into `m1`
//! as its agent, where a bad value (`replicas: -1`) fails it until the config is fixed; then
//! disabling, `m1` leaving the placement (its agent goes) and the uninstall, after which nothing
//! labelled with the extension is left in either cluster. Each step's Event is recorded on the
//! plan.
use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use kube::api::{Api, DynamicObject};
use sha2::Digest;

const MARKET: &str = "/apis/kubesphere.io/v1alpha1";
const PLAN: &str = "/apis/kubesphere.io/v1alpha1/installplans/hello";

/// The example as shipped.
fn example_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/extensions/hello")
}

/// The example packaged from `dir` at `version`, as `orrery extension package --version` does.
fn hello(dir: &Path, version: &str) -> Vec<u8> {
    platform::extensions::authoring::package_dir(dir, Some(version))
        .expect("package the example extension")
        .tgz
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A copy of the example in `dir` whose `extension.yaml` says `installationMode: HostOnly`.
fn host_only_copy(dir: &Path) -> std::path::PathBuf {
    copy_dir(&example_dir(), dir);
    let manifest = dir.join("extension.yaml");
    let text = std::fs::read_to_string(&manifest).expect("extension.yaml");
    let shipped = "\ninstallationMode: Multicluster\n";
    assert!(text.contains(shipped), "{text}");
    std::fs::write(
        &manifest,
        text.replace(shipped, "\ninstallationMode: HostOnly\n"),
    )
    .expect("write extension.yaml");
    dir.to_path_buf()
}

/// Serves the example's two versions as a Helm repository on 127.0.0.1 (0.1.0 `HostOnly`,
/// from a copy made in `work`; 0.2.0 as shipped); its URL.
async fn serve_repository(work: &Path) -> String {
    let mut files = HashMap::new();
    let mut index = String::from("apiVersion: v1\nentries:\n  hello:\n");
    let dirs = [
        ("0.1.0", host_only_copy(&work.join("hello-host-only"))),
        ("0.2.0", example_dir()),
    ];
    for (v, dir) in dirs {
        let tgz = hello(&dir, v);
        let digest = format!("{:x}", sha2::Sha256::digest(&tgz));
        index.push_str(&format!(
            "  - name: hello\n    version: {v}\n    urls: [hello-{v}.tgz]\n    digest: {digest}\n"
        ));
        files.insert(format!("/market/hello-{v}.tgz"), tgz);
    }
    files.insert("/market/index.yaml".to_string(), index.into_bytes());
    let files = Arc::new(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let files = files.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let found = files.get(req.uri().path()).cloned();
                    async move {
                        let (status, body) = found.map_or((404, Vec::new()), |b| (200, b));
                        hyper::Response::builder()
                            .status(status)
                            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service),
            );
        }
    });
    format!("http://{addr}/market")
}

/// What the steps share.
struct Scenario<'a> {
    c: &'a Client,
    admin: &'a str,
    host: kube::Client,
    member: kube::Client,
}

/// Every object labelled with the extension in a cluster, as `Kind namespace/name`.
async fn labelled(kube: &kube::Client, host: bool) -> Vec<String> {
    let r = crate::common::api_resource;
    let mut kinds = vec![
        r("", "v1", "ConfigMap", "configmaps"),
        r("", "v1", "Service", "services"),
        r("", "v1", "ServiceAccount", "serviceaccounts"),
        r("", "v1", "Namespace", "namespaces"),
        r("apps", "v1", "Deployment", "deployments"),
        r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        ),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
        ),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        ),
        r(
            "extensions.kubesphere.io",
            "v1alpha1",
            "APIService",
            "apiservices",
        ),
    ];
    if host {
        kinds.push(r(
            "extensions.kubesphere.io",
            "v1alpha1",
            "JSBundle",
            "jsbundles",
        ));
        kinds.push(r(
            "extensions.kubesphere.io",
            "v1alpha1",
            "ExtensionEntry",
            "extensionentries",
        ));
        kinds.push(r(
            "iam.kubesphere.io",
            "v1beta1",
            "RoleTemplate",
            "roletemplates",
        ));
    }
    crate::common::labelled_objects(kube, &kinds, "kubesphere.io/extension-ref=hello").await
}

impl Scenario<'_> {
    /// Waits (120 s at most: installs run in a debug build on a loaded machine) until the plan
    /// satisfies `check`.
    async fn plan_until(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (s, v) = self.c.get(PLAN, self.admin).await;
            if s == StatusCode::OK && check(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn patch(&self, body: Value) {
        self.c.merge_patch(PLAN, self.admin, body).await;
    }

    async fn create_plan(&self, config: &str) {
        self.c
            .ok(
                Method::POST,
                &format!("{MARKET}/installplans"),
                self.admin,
                Some(
                    json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
                    "metadata": {"name": "hello"},
                    "spec": {"extension": {"name": "hello", "version": "0.1.0"},
                        "enabled": true, "config": config,
                        "clusterScheduling": {"placement": {"clusters": ["m1"]}}}}),
                ),
            )
            .await;
    }

    /// Deletes the plan and waits until it is gone (its finalizer ran the uninstall).
    async fn uninstall(&self) {
        self.c.ok(Method::DELETE, PLAN, self.admin, None).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (s, v) = self.c.get(PLAN, self.admin).await;
            if s == StatusCode::NOT_FOUND {
                return;
            }
            assert!(Instant::now() < deadline, "the plan was not removed: {v:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The member's `hello-backend` container environment.
    async fn agent_env(&self) -> HashMap<String, String> {
        backend_env(&self.member).await
    }
}

/// The `hello-backend` container environment in a cluster.
async fn backend_env(kube: &kube::Client) -> HashMap<String, String> {
    let api: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(kube.clone(), "extension-hello");
    let d = api
        .get("hello-backend")
        .await
        .expect("the backend's deployment");
    let spec = d.spec.expect("spec").template.spec.expect("pod spec");
    spec.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

fn condition<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v["status"]["conditions"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_extension_lives_its_whole_life_across_two_clusters() {
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let m1 = start_cluster(&env.dir.path().join("m1")).await;
    let c = &env.http;
    let admin = env.admin().await;
    let kubeconfig = std::fs::read_to_string(&m1.kubeconfig_path).expect("m1 kubeconfig");
    join(c, &admin, "m1", &kubeconfig).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    let x = Scenario {
        c,
        admin: &admin,
        host: env.kube().await,
        member: kube::Client::try_from(kube_config(&m1.kubeconfig_path).await).expect("m1"),
    };
    repository_synced(&x, env.dir.path()).await;
    a_bad_config_fails_is_retried_and_uninstalled(&x).await;
    a_bad_config_fixed_installs_host_only(&x).await;
    upgraded_to_multicluster_the_agent_fails_in_m1_until_fixed(&x).await;
    disabled(&x).await;
    m1_leaves_the_placement_the_host_joins(&x).await;
    back_to_host_only_then_all_is_uninstalled(&x).await;
    events_tell_each_step(&x).await;
}

/// The Repository syncs both versions of the example.
async fn repository_synced(x: &Scenario<'_>, work: &Path) {
    let url = serve_repository(work).await;
    x.c.ok(
        Method::POST,
        &format!("{MARKET}/repositories"),
        x.admin,
        Some(
            json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "Repository",
            "metadata": {"name": "market"}, "spec": {"url": url}}),
        ),
    )
    .await;
    for (v, mode) in [("0.1.0", "HostOnly"), ("0.2.0", "Multicluster")] {
        let ev = eventually(
            x.c,
            Method::GET,
            &format!("{MARKET}/extensionversions/hello-{v}"),
            x.admin,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(ev["spec"]["installationMode"], mode, "{ev:#}");
    }
}

/// Waits for the plan to fail with reason InvalidConfig (a config that is not YAML); the number
/// of failures in its history.
async fn fails_with_invalid_config(x: &Scenario<'_>, failures: usize) {
    let count = |v: &Value| {
        v["status"]["stateHistory"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["state"] == "InstallFailed")
            .count()
    };
    let p = x
        .plan_until("InstallFailed", |v| {
            v["status"]["state"] == "InstallFailed" && count(v) == failures
        })
        .await;
    let cond = condition(&p, "Installed");
    assert_eq!(cond["reason"], "InvalidConfig", "{p:#}");
    assert!(
        cond["message"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.config"),
        "{p:#}"
    );
}

/// A config that is not YAML: refused before anything is made, with its reason; retried as
/// it is (the retry annotation), refused again; uninstalled from `InstallFailed`.
async fn a_bad_config_fails_is_retried_and_uninstalled(x: &Scenario<'_>) {
    x.create_plan("backend: [").await;
    fails_with_invalid_config(x, 1).await;
    x.patch(json!({"metadata": {"annotations": {"extensions.orrery.io/retry": "1"}}}))
        .await;
    fails_with_invalid_config(x, 2).await;
    x.uninstall().await;
    assert_eq!(labelled(&x.host, true).await, Vec::<String>::new());
    assert_eq!(labelled(&x.member, false).await, Vec::<String>::new());
}

/// The same failure, fixed: the corrected config is a new spec, which the installer tries
/// (no annotation needed). 0.1.0 is `HostOnly`: frontend and backend on the host, nothing in m1
/// although the placement names it.
async fn a_bad_config_fixed_installs_host_only(x: &Scenario<'_>) {
    x.create_plan("backend: [").await;
    fails_with_invalid_config(x, 1).await;
    x.patch(json!({"spec": {"config": "backend:\n  greeting: Hallo\n"}}))
        .await;
    let p = x
        .plan_until("installed after the fix", |v| {
            v["status"]["state"] == "Installed"
        })
        .await;
    assert_eq!(p["status"]["version"], "0.1.0", "{p:#}");
    assert!(
        p["status"]["clusterSchedulingStatuses"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "HostOnly places no agent: {p:#}"
    );
    let on_host = labelled(&x.host, true).await;
    for o in [
        "JSBundle /hello",
        "ExtensionEntry /hello",
        "APIService /v1alpha1.hello.kubesphere.io",
        "Deployment extension-hello/hello-backend",
    ] {
        assert!(on_host.contains(&o.to_string()), "{o}: {on_host:#?}");
    }
    let env = backend_env(&x.host).await;
    assert_eq!(env["GREETING"], "Hallo");
    assert_eq!(env["VERSION"], "0.1.0");
    assert_ne!(env["CLUSTER"], "m1");
    assert_eq!(labelled(&x.member, false).await, Vec::<String>::new());
}

/// Upgraded to 0.2.0, `Multicluster`, with `replicas: -1`: the host keeps the frontend and
/// loses the backend, the agent fails in m1; a fixed config installs it there with the new
/// greeting.
async fn upgraded_to_multicluster_the_agent_fails_in_m1_until_fixed(x: &Scenario<'_>) {
    x.patch(json!({"spec": {"extension": {"version": "0.2.0"},
        "config": "backend:\n  replicas: -1\n"}}))
        .await;
    let p = x
        .plan_until("the host upgraded, the agent failed in m1", |v| {
            v["status"]["state"] == "Upgraded"
                && v["status"]["version"] == "0.2.0"
                && v["status"]["clusterSchedulingStatuses"]["m1"]["state"] == "InstallFailed"
        })
        .await;
    let agent = &p["status"]["clusterSchedulingStatuses"]["m1"];
    assert!(
        condition(&json!({"status": agent}), "Installed")["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("m1: "),
        "{p:#}"
    );
    let on_host = labelled(&x.host, true).await;
    for o in [
        "JSBundle /hello",
        "ExtensionEntry /hello",
        "RoleTemplate /global-hello-view",
    ] {
        assert!(on_host.contains(&o.to_string()), "{o}: {on_host:#?}");
    }
    assert!(
        !on_host.iter().any(|o| o.contains("hello-backend")),
        "{on_host:#?}"
    );

    x.patch(json!({"spec": {"config": "backend:\n  greeting: Bonjour\n"}}))
        .await;
    x.plan_until("reconfigured, the agent installed in m1", |v| {
        v["status"]["state"] == "Upgraded"
            && v["status"]["clusterSchedulingStatuses"]["m1"]["state"] == "Installed"
    })
    .await;
    let env = x.agent_env().await;
    assert_eq!(env["GREETING"], "Bonjour");
    assert_eq!(env["CLUSTER"], "m1");
    assert_eq!(env["VERSION"], "0.2.0");
    let on_member = labelled(&x.member, false).await;
    for o in [
        "APIService /v1alpha1.hello.kubesphere.io",
        "Deployment extension-hello/hello-backend",
        "Service extension-hello/hello-backend",
    ] {
        assert!(on_member.contains(&o.to_string()), "{o}: {on_member:#?}");
    }
    assert!(
        !on_member.iter().any(|o| o.starts_with("JSBundle")),
        "{on_member:#?}"
    );
}

/// Disabled: the UI routes go from the host, the agent stays.
async fn disabled(x: &Scenario<'_>) {
    x.patch(json!({"spec": {"enabled": false}})).await;
    x.plan_until("disabled", |v| {
        v["status"]["state"] == "Upgraded"
            && condition(v, "Upgraded")["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("(disabled)"))
    })
    .await;
    let on_host = labelled(&x.host, true).await;
    assert!(
        !on_host
            .iter()
            .any(|o| o.starts_with("JSBundle") || o.starts_with("ExtensionEntry")),
        "{on_host:#?}"
    );
    assert_eq!(x.agent_env().await["VERSION"], "0.2.0");
}

/// The host's `hello-backend` Deployment: which release made it.
async fn host_backend_release(x: &Scenario<'_>) -> Option<String> {
    let api: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(x.host.clone(), "extension-hello");
    let d = api.get_opt("hello-backend").await.expect("get")?;
    d.metadata
        .annotations?
        .get("meta.helm.sh/release-name")
        .cloned()
}

/// m1 out of the placement loses its agent (nothing labelled is left there); the host, put in
/// it, gets one (release `hello-agent`).
async fn m1_leaves_the_placement_the_host_joins(x: &Scenario<'_>) {
    x.patch(json!({"spec": {"clusterScheduling": {"placement": {"clusters": ["host"]}}}}))
        .await;
    x.plan_until("m1 out of the placement, the host in", |v| {
        let agents = v["status"]["clusterSchedulingStatuses"].as_object();
        agents.is_some_and(|m| {
            m.len() == 1 && !m.contains_key("m1") && m.values().all(|e| e["state"] == "Installed")
        })
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !labelled(&x.member, false).await.is_empty() {
        let left = labelled(&x.member, false).await;
        assert!(Instant::now() < deadline, "{left:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        host_backend_release(x).await.as_deref(),
        Some("hello-agent")
    );
}

/// Back to 0.1.0, `HostOnly`: the agents go (the host's first, whose backend the host release
/// takes back); the uninstall then leaves nothing in either cluster.
async fn back_to_host_only_then_all_is_uninstalled(x: &Scenario<'_>) {
    x.patch(json!({"spec": {"extension": {"version": "0.1.0"}}}))
        .await;
    let p = x
        .plan_until("back to 0.1.0, no agent", |v| {
            v["status"]["version"] == "0.1.0"
                && matches!(
                    v["status"]["state"].as_str(),
                    Some("Upgraded" | "UpgradeFailed")
                )
                && v["status"]["clusterSchedulingStatuses"]
                    .as_object()
                    .is_none_or(|m| m.is_empty())
        })
        .await;
    assert_eq!(p["status"]["state"], "Upgraded", "{p:#}");
    assert_eq!(host_backend_release(x).await.as_deref(), Some("hello"));
    let env = backend_env(&x.host).await;
    assert_eq!(env["VERSION"], "0.1.0");
    assert_eq!(env["GREETING"], "Bonjour", "the config is kept");

    x.uninstall().await;
    assert_eq!(labelled(&x.host, true).await, Vec::<String>::new());
    assert_eq!(labelled(&x.member, false).await, Vec::<String>::new());
}

/// The plans' Events: each state change with its reason, failures as Warnings saying why.
async fn events_tell_each_step(x: &Scenario<'_>) {
    let api: Api<DynamicObject> = Api::namespaced_with(
        x.host.clone(),
        "kubesphere-system",
        &crate::common::api_resource("", "v1", "Event", "events"),
    );
    let events: Vec<(String, String, String)> = api
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .map(|e| serde_json::to_value(e).expect("json"))
        .filter(|e| {
            e["involvedObject"]["kind"] == "InstallPlan" && e["involvedObject"]["name"] == "hello"
        })
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("type"), s("reason"), s("message"))
        })
        .collect();
    let has = |kind: &str, reason: &str, says: &str| {
        events
            .iter()
            .any(|(t, r, m)| t == kind && r == reason && m.contains(says))
    };
    assert!(
        has("Warning", "InstallFailed", "InvalidConfig: spec.config"),
        "{events:#?}"
    );
    assert!(has("Normal", "Installed", "installed 0.1.0"), "{events:#?}");
    assert!(
        has("Warning", "InstallFailed", "agent in cluster m1"),
        "{events:#?}"
    );
    assert!(
        has("Normal", "Installed", "agent in cluster m1"),
        "{events:#?}"
    );
    assert!(
        has("Normal", "Upgraded", "upgraded to 0.2.0"),
        "{events:#?}"
    );
    assert!(has("Normal", "Uninstalling", ""), "{events:#?}");
    assert!(has("Normal", "Uninstalled", ""), "{events:#?}");
}
