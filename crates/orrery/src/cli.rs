//! Subcommands and their flags (flags also read `ORRERY_*` environment variables).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// Orrery: a multi-cluster, multi-tenant Kubernetes platform in one binary.
#[derive(Parser, Debug)]
#[command(name = "orrery", version, about)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `apiserver=debug`.
    #[arg(long, global = true, env = "ORRERY_LOG", default_value = "warn")]
    pub log: String,
    /// Log as JSON lines.
    #[arg(long, global = true, env = "ORRERY_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the platform with its embedded host cluster.
    Serve(ServeArgs),
    /// Run an embedded Kubernetes-compatible cluster alone (for example to play a member).
    Cluster(ClusterArgs),
    /// Helm-compatible chart commands.
    #[command(subcommand)]
    Helm(HelmCommand),
}

/// `orrery helm …`.
#[derive(Subcommand, Debug)]
pub enum HelmCommand {
    /// Render a chart locally and print the manifests, like `helm template`.
    Template(helm::cli::TemplateArgs),
}

/// Flags shared by everything that runs an embedded cluster.
#[derive(Args, Debug, Clone)]
pub struct EmbeddedArgs {
    /// Where the store, certificates and kubeconfig live.
    #[arg(long, env = "ORRERY_DATA_DIR", default_value = "orrery-data")]
    pub data_dir: PathBuf,
    /// How often watch streams that ask for bookmarks get one (seconds).
    #[arg(long, env = "ORRERY_BOOKMARK_INTERVAL", default_value_t = 60.0)]
    pub bookmark_interval: f64,
    /// How often history is compacted (seconds).
    #[arg(long, env = "ORRERY_COMPACTION_INTERVAL", default_value_t = 300.0)]
    pub compaction_interval: f64,
    /// Revisions of history kept at least.
    #[arg(long, env = "ORRERY_RETAIN_REVISIONS", default_value_t = 100_000)]
    pub retain_revisions: i64,
    /// Service ClusterIP range.
    #[arg(long, env = "ORRERY_SERVICE_CIDR", default_value = "10.96.0.0/12")]
    pub service_cidr: String,
}

/// `orrery cluster`.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub embedded: EmbeddedArgs,
    /// Address of the Kubernetes API (port 0 picks a free port).
    #[arg(long, env = "ORRERY_LISTEN", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
}

/// `orrery serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub embedded: EmbeddedArgs,
    /// Address of the embedded cluster's Kubernetes API (port 0 picks a free port).
    #[arg(long, env = "ORRERY_KUBE_LISTEN", default_value = "127.0.0.1:6443")]
    pub kube_listen: SocketAddr,
}

/// Sets up `tracing` from the flags.
pub fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn cluster_config(
    args: &EmbeddedArgs,
    listen: SocketAddr,
) -> anyhow::Result<apiserver::ClusterConfig> {
    let secs = |v: f64, what: &str| -> anyhow::Result<Duration> {
        anyhow::ensure!(
            v.is_finite() && v > 0.0,
            "--{what} must be a positive number of seconds"
        );
        Ok(Duration::from_secs_f64(v))
    };
    let mut c = apiserver::ClusterConfig::new(&args.data_dir);
    c.listen = listen;
    c.bookmark_interval = secs(args.bookmark_interval, "bookmark-interval")?;
    c.compaction_interval = secs(args.compaction_interval, "compaction-interval")?;
    c.retain_revisions = args.retain_revisions;
    c.service_cidr = args.service_cidr.clone();
    Ok(c)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run_embedded(
    config: apiserver::ClusterConfig,
) -> anyhow::Result<apiserver::RunningCluster> {
    let dir = config.data_dir.clone();
    let running = apiserver::start(config)
        .await
        .with_context(|| format!("starting the embedded cluster in {}", dir.display()))?;
    println!("ready kubernetes-api {}", running.url());
    Ok(running)
}

/// Runs the chosen subcommand until it is interrupted.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Cluster(args) => {
            let running = run_embedded(cluster_config(&args.embedded, args.listen)?).await?;
            println!("kubeconfig {}", running.kubeconfig_path.display());
            wait_for_signal().await;
            running.shutdown().await;
            Ok(())
        }
        Command::Helm(HelmCommand::Template(args)) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            helm::cli::template_command(args, &mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Command::Serve(args) => {
            let running = run_embedded(cluster_config(&args.embedded, args.kube_listen)?).await?;
            println!("kubeconfig {}", running.kubeconfig_path.display());
            println!(
                "Orrery is running. Use the embedded cluster with:\n  kubectl --kubeconfig {} get namespaces",
                running.kubeconfig_path.display()
            );
            wait_for_signal().await;
            running.shutdown().await;
            Ok(())
        }
    }
}
