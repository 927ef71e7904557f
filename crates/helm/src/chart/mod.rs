//! Charts: the in-memory model ([`Chart`]) and the loaders for directories and `.tgz` archives.

mod glob;
mod ignore;
mod load;
mod metadata;

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

pub use glob::glob_match;
pub use ignore::Rules;
pub use load::{
    LoadError, LoadLimits, archive_files, dir_files, load, load_archive, load_dir, load_files,
    package_files,
};
pub use metadata::{Dependency, Maintainer, Metadata};

/// One file of a chart, by its chart-relative path.
#[derive(Clone, Debug)]
pub struct File {
    /// Path relative to the chart root, with `/` separators.
    pub name: String,
    /// The content (UTF-8 BOM removed, as Helm does).
    pub data: Arc<[u8]>,
}

/// A loaded chart with its subcharts, like Helm's `chart.Chart`.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// `Chart.yaml` (plus `requirements.yaml` dependencies for apiVersion v1).
    pub metadata: Metadata,
    /// Files under `templates/`.
    pub templates: Vec<File>,
    /// Every other file (`.Files`), including `crds/`.
    pub files: Vec<File>,
    /// `values.yaml`, already parsed.
    pub values: BTreeMap<String, Value>,
    /// `values.schema.json`, if any.
    pub schema: Option<Arc<[u8]>>,
    /// Subcharts (from `charts/`), after dependency processing only the enabled ones.
    pub dependencies: Vec<Chart>,
}

impl Chart {
    /// The chart's name (an alias once dependencies are processed).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether the chart is a library chart (templates shared, not rendered).
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type.eq_ignore_ascii_case("library")
    }

    /// Files under `crds/` (installed before the rest with `--include-crds`).
    pub fn crds(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| f.name.starts_with("crds/"))
    }
}
