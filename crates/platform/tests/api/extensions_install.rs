//! Extension installs (issue 14): an InstallPlan makes an ExtensionVersion a Helm release in
//! `extension-<name>`, made as a ServiceAccount bound to exactly the package's
//! `permissions.yaml`. The packages are served by the test over HTTPS with its own CA and basic
//! auth (a `Repository` names it), or held in ConfigMaps (`chartDataRef`). Install, reconfigure,
//! upgrade (by hand, then `Automatic`), disable, enable and uninstall; an install the permissions refuse, retried after a
//! fix; one retried by the annotation; one uninstalled from `InstallFailed`; bad packages
//! refused with nothing installed; every object of a release labelled with its extension, and
//! none left after an uninstall.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const MARKET: &str = "/apis/kubesphere.io/v1alpha1";
const REF: &str = "kubesphere.io/extension-ref";
const REGISTRY: &str = "registry.example";

const PERMISSIONS: &str = "kind: ClusterRole
rules:
  - apiGroups: [extensions.kubesphere.io]
    resources: ['*']
    verbs: ['*']
---
kind: Role
rules:
  - apiGroups: ['', apps]
    resources: ['*']
    verbs: ['*']
";

/// The hello extension's package at `version`: a ConfigMap showing its values (and, with
/// `forbidden: true`, one in `default`, which its permissions do not allow), a `frontend`
/// subchart (tag `extension`) with a JSBundle and a `backend` subchart (tag `agent`) with a
/// Deployment and a Service.
fn hello(name: &str, version: &str) -> Vec<u8> {
    let chart = format!(
        "apiVersion: v2\nname: {name}\nversion: {version}\ndependencies:\n  - name: frontend\n    version: {version}\n    tags: [extension]\n  - name: backend\n    version: {version}\n    tags: [agent]\n"
    );
    let ext = format!(
        "apiVersion: v1\nname: {name}\nversion: {version}\ndisplayName: {{en: Hello, zh: 你好}}\ninstallationMode: HostOnly\n"
    );
    let config = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: hello-config
data:
  greeting: {{ .Values.greeting | quote }}
  version: {{ .Chart.Version | quote }}
  cluster: {{ .Values.global.clusterInfo.name | quote }}
  role: {{ .Values.global.clusterInfo.role | quote }}
  portal: {{ .Values.global.portal.url | quote }}
  registry: {{ .Values.global.imageRegistry | quote }}
{{- if .Values.forbidden }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: hello-escape
  namespace: default
data: {}
{{- end }}
"#;
    let sub = |n: &str| format!("apiVersion: v2\nname: {n}\nversion: {version}\n");
    let bundle = format!(
        "apiVersion: extensions.kubesphere.io/v1alpha1\nkind: JSBundle\nmetadata:\n  name: {name}\nspec:\n  raw: {}\n",
        B64.encode("export default {}")
    );
    let backend = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}-backend
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}-backend}}
  template:
    metadata:
      labels: {{app: {name}-backend}}
    spec:
      containers:
        - name: backend
          image: "{{{{ .Values.global.imageRegistry }}}}/hello:{version}"
---
apiVersion: v1
kind: Service
metadata:
  name: {name}-backend
spec:
  selector: {{app: {name}-backend}}
  ports:
    - port: 80
"#
    );
    let (fe, be) = (sub("frontend"), sub("backend"));
    helm::chart::package_files(
        name,
        &[
            ("Chart.yaml", chart.as_bytes()),
            ("extension.yaml", ext.as_bytes()),
            ("permissions.yaml", PERMISSIONS.as_bytes()),
            ("values.yaml", b"greeting: hello\nforbidden: false\n"),
            ("templates/config.yaml", config.as_bytes()),
            ("charts/frontend/Chart.yaml", fe.as_bytes()),
            ("charts/frontend/templates/bundle.yaml", bundle.as_bytes()),
            ("charts/backend/Chart.yaml", be.as_bytes()),
            ("charts/backend/templates/backend.yaml", backend.as_bytes()),
        ],
    )
}

fn market(kind: &str, plural: &str) -> ApiResource {
    crate::common::api_resource("kubesphere.io", "v1alpha1", kind, plural)
}

/// Creates a cluster-scoped object as the cluster's admin.
async fn create(kube: &kube::Client, r: &ApiResource, body: Value) {
    let api: Api<DynamicObject> = Api::all_with(kube.clone(), r);
    let obj: DynamicObject = serde_json::from_value(body).expect("object");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create");
}

/// An ExtensionVersion `<ext>-<version>` (labelled as a sync labels it) with `source` as its
/// chart (`chartURL`/`repository`, or `chartDataRef`).
fn extension_version(ext: &str, version: &str, source: Value) -> Value {
    let mut spec = json!({"version": version, "installationMode": "HostOnly",
        "displayName": {"en": "Hello"}});
    for (k, v) in source.as_object().expect("source") {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "ExtensionVersion",
        "metadata": {"name": format!("{ext}-{version}"), "labels": {REF: ext}},
        "spec": spec})
}

/// Keeps `package` in ConfigMap `kubesphere-system/<name>` and makes ExtensionVersion
/// `<ext>-<version>` of it.
async fn local_version(kube: &kube::Client, ext: &str, version: &str, package: &[u8]) {
    let cm_name = format!("{ext}-{version}-chart");
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(kube.clone(), "kubesphere-system");
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": cm_name},
        "binaryData": {"chart.tgz": B64.encode(package)},
    }))
    .expect("configmap");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("chart configmap");
    create(
        kube,
        &market("ExtensionVersion", "extensionversions"),
        extension_version(
            ext,
            version,
            json!({"chartDataRef": {"namespace": "kubesphere-system", "name": cm_name, "key": "chart.tgz"}}),
        ),
    )
    .await;
}

fn plan_path(name: &str) -> String {
    format!("{MARKET}/installplans/{name}")
}

async fn plan(c: &Client, token: &str, name: &str, spec: Value) {
    c.ok(
        Method::POST,
        &format!("{MARKET}/installplans"),
        token,
        Some(
            json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
            "metadata": {"name": name}, "spec": spec}),
        ),
    )
    .await;
}

/// Waits (90 s at most: installs run in a debug build on a loaded machine) until the plan
/// satisfies `check`; panics with the plan as it last was.
async fn wait_plan(
    c: &Client,
    token: &str,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (s, v) = c.get(&plan_path(name), token).await;
        if s == StatusCode::OK && check(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s} {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `state`; a success state also for `observedGeneration` to reach
/// `generation_at_least` (the spec change it answers).
async fn wait_state(
    c: &Client,
    token: &str,
    name: &str,
    state: &str,
    generation_at_least: i64,
) -> Value {
    wait_plan(c, token, name, state, |v| {
        let observed = v["status"]["observedGeneration"].as_i64().unwrap_or(0);
        v["status"]["state"] == state
            && (state.ends_with("Failed") || observed >= generation_at_least)
    })
    .await
}

/// Waits until the plan is gone.
async fn wait_gone(c: &Client, token: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (s, v) = c.get(&plan_path(name), token).await;
        if s == StatusCode::NOT_FOUND {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "InstallPlan {name} was not removed: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every object labelled with extension `ext`, as `Kind namespace/name`, across the kinds a
/// release or the installer makes.
async fn labelled(kube: &kube::Client, ext: &str) -> Vec<String> {
    let kinds = [
        crate::common::api_resource("", "v1", "ConfigMap", "configmaps"),
        crate::common::api_resource("", "v1", "Service", "services"),
        crate::common::api_resource("", "v1", "ServiceAccount", "serviceaccounts"),
        crate::common::api_resource("", "v1", "Namespace", "namespaces"),
        crate::common::api_resource("", "v1", "Secret", "secrets"),
        crate::common::api_resource("apps", "v1", "Deployment", "deployments"),
        crate::common::api_resource(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
        ),
        crate::common::api_resource(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        ),
        crate::common::api_resource("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        crate::common::api_resource(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        ),
        crate::common::api_resource(
            "extensions.kubesphere.io",
            "v1alpha1",
            "JSBundle",
            "jsbundles",
        ),
        crate::common::api_resource(
            "extensions.kubesphere.io",
            "v1alpha1",
            "APIService",
            "apiservices",
        ),
    ];
    crate::common::labelled_objects(kube, &kinds, &format!("{REF}={ext}")).await
}

async fn config_map(kube: &kube::Client, ns: &str, name: &str) -> Option<Value> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(kube.clone(), ns);
    api.get_opt(name)
        .await
        .expect("get")
        .map(|c| serde_json::to_value(c).expect("json"))
}

fn states(plan: &Value) -> Vec<String> {
    plan["status"]["stateHistory"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["state"].as_str().map(String::from))
        .collect()
}

fn condition<'a>(plan: &'a Value, kind: &str) -> &'a Value {
    plan["status"]["conditions"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

fn generation(plan: &Value) -> i64 {
    plan["metadata"]["generation"].as_i64().unwrap_or(0)
}

/// Serves hello 1.0.0 and 1.1.0 over HTTPS with basic auth, and makes the Repository naming
/// it, the Extension and the two ExtensionVersions (relative `chartURL`s).
async fn market_with_hello(kube: &kube::Client) {
    let mut files = HashMap::new();
    for v in ["1.0.0", "1.1.0"] {
        files.insert(format!("/charts/hello-{v}.tgz"), hello("hello", v));
    }
    let (addr, ca) = crate::repos::repo_server(files).await;
    create(
        kube,
        &market("Repository", "repositories"),
        json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "Repository",
            "metadata": {"name": "market"},
            "spec": {"url": format!("https://{addr}/charts"), "caBundle": B64.encode(ca),
                "basicAuth": {"username": "repo-reader", "password": crate::repos::PASSWORD}}}),
    )
    .await;
    create(
        kube,
        &market("Extension", "extensions"),
        json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "Extension",
            "metadata": {"name": "hello"}, "spec": {"displayName": {"en": "Hello"}}}),
    )
    .await;
    for v in ["1.0.0", "1.1.0"] {
        create(
            kube,
            &market("ExtensionVersion", "extensionversions"),
            extension_version(
                "hello",
                v,
                json!({"repository": "market", "chartURL": format!("hello-{v}.tgz")}),
            ),
        )
        .await;
    }
}

async fn extension_status(kube: &kube::Client) -> Value {
    let api: Api<DynamicObject> = Api::all_with(kube.clone(), &market("Extension", "extensions"));
    serde_json::to_value(api.get("hello").await.expect("extension")).expect("json")["status"]
        .clone()
}

/// What the steps of the install-to-uninstall test share.
struct Installing<'a> {
    env: &'a Env,
    c: &'a Client,
    admin: String,
    kube: kube::Client,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_installs_upgrades_reconfigures_disables_and_uninstalls() {
    let env = Env::start_with(|c| c.image_registry = Some(REGISTRY.into())).await;
    let t = Installing {
        env: &env,
        c: &env.http,
        admin: env.admin().await,
        kube: env.kube().await,
    };
    market_with_hello(&t.kube).await;

    installed(&t).await;
    values_labels_and_installer_role(&t).await;
    reconfigured_then_upgraded(&t).await;
    let p = follows_the_newest_when_automatic(&t).await;
    disabled_then_enabled(&t, &p).await;

    // Uninstall: nothing labelled stays, and the Extension is no longer installed.
    let (c, admin, kube) = (t.c, t.admin.as_str(), &t.kube);
    c.ok(Method::DELETE, &plan_path("hello"), admin, None).await;
    wait_gone(c, admin, "hello").await;
    assert_eq!(labelled(kube, "hello").await, Vec::<String>::new());
    let ext = extension_status(kube).await;
    assert!(
        ext["state"].is_null() && ext["installedVersion"].is_null(),
        "{ext}"
    );
}

/// The plan for hello 1.0.0 installs it into `extension-hello`, through its states.
async fn installed(t: &Installing<'_>) {
    let (c, admin) = (t.c, t.admin.as_str());
    plan(
        c,
        admin,
        "hello",
        json!({"extension": {"name": "hello", "version": "1.0.0"}, "enabled": true,
            "upgradeStrategy": "Manual", "config": "greeting: hi\n"}),
    )
    .await;
    let p = wait_state(c, admin, "hello", "Installed", 1).await;
    assert_eq!(p["status"]["targetNamespace"], "extension-hello", "{p:#}");
    assert_eq!(p["status"]["releaseName"], "hello");
    assert_eq!(p["status"]["version"], "1.0.0");
    let seen = states(&p);
    for s in ["Preparing", "Installing", "Installed"] {
        assert!(seen.iter().any(|x| x == s), "{seen:?}");
    }
    assert_eq!(condition(&p, "Installed")["status"], "True", "{p:#}");
}

/// The values the platform gives, the labels on every object, the installer's role and the
/// Extension's status after the install.
async fn values_labels_and_installer_role(t: &Installing<'_>) {
    let kube = &t.kube;
    let cm = config_map(kube, "extension-hello", "hello-config")
        .await
        .expect("the release's ConfigMap");
    assert_eq!(cm["data"]["greeting"], "hi");
    assert_eq!(cm["data"]["version"], "1.0.0");
    assert_eq!(cm["data"]["cluster"], "host");
    assert_eq!(cm["data"]["role"], "host");
    // The platform's public URL (https when it serves TLS too).
    let addr = t
        .env
        .platform
        .url()
        .trim_start_matches("http://")
        .to_string();
    let portal = cm["data"]["portal"].as_str().unwrap_or_default();
    assert!(
        portal.starts_with("http") && portal.ends_with(&addr),
        "{portal}"
    );
    assert_eq!(cm["data"]["registry"], REGISTRY);
    let objects = labelled(kube, "hello").await;
    for want in [
        "ConfigMap extension-hello/hello-config",
        "JSBundle /hello",
        "Deployment extension-hello/hello-backend",
        "Service extension-hello/hello-backend",
        "Namespace /extension-hello",
        "ServiceAccount extension-hello/hello-installer",
        "ClusterRole /orrery:extension-installer:hello",
    ] {
        assert!(objects.iter().any(|o| o == want), "{want} in {objects:#?}");
    }
    // The installer holds exactly what permissions.yaml declares cluster-wide.
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(kube.clone());
    let role = roles
        .get("orrery:extension-installer:hello")
        .await
        .expect("installer role");
    let rules = serde_json::to_value(role.rules).expect("rules");
    assert_eq!(
        rules,
        json!([{"apiGroups": ["extensions.kubesphere.io"], "resources": ["*"], "verbs": ["*"]}])
    );
    let ext = extension_status(kube).await;
    assert_eq!(
        (ext["state"].as_str(), ext["installedVersion"].as_str()),
        (Some("Installed"), Some("1.0.0")),
        "{ext}"
    );
}

/// A new config is an upgrade with the new values; then an upgrade to 1.1.0 keeps them.
async fn reconfigured_then_upgraded(t: &Installing<'_>) {
    let (c, admin, kube) = (t.c, t.admin.as_str(), &t.kube);
    // Reconfigure: a new config is an upgrade with the new values.
    c.merge_patch(
        &plan_path("hello"),
        admin,
        json!({"spec": {"config": "greeting: bonjour\n"}}),
    )
    .await;
    let p = wait_state(c, admin, "hello", "Upgraded", 2).await;
    assert!(states(&p).iter().any(|s| s == "Upgrading"), "{p:#}");
    let cm = config_map(kube, "extension-hello", "hello-config")
        .await
        .expect("cm");
    assert_eq!(cm["data"]["greeting"], "bonjour");

    // Upgrade to 1.1.0.
    c.merge_patch(
        &plan_path("hello"),
        admin,
        json!({"spec": {"extension": {"version": "1.1.0"}}}),
    )
    .await;
    let p = wait_state(c, admin, "hello", "Upgraded", generation(&p) + 1).await;
    assert_eq!(p["status"]["version"], "1.1.0", "{p:#}");
    let cm = config_map(kube, "extension-hello", "hello-config")
        .await
        .expect("cm");
    assert_eq!(cm["data"]["version"], "1.1.0");
    assert_eq!(cm["data"]["greeting"], "bonjour");
    eventually("the Extension shows 1.1.0", || async {
        extension_status(kube).await["installedVersion"] == "1.1.0"
    })
    .await;
}

/// Automatic: the plan follows the newest version there is (a local 1.2.0). The plan after.
async fn follows_the_newest_when_automatic(t: &Installing<'_>) -> Value {
    let (c, admin, kube) = (t.c, t.admin.as_str(), &t.kube);
    local_version(kube, "hello", "1.2.0", &hello("hello", "1.2.0")).await;
    c.merge_patch(
        &plan_path("hello"),
        admin,
        json!({"spec": {"upgradeStrategy": "Automatic"}}),
    )
    .await;
    let p = wait_plan(c, admin, "hello", "the automatic upgrade to 1.2.0", |v| {
        v["status"]["state"] == "Upgraded" && v["status"]["version"] == "1.2.0"
    })
    .await;
    assert_eq!(p["spec"]["extension"]["version"], "1.2.0", "{p:#}");
    let cm = config_map(kube, "extension-hello", "hello-config")
        .await
        .expect("cm");
    assert_eq!(cm["data"]["version"], "1.2.0");
    p
}

/// Disable: the frontend and the routes go, the backend and the plan stay; enable: back again.
/// `p` is the plan before.
async fn disabled_then_enabled(t: &Installing<'_>, p: &Value) {
    let (c, admin, kube) = (t.c, t.admin.as_str(), &t.kube);
    c.merge_patch(
        &plan_path("hello"),
        admin,
        json!({"spec": {"enabled": false}}),
    )
    .await;
    let p = wait_state(c, admin, "hello", "Upgraded", generation(p) + 1).await;
    assert_eq!(condition(&p, "Enabled")["status"], "False", "{p:#}");
    let objects = labelled(kube, "hello").await;
    assert!(
        !objects.iter().any(|o| o.starts_with("JSBundle")),
        "{objects:#?}"
    );
    assert!(
        objects
            .iter()
            .any(|o| o == "Deployment extension-hello/hello-backend")
    );
    assert!(
        objects
            .iter()
            .any(|o| o == "ConfigMap extension-hello/hello-config")
    );
    // Enable: back again.
    c.merge_patch(
        &plan_path("hello"),
        admin,
        json!({"spec": {"enabled": true}}),
    )
    .await;
    let p = wait_state(c, admin, "hello", "Upgraded", generation(&p) + 1).await;
    assert_eq!(condition(&p, "Enabled")["status"], "True", "{p:#}");
    assert!(
        labelled(kube, "hello")
            .await
            .iter()
            .any(|o| o == "JSBundle /hello")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_installs_are_retried_or_uninstalled_and_leave_nothing() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let kube = env.kube().await;
    market_with_hello(&kube).await;

    // The chart asks for an object its permissions do not allow: the cluster's RBAC refuses
    // the installer, and the install fails saying so.
    plan(
        c,
        &admin,
        "hello",
        json!({"extension": {"name": "hello", "version": "1.0.0"}, "config": "forbidden: true\n"}),
    )
    .await;
    let p = wait_state(c, &admin, "hello", "InstallFailed", 0).await;
    let why = condition(&p, "Installed")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(why.contains("forbidden"), "{p:#}");
    assert!(
        why.contains("system:serviceaccount:extension-hello:hello-installer"),
        "{why}"
    );
    assert!(config_map(&kube, "default", "hello-escape").await.is_none());
    // Fixed: installed.
    c.merge_patch(
        &plan_path("hello"),
        &admin,
        json!({"spec": {"config": "forbidden: false\n"}}),
    )
    .await;
    wait_state(c, &admin, "hello", "Installed", 0).await;
    c.ok(Method::DELETE, &plan_path("hello"), &admin, None)
        .await;
    wait_gone(c, &admin, "hello").await;
    assert_eq!(labelled(&kube, "hello").await, Vec::<String>::new());

    // A version that does not exist yet: failed until it does and the retry annotation asks.
    plan(
        c,
        &admin,
        "hello",
        json!({"extension": {"name": "hello", "version": "2.0.0"}}),
    )
    .await;
    let p = wait_state(c, &admin, "hello", "InstallFailed", 0).await;
    let why = condition(&p, "Installed")["message"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("hello-2.0.0 does not exist"), "{p:#}");
    local_version(&kube, "hello", "2.0.0", &hello("hello", "2.0.0")).await;
    c.merge_patch(
        &plan_path("hello"),
        &admin,
        json!({"metadata": {"annotations": {"extensions.orrery.io/retry": "1"}}}),
    )
    .await;
    let p = wait_state(c, &admin, "hello", "Installed", 0).await;
    assert_eq!(p["status"]["version"], "2.0.0");

    // Failed again (a new config the RBAC refuses), then uninstalled from UpgradeFailed…
    c.merge_patch(
        &plan_path("hello"),
        &admin,
        json!({"spec": {"config": "forbidden: true\n"}}),
    )
    .await;
    wait_state(c, &admin, "hello", "UpgradeFailed", 0).await;
    c.ok(Method::DELETE, &plan_path("hello"), &admin, None)
        .await;
    wait_gone(c, &admin, "hello").await;
    assert_eq!(labelled(&kube, "hello").await, Vec::<String>::new());

    // …and one uninstalled straight from InstallFailed.
    plan(
        c,
        &admin,
        "hello",
        json!({"extension": {"name": "hello", "version": "1.1.0"}, "config": "forbidden: true\n"}),
    )
    .await;
    let p = wait_state(c, &admin, "hello", "InstallFailed", 0).await;
    assert!(states(&p).iter().any(|s| s == "Installing"), "{p:#}");
    c.ok(Method::DELETE, &plan_path("hello"), &admin, None)
        .await;
    wait_gone(c, &admin, "hello").await;
    assert_eq!(labelled(&kube, "hello").await, Vec::<String>::new());
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::all(kube.clone());
    let releases = secrets
        .list(&ListParams::default().labels("owner=helm,name=hello"))
        .await
        .expect("secrets");
    assert!(releases.items.is_empty(), "Helm release records left");
}

/// A package whose archive holds `../../escaped.txt` (the tar crate refuses to write such a
/// path, so the header is written by hand).
fn escaping_package() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let files: [(&str, &[u8]); 4] = [
        (
            "escape/Chart.yaml",
            b"apiVersion: v2\nname: escape\nversion: 1.0.0\n",
        ),
        ("escape/extension.yaml", b"name: escape\nversion: 1.0.0\n"),
        ("escape/permissions.yaml", PERMISSIONS.as_bytes()),
        ("escape/../../escaped.txt", b"out of the chart"),
    ];
    for (name, data) in files {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, data).expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packages_are_refused_with_a_reason_and_nothing_installed() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let kube = env.kube().await;
    let chart = |name: &str| format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n");
    let ext = |name: &str| format!("name: {name}\nversion: 1.0.0\n");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "noext",
            helm::chart::package_files(
                "noext",
                &[
                    ("Chart.yaml", chart("noext").as_bytes()),
                    ("permissions.yaml", PERMISSIONS.as_bytes()),
                    ("templates/cm.yaml", cm.as_bytes()),
                ],
            ),
            "no extension.yaml",
        ),
        (
            "badname",
            helm::chart::package_files(
                "badname",
                &[
                    ("Chart.yaml", chart("badname").as_bytes()),
                    ("extension.yaml", b"name: Bad_Name\nversion: 1.0.0\n"),
                    ("permissions.yaml", PERMISSIONS.as_bytes()),
                    ("templates/cm.yaml", cm.as_bytes()),
                ],
            ),
            "is invalid",
        ),
        (
            "greedy",
            helm::chart::package_files(
                "greedy",
                &[
                    ("Chart.yaml", chart("greedy").as_bytes()),
                    ("extension.yaml", ext("greedy").as_bytes()),
                    (
                        "permissions.yaml",
                        b"kind: ClusterRole\nrules:\n  - {apiGroups: [''], resources: [secrets], verbs: [get, list]}\n",
                    ),
                    ("templates/cm.yaml", cm.as_bytes()),
                ],
            ),
            "more than the installer may grant",
        ),
        ("escape", escaping_package(), "not a chart Helm can load"),
        (
            "broken",
            helm::chart::package_files(
                "broken",
                &[
                    ("Chart.yaml", chart("broken").as_bytes()),
                    ("extension.yaml", ext("broken").as_bytes()),
                    ("permissions.yaml", PERMISSIONS.as_bytes()),
                    ("templates/cm.yaml", cm.as_bytes()),
                    ("templates/broken.yaml", b"{{ include \"nowhere\" . }}\n"),
                ],
            ),
            "does not render",
        ),
    ];
    for (name, package, _) in &cases {
        local_version(&kube, name, "1.0.0", package).await;
        plan(
            c,
            &admin,
            name,
            json!({"extension": {"name": name, "version": "1.0.0"}}),
        )
        .await;
    }
    for (name, _, want) in &cases {
        let p = wait_state(c, &admin, name, "InstallFailed", 0).await;
        let cond = condition(&p, "Installed");
        assert_eq!(cond["reason"], "InvalidPackage", "{name}: {p:#}");
        let why = cond["message"].as_str().unwrap_or_default();
        assert!(why.contains(want), "{name}: {want:?} not in {why:?}");
        assert!(
            !states(&p).iter().any(|s| s == "Installing"),
            "{name}: {p:#}"
        );
        assert!(p["status"]["targetNamespace"].is_null(), "{name}: {p:#}");
        assert_eq!(labelled(&kube, name).await, Vec::<String>::new(), "{name}");
        let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(kube.clone());
        assert!(
            ns.get_opt(&format!("extension-{name}"))
                .await
                .expect("ns")
                .is_none(),
            "{name}: namespace made"
        );
    }
    for (name, _, _) in &cases {
        c.ok(Method::DELETE, &plan_path(name), &admin, None).await;
        wait_gone(c, &admin, name).await;
    }
}

/// The repository's example extension (`examples/extensions/hello`, two versions served over
/// HTTPS and synced by the Repository controller): installed with its backend placed on the
/// host (`Multicluster`, so as release `hello-agent`), upgraded, and uninstalled with nothing
/// labelled left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_extension_from_a_synced_repository_installs_upgrades_and_uninstalls() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let kube = env.kube().await;
    let (_files, url, ca) = crate::extensions_repository::serve_hello().await;
    c.ok(
        Method::POST,
        &format!("{MARKET}/repositories"),
        &admin,
        Some(crate::extensions_repository::repository(
            "market",
            &url,
            &ca,
            crate::repos::PASSWORD,
        )),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(90);
    for v in ["0.1.0", "0.2.0"] {
        loop {
            let (s, _) = c
                .get(&format!("{MARKET}/extensionversions/hello-{v}"), &admin)
                .await;
            if s == StatusCode::OK {
                break;
            }
            assert!(Instant::now() < deadline, "hello-{v} was not synced");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    plan(
        c,
        &admin,
        "hello",
        json!({"extension": {"name": "hello", "version": "0.1.0"},
            "clusterScheduling": {"placement": {"clusters": ["host"]}}}),
    )
    .await;
    let p = wait_plan(
        c,
        &admin,
        "hello",
        "the example installed with its agent",
        |v| {
            v["status"]["state"] == "Installed"
                && v["status"]["clusterSchedulingStatuses"]["host"]["state"] == "Installed"
        },
    )
    .await;
    assert_eq!(
        p["status"]["clusterSchedulingStatuses"]["host"]["releaseName"], "hello-agent",
        "{p:#}"
    );
    let objects = labelled(&kube, "hello").await;
    assert!(
        objects.iter().any(|o| o.starts_with("JSBundle ")),
        "{objects:#?}"
    );
    assert!(
        objects.iter().any(|o| o.starts_with("APIService ")),
        "{objects:#?}"
    );
    assert!(
        objects
            .iter()
            .any(|o| o.starts_with("Deployment extension-hello/")),
        "{objects:#?}"
    );

    c.merge_patch(
        &plan_path("hello"),
        &admin,
        json!({"spec": {"extension": {"version": "0.2.0"}}}),
    )
    .await;
    wait_plan(c, &admin, "hello", "the example upgraded", |v| {
        v["status"]["state"] == "Upgraded"
            && v["status"]["version"] == "0.2.0"
            && v["status"]["clusterSchedulingStatuses"]["host"]["version"] == "0.2.0"
    })
    .await;

    c.ok(Method::DELETE, &plan_path("hello"), &admin, None)
        .await;
    wait_gone(c, &admin, "hello").await;
    assert_eq!(labelled(&kube, "hello").await, Vec::<String>::new());
}
