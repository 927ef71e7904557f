//! kubectl with a downloaded user kubeconfig, through the platform.
mod common;

use common::kubectl::{kubectl, out};
use common::*;
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_with_a_downloaded_kubeconfig() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "kim").await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "kim-dev").await;
    add_member(
        c,
        &admin,
        &format!("{IAM}/namespaces/kim-dev/namespacemembers"),
        "kim",
        "operator",
    )
    .await;
    let kim = c.login("kim", USER_PW).await;
    let r = c
        .inner
        .get(format!(
            "{}/kapis/resources.kubesphere.io/v1alpha2/users/kim/kubeconfig",
            c.base
        ))
        .bearer_auth(&kim)
        .send()
        .await
        .expect("send");
    let yaml = r.text().await.expect("kubeconfig");
    let kc = env.dir.path().join("kim.kubeconfig");
    std::fs::write(&kc, yaml).expect("write");
    let home = env.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let k = Kubectl { kc, home };
    works_in_the_users_project(&k).await;
    forbidden_elsewhere(&k).await;
    whoami_and_can_i(&k).await;
    revoking_the_token_locks_kubectl_out(c, &kim, &k).await;
}

/// kubectl with a kubeconfig and a HOME of its own.
struct Kubectl {
    kc: std::path::PathBuf,
    home: std::path::PathBuf,
}

impl Kubectl {
    /// Runs kubectl on the blocking pool.
    async fn run(&self, args: Vec<&'static str>) -> std::process::Output {
        let (kc, home) = (self.kc.clone(), self.home.clone());
        tokio::task::spawn_blocking(move || kubectl(&kc, &home, &args))
            .await
            .expect("join")
    }
}
/// Works in the user's project (create sends a protobuf body).
async fn works_in_the_users_project(k: &Kubectl) {
    let o = k
        .run(vec![
            "create",
            "configmap",
            "app-config",
            "-n",
            "kim-dev",
            "--from-literal=k=v",
        ])
        .await;
    assert!(o.status.success(), "{}", out(&o));
    let o = k
        .run(vec!["get", "configmaps", "-n", "kim-dev", "-o", "name"])
        .await;
    assert!(
        o.status.success() && out(&o).contains("configmap/app-config"),
        "{}",
        out(&o)
    );
    let o = k
        .run(vec![
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "-n",
            "kim-dev",
        ])
        .await;
    assert!(o.status.success(), "{}", out(&o));
    let o = k
        .run(vec!["delete", "configmap", "app-config", "-n", "kim-dev"])
        .await;
    assert!(o.status.success(), "{}", out(&o));
}

/// Elsewhere: a 403 Status.
async fn forbidden_elsewhere(k: &Kubectl) {
    let o = k.run(vec!["get", "pods", "-n", "kube-system"]).await;
    assert!(!o.status.success());
    let text = out(&o);
    assert!(
        text.contains("Forbidden") && text.contains("\"kim\""),
        "{text}"
    );
    let o = k
        .run(vec!["create", "configmap", "x", "-n", "default"])
        .await;
    assert!(
        !o.status.success() && out(&o).contains("forbidden"),
        "{}",
        out(&o)
    );
}

/// whoami and can-i answer for the user.
async fn whoami_and_can_i(k: &Kubectl) {
    let o = k
        .run(vec![
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .await;
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "kim");
    let o = k
        .run(vec![
            "auth",
            "can-i",
            "create",
            "configmaps",
            "-n",
            "kim-dev",
        ])
        .await;
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "yes",
        "{}",
        out(&o)
    );
    let o = k
        .run(vec!["auth", "can-i", "list", "pods", "-n", "kube-system"])
        .await;
    assert!(
        String::from_utf8_lossy(&o.stdout).trim().starts_with("no"),
        "{}",
        out(&o)
    );
    let o = k
        .run(vec!["auth", "can-i", "--list", "-n", "kim-dev"])
        .await;
    assert!(
        o.status.success() && out(&o).contains("configmaps"),
        "{}",
        out(&o)
    );
}

/// Revoking the kubeconfig token locks kubectl out.
async fn revoking_the_token_locks_kubectl_out(c: &Client, kim: &str, k: &Kubectl) {
    let v = c
        .ok(Method::GET, &format!("{IAM}/users/kim/tokens"), kim, None)
        .await;
    for t in v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "kubeconfig")
    {
        c.ok(
            Method::DELETE,
            &format!(
                "{IAM}/users/kim/tokens/{}",
                t["id"].as_str().unwrap_or_default()
            ),
            kim,
            None,
        )
        .await;
    }
    let o = k.run(vec!["get", "configmaps", "-n", "kim-dev"]).await;
    assert!(
        !o.status.success() && out(&o).contains("must be logged in"),
        "{}",
        out(&o)
    );
}
