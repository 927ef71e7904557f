//! In-cluster credentials: `orrery serve` run in a pod, with no `--kubeconfig`, uses the pod's
//! ServiceAccount (token and CA mounted under [`SERVICE_ACCOUNT_DIR`], the API server's
//! address in `KUBERNETES_SERVICE_HOST`/`_PORT`) — kube-rs's `Config::incluster()`.
//!
//! Tests cannot create that directory, so [`TEST_DIR_ENV`] names another one standing in for
//! it; only tests set it. With it, the client is built from that directory through a
//! kubeconfig of the same content (server from the environment, the CA file, the token file,
//! re-read as kube-rs re-reads the mounted token), rather than by `Config::incluster()`,
//! which reads the fixed path.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where Kubernetes mounts a pod's ServiceAccount credentials.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Test-only: a directory standing in for [`SERVICE_ACCOUNT_DIR`].
pub const TEST_DIR_ENV: &str = "ORRERY_TEST_SERVICEACCOUNT_DIR";

/// Which host cluster `orrery serve` uses when `--kubeconfig` is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HostCluster {
    /// In a pod (a ServiceAccount token mounted and `KUBERNETES_SERVICE_HOST` set): that
    /// cluster; elsewhere an embedded one.
    Auto,
    /// Always an embedded cluster, even in a pod.
    Embedded,
    /// The cluster the pod runs in; an error outside a pod.
    InCluster,
}

/// The ServiceAccount directory when this process runs in a pod.
pub fn detect() -> Option<PathBuf> {
    let dir = std::env::var_os(TEST_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR));
    let host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
    in_pod(host.as_deref(), &dir).then_some(dir)
}

/// The ServiceAccount directory to use for the host cluster, or `None` for an embedded one.
pub fn host(choice: HostCluster) -> anyhow::Result<Option<PathBuf>> {
    match choice {
        HostCluster::Embedded => Ok(None),
        HostCluster::Auto => Ok(detect()),
        HostCluster::InCluster => detect().map(Some).ok_or_else(|| {
            anyhow::anyhow!(
                "--host-cluster in-cluster, but this is not a pod: KUBERNETES_SERVICE_HOST is \
                 unset or no ServiceAccount token is mounted in {SERVICE_ACCOUNT_DIR}; give \
                 --kubeconfig instead"
            )
        }),
    }
}

/// Whether the API server's address is in the environment and a token is mounted in `dir`.
pub fn in_pod(service_host: Option<&str>, dir: &Path) -> bool {
    service_host.is_some_and(|h| !h.trim().is_empty()) && dir.join("token").is_file()
}

/// A client configuration from the pod's ServiceAccount in `dir`.
pub async fn config(dir: &Path) -> anyhow::Result<kube::Config> {
    if dir == Path::new(SERVICE_ACCOUNT_DIR) {
        return kube::Config::incluster()
            .context("reading the pod's ServiceAccount credentials (in-cluster configuration)");
    }
    let host =
        std::env::var("KUBERNETES_SERVICE_HOST").context("KUBERNETES_SERVICE_HOST is not set")?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let text = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let kubeconfig = kube::config::Kubeconfig {
        clusters: vec![kube::config::NamedCluster {
            name: "in-cluster".into(),
            cluster: Some(kube::config::Cluster {
                server: Some(format!("https://{host}:{port}")),
                certificate_authority: Some(text("ca.crt")),
                ..Default::default()
            }),
            other: Default::default(),
        }],
        auth_infos: vec![kube::config::NamedAuthInfo {
            name: "in-cluster".into(),
            auth_info: Some(kube::config::AuthInfo {
                token_file: Some(text("token")),
                ..Default::default()
            }),
            other: Default::default(),
        }],
        contexts: vec![kube::config::NamedContext {
            name: "in-cluster".into(),
            context: Some(kube::config::Context {
                cluster: "in-cluster".into(),
                user: Some("in-cluster".into()),
                namespace,
                ..Default::default()
            }),
            other: Default::default(),
        }],
        current_context: Some("in-cluster".into()),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .with_context(|| {
            format!(
                "reading the ServiceAccount credentials in {}",
                dir.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_has_the_service_host_and_a_mounted_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!in_pod(Some("10.96.0.1"), dir.path()), "no token yet");
        std::fs::write(dir.path().join("token"), "t").expect("write");
        assert!(in_pod(Some("10.96.0.1"), dir.path()));
        assert!(!in_pod(None, dir.path()), "no service host");
        assert!(!in_pod(Some(" "), dir.path()), "an empty service host");
        assert!(!in_pod(Some("10.96.0.1"), &dir.path().join("missing")));
    }
}
