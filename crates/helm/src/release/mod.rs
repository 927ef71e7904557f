//! What an install/upgrade (or `helm template`) makes of a chart: the release manifest text,
//! the hooks, and the notes — Helm's `renderResources`.

use crate::chart::Chart;
use crate::engine::{RenderError, RenderOptions};
use crate::manifest::{Manifest, ManifestError, sort_manifests};
use crate::values::Map;

pub mod record;

pub use record::{ReleaseRecord, Status};

/// A rendered release.
#[derive(Clone, Debug, Default)]
pub struct RenderedRelease {
    /// `---\n# Source: PATH\nDOC\n` for every non-hook document in install order (CRDs from
    /// `crds/` first when asked) — Helm's `release.Manifest`.
    pub manifest: String,
    /// Hook documents, in install order.
    pub hooks: Vec<Manifest>,
    /// The root chart's `NOTES.txt`, rendered.
    pub notes: String,
}

/// Why a release could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A rendered document is not YAML.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
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

/// The `crds/` files (path, text) of `chart` and of the subcharts `user` values enable, in
/// Helm's order (`Chart.CRDObjects`): what `helm install` creates before rendering, and leaves
/// out of the release manifest.
pub fn release_crds(chart: &Chart, user: &Map) -> Result<Vec<(String, String)>, ReleaseError> {
    let mut chart = chart.clone();
    crate::values::process_dependencies(&mut chart, user).map_err(RenderError::from)?;
    let mut out = Vec::new();
    crd_objects(&chart, None, &mut out);
    Ok(out)
}

/// Renders `chart` with `user` values into a release manifest, hooks and notes.
pub fn render_release(
    chart: &Chart,
    user: &Map,
    opts: &RenderOptions,
    include_crds: bool,
) -> Result<RenderedRelease, ReleaseError> {
    let (chart, mut files) = crate::engine::render_chart_full(chart, user, opts)?;
    let notes_key = format!("{}/templates/NOTES.txt", chart.name());
    let notes = files.get(&notes_key).cloned().unwrap_or_default();
    files.retain(|k, _| !k.ends_with("NOTES.txt"));
    let (hooks, manifests) = sort_manifests(&files)?;
    let mut manifest = String::new();
    if include_crds {
        let mut crds = Vec::new();
        crd_objects(&chart, None, &mut crds);
        for (path, data) in crds {
            manifest.push_str(&format!("---\n# Source: {path}\n{data}\n"));
        }
    }
    for m in &manifests {
        manifest.push_str(&format!("---\n# Source: {}\n{}\n", m.path, m.content));
    }
    Ok(RenderedRelease {
        manifest,
        hooks,
        notes,
    })
}
