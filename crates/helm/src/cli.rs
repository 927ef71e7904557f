//! `orrery helm template`: renders a chart and prints it the way `helm template` does.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::chart::{Chart, LoadLimits};
use crate::engine::{Capabilities, KubeVersion, ReleaseOptions, RenderOptions};
use crate::values::Map;
use crate::values::strvals;

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
    Load(#[from] crate::chart::LoadError),
    /// A values file could not be read or parsed.
    #[error("{0}")]
    Values(String),
    /// A `--set` flag is malformed.
    #[error("failed parsing --set data: {0}")]
    Set(#[from] strvals::SetError),
    /// `--kube-version` is not a version.
    #[error("invalid kube version {0:?}")]
    KubeVersion(String),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] crate::engine::RenderError),
    /// A rendered manifest is not YAML.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
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
        let m = crate::yaml::parse_map(&text)
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

fn crd_objects(chart: &Chart, parent: Option<&str>, out: &mut Vec<(String, String)>) {
    let full = match parent {
        Some(p) => format!("{p}/charts/{}", chart.name()),
        None => chart.name().to_string(),
    };
    for f in chart.crds() {
        if [".yaml", ".yml", ".json"]
            .iter()
            .any(|e| f.name.ends_with(e))
        {
            out.push((
                format!("{full}/{}", f.name),
                String::from_utf8_lossy(&f.data).to_string(),
            ));
        }
    }
    for d in &chart.dependencies {
        crd_objects(d, Some(&full), out);
    }
}

/// Renders `args.chart` and writes the manifests like `helm template` (CRDs first with
/// `--include-crds`, then resources in install order, then hooks; NOTES.txt left out).
pub fn template_command(args: TemplateArgs, out: &mut impl Write) -> Result<(), CliError> {
    let chart = crate::chart::load(&args.chart, &LoadLimits::default())?;
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
    let (chart, mut files) = crate::engine::render_chart_full(&chart, &user, &opts)?;
    files.retain(|k, _| !k.ends_with("NOTES.txt"));
    let (hooks, manifests) = crate::manifest::sort_manifests(&files)?;
    let mut body = String::new();
    if args.include_crds {
        let mut crds = Vec::new();
        crd_objects(&chart, None, &mut crds);
        for (path, data) in crds {
            body.push_str(&format!("---\n# Source: {path}\n{data}\n"));
        }
    }
    for m in &manifests {
        body.push_str(&format!("---\n# Source: {}\n{}\n", m.path, m.content));
    }
    let mut text = format!("{}\n", body.trim());
    for h in &hooks {
        text.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.content));
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}
