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

/// Sets `labels` on every object of a rendered release, manifest and hooks alike: what a
/// `--post-renderer` adding common labels does, done in-process so the stored manifest (and so
/// an upgrade, rollback or uninstall) carries them. Each labelled document is written again
/// as Helm's `toYaml` writes it; documents that are not objects are left as they are.
pub fn add_labels(
    rendered: &mut RenderedRelease,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<(), ReleaseError> {
    if labels.is_empty() {
        return Ok(());
    }
    let mut out = String::with_capacity(rendered.manifest.len());
    // The manifest is `---\n# Source: PATH\nDOC\n` per document (see `render_release`); a
    // document cannot hold that separator itself (`split_manifests` would have split it).
    for part in rendered.manifest.split("---\n# Source: ") {
        if part.is_empty() {
            continue;
        }
        let (path, content) = part.split_once('\n').unwrap_or((part, ""));
        let content = content.strip_suffix('\n').unwrap_or(content);
        let labelled = label_document(path, content, labels)?;
        out.push_str(&format!("---\n# Source: {path}\n{labelled}\n"));
    }
    rendered.manifest = out;
    for h in &mut rendered.hooks {
        h.content = label_document(&h.path, &h.content, labels)?;
    }
    Ok(())
}

fn label_document(
    path: &str,
    content: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<String, ReleaseError> {
    use gotmpl::{Dict, Value};
    let err = |message: String| ManifestError {
        path: path.to_string(),
        source: crate::yaml::YamlError { line: 0, message },
    };
    let doc = crate::yaml::parse_value(content).map_err(|source| ManifestError {
        path: path.to_string(),
        source,
    })?;
    let Value::Map(top) = &doc else {
        return Ok(content.to_string());
    };
    let meta = match top.get("metadata") {
        Some(Value::Map(m)) => m,
        _ => {
            let m = Dict::new(Default::default());
            top.insert("metadata".into(), Value::Map(m.clone()));
            m
        }
    };
    let have = match meta.get("labels") {
        Some(Value::Map(l)) => l,
        _ => {
            let l = Dict::new(Default::default());
            meta.insert("labels".into(), Value::Map(l.clone()));
            l
        }
    };
    for (k, v) in labels {
        have.insert(k.clone(), Value::str(v.as_str()));
    }
    Ok(crate::yaml::to_yaml(&doc).map_err(|e| err(e.0))?)
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

#[cfg(test)]
mod label_tests {
    use super::*;

    #[test]
    fn every_object_and_hook_gets_the_labels_and_the_rest_stays() {
        let chart = crate::chart::load_archive(
            &crate::chart::package_files(
                "demo",
                &[
                    ("Chart.yaml", b"apiVersion: v2\nname: demo\nversion: 1.0.0\n"),
                    (
                        "templates/a.yaml",
                        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {keep: me}\ndata: {x: \"0777\", num: \"1\"}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 80}]}\n",
                    ),
                    (
                        "templates/hook.yaml",
                        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h\n  annotations: {helm.sh/hook: pre-install}\n",
                    ),
                ],
            ),
            &Default::default(),
        )
        .expect("chart");
        let mut r =
            render_release(&chart, &Map::new(), &RenderOptions::default(), false).expect("render");
        let labels = std::collections::BTreeMap::from([(
            "kubesphere.io/extension-ref".to_string(),
            "demo".to_string(),
        )]);
        add_labels(&mut r, &labels).expect("labels");
        let docs = crate::action::resources::manifest_objects(&r.manifest).expect("objects");
        assert_eq!(docs.len(), 2, "{}", r.manifest);
        for d in &docs {
            assert_eq!(
                d["metadata"]["labels"]["kubesphere.io/extension-ref"],
                "demo"
            );
        }
        let a = docs
            .iter()
            .find(|d| d["metadata"]["name"] == "a")
            .expect("a");
        assert_eq!(a["metadata"]["labels"]["keep"], "me");
        // Strings that look like numbers stay strings.
        assert_eq!(a["data"]["x"], "0777");
        assert_eq!(a["data"]["num"], "1");
        assert!(
            r.manifest.contains("# Source: demo/templates/a.yaml"),
            "{}",
            r.manifest
        );
        assert_eq!(r.hooks.len(), 1);
        assert!(
            r.hooks[0]
                .content
                .contains("kubesphere.io/extension-ref: demo"),
            "{}",
            r.hooks[0].content
        );
        // No labels: nothing rewritten.
        let before = r.manifest.clone();
        add_labels(&mut r, &Default::default()).expect("none");
        assert_eq!(r.manifest, before);
    }
}
