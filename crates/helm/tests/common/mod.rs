//! An in-process embedded cluster (with the simulation) for the release tests, charts written
//! into temp dirs, the reference Helm (helm-python-sdk) driven through
//! `scripts/helm-reference/releases.py`, and readers of what is stored.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

/// A running API server plus simulation; stops both on drop.
pub struct Cluster {
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    shutdown: CancellationToken,
    _cluster: apiserver::RunningCluster,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    /// Starts an API server on a free loopback port with simulated time 20× faster.
    pub async fn start() -> Cluster {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cc = apiserver::ClusterConfig::new(tmp.path());
        cc.listen = "127.0.0.1:0".parse().expect("addr");
        cc.durable = false;
        cc.seed = Some(7);
        cc.data_plane = Some(std::sync::Arc::new(sim::SimDataPlane { time_scale: 20.0 }));
        let cluster = apiserver::start(cc).await.expect("start apiserver");
        let kubeconfig = cluster.kubeconfig_path.clone();
        let (client, _) = helm::action::connect(Some(&kubeconfig))
            .await
            .expect("client");
        let shutdown = CancellationToken::new();
        let config = sim::SimConfig {
            time_scale: 20.0,
            seed: Some(7),
            ..Default::default()
        };
        let (c, s) = (client.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = sim::run(c, config, s).await {
                panic!("sim stopped: {e}");
            }
        });
        Cluster {
            client,
            kubeconfig,
            shutdown,
            _cluster: cluster,
            _tmp: tmp,
        }
    }

    /// A fresh `Resources` (discovery runs again, as each `helm` command does).
    pub fn resources(&self) -> helm::action::Resources {
        helm::action::Resources::new(self.client.clone())
    }

    /// The live object `kind/name` in `default` (`None` when absent).
    pub async fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Json> {
        let (g, v) = api_version.split_once('/').unwrap_or(("", api_version));
        let plural = format!("{}s", kind.to_ascii_lowercase());
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, kind), &plural);
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), "default", &ar);
        let o = api.get_opt(name).await.expect("get");
        o.map(|o| serde_json::to_value(o).expect("json"))
    }

    /// A ConfigMap's `data` (`None` when the ConfigMap is absent).
    pub async fn config_data(&self, name: &str) -> Option<Json> {
        self.get("v1", "ConfigMap", name)
            .await
            .map(|o| o.get("data").cloned().unwrap_or(Json::Null))
    }

    /// The Secret holding revision `version` of `name`, and the release JSON decoded from it.
    pub async fn stored(&self, name: &str, version: i64) -> Option<(Secret, Json)> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), "default");
        let s = api
            .get_opt(&format!("sh.helm.release.v1.{name}.v{version}"))
            .await
            .expect("get secret")?;
        let data = s.data.as_ref()?.get("release")?;
        let text = std::str::from_utf8(&data.0).expect("utf-8");
        let rel = helm::release::record::decode(text).expect("decode release");
        Some((s, rel))
    }

    /// Runs the reference Helm: `releases.py KUBECONFIG default ARGS…`.
    pub async fn real_helm(&self, args: &[&str]) -> Json {
        let out = tokio::process::Command::new(reference_helm())
            .arg(repo_root().join("scripts/helm-reference/releases.py"))
            .arg(&self.kubeconfig)
            .arg("default")
            .args(args)
            .output()
            .await
            .expect("run reference helm");
        assert!(
            out.status.success(),
            "releases.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("releases.py prints JSON")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Polls `check` until it returns `Some`, failing after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's `bin/helm` (its python under the name Helm's field manager is derived from),
/// after running the idempotent `setup.sh` once per test process.
pub fn reference_helm() -> PathBuf {
    static HELM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HELM.get_or_init(setup_reference).clone()
}

fn setup_reference() -> PathBuf {
    let out = std::process::Command::new("bash")
        .arg(repo_root().join("scripts/helm-reference/setup.sh"))
        .output()
        .expect("run setup.sh");
    assert!(
        out.status.success(),
        "setup.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| PathBuf::from(l.trim()))
        .expect("setup.sh prints the python path");
    py.with_file_name("helm")
}

/// Writes a chart (`(path, text)` files) under `dir/name` and returns its path.
pub fn write_chart(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join(name);
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write chart file");
    }
    root
}

/// Loads a chart directory.
pub fn load(path: &Path) -> helm::chart::Chart {
    helm::chart::load(path, &helm::chart::LoadLimits::default()).expect("load chart")
}

/// Values from YAML text.
pub fn values(yaml: &str) -> helm::values::Map {
    helm::yaml::parse_map(yaml).expect("values")
}

/// Install options for `name` in `default` with `yaml` values.
pub fn options(name: &str, yaml: &str) -> helm::action::InstallOptions {
    let mut o = helm::action::InstallOptions::new(name, "default");
    o.values = values(yaml);
    o.timeout = Duration::from_secs(60);
    o
}

/// A stored release without what differs between two installs: times (and Go's file
/// modification times, which Helm records and Orrery leaves out).
pub fn comparable(mut rel: Json) -> Json {
    fn strip(j: &mut Json) {
        match j {
            Json::Object(m) => {
                for k in [
                    "modtime",
                    "first_deployed",
                    "last_deployed",
                    "started_at",
                    "completed_at",
                ] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Json::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut rel);
    rel
}

/// `/info/status` of a release JSON.
pub fn status(rel: &Json) -> &str {
    rel.pointer("/info/status")
        .and_then(Json::as_str)
        .unwrap_or_default()
}

/// The statuses of a list of releases, in order.
pub fn statuses(rels: &[Json]) -> Vec<String> {
    rels.iter().map(|r| status(r).to_string()).collect()
}

/// A small chart: a ConfigMap built from the values (an optional key), a Deployment, and a
/// second ConfigMap when `second` is set.
pub const WEB_CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    ),
    (
        "values.yaml",
        "greeting: hello\nreplicas: 1\nimage: nginx:1.27\nextra: \"\"\n",
    ),
    (
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  revision: {{ .Release.Revision | quote }}\n  {{- with .Values.extra }}\n  extra: {{ . | quote }}\n  {{- end }}\n",
    ),
    (
        "templates/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels: {app: {{ .Release.Name }}-web}\n  template:\n    metadata:\n      labels: {app: {{ .Release.Name }}-web}\n    spec:\n      containers:\n      - name: web\n        image: {{ .Values.image }}\n",
    ),
    (
        "templates/second.yaml",
        "{{- if .Values.second }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-second\ndata: {}\n{{- end }}\n",
    ),
    (
        "templates/NOTES.txt",
        "{{ .Release.Name }} says {{ .Values.greeting }}.\n",
    ),
];
