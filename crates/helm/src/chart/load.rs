//! Loading charts from directories and `.tgz` archives, as Helm's `loader` package does, with
//! limits for untrusted input (sizes, file counts, path traversal, symlinks, nesting).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

use super::{Chart, File, Metadata, Rules};

/// Why a chart could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The archive is not a valid gzip'd tar.
    #[error("invalid chart archive: {0}")]
    Archive(String),
    /// An archive entry leaves the chart directory (`../`, absolute path).
    #[error("chart illegally references a path outside the chart: {0:?}")]
    PathTraversal(String),
    /// A symlink in a chart directory points outside the chart.
    #[error("chart contains a symlink pointing outside the chart: {0}")]
    SymlinkEscape(String),
    /// The chart (or a file of it) exceeds a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// The chart has more files than allowed.
    #[error("chart has more than {0} files")]
    TooManyFiles(usize),
    /// Subcharts nested deeper than allowed.
    #[error("subcharts nested more than {0} levels deep")]
    TooDeep(usize),
    /// `Chart.yaml` is missing.
    #[error("Chart.yaml file is missing")]
    MissingChartYaml,
    /// A YAML file of the chart is malformed.
    #[error("cannot load {file}: {source}")]
    Yaml {
        /// Which file.
        file: String,
        /// The parse error.
        source: crate::yaml::YamlError,
    },
    /// The chart metadata is invalid.
    #[error("validation: {0}")]
    Invalid(String),
    /// A subchart failed to load.
    #[error("error unpacking subchart {name} in {parent}: {source}")]
    Subchart {
        /// The subchart's entry under `charts/`.
        name: String,
        /// The parent chart.
        parent: String,
        /// Why.
        source: Box<LoadError>,
    },
}

/// Caps for untrusted charts.
#[derive(Clone, Debug)]
pub struct LoadLimits {
    /// Total decompressed size of an archive (Helm: 100 MiB).
    pub max_total_bytes: u64,
    /// Size of one file (Helm: 5 MiB).
    pub max_file_bytes: u64,
    /// Number of files in a chart, subcharts included.
    pub max_files: usize,
    /// Nesting of subcharts.
    pub max_depth: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_total_bytes: 100 * 1024 * 1024,
            max_file_bytes: 5 * 1024 * 1024,
            max_files: 20_000,
            max_depth: 16,
        }
    }
}

fn io_err(path: &Path, source: std::io::Error) -> LoadError {
    LoadError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Loads a chart from a directory or a `.tgz` file.
pub fn load(path: &Path, limits: &LoadLimits) -> Result<Chart, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    if meta.is_dir() {
        load_dir(path, limits)
    } else {
        let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
        load_archive(&data, limits)
    }
}

fn strip_bom(data: Vec<u8>) -> Vec<u8> {
    match data.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => data,
    }
}

/// Loads a chart directory, honouring its `.helmignore` and following symlinks that stay
/// inside the chart.
pub fn load_dir(dir: &Path, limits: &LoadLimits) -> Result<Chart, LoadError> {
    load_files(dir_files(dir, limits)?, limits, 0)
}

/// The files of a chart directory as [`load_dir`] reads them (`.helmignore` honoured, symlinks
/// kept inside the chart, limits applied), named relative to the chart root — what `helm
/// package` puts in an archive (see [`package_files`]).
pub fn dir_files(dir: &Path, limits: &LoadLimits) -> Result<Vec<File>, LoadError> {
    let root = dir.canonicalize().map_err(|e| io_err(dir, e))?;
    let mut rules = match std::fs::read_to_string(root.join(".helmignore")) {
        Ok(text) => Rules::parse(&text).map_err(LoadError::Invalid)?,
        Err(_) => Rules::default(),
    };
    rules.add_defaults();
    let mut files = Vec::new();
    let mut total = 0u64;
    walk(&root, &root, "", &rules, limits, &mut files, &mut total, 0)?;
    Ok(files)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    root: &Path,
    dir: &Path,
    rel: &str,
    rules: &Rules,
    limits: &LoadLimits,
    files: &mut Vec<File>,
    total: &mut u64,
    depth: usize,
) -> Result<(), LoadError> {
    if depth > 64 {
        return Err(LoadError::TooDeep(64));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().to_string();
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let path = entry.path();
        let real = path.canonicalize().map_err(|e| io_err(&path, e))?;
        if !real.starts_with(root) {
            return Err(LoadError::SymlinkEscape(rel_path));
        }
        let meta = std::fs::metadata(&real).map_err(|e| io_err(&path, e))?;
        if meta.is_dir() {
            if rules.ignore(&rel_path, true) {
                continue;
            }
            walk(
                root,
                &real,
                &rel_path,
                rules,
                limits,
                files,
                total,
                depth + 1,
            )?;
            continue;
        }
        if rules.ignore(&rel_path, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(LoadError::Invalid(format!(
                "cannot load irregular file {rel_path}"
            )));
        }
        if meta.len() > limits.max_file_bytes {
            return Err(LoadError::TooLarge(format!(
                "chart file {name:?} is larger than the maximum file size {}",
                limits.max_file_bytes
            )));
        }
        *total += meta.len();
        if *total > limits.max_total_bytes {
            return Err(LoadError::TooLarge(format!(
                "chart is larger than the maximum size {}",
                limits.max_total_bytes
            )));
        }
        if files.len() >= limits.max_files {
            return Err(LoadError::TooManyFiles(limits.max_files));
        }
        let data = std::fs::read(&real).map_err(|e| io_err(&path, e))?;
        files.push(File {
            name: rel_path,
            data: strip_bom(data).into(),
        });
    }
    Ok(())
}

/// Cleans an archive entry name relative to the chart root (dropping the top directory);
/// `None` for entries outside it.
fn clean_entry(raw: &str) -> Result<Option<String>, LoadError> {
    let raw = raw.replace('\\', "/");
    let Some((_, rest)) = raw.split_once('/') else {
        if raw == "Chart.yaml" {
            return Err(LoadError::Archive(
                "chart yaml not in base directory".into(),
            ));
        }
        return Ok(None);
    };
    if rest.starts_with('/') {
        return Err(LoadError::PathTraversal(raw.clone()));
    }
    let mut parts: Vec<&str> = Vec::new();
    for comp in Path::new(rest).components() {
        match comp {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or("")),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(LoadError::PathTraversal(raw.clone()));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(LoadError::PathTraversal(raw.clone()));
            }
        }
    }
    if parts.is_empty() {
        return Err(LoadError::PathTraversal(raw.clone()));
    }
    let name = parts.join("/");
    if name.len() > 2 && name.as_bytes()[1] == b':' {
        return Err(LoadError::PathTraversal(raw));
    }
    Ok(Some(name))
}

/// A reader that fails once more than `left` bytes came out of it (archive bombs).
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(
                "decompressed chart is larger than the maximum size",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Loads a chart from the bytes of a `.tgz` archive.
pub fn load_archive(data: &[u8], limits: &LoadLimits) -> Result<Chart, LoadError> {
    load_archive_at(data, limits, 0)
}

fn too_large(limits: &LoadLimits) -> LoadError {
    LoadError::TooLarge(format!(
        "decompressed chart is larger than the maximum size {}",
        limits.max_total_bytes
    ))
}

fn load_archive_at(data: &[u8], limits: &LoadLimits, depth: usize) -> Result<Chart, LoadError> {
    load_files(archive_files(data, limits)?, limits, depth)
}

/// The files of a `.tgz` chart archive, with the same checks `load_archive` makes (sizes,
/// count, paths that would escape the chart, links), names relative to the chart root.
pub fn archive_files(data: &[u8], limits: &LoadLimits) -> Result<Vec<File>, LoadError> {
    if !data.starts_with(b"\x1f\x8b") {
        return Err(LoadError::Archive(
            "file does not appear to be a gzipped archive".into(),
        ));
    }
    let gz = flate2::read::GzDecoder::new(data);
    let capped = Capped {
        inner: gz,
        left: limits.max_total_bytes,
    };
    let mut archive = tar::Archive::new(capped);
    let mut files = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| LoadError::Archive(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            if e.to_string().contains("maximum size") {
                too_large(limits)
            } else {
                LoadError::Archive(e.to_string())
            }
        })?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).to_string();
        let Some(name) = clean_entry(&raw)? else {
            continue;
        };
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(LoadError::SymlinkEscape(raw));
        }
        let size = entry.header().size().unwrap_or(0);
        if size > limits.max_file_bytes {
            return Err(LoadError::TooLarge(format!(
                "decompressed chart file {raw:?} is larger than the maximum file size {}",
                limits.max_file_bytes
            )));
        }
        if files.len() >= limits.max_files {
            return Err(LoadError::TooManyFiles(limits.max_files));
        }
        let mut buf = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut buf)
            .map_err(|e| {
                if e.to_string().contains("maximum size") {
                    too_large(limits)
                } else {
                    LoadError::Archive(e.to_string())
                }
            })?;
        files.push(File {
            name,
            data: strip_bom(buf).into(),
        });
    }
    if files.is_empty() {
        return Err(LoadError::Archive("no files in chart archive".into()));
    }
    // The tar reader stops at its end-of-archive blocks; reading the gzip stream to its end
    // checks its CRC-32 and length, so a damaged archive is refused rather than read with
    // altered files.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(|e| {
        if e.to_string().contains("maximum size") {
            too_large(limits)
        } else {
            LoadError::Archive(format!("the archive is damaged: {e}"))
        }
    })?;
    Ok(files)
}

fn yaml_err(file: &str) -> impl Fn(crate::yaml::YamlError) -> LoadError + '_ {
    move |source| LoadError::Yaml {
        file: file.to_string(),
        source,
    }
}

/// Builds a chart from its files (Helm's `LoadFiles`); `depth` counts subchart nesting.
pub fn load_files(files: Vec<File>, limits: &LoadLimits, depth: usize) -> Result<Chart, LoadError> {
    if depth > limits.max_depth {
        return Err(LoadError::TooDeep(limits.max_depth));
    }
    let mut c = Chart::default();
    let mut metadata: Option<Metadata> = None;
    if let Some(f) = files.iter().find(|f| f.name == "Chart.yaml") {
        let mut m = Metadata::default();
        m.merge_yaml(&String::from_utf8_lossy(&f.data))
            .map_err(yaml_err("Chart.yaml"))?;
        if m.api_version.is_empty() {
            m.api_version = "v1".into();
        }
        metadata = Some(m);
    }
    let mut subcharts: BTreeMap<String, Vec<File>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for f in files {
        let text = || String::from_utf8_lossy(&f.data).to_string();
        match f.name.as_str() {
            "Chart.yaml" | "Chart.lock" => {}
            "values.yaml" => c.values = load_values(&text()).map_err(yaml_err("values.yaml"))?,
            "values.schema.json" => c.schema = Some(f.data.clone()),
            "requirements.yaml" => {
                let m = metadata.get_or_insert_with(Metadata::default);
                m.merge_yaml(&text())
                    .map_err(yaml_err("requirements.yaml"))?;
                if m.api_version == "v1" {
                    c.files.push(f);
                }
            }
            "requirements.lock" => {
                if metadata.as_ref().is_some_and(|m| m.api_version == "v1") {
                    c.files.push(f);
                }
            }
            n if n.starts_with("templates/") => c.templates.push(f),
            n if n.starts_with("charts/") => {
                if n.ends_with(".prov") {
                    c.files.push(f);
                    continue;
                }
                let rest = &n["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or(rest).to_string();
                if !subcharts.contains_key(&cname) {
                    order.push(cname.clone());
                }
                subcharts.entry(cname).or_default().push(File {
                    name: rest.to_string(),
                    data: f.data,
                });
            }
            _ => c.files.push(f),
        }
    }
    c.metadata = metadata.ok_or(LoadError::MissingChartYaml)?;
    validate(&c.metadata)?;
    for cname in order {
        let Some(files) = subcharts.remove(&cname) else {
            continue;
        };
        if cname.starts_with('_') || cname.starts_with('.') {
            continue;
        }
        let sub = if cname.ends_with(".tgz") {
            match files.iter().find(|f| f.name == cname) {
                Some(f) => load_archive_at(&f.data, limits, depth + 1),
                None => Err(LoadError::Archive(format!("expected {cname}"))),
            }
        } else {
            let inner: Vec<File> = files
                .into_iter()
                .filter_map(|f| {
                    let (_, rest) = f.name.split_once('/')?;
                    Some(File {
                        name: rest.to_string(),
                        data: f.data,
                    })
                })
                .collect();
            load_files(inner, limits, depth + 1)
        };
        let sub = sub.map_err(|e| LoadError::Subchart {
            name: cname.clone(),
            parent: c.metadata.name.clone(),
            source: Box::new(e),
        })?;
        c.dependencies.push(sub);
    }
    Ok(c)
}

fn validate(m: &Metadata) -> Result<(), LoadError> {
    if m.name.is_empty() {
        return Err(LoadError::Invalid("chart.metadata.name is required".into()));
    }
    if m.name.contains('/') || m.name.contains("..") {
        return Err(LoadError::Invalid(format!(
            "chart.metadata.name {:?} is invalid",
            m.name
        )));
    }
    if m.version.is_empty() {
        return Err(LoadError::Invalid(
            "chart.metadata.version is required".into(),
        ));
    }
    if !m.chart_type.is_empty()
        && !m.chart_type.eq_ignore_ascii_case("application")
        && !m.chart_type.eq_ignore_ascii_case("library")
    {
        return Err(LoadError::Invalid(
            "chart.metadata.type must be application or library".into(),
        ));
    }
    Ok(())
}

/// Reads `values.yaml`: every document, later ones merged over earlier (Helm's `LoadValues`).
pub fn load_values(text: &str) -> Result<BTreeMap<String, gotmpl::Value>, crate::yaml::YamlError> {
    let mut out = BTreeMap::new();
    for doc in crate::yaml::parse_documents(text)? {
        match doc {
            gotmpl::Value::Map(m) => merge_maps(&mut out, &m.snapshot()),
            gotmpl::Value::Nil => {}
            _ => {
                return Err(crate::yaml::YamlError {
                    line: 1,
                    message: "cannot unmarshal yaml document: not a map".into(),
                });
            }
        }
    }
    Ok(out)
}

fn merge_maps(dst: &mut BTreeMap<String, gotmpl::Value>, src: &BTreeMap<String, gotmpl::Value>) {
    for (k, v) in src {
        if let (gotmpl::Value::Map(sv), Some(gotmpl::Value::Map(dv))) = (v, dst.get(k)) {
            let mut merged = dv.to_btree();
            merge_maps(&mut merged, &sv.snapshot());
            dst.insert(k.clone(), gotmpl::Value::map(merged));
            continue;
        }
        dst.insert(k.clone(), v.clone());
    }
}

/// Writes `files` (chart-relative names) as a chart archive laid out as `helm package` lays it
/// out: every file under `{chart}/`, gzip-compressed tar. The inverse of [`archive_files`].
pub fn package_files(chart: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        // Writing into memory cannot fail; names are the caller's own (chart-relative).
        let _ = tar.append_data(&mut h, format!("{chart}/{name}"), *data);
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .unwrap_or_default()
}

#[cfg(test)]
mod package_tests {
    use super::*;

    #[test]
    fn a_packaged_chart_loads_back() {
        let chart_yaml = b"apiVersion: v2\nname: demo\nversion: 1.2.3\n";
        let tpl = b"kind: ConfigMap\n";
        let tgz = package_files(
            "demo",
            &[("Chart.yaml", chart_yaml), ("templates/cm.yaml", tpl)],
        );
        let files = archive_files(&tgz, &LoadLimits::default()).expect("files");
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Chart.yaml", "templates/cm.yaml"]);
        let chart = load_archive(&tgz, &LoadLimits::default()).expect("chart");
        assert_eq!(chart.metadata.name, "demo");
        assert_eq!(chart.metadata.version, "1.2.3");
        assert_eq!(&*chart.templates[0].data, tpl);
    }
}
