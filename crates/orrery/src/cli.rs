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
    Serve(Box<ServeArgs>),
    /// Run an embedded Kubernetes-compatible cluster alone (for example to play a member).
    Cluster(ClusterArgs),
    /// Run inside a member cluster behind NAT: keep a tunnel to the platform (docs/agent.md).
    Agent(crate::agent::AgentArgs),
    /// Helm-compatible chart commands.
    #[command(subcommand)]
    Helm(HelmCommand),
    /// Platform administration against the host cluster.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write and package extensions (docs/extension-authoring.md).
    #[command(subcommand)]
    Extension(crate::extension_cmd::ExtensionCommand),
    /// The configuration of `orrery serve` (see docs/configuration.md).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script: `source <(orrery completion bash)`.
    Completion(crate::comforts::CompletionArgs),
    /// Print the version, the commit and the compiler it was built with.
    Version,
    /// Write an online, consistent snapshot of an embedded cluster's data dir (docs/backup.md).
    Backup(crate::backup::BackupArgs),
    /// Start a data dir from a backup archive (checked before anything is replaced).
    Restore(crate::backup::RestoreArgs),
    /// Write the platform's own resources of a host cluster to a file (docs/backup.md).
    Export(crate::export_cmd::ExportArgs),
    /// Create or update the platform's resources of an export in a host cluster.
    Import(crate::export_cmd::ImportArgs),
    /// Drop a stopped embedded cluster's history down to its latest revisions (progress bar).
    Compact(crate::compact_cmd::CompactArgs),
}

/// `orrery config …`.
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration of `orrery serve` given these flags, the ORRERY_*
    /// variables and the file, with where each value came from; secrets masked.
    Print(Box<ServeArgs>),
}

/// `orrery admin …`.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Replace the token signing key: every token signed before (logins, refresh tokens,
    /// kubeconfig tokens) stops working on every replica; users log in again.
    RotateSigningKey(AdminArgs),
    /// Replace the key ID tokens are signed with (Orrery as an OpenID provider): the previous
    /// key stays published at /oauth/keys, so tokens signed before keep validating.
    RotateIdTokenKey(AdminArgs),
}

/// Where the host cluster is.
#[derive(Args, Debug)]
pub struct AdminArgs {
    /// The host cluster's kubeconfig (for `orrery serve`: `<data-dir>/kubeconfig.yaml`).
    #[arg(long, env = "ORRERY_KUBECONFIG")]
    pub kubeconfig: PathBuf,
}

/// `orrery helm …`.
#[derive(Subcommand, Debug)]
pub enum HelmCommand {
    /// Render a chart locally and print the manifests, like `helm template`.
    Template(crate::helm_cmd::TemplateArgs),
    /// Install a chart as a release in a cluster, like `helm install`.
    Install(crate::helm_cmd::InstallArgs),
    /// Upgrade a release to a chart, like `helm upgrade`.
    Upgrade(crate::helm_cmd::InstallArgs),
    /// Roll a release back to an earlier revision, like `helm rollback`.
    Rollback(crate::helm_cmd::RollbackArgs),
    /// Uninstall a release, like `helm uninstall`.
    Uninstall(crate::helm_cmd::UninstallArgs),
    /// List releases, like `helm list`.
    List(crate::helm_cmd::ListArgs),
    /// Show a release's revisions, like `helm history`.
    History(crate::helm_cmd::HistoryArgs),
}

/// Flags shared by everything that runs an embedded cluster.
#[derive(Args, Debug, Clone)]
pub struct EmbeddedArgs {
    /// Where the store, certificates and kubeconfig live.
    #[arg(long, env = "ORRERY_DATA_DIR", default_value = "orrery-data")]
    pub data_dir: PathBuf,
    /// How often watch streams that ask for bookmarks get one (seconds).
    #[arg(long, env = "ORRERY_BOOKMARK_INTERVAL", default_value_t = 60.0, value_parser = crate::config::tunables::parse_seconds)]
    pub bookmark_interval: f64,
    /// How often history is compacted (seconds).
    #[arg(long, env = "ORRERY_COMPACTION_INTERVAL", default_value_t = 300.0, value_parser = crate::config::tunables::parse_seconds)]
    pub compaction_interval: f64,
    /// Revisions of history kept at least.
    #[arg(long, env = "ORRERY_RETAIN_REVISIONS", default_value_t = 100_000)]
    pub retain_revisions: i64,
    /// Service ClusterIP range.
    #[arg(long, env = "ORRERY_SERVICE_CIDR", default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// Simulated nodes (0 runs no data-plane simulation).
    #[arg(long, env = "ORRERY_NODES", default_value_t = 3)]
    pub nodes: usize,
    /// Simulated seconds per real second (container starts, probes, back-off, Jobs, CronJobs).
    #[arg(long, env = "ORRERY_SIM_TIME_SCALE", default_value_t = 1.0)]
    pub sim_time_scale: f64,
    /// Seed for generated names and the simulation, for reproducible runs.
    #[arg(long, env = "ORRERY_SEED")]
    pub seed: Option<u64>,
    /// Seconds a client may take to send request headers (and an idle connection is kept)
    /// before the server closes the connection; applies to every listener.
    #[arg(long, env = "ORRERY_REQUEST_HEADER_TIMEOUT", default_value_t = 32.0, value_parser = crate::config::tunables::parse_seconds)]
    pub request_header_timeout: f64,
    /// An EncryptionConfiguration (kube-apiserver's format) that encrypts Secrets (or other
    /// resources) in the store; see docs/backup.md.
    #[arg(long, env = "ORRERY_ENCRYPTION_PROVIDER_CONFIG")]
    pub encryption_provider_config: Option<PathBuf>,
    /// At start, store again every value the encryption configuration would write
    /// differently (after a new first key, or to encrypt what was stored in plaintext).
    #[arg(long, env = "ORRERY_ENCRYPTION_REWRITE")]
    pub encryption_rewrite: bool,
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
    /// A YAML file with any of these settings (docs/configuration.md); flags and ORRERY_*
    /// variables win over it.
    #[arg(long, env = "ORRERY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub embedded: EmbeddedArgs,
    /// Address of the platform API (port 0 picks a free port).
    #[arg(long, env = "ORRERY_LISTEN", default_value = "127.0.0.1:30880")]
    pub listen: SocketAddr,
    /// Address of the embedded cluster's Kubernetes API (port 0 picks a free port).
    #[arg(long, env = "ORRERY_KUBE_LISTEN", default_value = "127.0.0.1:6443")]
    pub kube_listen: SocketAddr,
    /// Use the cluster of this kubeconfig as the host instead of an embedded one.
    #[arg(long, env = "ORRERY_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The initial password of the `admin` user (generated and saved in the data dir if unset).
    #[arg(long, env = "ORRERY_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Exec plugin commands member kubeconfigs may run (bare names or exact paths; repeat or
    /// separate with commas). Default: aws, aws-iam-authenticator, kubelogin,
    /// gke-gcloud-auth-plugin, doctl.
    #[arg(long, env = "ORRERY_EXEC_PLUGIN_ALLOW", value_delimiter = ',')]
    pub exec_plugin_allow: Vec<String>,
    /// Reverse proxies (IP addresses or CIDRs, comma-separated) whose `X-Forwarded-For`
    /// header names the client, for login locks and rate limits. Default: none (the TCP peer
    /// is the client).
    #[arg(long, env = "ORRERY_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The URL clients and member clusters reach the platform at (kubeconfigs it issues, and
    /// the admission webhooks of workspace quotas, which each member's API server calls over
    /// HTTPS). Default: `https://` and the listen address.
    #[arg(long, env = "ORRERY_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(flatten)]
    pub tunables: crate::config::PlatformTunables,
}

/// API auditing (kube-apiserver's flag names where it has them).
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The level requests that change something are audited at: None, Metadata, Request or
    /// RequestResponse (bodies are always redacted of secrets; logins stay at Metadata).
    #[arg(long, env = "ORRERY_AUDIT_LEVEL", default_value = "Metadata")]
    pub audit_level: platform::audit::Level,
    /// The level reads (get, list, watch) are audited at.
    #[arg(long, env = "ORRERY_AUDIT_READ_LEVEL", default_value = "None")]
    pub audit_read_level: platform::audit::Level,
    /// The audit log, one audit.k8s.io/v1 Event JSON per line (this replica's). Default:
    /// `<data-dir>/audit.log`; an empty value (or the flag without one) writes no file.
    #[arg(
        long,
        env = "ORRERY_AUDIT_LOG_PATH",
        num_args = 0..=1,
        default_missing_value = ""
    )]
    pub audit_log_path: Option<String>,
    /// Rotate the audit log once it passes this many megabytes (0: never).
    #[arg(long, env = "ORRERY_AUDIT_LOG_MAXSIZE", default_value_t = 100)]
    pub audit_log_maxsize: u64,
    /// Rotated audit logs kept.
    #[arg(long, env = "ORRERY_AUDIT_LOG_MAXBACKUP", default_value_t = 10)]
    pub audit_log_maxbackup: usize,
    /// Post audit.k8s.io/v1 EventList batches to this http(s) URL (the backend that gathers
    /// every replica's events).
    #[arg(long, env = "ORRERY_AUDIT_WEBHOOK_URL")]
    pub audit_webhook_url: Option<String>,
    /// Events per webhook batch at most.
    #[arg(
        long,
        env = "ORRERY_AUDIT_WEBHOOK_BATCH_MAX_SIZE",
        default_value_t = 400
    )]
    pub audit_webhook_batch_max_size: usize,
    /// Seconds a webhook batch waits for more events before it is sent.
    #[arg(
        long,
        env = "ORRERY_AUDIT_WEBHOOK_BATCH_MAX_WAIT",
        default_value_t = 5.0,
        value_parser = crate::config::tunables::parse_seconds
    )]
    pub audit_webhook_batch_max_wait: f64,
}

impl AuditArgs {
    /// The platform's audit settings (`data_dir` holds the default log).
    fn settings(
        &self,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<platform::audit::AuditSettings> {
        let wait = Duration::try_from_secs_f64(self.audit_webhook_batch_max_wait)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--audit-webhook-batch-max-wait must be a positive number of seconds"
                )
            })?;
        anyhow::ensure!(
            self.audit_webhook_batch_max_size > 0,
            "--audit-webhook-batch-max-size must be positive"
        );
        let log_path = match &self.audit_log_path {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(PathBuf::from(p)),
            None => Some(data_dir.join("audit.log")),
        };
        Ok(platform::audit::AuditSettings {
            write_level: self.audit_level,
            read_level: self.audit_read_level,
            log_path,
            log_max_size_mb: self.audit_log_maxsize,
            log_max_backups: self.audit_log_maxbackup,
            webhook_url: self.audit_webhook_url.clone().filter(|u| !u.is_empty()),
            webhook_batch_max_size: self.audit_webhook_batch_max_size,
            webhook_batch_max_wait: wait,
            ..Default::default()
        })
    }
}

/// An absolute `http(s)://` URL without query or fragment.
fn parse_public_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?} is not an http(s):// URL"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!(
            "{s:?} must name a host and carry no query or fragment"
        ));
    }
    Ok(s.to_string())
}

/// An address or CIDR: `10.0.0.1` or `10.0.0.0/8`.
fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR"))
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
    anyhow::ensure!(
        args.sim_time_scale.is_finite() && args.sim_time_scale > 0.0,
        "--sim-time-scale must be a positive number"
    );
    c.data_plane = Some(std::sync::Arc::new(sim::SimDataPlane {
        time_scale: args.sim_time_scale,
    }));
    c.seed = args.seed;
    c.request_header_timeout = secs(args.request_header_timeout, "request-header-timeout")?;
    if let Some(path) = &args.encryption_provider_config {
        c.encryption = Some(std::sync::Arc::new(
            apiserver::encryption::EncryptionConfig::load(path)?,
        ));
    }
    anyhow::ensure!(
        !args.encryption_rewrite || c.encryption.is_some(),
        "--encryption-rewrite needs --encryption-provider-config"
    );
    c.rewrite_encrypted = args.encryption_rewrite;
    if args.encryption_rewrite {
        c.rewrite_progress = Some(crate::backup::reporter("re-encrypt", "revisions"));
    }
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

/// An embedded cluster with its simulated data plane.
struct Embedded {
    cluster: apiserver::RunningCluster,
    sim: Option<(
        tokio_util::sync::CancellationToken,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Embedded {
    async fn shutdown(self) {
        if let Some((token, task)) = self.sim {
            token.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.cluster.shutdown().await;
    }
}

async fn run_embedded(
    args: &EmbeddedArgs,
    config: apiserver::ClusterConfig,
) -> anyhow::Result<Embedded> {
    let dir = config.data_dir.clone();
    let cluster = apiserver::start(config)
        .await
        .with_context(|| format!("starting the embedded cluster in {}", dir.display()))?;
    let sim = if args.nodes > 0 {
        let kubeconfig = kube::config::Kubeconfig::read_from(&cluster.kubeconfig_path)?;
        let client_config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let client = kube::Client::try_from(client_config)?;
        let sim_config = sim::SimConfig {
            nodes: args.nodes,
            time_scale: args.sim_time_scale,
            seed: args.seed,
            ..Default::default()
        };
        sim_config.validate()?;
        let token = tokio_util::sync::CancellationToken::new();
        let stop = token.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = sim::run(client, sim_config, stop).await {
                tracing::error!(error = %e, "the data-plane simulation stopped");
            }
        });
        Some((token, task))
    } else {
        None
    };
    println!("ready kubernetes-api {}", cluster.url());
    Ok(Embedded { cluster, sim })
}

/// Runs the chosen subcommand until it is interrupted.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Cluster(args) => {
            let running =
                run_embedded(&args.embedded, cluster_config(&args.embedded, args.listen)?).await?;
            println!("kubeconfig {}", running.cluster.kubeconfig_path.display());
            crate::memory::trim_after_startup();
            wait_for_signal().await;
            running.shutdown().await;
            Ok(())
        }
        Command::Helm(HelmCommand::Template(args)) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            crate::helm_cmd::template_command(args, &mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Command::Helm(cmd) => {
            let mut out = std::io::stdout();
            match cmd {
                HelmCommand::Template(_) => {}
                HelmCommand::Install(a) => crate::helm_cmd::install_command(a, &mut out).await?,
                HelmCommand::Upgrade(a) => crate::helm_cmd::upgrade_command(a, &mut out).await?,
                HelmCommand::Rollback(a) => crate::helm_cmd::rollback_command(a, &mut out).await?,
                HelmCommand::Uninstall(a) => {
                    crate::helm_cmd::uninstall_command(a, &mut out).await?
                }
                HelmCommand::List(a) => crate::helm_cmd::list_command(a, &mut out).await?,
                HelmCommand::History(a) => crate::helm_cmd::history_command(a, &mut out).await?,
            }
            Ok(())
        }
        Command::Extension(cmd) => crate::extension_cmd::run(cmd, &mut std::io::stdout()),
        Command::Serve(args) => serve(*args).await,
        Command::Backup(args) => crate::backup::backup_command(&args),
        Command::Restore(args) => crate::backup::restore_command(&args),
        Command::Export(args) => crate::export_cmd::export_command(&args).await,
        Command::Import(args) => crate::export_cmd::import_command(&args).await,
        Command::Compact(args) => crate::compact_cmd::compact_command(&args),
        Command::Agent(args) => crate::agent::run(args).await,
        Command::Config(ConfigCommand::Print(_)) => {
            let text =
                crate::config::print(std::env::args_os().collect()).map_err(|e| match e {
                    crate::config::ArgsError::Clap(e) => anyhow::anyhow!("{e}"),
                    crate::config::ArgsError::File(e) => anyhow::anyhow!("{e}"),
                })?;
            print!("{text}");
            Ok(())
        }
        Command::Completion(args) => {
            crate::comforts::completion(&args, &mut std::io::stdout())?;
            Ok(())
        }
        Command::Version => {
            print!("{}", crate::comforts::version());
            Ok(())
        }
        Command::Admin(AdminCommand::RotateSigningKey(args)) => {
            let client = admin_client(&args).await?;
            platform::tokens::rotate_signing_key(&client).await?;
            println!(
                "rotated the token signing key; every earlier token is refused, users log in again"
            );
            Ok(())
        }
        Command::Admin(AdminCommand::RotateIdTokenKey(args)) => {
            let client = admin_client(&args).await?;
            let kid = platform::openid::keys::rotate(&client).await?;
            println!(
                "rotated the ID token signing key; new key {kid}, the previous one stays published"
            );
            Ok(())
        }
    }
}

/// A client for the host cluster `orrery admin` works on.
async fn admin_client(args: &AdminArgs) -> anyhow::Result<kube::Client> {
    crate::export_cmd::kube_client(&args.kubeconfig).await
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Refused before anything starts, with the rule it breaks.
    if let Some(pw) = &args.admin_password {
        platform::password::check_policy(pw)
            .map_err(|e| anyhow::anyhow!("--admin-password is too weak: {e}"))?;
    }
    args.tunables.check()?;
    anyhow::ensure!(
        args.kubeconfig.is_none() || args.embedded.encryption_provider_config.is_none(),
        "--encryption-provider-config encrypts the embedded cluster's store; with --kubeconfig, \
         configure encryption at rest in that cluster's API server instead"
    );
    let tls = crate::config::tls::source(&args.tunables)?;
    if let Some(warning) = crate::config::tls::listener_warning(args.listen, &tls) {
        tracing::warn!(listen = %args.listen, "{warning}");
        // Without TLS also on stderr whatever the log settings: it must not go unseen.
        if matches!(tls, platform::serve::TlsSource::Off) {
            eprintln!("{warning}");
        }
    }
    if let Some(warning) =
        crate::config::tls::public_url_warning(args.listen, args.public_url.as_deref())
    {
        tracing::warn!("{warning}");
    }
    let in_cluster = match &args.kubeconfig {
        Some(_) => None,
        None => crate::config::incluster::host(args.tunables.host_cluster)?,
    };
    let (embedded, kube_config) = match (&args.kubeconfig, in_cluster) {
        (Some(path), _) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            (
                None,
                kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?,
            )
        }
        (None, Some(dir)) => {
            let config = crate::config::incluster::config(&dir).await?;
            println!("host in-cluster {}", config.cluster_url);
            (None, config)
        }
        (None, None) => {
            let running = run_embedded(
                &args.embedded,
                cluster_config(&args.embedded, args.kube_listen)?,
            )
            .await?;
            let kc = kube::config::Kubeconfig::read_from(&running.cluster.kubeconfig_path)?;
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
            println!("kubeconfig {}", running.cluster.kubeconfig_path.display());
            (Some(running), config)
        }
    };
    std::fs::create_dir_all(&args.embedded.data_dir)
        .with_context(|| format!("creating {}", args.embedded.data_dir.display()))?;
    let mut config = platform::PlatformConfig::new(kube_config, &args.embedded.data_dir);
    config.request_header_timeout =
        Duration::try_from_secs_f64(args.embedded.request_header_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                anyhow::anyhow!("--request-header-timeout must be a positive number of seconds")
            })?;
    config.listen = args.listen;
    config.admin_password = args.admin_password.clone();
    config.trusted_proxies = args.trusted_proxies.clone();
    config.public_url = args.public_url.clone();
    config.audit = args.audit.settings(&args.embedded.data_dir)?;
    if !args.exec_plugin_allow.is_empty() {
        config.clusters.exec_allow = args.exec_plugin_allow.clone();
    }
    args.tunables.apply(&mut config);
    config.tls = tls;
    let platform = platform::start(config)
        .await
        .context("starting the platform")?;
    println!("ready platform {}", platform.url());
    println!("Orrery is running at {} (user: admin)", platform.url());
    match &platform.initial_admin_password {
        Some(p) if args.admin_password.is_none() => println!(
            "The admin password was generated: {p} (also saved in {}); you must change it at first login.",
            args.embedded.data_dir.join("admin-password").display()
        ),
        Some(_) => println!("Log in as admin with the password given by --admin-password."),
        None => {
            println!("Log in as admin (the admin user already exists; its password is unchanged).")
        }
    }
    crate::memory::trim_after_startup();
    wait_for_signal().await;
    platform.shutdown().await;
    if let Some(e) = embedded {
        e.shutdown().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_public_url_is_an_absolute_http_url() {
        assert_eq!(
            super::parse_public_url("https://orrery.example.com:30880/").as_deref(),
            Ok("https://orrery.example.com:30880")
        );
        for bad in [
            "orrery.example.com",
            "ftp://x",
            "https://",
            "https://x/?a=b",
            "https://x#y",
        ] {
            assert!(super::parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_flags_become_settings() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let cli = super::Cli::try_parse_from(
                [&["orrery", "serve", "--data-dir", "/d"][..], args].concat(),
            )
            .map_err(|e| e.to_string())?;
            let super::Command::Serve(serve) = cli.command else {
                return Err("not serve".to_string());
            };
            serve
                .audit
                .settings(std::path::Path::new("/d"))
                .map_err(|e| e.to_string())
        };
        let s = parse(&[]).expect("defaults");
        assert_eq!(s.write_level, platform::audit::Level::Metadata);
        assert_eq!(s.read_level, platform::audit::Level::None);
        assert_eq!(
            s.log_path.as_deref(),
            Some(std::path::Path::new("/d/audit.log"))
        );
        let s = parse(&[
            "--audit-level",
            "RequestResponse",
            "--audit-log-path",
            "",
            "--audit-webhook-url",
            "http://127.0.0.1:9/a",
            "--audit-log-maxsize",
            "5",
        ])
        .expect("flags");
        assert_eq!(s.write_level, platform::audit::Level::RequestResponse);
        assert_eq!(s.log_path, None);
        assert_eq!(s.log_max_size_mb, 5);
        assert_eq!(s.webhook_url.as_deref(), Some("http://127.0.0.1:9/a"));
        assert!(parse(&["--audit-level", "Everything"]).is_err());
        assert!(parse(&["--audit-webhook-batch-max-wait", "0"]).is_err());
    }
}
