//! The release actions themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::time::Instant;

use super::resources::{self, Resources, Target, set_release_metadata};
use super::{ActionError, hooks, now, storage, wait};
use crate::chart::Chart;
use crate::engine::{Capabilities, KubeVersion, ReleaseOptions, RenderOptions};
use crate::release::{ReleaseRecord, Status, render_release};
use crate::values::Map;

/// What `install` needs besides the chart.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// User values (`-f`, `--set`).
    pub values: Map,
    /// Create the namespace if it is missing.
    pub create_namespace: bool,
    /// Wait for the resources to be ready.
    pub wait: bool,
    /// Budget for hooks and `wait`.
    pub timeout: Duration,
    /// Server-side apply (Helm 4's default) rather than client-side.
    pub server_side: bool,
    /// Take over fields other managers own (server-side apply only).
    pub force_conflicts: bool,
    /// Install only: do not create the chart's `crds/`.
    pub skip_crds: bool,
    /// Labels set on every object of the release, hooks included (a post-render step: the
    /// stored manifest carries them).
    pub labels: BTreeMap<String, String>,
}

impl InstallOptions {
    /// Defaults for release `name` in `namespace`: server-side apply, 5 minute timeout.
    pub fn new(name: &str, namespace: &str) -> InstallOptions {
        InstallOptions {
            name: name.into(),
            namespace: namespace.into(),
            values: Map::new(),
            create_namespace: false,
            wait: false,
            timeout: Duration::from_secs(300),
            server_side: true,
            force_conflicts: false,
            skip_crds: false,
            labels: BTreeMap::new(),
        }
    }
}

/// What `upgrade` needs besides the chart (the apply mode is the release's own).
pub type UpgradeOptions = InstallOptions;

fn s<'a>(j: &'a Json, p: &str) -> &'a str {
    j.pointer(p).and_then(Json::as_str).unwrap_or_default()
}

fn version(j: &Json) -> i64 {
    j.get("version").and_then(Json::as_i64).unwrap_or(0)
}

fn set_status(rel: &mut Json, status: Status, description: &str) {
    if let Some(info) = rel.get_mut("info").and_then(Json::as_object_mut) {
        info.insert("status".into(), Json::String(status.as_str().into()));
        info.insert("description".into(), Json::String(description.into()));
    }
}

fn status_of(j: &Json) -> &str {
    s(j, "/info/status")
}

fn server_side(rel: &Json) -> bool {
    rel.get("apply_method").and_then(Json::as_str) == Some("ssa")
}

async fn capabilities(res: &mut Resources) -> Result<Capabilities, ActionError> {
    let mut caps = Capabilities::default();
    if let Ok(info) = res.client.apiserver_version().await
        && let Some(kv) = KubeVersion::parse(&info.git_version)
    {
        caps.kube_version = kv;
    }
    caps.api_versions = res.api_versions().await?;
    Ok(caps)
}

async fn render(
    res: &mut Resources,
    chart: &Chart,
    opts: &InstallOptions,
    revision: i64,
    upgrade: bool,
) -> Result<crate::release::RenderedRelease, ActionError> {
    let ropts = RenderOptions {
        release: ReleaseOptions {
            name: opts.name.clone(),
            namespace: opts.namespace.clone(),
            revision,
            is_install: !upgrade,
            is_upgrade: upgrade,
        },
        capabilities: capabilities(res).await?,
        ..RenderOptions::default()
    };
    // Helm keeps `crds/` out of the release manifest: install creates them beforehand.
    let mut rendered = render_release(chart, &opts.values, &ropts, false)?;
    crate::release::add_labels(&mut rendered, &opts.labels)?;
    Ok(rendered)
}

fn key(t: &Target) -> (String, String, String) {
    (t.kind.clone(), t.namespace.clone(), t.name.clone())
}

fn keeps(t: &Target) -> bool {
    t.object
        .pointer("/metadata/annotations/helm.sh~1resource-policy")
        .and_then(Json::as_str)
        == Some("keep")
}

/// Applies `targets` (the new manifest) over `old` (the previous manifest's objects), then
/// deletes what the new one no longer has.
async fn apply_all(
    targets: &mut [Target],
    old: &[Target],
    rel: &Json,
    force: bool,
) -> Result<(), ActionError> {
    let name = s(rel, "/name").to_string();
    let ns = s(rel, "/namespace").to_string();
    let ssa = server_side(rel);
    let originals: BTreeMap<_, _> = old.iter().map(|t| (key(t), &t.object)).collect();
    for t in targets.iter_mut() {
        set_release_metadata(t, &name, &ns);
        if ssa {
            resources::apply_server_side(t, force).await?;
        } else {
            resources::apply_client_side(t, originals.get(&key(t)).copied()).await?;
        }
    }
    let kept: std::collections::BTreeSet<_> = targets.iter().map(key).collect();
    for t in old.iter().rev() {
        if !kept.contains(&key(t)) && !keeps(t) {
            resources::delete(t).await?;
        }
    }
    Ok(())
}

/// Refuses objects that exist but are not this release's (Helm's `existingResourceConflict`:
/// the `managed-by` label and both release annotations must name it); `context` starts the
/// message as Helm's install or upgrade does.
async fn check_ownership(
    targets: &[Target],
    name: &str,
    ns: &str,
    context: &str,
) -> Result<(), ActionError> {
    for t in targets {
        if let Some(live) = resources::get(t).await? {
            let a = live.metadata.annotations.unwrap_or_default();
            let l = live.metadata.labels.unwrap_or_default();
            let mut why = Vec::new();
            if l.get("app.kubernetes.io/managed-by").map(String::as_str) != Some("Helm") {
                why.push("label validation error: key \"app.kubernetes.io/managed-by\" must equal \"Helm\"".to_string());
            }
            for (k, want) in [
                ("meta.helm.sh/release-name", name),
                ("meta.helm.sh/release-namespace", ns),
            ] {
                if a.get(k).map(String::as_str) != Some(want) {
                    why.push(format!(
                        "annotation validation error: key {k:?} must equal {want:?}"
                    ));
                }
            }
            if !why.is_empty() {
                return Err(ActionError::Exists(format!(
                    "{context}: {} in namespace {:?} exists and cannot be imported into the current release: invalid ownership metadata; {}",
                    t.describe(),
                    t.namespace,
                    why.join("; ")
                )));
            }
        }
    }
    Ok(())
}

async fn ensure_namespace(res: &mut Resources, ns: &str) -> Result<(), ActionError> {
    let obj = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "labels": {"name": ns}}});
    let t = res.target(&obj, "").await?;
    if resources::get(&t).await?.is_none() {
        resources::create(&t).await?;
    }
    Ok(())
}

/// Creates the chart's `crds/` that do not exist yet (existing ones are left alone, as Helm
/// does) and waits until they are established, so the release's custom resources resolve.
async fn install_crds(
    res: &mut Resources,
    chart: &Chart,
    opts: &InstallOptions,
) -> Result<(), ActionError> {
    let mut created = Vec::new();
    for (_, text) in crate::release::release_crds(chart, &opts.values)? {
        for obj in resources::manifest_objects(&text)? {
            let t = res.target(&obj, "").await?;
            if resources::get(&t).await?.is_none() {
                resources::create(&t).await?;
                created.push(t);
            }
        }
    }
    if created.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + opts.timeout;
    for t in &created {
        wait::wait_established(t, deadline).await?;
    }
    res.forget_discovery();
    Ok(())
}

/// Records the outcome: deployed with `done`, or failed with Helm's description
/// (`<failed> "NAME" failed: why`, `failed` being `Release`, `Upgrade` or `Rollback`).
async fn finish(
    res: &Resources,
    rel: &mut Json,
    outcome: Result<(), ActionError>,
    done: &str,
    failed: &str,
) -> Result<(), ActionError> {
    match outcome {
        Ok(()) => {
            set_status(rel, Status::Deployed, done);
            storage::update(&res.client, rel).await
        }
        Err(e) => {
            let msg = format!("{failed} {:?} failed: {e}", s(rel, "/name"));
            set_status(rel, Status::Failed, &msg);
            storage::update(&res.client, rel).await?;
            Err(e)
        }
    }
}

/// `helm install`: renders `chart`, stores the release, runs the install hooks and applies
/// the manifest; returns the stored release JSON.
pub async fn install(
    res: &mut Resources,
    chart: &Chart,
    opts: &InstallOptions,
) -> Result<Json, ActionError> {
    if !storage::history(&res.client, &opts.namespace, &opts.name)
        .await?
        .is_empty()
    {
        return Err(ActionError::InUse);
    }
    if opts.create_namespace {
        ensure_namespace(res, &opts.namespace).await?;
    }
    if !opts.skip_crds {
        install_crds(res, chart, opts).await?;
    }
    let rendered = render(res, chart, opts, 1, false).await?;
    let at = now();
    let record = ReleaseRecord {
        name: opts.name.clone(),
        namespace: opts.namespace.clone(),
        version: 1,
        status: Status::PendingInstall,
        first_deployed: at.clone(),
        last_deployed: at,
        description: "Initial install underway".into(),
        notes: rendered.notes.clone(),
        manifest: rendered.manifest.clone(),
        hooks: rendered.hooks.clone(),
        config: opts.values.clone(),
        chart: chart.clone(),
        apply_method: if opts.server_side { "ssa" } else { "csa" }.into(),
    };
    let mut rel = record.to_json();
    let mut targets = res.targets(&rendered.manifest, &opts.namespace).await?;
    check_ownership(
        &targets,
        &opts.name,
        &opts.namespace,
        "rendered manifests contain a resource that already exists. Unable to continue with install",
    )
    .await?;
    storage::create(&res.client, &rel).await?;
    let deadline = Instant::now() + opts.timeout;
    let outcome = async {
        hooks::run(res, &mut rel, "pre-install", opts.server_side, deadline).await?;
        apply_all(&mut targets, &[], &rel, opts.force_conflicts).await?;
        if opts.wait {
            wait::wait_ready(&targets, deadline).await?;
        }
        hooks::run(res, &mut rel, "post-install", opts.server_side, deadline).await
    }
    .await;
    finish(res, &mut rel, outcome, "Install complete", "Release").await?;
    Ok(rel)
}

/// The revision an upgrade starts from: the deployed one, else (a first install that failed,
/// or history whose deployed revision is gone) the last one if it failed or was superseded —
/// Helm's `prepareUpgrade`.
fn deployed(hist: &[Json]) -> Result<&Json, ActionError> {
    let last = hist.last().ok_or(ActionError::NotFound)?;
    if status_of(last).starts_with("pending-") {
        return Err(ActionError::InProgress);
    }
    hist.iter()
        .rev()
        .find(|r| status_of(r) == Status::Deployed.as_str())
        .or_else(|| {
            let st = status_of(last);
            (st == Status::Failed.as_str() || st == Status::Superseded.as_str()).then_some(last)
        })
        .ok_or_else(|| {
            ActionError::State(format!("{:?} has no deployed releases", s(last, "/name")))
        })
}

/// Marks `revisions` superseded (the revision an upgrade replaced; every deployed one after
/// a rollback).
async fn supersede<'a>(
    res: &Resources,
    revisions: impl IntoIterator<Item = &'a Json>,
) -> Result<(), ActionError> {
    for r in revisions {
        if status_of(r) != Status::Superseded.as_str() {
            let mut r = r.clone();
            if let Some(info) = r.get_mut("info").and_then(Json::as_object_mut) {
                info.insert("status".into(), json!("superseded"));
            }
            storage::update(&res.client, &r).await?;
        }
    }
    Ok(())
}

/// `helm upgrade`: a new revision of `opts.name` from `chart`, applied the way the release
/// was made (server-side or client-side three-way merge).
pub async fn upgrade(
    res: &mut Resources,
    chart: &Chart,
    opts: &UpgradeOptions,
) -> Result<Json, ActionError> {
    let hist = storage::history(&res.client, &opts.namespace, &opts.name).await?;
    let current = deployed(&hist)?.clone();
    let last_version = hist.last().map(version).unwrap_or(0);
    let revision = last_version + 1;
    let rendered = render(res, chart, opts, revision, true).await?;
    let ssa = server_side(&current);
    let record = ReleaseRecord {
        name: opts.name.clone(),
        namespace: opts.namespace.clone(),
        version: revision,
        status: Status::PendingUpgrade,
        first_deployed: s(&current, "/info/first_deployed").to_string(),
        last_deployed: now(),
        description: "Preparing upgrade".into(),
        notes: rendered.notes.clone(),
        manifest: rendered.manifest.clone(),
        hooks: rendered.hooks.clone(),
        config: opts.values.clone(),
        chart: chart.clone(),
        apply_method: if ssa { "ssa" } else { "csa" }.into(),
    };
    let mut rel = record.to_json();
    let old = res
        .targets(s(&current, "/manifest"), &opts.namespace)
        .await?;
    let mut targets = res.targets(&rendered.manifest, &opts.namespace).await?;
    // Objects the upgrade adds must not belong to something else, as on install.
    let before: std::collections::BTreeSet<_> = old.iter().map(key).collect();
    let added: Vec<Target> = targets
        .iter()
        .filter(|t| !before.contains(&key(t)))
        .cloned()
        .collect();
    check_ownership(
        &added,
        &opts.name,
        &opts.namespace,
        "Unable to continue with update",
    )
    .await?;
    storage::create(&res.client, &rel).await?;
    let deadline = Instant::now() + opts.timeout;
    let outcome = async {
        hooks::run(res, &mut rel, "pre-upgrade", ssa, deadline).await?;
        apply_all(&mut targets, &old, &rel, opts.force_conflicts).await?;
        if opts.wait {
            wait::wait_ready(&targets, deadline).await?;
        }
        hooks::run(res, &mut rel, "post-upgrade", ssa, deadline).await
    }
    .await;
    // On failure the revision upgraded from stays as it was (Helm's `failRelease`).
    if outcome.is_ok() {
        supersede(res, [&current]).await?;
    }
    finish(res, &mut rel, outcome, "Upgrade complete", "Upgrade").await?;
    Ok(rel)
}

/// `helm rollback NAME [REVISION]`: a new revision copying `revision` (0: the one before the
/// latest).
pub async fn rollback(
    res: &mut Resources,
    namespace: &str,
    name: &str,
    revision: i64,
    wait_ready: bool,
    timeout: Duration,
) -> Result<Json, ActionError> {
    let hist = storage::history(&res.client, namespace, name).await?;
    let last = hist.last().ok_or(ActionError::NotFound)?.clone();
    if status_of(&last).starts_with("pending-") {
        return Err(ActionError::InProgress);
    }
    let want = if revision > 0 {
        revision
    } else {
        version(&last) - 1
    };
    let previous = hist
        .iter()
        .find(|r| version(r) == want)
        .ok_or_else(|| ActionError::State(format!("release has no {want} version")))?;
    // Helm diffs against the last revision, whatever its state.
    let current = last.clone();
    let mut rel = previous.clone();
    rel["version"] = json!(version(&last) + 1);
    if let Some(info) = rel.get_mut("info").and_then(Json::as_object_mut) {
        info.insert(
            "first_deployed".into(),
            json!(s(&current, "/info/first_deployed")),
        );
        info.insert("last_deployed".into(), json!(now()));
        info.remove("deleted");
    }
    set_status(&mut rel, Status::PendingRollback, "Rollback in progress");
    let ssa = server_side(&rel);
    let old = res.targets(s(&current, "/manifest"), namespace).await?;
    let mut targets = res.targets(s(&rel, "/manifest"), namespace).await?;
    storage::create(&res.client, &rel).await?;
    let deadline = Instant::now() + timeout;
    let outcome = async {
        hooks::run(res, &mut rel, "pre-rollback", ssa, deadline).await?;
        apply_all(&mut targets, &old, &rel, false).await?;
        if wait_ready {
            wait::wait_ready(&targets, deadline).await?;
        }
        hooks::run(res, &mut rel, "post-rollback", ssa, deadline).await
    }
    .await;
    // Success supersedes every deployed revision; failure only the one rolled back from.
    if outcome.is_ok() {
        // Collected first: a filter closure held across the await would make this future
        // not `Send` for every lifetime (servers run it on a multi-threaded runtime).
        let deployed: Vec<&Json> = hist
            .iter()
            .filter(|r| status_of(r) == Status::Deployed.as_str())
            .collect();
        supersede(res, deployed).await?;
    } else {
        supersede(res, [&current]).await?;
    }
    let done = format!("Rollback to {want}");
    finish(res, &mut rel, outcome, &done, "Rollback").await?;
    Ok(rel)
}

/// `helm uninstall`: runs the delete hooks and deletes the release's objects; keeps the
/// history (as `uninstalled`) with `keep_history`, else deletes every revision.
pub async fn uninstall(
    res: &mut Resources,
    namespace: &str,
    name: &str,
    keep_history: bool,
    timeout: Duration,
) -> Result<Json, ActionError> {
    let hist = storage::history(&res.client, namespace, name).await?;
    let mut rel = hist.last().ok_or(ActionError::NotFound)?.clone();
    if status_of(&rel) == Status::Uninstalled.as_str() {
        if !keep_history {
            for r in &hist {
                storage::delete(&res.client, r).await?;
            }
            return Ok(rel);
        }
        return Err(ActionError::State(format!("{name:?} is already deleted")));
    }
    set_status(
        &mut rel,
        Status::Uninstalling,
        "Deletion in progress (or silently failed)",
    );
    rel["info"]["deleted"] = json!(now());
    storage::update(&res.client, &rel).await?;
    let ssa = server_side(&rel);
    let deadline = Instant::now() + timeout;
    hooks::run(res, &mut rel, "pre-delete", ssa, deadline).await?;
    let targets = res.targets(s(&rel, "/manifest"), namespace).await?;
    for t in targets.iter().rev() {
        if !keeps(t) {
            resources::delete(t).await?;
        }
    }
    hooks::run(res, &mut rel, "post-delete", ssa, deadline).await?;
    set_status(&mut rel, Status::Uninstalled, "Uninstallation complete");
    if keep_history {
        storage::update(&res.client, &rel).await?;
    } else {
        for r in &hist {
            storage::delete(&res.client, r).await?;
        }
    }
    Ok(rel)
}

/// `helm history NAME`: every revision, oldest first.
pub async fn history(
    res: &Resources,
    namespace: &str,
    name: &str,
) -> Result<Vec<Json>, ActionError> {
    let h = storage::history(&res.client, namespace, name).await?;
    if h.is_empty() {
        return Err(ActionError::NotFound);
    }
    Ok(h)
}

/// `helm list [-A]`: the latest revision of each release that is deployed or failed (Helm's
/// default state filter), sorted by name.
pub async fn list(res: &Resources, namespace: Option<&str>) -> Result<Vec<Json>, ActionError> {
    let mut latest: BTreeMap<(String, String), Json> = BTreeMap::new();
    for r in storage::all(&res.client, namespace).await? {
        let k = (s(&r, "/name").to_string(), s(&r, "/namespace").to_string());
        if latest.get(&k).is_none_or(|o| version(o) < version(&r)) {
            latest.insert(k, r);
        }
    }
    Ok(latest
        .into_values()
        .filter(|r| {
            let st = status_of(r);
            st == Status::Deployed.as_str() || st == Status::Failed.as_str()
        })
        .collect())
}
