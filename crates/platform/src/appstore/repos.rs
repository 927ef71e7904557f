//! Helm repositories over HTTP(S): a `Repo` names a URL (with basic auth, its own CA, or
//! `insecureSkipTLSVerify`); a sync reads its `index.yaml`, keeps the newest
//! [`MAX_VERSIONS`] versions of each chart and makes an app `{repo}-{chart}` with its versions
//! (published: a repository is added by the people who run the store).
//!
//! The newest version of each chart is downloaded at sync, checked against the index's digest
//! and loaded as a chart (Helm's archive checks: sizes, paths, links), and its package stored,
//! so the store shows its README and values and a bad archive fails the sync. Older versions
//! are made from the index alone (version, appVersion, digest, URL, created, home, icon,
//! maintainers); their packages are fetched, checked against that digest and stored on first
//! use ([`super::package::package_of`]). An index entry without a digest is downloaded at sync
//! (there would be nothing to check it against later), and so is every version of an OCI
//! registry's chart ([`super::oci`]). A resync writes only what changed.
//!
//! A sync that fails takes back everything it imported and leaves the repository `failed`
//! with the reason; nothing is half-imported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::lifecycle::State;
use super::remote::{self, Wanted};
use super::{
    APP_LABEL, CATEGORY_LABEL, DISPLAY_NAME, REPO_LABEL, UNCATEGORIZED, WORKSPACE_LABEL, dns_name,
    now, package, version_name,
};
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// Versions kept per chart (KubeSphere's limit).
pub const MAX_VERSIONS: usize = 10;
/// The largest `index.yaml` read.
pub const MAX_INDEX: usize = 64 * 1024 * 1024;
/// Charts imported at once during a sync. With [`PARALLEL_VERSIONS`] this bounds the sync's
/// writes in flight (32 × 4): enough that the API server's group commit gathers large batches
/// while the next requests are being decoded and admitted — with 8 charts at once the cluster
/// sat idle in each commit's fsync and a 1,000-chart sync took 40 % longer (BENCHMARKS.md).
const PARALLEL_CHARTS: usize = 32;
/// Versions of one chart written at once from the index alone.
const PARALLEL_VERSIONS: usize = 4;
/// Packages downloaded from the repository at once (fewer than the charts imported at once: a
/// public repository is not to be hammered by one sync).
const PARALLEL_DOWNLOADS: usize = 8;

/// One sync per repository at a time in a replica: the API's "sync now" and the leader's
/// periodic pass would otherwise both import (and a failing one take back what the other made).
/// Across replicas the writes themselves are idempotent (see [`create_app`]).
#[derive(Default)]
pub struct SyncLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl SyncLocks {
    pub(crate) fn of(&self, repo: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Locks nobody holds or waits for are dropped, so the map stays as small as the
        // repositories being synced.
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(repo.to_string()).or_default().clone()
    }
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    entries: BTreeMap<String, Vec<Entry>>,
}

/// One version of a chart in an `index.yaml` (Helm writes its Chart.yaml there, with the
/// package's digest, URLs and creation time).
#[derive(Debug, Deserialize, Clone)]
struct Entry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default, rename = "appVersion")]
    app_version: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    home: String,
    #[serde(default)]
    icon: String,
    #[serde(default)]
    maintainers: Vec<Maintainer>,
    #[serde(default)]
    created: String,
}

#[derive(Debug, Deserialize, Clone)]
struct Maintainer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    url: String,
}

/// A semantic version's sort key (release after its pre-releases; unparsable last).
pub(super) fn version_key(v: &str) -> (u8, Vec<u64>, u8, String) {
    let v = v.trim_start_matches('v');
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, p.split('+').next().unwrap_or_default()),
        None => (v.split('+').next().unwrap_or_default(), ""),
    };
    let nums: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    match nums {
        Some(n) => (1, n, if pre.is_empty() { 1 } else { 0 }, pre.to_string()),
        None => (0, Vec::new(), 0, v.to_string()),
    }
}

/// Reads an `index.yaml`: the newest [`MAX_VERSIONS`] entries of each chart, checked.
fn parse_index(text: &str) -> Result<BTreeMap<String, Vec<Entry>>, String> {
    let index: Index =
        serde_saphyr::from_str(text).map_err(|e| format!("index.yaml is malformed: {e}"))?;
    let mut out = BTreeMap::new();
    for (name, mut entries) in index.entries {
        if dns_name(&name).is_empty() {
            return Err(format!("index.yaml: chart name {name:?} is not usable"));
        }
        for e in &entries {
            if e.name != name || e.version.is_empty() || e.urls.is_empty() {
                return Err(format!(
                    "index.yaml: an entry of {name:?} lacks its name, version or urls"
                ));
            }
        }
        entries.sort_by_key(|e| std::cmp::Reverse(version_key(&e.version)));
        entries.dedup_by(|a, b| a.version == b.version);
        entries.truncate(MAX_VERSIONS);
        out.insert(name, entries);
    }
    Ok(out)
}

/// A chart URL of the index, resolved against the repository's.
fn resolve(base: &str, url: &str) -> String {
    if url.contains("://") {
        return url.to_string();
    }
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        url.trim_start_matches('/')
    )
}

/// What one sync imported, for rollback, and the apps it made, for the cache to settle on.
#[derive(Default)]
struct Imported {
    apps: Vec<String>,
    versions: Vec<String>,
    made: Vec<Value>,
}

/// Versions taken back at once when a sync fails.
const PARALLEL_DELETES: usize = 16;

/// Syncs `repo` now; `Ok` with how many versions were imported, or the reason it failed
/// (everything this sync imported is taken back first).
pub async fn sync(state: &AppState, repo: &Value) -> Result<usize, String> {
    let imported = Mutex::new(Imported::default());
    let outcome = sync_into(state, repo, &imported).await;
    let imported = imported.into_inner().unwrap_or_else(|e| e.into_inner());
    if outcome.is_ok() {
        // The API answers with what this replica's apps cache holds.
        for app in &imported.made {
            crate::http::settle(&state.caches.apps, app).await;
        }
        return outcome;
    }
    // (The futures are made first: a stream mapping borrowed items trips rustc's Send check.)
    let deletes: Vec<_> = imported
        .versions
        .iter()
        .map(|v| kubeapi::delete(&state.client, Kind::AppVersion, None, v))
        .collect();
    futures::stream::iter(deletes)
        .buffer_unordered(PARALLEL_DELETES)
        .for_each(|_| async {})
        .await;
    for a in &imported.apps {
        let _ = kubeapi::delete(&state.client, Kind::App, None, a).await;
        crate::http::settle_gone(&state.caches.apps, a).await;
    }
    outcome
}

/// What an index says about a version beyond where its package is (empty for a registry's).
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexMeta {
    pub(super) description: String,
    pub(super) home: String,
    pub(super) icon: String,
    /// `{name, email, url}` each.
    pub(super) maintainers: Vec<Value>,
    /// RFC 3339, or empty when the index gives no usable time.
    pub(crate) created: String,
}

/// One version to import: where its package is and the digest it must have.
pub(crate) struct Candidate {
    pub(crate) version: String,
    /// Where the package is (`oci-blob:{repository}@{digest}` for a registry's blob).
    pub(crate) url: String,
    /// Hex SHA-256 (an index's `digest`, or an OCI layer's), or empty when none is given.
    pub(crate) digest: String,
    pub(super) app_version: String,
    /// Whether an earlier sync imported this version with another digest.
    pub(super) replaces: bool,
    /// Whether the package is downloaded and checked during the sync; otherwise it is fetched
    /// on first use and checked against `digest` then.
    pub(super) eager: bool,
    pub(crate) meta: IndexMeta,
}

/// Whether `digest` is a SHA-256 in hex (what a package fetched later is checked against).
fn is_sha256(digest: &str) -> bool {
    digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An index's `created` as RFC 3339 in seconds, or empty when it is not a time.
fn created_time(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_default()
}

/// The charts of an `index.yaml` repository: name → newest versions, the newest of each (and
/// any the index gives no digest for) to be downloaded during the sync.
pub(crate) async fn from_index(
    client: &reqwest::Client,
    repo: &Value,
    base: &str,
) -> Result<BTreeMap<String, Vec<Candidate>>, String> {
    let text = remote::fetch(client, repo, &resolve(base, "index.yaml"), MAX_INDEX).await?;
    let text = String::from_utf8(text).map_err(|_| "index.yaml is not UTF-8".to_string())?;
    let charts = tokio::task::spawn_blocking(move || parse_index(&text))
        .await
        .map_err(|e| e.to_string())??;
    Ok(charts
        .into_iter()
        .map(|(name, entries)| (name, candidates(base, entries)))
        .collect())
}

/// One chart's newest entries (newest first) as versions to import: the newest, and any the
/// index gives no SHA-256 for, downloaded during the sync; the others fetched on first use.
fn candidates(base: &str, entries: Vec<Entry>) -> Vec<Candidate> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let digest = e.digest.to_ascii_lowercase();
            Candidate {
                url: resolve(base, &e.urls[0]),
                eager: i == 0 || !is_sha256(&digest),
                digest,
                app_version: e.app_version,
                version: e.version,
                replaces: false,
                meta: IndexMeta {
                    description: e.description,
                    home: e.home,
                    icon: e.icon,
                    maintainers: e
                        .maintainers
                        .into_iter()
                        .map(|m| json!({"name": m.name, "email": m.email, "url": m.url}))
                        .collect(),
                    created: created_time(&e.created),
                },
            }
        })
        .collect()
}

async fn sync_into(
    state: &AppState,
    repo: &Value,
    imported: &Mutex<Imported>,
) -> Result<usize, String> {
    let repo_name = repo["metadata"]["name"].as_str().unwrap_or_default();
    let base = repo["spec"]["url"].as_str().unwrap_or_default();
    let client = remote::client_for(repo)?;
    let charts = if let Some(rest) = base.strip_prefix("oci://") {
        super::oci::charts(&client, repo, rest, MAX_VERSIONS).await?
    } else if base.starts_with("https://") || base.starts_with("http://") {
        from_index(&client, repo, base).await?
    } else {
        return Err(format!("{base:?} is neither an http(s) nor an oci:// URL"));
    };
    // What earlier syncs imported, in two lists rather than a request per chart and version.
    let selector = format!("{REPO_LABEL}={repo_name}");
    let err = |e: PlatformError| e.to_string();
    let apps: HashSet<String> = kubeapi::list(&state.client, Kind::App, None, &selector)
        .await
        .map_err(err)?
        .iter()
        .filter_map(|a| a["metadata"]["name"].as_str().map(String::from))
        .collect();
    let versions: HashMap<String, String> =
        kubeapi::list(&state.client, Kind::AppVersion, None, &selector)
            .await
            .map_err(err)?
            .iter()
            .filter_map(|v| {
                Some((
                    v["metadata"]["name"].as_str()?.to_string(),
                    v["spec"]["digest"].as_str().unwrap_or_default().to_string(),
                ))
            })
            .collect();
    let mut work = Vec::new();
    for (chart, candidates) in charts {
        let app_name = dns_name(&format!("{repo_name}-{chart}"));
        let todo: Vec<Candidate> = candidates
            .into_iter()
            .filter_map(|mut c| {
                let have = versions.get(&version_name(&app_name, &c.version));
                if have.is_some_and(|d| c.digest.is_empty() || *d == c.digest) {
                    return None;
                }
                c.replaces = have.is_some();
                Some(c)
            })
            .collect();
        if !todo.is_empty() {
            let exists = apps.contains(&app_name);
            work.push((chart, app_name, exists, todo));
        }
    }
    let ctx = ImportContext {
        state,
        repo,
        client: &client,
        repo_name,
        ws: repo["metadata"]["labels"][WORKSPACE_LABEL].as_str(),
        imported,
        failed: AtomicBool::new(false),
        downloads: tokio::sync::Semaphore::new(PARALLEL_DOWNLOADS),
    };
    let outcomes: Vec<Result<usize, String>> = futures::stream::iter(work)
        .map(|(chart, app_name, exists, todo)| {
            let ctx = &ctx;
            async move {
                if ctx.failed.load(Ordering::Relaxed) {
                    return Ok(0);
                }
                let r = import_chart(ctx, &chart, &app_name, exists, &todo).await;
                if r.is_err() {
                    // What is still to come would only be taken back.
                    ctx.failed.store(true, Ordering::Relaxed);
                }
                r
            }
        })
        .buffer_unordered(PARALLEL_CHARTS)
        .collect()
        .await;
    let mut count = 0;
    let mut first_error = None;
    for r in outcomes {
        match r {
            Ok(n) => count += n,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(count), Err)
}

struct ImportContext<'a> {
    state: &'a AppState,
    repo: &'a Value,
    client: &'a reqwest::Client,
    repo_name: &'a str,
    ws: Option<&'a str>,
    imported: &'a Mutex<Imported>,
    /// Set once any chart failed: the rest of the sync stops writing.
    failed: AtomicBool,
    /// Bounds the downloads in flight ([`PARALLEL_DOWNLOADS`]).
    downloads: tokio::sync::Semaphore,
}

impl ImportContext<'_> {
    fn imported(&self) -> std::sync::MutexGuard<'_, Imported> {
        self.imported.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Imports the versions `todo` of one chart (newest first): those downloaded during the sync
/// one after another (the first makes the app if it does not exist), then the others from the
/// index, a few at once.
async fn import_chart(
    ctx: &ImportContext<'_>,
    chart: &str,
    app_name: &str,
    mut app_exists: bool,
    todo: &[Candidate],
) -> Result<usize, String> {
    let mut count = 0;
    for cand in todo.iter().filter(|c| c.eager) {
        let want = Wanted {
            url: &cand.url,
            digest: &cand.digest,
            chart: Some(chart),
            version: &cand.version,
        };
        let (info, pkg) = {
            let _slot = ctx.downloads.acquire().await.map_err(|e| e.to_string())?;
            remote::download(ctx.client, ctx.repo, &want).await?
        };
        let meta = IndexMeta {
            description: info.description,
            home: info.home,
            icon: info.icon,
            maintainers: info.maintainers,
            created: cand.meta.created.clone(),
        };
        if !app_exists {
            create_app(ctx, chart, app_name, &meta).await?;
            app_exists = true;
        }
        let app_version = if cand.app_version.is_empty() {
            &info.app_version
        } else {
            &cand.app_version
        };
        write_version(ctx, app_name, cand, &meta, app_version, Some(&pkg)).await?;
        count += 1;
    }
    let lazy: Vec<&Candidate> = todo.iter().filter(|c| !c.eager).collect();
    if let Some(first) = lazy.first()
        && !app_exists
    {
        // Only older versions are new, and the app was taken away meanwhile.
        create_app(ctx, chart, app_name, &first.meta).await?;
    }
    let writes: Vec<_> = lazy
        .iter()
        .map(|c| write_version(ctx, app_name, c, &c.meta, &c.app_version, None))
        .collect();
    let results: Vec<Result<(), String>> = futures::stream::iter(writes)
        .buffer_unordered(PARALLEL_VERSIONS)
        .collect()
        .await;
    for r in results {
        r?;
        count += 1;
    }
    Ok(count)
}

/// Creates the app of `chart`, published.
async fn create_app(
    ctx: &ImportContext<'_>,
    chart: &str,
    app_name: &str,
    meta: &IndexMeta,
) -> Result<(), String> {
    let client = &ctx.state.client;
    let mut labels = json!({REPO_LABEL: ctx.repo_name, CATEGORY_LABEL: UNCATEGORIZED});
    if let Some(ws) = ctx.ws {
        labels[WORKSPACE_LABEL] = ws.into();
    }
    let app = json!({
        "metadata": {"name": app_name, "labels": labels,
            "annotations": {DISPLAY_NAME: chart}},
        "spec": {"appHome": meta.home, "appType": "helm", "icon": meta.icon,
            "abstraction": meta.description},
    });
    match kubeapi::create(client, Kind::App, None, app).await {
        Ok(_) => {
            ctx.imported().apps.push(app_name.to_string());
            // A repository's apps are published: in the store once synced.
            let active = kubeapi::merge_patch_status(
                client,
                Kind::App,
                None,
                app_name,
                json!({"status": {"state": "active", "updateTime": now()}}),
            )
            .await
            .map_err(|e| e.to_string())?;
            ctx.imported().made.push(active);
            Ok(())
        }
        Err(e) if kubeapi::is_conflict(&e) => {
            // Another replica's sync of this repository may have made it meanwhile: that one
            // is ours (and not this sync's to take back); anything else is not.
            let there = kubeapi::get(client, Kind::App, None, app_name)
                .await
                .map_err(|e| e.to_string())?;
            let labels = there.as_ref().map(|a| &a["metadata"]["labels"]);
            let ours = labels.is_some_and(|l| {
                l[REPO_LABEL].as_str() == Some(ctx.repo_name)
                    && l[WORKSPACE_LABEL].as_str() == ctx.ws
            });
            if ours {
                Ok(())
            } else {
                Err(format!(
                    "an app named {app_name} exists and is not this repository's"
                ))
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Creates version `cand` of app `app_name`, active, with its package when it was downloaded
/// (`pkg`); a version the repository changed (another digest) replaces the one there.
async fn write_version(
    ctx: &ImportContext<'_>,
    app_name: &str,
    cand: &Candidate,
    meta: &IndexMeta,
    app_version: &str,
    pkg: Option<&[u8]>,
) -> Result<(), String> {
    if ctx.failed.load(Ordering::Relaxed) {
        return Ok(());
    }
    let client = &ctx.state.client;
    let err = |e: PlatformError| e.to_string();
    let vname = version_name(app_name, &cand.version);
    let mut labels = json!({APP_LABEL: app_name, REPO_LABEL: ctx.repo_name});
    if let Some(ws) = ctx.ws {
        labels[WORKSPACE_LABEL] = ws.into();
    }
    let digest = pkg.map_or_else(|| cand.digest.clone(), package::digest);
    let created = if meta.created.is_empty() {
        now()
    } else {
        meta.created.clone()
    };
    let version = json!({
        "metadata": {"name": vname, "labels": labels,
            "annotations": {super::apps::APP_VERSION_ANNOTATION: app_version}},
        "spec": {"versionName": cand.version, "appHome": meta.home, "icon": meta.icon,
            "created": created, "digest": digest, "appType": "helm",
            "maintainer": meta.maintainers, "pullUrl": cand.url},
    });
    if cand.replaces {
        // Its package (if any was stored) goes with it.
        kubeapi::delete(client, Kind::AppVersion, None, &vname)
            .await
            .map_err(err)?;
    }
    // The created object is read back only when its package follows (its uid owns the chunks).
    let made = match pkg {
        Some(_) => kubeapi::create(client, Kind::AppVersion, None, version)
            .await
            .map(Some),
        None => kubeapi::create_unread(client, Kind::AppVersion, None, version)
            .await
            .map(|()| None),
    };
    let created = match made {
        Ok(created) => created,
        Err(e) if kubeapi::is_conflict(&e) => {
            // Made meanwhile by another replica's sync of this repository with the same
            // package: nothing left to do; otherwise the conflict stands.
            let there = kubeapi::get(client, Kind::AppVersion, None, &vname)
                .await
                .map_err(err)?;
            let same = there.is_some_and(|v| {
                v["metadata"]["labels"][REPO_LABEL].as_str() == Some(ctx.repo_name)
                    && v["spec"]["digest"].as_str() == Some(digest.as_str())
            });
            return if same { Ok(()) } else { Err(err(e)) };
        }
        Err(e) => return Err(err(e)),
    };
    ctx.imported().versions.push(vname.clone());
    if let (Some(pkg), Some(created)) = (pkg, &created) {
        package::store(client, created, pkg).await.map_err(err)?;
    }
    kubeapi::merge_patch_status_unread(
        client,
        Kind::AppVersion,
        None,
        &vname,
        json!({"status": {"state": State::Active.as_str(),
            "message": format!("synced from repository {}", ctx.repo_name),
            "userName": "", "updated": now()}}),
    )
    .await
    .map_err(err)?;
    Ok(())
}

/// Sets the repository's status.
pub async fn set_status(
    state: &AppState,
    repo: &Value,
    phase: &str,
    message: &str,
) -> Result<Value, PlatformError> {
    let name = repo["metadata"]["name"].as_str().unwrap_or_default();
    kubeapi::merge_patch_status(
        &state.client,
        Kind::AppRepo,
        None,
        name,
        json!({"status": {"state": phase, "message": message, "lastUpdateTime": now()}}),
    )
    .await
}

/// Syncs a repository and records the outcome in its status; returns the repository. When a
/// sync of it is already running in this replica, that sync answers (its outcome is returned
/// once recorded) instead of a second one starting behind it.
pub async fn sync_and_record(state: &AppState, repo: &Value) -> Result<Value, PlatformError> {
    let name = repo["metadata"]["name"].as_str().unwrap_or_default();
    let lock = state.repo_syncs.of(name);
    if let Ok(_one) = lock.try_lock() {
        return record(state, repo).await;
    }
    drop(lock.lock().await);
    kubeapi::get(&state.client, Kind::AppRepo, None, name)
        .await?
        .ok_or_else(|| {
            PlatformError::Upstream(format!("repository {name} was deleted during its sync"))
        })
}

async fn record(state: &AppState, repo: &Value) -> Result<Value, PlatformError> {
    set_status(state, repo, "syncing", "").await?;
    let (phase, message) = match sync(state, repo).await {
        Ok(n) => ("successful", format!("{n} new version(s) imported")),
        Err(why) => ("failed", why),
    };
    let name = repo["metadata"]["name"].as_str().unwrap_or_default();
    let uid = repo["metadata"]["uid"].as_str().unwrap_or_default();
    let (warning, reason) = if phase == "failed" {
        (true, "SyncFailed")
    } else {
        (false, "Synced")
    };
    super::record_event(
        &state.client,
        ("Repo", name, uid),
        warning,
        reason,
        &message,
    )
    .await;
    set_status(state, repo, phase, &message).await
}

/// Syncs each repository whose `syncPeriod` (seconds) has passed since its last sync, and
/// those never synced.
pub async fn reconcile(state: &AppState) -> Result<(), PlatformError> {
    for repo in kubeapi::list(&state.client, Kind::AppRepo, None, "").await? {
        let last = repo["status"]["lastUpdateTime"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        let period = repo["spec"]["syncPeriod"].as_i64().unwrap_or(0);
        let due = match last {
            None => true,
            Some(t) => {
                period > 0
                    && (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds() >= period
            }
        };
        if due {
            // A sync running now (asked for through the API) records its own outcome.
            let name = repo["metadata"]["name"].as_str().unwrap_or_default();
            let lock = state.repo_syncs.of(name);
            let Ok(_one) = lock.try_lock() else {
                continue;
            };
            record(state, &repo).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_keeps_the_newest_ten_versions_of_each_chart() {
        let mut text = String::from("apiVersion: v1\nentries:\n  web:\n");
        for v in [
            "1.0.0",
            "1.10.0",
            "1.2.0",
            "2.0.0-rc.1",
            "2.0.0",
            "0.9.0",
            "1.3.0",
            "1.4.0",
            "1.5.0",
            "1.6.0",
            "1.7.0",
            "1.8.0",
        ] {
            text.push_str(&format!(
                "  - name: web\n    version: {v}\n    urls: [web-{v}.tgz]\n"
            ));
        }
        let charts = parse_index(&text).expect("index");
        let versions: Vec<&str> = charts["web"].iter().map(|e| e.version.as_str()).collect();
        assert_eq!(
            versions,
            [
                "2.0.0",
                "2.0.0-rc.1",
                "1.10.0",
                "1.8.0",
                "1.7.0",
                "1.6.0",
                "1.5.0",
                "1.4.0",
                "1.3.0",
                "1.2.0"
            ]
        );
    }

    #[test]
    fn only_the_newest_and_undigested_versions_are_downloaded_at_sync() {
        let sum = "AB".repeat(32);
        let text = [
            "entries:",
            "  web:",
            &format!("  - {{name: web, version: 1.0.0, urls: [a.tgz], digest: {sum},"),
            "     created: '2024-03-01T10:00:00.123456789+01:00', home: https://web.example,",
            "     maintainers: [{name: Ann, email: ann@example.com}]}",
            &format!("  - {{name: web, version: 2.0.0, urls: [b.tgz], digest: {sum}}}"),
            "  - {name: web, version: 1.5.0, urls: [c.tgz], digest: not-a-sha, created: yesterday}",
        ]
        .join("\n");
        let mut charts = parse_index(&text).expect("index");
        let list = candidates("https://r.example", charts.remove("web").expect("web"));
        let seen: Vec<(&str, bool)> = list.iter().map(|c| (c.version.as_str(), c.eager)).collect();
        assert_eq!(seen, [("2.0.0", true), ("1.5.0", true), ("1.0.0", false)]);
        let old = &list[2];
        assert_eq!(old.digest, "ab".repeat(32));
        assert_eq!(old.url, "https://r.example/a.tgz");
        assert_eq!(old.meta.created, "2024-03-01T09:00:00Z");
        assert_eq!(old.meta.home, "https://web.example");
        assert_eq!(
            old.meta.maintainers,
            [json!({"name": "Ann", "email": "ann@example.com", "url": ""})]
        );
        assert_eq!(list[1].meta.created, "", "not a time");
    }

    #[test]
    fn malformed_indexes_say_why() {
        for (text, why) in [
            ("entries: [", "malformed"),
            (
                "entries:\n  web:\n  - name: other\n    version: 1.0.0\n    urls: [x]\n",
                "lacks",
            ),
            ("entries:\n  web:\n  - name: web\n    urls: [x]\n", "lacks"),
            (
                "entries:\n  web:\n  - name: web\n    version: 1.0.0\n",
                "lacks",
            ),
        ] {
            let e = parse_index(text).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
        assert!(parse_index("apiVersion: v1\n").expect("empty").is_empty());
    }

    #[test]
    fn chart_urls_resolve_against_the_repository() {
        assert_eq!(
            resolve("https://r.example/charts/", "web-1.tgz"),
            "https://r.example/charts/web-1.tgz"
        );
        assert_eq!(
            resolve("https://r.example/charts", "https://cdn.example/w.tgz"),
            "https://cdn.example/w.tgz"
        );
    }
}
