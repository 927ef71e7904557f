//! Releases against a live cluster, as Helm 4 makes them: install, upgrade, rollback,
//! uninstall, list and history, with hooks, `--wait`, and Helm's own release storage.
//!
//! Connect with [`connect`], wrap the client in [`Resources`], then call [`install`],
//! [`upgrade`], [`rollback`], [`uninstall`], [`list`] or [`history`]. Releases are their
//! stored JSON (`release.v1.Release`), so ones Helm made are handled as faithfully as ours.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

mod hooks;
mod ops;
pub mod resources;
pub mod storage;
pub mod wait;

pub use ops::{
    InstallOptions, UpgradeOptions, history, install, list, rollback, uninstall, upgrade,
};
pub use resources::Resources;

/// Why a release action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The kubeconfig could not be read.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// A request to the cluster failed.
    #[error("kubernetes: {msg}", msg = kube_message(.0))]
    Kube(#[from] kube::Error),
    /// Applying or deleting one object failed.
    #[error("{0}: {msg}", msg = kube_message(.1))]
    Apply(String, kube::Error),
    /// The chart could not be rendered.
    #[error(transparent)]
    Render(#[from] crate::release::ReleaseError),
    /// A manifest is not a list of Kubernetes objects.
    #[error("manifest: {0}")]
    Manifest(String),
    /// No stored release of that name.
    #[error("release: not found")]
    NotFound,
    /// Install of a name that has revisions.
    #[error("cannot re-use a name that is still in use")]
    InUse,
    /// Another install/upgrade/rollback has not finished.
    #[error("another operation (install/upgrade/rollback) is in progress")]
    InProgress,
    /// Upgrade or rollback of a release with nothing deployed, or a revision that is missing.
    #[error("{0}")]
    State(String),
    /// The cluster does not serve a kind the chart uses.
    #[error(
        "resource mapping not found for name: {name:?}: no matches for kind {kind:?} in version {api_version:?}"
    )]
    NoKind {
        /// Object name.
        name: String,
        /// Kind.
        kind: String,
        /// apiVersion.
        api_version: String,
    },
    /// An object the release would create exists and belongs to something else.
    #[error("{0}")]
    Exists(String),
    /// A hook failed.
    #[error("{1} hook {0} failed: {2}")]
    Hook(String, String, String),
    /// `--wait` or a hook ran out of time.
    #[error("timed out waiting for the condition: {0}")]
    Timeout(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// The API server's own message for an API error (its `Status`), else the error's text.
fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// A client for the cluster of `kubeconfig` (or the usual kubeconfig/in-cluster inference),
/// and the kubeconfig context's default namespace.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<(kube::Client, String), ActionError> {
    let config = match kubeconfig {
        Some(p) => {
            let kc = Kubeconfig::read_from(p).map_err(|e| ActionError::Config(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| ActionError::Config(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| ActionError::Config(e.to_string()))?,
    };
    let ns = config.default_namespace.clone();
    Ok((kube::Client::try_from(config)?, ns))
}

/// The current time as Go's `time.Time` marshals it (RFC 3339 with nanoseconds).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
