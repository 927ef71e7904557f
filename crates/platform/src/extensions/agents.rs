//! `Multicluster` extensions: the package's `agent` subchart (the backend) goes as Helm
//! release `<ext>-agent` to each cluster of the plan's `clusterScheduling.placement`
//! (`clusters` by name, or `clusterSelector` over the Cluster objects' labels), with the
//! cluster's `overrides` (YAML) over the plan's `config`, made in each cluster the way the host
//! release is made — the extension's namespace, the installer ServiceAccount bound to exactly
//! `permissions.yaml`, the Helm engine acting as it. Clusters joining the placement get the
//! agent, clusters leaving it lose it; `status.clusterSchedulingStatuses[<cluster>]` keeps
//! each one's state (`Installing`, `Installed`, `InstallFailed`, `Upgrading`, `Upgraded`,
//! `UpgradeFailed`, `Uninstalling`, `UninstallFailed`), conditions, history and what it acted
//! on (`specHash`), so a failure is retried as the plan's is (a changed spec or the retry
//! annotation). A cluster that is not available keeps its state, with the reason, and is tried
//! again on the next pass.
//!
//! Agents follow the host release: they are made once it is `Installed` or `Upgraded`, and
//! removed before it on uninstall, and before an upgrade (or downgrade) to a version that is
//! not `Multicluster` (whose host release takes the backend back).

use serde_json::{Map, Value, json};
use sha2::Digest;

use super::install::{
    self, Cond, Plan, acting_as, bounded, ensure_installer, ensure_namespace, read_package,
    remove_installer, remove_release, values_for,
};
use super::package::EXTENSION_REF;
use crate::appstore::releases;
use crate::error::PlatformError;
use crate::http::AppState;
use crate::kinds::Kind;
use crate::kubeapi;

/// The release name of an extension's agent.
pub fn agent_release(ext: &str) -> String {
    format!("{ext}-agent")
}

/// The clusters a plan places its agents on: `placement.clusters` that exist (`host` names
/// the host) and those `placement.clusterSelector` selects, sorted.
pub fn placed(plan: &Value, clusters: &[(String, Value)], host: &str) -> Vec<String> {
    let placement = &plan["spec"]["clusterScheduling"]["placement"];
    let exists = |n: &str| clusters.iter().any(|(c, _)| c == n);
    let mut out: Vec<String> = placement["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().or_else(|| c["name"].as_str()))
        .map(|n| {
            if n == crate::clusters::HOST_ALIAS {
                host
            } else {
                n
            }
        })
        .filter(|n| exists(n))
        .map(str::to_string)
        .collect();
    let selector = placement
        .get("clusterSelector")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        .and_then(|s| apimachinery::LabelSelector::from_label_selector_json(s).ok());
    if let Some(sel) = selector {
        for (name, obj) in clusters {
            if sel.matches(&obj["metadata"]["labels"]) {
                out.push(name.clone());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What an agent in `cluster` acts on: the plan's own hash and the cluster's override.
pub fn agent_hash(plan_hash: &str, plan: &Value, cluster: &str) -> String {
    let what = json!({"plan": plan_hash, "cluster": cluster,
        "override": plan["spec"]["clusterScheduling"]["overrides"][cluster]});
    format!("{:x}", sha2::Sha256::digest(what.to_string().as_bytes()))[..16].to_string()
}

/// One cluster's status entry, moved to `to` with an optional condition and fields.
fn entry_transition(entry: &mut Value, to: &str, cond: Option<Cond<'_>>, extra: &[(&str, Value)]) {
    if !entry.is_object() {
        *entry = json!({});
    }
    let at = install::now();
    if entry["state"] != to {
        let mut history: Vec<Value> = entry["stateHistory"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        history.push(json!({"state": to, "lastTransitionTime": at}));
        let skip = history.len().saturating_sub(install::HISTORY);
        entry["stateHistory"] = Value::Array(history.split_off(skip));
        entry["state"] = to.into();
    }
    if let Some(Cond(kind, ok, reason, message)) = cond {
        install::set_condition(entry, kind, ok, reason, message, &at);
    }
    for (k, v) in extra {
        entry[*k] = v.clone();
    }
}

/// Writes the plan's `clusterSchedulingStatuses` (removed clusters as `null`, which a merge
/// patch deletes), keeping its state.
async fn write(
    state: &AppState,
    p: &mut Plan,
    statuses: &Map<String, Value>,
) -> Result<(), PlatformError> {
    let current = p.state().to_string();
    p.transition(
        state,
        &current,
        None,
        &[("clusterSchedulingStatuses", Value::Object(statuses.clone()))],
    )
    .await?;
    // Locally, a removed cluster is gone (the server dropped the null).
    if let Some(m) = p.status["clusterSchedulingStatuses"].as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    Ok(())
}

fn known_clusters(state: &AppState) -> Vec<(String, Value)> {
    state
        .caches
        .clusters
        .list()
        .into_iter()
        .map(|c| (c.name().to_string(), c.obj.clone()))
        .collect()
}

/// Keeps a `Multicluster` extension's agents where its placement says (see the module's
/// documentation). `mode` is the installed version's `installationMode`.
pub(super) async fn reconcile(
    state: &AppState,
    plan: &Value,
    ext: &str,
    p: &mut Plan,
    mode: &str,
) -> Result<(), PlatformError> {
    let host = state.clusters.settings.host_name.clone();
    let plan_hash = p.status["specHash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let targets = if mode == "Multicluster" {
        placed(plan, &known_clusters(state), &host)
    } else {
        Vec::new()
    };
    let mut statuses: Map<String, Value> = p.status["clusterSchedulingStatuses"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let wanted: Vec<(String, String)> = targets
        .iter()
        .map(|c| (c.clone(), agent_hash(&plan_hash, plan, c)))
        .filter(|(c, h)| statuses.get(c).is_none_or(|e| e["specHash"] != h.as_str()))
        .collect();
    let leaving: Vec<String> = statuses
        .keys()
        .filter(|c| !targets.contains(c))
        .cloned()
        .collect();
    if wanted.is_empty() && leaving.is_empty() {
        return Ok(());
    }
    let ns = p.status["targetNamespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !wanted.is_empty() {
        let version = p.status["version"].as_str().unwrap_or_default().to_string();
        let prepared = prepare(state, ext, &version).await;
        for (cluster, hash) in &wanted {
            let entry = statuses.entry(cluster.clone()).or_insert_with(|| json!({}));
            match &prepared {
                Ok(pkg) => {
                    deploy_agent(state, plan, ext, cluster, hash, &ns, &version, pkg, entry).await
                }
                Err(e) => entry_transition(
                    entry,
                    "InstallFailed",
                    Some(Cond("Installed", false, "InvalidPackage", e)),
                    &[("specHash", hash.clone().into())],
                ),
            }
            write(state, p, &statuses).await?;
        }
    }
    for cluster in &leaving {
        let entry = statuses.entry(cluster.clone()).or_insert_with(|| json!({}));
        entry_transition(entry, "Uninstalling", None, &[]);
        write(state, p, &statuses).await?;
        match remove_agent(state, cluster, &ns, ext).await {
            Ok(true) => {
                statuses.insert(cluster.clone(), Value::Null);
            }
            Ok(false) => {}
            Err(e) => {
                if let Some(entry) = statuses.get_mut(cluster) {
                    entry_transition(
                        entry,
                        "UninstallFailed",
                        Some(Cond("Uninstalled", false, "UninstallFailed", &e)),
                        &[],
                    );
                }
            }
        }
        write(state, p, &statuses).await?;
        statuses.retain(|_, v| !v.is_null());
    }
    Ok(())
}

/// The package of the installed version, checked.
async fn prepare(state: &AppState, ext: &str, version: &str) -> Result<install::Package, String> {
    let name = format!("{ext}-{version}");
    let ev = kubeapi::get(&state.client, Kind::ExtensionVersion, None, &name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("ExtensionVersion {name} does not exist"))?;
    let bytes = bounded(
        "fetching the package",
        install::FETCH_TIMEOUT,
        super::chart::chart_of(state, &ev),
    )
    .await?;
    let ext = ext.to_string();
    tokio::task::spawn_blocking(move || read_package(&bytes, &ext))
        .await
        .map_err(|e| e.to_string())?
}

/// Installs or upgrades the agent in `cluster`, recording the outcome in `entry`.
#[allow(clippy::too_many_arguments)]
async fn deploy_agent(
    state: &AppState,
    plan: &Value,
    ext: &str,
    cluster: &str,
    hash: &str,
    ns: &str,
    version: &str,
    pkg: &install::Package,
    entry: &mut Value,
) {
    let release = agent_release(ext);
    let installed = matches!(
        entry["state"].as_str(),
        Some("Installed" | "Upgraded" | "UpgradeFailed")
    );
    let (doing, done, failed, cond) = if installed {
        ("Upgrading", "Upgraded", "UpgradeFailed", "Upgraded")
    } else {
        ("Installing", "Installed", "InstallFailed", "Installed")
    };
    let Some(member) = state.clusters.get(cluster).filter(|m| m.is_ready()) else {
        // Tried again next pass (no hash recorded).
        entry_transition(
            entry,
            doing,
            Some(Cond(
                cond,
                false,
                "ClusterUnavailable",
                &format!("cluster {cluster} is not available; the agent goes there when it is"),
            )),
            &[],
        );
        return;
    };
    entry_transition(
        entry,
        doing,
        None,
        &[
            ("releaseName", release.into()),
            ("targetNamespace", ns.into()),
        ],
    );
    let outcome = agent_step(state, &member.client, plan, ext, cluster, ns, pkg).await;
    match outcome {
        Ok(Some(wait)) => entry_transition(
            entry,
            doing,
            Some(Cond(cond, false, "Waiting", &format!("{cluster}: {wait}"))),
            &[],
        ),
        Ok(None) => entry_transition(
            entry,
            done,
            Some(Cond(
                cond,
                true,
                done,
                &format!("{version} in {cluster}/{ns}"),
            )),
            &[("specHash", hash.into()), ("version", version.into())],
        ),
        Err(e) => entry_transition(
            entry,
            failed,
            Some(Cond(cond, false, failed, &format!("{cluster}: {e}"))),
            &[("specHash", hash.into())],
        ),
    }
}

/// The chart an agent release is made of: the package without its own templates (they are
/// the host release's), keeping its partials (`_*.tpl`, which subcharts may use) and its
/// subcharts — of which the values enable only those tagged `agent`.
pub fn agent_chart(chart: &helm::chart::Chart) -> helm::chart::Chart {
    let mut c = chart.clone();
    c.templates.retain(|t| {
        t.name
            .rsplit('/')
            .next()
            .is_some_and(|base| base.starts_with('_'))
    });
    c
}

/// Makes the agent release in `cluster` (through `client`) what the plan asks; `Some(why)`
/// when it has to wait (tried again next pass).
async fn agent_step(
    state: &AppState,
    client: &kube::Client,
    plan: &Value,
    ext: &str,
    cluster: &str,
    ns: &str,
    pkg: &install::Package,
) -> Result<Option<String>, String> {
    let release = agent_release(ext);
    let host = &state.clusters.settings.host_name;
    let role = if cluster == host { "host" } else { "member" };
    let config = plan["spec"]["config"].as_str().unwrap_or_default();
    let over = plan["spec"]["clusterScheduling"]["overrides"][cluster]
        .as_str()
        .unwrap_or_default();
    let values = values_for(
        &[config, over],
        cluster,
        role,
        &state.settings.image_registry,
        &state.settings.public_url,
        false,
        true,
    )?;
    // The host already has the namespace and the installer (its own release made them).
    if cluster != host {
        if !ensure_namespace(client, ns, ext).await? {
            return Ok(Some(format!("namespace {ns} is still terminating")));
        }
        ensure_installer(client, ns, ext, &pkg.permissions).await?;
    }
    let now = releases::current(client, ns, &release, &pkg.chart.metadata.version, &values)
        .await
        .map_err(|e| e.to_string())?;
    if now.up_to_date {
        return Ok(None);
    }
    if let Some((status, since)) = &now.pending {
        if !crate::appstore::older_than(
            since,
            install::ACTION_TIMEOUT + std::time::Duration::from_secs(30),
        ) {
            return Ok(Some(format!(
                "release {release} is {status} since {since}: waiting for that operation"
            )));
        }
        install::fail_pending(client, ns, &release).await?;
    }
    let installer = acting_as(client, ns, &install::installer_name(ext))?;
    let chart = agent_chart(&pkg.chart);
    let mut opts = helm::action::InstallOptions::new(&release, ns);
    opts.values = values;
    opts.timeout = install::ACTION_TIMEOUT;
    opts.labels = std::collections::BTreeMap::from([(EXTENSION_REF.to_string(), ext.to_string())]);
    let action = async {
        releases::deploy(&installer, &chart, &opts, now.exists)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    };
    bounded(
        "the agent's install",
        install::ACTION_TIMEOUT + std::time::Duration::from_secs(30),
        action,
    )
    .await
    .map(|()| None)
}

/// Removes the agent from `cluster` (and, in a member, the extension's namespace and
/// installer). Whether it is all gone; a cluster that no longer exists has nothing left to
/// remove.
async fn remove_agent(
    state: &AppState,
    cluster: &str,
    ns: &str,
    ext: &str,
) -> Result<bool, String> {
    let Some(member) = state.clusters.get(cluster) else {
        return Ok(true);
    };
    if !member.is_ready() {
        return Err(format!(
            "cluster {cluster} is not available; the agent is removed when it is"
        ));
    }
    if ns.is_empty() {
        return Ok(true);
    }
    remove_release(&member.client, ns, ext, &agent_release(ext)).await?;
    if cluster == state.clusters.settings.host_name {
        return Ok(true);
    }
    remove_installer(&member.client, ns, ext).await
}

/// Removes every agent the plan placed (an uninstall does this before the host release).
/// Whether all are gone.
pub(super) async fn remove_all(
    state: &AppState,
    ext: &str,
    p: &mut Plan,
) -> Result<Result<bool, String>, PlatformError> {
    let ns = p.status["targetNamespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut statuses: Map<String, Value> = p.status["clusterSchedulingStatuses"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let clusters: Vec<String> = statuses.keys().cloned().collect();
    let mut all = true;
    let mut failure = None;
    for cluster in clusters {
        if let Some(entry) = statuses.get_mut(&cluster) {
            entry_transition(entry, "Uninstalling", None, &[]);
        }
        match remove_agent(state, &cluster, &ns, ext).await {
            Ok(true) => {
                statuses.insert(cluster.clone(), Value::Null);
            }
            Ok(false) => all = false,
            Err(e) => {
                all = false;
                if let Some(entry) = statuses.get_mut(&cluster) {
                    entry_transition(
                        entry,
                        "UninstallFailed",
                        Some(Cond("Uninstalled", false, "UninstallFailed", &e)),
                        &[],
                    );
                }
                failure = Some(e);
            }
        }
    }
    if !statuses.is_empty() {
        write(state, p, &statuses).await?;
    }
    Ok(match failure {
        Some(e) => Err(e),
        None => Ok(all),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clusters() -> Vec<(String, Value)> {
        vec![
            (
                "host".into(),
                json!({"metadata": {"name": "host", "labels": {"env": "prod"}}}),
            ),
            (
                "m1".into(),
                json!({"metadata": {"name": "m1", "labels": {"env": "prod"}}}),
            ),
            (
                "m2".into(),
                json!({"metadata": {"name": "m2", "labels": {"env": "dev"}}}),
            ),
        ]
    }

    #[test]
    fn placement_by_name_and_selector() {
        let by_name = json!({"spec": {"clusterScheduling": {"placement": {"clusters": ["m2", "gone", "host"]}}}});
        assert_eq!(placed(&by_name, &clusters(), "host"), ["host", "m2"]);
        let by_label = json!({"spec": {"clusterScheduling": {"placement": {"clusterSelector": {"matchLabels": {"env": "prod"}}}}}});
        assert_eq!(placed(&by_label, &clusters(), "host"), ["host", "m1"]);
        let both = json!({"spec": {"clusterScheduling": {"placement": {"clusters": ["m2"], "clusterSelector": {"matchLabels": {"env": "prod"}}}}}});
        assert_eq!(placed(&both, &clusters(), "host"), ["host", "m1", "m2"]);
        assert!(placed(&json!({"spec": {}}), &clusters(), "host").is_empty());
    }

    #[test]
    fn an_override_changes_only_its_cluster() {
        let plan = json!({"spec": {"clusterScheduling": {"overrides": {"m1": "a: 1"}}}});
        let mut other = plan.clone();
        other["spec"]["clusterScheduling"]["overrides"]["m1"] = "a: 2".into();
        assert_ne!(agent_hash("h", &plan, "m1"), agent_hash("h", &other, "m1"));
        assert_eq!(agent_hash("h", &plan, "m2"), agent_hash("h", &other, "m2"));
        assert_ne!(agent_hash("h", &plan, "m2"), agent_hash("h2", &plan, "m2"));
    }
}
