//! `orrery agent`: runs inside a member cluster behind NAT and keeps a tunnel to the platform
//! (see docs/agent.md and `platform::clusters::tunnel`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use platform::clusters::tunnel::agent::{AgentConfig, run as run_agent};

/// A join token: shown as `<redacted>` wherever the arguments are printed.
#[derive(Clone)]
pub struct JoinToken(pub String);

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn parse_token(s: &str) -> Result<JoinToken, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("the join token is empty".into());
    }
    Ok(JoinToken(t.to_string()))
}

fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let ns = gofmt::parse_duration(s).map_err(|e| e.to_string())?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| format!("{s:?} is negative"))
}

/// `orrery agent` flags.
#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The platform's URL as this cluster reaches it, e.g. https://orrery.example.com:30880.
    #[arg(long, env = "ORRERY_AGENT_PLATFORM_URL")]
    pub platform_url: String,
    /// This cluster's name on the platform (the proxy Cluster's metadata.name).
    #[arg(long, env = "ORRERY_AGENT_CLUSTER")]
    pub cluster: String,
    /// The join token the platform issued for this cluster. Give it in the environment: a flag
    /// would show in the process list.
    #[arg(long = "token", env = "ORRERY_AGENT_TOKEN", hide = true, hide_env_values = true, value_parser = parse_token)]
    pub token: JoinToken,
    /// CA certificates (PEM) that sign the platform's certificate; the public web roots when
    /// not given.
    #[arg(long, env = "ORRERY_AGENT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Reach this cluster's API server with this kubeconfig instead of the pod's
    /// ServiceAccount (in-cluster credentials).
    #[arg(long, env = "ORRERY_AGENT_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Time between heartbeats (the tunnel is given up after three missed ones).
    #[arg(long, env = "ORRERY_AGENT_HEARTBEAT", default_value = "5s", value_parser = parse_go_duration)]
    pub heartbeat: Duration,
    /// First wait before reconnecting; it doubles per failed attempt, with jitter ...
    #[arg(long, env = "ORRERY_AGENT_BACKOFF", default_value = "500ms", value_parser = parse_go_duration)]
    pub backoff: Duration,
    /// ... up to this.
    #[arg(long, env = "ORRERY_AGENT_BACKOFF_MAX", default_value = "30s", value_parser = parse_go_duration)]
    pub backoff_max: Duration,
}

/// The member's API server client: the kubeconfig given, or the pod's in-cluster credentials.
async fn member_client(args: &AgentArgs) -> anyhow::Result<kube::Client> {
    let mut config = match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?
        }
        None => kube::Config::incluster().context(
            "no in-cluster credentials (not running in a pod?); give --kubeconfig to run outside a cluster",
        )?,
    };
    // Watches last as long as the platform keeps them.
    config.read_timeout = None;
    Ok(kube::Client::try_from(config)?)
}

/// Runs the agent until SIGINT/SIGTERM.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let ca_pem = match &args.ca_file {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    let kube = member_client(&args).await?;
    let mut config = AgentConfig::new(&args.platform_url, &args.cluster, &args.token.0);
    config.ca_pem = ca_pem;
    config.heartbeat = args.heartbeat.max(Duration::from_millis(100));
    config.backoff_base = args.backoff.max(Duration::from_millis(10));
    config.backoff_max = args.backoff_max.max(config.backoff_base);
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        s.cancel();
    });
    println!("agent {} {}", args.cluster, args.platform_url);
    run_agent(config, kube, stop).await?;
    Ok(())
}
