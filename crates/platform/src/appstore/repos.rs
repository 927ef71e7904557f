//! Helm repositories over HTTP(S): a `Repo` names a URL (with basic auth, its own CA, or
//! `insecureSkipTLSVerify`); a sync reads its `index.yaml`, keeps the newest
//! [`MAX_VERSIONS`] versions of each chart, downloads each version not imported yet, checks
//! its digest and that it loads as a chart (Helm's archive checks: sizes, paths, links), and
//! makes an app `{repo}-{chart}` with its versions (published: a repository is added by the
//! people who run the store). A sync that fails takes back everything it imported and leaves
//! the repository `failed` with the reason; nothing is half-imported.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use super::lifecycle::State;
use super::{
    APP_LABEL, CATEGORY_LABEL, DISPLAY_NAME, REPO_LABEL, UNCATEGORIZED, WORKSPACE_LABEL,
    chart_info, dns_name, now, package, version_name,
};
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// Versions kept per chart (KubeSphere's limit).
pub const MAX_VERSIONS: usize = 10;
/// The largest `index.yaml` read.
pub const MAX_INDEX: usize = 64 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    entries: BTreeMap<String, Vec<Entry>>,
}

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

/// An HTTP client for the repository's credential.
fn client_for(repo: &Value) -> Result<reqwest::Client, String> {
    let cred = &repo["spec"]["credential"];
    let mut b = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(5));
    if cred["insecureSkipTLSVerify"].as_bool() == Some(true) {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(ca) = cred["caData"].as_str().filter(|s| !s.is_empty()) {
        // KubeSphere keeps it as base64 of the PEM; plain PEM is accepted too.
        let pem = if ca.contains("-----BEGIN") {
            ca.as_bytes().to_vec()
        } else {
            B64.decode(ca.trim())
                .map_err(|_| "credential.caData is neither PEM nor base64 of PEM".to_string())?
        };
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("credential.caData: {e}"))?
        {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().map_err(|e| e.to_string())
}

/// `GET {url}: …` with the error and each of its sources (where the real reason, such as
/// "Connection refused", is).
pub(super) fn request_error(url: &str, e: &reqwest::Error) -> String {
    let mut why = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        why = format!("{why}: {s}");
        src = s.source();
    }
    format!("GET {url}: {why}")
}

/// The body of an answer from a `server` (repository or registry), at most `max` bytes; a
/// refused credential or another failure in words.
pub(super) async fn read_answer(
    mut resp: reqwest::Response,
    url: &str,
    max: usize,
    server: &str,
) -> Result<Vec<u8>, String> {
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(format!(
            "GET {url}: {status}: the {server} refused the credential"
        ));
    }
    if !status.is_success() {
        return Err(format!("GET {url}: {status}"));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| request_error(url, &e))? {
        if out.len() + chunk.len() > max {
            return Err(format!(
                "GET {url}: larger than {} MiB",
                max / (1024 * 1024)
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// GETs `url` with the repository's credential, reading at most `max` bytes.
pub(super) async fn fetch(
    client: &reqwest::Client,
    repo: &Value,
    url: &str,
    max: usize,
) -> Result<Vec<u8>, String> {
    let cred = &repo["spec"]["credential"];
    let mut req = client.get(url);
    if let Some(user) = cred["username"].as_str().filter(|s| !s.is_empty()) {
        req = req.basic_auth(user, cred["password"].as_str());
    }
    let resp = req.send().await.map_err(|e| request_error(url, &e))?;
    read_answer(resp, url, max, "repository").await
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

/// What one sync imported, for rollback.
#[derive(Default)]
struct Imported {
    apps: Vec<String>,
    versions: Vec<String>,
}

/// Syncs `repo` now; `Ok` with how many versions were imported, or the reason it failed
/// (everything this sync imported is taken back first).
pub async fn sync(state: &AppState, repo: &Value) -> Result<usize, String> {
    let mut imported = Imported::default();
    let outcome = sync_into(state, repo, &mut imported).await;
    if outcome.is_err() {
        for v in &imported.versions {
            let _ = kubeapi::delete(&state.client, Kind::AppVersion, None, v).await;
        }
        for a in &imported.apps {
            let _ = kubeapi::delete(&state.client, Kind::App, None, a).await;
            crate::http::settle_gone(&state.caches.apps, a).await;
        }
    }
    outcome
}

/// One version to import: where its package is and the digest it must have.
pub(super) struct Candidate {
    pub(super) version: String,
    /// Where the package is (`oci-blob:{repository}@{digest}` for a registry's blob).
    pub(super) url: String,
    /// Hex SHA-256 (an index's `digest`, or an OCI layer's), or empty when none is given.
    pub(super) digest: String,
    pub(super) app_version: String,
    /// Whether an earlier sync imported this version with another digest.
    pub(super) replaces: bool,
}

/// The charts of an `index.yaml` repository: name → newest versions.
async fn from_index(
    client: &reqwest::Client,
    repo: &Value,
    base: &str,
) -> Result<BTreeMap<String, Vec<Candidate>>, String> {
    let text = fetch(client, repo, &resolve(base, "index.yaml"), MAX_INDEX).await?;
    let text = String::from_utf8(text).map_err(|_| "index.yaml is not UTF-8".to_string())?;
    let charts = tokio::task::spawn_blocking(move || parse_index(&text))
        .await
        .map_err(|e| e.to_string())??;
    Ok(charts
        .into_iter()
        .map(|(name, entries)| {
            let list = entries
                .into_iter()
                .map(|e| Candidate {
                    url: resolve(base, &e.urls[0]),
                    digest: e.digest.to_ascii_lowercase(),
                    app_version: e.app_version,
                    version: e.version,
                    replaces: false,
                })
                .collect();
            (name, list)
        })
        .collect())
}

/// Charts imported at once during a sync.
const PARALLEL_CHARTS: usize = 8;

async fn sync_into(
    state: &AppState,
    repo: &Value,
    imported: &mut Imported,
) -> Result<usize, String> {
    use futures::StreamExt;
    let repo_name = repo["metadata"]["name"].as_str().unwrap_or_default();
    let base = repo["spec"]["url"].as_str().unwrap_or_default();
    let client = client_for(repo)?;
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
    let apps: std::collections::HashSet<String> =
        kubeapi::list(&state.client, Kind::App, None, &selector)
            .await
            .map_err(err)?
            .iter()
            .filter_map(|a| a["metadata"]["name"].as_str().map(String::from))
            .collect();
    let versions: std::collections::HashMap<String, String> =
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
    };
    let outcomes: Vec<(Imported, Result<usize, String>)> = futures::stream::iter(work)
        .map(|(chart, app_name, exists, todo)| {
            let ctx = &ctx;
            async move {
                let mut mine = Imported::default();
                let r = import_chart(ctx, &chart, &app_name, exists, &todo, &mut mine).await;
                (mine, r)
            }
        })
        .buffer_unordered(PARALLEL_CHARTS)
        .collect()
        .await;
    let mut count = 0;
    let mut first_error = None;
    for (mine, r) in outcomes {
        imported.apps.extend(mine.apps);
        imported.versions.extend(mine.versions);
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
}

/// Imports the versions `todo` of one chart (newest first), creating its app with the first.
async fn import_chart(
    ctx: &ImportContext<'_>,
    chart: &str,
    app_name: &str,
    mut app_exists: bool,
    todo: &[Candidate],
    imported: &mut Imported,
) -> Result<usize, String> {
    let (state, repo, repo_name, ws) = (ctx.state, ctx.repo, ctx.repo_name, ctx.ws);
    let err = |e: PlatformError| e.to_string();
    let mut count = 0;
    for cand in todo {
        let vname = version_name(app_name, &cand.version);
        let pkg = if cand.url.starts_with("oci-blob:") {
            super::oci::blob(ctx.client, repo, &cand.url).await?
        } else {
            fetch(ctx.client, repo, &cand.url, package::MAX_PACKAGE).await?
        };
        let digest = package::digest(&pkg);
        if !cand.digest.is_empty() && cand.digest != digest {
            return Err(format!(
                "{chart} {}: the package's digest is {digest}, the index says {}",
                cand.version, cand.digest
            ));
        }
        let info = tokio::task::spawn_blocking(move || chart_info(&pkg).map(|i| (i, pkg)))
            .await
            .map_err(|e| e.to_string())?;
        let (info, pkg) = info.map_err(|why| format!("{chart} {}: {why}", cand.version))?;
        if info.name != chart || info.version != cand.version {
            return Err(format!(
                "{chart} {}: the package holds {} {}",
                cand.version, info.name, info.version
            ));
        }
        if !app_exists {
            let mut labels = json!({REPO_LABEL: repo_name, CATEGORY_LABEL: UNCATEGORIZED});
            if let Some(ws) = ws {
                labels[WORKSPACE_LABEL] = ws.into();
            }
            let app = json!({
                "metadata": {"name": app_name, "labels": labels,
                    "annotations": {DISPLAY_NAME: chart}},
                "spec": {"appHome": info.home, "appType": "helm", "icon": info.icon,
                    "abstraction": info.description},
            });
            match kubeapi::create(&state.client, Kind::App, None, app).await {
                Ok(_) => {
                    imported.apps.push(app_name.to_string());
                    // A repository's apps are published: in the store once synced.
                    let active = kubeapi::merge_patch_status(
                        &state.client,
                        Kind::App,
                        None,
                        app_name,
                        json!({"status": {"state": "active", "updateTime": now()}}),
                    )
                    .await
                    .map_err(err)?;
                    crate::http::settle(&state.caches.apps, &active).await;
                }
                Err(e) if kubeapi::is_conflict(&e) => {
                    return Err(format!(
                        "an app named {app_name} exists and is not this repository's"
                    ));
                }
                Err(e) => return Err(err(e)),
            }
            app_exists = true;
        }
        let mut labels = json!({APP_LABEL: app_name, REPO_LABEL: repo_name});
        if let Some(ws) = ws {
            labels[WORKSPACE_LABEL] = ws.into();
        }
        let app_version = if cand.app_version.is_empty() {
            info.app_version.clone()
        } else {
            cand.app_version.clone()
        };
        let version = json!({
            "metadata": {"name": vname, "labels": labels,
                "annotations": {super::apps::APP_VERSION_ANNOTATION: app_version}},
            "spec": {"versionName": cand.version, "appHome": info.home, "icon": info.icon,
                "created": now(), "digest": digest, "appType": "helm",
                "maintainer": info.maintainers, "pullUrl": cand.url},
        });
        if cand.replaces {
            // The repository changed this version (another digest): the new one replaces it.
            kubeapi::delete(&state.client, Kind::AppVersion, None, &vname)
                .await
                .map_err(err)?;
        }
        let created = kubeapi::create(&state.client, Kind::AppVersion, None, version)
            .await
            .map_err(err)?;
        imported.versions.push(vname.clone());
        package::store(&state.client, &created, &pkg)
            .await
            .map_err(err)?;
        kubeapi::merge_patch_status(
            &state.client,
            Kind::AppVersion,
            None,
            &vname,
            json!({"status": {"state": State::Active.as_str(),
                "message": format!("synced from repository {repo_name}"),
                "userName": "", "updated": now()}}),
        )
        .await
        .map_err(err)?;
        count += 1;
    }
    Ok(count)
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

/// Syncs a repository and records the outcome in its status; returns the repository.
pub async fn sync_and_record(state: &AppState, repo: &Value) -> Result<Value, PlatformError> {
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
            sync_and_record(state, &repo).await?;
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
