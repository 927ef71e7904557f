//! Releases against the embedded cluster, checked against the real Helm engine
//! (helm-python-sdk, Helm v4, Secret storage, run through `scripts/helm-reference/`):
//! Orrery installs, upgrades, rolls back and uninstalls, and real Helm lists and reads the
//! result (history, values, manifest); real Helm installs, and Orrery upgrades and uninstalls.

mod common;

use common::{Cluster, WEB_CHART, comparable, load, options, status, statuses, write_chart};
use serde_json::{Value as Json, json};

fn summaries_named<'a>(list: &'a Json, name: &str) -> Vec<&'a Json> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter(|r| r["name"] == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orrery_releases_are_read_by_real_helm() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = load(&write_chart(dir.path(), "web", WEB_CHART));

    // Install, revision 1.
    let mut res = c.resources();
    let rel = helm::action::install(
        &mut res,
        &chart,
        &options("app", "greeting: hi\nextra: more\n"),
    )
    .await
    .expect("install");
    assert_eq!(status(&rel), "deployed");
    assert_eq!(
        c.config_data("app-cfg").await,
        Some(json!({"greeting": "hi", "revision": "1", "extra": "more"}))
    );
    let live = c
        .get("apps/v1", "Deployment", "app-web")
        .await
        .expect("deployment");
    assert_eq!(
        live["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
    assert_eq!(
        live["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "app"
    );
    assert_eq!(
        live["metadata"]["annotations"]["meta.helm.sh/release-namespace"],
        "default"
    );

    // Stored as Helm stores it.
    let (secret, stored) = c.stored("app", 1).await.expect("revision 1 stored");
    assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    for (k, v) in [
        ("owner", "helm"),
        ("name", "app"),
        ("status", "deployed"),
        ("version", "1"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "label {k}");
    }
    assert_eq!(stored["apply_method"], "ssa");
    assert_eq!(stored["config"], json!({"greeting": "hi", "extra": "more"}));
    assert_eq!(stored["info"]["notes"], "app says hi.\n");
    assert_eq!(stored["chart"]["metadata"]["name"], "web");

    // Upgrade, revision 2: values change, a key disappears.
    let mut res = c.resources();
    let rel = helm::action::upgrade(&mut res, &chart, &options("app", "greeting: bye\n"))
        .await
        .expect("upgrade");
    assert_eq!(rel["version"], 2);
    assert_eq!(
        c.config_data("app-cfg").await,
        Some(json!({"greeting": "bye", "revision": "2"}))
    );

    // Rollback to 1: revision 3 has revision 1's manifest and values.
    let mut res = c.resources();
    let rel = helm::action::rollback(
        &mut res,
        "default",
        "app",
        1,
        false,
        options("", "").timeout,
    )
    .await
    .expect("rollback");
    assert_eq!(rel["version"], 3);
    assert_eq!(rel["info"]["description"], "Rollback to 1");
    assert_eq!(
        c.config_data("app-cfg").await,
        Some(json!({"greeting": "hi", "revision": "1", "extra": "more"}))
    );
    let hist = helm::action::history(&c.resources(), "default", "app")
        .await
        .expect("history");
    assert_eq!(statuses(&hist), ["superseded", "superseded", "deployed"]);

    real_helm_reads_orrerys_history(&c, &hist).await;
    real_helm_upgrades_in_turn(&c, dir.path()).await;
    uninstall_removes_everything(&c).await;
}

/// Real Helm lists the release and reads its history, values and manifest; `orrery helm`
/// prints what Helm prints.
async fn real_helm_reads_orrerys_history(c: &Cluster, hist: &[Json]) {
    let list = c.real_helm(&["list"]).await;
    let mine = summaries_named(&list, "app");
    assert_eq!(mine.len(), 1, "{list}");
    assert_eq!(mine[0]["revision"], 3);
    assert_eq!(mine[0]["status"], "deployed");
    assert_eq!(mine[0]["chart_name"], "web");
    assert_eq!(mine[0]["chart_version"], "0.1.0");
    assert_eq!(mine[0]["app_version"], "1.0");
    let theirs = c.real_helm(&["history", "app"]).await;
    let theirs: Vec<(i64, String)> = theirs
        .as_array()
        .expect("history list")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap_or(0),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let ours: Vec<(i64, String)> = hist
        .iter()
        .map(|r| (r["version"].as_i64().unwrap_or(0), status(r).to_string()))
        .collect();
    assert_eq!(theirs, ours);
    for rev in 1..=3 {
        let (_, stored) = c.stored("app", rev).await.expect("stored revision");
        let got = c.real_helm(&["get", "app", &rev.to_string()]).await;
        assert_eq!(got["values"], stored["config"], "values of revision {rev}");
        assert_eq!(
            got["all"]["summary"]["manifest"], stored["manifest"],
            "manifest of {rev}"
        );
        assert_eq!(
            got["all"]["info"]["description"],
            stored["info"]["description"]
        );
        assert_eq!(got["metadata"]["applyMethod"], "ssa");
        // Computed values: the chart's defaults under the user's.
        assert_eq!(got["all_values"]["replicas"], 1);
    }
    let got = c.real_helm(&["get", "app"]).await;
    assert_eq!(got["values"], json!({"greeting": "hi", "extra": "more"}));
    assert_eq!(got["all_values"]["greeting"], "hi");

    // The CLI prints what Helm prints.
    let text = orrery_helm(c, &["list"]).await;
    let row = text
        .lines()
        .find(|l| l.starts_with("app"))
        .expect("a row for app");
    let cells: Vec<&str> = row.split('\t').map(str::trim).collect();
    assert_eq!(cells[..3], ["app", "default", "3"]);
    assert_eq!(cells[4..], ["deployed", "web-0.1.0", "1.0"]);
    let text = orrery_helm(c, &["history", "app"]).await;
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.ends_with("Rollback to 1")),
        "{text}"
    );
}

/// Real Helm upgrades Orrery's release in turn (same field manager, no conflicts), and Orrery
/// reads the result.
async fn real_helm_upgrades_in_turn(c: &Cluster, dir: &std::path::Path) {
    let p = dir.join("web").to_string_lossy().to_string();
    let r = c
        .real_helm(&["upgrade", "app", &p, r#"{"greeting": "from helm"}"#])
        .await;
    assert_eq!(r["revision"], 4, "{r}");
    assert_eq!(
        c.config_data("app-cfg").await,
        Some(json!({"greeting": "from helm", "revision": "4"}))
    );
    let hist = helm::action::history(&c.resources(), "default", "app")
        .await
        .expect("history");
    assert_eq!(
        statuses(&hist),
        ["superseded", "superseded", "superseded", "deployed"]
    );
    assert_eq!(hist[3]["config"], json!({"greeting": "from helm"}));
}

/// Uninstall: objects and history gone, for real Helm too.
async fn uninstall_removes_everything(c: &Cluster) {
    let mut res = c.resources();
    helm::action::uninstall(&mut res, "default", "app", false, options("", "").timeout)
        .await
        .expect("uninstall");
    assert_eq!(c.config_data("app-cfg").await, None);
    common::wait_for(
        "the deployment to go",
        std::time::Duration::from_secs(30),
        || async {
            c.get("apps/v1", "Deployment", "app-web")
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert!(c.stored("app", 1).await.is_none());
    let list = c.real_helm(&["list"]).await;
    assert!(summaries_named(&list, "app").is_empty(), "{list}");
    let gone = c.real_helm(&["history", "app"]).await;
    assert_eq!(gone["error"], "release: not found", "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_installed_by_real_helm_is_upgraded_and_uninstalled_by_orrery() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_chart(dir.path(), "web", WEB_CHART);
    let chart = load(&path);
    let path = path.to_string_lossy().to_string();

    // First Orrery installs the same chart with the same values, to compare what it stores
    // with what Helm stores below; then it uninstalls.
    let mut res = c.resources();
    helm::action::install(
        &mut res,
        &chart,
        &options("theirs", "greeting: from helm\nextra: x\n"),
    )
    .await
    .expect("install");
    let (our_secret, ours) = c.stored("theirs", 1).await.expect("stored");
    let mut res = c.resources();
    helm::action::uninstall(
        &mut res,
        "default",
        "theirs",
        false,
        options("", "").timeout,
    )
    .await
    .expect("uninstall");

    let installed = c
        .real_helm(&[
            "install",
            "theirs",
            &path,
            r#"{"greeting": "from helm", "extra": "x"}"#,
        ])
        .await;
    assert_eq!(installed["status"], "deployed", "{installed}");
    assert_eq!(
        c.config_data("theirs-cfg").await,
        Some(json!({"greeting": "from helm", "revision": "1", "extra": "x"}))
    );
    // The same record, field for field, but for times; the same Secret type and labels.
    let (their_secret, theirs) = c.stored("theirs", 1).await.expect("stored by Helm");
    assert_eq!(comparable(ours), comparable(theirs));
    assert_eq!(our_secret.type_, their_secret.type_);
    let label_keys = |s: &k8s_openapi::api::core::v1::Secret| {
        let mut l = s.metadata.labels.clone().unwrap_or_default();
        l.remove("modifiedAt")
            .map(|t| t.parse::<i64>().expect("unix time"));
        l
    };
    assert_eq!(label_keys(&our_secret), label_keys(&their_secret));

    let hist = helm::action::history(&c.resources(), "default", "theirs")
        .await
        .expect("Orrery reads Helm's history");
    assert_eq!(statuses(&hist), ["deployed"]);
    let listed = helm::action::list(&c.resources(), Some("default"))
        .await
        .expect("list");
    assert!(listed.iter().any(|r| r["name"] == "theirs"));

    // Orrery upgrades it, the way it was made (server-side apply).
    let mut res = c.resources();
    let rel = helm::action::upgrade(
        &mut res,
        &chart,
        &options("theirs", "greeting: from orrery\nreplicas: 2\n"),
    )
    .await
    .expect("upgrade Helm's release");
    assert_eq!(rel["version"], 2);
    assert_eq!(rel["apply_method"], "ssa");
    assert_eq!(
        c.config_data("theirs-cfg").await,
        Some(json!({"greeting": "from orrery", "revision": "2"}))
    );
    let live = c
        .get("apps/v1", "Deployment", "theirs-web")
        .await
        .expect("deployment");
    assert_eq!(live["spec"]["replicas"], 2);
    let theirs = c.real_helm(&["history", "theirs"]).await;
    let seen: Vec<&str> = theirs
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(seen, ["superseded", "deployed"]);
    let got = c.real_helm(&["get", "theirs"]).await;
    assert_eq!(
        got["values"],
        json!({"greeting": "from orrery", "replicas": 2})
    );
    let (_, stored) = c.stored("theirs", 2).await.expect("revision 2");
    assert_eq!(got["all"]["summary"]["manifest"], stored["manifest"]);
    // Helm's own revision is still readable after Orrery superseded it.
    let (_, first) = c.stored("theirs", 1).await.expect("revision 1");
    assert_eq!(status(&first), "superseded");
    assert_eq!(first["info"]["description"], "Install complete");

    // Orrery uninstalls it; real Helm sees it gone.
    let mut res = c.resources();
    helm::action::uninstall(
        &mut res,
        "default",
        "theirs",
        false,
        options("", "").timeout,
    )
    .await
    .expect("uninstall");
    assert_eq!(c.config_data("theirs-cfg").await, None);
    let list = c.real_helm(&["list"]).await;
    assert!(summaries_named(&list, "theirs").is_empty(), "{list}");
    let gone = c.real_helm(&["get", "theirs"]).await;
    assert_eq!(gone["error"], "release: not found", "{gone}");

    // Real Helm uninstalls a release itself: client-go sends its DeleteOptions as protobuf.
    let installed = c
        .real_helm(&["install", "byhelm", &path, r#"{"greeting": "bye"}"#])
        .await;
    assert_eq!(installed["status"], "deployed", "{installed}");
    assert!(c.config_data("byhelm-cfg").await.is_some());
    let out = c.real_helm(&["uninstall", "byhelm"]).await;
    assert!(
        out.get("error").is_none(),
        "real Helm's uninstall failed: {out}"
    );
    assert_eq!(c.config_data("byhelm-cfg").await, None);
    let list = c.real_helm(&["list"]).await;
    assert!(summaries_named(&list, "byhelm").is_empty(), "{list}");
}

/// A corpus chart (read in place) with `crds/` and custom resources of them in its templates:
/// the CRDs are created before the release (so its custom resources resolve), left out of its
/// manifest, and stay after uninstall, as with Helm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_chart_with_crds_installs_and_uninstalls() {
    let dir = testdata::helm_chart("fluent-operator");
    let c = Cluster::start().await;
    let chart = load(&dir);
    let mut res = c.resources();
    let rel = helm::action::install(&mut res, &chart, &options("lb", ""))
        .await
        .expect("install fluent-operator");
    assert_eq!(status(&rel), "deployed");
    let manifest = rel["manifest"].as_str().unwrap_or_default();
    assert!(
        !manifest.contains("# Source: fluent-operator/crds/"),
        "crds/ in the manifest"
    );
    assert!(manifest.contains("kind: Deployment"));
    // Custom resources of the chart's own CRDs are part of the release.
    assert!(
        manifest.contains("kind: ClusterFilter"),
        "no custom resources"
    );
    for name in [
        "clusterfilters.fluentbit.fluent.io",
        "fluentbits.fluentbit.fluent.io",
        "fluentds.fluentd.fluent.io",
    ] {
        let api: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            kube::Api::all(c.client.clone());
        assert!(
            api.get_opt(name).await.expect("get crd").is_some(),
            "{name}"
        );
    }
    let got = c.real_helm(&["get", "lb"]).await;
    assert_eq!(got["all"]["summary"]["manifest"], rel["manifest"]);
    assert_eq!(got["status"]["status"], "deployed", "{}", got["status"]);
    let objects = helm::action::resources::manifest_objects(manifest).expect("objects");
    assert!(objects.len() > 10, "{} objects", objects.len());

    let mut res = c.resources();
    helm::action::uninstall(&mut res, "default", "lb", false, options("", "").timeout)
        .await
        .expect("uninstall fluent-operator");
    let mut res = c.resources();
    for o in &objects {
        let t = res.target(o, "default").await.expect("target");
        if t.kind != "Pod" {
            common::wait_for(
                &t.describe(),
                std::time::Duration::from_secs(30),
                || async {
                    helm::action::resources::get(&t)
                        .await
                        .expect("get")
                        .is_none()
                        .then_some(())
                },
            )
            .await;
        }
    }
    let api: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        kube::Api::all(c.client.clone());
    assert!(
        api.get_opt("fluentbits.fluentbit.fluent.io")
            .await
            .expect("get")
            .is_some()
    );
}

/// `orrery helm ARGS --kubeconfig <the cluster's> -n default`, as a user runs it: its stdout.
async fn orrery_helm(c: &Cluster, args: &[&str]) -> String {
    let mut full: Vec<String> = vec!["helm".into()];
    full.extend(args.iter().map(|s| s.to_string()));
    full.extend([
        "--kubeconfig".into(),
        c.kubeconfig.display().to_string(),
        "-n".into(),
        "default".into(),
    ]);
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = full.iter().map(String::as_str).collect();
        testdata::run_orrery(&args)
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "orrery helm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `orrery helm install`, `upgrade`, `rollback` make the same three revisions as real Helm's
/// install, upgrade and rollback of the same chart with the same values (all but times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_history_matches_real_helm_revision_for_revision() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_chart(dir.path(), "web", WEB_CHART);
    let chart = path.to_string_lossy().to_string();
    let wait = ["--wait", "--timeout", "60s"];

    let mut text = orrery_helm(
        &c,
        &[
            &["install", "same", &chart, "--set", "greeting=one"][..],
            &wait,
        ]
        .concat(),
    )
    .await;
    text += &orrery_helm(
        &c,
        &[
            &["upgrade", "same", &chart, "--set", "greeting=two,extra=x"][..],
            &wait,
        ]
        .concat(),
    )
    .await;
    text += &orrery_helm(&c, &[&["rollback", "same", "1"][..], &wait].concat()).await;
    assert!(
        text.contains("STATUS: deployed\nREVISION: 1\nNOTES:\nsame says one."),
        "{text}"
    );
    assert!(
        text.contains("Release \"same\" has been upgraded. Happy Helming!"),
        "{text}"
    );
    assert!(
        text.ends_with("Rollback was a success! Happy Helming!\n"),
        "{text}"
    );
    let mut ours = Vec::new();
    for rev in 1..=3 {
        ours.push(c.stored("same", rev).await.expect("stored").1);
    }
    assert_eq!(
        orrery_helm(&c, &["uninstall", "same", "--timeout", "60s"]).await,
        "release \"same\" uninstalled\n"
    );

    let p = path.to_string_lossy().to_string();
    let r = c
        .real_helm(&["install", "same", &p, r#"{"greeting": "one"}"#])
        .await;
    assert_eq!(r["status"], "deployed", "{r}");
    let r = c
        .real_helm(&[
            "upgrade",
            "same",
            &p,
            r#"{"greeting": "two", "extra": "x"}"#,
        ])
        .await;
    assert_eq!(r["status"], "deployed", "{r}");
    let r = c.real_helm(&["rollback", "same", "1"]).await;
    assert_eq!(r["revision"], 3, "{r}");
    for (rev, ours) in (1..=3).zip(ours) {
        let theirs = c.stored("same", rev).await.expect("stored by Helm").1;
        assert_eq!(comparable(ours), comparable(theirs), "revision {rev}");
    }
}

/// Chaos Mesh with its default values ships webhook configurations for its own controller
/// (Service-backed): with `admissionregistration.k8s.io` served the chart installs, its
/// configurations are stored as rendered, and its custom resources are admitted (the
/// simulation convention: a Service-backed webhook admits).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_mesh_installs_with_its_admission_webhooks() {
    let dir = testdata::helm_chart("chaos-mesh");
    let c = Cluster::start().await;
    let chart = load(&dir);
    let mut res = c.resources();
    let rel = helm::action::install(&mut res, &chart, &options("chaos", ""))
        .await
        .expect("install chaos-mesh");
    assert_eq!(status(&rel), "deployed");
    let manifest = rel["manifest"].as_str().unwrap_or_default();
    assert!(manifest.contains("kind: ValidatingWebhookConfiguration"));
    assert!(manifest.contains("apiVersion: admissionregistration.k8s.io/v1"));
    let validating: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        c.client.clone(),
        &kube::api::ApiResource {
            group: "admissionregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "admissionregistration.k8s.io/v1".into(),
            kind: "ValidatingWebhookConfiguration".into(),
            plural: "validatingwebhookconfigurations".into(),
        },
    );
    let stored = validating.list(&Default::default()).await.expect("list");
    assert!(
        !stored.items.is_empty(),
        "the chart's webhook configurations are stored"
    );
    // A chaos experiment goes through the (Service-backed, failurePolicy Fail) webhooks.
    let chaos: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        c.client.clone(),
        "default",
        &kube::api::ApiResource {
            group: "chaos-mesh.org".into(),
            version: "v1alpha1".into(),
            api_version: "chaos-mesh.org/v1alpha1".into(),
            kind: "PodChaos".into(),
            plural: "podchaos".into(),
        },
    );
    let experiment: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos",
        "metadata": {"name": "kill-one"},
        "spec": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["default"]}},
    }))
    .expect("experiment");
    chaos
        .create(&Default::default(), &experiment)
        .await
        .expect("admitted by the simulated webhooks");
}
