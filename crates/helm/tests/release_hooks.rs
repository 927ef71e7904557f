//! Release hooks (weights, delete policies, failures), `--wait` with a timeout, and
//! client-side three-way merge, against the embedded cluster with its simulated pods.

mod common;

use std::time::Duration;

use common::{Cluster, WEB_CHART, load, options, status, write_chart};
use helm::action::ActionError;
use serde_json::{Value as Json, json};

/// A chart with a pre-install/pre-upgrade Job (weight -5) and ConfigMap (weight 5, default
/// policy), a post-install ConfigMap deleted once it succeeded, and a pre-delete ConfigMap.
const HOOKED_CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: hooked\nversion: 0.2.0\n",
    ),
    (
        "values.yaml",
        "jobExitCode: \"0\"\njobPolicy: before-hook-creation,hook-succeeded\n",
    ),
    (
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-main\ndata:\n  revision: {{ .Release.Revision | quote }}\n",
    ),
    (
        "templates/hooks.yaml",
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-5"
    "helm.sh/hook-delete-policy": {{ .Values.jobPolicy }}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        sim.orrery.io/exit-code: {{ .Values.jobExitCode | quote }}
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-pre
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "5"
data:
  revision: {{ .Release.Revision | quote }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-post
  annotations:
    "helm.sh/hook": post-install
    "helm.sh/hook-delete-policy": hook-succeeded
data: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-delete
  annotations:
    "helm.sh/hook": pre-delete
data:
  by: pre-delete
"#,
    ),
];

fn hook<'a>(rel: &'a Json, name: &str) -> &'a Json {
    rel["hooks"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["name"] == name))
        .unwrap_or_else(|| panic!("hook {name} in {rel}"))
}

fn started(rel: &Json, name: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let t = hook(rel, name)["last_run"]["started_at"]
        .as_str()
        .unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("{name} started_at {t:?}: {e}"))
}

fn uid(o: &Option<Json>) -> Json {
    o.as_ref()
        .map(|o| o["metadata"]["uid"].clone())
        .unwrap_or(Json::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_in_weight_order_with_their_delete_policies() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = load(&write_chart(dir.path(), "hooked", HOOKED_CHART));

    let mut res = c.resources();
    let rel = helm::action::install(&mut res, &chart, &options("hk", ""))
        .await
        .expect("install with hooks");
    assert_eq!(status(&rel), "deployed");
    // The Job ran to completion (the stored run says so) and, being hook-succeeded, is gone.
    assert_eq!(hook(&rel, "hk-migrate")["last_run"]["phase"], "Succeeded");
    assert!(c.get("batch/v1", "Job", "hk-migrate").await.is_none());
    // The weight-5 ConfigMap got the default policy when it ran (stored, as Helm does) and stays.
    assert_eq!(
        hook(&rel, "hk-pre")["delete_policies"],
        json!(["before-hook-creation"])
    );
    assert_eq!(
        c.config_data("hk-pre").await,
        Some(json!({"revision": "1"}))
    );
    // The post-install hook succeeded and was deleted.
    assert_eq!(hook(&rel, "hk-post")["last_run"]["phase"], "Succeeded");
    assert_eq!(c.config_data("hk-post").await, None);
    // Lower weights first, pre- before post-install.
    assert!(started(&rel, "hk-migrate") < started(&rel, "hk-pre"));
    assert!(started(&rel, "hk-pre") < started(&rel, "hk-post"));
    // What the action returned is what was stored.
    let (_, stored) = c.stored("hk", 1).await.expect("stored");
    assert_eq!(stored["hooks"], rel["hooks"]);

    // Upgrade: before-hook-creation replaces the weight-5 ConfigMap with revision 2's.
    let before = c.get("v1", "ConfigMap", "hk-pre").await;
    let mut res = c.resources();
    let rel = helm::action::upgrade(&mut res, &chart, &options("hk", ""))
        .await
        .expect("upgrade with hooks");
    let after = c.get("v1", "ConfigMap", "hk-pre").await;
    assert_ne!(uid(&before), uid(&after), "the hook object was re-created");
    assert_eq!(
        c.config_data("hk-pre").await,
        Some(json!({"revision": "2"}))
    );
    assert_eq!(hook(&rel, "hk-migrate")["last_run"]["phase"], "Succeeded");
    // post-install does not run on upgrade.
    assert_eq!(hook(&rel, "hk-post")["last_run"]["phase"], "");

    // Uninstall --keep-history: the pre-delete hook runs (its object, a hook's, outlives the
    // release), the record stays as uninstalled, and real Helm lists it so.
    let mut res = c.resources();
    let rel = helm::action::uninstall(&mut res, "default", "hk", true, Duration::from_secs(60))
        .await
        .expect("uninstall --keep-history");
    assert_eq!(status(&rel), "uninstalled");
    assert_eq!(hook(&rel, "hk-delete")["last_run"]["phase"], "Succeeded");
    assert_eq!(
        c.config_data("hk-delete").await,
        Some(json!({"by": "pre-delete"}))
    );
    assert_eq!(c.config_data("hk-main").await, None);
    let list = c.real_helm(&["list"]).await;
    let row = list
        .as_array()
        .and_then(|l| l.iter().find(|r| r["name"] == "hk"))
        .unwrap_or_else(|| panic!("hk in {list}"));
    assert_eq!(row["status"], "uninstalled");
    assert_eq!(row["revision"], 2);
    // Uninstalling it again purges the history.
    let mut res = c.resources();
    helm::action::uninstall(&mut res, "default", "hk", false, Duration::from_secs(60))
        .await
        .expect("purge");
    assert!(c.stored("hk", 1).await.is_none());
    assert!(c.stored("hk", 2).await.is_none());

    // A failing Job with hook-failed: the install fails before the manifest is applied, the
    // Job is deleted, the release is recorded as failed.
    let mut res = c.resources();
    let err = helm::action::install(
        &mut res,
        &chart,
        &options("bad", "jobExitCode: \"1\"\njobPolicy: hook-failed\n"),
    )
    .await
    .expect_err("a failing pre-install hook fails the install");
    assert!(matches!(err, ActionError::Hook(..)), "{err}");
    assert!(err.to_string().contains("pre-install"), "{err}");
    assert!(c.get("batch/v1", "Job", "bad-migrate").await.is_none());
    assert_eq!(c.config_data("bad-main").await, None);
    let (_, stored) = c.stored("bad", 1).await.expect("failed release stored");
    assert_eq!(status(&stored), "failed");
    assert_eq!(hook(&stored, "bad-migrate")["last_run"]["phase"], "Failed");
    let desc = stored["info"]["description"].as_str().unwrap_or_default();
    assert!(desc.starts_with("Release \"bad\" failed:"), "{desc}");

    // Real Helm installing the same chart stores the same hooks (events, weights, policies,
    // outcomes) and the same record as Orrery did.
    let mut res = c.resources();
    helm::action::install(&mut res, &chart, &options("cmp", ""))
        .await
        .expect("install");
    let (_, ours) = c.stored("cmp", 1).await.expect("stored");
    let mut res = c.resources();
    helm::action::uninstall(&mut res, "default", "cmp", false, Duration::from_secs(60))
        .await
        .expect("uninstall");
    let path = dir.path().join("hooked").to_string_lossy().to_string();
    let installed = c.real_helm(&["install", "cmp", &path, "{}"]).await;
    assert_eq!(installed["status"], "deployed", "{installed}");
    let (_, theirs) = c.stored("cmp", 1).await.expect("stored by Helm");
    assert_eq!(common::comparable(ours), common::comparable(theirs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_readiness_with_a_timeout() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = load(&write_chart(dir.path(), "web", WEB_CHART));

    let mut res = c.resources();
    let mut opts = options("ready", "replicas: 2\n");
    opts.wait = true;
    helm::action::install(&mut res, &chart, &opts)
        .await
        .expect("install --wait");
    // --wait returned only once the simulated pods were available.
    let live = c
        .get("apps/v1", "Deployment", "ready-web")
        .await
        .expect("deployment");
    assert_eq!(live["status"]["availableReplicas"], 2, "{}", live["status"]);

    // An image that never pulls: the wait runs out of time and the release is failed.
    let mut res = c.resources();
    let mut opts = options("stuck", "image: example.com/app:bad\n");
    opts.wait = true;
    opts.timeout = Duration::from_secs(2);
    let err = helm::action::install(&mut res, &chart, &opts)
        .await
        .expect_err("a deployment that never gets ready times out");
    assert!(matches!(err, ActionError::Timeout(_)), "{err}");
    assert!(
        err.to_string().contains("Deployment \"stuck-web\""),
        "{err}"
    );
    let (_, stored) = c.stored("stuck", 1).await.expect("stored");
    assert_eq!(status(&stored), "failed");
    let live = c
        .get("apps/v1", "Deployment", "stuck-web")
        .await
        .expect("applied");
    assert_ne!(live["status"]["availableReplicas"], 1);

    // Upgrading the failed first install (Helm allows it) to a good image recovers it.
    let mut res = c.resources();
    let mut opts = options("stuck", "");
    opts.wait = true;
    let rel = helm::action::upgrade(&mut res, &chart, &opts)
        .await
        .expect("upgrade of a failed install");
    assert_eq!(status(&rel), "deployed");
    let hist = helm::action::history(&c.resources(), "default", "stuck")
        .await
        .expect("history");
    assert_eq!(common::statuses(&hist), ["superseded", "deployed"]);

    // A failed upgrade leaves the deployed revision deployed; a rollback then supersedes it.
    let mut res = c.resources();
    let mut opts = options(
        "ready",
        "replicas: 2
image: example.com/app:bad
",
    );
    opts.wait = true;
    opts.timeout = Duration::from_secs(2);
    let err = helm::action::upgrade(&mut res, &chart, &opts)
        .await
        .expect_err("the upgrade times out");
    assert!(matches!(err, ActionError::Timeout(_)), "{err}");
    let hist = helm::action::history(&c.resources(), "default", "ready")
        .await
        .expect("history");
    assert_eq!(common::statuses(&hist), ["deployed", "failed"]);
    let desc = hist[1]["info"]["description"].as_str().unwrap_or_default();
    assert!(
        desc.starts_with("Upgrade \"ready\" failed: timed out"),
        "{desc}"
    );
    let mut res = c.resources();
    helm::action::rollback(
        &mut res,
        "default",
        "ready",
        1,
        true,
        Duration::from_secs(60),
    )
    .await
    .expect("rollback --wait");
    let hist = helm::action::history(&c.resources(), "default", "ready")
        .await
        .expect("history");
    assert_eq!(
        common::statuses(&hist),
        ["superseded", "failed", "deployed"]
    );
    let live = c
        .get("apps/v1", "Deployment", "ready-web")
        .await
        .expect("deployment");
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(live["status"]["availableReplicas"], 2, "{}", live["status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_releases_upgrade_by_three_way_merge() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = load(&write_chart(dir.path(), "web", WEB_CHART));

    let mut res = c.resources();
    let mut opts = options("csa", "extra: more\n");
    opts.server_side = false;
    let rel = helm::action::install(&mut res, &chart, &opts)
        .await
        .expect("client-side install");
    assert_eq!(rel["apply_method"], "csa");
    let live = c
        .get("v1", "ConfigMap", "csa-cfg")
        .await
        .expect("configmap");
    let managers: Vec<(&str, &str)> = live["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap_or(""),
                m["operation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(managers, [("helm", "Update")]);

    // Someone edits the live object: changes a chart-owned key and adds their own label.
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(c.client.clone(), "default");
    let edit = json!({"metadata": {"labels": {"team": "blue"}}, "data": {"greeting": "drifted"}});
    api.patch(
        "csa-cfg",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&edit),
    )
    .await
    .expect("live edit");

    // Upgrade (the release's own mode, client-side, though the default is server-side): the
    // key the chart dropped is removed, the drifted key is put back, the foreign label stays.
    let mut res = c.resources();
    let rel = helm::action::upgrade(&mut res, &chart, &options("csa", "replicas: 1\n"))
        .await
        .expect("client-side upgrade");
    assert_eq!(rel["apply_method"], "csa");
    let live = c
        .get("v1", "ConfigMap", "csa-cfg")
        .await
        .expect("configmap");
    assert_eq!(live["data"], json!({"greeting": "hello", "revision": "2"}));
    assert_eq!(live["metadata"]["labels"]["team"], "blue");
    assert_eq!(
        live["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_others_are_not_taken_over() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = load(&write_chart(dir.path(), "web", WEB_CHART));
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(c.client.clone(), "default");
    let theirs = |name: &str| -> k8s_openapi::api::core::v1::ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}, "data": {"owner": "someone"}}))
            .expect("configmap")
    };

    // Install refuses an existing object that is not the release's, and stores nothing.
    api.create(&Default::default(), &theirs("own-cfg"))
        .await
        .expect("create");
    let mut res = c.resources();
    let err = helm::action::install(&mut res, &chart, &options("own", ""))
        .await
        .expect_err("install over someone's object");
    assert!(matches!(err, ActionError::Exists(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("rendered manifests contain a resource that already exists. Unable to continue with install: ConfigMap \"own-cfg\" in namespace \"default\" exists"), "{msg}");
    assert!(msg.contains("app.kubernetes.io/managed-by"), "{msg}");
    assert!(c.stored("own", 1).await.is_none());
    assert_eq!(
        c.config_data("own-cfg").await,
        Some(json!({"owner": "someone"}))
    );

    // So does an upgrade that would add one; the release stays at its deployed revision.
    let mut res = c.resources();
    helm::action::install(&mut res, &chart, &options("grow", ""))
        .await
        .expect("install");
    api.create(&Default::default(), &theirs("grow-second"))
        .await
        .expect("create");
    let mut res = c.resources();
    let err = helm::action::upgrade(&mut res, &chart, &options("grow", "second: true\n"))
        .await
        .expect_err("upgrade over someone's object");
    assert!(
        err.to_string()
            .starts_with("Unable to continue with update: ConfigMap \"grow-second\""),
        "{err}"
    );
    let hist = helm::action::history(&c.resources(), "default", "grow")
        .await
        .expect("history");
    assert_eq!(common::statuses(&hist), ["deployed"]);
    assert_eq!(
        c.config_data("grow-second").await,
        Some(json!({"owner": "someone"}))
    );

    // Without the foreign object the same upgrade adds it.
    api.delete("grow-second", &Default::default())
        .await
        .expect("delete");
    let mut res = c.resources();
    helm::action::upgrade(&mut res, &chart, &options("grow", "second: true\n"))
        .await
        .expect("upgrade");
    // Its `data: {}` is dropped as kube-apiserver's typed round trip drops it (omitempty).
    assert_eq!(
        c.config_data("grow-second").await,
        Some(serde_json::Value::Null)
    );
}
