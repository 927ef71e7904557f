//! Identities through the real kubectl: ServiceAccount tokens, client certificates signed by
//! the cluster CA, RBAC Roles and RoleBindings, impersonation, `auth can-i` and `auth whoami`.

use crate::common::{TestCluster, json};
use crate::run::{Kubectl, cert_kubeconfig, client_for, text};

/// Namespace `dev`: user `jane` may read and create ConfigMaps, group `devs` may read Secrets.
const DEV_RBAC: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-editor, namespace: dev}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-cm, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-editor}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: dev}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-secrets, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs}
"#;

/// Namespace `team`: ServiceAccount `bot` may read Pods.
const TEAM_RBAC: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot, namespace: team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bot-pods, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: bot, namespace: team}
"#;

fn can_i(k: &Kubectl, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    let out = k.run(&all, None);
    (out.status.code(), text(&out.stdout).trim().to_string())
}

#[test]
fn service_account_token_and_can_i() {
    let c = TestCluster::start(&[]);
    let admin = Kubectl::admin(&c);
    admin.ok_stdin(&["apply", "-f", "-"], Some(TEAM_RBAC));
    let token = admin
        .ok(&["create", "token", "bot", "-n", "team", "--duration=10m"])
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let flag = format!("--token={token}");
    let t = flag.as_str();

    assert_eq!(
        can_i(&admin, &[t, "list", "pods", "-n", "team"]),
        (Some(0), "yes".to_string())
    );
    assert_eq!(
        can_i(&admin, &[t, "delete", "pods", "-n", "team"]),
        (Some(1), "no".to_string())
    );
    assert_eq!(
        can_i(&admin, &[t, "list", "pods", "-n", "default"]),
        (Some(1), "no".to_string())
    );
    assert_eq!(
        can_i(&admin, &[t, "list", "secrets", "-n", "team"]),
        (Some(1), "no".to_string())
    );
    // The token really is that identity: allowed and denied requests, not only reviews.
    let who = json(&admin.ok(&[t, "auth", "whoami", "-o", "json"]));
    assert_eq!(
        who["status"]["userInfo"]["username"], "system:serviceaccount:team:bot",
        "{who}"
    );
    admin.ok(&[t, "get", "pods", "-n", "team"]);
    let err = admin.fails(&[t, "get", "secrets", "-n", "team"], None);
    assert!(err.contains("Forbidden"), "{err}");
    assert!(err.contains("system:serviceaccount:team:bot"), "{err}");
    // A bound token dies with its ServiceAccount.
    admin.ok(&["delete", "serviceaccount", "bot", "-n", "team"]);
    let err = admin.fails(&[t, "get", "pods", "-n", "team"], None);
    assert!(err.contains("Unauthorized"), "{err}");
}

#[test]
fn client_certificate_user_is_limited_by_role_bindings() {
    let c = TestCluster::start(&[]);
    let admin = Kubectl::admin(&c);
    admin.ok_stdin(&["apply", "-f", "-"], Some(DEV_RBAC));
    admin.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "dev",
        "--from-literal=a=b",
    ]);
    let jane = Kubectl::with_kubeconfig(&c, &cert_kubeconfig(&c, "jane", &["devs"]));

    let out = jane.ok(&[
        "create",
        "configmap",
        "mine",
        "-n",
        "dev",
        "--from-literal=a=b",
    ]);
    assert!(out.contains("configmap/mine created"), "{out}");
    let names = jane.ok(&["get", "cm", "-n", "dev", "-o", "name"]);
    assert!(names.lines().any(|l| l == "configmap/mine"), "{names}");
    // The group from the certificate's O= field grants Secrets.
    let secrets = jane.ok(&["get", "secrets", "-n", "dev", "-o", "name"]);
    assert!(secrets.lines().any(|l| l == "secret/s"), "{secrets}");

    let err = jane.fails(&["get", "cm", "-n", "default"], None);
    assert!(err.contains("Forbidden"), "{err}");
    assert!(err.contains("\"jane\""), "{err}");
    let err = jane.fails(&["delete", "cm", "mine", "-n", "dev"], None);
    assert!(err.contains("Forbidden"), "{err}");
    assert_eq!(
        can_i(&jane, &["create", "configmaps", "-n", "dev"]),
        (Some(0), "yes".to_string())
    );
    assert_eq!(
        can_i(&jane, &["create", "configmaps", "-n", "default"]),
        (Some(1), "no".to_string())
    );
}

#[tokio::test]
async fn client_certificate_user_gets_403_outside_its_role() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams};
    let c = TestCluster::start(&[]);
    Kubectl::admin(&c).ok_stdin(&["apply", "-f", "-"], Some(DEV_RBAC));
    let jane = client_for(&cert_kubeconfig(&c, "jane", &[])).await;
    let dev: Api<ConfigMap> = Api::namespaced(jane.clone(), "dev");
    dev.list(&ListParams::default())
        .await
        .expect("jane lists dev");
    let default: Api<ConfigMap> = Api::namespaced(jane, "default");
    match default.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"), "{s:?}");
            assert!(s.message.contains("jane"), "{}", s.message);
        }
        other => panic!("expected 403, got {other:?}"),
    }
}

#[test]
fn impersonation_by_admin_and_refused_without_rights() {
    let c = TestCluster::start(&[]);
    let admin = Kubectl::admin(&c);
    admin.ok_stdin(&["apply", "-f", "-"], Some(DEV_RBAC));
    admin.ok(&["get", "cm", "-n", "dev", "--as=jane"]);
    let err = admin.fails(&["get", "cm", "-n", "default", "--as=jane"], None);
    assert!(
        err.contains("Forbidden") && err.contains("\"jane\""),
        "{err}"
    );
    let err = admin.fails(&["get", "secrets", "-n", "dev", "--as=jane"], None);
    assert!(err.contains("Forbidden"), "{err}");
    admin.ok(&[
        "get",
        "secrets",
        "-n",
        "dev",
        "--as=jane",
        "--as-group=devs",
    ]);
    let who = json(&admin.ok(&[
        "auth",
        "whoami",
        "--as=jane",
        "--as-group=devs",
        "-o",
        "json",
    ]));
    assert_eq!(who["status"]["userInfo"]["username"], "jane", "{who}");
    let groups = who["status"]["userInfo"]["groups"].to_string();
    assert!(groups.contains("\"devs\""), "{who}");

    // jane holds no impersonate rights: her --as is refused.
    let jane = Kubectl::with_kubeconfig(&c, &cert_kubeconfig(&c, "jane", &[]));
    let err = jane.fails(&["get", "cm", "-n", "dev", "--as=system:admin"], None);
    assert!(err.contains("Forbidden"), "{err}");
    assert!(err.contains("impersonate"), "{err}");

    // Granted impersonation of exactly one user, she may become bob and nobody else.
    admin.ok_stdin(
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-bob}
rules:
- apiGroups: [""]
  resources: [users]
  verbs: [impersonate]
  resourceNames: [bob]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: jane-impersonates-bob}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-bob}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
"#,
        ),
    );
    let who = json(&jane.ok(&["auth", "whoami", "--as=bob", "-o", "json"]));
    assert_eq!(who["status"]["userInfo"]["username"], "bob", "{who}");
    // (Not through `auth whoami`: kubectl replaces that 403 with its own message.)
    let err = jane.fails(&["get", "cm", "-n", "dev", "--as=carol"], None);
    assert!(
        err.contains("impersonate") && err.contains("carol"),
        "{err}"
    );
}

#[test]
fn whoami_for_admin_and_certificate_user() {
    let c = TestCluster::start(&[]);
    let admin = Kubectl::admin(&c);
    let who = json(&admin.ok(&["auth", "whoami", "-o", "json"]));
    assert_eq!(who["kind"], "SelfSubjectReview", "{who}");
    assert_eq!(
        who["status"]["userInfo"]["username"], "system:admin",
        "{who}"
    );
    assert!(
        who["status"]["userInfo"]["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g == "system:masters")),
        "{who}"
    );
    let jane = Kubectl::with_kubeconfig(&c, &cert_kubeconfig(&c, "jane", &["devs", "qa"]));
    let table = jane.ok(&["auth", "whoami"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Username") && l.trim_end().ends_with("jane")),
        "{table}"
    );
    let who = json(&jane.ok(&["auth", "whoami", "-o", "json"]));
    assert_eq!(who["status"]["userInfo"]["username"], "jane", "{who}");
    let groups: Vec<&str> = who["status"]["userInfo"]["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(|g| g.as_str()).collect())
        .unwrap_or_default();
    for g in ["devs", "qa", "system:authenticated"] {
        assert!(groups.contains(&g), "{g} missing: {who}");
    }
}
