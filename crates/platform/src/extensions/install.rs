//! The InstallPlan controller (leader only; its own loop, one task per plan so a long install
//! holds up no other): an `InstallPlan` named after its extension makes the ExtensionVersion
//! `<ext>-<version>` a Helm release `<ext>` in the host, in namespace `extension-<ext>` (or
//! the one `extension.yaml`'s `namespace` names), made by the App Store's release machinery
//! ([`releases::deploy`]) — with only the permissions the package's `permissions.yaml`
//! declares: the Helm engine acts as a ServiceAccount bound to exactly those rules, so the
//! cluster's RBAC enforces them ([`permissions`] has the installer's ceiling).
//!
//! States (KubeSphere's): `Preparing` (the package is fetched and checked: `extension.yaml`,
//! its name, `permissions.yaml` within the ceiling, the chart loads and renders — a bad package
//! is refused here and nothing is installed) → `Installing` → `Installed` | `InstallFailed`; a
//! changed version or `config`, or `enabled`: `Upgrading` → `Upgraded` | `UpgradeFailed`;
//! deleted: `Uninstalling` → `Uninstalled` (then the finalizer goes) | `UninstallFailed`
//! (tried again every [`UNINSTALL_RETRY`]). `status.specHash` records what was acted on, so a
//! failure is retried when the spec changes or the annotation [`RETRY_ANNOTATION`] takes a new
//! value. Each step has a timeout; every failure says why in the state's condition.
//!
//! Idempotent across leader hand-over: every step reads what the cluster holds (the Helm
//! release's history, the namespace, the installer's RBAC) before acting; a Helm revision left
//! `pending-*` by a leader that died is marked failed once it is older than an action's
//! timeout, and the work is redone.
//!
//! Disabled (`enabled: false`): the release is upgraded with the `extension` tag off (the
//! frontend subchart goes) and the extension's routes (`APIService`, `ReverseProxy`,
//! `JSBundle`, `ExtensionEntry` labelled with it) are removed while it stays disabled; its
//! backend keeps running and the plan, its namespace and data stay. Enabling it again
//! upgrades the release back.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use sha2::Digest;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::package::{self, EXTENSION_REF};
use super::permissions::{self, Permissions};
use crate::appstore::releases;
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// Keeps an InstallPlan until its extension is uninstalled.
pub const FINALIZER: &str = "extensions.orrery.io/uninstall";
/// A new value asks for a failed install or upgrade to be tried again as it is.
pub const RETRY_ANNOTATION: &str = "extensions.orrery.io/retry";
/// How long fetching a package may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(90);
/// Helm's budget for one install, upgrade or uninstall (hooks included).
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(300);
/// What an action may take beyond Helm's own budget before it is given up.
const ACTION_GRACE: Duration = Duration::from_secs(30);
/// How long rendering a chart to check it may take.
const RENDER_TIMEOUT: Duration = Duration::from_secs(60);
/// A failed uninstall is tried again after this long.
pub const UNINSTALL_RETRY: Duration = Duration::from_secs(30);
/// Entries kept in `status.stateHistory`.
pub const HISTORY: usize = 20;
/// Field manager of the installer's own objects.
const MANAGER: &str = "orrery-extensions";

/// Runs the controller while this replica leads.
pub async fn run(
    state: Arc<AppState>,
    mut leader: watch::Receiver<bool>,
    resync: Duration,
    shutdown: CancellationToken,
) {
    let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        running.retain(|_, h| !h.is_finished());
        if *leader.borrow_and_update() {
            match kubeapi::list(&state.client, Kind::InstallPlan, None, "").await {
                Ok(plans) => {
                    for plan in plans {
                        let name = plan["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        if running.contains_key(&name) {
                            continue;
                        }
                        let s = state.clone();
                        let task_name = name.clone();
                        running.insert(
                            name,
                            tokio::spawn(async move {
                                if let Err(e) = reconcile(&s, &plan).await {
                                    tracing::warn!(installplan = %task_name, error = %e, "extension install plan");
                                }
                            }),
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing install plans"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = leader.changed() => {}
            _ = tokio::time::sleep(resync) => {}
        }
    }
}

/// What the installer acts on: the version, `config`, `enabled`, the scheduling and the retry
/// annotation.
pub fn spec_hash(plan: &Value) -> String {
    let spec = &plan["spec"];
    let what = json!({
        "v": spec["extension"]["version"],
        "config": spec["config"],
        "enabled": enabled(plan),
        "scheduling": spec["clusterScheduling"],
        "retry": plan["metadata"]["annotations"][RETRY_ANNOTATION],
    });
    format!("{:x}", sha2::Sha256::digest(what.to_string().as_bytes()))[..16].to_string()
}

pub(super) fn enabled(plan: &Value) -> bool {
    plan["spec"]["enabled"].as_bool().unwrap_or(true)
}

pub(super) fn now() -> String {
    crate::appstore::now()
}

/// A condition to set: type, status, reason, message.
pub(super) struct Cond<'a>(pub &'a str, pub bool, pub &'a str, pub &'a str);

/// The plan's status as this pass knows it, written on each change.
pub(super) struct Plan {
    pub(super) name: String,
    /// The plan's uid, for the Events about it.
    pub(super) uid: String,
    pub(super) status: Value,
}

impl Plan {
    pub(super) fn state(&self) -> &str {
        self.status["state"].as_str().unwrap_or_default()
    }

    /// Moves to `to` (recorded in `stateHistory` when it changes), sets `cond` and `extra`
    /// fields, and writes the status if anything changed.
    /// Stays in phase `to` with condition `cond` false, reason Waiting, saying `why`.
    async fn waiting(
        &mut self,
        state: &AppState,
        to: &str,
        cond: &str,
        why: &str,
    ) -> Result<(), PlatformError> {
        self.transition(state, to, Some(Cond(cond, false, "Waiting", why)), &[])
            .await
    }

    pub(super) async fn transition(
        &mut self,
        state: &AppState,
        to: &str,
        cond: Option<Cond<'_>>,
        extra: &[(&str, Value)],
    ) -> Result<(), PlatformError> {
        let mut st = match &self.status {
            Value::Object(_) => self.status.clone(),
            _ => json!({}),
        };
        let at = now();
        if st["state"] != to {
            let mut history: Vec<Value> =
                st["stateHistory"].as_array().cloned().unwrap_or_default();
            history.push(json!({"state": to, "lastTransitionTime": at}));
            let skip = history.len().saturating_sub(HISTORY);
            st["stateHistory"] = Value::Array(history.split_off(skip));
            st["state"] = to.into();
        }
        if let Some(Cond(kind, ok, reason, message)) = &cond {
            set_condition(&mut st, kind, *ok, reason, message, &at);
        }
        for (k, v) in extra {
            st[*k] = v.clone();
        }
        if st == self.status {
            return Ok(());
        }
        let events = state_events(&self.status, &st, cond.as_ref());
        match kubeapi::merge_patch_status(
            &state.client,
            Kind::InstallPlan,
            None,
            &self.name,
            json!({"status": st}),
        )
        .await
        {
            Err(e) if kubeapi::is_not_found(&e) => {}
            other => {
                other?;
            }
        }
        self.status = st;
        let about = (
            "kubesphere.io/v1alpha1",
            "InstallPlan",
            self.name.as_str(),
            self.uid.as_str(),
        );
        for (warning, reason, message) in events {
            crate::appstore::record_event_of(
                &state.client,
                about,
                "orrery-extensions",
                warning,
                &reason,
                &message,
            )
            .await;
        }
        Ok(())
    }
}

/// The Events a status change makes, as (warning, reason, message): one for a new state of
/// the plan (its message the condition `cond` set with it) and one for each cluster whose
/// agent's state changed (its message what the entry's false conditions say); the reason is
/// the new state. A failure is a Warning.
fn state_events(
    before: &Value,
    after: &Value,
    cond: Option<&Cond<'_>>,
) -> Vec<(bool, String, String)> {
    let mut out = Vec::new();
    if let Some(to) = after["state"].as_str()
        && before["state"] != to
    {
        let message = match cond {
            Some(Cond(_, _, reason, message)) if !message.is_empty() => {
                format!("{reason}: {message}")
            }
            _ => format!("the extension is {to}"),
        };
        out.push((to.ends_with("Failed"), to.to_string(), message));
    }
    let agents = after["clusterSchedulingStatuses"].as_object();
    for (cluster, entry) in agents.into_iter().flatten() {
        if let Some(to) = entry["state"].as_str()
            && before["clusterSchedulingStatuses"][cluster]["state"] != to
        {
            let why: Vec<String> = entry["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["status"] == "False" && to.ends_with("Failed"))
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["reason"].as_str().unwrap_or_default(),
                        c["message"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            let mut message = format!("the agent in cluster {cluster} is {to}");
            if !why.is_empty() {
                message = format!("{message}: {}", why.join("; "));
            }
            out.push((to.ends_with("Failed"), to.to_string(), message));
        }
    }
    out
}

/// Sets condition `kind` (its `lastTransitionTime` moves only when its status changes).
pub(super) fn set_condition(
    st: &mut Value,
    kind: &str,
    ok: bool,
    reason: &str,
    message: &str,
    at: &str,
) {
    let status = if ok { "True" } else { "False" };
    let mut list: Vec<Value> = st["conditions"].as_array().cloned().unwrap_or_default();
    let message: String = message.chars().take(4096).collect();
    match list.iter_mut().find(|c| c["type"] == kind) {
        Some(c) => {
            if c["status"] != status {
                c["lastTransitionTime"] = at.into();
            }
            c["status"] = status.into();
            c["reason"] = reason.into();
            c["message"] = message.into();
        }
        None => list.push(json!({"type": kind, "status": status, "reason": reason,
            "message": message, "lastTransitionTime": at})),
    }
    st["conditions"] = Value::Array(list);
}

/// One pass over one InstallPlan.
pub async fn reconcile(state: &AppState, plan: &Value) -> Result<(), PlatformError> {
    let name = plan["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ext = plan["spec"]["extension"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut p = Plan {
        name: name.clone(),
        uid: plan["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        status: plan["status"].clone(),
    };
    let mut fins = kubeapi::finalizers(plan);
    if !plan["metadata"]["deletionTimestamp"].is_null() {
        if !fins.iter().any(|f| f == FINALIZER) {
            return Ok(());
        }
        if uninstall(state, &ext, &mut p).await? {
            // Read again: the status written since moved the resourceVersion.
            if let Some(fresh) = kubeapi::get(&state.client, Kind::InstallPlan, None, &name).await?
            {
                let mut fins = kubeapi::finalizers(&fresh);
                fins.retain(|f| f != FINALIZER);
                kubeapi::set_finalizers(&state.client, Kind::InstallPlan, &fresh, fins).await?;
            }
        }
        return Ok(());
    }
    if !fins.iter().any(|f| f == FINALIZER) {
        fins.push(FINALIZER.to_string());
        return kubeapi::set_finalizers(&state.client, Kind::InstallPlan, plan, fins).await;
    }
    let hash = spec_hash(plan);
    if p.status["specHash"] == hash.as_str() {
        if automatic_upgrade(state, plan, &p).await? {
            return Ok(());
        }
        follow(state, plan, &ext, &p).await?;
        return agents(state, plan, &ext, &mut p).await;
    }
    if ext != name {
        p.transition(
            state,
            "InstallFailed",
            Some(Cond(
                "Installed",
                false,
                "InvalidInstallPlan",
                &format!(
                    "an InstallPlan is named after the extension it installs: {name:?} names extension {ext:?}"
                ),
            )),
            &[("specHash", hash.into())],
        )
        .await?;
        return follow(state, plan, &ext, &p).await;
    }
    install(state, plan, &ext, &mut p, &hash).await?;
    follow(state, plan, &ext, &p).await?;
    agents(state, plan, &ext, &mut p).await
}

/// A `Multicluster` extension's agents follow its installed release (see [`super::agents`]).
async fn agents(
    state: &AppState,
    plan: &Value,
    ext: &str,
    p: &mut Plan,
) -> Result<(), PlatformError> {
    if !matches!(p.state(), "Installed" | "Upgraded") {
        return Ok(());
    }
    let version = p.status["version"].as_str().unwrap_or_default();
    let mode = kubeapi::get(
        &state.client,
        Kind::ExtensionVersion,
        None,
        &format!("{ext}-{version}"),
    )
    .await?
    .and_then(|v| v["spec"]["installationMode"].as_str().map(String::from))
    .unwrap_or_else(|| "HostOnly".into());
    super::agents::reconcile(state, plan, ext, p, &mode).await
}

/// The newest version of extension `ext` among its ExtensionVersions.
async fn newest_version(state: &AppState, ext: &str) -> Result<Option<String>, PlatformError> {
    let versions = kubeapi::list(
        &state.client,
        Kind::ExtensionVersion,
        None,
        &format!("{EXTENSION_REF}={ext}"),
    )
    .await?;
    let mut found: Vec<String> = versions
        .iter()
        .filter_map(|v| v["spec"]["version"].as_str().map(String::from))
        .collect();
    found.sort_by(|a, b| package::compare_versions(a, b));
    Ok(found.into_iter().next())
}

/// `upgradeStrategy: Automatic`: an installed extension follows its newest version (the plan's
/// `spec.extension.version` is moved to it, and the next pass upgrades). Whether it moved.
async fn automatic_upgrade(
    state: &AppState,
    plan: &Value,
    p: &Plan,
) -> Result<bool, PlatformError> {
    if plan["spec"]["upgradeStrategy"] != "Automatic"
        || !matches!(p.state(), "Installed" | "Upgraded")
    {
        return Ok(false);
    }
    let ext = plan["spec"]["extension"]["name"]
        .as_str()
        .unwrap_or_default();
    let current = plan["spec"]["extension"]["version"]
        .as_str()
        .unwrap_or_default();
    let Some(newest) = newest_version(state, ext).await? else {
        return Ok(false);
    };
    if package::compare_versions(&newest, current) != std::cmp::Ordering::Less {
        return Ok(false);
    }
    let name = plan["metadata"]["name"].as_str().unwrap_or_default();
    let patch = json!({"metadata": {"resourceVersion": plan["metadata"]["resourceVersion"]},
        "spec": {"extension": {"version": newest}}});
    match kubeapi::merge_patch(&state.client, Kind::InstallPlan, None, name, patch).await {
        Err(e) if kubeapi::is_not_found(&e) || kubeapi::is_conflict(&e) => Ok(true),
        other => other.map(|_| true),
    }
}

/// What a checked package holds.
pub struct Package {
    /// The chart.
    pub chart: helm::chart::Chart,
    /// `extension.yaml`, checked.
    pub manifest: package::Manifest,
    /// `permissions.yaml`, within the ceiling.
    pub permissions: Permissions,
    /// The namespace it installs into.
    pub namespace: String,
}

/// Namespaces no extension may install into (the cluster's and the platform's own).
pub fn reserved_namespace(ns: &str) -> bool {
    matches!(
        ns,
        "default" | "kube-system" | "kube-public" | "kube-node-lease"
    ) || ns == crate::tokens::SYSTEM_NAMESPACE
        || ns.starts_with("kube-")
        || ns.starts_with("kubesphere-")
}

fn root_file<'a>(chart: &'a helm::chart::Chart, name: &str) -> Option<&'a [u8]> {
    chart
        .files
        .iter()
        .find(|f| f.name == name)
        .map(|f| &*f.data)
}

/// Loads and checks an extension package for extension `ext`: a chart Helm loads (sizes,
/// paths, links checked), with `extension.yaml` naming `ext`, and `permissions.yaml` within
/// the installer's ceiling. Nothing is installed when this refuses; the words say why.
pub fn read_package(bytes: &[u8], ext: &str) -> Result<Package, String> {
    let chart = helm::chart::load_archive(bytes, &helm::chart::LoadLimits::default())
        .map_err(|e| format!("the package is not a chart Helm can load: {e}"))?;
    let text = root_file(&chart, "extension.yaml").ok_or("the package has no extension.yaml")?;
    let text = std::str::from_utf8(text).map_err(|_| "extension.yaml is not UTF-8".to_string())?;
    let manifest = package::parse_manifest(text)?;
    if manifest.name != ext {
        return Err(format!(
            "extension.yaml names extension {:?}, the InstallPlan installs {ext:?}",
            manifest.name
        ));
    }
    let namespace = extension_namespace(text, ext)?;
    let perms = root_file(&chart, "permissions.yaml").ok_or(
        "the package has no permissions.yaml (an extension declares the permissions its installation needs)",
    )?;
    let perms =
        std::str::from_utf8(perms).map_err(|_| "permissions.yaml is not UTF-8".to_string())?;
    let permissions = permissions::parse(perms)?;
    permissions::check_ceiling(&permissions)?;
    Ok(Package {
        chart,
        manifest,
        permissions,
        namespace,
    })
}

/// `extension.yaml`'s `namespace`, or `extension-<ext>`; a reserved or invalid one is refused.
fn extension_namespace(text: &str, ext: &str) -> Result<String, String> {
    let doc: Value = serde_saphyr::from_str(text).unwrap_or(Value::Null);
    let ns = match &doc["namespace"] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Null | Value::String(_) => format!("extension-{ext}"),
        _ => return Err("extension.yaml: namespace must be a string".into()),
    };
    if !apimachinery::validation::is_dns1123_label(&ns).is_empty() {
        return Err(format!(
            "extension.yaml: namespace {ns:?} is not a valid namespace name"
        ));
    }
    if reserved_namespace(&ns) {
        return Err(format!(
            "extension.yaml: namespace {ns:?} is reserved for the cluster or the platform"
        ));
    }
    Ok(ns)
}

/// The values a release is made with: the platform's globals (`global.clusterInfo.name` and
/// `role`, `global.imageRegistry`, `global.portal.url`), then `layers` of YAML over them (the
/// plan's `config`, then a cluster's `overrides`), and the subchart tags the installer decides:
/// `extension` (frontend, host only; off while disabled) and `agent` (backend).
#[allow(clippy::too_many_arguments)]
pub fn values_for(
    layers: &[&str],
    cluster: &str,
    role: &str,
    image_registry: &str,
    portal: &str,
    frontend: bool,
    agent: bool,
) -> Result<helm::values::Map, String> {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let globals = format!(
        "global:\n  clusterInfo:\n    name: {}\n    role: {}\n  imageRegistry: {}\n  portal:\n    url: {}\n",
        q(cluster),
        q(role),
        q(image_registry),
        q(portal)
    );
    let mut values = helm::yaml::parse_map(&globals).map_err(|e| e.to_string())?;
    for (i, layer) in layers.iter().enumerate() {
        if layer.trim().is_empty() {
            continue;
        }
        let what = if i == 0 { "spec.config" } else { "overrides" };
        let user = helm::yaml::parse_map(layer).map_err(|e| format!("{what}: {e}"))?;
        helm::values::strvals::merge_maps(&mut values, &user);
    }
    let tags = helm::yaml::parse_map(&format!(
        "tags:\n  extension: {frontend}\n  agent: {agent}\n"
    ))
    .map_err(|e| e.to_string())?;
    helm::values::strvals::merge_maps(&mut values, &tags);
    Ok(values)
}

/// Renders the chart as it would be installed (release `ext` in `ns`), so that a chart that
/// does not render is refused before anything is installed.
pub fn render_check(
    chart: &helm::chart::Chart,
    values: &helm::values::Map,
    ext: &str,
    ns: &str,
    upgrade: bool,
) -> Result<(), String> {
    let opts = helm::engine::RenderOptions {
        release: helm::engine::ReleaseOptions {
            name: ext.into(),
            namespace: ns.into(),
            revision: 1,
            is_install: !upgrade,
            is_upgrade: upgrade,
        },
        timeout: RENDER_TIMEOUT,
        ..Default::default()
    };
    helm::release::render_release(chart, values, &opts, false)
        .map(drop)
        .map_err(|e| format!("the chart does not render: {e}"))
}

/// A client for `client`'s cluster acting as ServiceAccount `ns/name` (impersonation: the
/// cluster's RBAC decides with that account's rights).
pub fn acting_as(client: &kube::Client, ns: &str, name: &str) -> Result<kube::Client, String> {
    let user = http::HeaderValue::from_str(&format!("system:serviceaccount:{ns}:{name}"))
        .map_err(|e| e.to_string())?;
    Ok(kube::Client::new(
        Impersonate {
            inner: client.clone(),
            user,
        },
        client.default_namespace().to_string(),
    ))
}

#[derive(Clone)]
struct Impersonate {
    inner: kube::Client,
    user: http::HeaderValue,
}

type Answer = http::Response<kube::client::Body>;

impl tower::Service<http::Request<kube::client::Body>> for Impersonate {
    type Response = Answer;
    type Error = kube::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, kube::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), kube::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<kube::client::Body>) -> Self::Future {
        let h = req.headers_mut();
        for k in ["impersonate-user", "impersonate-group", "impersonate-uid"] {
            h.remove(k);
        }
        h.insert("impersonate-user", self.user.clone());
        let inner = self.inner.clone();
        Box::pin(async move { inner.send(req).await })
    }
}

/// The installer's ServiceAccount in the extension's namespace.
pub fn installer_name(ext: &str) -> String {
    format!("{ext}-installer")
}

/// The installer's ClusterRole and ClusterRoleBinding.
pub fn installer_cluster_name(ext: &str) -> String {
    format!("orrery:extension-installer:{ext}")
}

fn ar<K: kube::Resource<DynamicType = ()>>() -> ApiResource {
    ApiResource::erase::<K>(&())
}

fn api(client: &kube::Client, r: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, r),
        None => Api::all_with(client.clone(), r),
    }
}

async fn apply(
    client: &kube::Client,
    r: &ApiResource,
    ns: Option<&str>,
    obj: Value,
) -> Result<(), String> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let what = format!("{} {name}", r.kind);
    let pp = PatchParams::apply(MANAGER).force();
    kubeapi::timed(
        "apply",
        api(client, r, ns).patch(&name, &pp, &Patch::Apply(&obj)),
    )
    .await
    .map(drop)
    .map_err(|e| format!("{what}: {e}"))
}

async fn delete(
    client: &kube::Client,
    r: &ApiResource,
    ns: Option<&str>,
    name: &str,
) -> Result<(), String> {
    match kubeapi::timed(
        "delete",
        api(client, r, ns).delete(name, &DeleteParams::default()),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if kubeapi::is_not_found(&e) => Ok(()),
        Err(e) => Err(format!("{} {name}: {e}", r.kind)),
    }
}

/// Makes (or finds) the extension's namespace, labelled with it; one that exists and belongs
/// to something else is refused. `Ok(false)` while it is still terminating.
pub(super) async fn ensure_namespace(
    client: &kube::Client,
    ns: &str,
    ext: &str,
) -> Result<bool, String> {
    use k8s_openapi::api::core::v1::Namespace;
    let r = ar::<Namespace>();
    let got = kubeapi::get(client, Kind::Namespace, None, ns)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(n) = got {
        if !n["metadata"]["deletionTimestamp"].is_null() {
            return Ok(false);
        }
        if n["metadata"]["labels"][EXTENSION_REF] != ext {
            return Err(format!(
                "namespace {ns} exists and does not belong to extension {ext} (no label {EXTENSION_REF}={ext})"
            ));
        }
        return Ok(true);
    }
    apply(
        client,
        &r,
        None,
        json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {EXTENSION_REF: ext}}}),
    )
    .await?;
    Ok(true)
}

fn rules_json(rules: &[apimachinery::rbac::Rule]) -> Value {
    Value::Array(rules.iter().map(|r| r.to_json()).collect())
}

/// The installer's ServiceAccount, bound to exactly the package's permissions: its
/// ClusterRole rules cluster-wide, its Role rules (and Helm's release records) in `ns`.
pub(super) async fn ensure_installer(
    client: &kube::Client,
    ns: &str,
    ext: &str,
    p: &Permissions,
) -> Result<(), String> {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    let sa = installer_name(ext);
    let cluster = installer_cluster_name(ext);
    let labels = json!({EXTENSION_REF: ext});
    let subject = json!([{"kind": "ServiceAccount", "name": sa, "namespace": ns}]);
    apply(
        client,
        &ar::<ServiceAccount>(),
        Some(ns),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": sa, "namespace": ns, "labels": labels}}),
    )
    .await?;
    let mut ns_rules = p.namespace.clone();
    ns_rules.extend(permissions::helm_storage_rules());
    apply(
        client,
        &ar::<Role>(),
        Some(ns),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": sa, "namespace": ns, "labels": labels},
            "rules": rules_json(&ns_rules)}),
    )
    .await?;
    apply(
        client,
        &ar::<RoleBinding>(),
        Some(ns),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": sa, "namespace": ns, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
            "subjects": subject}),
    )
    .await?;
    apply(
        client,
        &ar::<ClusterRole>(),
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": cluster, "labels": labels},
            "rules": rules_json(&p.cluster)}),
    )
    .await?;
    apply(
        client,
        &ar::<ClusterRoleBinding>(),
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": cluster, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster},
            "subjects": subject}),
    )
    .await?;
    // An API server authorizes from a cache of roles fed by a watch: wait (bounded) until it
    // grants the new account a namespaced and a cluster-wide rule, so the engine's first calls
    // are not refused for a binding the cache has not seen yet.
    let mut probes = vec![probe(ns, &permissions::helm_storage_rules()[0])];
    if let Some(r) = p.cluster.iter().find(|r| r.non_resource_urls.is_empty()) {
        probes.push(probe("", r));
    }
    let user = format!("system:serviceaccount:{ns}:{sa}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for attrs in probes {
        loop {
            match allowed(client, ns, &user, &attrs).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    // A platform that may not ask goes on; the engine's calls will say.
                    tracing::debug!(error = %e, "subject access review");
                    break;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "the cluster does not yet grant {user} what permissions.yaml declares ({attrs})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// A request one rule grants (its first concrete verb, group and resource), in `ns`.
fn probe(ns: &str, r: &apimachinery::rbac::Rule) -> Value {
    let pick = |l: &[String], any: &str| {
        l.iter()
            .find(|x| !x.contains('*'))
            .cloned()
            .unwrap_or_else(|| any.to_string())
    };
    let resource = pick(&r.resources, "configmaps");
    let (resource, subresource) = match resource.split_once('/') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (resource, String::new()),
    };
    json!({"namespace": ns, "verb": pick(&r.verbs, "get"), "group": pick(&r.api_groups, ""),
        "resource": resource, "subresource": subresource,
        "name": r.resource_names.first().cloned().unwrap_or_default()})
}

/// Whether the cluster allows `user` (a ServiceAccount of `ns`) the request `attrs`.
async fn allowed(
    client: &kube::Client,
    ns: &str,
    user: &str,
    attrs: &Value,
) -> Result<bool, String> {
    use k8s_openapi::api::authorization::v1::SubjectAccessReview;
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user,
            "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
            "resourceAttributes": attrs},
    }))
    .map_err(|e| e.to_string())?;
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = kubeapi::timed(
        "subject access review",
        api.create(&Default::default(), &review),
    )
    .await
    .map_err(|e| format!("asking the cluster what {user} may do: {e}"))?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// The extension routing kinds (removed while an extension is disabled, and on uninstall).
fn routing_resources() -> Vec<ApiResource> {
    use super::crds::{ROUTING, VERSION};
    [
        ("APIService", "apiservices"),
        ("ReverseProxy", "reverseproxies"),
        ("JSBundle", "jsbundles"),
        ("ExtensionEntry", "extensionentries"),
    ]
    .into_iter()
    .map(|(kind, plural)| ApiResource {
        group: ROUTING.into(),
        version: VERSION.into(),
        api_version: format!("{ROUTING}/{VERSION}"),
        kind: kind.into(),
        plural: plural.into(),
    })
    .collect()
}

/// Deletes the extension's routes (objects of the routing kinds labelled with it).
pub(super) async fn remove_routes(client: &kube::Client, ext: &str) -> Result<(), String> {
    let lp = kube::api::ListParams::default().labels(&format!("{EXTENSION_REF}={ext}"));
    for r in routing_resources() {
        let found = kubeapi::timed("list", api(client, &r, None).list(&lp))
            .await
            .map_err(|e| format!("{}: {e}", r.plural))?;
        for o in found.items {
            if let Some(n) = o.metadata.name.as_deref() {
                delete(client, &r, None, n).await?;
            }
        }
    }
    Ok(())
}

/// Runs `fut` with a bound, naming the step in the error.
pub(super) async fn bounded<T>(
    step: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{step} did not finish within {} s",
            limit.as_secs()
        )),
    }
}

/// Marks the release's latest revision failed: a `pending-*` one left by an action that was
/// cut short (a leader that died), so that the next action may start.
pub(super) async fn fail_pending(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<(), String> {
    let history = helm::action::storage::history(client, ns, name)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(mut last) = history.last().cloned() {
        last["info"]["status"] = "failed".into();
        last["info"]["description"] =
            "interrupted: the installer that ran it stopped before it finished".into();
        helm::action::storage::update(client, &last)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Installs or upgrades the plan's extension (see the module's documentation).
async fn install(
    state: &AppState,
    plan: &Value,
    ext: &str,
    p: &mut Plan,
    hash: &str,
) -> Result<(), PlatformError> {
    let client = &state.client;
    // Upgrading when a revision of the release is deployed where the plan installed it.
    let installed_ns = p.status["targetNamespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let upgrading = !installed_ns.is_empty()
        && releases::current(client, &installed_ns, ext, "", &Default::default())
            .await
            .map(|c| c.deployed)
            .unwrap_or(false);
    let (doing, done, failed, cond) = if upgrading {
        ("Upgrading", "Upgraded", "UpgradeFailed", "Upgraded")
    } else {
        ("Installing", "Installed", "InstallFailed", "Installed")
    };
    let first = if upgrading { "Upgrading" } else { "Preparing" };
    p.transition(state, first, None, &[]).await?;

    macro_rules! fail {
        ($reason:expr, $msg:expr) => {{
            let msg: String = $msg;
            tracing::info!(extension = %ext, reason = $reason, message = %msg, "extension not installed");
            p.transition(
                state,
                failed,
                Some(Cond(cond, false, $reason, &msg)),
                &[("specHash", hash.into())],
            )
            .await?;
            return Ok(());
        }};
    }

    let (version, pkg, values) =
        match checked_package(state, plan, ext, upgrading, &installed_ns).await? {
            Ok(x) => x,
            Err((reason, msg)) => fail!(reason, msg),
        };
    let ns = pkg.namespace.clone();
    let frontend = enabled(plan);
    // The namespace and the installer's account (as the platform).
    match ensure_namespace(client, &ns, ext).await {
        Ok(true) => {}
        Ok(false) => {
            // A previous uninstall's namespace is still terminating: wait for it.
            let why = format!("waiting for namespace {ns} to finish terminating");
            return p.waiting(state, first, cond, &why).await;
        }
        Err(e) => fail!("NamespaceRefused", e),
    }
    // Recorded at once: an uninstall removes what is made from here on.
    p.transition(
        state,
        first,
        None,
        &[("targetNamespace", ns.clone().into())],
    )
    .await?;
    if let Err(e) = ensure_installer(client, &ns, ext, &pkg.permissions).await {
        fail!("PermissionsFailed", e);
    }
    p.transition(
        state,
        doing,
        None,
        &[
            ("targetNamespace", ns.clone().into()),
            ("releaseName", ext.into()),
        ],
    )
    .await?;
    match agents_leave(state, ext, p, &pkg).await? {
        Ok(true) => {}
        Ok(false) => {
            let why = "waiting for the agents to be removed (this version is HostOnly)";
            return p.waiting(state, doing, cond, why).await;
        }
        Err(e) => fail!("AgentRemovalFailed", e),
    }
    let chart_version = pkg.chart.metadata.version.clone();
    let now = releases::current(client, &ns, ext, &chart_version, &values).await?;
    if let Some((status, since)) = &now.pending {
        if !crate::appstore::older_than(since, ACTION_TIMEOUT + ACTION_GRACE) {
            let why =
                format!("release {ext} is {status} since {since}: waiting for that operation");
            return p.waiting(state, doing, cond, &why).await;
        }
        if let Err(e) = fail_pending(client, &ns, ext).await {
            fail!("ReleaseFailed", e);
        }
    }
    if let Err((reason, msg)) = deploy(client, &ns, ext, &pkg, values, &now, failed).await {
        fail!(reason, msg);
    }
    if !frontend && let Err(e) = remove_routes(client, ext).await {
        fail!("DisableFailed", e);
    }
    let verb = if upgrading {
        "upgraded to"
    } else {
        "installed"
    };
    let disabled = if frontend { "" } else { " (disabled)" };
    let message = format!("{verb} {version} in namespace {ns}{disabled}");
    // Enabled first: whoever sees the plan done at this generation sees its Enabled too.
    p.transition(state, doing, Some(enabled_condition(frontend)), &[])
        .await?;
    p.transition(
        state,
        done,
        Some(Cond(cond, true, done, &message)),
        &[
            ("specHash", hash.into()),
            ("version", version.clone().into()),
            ("targetNamespace", ns.into()),
            ("releaseName", ext.into()),
            ("observedGeneration", plan["metadata"]["generation"].clone()),
        ],
    )
    .await?;
    tracing::info!(extension = %ext, "{message}");
    Ok(())
}

/// A version that is not `Multicluster` (an upgrade from one that is) has no agents: they are
/// removed before its release is deployed, since the host release takes the backend back and
/// an agent on the host holds those very objects (Helm would refuse to adopt them). Whether
/// they are all gone (`Ok(true)` when there were none); `Err` says why one could not go.
async fn agents_leave(
    state: &AppState,
    ext: &str,
    p: &mut Plan,
    pkg: &Package,
) -> Result<Result<bool, String>, PlatformError> {
    let placed = p.status["clusterSchedulingStatuses"]
        .as_object()
        .is_some_and(|m| !m.is_empty());
    if pkg.manifest.installation_mode == "Multicluster" || !placed {
        return Ok(Ok(true));
    }
    super::agents::remove_all(state, ext, p).await
}

/// The Enabled condition: the extension's frontend is served, or not.
fn enabled_condition(frontend: bool) -> Cond<'static> {
    let reason = if frontend { "Enabled" } else { "Disabled" };
    Cond("Enabled", frontend, reason, "")
}

/// Installs or upgrades the release as the extension's installer unless it is deployed as
/// asked; `failed` is the reason a failed action is reported with.
async fn deploy(
    client: &kube::Client,
    ns: &str,
    ext: &str,
    pkg: &Package,
    values: helm::values::Map,
    now: &releases::Current,
    failed: &'static str,
) -> Result<(), Refusal> {
    let installer = match acting_as(client, ns, &installer_name(ext)) {
        Ok(c) => c,
        Err(e) => return Err(("PermissionsFailed", e)),
    };
    if !now.up_to_date || now.pending.is_some() {
        let mut opts = helm::action::InstallOptions::new(ext, ns);
        opts.values = values;
        opts.timeout = ACTION_TIMEOUT;
        opts.labels = BTreeMap::from([(EXTENSION_REF.to_string(), ext.to_string())]);
        let action = async {
            releases::deploy(&installer, &pkg.chart, &opts, now.exists)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        };
        let step = if now.exists {
            "the upgrade"
        } else {
            "the install"
        };
        if let Err(e) = bounded(step, ACTION_TIMEOUT + ACTION_GRACE, action).await {
            return Err((failed, e));
        }
    }
    Ok(())
}

/// What a failed check says: the condition's reason and a message.
type Refusal = (&'static str, String);

/// The version to install (the plan's, else the newest there is) and its package fetched and
/// checked (rendered off the async workers) with the values it is
/// installed with; or why not.
async fn checked_package(
    state: &AppState,
    plan: &Value,
    ext: &str,
    upgrading: bool,
    installed_ns: &str,
) -> Result<Result<(String, Package, helm::values::Map), Refusal>, PlatformError> {
    let client = &state.client;
    // The version: the plan's, else the newest there is.
    let version = match plan["spec"]["extension"]["version"]
        .as_str()
        .filter(|v| !v.is_empty())
    {
        Some(v) => v.to_string(),
        None => match newest_version(state, ext).await? {
            Some(v) => v,
            None => {
                return Ok(Err((
                    "VersionNotFound",
                    format!("extension {ext} has no ExtensionVersion"),
                )));
            }
        },
    };
    let ev_name = format!("{ext}-{version}");
    let Some(ev) = kubeapi::get(client, Kind::ExtensionVersion, None, &ev_name).await? else {
        return Ok(Err((
            "VersionNotFound",
            format!("ExtensionVersion {ev_name} does not exist"),
        )));
    };
    let bytes = match bounded(
        "fetching the package",
        FETCH_TIMEOUT,
        super::chart::chart_of(state, &ev),
    )
    .await
    {
        Ok(b) => b,
        Err(e) => return Ok(Err(("FetchFailed", e))),
    };
    // Checking the package (and rendering it) is CPU work: off the async workers.
    let config = plan["spec"]["config"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (registry, portal) = (
        state.settings.image_registry.clone(),
        state.settings.public_url.clone(),
    );
    let frontend = enabled(plan);
    let (ext_owned, host_owned) = (ext.to_string(), state.clusters.settings.host_name.clone());
    let checked = tokio::task::spawn_blocking(move || {
        let pkg = read_package(&bytes, &ext_owned).map_err(|e| ("InvalidPackage", e))?;
        // HostOnly: the backend runs in the host; Multicluster: in the placement's clusters.
        let agent = pkg.manifest.installation_mode != "Multicluster";
        let values = values_for(
            &[&config],
            &host_owned,
            "host",
            &registry,
            &portal,
            frontend,
            agent,
        )
        .map_err(|e| ("InvalidConfig", e))?;
        render_check(&pkg.chart, &values, &ext_owned, &pkg.namespace, upgrading)
            .map_err(|e| ("InvalidPackage", e))?;
        Ok::<_, (&str, String)>((pkg, values))
    })
    .await
    .map_err(|e| PlatformError::Invalid(e.to_string()))?;
    let (pkg, values) = match checked {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    if pkg.manifest.version != version {
        return Ok(Err((
            "InvalidPackage",
            format!(
                "the package of ExtensionVersion {ev_name} is version {}",
                pkg.manifest.version
            ),
        )));
    }
    let ns = pkg.namespace.clone();
    if upgrading && ns != installed_ns {
        return Ok(Err((
            "InvalidPackage",
            format!(
                "version {version} installs into namespace {ns}, the extension is installed in {installed_ns}: an upgrade cannot move it"
            ),
        )));
    }
    Ok(Ok((version, pkg, values)))
}

/// Keeps what follows an acted-on plan in step: a disabled extension's routes stay removed,
/// and the Extension's status shows the plan's state and installed version.
async fn follow(state: &AppState, plan: &Value, ext: &str, p: &Plan) -> Result<(), PlatformError> {
    if plan["metadata"]["name"] != ext {
        // A plan naming another extension acts on nothing of it.
        return Ok(());
    }
    let installed = matches!(p.state(), "Installed" | "Upgraded");
    if installed
        && !enabled(plan)
        && let Err(e) = remove_routes(&state.client, ext).await
    {
        tracing::warn!(extension = %ext, error = %e, "removing a disabled extension's routes");
    }
    let version = if installed || p.state() == "UpgradeFailed" {
        p.status["version"].clone()
    } else {
        Value::Null
    };
    set_extension_status(
        state,
        ext,
        json!({"state": p.state(), "installedVersion": version, "enabled": enabled(plan),
            "plannedInstallVersion": plan["spec"]["extension"]["version"]}),
    )
    .await
}

/// Sets fields of Extension `ext`'s status (`null` removes one), when they differ.
async fn set_extension_status(
    state: &AppState,
    ext: &str,
    fields: Value,
) -> Result<(), PlatformError> {
    if ext.is_empty() {
        return Ok(());
    }
    let Some(current) = kubeapi::get(&state.client, Kind::Extension, None, ext).await? else {
        return Ok(());
    };
    let same = fields
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| &current["status"][k] == v);
    if same {
        return Ok(());
    }
    match kubeapi::merge_patch_status(
        &state.client,
        Kind::Extension,
        None,
        ext,
        json!({"status": fields}),
    )
    .await
    {
        Err(e) if kubeapi::is_not_found(&e) => Ok(()),
        other => other.map(drop),
    }
}

/// Uninstalls the plan's extension: the release (as the installer, so it removes only what
/// the installer could make), its routes, the installer's account and the namespace. Whether
/// everything is gone (the finalizer may go).
async fn uninstall(state: &AppState, ext: &str, p: &mut Plan) -> Result<bool, PlatformError> {
    let client = &state.client;
    if p.state() == "UninstallFailed" {
        let last = p.status["stateHistory"]
            .as_array()
            .and_then(|h| h.last())
            .and_then(|e| e["lastTransitionTime"].as_str())
            .unwrap_or_default()
            .to_string();
        if !crate::appstore::older_than(&last, UNINSTALL_RETRY) {
            return Ok(false);
        }
    }
    p.transition(state, "Uninstalling", None, &[]).await?;
    let ns = p.status["targetNamespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Agents first, then the host release.
    let outcome = match super::agents::remove_all(state, ext, p).await? {
        Ok(true) => remove_everything(client, &ns, ext).await,
        other => other,
    };
    match outcome {
        Ok(true) => {
            p.transition(
                state,
                "Uninstalled",
                Some(Cond("Installed", false, "Uninstalled", "")),
                &[("version", Value::Null)],
            )
            .await?;
            set_extension_status(
                state,
                ext,
                json!({"state": Value::Null, "installedVersion": Value::Null,
                    "enabled": Value::Null, "plannedInstallVersion": Value::Null}),
            )
            .await?;
            Ok(true)
        }
        Ok(false) => Ok(false),
        Err(e) => {
            p.transition(
                state,
                "UninstallFailed",
                Some(Cond("Uninstalled", false, "UninstallFailed", &e)),
                &[],
            )
            .await?;
            Ok(false)
        }
    }
}

/// What an uninstall removes, in order: the release (as the installer), the routes, the
/// installer's cluster-wide RBAC, the namespace (when it is the extension's). Whether all is
/// gone (a namespace takes a while: its contents go first).
async fn remove_everything(client: &kube::Client, ns: &str, ext: &str) -> Result<bool, String> {
    if ns.is_empty() {
        // Refused before anything was made in a namespace.
        remove_routes(client, ext).await?;
        return Ok(true);
    }
    remove_release(client, ns, ext, ext).await?;
    remove_routes(client, ext).await?;
    remove_installer(client, ns, ext).await
}

/// Whether `ns` is extension `ext`'s own namespace (labelled with it), and not terminating.
async fn owns_namespace(client: &kube::Client, ns: &str, ext: &str) -> Result<bool, String> {
    let live = kubeapi::get(client, Kind::Namespace, None, ns)
        .await
        .map_err(|e| e.to_string())?;
    Ok(live.as_ref().is_some_and(|n| {
        n["metadata"]["labels"][EXTENSION_REF] == ext
            && n["metadata"]["deletionTimestamp"].is_null()
    }))
}

/// Uninstalls Helm release `release` of extension `ext` from `ns` as the extension's
/// installer (so it removes only what the installer could make); nothing to do when the
/// namespace is not the extension's or holds no such release.
pub(super) async fn remove_release(
    client: &kube::Client,
    ns: &str,
    ext: &str,
    release: &str,
) -> Result<(), String> {
    if !owns_namespace(client, ns, ext).await? {
        return Ok(());
    }
    let installer = acting_as(client, ns, &installer_name(ext))?;
    let current = releases::current(client, ns, release, "", &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    if !current.exists {
        return Ok(());
    }
    if current.pending.is_some() {
        fail_pending(client, ns, release).await?;
    }
    let action = async {
        releases::remove(&installer, ns, release, ACTION_TIMEOUT)
            .await
            .map_err(|e| e.to_string())
    };
    bounded("the uninstall", ACTION_TIMEOUT + ACTION_GRACE, action).await
}

/// Removes the installer's cluster-wide RBAC and the extension's namespace (with the rest of
/// the installer in it). Whether the namespace is gone.
pub(super) async fn remove_installer(
    client: &kube::Client,
    ns: &str,
    ext: &str,
) -> Result<bool, String> {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let cluster = installer_cluster_name(ext);
    delete(client, &ar::<ClusterRoleBinding>(), None, &cluster).await?;
    delete(client, &ar::<ClusterRole>(), None, &cluster).await?;
    if owns_namespace(client, ns, ext).await? {
        delete(client, &ar::<Namespace>(), None, ns).await?;
    }
    let still = kubeapi::get(client, Kind::Namespace, None, ns)
        .await
        .map_err(|e| e.to_string())?;
    Ok(still.is_none_or(|n| n["metadata"]["labels"][EXTENSION_REF] != ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let owned: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_bytes())).collect();
        helm::chart::package_files("demo", &owned)
    }

    const CHART: &str = "apiVersion: v2\nname: demo\nversion: 1.0.0\n";
    const EXT: &str = "name: demo\nversion: 1.0.0\n";
    const PERMS: &str = "kind: ClusterRole\nrules: [{apiGroups: [extensions.kubesphere.io], resources: ['*'], verbs: ['*']}]\n---\nkind: Role\nrules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n";
    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\ndata: {cluster: {{ .Values.global.clusterInfo.name | quote }}}\n";

    #[test]
    fn a_good_package_is_read_with_its_namespace_and_permissions() {
        let pkg = read_package(
            &tgz(&[
                ("Chart.yaml", CHART),
                ("extension.yaml", EXT),
                ("permissions.yaml", PERMS),
                ("templates/cm.yaml", CM),
            ]),
            "demo",
        )
        .unwrap();
        assert_eq!(pkg.namespace, "extension-demo");
        assert_eq!(pkg.permissions.cluster.len(), 1);
        let values = values_for(&[], "host", "host", "r.example", "http://p", true, true).unwrap();
        render_check(&pkg.chart, &values, "demo", &pkg.namespace, false).unwrap();
        let with_ns = read_package(
            &tgz(&[
                ("Chart.yaml", CHART),
                ("extension.yaml", &format!("{EXT}namespace: demo-system\n")),
                ("permissions.yaml", PERMS),
            ]),
            "demo",
        )
        .unwrap();
        assert_eq!(with_ns.namespace, "demo-system");
    }

    #[test]
    fn bad_packages_are_refused_with_a_reason() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                tgz(&[("Chart.yaml", CHART), ("permissions.yaml", PERMS)]),
                "no extension.yaml",
            ),
            (
                tgz(&[
                    ("Chart.yaml", CHART),
                    ("extension.yaml", "name: Demo_X\nversion: 1.0.0\n"),
                    ("permissions.yaml", PERMS),
                ]),
                "is invalid",
            ),
            (
                tgz(&[
                    ("Chart.yaml", CHART),
                    ("extension.yaml", "name: other\nversion: 1.0.0\n"),
                    ("permissions.yaml", PERMS),
                ]),
                "names extension \"other\"",
            ),
            (
                tgz(&[("Chart.yaml", CHART), ("extension.yaml", EXT)]),
                "no permissions.yaml",
            ),
            (
                tgz(&[
                    ("Chart.yaml", CHART),
                    ("extension.yaml", EXT),
                    (
                        "permissions.yaml",
                        "kind: ClusterRole\nrules: [{apiGroups: [''], resources: [secrets], verbs: [list]}]",
                    ),
                ]),
                "more than the installer may grant",
            ),
            (
                tgz(&[
                    ("Chart.yaml", CHART),
                    ("extension.yaml", &format!("{EXT}namespace: kube-system\n")),
                    ("permissions.yaml", PERMS),
                ]),
                "reserved",
            ),
            (b"not a package".to_vec(), "not a chart Helm can load"),
        ];
        for (bytes, want) in cases {
            let e = read_package(&bytes, "demo").err().expect("refused");
            assert!(e.contains(want), "{want}: {e}");
        }
        let pkg = read_package(
            &tgz(&[
                ("Chart.yaml", CHART),
                ("extension.yaml", EXT),
                ("permissions.yaml", PERMS),
                ("templates/bad.yaml", "{{ include \"nowhere\" . }}"),
            ]),
            "demo",
        )
        .unwrap();
        let values = values_for(&[""], "host", "host", "", "", true, true).unwrap();
        let e = render_check(&pkg.chart, &values, "demo", "extension-demo", false).unwrap_err();
        assert!(e.contains("does not render"), "{e}");
    }

    #[test]
    fn values_put_config_over_globals_and_force_the_tags() {
        let v = values_for(
            &[
                "global: {imageRegistry: mirror.example}\ngreeting: hi\ntags: {extension: false}\n",
                "greeting: salut\n",
            ],
            "host",
            "host",
            "registry.example",
            "https://orrery.example",
            true,
            false,
        )
        .unwrap();
        let j = helm::values::schema::to_json(&gotmpl::Value::map(v));
        assert_eq!(
            j["global"]["clusterInfo"],
            json!({"name": "host", "role": "host"})
        );
        assert_eq!(j["global"]["imageRegistry"], "mirror.example");
        assert_eq!(j["global"]["portal"]["url"], "https://orrery.example");
        assert_eq!(j["greeting"], "salut");
        assert_eq!(j["tags"], json!({"extension": true, "agent": false}));
        assert!(
            values_for(&["a: ["], "h", "host", "", "", true, true)
                .unwrap_err()
                .contains("spec.config")
        );
    }

    #[test]
    fn the_hash_follows_what_the_installer_acts_on() {
        let plan = json!({"metadata": {"name": "demo"}, "spec": {"extension": {"name": "demo", "version": "1.0.0"}, "config": "a: 1"}});
        let h = spec_hash(&plan);
        let mut other = plan.clone();
        other["spec"]["config"] = "a: 2".into();
        assert_ne!(spec_hash(&other), h);
        let mut other = plan.clone();
        other["spec"]["enabled"] = false.into();
        assert_ne!(spec_hash(&other), h);
        other["spec"]["enabled"] = true.into();
        assert_eq!(spec_hash(&other), h);
        let mut retried = plan.clone();
        retried["metadata"]["annotations"] = json!({RETRY_ANNOTATION: "1"});
        assert_ne!(spec_hash(&retried), h);
    }

    #[test]
    fn conditions_move_their_time_only_on_a_new_status() {
        let mut st = json!({});
        set_condition(&mut st, "Installed", false, "InstallFailed", "x", "t1");
        set_condition(&mut st, "Installed", false, "InstallFailed", "y", "t2");
        assert_eq!(st["conditions"][0]["lastTransitionTime"], "t1");
        assert_eq!(st["conditions"][0]["message"], "y");
        set_condition(&mut st, "Installed", true, "Installed", "", "t3");
        assert_eq!(st["conditions"][0]["lastTransitionTime"], "t3");
        assert_eq!(st["conditions"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn reserved_namespaces() {
        for ns in [
            "kube-system",
            "default",
            "kubesphere-system",
            "kube-foo",
            "kubesphere-monitoring-system",
        ] {
            assert!(reserved_namespace(ns), "{ns}");
        }
        assert!(!reserved_namespace("extension-demo"));
    }
}
