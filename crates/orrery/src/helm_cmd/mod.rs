//! `orrery helm`: Helm's command line over the `helm` library — `template` renders a chart and
//! prints it the way `helm template` does; `releases` has install, upgrade, rollback, uninstall,
//! list and history against a kubeconfig's cluster.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use helm::chart::LoadLimits;
use helm::engine::{Capabilities, KubeVersion, ReleaseOptions, RenderOptions};
use helm::values::Map;
use helm::values::strvals;

/// Arguments of `helm template`.
#[derive(Args, Debug, Clone)]
pub struct TemplateArgs {
    /// Chart directory or `.tgz` archive.
    pub chart: PathBuf,
    /// Values files, later ones win.
    #[arg(short = 'f', long = "values")]
    pub values: Vec<PathBuf>,
    /// Set values on the command line (`a.b=c,d[0]=e`).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Set string values on the command line.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// Set JSON values on the command line (`a={"b":1}`).
    #[arg(long = "set-json")]
    pub set_json: Vec<String>,
    /// Namespace of the release.
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    pub namespace: String,
    /// Release name.
    #[arg(long = "release-name", default_value = "release-name")]
    pub release_name: String,
    /// Print the chart's `crds/` too.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Kubernetes version for `.Capabilities.KubeVersion`.
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(short = 'a', long = "api-versions")]
    pub api_versions: Vec<String>,
}

/// Why `helm template` failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The chart could not be loaded.
    #[error(transparent)]
    Load(#[from] helm::chart::LoadError),
    /// A values file could not be read or parsed.
    #[error("{0}")]
    Values(String),
    /// A `--set` flag is malformed.
    #[error("failed parsing --set data: {0}")]
    Set(#[from] strvals::SetError),
    /// `--kube-version` is not a version.
    #[error("invalid kube version {0:?}")]
    KubeVersion(String),
    /// Rendering or splitting the manifests failed.
    #[error(transparent)]
    Release(#[from] helm::release::ReleaseError),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Helm's `values.Options.MergeValues`: `-f` files, then `--set-json`, `--set`, `--set-string`.
pub fn user_values(args: &TemplateArgs) -> Result<Map, CliError> {
    let mut base = Map::new();
    for f in &args.values {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CliError::Values(format!("{}: {e}", f.display())))?;
        let m = helm::yaml::parse_map(&text)
            .map_err(|e| CliError::Values(format!("failed to parse {}: {e}", f.display())))?;
        strvals::merge_maps(&mut base, &m);
    }
    for s in &args.set_json {
        strvals::parse_set_json(s, &mut base)?;
    }
    for s in &args.set {
        strvals::parse_set(s, &mut base)?;
    }
    for s in &args.set_string {
        strvals::parse_set_string(s, &mut base)?;
    }
    Ok(base)
}

/// Renders `args.chart` and writes the manifests like `helm template` (CRDs first with
/// `--include-crds`, then resources in install order, then hooks; NOTES.txt left out).
pub fn template_command(args: TemplateArgs, out: &mut impl Write) -> Result<(), CliError> {
    let chart = helm::chart::load(&args.chart, &LoadLimits::default())?;
    let user = user_values(&args)?;
    let mut caps = Capabilities::default();
    if let Some(kv) = &args.kube_version {
        caps.kube_version =
            KubeVersion::parse(kv).ok_or_else(|| CliError::KubeVersion(kv.clone()))?;
    }
    caps.api_versions.extend(args.api_versions.iter().cloned());
    let opts = RenderOptions {
        release: ReleaseOptions {
            name: args.release_name.clone(),
            namespace: args.namespace.clone(),
            ..ReleaseOptions::default()
        },
        capabilities: caps,
        ..RenderOptions::default()
    };
    let rel = helm::release::render_release(&chart, &user, &opts, args.include_crds)?;
    let mut text = format!("{}\n", rel.manifest.trim());
    for h in &rel.hooks {
        text.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.content));
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

mod releases;
pub use releases::{
    HistoryArgs, InstallArgs, ListArgs, RollbackArgs, UninstallArgs, history_command,
    install_command, list_command, rollback_command, uninstall_command, upgrade_command,
};
