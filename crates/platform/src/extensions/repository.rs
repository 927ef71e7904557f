//! Extension repositories: a `kubesphere.io/v1alpha1` `Repository` names a Helm repository of
//! extension charts (`url`, with `basicAuth`, `caBundle`, `insecure`); its sync (leader, its own
//! loop) reads `index.yaml`, downloads the newest `depth` versions of each chart that import
//! (digest-checked and loaded with Helm's archive checks, through the App Store's [`remote`];
//! a version imported before with the same digest is not downloaded again), reads each
//! package's `extension.yaml` ([`package::parse_manifest`]) and writes an `ExtensionVersion`
//! `<ext>-<version>` per package, the `Extension` from the newest, and the `Category` it names.
//!
//! A repository syncs when it was never synced, when its spec changed (`generation`), when the
//! annotation [`SYNC_REQUESTED`] takes a new value (on demand), every
//! `updateStrategy.interval` when one is set, and a failed one again after [`FAILED_RETRY`].
//!
//! A repository that cannot be read (unreachable, refused credential, malformed index, a sync
//! longer than `updateStrategy.timeout`) ends `Failed` and nothing is changed. A bad package
//! (no `extension.yaml`, an invalid name or version, a name other than the chart's, a digest
//! mismatch, an archive Helm refuses) is skipped with its reason in the status
//! (`PartiallySynced`) and imports nothing; what an earlier sync imported of that version stays.
//! Each extension is imported whole or not at all: versions created for it are taken back if
//! its Extension cannot be written. Versions that leave the index (or the `depth` newest)
//! are removed, except one an InstallPlan names or that is installed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::chart::credential_for;
use super::package::{self, CATEGORY_LABEL, EXTENSION_REF};
use crate::appstore::remote::{self, Wanted};
use crate::appstore::repos::{self as helm_repos, Candidate};
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// The label naming the Repository an ExtensionVersion or Extension came from.
pub const REPOSITORY_REF: &str = "kubesphere.io/repository-ref";
/// Annotation asking for a sync now: each new value is one request.
pub const SYNC_REQUESTED: &str = "orrery.io/sync-requested";
/// Versions kept per extension when `depth` is not given.
pub const DEFAULT_DEPTH: usize = 3;
/// How long a sync's downloads may take when `updateStrategy.timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// A failed repository is tried again after this long (or its interval, if shorter).
pub const FAILED_RETRY: Duration = Duration::from_secs(300);
/// Charts read at once (each downloads its versions one after another).
const PARALLEL_DOWNLOADS: usize = 4;
/// The largest icon file of a package made into a `data:` URL.
const MAX_ICON: usize = 256 * 1024;
/// The longest status message written.
const MAX_MESSAGE: usize = 4096;
/// Sync locks are shared with the App Store's repositories, under this prefix.
const LOCK_PREFIX: &str = "kubesphere.io/repositories/";

/// `status.state` while syncing.
pub const SYNCING: &str = "Syncing";
/// `status.state` after a sync that imported every package.
pub const SYNCED: &str = "Synced";
/// `status.state` after a sync that skipped bad packages (named in `status.message`).
pub const PARTIALLY_SYNCED: &str = "PartiallySynced";
/// `status.state` after a sync that could not read the repository (nothing changed).
pub const FAILED: &str = "Failed";

/// A Repository's settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The Helm repository's URL.
    pub url: String,
    /// Versions kept per extension.
    pub depth: usize,
    /// Time between periodic syncs (none: no periodic sync).
    pub interval: Option<Duration>,
    /// Bound on a sync's reading of the repository.
    pub timeout: Duration,
}

fn duration(v: &Value, field: &str) -> Result<Option<Duration>, String> {
    let Some(text) = v.as_str().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let ns = gofmt::parse_duration(text)
        .map_err(|_| format!("{field} {text:?} is not a duration (such as 30m or 6h)"))?;
    let ns = u64::try_from(ns).map_err(|_| format!("{field} {text:?} is negative"))?;
    Ok(Some(Duration::from_nanos(ns)).filter(|d| !d.is_zero()))
}

/// Reads a Repository's spec: `url` (http or https), `depth` (unset: [`DEFAULT_DEPTH`]; 0 or
/// more than the App Store's [`helm_repos::MAX_VERSIONS`]: that many), `updateStrategy`
/// `interval` and `timeout` (Go durations).
pub fn settings(repo: &Value) -> Result<Settings, String> {
    let spec = &repo["spec"];
    let url = spec["url"].as_str().unwrap_or_default().trim().to_string();
    if url.is_empty() {
        return Err(if spec["image"].as_str().is_some_and(|s| !s.is_empty()) {
            "spec.image (a repository shipped as an image) is not supported: give spec.url, \
                 the URL of a Helm repository"
        } else {
            "spec.url is required: the URL of a Helm repository"
        }
        .into());
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!(
            "spec.url {url:?} is not the http(s) URL of a Helm repository"
        ));
    }
    let depth = match spec["depth"].as_u64() {
        None => DEFAULT_DEPTH,
        Some(0) => helm_repos::MAX_VERSIONS,
        Some(d) => usize::try_from(d)
            .unwrap_or(usize::MAX)
            .min(helm_repos::MAX_VERSIONS),
    };
    let strategy = &spec["updateStrategy"];
    Ok(Settings {
        url,
        depth,
        interval: duration(&strategy["interval"], "updateStrategy.interval")?,
        timeout: duration(&strategy["timeout"], "updateStrategy.timeout")?
            .unwrap_or(DEFAULT_TIMEOUT),
    })
}

fn time(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Whether `repo` is due for a sync at `now` (see the module's documentation).
pub fn due(repo: &Value, now: chrono::DateTime<chrono::Utc>) -> bool {
    let status = &repo["status"];
    let Some(last) = time(&status["lastSyncTime"]) else {
        return true;
    };
    // A sync that this replica runs holds the repository's lock (the pass skips it); one left
    // `Syncing` by a replica that stopped leading is taken up again.
    if status["state"] == SYNCING {
        return true;
    }
    if repo["metadata"]["generation"].as_i64() != status["observedGeneration"].as_i64() {
        return true;
    }
    let asked = repo["metadata"]["annotations"][SYNC_REQUESTED]
        .as_str()
        .unwrap_or_default();
    if !asked.is_empty() && Some(asked) != status["observedSyncRequest"].as_str() {
        return true;
    }
    let elapsed = (now - last).to_std().unwrap_or_default();
    let interval = duration(&repo["spec"]["updateStrategy"]["interval"], "")
        .ok()
        .flatten();
    let failed = status["state"].as_str() == Some(FAILED);
    match (interval, failed) {
        (Some(i), true) => elapsed >= i.min(FAILED_RETRY),
        (Some(i), false) => elapsed >= i,
        (None, true) => elapsed >= FAILED_RETRY,
        (None, false) => false,
    }
}

/// Syncs the Repositories that are due while this replica leads.
pub async fn run(
    state: Arc<AppState>,
    mut leader: watch::Receiver<bool>,
    resync: Duration,
    shutdown: CancellationToken,
) {
    let mut known: Option<BTreeSet<String>> = None;
    loop {
        if *leader.borrow_and_update()
            && let Err(e) = reconcile(&state, &mut known).await
        {
            tracing::warn!(error = %e, "extension repositories");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            // (A closed channel disables this branch rather than spinning.)
            Ok(()) = leader.changed() => {}
            _ = tokio::time::sleep(resync) => {}
        }
    }
}

/// One pass: syncs each Repository that is due; when Repositories went away (and on the first
/// pass), removes what they had imported. `known` is the names seen by the previous pass.
pub async fn reconcile(
    state: &AppState,
    known: &mut Option<BTreeSet<String>>,
) -> Result<(), PlatformError> {
    let repos = kubeapi::list(&state.client, Kind::ExtRepository, None, "").await?;
    let names: BTreeSet<String> = repos
        .iter()
        .filter_map(|r| r["metadata"]["name"].as_str().map(String::from))
        .collect();
    if known.as_ref().is_none_or(|k| !k.is_subset(&names)) {
        remove_orphans(state, &names).await?;
    }
    *known = Some(names);
    let now = chrono::Utc::now();
    for repo in repos {
        if repo["metadata"]["deletionTimestamp"].is_string() || !due(&repo, now) {
            continue;
        }
        if let Err(e) = sync_and_record(state, &repo).await {
            let name = repo["metadata"]["name"].as_str().unwrap_or_default();
            tracing::warn!(repository = %name, error = %e, "recording an extension repository's sync");
        }
    }
    Ok(())
}

/// Syncs `repo` and records the outcome in its status; returns the Repository as recorded. A
/// sync of it already running in this replica records its own outcome (the Repository is
/// returned as it is).
pub async fn sync_and_record(state: &AppState, repo: &Value) -> Result<Value, PlatformError> {
    let name = repo["metadata"]["name"].as_str().unwrap_or_default();
    let lock = state.repo_syncs.of(&format!("{LOCK_PREFIX}{name}"));
    let Ok(_one) = lock.try_lock() else {
        return Ok(repo.clone());
    };
    let asked = repo["metadata"]["annotations"][SYNC_REQUESTED].clone();
    let before = repo["status"]["conditions"].clone();
    kubeapi::merge_patch_status_unread(
        &state.client,
        Kind::ExtRepository,
        None,
        name,
        json!({"status": {"state": SYNCING}}),
    )
    .await?;
    let (phase, reason, message) = match sync(state, repo).await {
        Ok(o) if o.skipped.is_empty() => (SYNCED, "Synced", o.summary()),
        Ok(o) => (PARTIALLY_SYNCED, "PackagesSkipped", o.summary()),
        Err(why) => (FAILED, "SyncFailed", why),
    };
    let message = bounded(&message);
    if phase == SYNCED {
        tracing::info!(repository = %name, outcome = %message, "extension repository synced");
    } else {
        tracing::warn!(repository = %name, outcome = %message, "extension repository sync");
    }
    let now = crate::appstore::now();
    let ok = if phase == FAILED { "False" } else { "True" };
    // The transition time moves only when the condition's status does.
    let since = before
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Synced" && c["status"] == ok)
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now.as_str())
        .to_string();
    kubeapi::merge_patch_status(
        &state.client,
        Kind::ExtRepository,
        None,
        name,
        json!({"status": {
            "state": phase, "message": message, "lastSyncTime": now,
            "observedGeneration": repo["metadata"]["generation"],
            "observedSyncRequest": asked,
            "conditions": [{"type": "Synced", "status": ok, "reason": reason,
                "message": message, "lastTransitionTime": since}],
        }}),
    )
    .await
}

fn bounded(text: &str) -> String {
    if text.len() <= MAX_MESSAGE {
        return text.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// What a sync did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// ExtensionVersions created or replaced.
    pub imported: usize,
    /// ExtensionVersions already as the index says.
    pub unchanged: usize,
    /// ExtensionVersions removed (out of the index or beyond `depth`).
    pub removed: usize,
    /// Packages or extensions not imported, each with its reason.
    pub skipped: Vec<String>,
}

impl Outcome {
    fn summary(&self) -> String {
        let mut s = format!(
            "{} extension version(s) imported, {} unchanged, {} removed",
            self.imported, self.unchanged, self.removed
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!(
                "; {} skipped: {}",
                self.skipped.len(),
                self.skipped.join("; ")
            ));
        }
        s
    }
}

/// One version of a chart after the download phase.
enum Fetched {
    /// An ExtensionVersion to write.
    New(Value),
    /// Already imported with the digest the index gives (by name).
    Unchanged(String),
    /// Not importable: the version and why.
    Bad(String, String),
}

/// Syncs `repo` now: the outcome, or why the repository could not be read (then nothing was
/// changed).
pub async fn sync(state: &AppState, repo: &Value) -> Result<Outcome, String> {
    let s = settings(repo)?;
    let repo_name = repo["metadata"]["name"].as_str().unwrap_or_default();
    let client = remote::client_for(&credential_for(repo, true))?;
    let err = |e: PlatformError| e.to_string();
    let selector = format!("{REPOSITORY_REF}={repo_name}");
    let mine = kubeapi::list(&state.client, Kind::ExtensionVersion, None, &selector)
        .await
        .map_err(err)?;
    let fetched = tokio::time::timeout(s.timeout, fetch(&client, repo, &s, &mine))
        .await
        .map_err(|_| {
            format!(
                "reading the repository took longer than updateStrategy.timeout ({} s)",
                s.timeout.as_secs()
            )
        })??;
    let extensions: HashMap<String, Value> =
        kubeapi::list(&state.client, Kind::Extension, None, "")
            .await
            .map_err(err)?
            .into_iter()
            .filter_map(|e| Some((e["metadata"]["name"].as_str()?.to_string(), e)))
            .collect();
    let plans = kubeapi::list(&state.client, Kind::InstallPlan, None, "")
        .await
        .map_err(err)?;
    let guard = Protected::new(&plans, &extensions);
    let mut by_ext: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for v in mine {
        let ext = v["metadata"]["labels"][EXTENSION_REF]
            .as_str()
            .unwrap_or_default()
            .to_string();
        by_ext.entry(ext).or_default().push(v);
    }
    let mut fetched = fetched;
    let names: BTreeSet<String> = fetched.keys().chain(by_ext.keys()).cloned().collect();
    let mut outcome = Outcome::default();
    for ext in names {
        let got = fetched.remove(&ext).unwrap_or_default();
        let there = by_ext.remove(&ext).unwrap_or_default();
        let ctx = Import {
            state,
            repo: repo_name,
            ext: &ext,
            existing: extensions.get(&ext),
            guard: &guard,
        };
        ctx.run(got, there, &mut outcome).await;
    }
    Ok(outcome)
}

/// Versions that stay whatever the index says: those an InstallPlan names and those installed;
/// and extensions an InstallPlan names.
struct Protected {
    versions: HashSet<(String, String)>,
    extensions: HashSet<String>,
}

impl Protected {
    fn new(plans: &[Value], extensions: &HashMap<String, Value>) -> Protected {
        let mut versions = HashSet::new();
        let mut names = HashSet::new();
        for p in plans {
            let e = &p["spec"]["extension"];
            if let Some(n) = e["name"].as_str() {
                names.insert(n.to_string());
                for v in [e["version"].as_str(), p["status"]["version"].as_str()]
                    .into_iter()
                    .flatten()
                {
                    versions.insert((n.to_string(), v.to_string()));
                }
            }
        }
        for (n, e) in extensions {
            if let Some(v) = e["status"]["installedVersion"]
                .as_str()
                .filter(|v| !v.is_empty())
            {
                versions.insert((n.clone(), v.to_string()));
            }
        }
        Protected {
            versions,
            extensions: names,
        }
    }

    fn version(&self, ext: &str, v: &Value) -> bool {
        let version = v["spec"]["version"].as_str().unwrap_or_default();
        self.versions
            .contains(&(ext.to_string(), version.to_string()))
    }
}

/// Whether two URLs have the same scheme, host and port (credentials go only to the
/// repository's own origin, as Helm sends them).
fn same_origin(a: &str, b: &str) -> bool {
    fn origin(u: &str) -> Option<String> {
        let (scheme, rest) = u.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        Some(format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        ))
    }
    origin(a).is_some() && origin(a) == origin(b)
}

/// The download phase: the index, then for each chart (a few at once) its versions newest
/// first until `depth` of them import: one already imported with the digest the index gives is
/// not downloaded again; a bad one is skipped (and does not count).
async fn fetch(
    client: &reqwest::Client,
    repo: &Value,
    s: &Settings,
    mine: &[Value],
) -> Result<BTreeMap<String, Vec<Fetched>>, String> {
    let charts = helm_repos::from_index(client, &credential_for(repo, true), &s.url).await?;
    let have: HashMap<&str, &str> = mine
        .iter()
        .filter_map(|v| {
            Some((
                v["metadata"]["name"].as_str()?,
                v["spec"]["digest"].as_str().unwrap_or_default(),
            ))
        })
        .collect();
    let have = &have;
    let repo_name = repo["metadata"]["name"].as_str().unwrap_or_default();
    // (The futures are made first: a stream mapping borrowed items trips rustc's Send check.)
    let work: Vec<_> = charts
        .into_iter()
        .map(|(chart, candidates)| async move {
            let mut got = Vec::new();
            let mut good = 0;
            for c in candidates {
                if good >= s.depth {
                    break;
                }
                let name = format!("{chart}-{}", c.version);
                match have.get(name.as_str()) {
                    Some(d) if c.digest.is_empty() || d.eq_ignore_ascii_case(&c.digest) => {
                        got.push(Fetched::Unchanged(name));
                        good += 1;
                    }
                    _ => {
                        let cred = credential_for(repo, same_origin(&s.url, &c.url));
                        match import_package(client, &cred, repo_name, &chart, &c).await {
                            Ok(v) => {
                                got.push(Fetched::New(v));
                                good += 1;
                            }
                            Err(why) => got.push(Fetched::Bad(c.version.clone(), why)),
                        }
                    }
                }
            }
            (chart, got)
        })
        .collect();
    let results: Vec<(String, Vec<Fetched>)> = futures::stream::iter(work)
        .buffer_unordered(PARALLEL_DOWNLOADS)
        .collect()
        .await;
    Ok(results.into_iter().collect())
}

/// Downloads one version (digest and archive checked, the chart's name and version as the
/// index says) and reads it into its ExtensionVersion.
async fn import_package(
    client: &reqwest::Client,
    cred: &Value,
    repo_name: &str,
    chart: &str,
    c: &Candidate,
) -> Result<Value, String> {
    let want = Wanted {
        url: &c.url,
        digest: &c.digest,
        chart: Some(chart),
        version: &c.version,
    };
    let (_, pkg) = remote::download(client, cred, &want).await?;
    let (repo_name, chart, version, url) = (
        repo_name.to_string(),
        chart.to_string(),
        c.version.clone(),
        c.url.clone(),
    );
    let created = c.meta.created.clone();
    tokio::task::spawn_blocking(move || {
        read_package(&pkg, &repo_name, &chart, &version, &url, &created)
            .map_err(|why| format!("{chart} {version}: {why}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The ExtensionVersion of package `pkg` (chart `chart` `version` at `url` of repository
/// `repo`): its `extension.yaml` read and checked to name this chart and version; `digest` the
/// package's SHA-256; an icon given as a file of the package made a `data:` URL.
pub fn read_package(
    pkg: &[u8],
    repo: &str,
    chart: &str,
    version: &str,
    url: &str,
    created: &str,
) -> Result<Value, String> {
    let limits = helm::chart::LoadLimits::default();
    let files = helm::chart::archive_files(pkg, &limits).map_err(|e| e.to_string())?;
    let manifest = files
        .iter()
        .find(|f| f.name == "extension.yaml")
        .ok_or("the package has no extension.yaml")?;
    let text = std::str::from_utf8(&manifest.data).map_err(|_| "extension.yaml is not UTF-8")?;
    let m = package::parse_manifest(text)?;
    if m.name != chart {
        return Err(format!(
            "extension.yaml names the extension {:?}, the chart is {chart:?}",
            m.name
        ));
    }
    if m.version != version {
        return Err(format!(
            "extension.yaml says version {:?}, the chart {version:?}",
            m.version
        ));
    }
    let mut v = package::extension_version(&m, repo, url);
    let spec = &mut v["spec"];
    spec["digest"] = crate::appstore::package::digest(pkg).into();
    spec["created"] = if created.is_empty() {
        crate::appstore::now()
    } else {
        created.to_string()
    }
    .into();
    if let Some(icon) = spec["icon"].as_str().map(String::from) {
        match icon_url(&icon, &files) {
            Some(u) => spec["icon"] = u.into(),
            None => {
                if let Some(o) = spec.as_object_mut() {
                    o.remove("icon");
                }
            }
        }
    }
    Ok(v)
}

/// An icon as a URL the console can show: an http(s) or `data:` URL as given, a file of the
/// package (`./static/icon.svg`) as a `data:` URL (at most [`MAX_ICON`] bytes, an image type);
/// `None` otherwise.
fn icon_url(icon: &str, files: &[helm::chart::File]) -> Option<String> {
    let icon = icon.trim();
    if icon.starts_with("https://")
        || icon.starts_with("http://")
        || icon.starts_with("data:image/")
    {
        return Some(icon.to_string());
    }
    let path = icon.trim_start_matches("./");
    let mime = match path.rsplit_once('.')?.1.to_ascii_lowercase().as_str() {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        _ => return None,
    };
    let f = files.iter().find(|f| f.name == path)?;
    (f.data.len() <= MAX_ICON).then(|| format!("data:{mime};base64,{}", B64.encode(&f.data)))
}

/// Importing one extension of one repository.
struct Import<'a> {
    state: &'a AppState,
    repo: &'a str,
    ext: &'a str,
    existing: Option<&'a Value>,
    guard: &'a Protected,
}

impl Import<'_> {
    fn client(&self) -> &kube::Client {
        &self.state.client
    }

    /// Imports what was fetched of the extension (`got`) given what this repository had
    /// imported of it (`there`), recording the outcome.
    async fn run(&self, got: Vec<Fetched>, there: Vec<Value>, outcome: &mut Outcome) {
        let mut new = Vec::new();
        let mut keep: HashSet<String> = HashSet::new();
        for f in got {
            match f {
                Fetched::New(v) => new.push(v),
                Fetched::Unchanged(name) => {
                    outcome.unchanged += 1;
                    keep.insert(name);
                }
                Fetched::Bad(version, why) => {
                    outcome.skipped.push(why);
                    // What an earlier sync imported of this version stays.
                    keep.insert(format!("{}-{version}", self.ext));
                }
            }
        }
        let owner = self.existing.map(|e| {
            e["metadata"]["labels"][REPOSITORY_REF]
                .as_str()
                .unwrap_or_default()
        });
        if let Some(owner) = owner.filter(|o| *o != self.repo) {
            if !new.is_empty() {
                outcome.skipped.push(format!(
                    "{}: an Extension of that name exists and is not this repository's ({})",
                    self.ext,
                    if owner.is_empty() {
                        "made by other means".to_string()
                    } else {
                        format!("repository {owner}")
                    }
                ));
            }
            return;
        }
        match self.write(new, keep, there).await {
            Ok((imported, removed)) => {
                outcome.imported += imported;
                outcome.removed += removed;
            }
            Err(why) => outcome.skipped.push(format!("{}: {why}", self.ext)),
        }
    }

    /// Writes the new versions, then the Extension (taking the new versions back if it cannot
    /// be written), then removes what is no longer kept; (imported, removed).
    async fn write(
        &self,
        new: Vec<Value>,
        keep: HashSet<String>,
        there: Vec<Value>,
    ) -> Result<(usize, usize), String> {
        let err = |e: PlatformError| e.to_string();
        let name_of = |v: &Value| {
            v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let replacing: HashSet<String> = new.iter().map(name_of).collect();
        let mut remaining = Vec::new();
        let mut stale = Vec::new();
        let mut current: HashMap<String, Value> = HashMap::new();
        for v in there {
            let n = name_of(&v);
            if replacing.contains(&n) {
                current.insert(n, v);
            } else if keep.contains(&n) || self.guard.version(self.ext, &v) {
                remaining.push(v);
            } else {
                stale.push(n);
            }
        }
        let mut created: Vec<String> = Vec::new();
        let mut written = 0;
        for mut v in new {
            let n = name_of(&v);
            let result = match current.get(&n) {
                Some(old) => {
                    v["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
                    kubeapi::replace(self.client(), Kind::ExtensionVersion, None, v).await
                }
                None => {
                    let made =
                        kubeapi::create(self.client(), Kind::ExtensionVersion, None, v).await;
                    if made.is_ok() {
                        created.push(n.clone());
                    }
                    made
                }
            };
            match result {
                Ok(v) => {
                    remaining.push(v);
                    written += 1;
                }
                Err(e) => {
                    self.take_back(&created).await;
                    return Err(if kubeapi::is_conflict(&e) {
                        format!("ExtensionVersion {n} exists and is not this repository's")
                    } else {
                        format!("writing ExtensionVersion {n}: {e}")
                    });
                }
            }
        }
        let (remaining, _) = package::keep_newest(remaining, 0);
        if remaining.is_empty() {
            if self.existing.is_some() && !self.guard.extensions.contains(self.ext) {
                kubeapi::delete(self.client(), Kind::Extension, None, self.ext)
                    .await
                    .map_err(err)?;
            }
        } else if let Err(e) = self.write_extension(&remaining).await {
            self.take_back(&created).await;
            return Err(e);
        }
        let mut removed = 0;
        for n in &stale {
            match kubeapi::delete(self.client(), Kind::ExtensionVersion, None, n).await {
                Ok(()) => removed += 1,
                // The next sync removes it.
                Err(e) => tracing::warn!(version = %n, error = %e, "removing an ExtensionVersion"),
            }
        }
        Ok((written, removed))
    }

    async fn take_back(&self, created: &[String]) {
        for n in created {
            if let Err(e) = kubeapi::delete(self.client(), Kind::ExtensionVersion, None, n).await {
                tracing::warn!(version = %n, error = %e, "taking back an ExtensionVersion");
            }
        }
    }

    /// Creates or updates the Extension from its versions (newest first) and the Category
    /// its newest names; only the fields the repository owns are written.
    async fn write_extension(&self, versions: &[Value]) -> Result<(), String> {
        let err = |e: PlatformError| e.to_string();
        let Some(mut ext) = package::extension_from(self.ext, versions) else {
            return Ok(());
        };
        ext["metadata"]["labels"][REPOSITORY_REF] = self.repo.into();
        if let Some(c) = ext["metadata"]["labels"][CATEGORY_LABEL].as_str() {
            ensure_category(self.client(), c).await.map_err(err)?;
        }
        let status = json!({"status": {
            "recommendedVersion": ext["status"]["recommendedVersion"].clone(),
            "versions": ext["status"]["versions"].clone(),
        }});
        match self.existing {
            None => {
                let mut obj = ext.clone();
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status");
                }
                match kubeapi::create(self.client(), Kind::Extension, None, obj).await {
                    Ok(_) => {}
                    Err(e) if kubeapi::is_conflict(&e) => {
                        return Err(
                            "an Extension of that name was made meanwhile by other means".into(),
                        );
                    }
                    Err(e) => return Err(format!("creating the Extension: {e}")),
                }
            }
            Some(old) => {
                let same = old["spec"] == ext["spec"]
                    && old["metadata"]["labels"][CATEGORY_LABEL]
                        == ext["metadata"]["labels"][CATEGORY_LABEL];
                if !same {
                    // Spec fields the newest version dropped are removed (null in a merge patch).
                    let mut spec = ext["spec"].clone();
                    for k in old["spec"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k)
                    {
                        if spec.get(k).is_none() {
                            spec[k] = Value::Null;
                        }
                    }
                    let patch = json!({
                        "metadata": {"labels": {
                            CATEGORY_LABEL: ext["metadata"]["labels"][CATEGORY_LABEL].clone(),
                            REPOSITORY_REF: self.repo,
                        }},
                        "spec": spec,
                    });
                    kubeapi::merge_patch(self.client(), Kind::Extension, None, self.ext, patch)
                        .await
                        .map_err(|e| format!("updating the Extension: {e}"))?;
                }
                if old["status"]["recommendedVersion"] == status["status"]["recommendedVersion"]
                    && old["status"]["versions"] == status["status"]["versions"]
                {
                    return Ok(());
                }
            }
        }
        kubeapi::merge_patch_status_unread(self.client(), Kind::Extension, None, self.ext, status)
            .await
            .map_err(|e| format!("writing the Extension's versions: {e}"))
    }
}

/// Makes Category `name` unless it exists (`displayName` its name in title case).
async fn ensure_category(client: &kube::Client, name: &str) -> Result<(), PlatformError> {
    let mut title = String::new();
    for (i, word) in name.split('-').enumerate() {
        if i > 0 {
            title.push(' ');
        }
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            title.extend(c.to_uppercase());
            title.push_str(chars.as_str());
        }
    }
    let category = json!({
        "apiVersion": Kind::ExtCategory.api_version(), "kind": "Category",
        "metadata": {"name": name},
        "spec": {"displayName": {"en": title}},
    });
    kubeapi::ensure(client, Kind::ExtCategory, None, category, &[]).await
}

/// Removes the ExtensionVersions and Extensions of Repositories that no longer exist (those
/// protected as a sync protects them stay).
async fn remove_orphans(state: &AppState, repos: &BTreeSet<String>) -> Result<(), PlatformError> {
    let c = &state.client;
    let versions = kubeapi::list(c, Kind::ExtensionVersion, None, REPOSITORY_REF).await?;
    let extensions = kubeapi::list(c, Kind::Extension, None, REPOSITORY_REF).await?;
    let orphan = |o: &Value| {
        !repos.contains(
            o["metadata"]["labels"][REPOSITORY_REF]
                .as_str()
                .unwrap_or_default(),
        )
    };
    if !versions.iter().any(orphan) && !extensions.iter().any(orphan) {
        return Ok(());
    }
    let plans = kubeapi::list(c, Kind::InstallPlan, None, "").await?;
    let by_name: HashMap<String, Value> = extensions
        .iter()
        .filter_map(|e| Some((e["metadata"]["name"].as_str()?.to_string(), e.clone())))
        .collect();
    let guard = Protected::new(&plans, &by_name);
    for v in versions.iter().filter(|v| orphan(v)) {
        let ext = v["metadata"]["labels"][EXTENSION_REF]
            .as_str()
            .unwrap_or_default();
        if !guard.version(ext, v) {
            let n = v["metadata"]["name"].as_str().unwrap_or_default();
            kubeapi::delete(c, Kind::ExtensionVersion, None, n).await?;
        }
    }
    for e in extensions.iter().filter(|e| orphan(e)) {
        let n = e["metadata"]["name"].as_str().unwrap_or_default();
        if !guard.extensions.contains(n) {
            kubeapi::delete(c, Kind::Extension, None, n).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "r", "generation": 2}, "spec": spec, "status": status})
    }

    #[test]
    fn settings_are_checked_with_reasons() {
        let s = settings(&repo(json!({"url": "https://r.example"}), json!({}))).unwrap();
        assert_eq!(s.depth, DEFAULT_DEPTH);
        assert_eq!((s.interval, s.timeout), (None, DEFAULT_TIMEOUT));
        let s = settings(&repo(
            json!({"url": "http://r", "depth": 0,
                "updateStrategy": {"interval": "1h30m", "timeout": "45s"}}),
            json!({}),
        ))
        .unwrap();
        assert_eq!(s.depth, helm_repos::MAX_VERSIONS);
        assert_eq!(s.interval, Some(Duration::from_secs(5400)));
        assert_eq!(s.timeout, Duration::from_secs(45));
        assert_eq!(
            settings(&repo(json!({"url": "http://r", "depth": 99}), json!({})))
                .unwrap()
                .depth,
            helm_repos::MAX_VERSIONS
        );
        for (spec, why) in [
            (json!({}), "spec.url is required"),
            (json!({"image": "x/y:1"}), "spec.image"),
            (json!({"url": "oci://r/x"}), "not the http(s) URL"),
            (
                json!({"url": "https://r", "updateStrategy": {"interval": "daily"}}),
                "not a duration",
            ),
            (
                json!({"url": "https://r", "updateStrategy": {"timeout": "-1m"}}),
                "negative",
            ),
        ] {
            let e = settings(&repo(spec.clone(), json!({}))).unwrap_err();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }

    #[test]
    fn a_repository_is_due_when_new_changed_asked_or_its_interval_passed() {
        let now = chrono::Utc::now();
        let ago = |s: i64| (now - chrono::Duration::seconds(s)).to_rfc3339();
        let synced = |s: i64| json!({"lastSyncTime": ago(s), "observedGeneration": 2});
        let url = json!({"url": "https://r"});
        assert!(due(&repo(url.clone(), json!({})), now), "never synced");
        assert!(!due(&repo(url.clone(), synced(10)), now));
        let mut changed = repo(url.clone(), synced(10));
        changed["metadata"]["generation"] = 3.into();
        assert!(due(&changed, now), "spec changed");
        let mut asked = repo(url.clone(), synced(10));
        asked["metadata"]["annotations"] = json!({SYNC_REQUESTED: "one"});
        assert!(due(&asked, now), "asked");
        asked["status"]["observedSyncRequest"] = "one".into();
        assert!(!due(&asked, now), "already done");
        let hourly = json!({"url": "https://r", "updateStrategy": {"interval": "1h"}});
        assert!(!due(&repo(hourly.clone(), synced(3599)), now));
        assert!(due(&repo(hourly.clone(), synced(3600)), now));
        let mut failed = synced(60);
        failed["state"] = FAILED.into();
        assert!(!due(&repo(url.clone(), failed.clone()), now));
        failed["lastSyncTime"] = ago(300).into();
        assert!(due(&repo(url, failed), now), "failed: retried");
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            "https://r.example/charts",
            "https://R.example/x.tgz"
        ));
        assert!(!same_origin(
            "https://r.example",
            "https://r.example:8443/x.tgz"
        ));
        assert!(!same_origin("https://r.example", "http://r.example/x.tgz"));
        assert!(!same_origin(
            "https://r.example",
            "https://cdn.example/x.tgz"
        ));
        assert!(!same_origin(
            "https://u@evil.example@r.example",
            "https://evil.example/"
        ));
        assert!(!same_origin("not a url", "not a url"));
    }

    fn pkg(files: &[(&str, &[u8])]) -> Vec<u8> {
        helm::chart::package_files("hello", files)
    }

    const CHART: &[u8] = b"apiVersion: v2\nname: hello\nversion: 0.1.0\n";

    #[test]
    fn packages_are_read_into_extension_versions_or_refused_with_a_reason() {
        let manifest: &[u8] =
            b"name: hello\nversion: 0.1.0\ncategory: devops\nicon: ./static/icon.svg\n";
        let icon: &[u8] = b"<svg xmlns='http://www.w3.org/2000/svg'/>";
        let p = pkg(&[
            ("Chart.yaml", CHART),
            ("extension.yaml", manifest),
            ("static/icon.svg", icon),
        ]);
        let v = read_package(&p, "market", "hello", "0.1.0", "https://r/h.tgz", "").unwrap();
        assert_eq!(v["metadata"]["name"], "hello-0.1.0");
        assert_eq!(v["metadata"]["labels"][REPOSITORY_REF], "market");
        assert_eq!(v["spec"]["digest"], crate::appstore::package::digest(&p));
        assert_eq!(v["spec"]["chartURL"], "https://r/h.tgz");
        assert!(
            v["spec"]["icon"]
                .as_str()
                .unwrap()
                .starts_with("data:image/svg+xml;base64,")
        );
        let missing_icon = pkg(&[("Chart.yaml", CHART), ("extension.yaml", manifest)]);
        let v = read_package(&missing_icon, "m", "hello", "0.1.0", "u", "").unwrap();
        assert!(v["spec"].get("icon").is_none());
        for (files, chart, version, why) in [
            (
                vec![("Chart.yaml", CHART)],
                "hello",
                "0.1.0",
                "no extension.yaml",
            ),
            (
                vec![
                    ("Chart.yaml", CHART),
                    ("extension.yaml", &b"name: Hello\nversion: 0.1.0"[..]),
                ],
                "hello",
                "0.1.0",
                "is invalid",
            ),
            (
                vec![("Chart.yaml", CHART), ("extension.yaml", manifest)],
                "other",
                "0.1.0",
                "the chart is \"other\"",
            ),
            (
                vec![("Chart.yaml", CHART), ("extension.yaml", manifest)],
                "hello",
                "0.2.0",
                "says version",
            ),
        ] {
            let e = read_package(&pkg(&files), "m", chart, version, "u", "").unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        let e = read_package(b"not gzip", "m", "hello", "0.1.0", "u", "").unwrap_err();
        assert!(e.contains("gzip"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_refused_or_read(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let mut gz = b"\x1f\x8b".to_vec();
            gz.extend(bytes);
            if let Ok(v) = read_package(&gz, "r", "hello", "0.1.0", "u", "") {
                proptest::prop_assert_eq!(&v["metadata"]["name"], "hello-0.1.0");
            }
        }

        #[test]
        fn any_manifest_is_refused_or_read_for_its_chart(
            extra in "\\PC{0,200}",
            icon in "\\PC{0,40}",
        ) {
            let text = format!(
                "name: hello\nversion: 0.1.0\nicon: '{}'\n{extra}",
                icon.replace('\'', "''")
            );
            let p = pkg(&[("Chart.yaml", CHART), ("extension.yaml", text.as_bytes())]);
            if let Ok(v) = read_package(&p, "r", "hello", "0.1.0", "u", "") {
                proptest::prop_assert_eq!(&v["metadata"]["name"], "hello-0.1.0");
                proptest::prop_assert_eq!(&v["spec"]["digest"], &crate::appstore::package::digest(&p));
                if let Some(i) = v["spec"]["icon"].as_str() {
                    proptest::prop_assert!(
                        i.starts_with("https://") || i.starts_with("http://") || i.starts_with("data:image/"),
                        "{}", i
                    );
                }
            }
        }
    }

    #[test]
    fn protected_versions_are_planned_or_installed() {
        let plans = [json!({"spec": {"extension": {"name": "hello", "version": "0.1.0"}}})];
        let exts: HashMap<String, Value> = [(
            "other".to_string(),
            json!({"status": {"installedVersion": "1.0.0"}}),
        )]
        .into();
        let g = Protected::new(&plans, &exts);
        let v = |x: &str| json!({"spec": {"version": x}});
        assert!(g.version("hello", &v("0.1.0")));
        assert!(!g.version("hello", &v("0.2.0")));
        assert!(g.version("other", &v("1.0.0")));
        assert!(g.extensions.contains("hello") && !g.extensions.contains("other"));
    }
}
