//! Helm's rendering engine (`pkg/engine`): every template of a chart and its subcharts parsed
//! into one set (so `define`s are shared), each executed with its chart's scope, and the result
//! a map from template path to output.

mod funcs;
mod function_list;
mod objects;
mod toml;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gotmpl::{FuncMap, Limits, TemplateSet, Value};

pub use funcs::{HELM_FUNCTIONS, register};
pub use function_list::{HELM_V4_FUNCTIONS, functions_doc, functions_table};
/// `json.Marshal(v)` as Helm's `toJson` writes it (sorted keys, HTML-safe escapes, Go floats).
pub fn to_json(v: &gotmpl::Value) -> Result<String, String> {
    gotmpl::sprig::json::to_json(v, true, None)
}
pub use objects::{Capabilities, DEFAULT_API_VERSIONS, Files, KubeVersion};

use crate::chart::Chart;
use crate::values::Map;
use crate::values::schema::SchemaError;

/// Why a chart could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Values could not be coalesced (a subchart's values are not a table).
    #[error(transparent)]
    Coalesce(#[from] crate::values::coalesce::CoalesceError),
    /// The values violate a `values.schema.json`.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The chart's `kubeVersion` excludes the target cluster.
    #[error(
        "chart requires kubeVersion: {required} which is incompatible with Kubernetes {actual}"
    )]
    KubeVersion {
        /// The chart's constraint.
        required: String,
        /// The cluster version.
        actual: String,
    },
    /// A template does not parse.
    #[error("parse error at ({location}): {message}")]
    Parse {
        /// `path:line`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A template failed while executing (including `required`/`fail` and exceeded limits).
    #[error("{0}")]
    Exec(String),
}

/// The release a chart is rendered for (`.Release`).
#[derive(Clone, Debug)]
pub struct ReleaseOptions {
    /// Release name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Revision (1 on install).
    pub revision: i64,
    /// Rendering for an install.
    pub is_install: bool,
    /// Rendering for an upgrade.
    pub is_upgrade: bool,
}

impl Default for ReleaseOptions {
    fn default() -> Self {
        ReleaseOptions {
            name: "release-name".into(),
            namespace: "default".into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }
    }
}

/// Everything besides the chart and values that a render depends on.
#[derive(Clone)]
pub struct RenderOptions {
    /// `.Release`.
    pub release: ReleaseOptions,
    /// `.Capabilities`.
    pub capabilities: Capabilities,
    /// Wall-clock budget for executing all templates.
    pub timeout: Duration,
    /// Output budget (bytes, all templates together).
    pub max_output: usize,
    /// Maximum nesting of `include`/`tpl`/`template`.
    pub max_depth: usize,
    /// Skip `values.schema.json` validation.
    pub skip_schema_validation: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            release: ReleaseOptions::default(),
            capabilities: Capabilities::default(),
            timeout: Duration::from_secs(60),
            max_output: 256 << 20,
            max_depth: 150,
            skip_schema_validation: false,
        }
    }
}

fn helm_funcs() -> Arc<FuncMap> {
    static FUNCS: OnceLock<Arc<FuncMap>> = OnceLock::new();
    FUNCS
        .get_or_init(|| {
            let mut f = gotmpl::sprig();
            register(&mut f);
            Arc::new(f)
        })
        .clone()
}

/// Every function a template can call (Sprig's and Helm's), sorted.
pub fn function_names() -> Vec<String> {
    helm_funcs().names()
}

/// `ToRenderValues`: the top-level template data (`.Values` coalesced and validated,
/// `.Release`, `.Capabilities`, `.Chart`).
pub fn to_render_values(
    chart: &Chart,
    user: &Map,
    opts: &RenderOptions,
) -> Result<Map, RenderError> {
    let vals = crate::values::coalesce_values(chart, user)?;
    if !opts.skip_schema_validation {
        crate::values::schema::validate(chart, &vals)?;
    }
    let r = &opts.release;
    let mut release = BTreeMap::new();
    release.insert("Name".into(), Value::str(r.name.as_str()));
    release.insert("Namespace".into(), Value::str(r.namespace.as_str()));
    release.insert("IsUpgrade".into(), Value::Bool(r.is_upgrade));
    release.insert("IsInstall".into(), Value::Bool(r.is_install));
    release.insert("Revision".into(), Value::int(r.revision));
    release.insert("Service".into(), Value::str("Helm"));
    let mut top = BTreeMap::new();
    top.insert("Chart".into(), chart.metadata.to_value(true));
    top.insert(
        "Capabilities".into(),
        Value::Object(Arc::new(opts.capabilities.clone())),
    );
    top.insert("Release".into(), Value::map(release));
    top.insert("Values".into(), Value::map(vals));
    Ok(top)
}

/// Processes dependencies and builds the render values, then renders — what `helm template`
/// and `helm install` do with a loaded chart and user values.
pub fn render_chart(
    chart: &Chart,
    user: &Map,
    opts: &RenderOptions,
) -> Result<BTreeMap<String, String>, RenderError> {
    render_chart_full(chart, user, opts).map(|(_, out)| out)
}

/// [`render_chart`], also returning the chart after dependency processing (only enabled
/// subcharts, aliases applied) — needed for its CRDs and hooks.
pub fn render_chart_full(
    chart: &Chart,
    user: &Map,
    opts: &RenderOptions,
) -> Result<(Chart, BTreeMap<String, String>), RenderError> {
    let mut chart = chart.clone();
    fresh_values(&mut chart);
    let user = crate::values::coalesce::deep_copy_map(user);
    crate::values::process_dependencies(&mut chart, &user)?;
    if !chart.metadata.kube_version.is_empty()
        && !crate::values::semver::is_compatible_range(
            &chart.metadata.kube_version,
            &opts.capabilities.kube_version.version,
        )
    {
        return Err(RenderError::KubeVersion {
            required: chart.metadata.kube_version.clone(),
            actual: opts.capabilities.kube_version.version.clone(),
        });
    }
    let top = to_render_values(&chart, &user, opts)?;
    let out = render(&chart, &top, opts)?;
    Ok((chart, out))
}

/// Gives every chart its own copy of its values: templates may mutate maps in place.
fn fresh_values(chart: &mut Chart) {
    chart.values = crate::values::coalesce::deep_copy_map(&chart.values);
    for d in chart.dependencies.iter_mut() {
        fresh_values(d);
    }
}

struct Renderable {
    source: Arc<[u8]>,
    scope: usize,
    base_path: String,
}

fn collect(
    chart: &Chart,
    parent_path: Option<&str>,
    values: Value,
    top: &Map,
    scopes: &mut Vec<Map>,
    out: &mut BTreeMap<String, Renderable>,
) -> Value {
    let full_path = match parent_path {
        Some(p) => format!("{p}/charts/{}", chart.name()),
        None => chart.name().to_string(),
    };
    let mut subcharts = BTreeMap::new();
    for dep in &chart.dependencies {
        let sub_values = match values.as_map().and_then(|m| m.get(dep.name()).cloned()) {
            Some(Value::Map(m)) => Value::Map(m.clone()),
            _ => Value::map(BTreeMap::new()),
        };
        let next = collect(dep, Some(&full_path), sub_values, top, scopes, out);
        subcharts.insert(dep.name().to_string(), next);
    }
    let mut next = BTreeMap::new();
    next.insert(
        "Chart".into(),
        chart.metadata.to_value(parent_path.is_none()),
    );
    next.insert(
        "Files".into(),
        Value::Object(Arc::new(Files::new(&chart.files))),
    );
    next.insert(
        "Release".into(),
        top.get("Release").cloned().unwrap_or_default(),
    );
    next.insert(
        "Capabilities".into(),
        top.get("Capabilities").cloned().unwrap_or_default(),
    );
    next.insert("Values".into(), values);
    next.insert("Subcharts".into(), Value::map(subcharts));
    let scope = scopes.len();
    scopes.push(next.clone());
    for t in &chart.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if chart.is_library() && !base.starts_with('_') {
            continue;
        }
        out.insert(
            format!("{full_path}/{}", t.name),
            Renderable {
                source: t.data.clone(),
                scope,
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    Value::map(next)
}

/// Helm's parse order: deeper paths first, then reverse lexical order (later `define`s win).
fn sort_templates(names: &mut [String]) {
    names.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
}

fn parse_error(e: &gotmpl::TemplateError, filename: &str) -> RenderError {
    let text = e.to_string();
    let tokens: Vec<&str> = text.split(": ").collect();
    if tokens.len() < 2 {
        return RenderError::Parse {
            location: filename.to_string(),
            message: text,
        };
    }
    RenderError::Parse {
        location: tokens[1].to_string(),
        message: tokens[tokens.len() - 1].to_string(),
    }
}

/// One level of Helm's `TraceableError`: location, message, executed function.
type Trace = (String, String, String);

/// Helm's `parseTemplateExecErrorString` on one level of the error chain.
fn traceable(s: &str) -> Option<(Trace, Option<String>)> {
    let rem = s.strip_prefix("template: ")?;
    if rem.starts_with("no template ") {
        return Some(((String::new(), s.to_string(), String::new()), None));
    }
    let cut = |m: &str| {
        m.find(" template:")
            .map_or(m.to_string(), |i| m[..i].to_string())
    };
    // The wrapped error of a failed call ("error calling F: INNER") is the next level.
    let inner = |m: &str| {
        m.strip_prefix("error calling ")
            .and_then(|r| r.split_once(": "))
            .map(|(_, inner)| inner.to_string())
    };
    if let Some((tname, after)) = rem.split_once(": executing ")
        && let Some(after) = after.strip_prefix('"')
        && let Some(q) = after.find('"')
        && let Some(at) = after[q + 1..].strip_prefix(" at <")
        && let Some((loc, msg)) = at.split_once(">: ")
    {
        let func = format!("executing \"{}\" at <{loc}>:", &after[..q]);
        return Some(((tname.to_string(), cut(msg), func), inner(msg)));
    }
    let sep = rem.rfind(": ")?;
    Some((
        (rem[..sep].to_string(), cut(&rem[sep + 2..]), String::new()),
        None,
    ))
}

/// Helm's `reformatExecErrorMsg`: `required`/`fail` messages as `execution error at (…)`,
/// other execution errors as an indented trace of the template call chain.
fn exec_error(e: &gotmpl::TemplateError, filename: &str) -> RenderError {
    let text = e.to_string();
    if let gotmpl::TemplateError::Limit(msg) = e {
        return RenderError::Exec(format!("rendering {filename}: {msg}"));
    }
    if !matches!(e, gotmpl::TemplateError::Exec { .. }) {
        return RenderError::Exec(text);
    }
    let tokens: Vec<&str> = text.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return RenderError::Exec(format!("execution error in ({filename}): {text}"));
    }
    if let (Some(s), Some(end)) = (
        tokens[2].find(funcs::WARN_START),
        tokens[2].rfind(funcs::WARN_END),
    ) && s + funcs::WARN_START.len() <= end
    {
        let msg = &tokens[2][s + funcs::WARN_START.len()..end];
        return RenderError::Exec(format!("execution error at ({}): {msg}", tokens[1]));
    }
    let mut traces: Vec<Trace> = Vec::new();
    let mut current = Some(text.clone());
    while let Some(level) = current.take() {
        let Some((tr, next)) = traceable(&level) else {
            return RenderError::Exec(text);
        };
        if traces.last() != Some(&tr) {
            traces.push(tr);
        }
        current = next;
    }
    let mut out = String::new();
    for (loc, msg, func) in traces {
        if !loc.is_empty() {
            out.push_str(&format!("{loc}\n  "));
        }
        if !func.is_empty() {
            out.push_str(&format!("{func}\n    "));
        }
        if !msg.is_empty() {
            out.push_str(&format!("{msg}\n"));
        }
    }
    RenderError::Exec(out.trim().to_string())
}

/// Parsed template sets of recent renders: charts are rendered again and again (install,
/// upgrade, dry-run, previews), and parsing is a large share of a render.
type ParseCache = Mutex<Vec<(Vec<(String, Arc<[u8]>)>, Arc<TemplateSet>)>>;

const PARSE_CACHE_ENTRIES: usize = 16;

fn same_sources(a: &[(String, Arc<[u8]>)], b: &[(String, Arc<[u8]>)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, da), (kb, db))| ka == kb && (Arc::ptr_eq(da, db) || da == db))
}

fn parse_cache() -> &'static ParseCache {
    static CACHE: OnceLock<ParseCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

/// Forgets every cached parse, so the next render parses again (as Helm does on every
/// render; the benchmark uses it to time cold renders).
pub fn clear_parse_cache() {
    if let Ok(mut c) = parse_cache().lock() {
        c.clear();
    }
}

/// Parses the templates in Helm's order into one set, reusing an identical earlier parse.
fn parse_all(sources: Vec<(String, Arc<[u8]>)>) -> Result<Arc<TemplateSet>, RenderError> {
    let cache = parse_cache();
    if let Ok(c) = cache.lock()
        && let Some((_, set)) = c.iter().find(|(k, _)| same_sources(k, &sources))
    {
        return Ok(set.clone());
    }
    let mut set = TemplateSet::new(helm_funcs());
    for (k, data) in &sources {
        set.parse(k, &String::from_utf8_lossy(data))
            .map_err(|e| parse_error(&e, k))?;
    }
    let set = Arc::new(set);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= PARSE_CACHE_ENTRIES {
            c.remove(0);
        }
        c.push((sources, set.clone()));
    }
    Ok(set)
}

/// Stack for the rendering thread: deeply nested `include`s recurse in the executor, and the
/// depth limit must trip before the stack does.
const RENDER_STACK: usize = 512 << 20;

/// `engine.Render`: renders every template of `chart` (already dependency-processed) with the
/// top-level data from [`to_render_values`]. Partials (`_*`) are parsed but not in the result.
pub fn render(
    chart: &Chart,
    top: &Map,
    opts: &RenderOptions,
) -> Result<BTreeMap<String, String>, RenderError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("helm-render".into())
            .stack_size(RENDER_STACK)
            .spawn_scoped(s, || render_on_this_thread(chart, top, opts))
            .map_err(|e| RenderError::Exec(format!("cannot start the rendering thread: {e}")))?
            .join()
            .map_err(|_| RenderError::Exec("rendering panicked".into()))?
    })
}

fn render_on_this_thread(
    chart: &Chart,
    top: &Map,
    opts: &RenderOptions,
) -> Result<BTreeMap<String, String>, RenderError> {
    let mut scopes = Vec::new();
    let mut tpls = BTreeMap::new();
    let values = top
        .get("Values")
        .cloned()
        .unwrap_or_else(|| Value::map(BTreeMap::new()));
    collect(chart, None, values, top, &mut scopes, &mut tpls);
    let mut keys: Vec<String> = tpls.keys().cloned().collect();
    sort_templates(&mut keys);
    let sources: Vec<(String, Arc<[u8]>)> = keys
        .iter()
        .map(|k| (k.clone(), tpls[k].source.clone()))
        .collect();
    let set = parse_all(sources)?;
    let limits = Limits {
        max_depth: opts.max_depth,
        deadline: Some(Instant::now() + opts.timeout),
        max_output: opts.max_output,
        missing_key_error: false,
    };
    let mut rendered = BTreeMap::new();
    let mut total = 0usize;
    for k in &keys {
        let base = k.rsplit('/').next().unwrap_or(k);
        if base.starts_with('_') {
            continue;
        }
        let r = &tpls[k];
        let mut data = scopes[r.scope].clone();
        let mut tmpl = BTreeMap::new();
        tmpl.insert("Name".to_string(), Value::str(k.as_str()));
        tmpl.insert("BasePath".to_string(), Value::str(r.base_path.as_str()));
        data.insert("Template".into(), Value::map(tmpl));
        let mut out = String::new();
        set.execute(k, &Value::map(data), &mut out, &limits)
            .map_err(|e| exec_error(&e, k))?;
        total += out.len();
        if total > opts.max_output {
            return Err(RenderError::Exec(format!(
                "rendered output exceeds the limit of {} bytes",
                opts.max_output
            )));
        }
        rendered.insert(k.clone(), funcs::strip_no_value(out));
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests;
