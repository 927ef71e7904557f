//! Issue 18, must-show 1: the chart (`deploy/chart`) and its plain manifests
//! (`deploy/manifests/orrery.yaml`).
//!
//! - The manifests are the chart rendered by Orrery's engine (in sync).
//! - Real Helm (helm-python-sdk, scripts/helm-reference) renders the chart exactly as Orrery's
//!   engine does, for several value sets; both refuse a namespace other than kubesphere-system.
//! - `orrery helm install` puts it into an `orrery cluster` with the simulation: every object is
//!   there, the Deployment's replicas become Running and Ready through their probes; then
//!   `orrery serve --kubeconfig` with a token of the chart's ServiceAccount (TokenRequest) and
//!   the chart's own orrery.yaml bootstraps the host, elects itself through the Lease, logs the
//!   admin in with the chart Secret's password and creates a workspace — and the ServiceAccount
//!   is refused what the chart did not grant it.

mod common;
mod platform;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart() -> PathBuf {
    repo_root().join("deploy/chart")
}

/// `orrery helm template deploy/chart` into kubesphere-system as release `orrery`.
fn orrery_template(release: &str, namespace: &str, extra: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["helm", "template"])
        .arg(chart())
        .args(["--namespace", namespace, "--release-name", release])
        .args(extra)
        .output()
        .expect("run orrery helm template");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn manifests_are_the_chart_rendered_with_default_values() {
    let file = std::fs::read_to_string(repo_root().join("deploy/manifests/orrery.yaml"))
        .expect("deploy/manifests/orrery.yaml");
    // The file is a comment header, then exactly what the chart renders.
    let body = file
        .find("\n---\n")
        .map(|i| &file[i + 1..])
        .expect("manifests have documents");
    assert!(
        file[..file.len() - body.len()]
            .lines()
            .all(|l| l.starts_with('#') || l.is_empty()),
        "only comments before the first document"
    );
    let rendered = orrery_template(
        "orrery",
        "kubesphere-system",
        &["--set", "admin.existingSecret=orrery-admin"],
    )
    .expect("render");
    assert!(
        body == rendered,
        "deploy/manifests/orrery.yaml is out of date with deploy/chart: run scripts/render-manifests.sh"
    );
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
    ] {
        assert!(
            body.contains(&format!("\nkind: {kind}\n")),
            "{kind} missing"
        );
    }
    // The platform's own ClusterRole covers every group of the CRDs the platform installs
    // (a group added to the platform without the chart fails here, not in a real cluster).
    let role = body
        .split("\n---\n")
        .find(|d| d.contains("\nkind: ClusterRole\nmetadata:\n  name: orrery\n"))
        .expect("ClusterRole orrery");
    let groups: std::collections::BTreeSet<String> = ::platform::crds::all()
        .into_iter()
        .chain(::platform::extensions::crds::all())
        .filter_map(|crd| crd["spec"]["group"].as_str().map(str::to_string))
        .collect();
    assert!(groups.len() >= 9, "{groups:?}");
    for g in &groups {
        assert!(
            role.contains(&format!("\n      - {g}\n")),
            "the chart's ClusterRole does not grant the platform's CRD group {g}"
        );
    }
    // The password comes from a Secret the operator makes, never from the repository.
    assert!(!body.contains("\nkind: Secret\n"));
    assert!(body.contains("name: orrery-admin"));
}

/// Helm's release manifest for the chart (client-only install dry run) or its error.
fn helm_manifest(
    py: &Path,
    values: &Path,
    release: &str,
    namespace: &str,
) -> Result<String, String> {
    let out = Command::new(py)
        .arg(repo_root().join("scripts/helm-reference/render.py"))
        .arg(chart())
        .arg(values)
        .args(["--manifest", "--release", release, "--namespace", namespace])
        .output()
        .expect("run render.py");
    assert!(
        out.status.success(),
        "render.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("render.py JSON");
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v["manifest"].as_str().unwrap_or_default().to_string()),
    }
}

/// The one line the two engines may differ on: a password generated by `randAlphaNum`.
fn mask_generated_password(manifest: &str) -> String {
    manifest
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("password: ") {
                "  password: <generated>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn chart_renders_identically_with_helm() {
    if std::env::var_os("HELM_DIFF_SKIP").is_some() {
        eprintln!("HELM_DIFF_SKIP set: skipped");
        return;
    }
    let setup = Command::new("bash")
        .arg(repo_root().join("scripts/helm-reference/setup.sh"))
        .output()
        .expect("run setup.sh");
    assert!(
        setup.status.success(),
        "setup.sh: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let py = PathBuf::from(
        String::from_utf8_lossy(&setup.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sets: [(&str, &str); 4] = [
        ("defaults", ""),
        ("manifests", "admin:\n  existingSecret: orrery-admin\n"),
        (
            "every branch",
            "replicas: 3\nadmin:\n  password: s3cret-Passw0rd\ntls:\n  secretName: orrery-tls\n\
             service:\n  type: NodePort\n  nodePort: 30880\n  annotations:\n    a: b\n\
             rbac:\n  hostAccess: full\nimagePullSecrets:\n  - name: regcred\n\
             podAnnotations:\n  x: why\npodLabels:\n  tier: platform\nnodeSelector:\n  disk: ssd\n\
             tolerations:\n  - key: k\n    operator: Exists\naffinity:\n  podAntiAffinity: {}\n\
             topologySpread: false\npriorityClassName: system-cluster-critical\n\
             serviceAccount:\n  name: platform\n  annotations:\n    iam: role\n\
             config:\n  publicURL: https://orrery.example.com\n  trustedProxies: [10.0.0.0/8]\n\
             \x20 authentication:\n    multipleLogin: false\n    lockout:\n      threshold: 5\n\
             \x20 leaderElection:\n    leaseDuration: 5s\n    retryPeriod: 1s\n",
        ),
        (
            "one replica, plain HTTP, no host access",
            "replicas: 1\nrbac:\n  hostAccess: none\nconfig:\n  tls:\n    enabled: false\n",
        ),
    ];
    for (label, values) in sets {
        let file = dir
            .path()
            .join(format!("{}.yaml", label.replace([' ', ','], "-")));
        std::fs::write(&file, values).expect("write values");
        let want = helm_manifest(&py, &file, "orrery", "kubesphere-system")
            .unwrap_or_else(|e| panic!("{label}: helm failed: {e}"));
        let got = orrery_template(
            "orrery",
            "kubesphere-system",
            &["-f", file.to_str().unwrap_or_default()],
        )
        .unwrap_or_else(|e| panic!("{label}: orrery failed: {e}"));
        // `helm template` ends the last document with one newline less than the release's
        // manifest; that is the printing, not the rendering.
        // Without admin.password the chart generates one (randAlphaNum), differently each time.
        let (want, got) = if !values.contains("password:") && !values.contains("existingSecret") {
            (
                mask_generated_password(&want),
                mask_generated_password(&got),
            )
        } else {
            (want.trim_end().to_string(), got.trim_end().to_string())
        };
        let (want, got) = (want.trim_end(), got.trim_end());
        if want != got {
            let first = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(got.lines().count()));
            panic!(
                "{label}: Helm and Orrery differ at line {}:\n helm:   {:?}\n orrery: {:?}",
                first + 1,
                want.lines().nth(first),
                got.lines().nth(first)
            );
        }
        eprintln!("{label}: identical ({} lines)", want.lines().count());
    }
    // Both refuse another namespace, with the chart's own message.
    let file = dir.path().join("empty.yaml");
    std::fs::write(&file, "").expect("write values");
    let helm_err =
        helm_manifest(&py, &file, "orrery", "default").expect_err("helm refuses default");
    let orrery_err = orrery_template("orrery", "default", &[]).expect_err("orrery refuses default");
    for e in [&helm_err, &orrery_err] {
        assert!(
            e.contains("install Orrery into the namespace kubesphere-system"),
            "{e}"
        );
    }
}

fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl auth can-i` as the ServiceAccount: "yes" or "no".
fn can_i(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["auth", "can-i"])
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl auth can-i");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_installs_into_a_simulated_cluster_and_its_service_account_runs_the_platform() {
    let host = common::TestCluster::start(&["--nodes", "2"]);
    let kc = host.kubeconfig.clone();
    helm_install(&kc);

    chart_objects_and_ready_replicas(&kc).await;

    // A token of the chart's ServiceAccount (TokenRequest), and a kubeconfig made of it.
    let token = kubectl_ok(
        &kc,
        &[
            "-n",
            "kubesphere-system",
            "create",
            "token",
            "orrery",
            "--duration",
            "1h",
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sa_kc = dir.path().join("orrery-sa.kubeconfig");
    platform::token_kubeconfig(&kc, token.trim(), &sa_kc);

    least_privilege(&sa_kc);

    // The platform as the pod runs it: the chart's orrery.yaml and admin Secret, with this
    // kubeconfig standing in for the pod's mounted ServiceAccount and a loopback listener.
    let config = kubectl_ok(
        &kc,
        &[
            "-n",
            "kubesphere-system",
            "get",
            "configmap",
            "orrery-config",
            "-o",
            "jsonpath={.data.orrery\\.yaml}",
        ],
    );
    let config_file = dir.path().join("orrery.yaml");
    std::fs::write(&config_file, &config).expect("write orrery.yaml");
    let password = admin_password(&kc);
    // Generated, and within the platform's password policy (else the pods would not start).
    assert_eq!(password.len(), 24, "a generated password");
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    let replica = platform::Replica::start(
        &sa_kc,
        "orrery-test-pod",
        &["--config", config_file.to_str().unwrap_or_default()],
        &[("ORRERY_ADMIN_PASSWORD", password.as_str())],
    );
    let http = platform::http();
    let url = replica.url.clone();
    for probe in ["/healthz", "/readyz"] {
        let r = http
            .get(format!("{url}{probe}"))
            .send()
            .await
            .expect("probe");
        assert_eq!(r.status().as_u16(), 200, "{probe}");
    }
    // The same probes over HTTPS, as the kubelet sends them.
    let https = url.replacen("http://", "https://", 1);
    let r = http
        .get(format!("{https}/readyz"))
        .send()
        .await
        .expect("HTTPS probe");
    assert_eq!(r.status().as_u16(), 200);

    the_replica_serves_and_leads(&http, &url, &password, &kc).await;
    drop(replica);

    // The platform's own ClusterRole alone is enough: upgrade to `rbac.hostAccess=none` (the
    // generated password is kept: the chart looks the Secret up) and start again with it.
    helm_upgrade_without_host_access(&kc);
    let after = admin_password(&kc);
    assert_eq!(after, password, "the upgrade kept the generated password");
    let gone = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["get", "clusterrole", "orrery-host-access"])
        .output()
        .expect("kubectl");
    assert!(!gone.status.success(), "the host-access role is gone");
    assert_eq!(
        can_i(&sa_kc, &["create", "deployments.apps", "-n", "default"]),
        "no"
    );
    let replica = platform::Replica::start(
        &sa_kc,
        "orrery-test-pod-2",
        &["--config", config_file.to_str().unwrap_or_default()],
        &[("ORRERY_ADMIN_PASSWORD", password.as_str())],
    );
    let url = replica.url.clone();
    the_platforms_own_role_suffices(&http, &url, &password, &kc).await;
    drop(replica);
    drop(host);
}

/// `orrery helm install` of the chart into kubesphere-system, waiting for it.
fn helm_install(kc: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["helm", "install", "orrery"])
        .arg(chart())
        .arg("--kubeconfig")
        .arg(kc)
        .args([
            "--namespace",
            "kubesphere-system",
            "--create-namespace",
            "--wait",
            "--timeout",
            "2m",
        ])
        .output()
        .expect("run orrery helm install");
    assert!(
        out.status.success(),
        "orrery helm install: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `orrery helm upgrade` to `rbac.hostAccess=none`, waiting for it.
fn helm_upgrade_without_host_access(kc: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["helm", "upgrade", "orrery"])
        .arg(chart())
        .arg("--kubeconfig")
        .arg(kc)
        .args([
            "--namespace",
            "kubesphere-system",
            "--set",
            "rbac.hostAccess=none",
            "--wait",
            "--timeout",
            "2m",
        ])
        .output()
        .expect("run orrery helm upgrade");
    assert!(
        out.status.success(),
        "orrery helm upgrade: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every object of the chart is there; the Deployment's replicas run and pass their readiness
/// probes (on /readyz over HTTPS); a disruption budget keeps one.
async fn chart_objects_and_ready_replicas(kc: &Path) {
    // Every object of the chart is there.
    let ns = ["-n", "kubesphere-system"];
    for (kind, name) in [
        ("serviceaccount", "orrery"),
        ("secret", "orrery-admin"),
        ("configmap", "orrery-config"),
        ("service", "orrery"),
        ("deployment", "orrery"),
        ("poddisruptionbudget", "orrery"),
        ("role", "orrery-leader-election"),
        ("rolebinding", "orrery-leader-election"),
    ] {
        kubectl_ok(kc, &[&ns[..], &["get", kind, name]].concat());
    }
    for (kind, name) in [
        ("clusterrole", "orrery"),
        ("clusterrolebinding", "orrery"),
        ("clusterrole", "orrery-host-access"),
        ("clusterrolebinding", "orrery-host-access"),
    ] {
        kubectl_ok(kc, &["get", kind, name]);
    }

    // The Deployment's replicas run and pass their readiness probes (on /readyz over HTTPS).
    let deploy: serde_json::Value = serde_json::from_str(&kubectl_ok(
        kc,
        &[
            "-n",
            "kubesphere-system",
            "get",
            "deployment",
            "orrery",
            "-o",
            "json",
        ],
    ))
    .expect("deployment JSON");
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    assert_eq!(container["ports"][0]["containerPort"], 30880);
    assert_eq!(container["resources"]["requests"]["memory"], "256Mi");
    platform::until(
        Duration::from_secs(60),
        "2 Running and Ready replicas",
        || {
            let kc = kc.to_path_buf();
            async move {
                let pods: serde_json::Value = serde_json::from_str(&kubectl_ok(
                    &kc,
                    &[
                        "-n",
                        "kubesphere-system",
                        "get",
                        "pods",
                        "-l",
                        "app.kubernetes.io/name=orrery",
                        "-o",
                        "json",
                    ],
                ))
                .ok()?;
                let ready = pods["items"]
                    .as_array()?
                    .iter()
                    .filter(|p| {
                        p["status"]["phase"] == "Running"
                            && p["status"]["conditions"].as_array().is_some_and(|cs| {
                                cs.iter()
                                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
                            })
                    })
                    .count();
                (ready == 2).then_some(())
            }
        },
    )
    .await;
    let budget = kubectl_ok(
        kc,
        &[
            "-n",
            "kubesphere-system",
            "get",
            "pdb",
            "orrery",
            "-o",
            "jsonpath={.spec.minAvailable}",
        ],
    );
    assert_eq!(budget, "1");
}

/// Least privilege: what the chart did not grant is refused.
fn least_privilege(sa_kc: &Path) {
    // Least privilege: what the chart did not grant is refused.
    assert_eq!(
        can_i(
            sa_kc,
            &["create", "customresourcedefinitions.apiextensions.k8s.io"]
        ),
        "yes"
    );
    assert_eq!(
        can_i(
            sa_kc,
            &["delete", "customresourcedefinitions.apiextensions.k8s.io"]
        ),
        "no"
    );
    assert_eq!(
        can_i(
            sa_kc,
            &["create", "clusterrolebindings.rbac.authorization.k8s.io"]
        ),
        "no"
    );
    assert_eq!(can_i(sa_kc, &["create", "nodes"]), "no");
    assert_eq!(
        can_i(
            sa_kc,
            &[
                "update",
                "leases.coordination.k8s.io",
                "-n",
                "kubesphere-system"
            ]
        ),
        "yes"
    );
    assert_eq!(
        can_i(
            sa_kc,
            &["update", "leases.coordination.k8s.io", "-n", "kube-system"]
        ),
        "no"
    );
    assert_eq!(
        can_i(sa_kc, &["create", "deployments.apps", "-n", "default"]),
        "yes"
    );
}

/// The replica's admin makes a workspace; its controllers run (the replica took the Lease) and
/// make the Workspace.
async fn the_replica_serves_and_leads(
    http: &reqwest::Client,
    url: &str,
    password: &str,
    kc: &Path,
) {
    let admin = platform::login(http, url, "admin", password)
        .await
        .expect("admin logs in");
    let tenant = format!("{url}/kapis/tenant.kubesphere.io/v1beta1");
    let (code, v) = platform::call(
        http,
        Method::POST,
        &format!("{tenant}/workspacetemplates"),
        &admin,
        Some(
            json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
            "metadata": {"name": "chart-ws"},
            "spec": {"template": {"spec": {"manager": "admin"}}}}),
        ),
    )
    .await;
    assert!(code < 300, "create workspace: {code} {v}");
    // The controllers run (the replica took the Lease) and make the Workspace.
    platform::until(Duration::from_secs(30), "the Workspace of chart-ws", || {
        let kc = kc.to_path_buf();
        async move {
            let out = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(kc)
                .args([
                    "get",
                    "workspaces.tenant.kubesphere.io",
                    "chart-ws",
                    "-o",
                    "name",
                ])
                .output()
                .ok()?;
            out.status.success().then_some(())
        }
    })
    .await;
    let holder = kubectl_ok(
        kc,
        &[
            "-n",
            "kubesphere-system",
            "get",
            "lease",
            "orrery-platform-controllers",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    assert_eq!(holder, "orrery-test-pod");
}

/// With the platform's own ClusterRole only, the admin makes a workspace and the controllers
/// make the Workspace.
async fn the_platforms_own_role_suffices(
    http: &reqwest::Client,
    url: &str,
    password: &str,
    kc: &Path,
) {
    let admin = platform::login(http, url, "admin", password)
        .await
        .expect("admin logs in again");
    let (code, v) = platform::call(
        http,
        Method::POST,
        &format!("{url}/kapis/tenant.kubesphere.io/v1beta1/workspacetemplates"),
        &admin,
        Some(
            json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
            "metadata": {"name": "chart-ws-2"},
            "spec": {"template": {"spec": {"manager": "admin"}}}}),
        ),
    )
    .await;
    assert!(
        code < 300,
        "create a workspace with the platform's own role only: {code} {v}"
    );
    platform::until(
        Duration::from_secs(30),
        "the Workspace of chart-ws-2",
        || {
            let kc = kc.to_path_buf();
            async move {
                let out = Command::new("kubectl")
                    .arg("--kubeconfig")
                    .arg(kc)
                    .args([
                        "get",
                        "workspaces.tenant.kubesphere.io",
                        "chart-ws-2",
                        "-o",
                        "name",
                    ])
                    .output()
                    .ok()?;
                out.status.success().then_some(())
            }
        },
    )
    .await;
}

/// The admin password in the chart's Secret.
fn admin_password(kc: &Path) -> String {
    use base64::Engine;
    let b64 = kubectl_ok(
        kc,
        &[
            "-n",
            "kubesphere-system",
            "get",
            "secret",
            "orrery-admin",
            "-o",
            "jsonpath={.data.password}",
        ],
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("base64 password");
    String::from_utf8(bytes).expect("utf-8 password")
}
