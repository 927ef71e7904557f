//! `orrery helm install|upgrade|rollback|uninstall|list|history` against a kubeconfig's
//! cluster, printing like Helm.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::Value as Json;

use super::{CliError, TemplateArgs, user_values};
use helm::action::{self, ActionError, InstallOptions, Resources};
use helm::chart::LoadLimits;

/// How to reach the cluster.
#[derive(Args, Debug, Clone)]
pub struct KubeArgs {
    /// Kubeconfig file (default: `KUBECONFIG`, `~/.kube/config`, in-cluster).
    #[arg(long = "kubeconfig")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long = "namespace")]
    pub namespace: Option<String>,
}

/// Arguments of `helm install` / `helm upgrade`.
#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// Release name.
    pub name: String,
    /// Chart directory or `.tgz` archive.
    pub chart: PathBuf,
    /// Values files, later ones win.
    #[arg(short = 'f', long = "values")]
    pub values: Vec<PathBuf>,
    /// Set values (`a.b=c`).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Set string values.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// Set JSON values.
    #[arg(long = "set-json")]
    pub set_json: Vec<String>,
    /// Cluster access.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Create the release namespace if missing.
    #[arg(long = "create-namespace")]
    pub create_namespace: bool,
    /// Wait until the resources are ready.
    #[arg(long = "wait")]
    pub wait: bool,
    /// Time budget for hooks and `--wait` (Go duration: `5m`, `90s`).
    #[arg(long = "timeout", default_value = "5m0s")]
    pub timeout: String,
    /// Install only: server-side apply (`true`, Helm 4's default) or client-side three-way
    /// merge (`false`); upgrades keep the mode the release was made with.
    #[arg(long = "server-side", default_value = "true")]
    pub server_side: String,
    /// Take over fields other managers own.
    #[arg(long = "force-conflicts")]
    pub force_conflicts: bool,
    /// Install only: do not create the chart's `crds/`.
    #[arg(long = "skip-crds")]
    pub skip_crds: bool,
    /// Upgrade only: install when the release does not exist.
    #[arg(short = 'i', long = "install")]
    pub install: bool,
}

/// Arguments of `helm rollback`.
#[derive(Args, Debug, Clone)]
pub struct RollbackArgs {
    /// Release name.
    pub name: String,
    /// Revision (default: the previous one).
    pub revision: Option<i64>,
    /// Cluster access.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Wait until the resources are ready.
    #[arg(long = "wait")]
    pub wait: bool,
    /// Time budget.
    #[arg(long = "timeout", default_value = "5m0s")]
    pub timeout: String,
}

/// Arguments of `helm uninstall`.
#[derive(Args, Debug, Clone)]
pub struct UninstallArgs {
    /// Release name.
    pub name: String,
    /// Cluster access.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Keep the release history, marked uninstalled.
    #[arg(long = "keep-history")]
    pub keep_history: bool,
    /// Time budget for hooks.
    #[arg(long = "timeout", default_value = "5m0s")]
    pub timeout: String,
}

/// Arguments of `helm list`.
#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Cluster access.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Every namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
}

/// Arguments of `helm history`.
#[derive(Args, Debug, Clone)]
pub struct HistoryArgs {
    /// Release name.
    pub name: String,
    /// Cluster access.
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Why a release command failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseCliError {
    /// Loading the chart or values failed.
    #[error(transparent)]
    Cli(#[from] CliError),
    /// The action failed.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// `--timeout` is not a duration.
    #[error("invalid duration {0:?}")]
    Duration(String),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Go's `time.ParseDuration`, as Helm reads `--timeout`; negative durations are refused.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let ns = gofmt::parse_duration(s.trim()).ok()?;
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

fn duration(s: &str) -> Result<Duration, ReleaseCliError> {
    parse_duration(s).ok_or_else(|| ReleaseCliError::Duration(s.into()))
}

async fn connect(k: &KubeArgs) -> Result<(Resources, String), ReleaseCliError> {
    let (client, ns) = action::connect(k.kubeconfig.as_deref()).await?;
    Ok((Resources::new(client), k.namespace.clone().unwrap_or(ns)))
}

fn str_at<'a>(j: &'a Json, p: &str) -> &'a str {
    j.pointer(p).and_then(Json::as_str).unwrap_or_default()
}

fn summary(rel: &Json, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "NAME: {}", str_at(rel, "/name"))?;
    writeln!(
        out,
        "LAST DEPLOYED: {}",
        ansic(str_at(rel, "/info/last_deployed"))
    )?;
    writeln!(out, "NAMESPACE: {}", str_at(rel, "/namespace"))?;
    writeln!(out, "STATUS: {}", str_at(rel, "/info/status"))?;
    writeln!(
        out,
        "REVISION: {}",
        rel.get("version").and_then(Json::as_i64).unwrap_or(0)
    )?;
    let notes = str_at(rel, "/info/notes");
    if !notes.is_empty() {
        writeln!(out, "NOTES:\n{}", notes.trim_end())?;
    }
    Ok(())
}

fn ansic(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_else(|_| t.to_string())
}

fn list_time(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S%.f %z UTC").to_string())
        .unwrap_or_else(|_| t.to_string())
}

fn chart_ref(rel: &Json) -> String {
    format!(
        "{}-{}",
        str_at(rel, "/chart/metadata/name"),
        str_at(rel, "/chart/metadata/version")
    )
}

/// Writes rows as Helm's `uitable` does: cells padded to their column's width, tab-separated.
fn table(rows: &[Vec<String>], out: &mut impl Write) -> std::io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        writeln!(out, "{}", cells.join("\t").trim_end())?;
    }
    Ok(())
}

fn install_options(a: &InstallArgs, ns: &str) -> Result<InstallOptions, ReleaseCliError> {
    let t = TemplateArgs {
        chart: a.chart.clone(),
        values: a.values.clone(),
        set: a.set.clone(),
        set_string: a.set_string.clone(),
        set_json: a.set_json.clone(),
        namespace: ns.into(),
        release_name: a.name.clone(),
        include_crds: false,
        kube_version: None,
        api_versions: vec![],
    };
    let mut o = InstallOptions::new(&a.name, ns);
    o.values = user_values(&t)?;
    o.create_namespace = a.create_namespace;
    o.wait = a.wait;
    o.timeout = duration(&a.timeout)?;
    o.server_side = a.server_side != "false";
    o.force_conflicts = a.force_conflicts;
    o.skip_crds = a.skip_crds;
    Ok(o)
}

/// `helm install NAME CHART`.
pub async fn install_command(
    args: InstallArgs,
    out: &mut impl Write,
) -> Result<(), ReleaseCliError> {
    let (mut res, ns) = connect(&args.kube).await?;
    let chart = helm::chart::load(&args.chart, &LoadLimits::default()).map_err(CliError::from)?;
    let opts = install_options(&args, &ns)?;
    let rel = action::install(&mut res, &chart, &opts).await?;
    summary(&rel, out)?;
    Ok(())
}

/// `helm upgrade NAME CHART [--install]`.
pub async fn upgrade_command(
    args: InstallArgs,
    out: &mut impl Write,
) -> Result<(), ReleaseCliError> {
    let (mut res, ns) = connect(&args.kube).await?;
    let chart = helm::chart::load(&args.chart, &LoadLimits::default()).map_err(CliError::from)?;
    let opts = install_options(&args, &ns)?;
    let exists = !action::storage::history(&res.client, &ns, &args.name)
        .await?
        .is_empty();
    let rel = if !exists && args.install {
        writeln!(
            out,
            "Release {:?} does not exist. Installing it now.",
            args.name
        )?;
        action::install(&mut res, &chart, &opts).await?
    } else {
        let rel = action::upgrade(&mut res, &chart, &opts).await?;
        writeln!(
            out,
            "Release {:?} has been upgraded. Happy Helming!",
            args.name
        )?;
        rel
    };
    summary(&rel, out)?;
    Ok(())
}

/// `helm rollback NAME [REVISION]`.
pub async fn rollback_command(
    args: RollbackArgs,
    out: &mut impl Write,
) -> Result<(), ReleaseCliError> {
    let (mut res, ns) = connect(&args.kube).await?;
    action::rollback(
        &mut res,
        &ns,
        &args.name,
        args.revision.unwrap_or(0),
        args.wait,
        duration(&args.timeout)?,
    )
    .await?;
    writeln!(out, "Rollback was a success! Happy Helming!")?;
    Ok(())
}

/// `helm uninstall NAME [--keep-history]`.
pub async fn uninstall_command(
    args: UninstallArgs,
    out: &mut impl Write,
) -> Result<(), ReleaseCliError> {
    let (mut res, ns) = connect(&args.kube).await?;
    action::uninstall(
        &mut res,
        &ns,
        &args.name,
        args.keep_history,
        duration(&args.timeout)?,
    )
    .await?;
    writeln!(out, "release {:?} uninstalled", args.name)?;
    Ok(())
}

/// `helm list [-A]`.
pub async fn list_command(args: ListArgs, out: &mut impl Write) -> Result<(), ReleaseCliError> {
    let (res, ns) = connect(&args.kube).await?;
    let rels = action::list(&res, (!args.all_namespaces).then_some(ns.as_str())).await?;
    let mut rows = vec![
        [
            "NAME",
            "NAMESPACE",
            "REVISION",
            "UPDATED",
            "STATUS",
            "CHART",
            "APP VERSION",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &rels {
        rows.push(vec![
            str_at(r, "/name").into(),
            str_at(r, "/namespace").into(),
            r.get("version")
                .and_then(Json::as_i64)
                .unwrap_or(0)
                .to_string(),
            list_time(str_at(r, "/info/last_deployed")),
            str_at(r, "/info/status").into(),
            chart_ref(r),
            str_at(r, "/chart/metadata/appVersion").into(),
        ]);
    }
    table(&rows, out)?;
    Ok(())
}

/// `helm history NAME`.
pub async fn history_command(
    args: HistoryArgs,
    out: &mut impl Write,
) -> Result<(), ReleaseCliError> {
    let (res, ns) = connect(&args.kube).await?;
    let rels = action::history(&res, &ns, &args.name).await?;
    let mut rows = vec![
        [
            "REVISION",
            "UPDATED",
            "STATUS",
            "CHART",
            "APP VERSION",
            "DESCRIPTION",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &rels {
        rows.push(vec![
            r.get("version")
                .and_then(Json::as_i64)
                .unwrap_or(0)
                .to_string(),
            ansic(str_at(r, "/info/last_deployed")),
            str_at(r, "/info/status").into(),
            chart_ref(r),
            str_at(r, "/chart/metadata/appVersion").into(),
            str_at(r, "/info/description").into(),
        ]);
    }
    table(&rows, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("5m0s"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h2m"), Some(Duration::from_secs(3720)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("5x"), None);
    }
}
