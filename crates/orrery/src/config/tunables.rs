//! The platform's tunables as flags of `orrery serve` (each also an `ORRERY_*` variable and a
//! key of the configuration file, see [`super::keys`]), and how they become the platform's
//! [`platform::PlatformConfig`]. Defaults are SPEC §3's (a unit test holds them equal to the
//! platform's own defaults).

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

/// A duration: Go's syntax (`90s`, `2h30m`, `500ms`) or a plain number of seconds; positive.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = if let Ok(secs) = s.parse::<f64>() {
        Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a duration"))?
    } else {
        let nanos = gofmt::parse_duration(s).map_err(|_| {
            format!("{s:?} is not a duration (write e.g. 30s, 10m, 2h30m or a number of seconds)")
        })?;
        let nanos = u64::try_from(nanos).map_err(|_| format!("{s:?} is negative"))?;
        Duration::from_nanos(nanos)
    };
    if d.is_zero() {
        return Err(format!("{s:?} must be longer than zero"));
    }
    Ok(d)
}

/// [`parse_duration`] as seconds, for the flags that have always been numbers of seconds.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    parse_duration(s).map(|d| d.as_secs_f64())
}

/// `ID:SECRET` of an OAuth client of the password and refresh grants.
fn parse_client(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_string(), secret.to_string()))
        }
        _ => Err("an OAuth client is written ID:SECRET".into()),
    }
}

/// Tunables of the platform that have no older flag (see `docs/configuration.md`).
#[derive(Args, Debug, Clone)]
pub struct PlatformTunables {
    /// The host cluster when `--kubeconfig` is not given: `auto` (in a pod, the pod's own
    /// cluster through its ServiceAccount; elsewhere an embedded one), `embedded`, `in-cluster`.
    #[arg(
        long,
        help_heading = "Host cluster",
        env = "ORRERY_HOST_CLUSTER",
        value_enum,
        default_value = "auto"
    )]
    pub host_cluster: super::incluster::HostCluster,
    /// Serve HTTPS on the platform's port (besides plain HTTP): with `--tls-cert`/`--tls-key`,
    /// or else a generated self-signed pair kept in the host cluster. `false`: plain HTTP only.
    #[arg(long, help_heading = "TLS", env = "ORRERY_TLS", default_value_t = true, action = ArgAction::Set)]
    pub tls: bool,
    /// The platform's certificate chain (PEM), served instead of the self-signed one.
    #[arg(
        long,
        help_heading = "TLS",
        env = "ORRERY_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(
        long,
        help_heading = "TLS",
        env = "ORRERY_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Whether a user may be logged in several times; `false`: a login revokes the user's
    /// earlier tokens (KubeSphere's `multipleLogin`).
    #[arg(long, help_heading = "Authentication", env = "ORRERY_MULTIPLE_LOGIN", default_value_t = true, action = ArgAction::Set)]
    pub multiple_login: bool,
    /// Lifetime of access tokens (`expires_in` of `/oauth/token`).
    #[arg(long, help_heading = "Authentication", env = "ORRERY_ACCESS_TOKEN_MAX_AGE", default_value = "2h", value_parser = parse_duration)]
    pub access_token_max_age: Duration,
    /// Lifetime of refresh tokens (single use).
    #[arg(long, help_heading = "Authentication", env = "ORRERY_REFRESH_TOKEN_MAX_AGE", default_value = "2h30m", value_parser = parse_duration)]
    pub refresh_token_max_age: Duration,
    /// Lifetime of the token in a downloaded user kubeconfig.
    #[arg(long, help_heading = "Authentication", env = "ORRERY_KUBECONFIG_TOKEN_MAX_AGE", default_value = "8760h", value_parser = parse_duration)]
    pub kubeconfig_token_max_age: Duration,
    /// How long LoginRecords are kept.
    #[arg(long, help_heading = "Authentication", env = "ORRERY_LOGIN_RECORD_MAX_AGE", default_value = "168h", value_parser = parse_duration)]
    pub login_record_max_age: Duration,
    /// Failed logins within the lockout window that lock a user (`AuthLimitExceeded`).
    #[arg(long, help_heading = "Authentication", env = "ORRERY_LOCKOUT_THRESHOLD", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub lockout_threshold: u32,
    /// The window over which failed logins count.
    #[arg(long, help_heading = "Authentication", env = "ORRERY_LOCKOUT_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub lockout_window: Duration,
    /// How long a lock lasts.
    #[arg(long, help_heading = "Authentication", env = "ORRERY_LOCKOUT_DURATION", default_value = "10m", value_parser = parse_duration)]
    pub lockout_duration: Duration,
    /// Login attempts one client address may make at once (`/oauth/token`, console login) …
    #[arg(long, help_heading = "Authentication", env = "ORRERY_LOGIN_BURST", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_burst: u32,
    /// … and per second after that (429 beyond).
    #[arg(long, help_heading = "Authentication", env = "ORRERY_LOGIN_RATE", default_value_t = 1.0, value_parser = positive_f64)]
    pub login_rate: f64,
    /// argon2id memory per password hash, in KiB (OWASP's minimum by default).
    #[arg(long, help_heading = "Authentication", env = "ORRERY_PASSWORD_HASH_MEMORY", default_value_t = 19 * 1024, value_parser = clap::value_parser!(u32).range(8..))]
    pub password_hash_memory: u32,
    /// argon2id iterations per password hash.
    #[arg(long, help_heading = "Authentication", env = "ORRERY_PASSWORD_HASH_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub password_hash_iterations: u32,
    /// OAuth clients of the password and refresh grants, `ID:SECRET` (repeat or separate with
    /// commas). Clients of the authorization-code flow are Secrets in the host, as in KubeSphere.
    #[arg(long, help_heading = "Authentication", env = "ORRERY_OAUTH_CLIENT", value_delimiter = ',', default_value = "kubesphere:kubesphere", value_parser = parse_client, hide_env_values = true, hide_default_value = true)]
    pub oauth_client: Vec<(String, String)>,
    /// How long a replica's leader Lease is valid without renewal.
    #[arg(long, help_heading = "Leader election and controllers", env = "ORRERY_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How often the leader renews its Lease and the others try to take it.
    #[arg(long, help_heading = "Leader election and controllers", env = "ORRERY_LEASE_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub lease_retry_period: Duration,
    /// This replica's name in leader election (default: random).
    #[arg(
        long,
        help_heading = "Leader election and controllers",
        env = "ORRERY_LEADER_IDENTITY"
    )]
    pub leader_identity: Option<String>,
    /// This replica's own URL as the other replicas reach it (`https://$(POD_IP):30880`): they
    /// forward requests for agents connected here to it. Default: the listen address when it
    /// is a specific one.
    #[arg(long, help_heading = "Leader election and controllers", env = "ORRERY_ADVERTISE_URL", value_parser = parse_advertise_url)]
    pub advertise_url: Option<String>,
    /// Time between controller passes.
    #[arg(long, help_heading = "Leader election and controllers", env = "ORRERY_RESYNC_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub resync_period: Duration,
    /// Time between prunes of old LoginRecords and expired tokens.
    #[arg(long, help_heading = "Leader election and controllers", env = "ORRERY_PRUNE_PERIOD", default_value = "10m", value_parser = parse_duration)]
    pub prune_period: Duration,
    /// The host cluster's name.
    #[arg(
        long,
        help_heading = "Member clusters",
        env = "ORRERY_HOST_CLUSTER_NAME",
        default_value = "host"
    )]
    pub host_cluster_name: String,
    /// Time between health checks of a Ready member cluster.
    #[arg(long, help_heading = "Member clusters", env = "ORRERY_HEALTH_CHECK_PERIOD", default_value = "10s", value_parser = parse_duration)]
    pub health_check_period: Duration,
    /// Bound on each call of a health check (and on connecting).
    #[arg(long, help_heading = "Member clusters", env = "ORRERY_HEALTH_CHECK_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub health_check_timeout: Duration,
    /// Longest wait between checks of a failing cluster (the wait doubles up to it).
    #[arg(long, help_heading = "Member clusters", env = "ORRERY_HEALTH_CHECK_BACKOFF_MAX", default_value = "30s", value_parser = parse_duration)]
    pub health_check_backoff_max: Duration,
    /// How long a member cluster may take to start answering a proxied request.
    #[arg(long, help_heading = "Member clusters", env = "ORRERY_CLUSTER_PROXY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub cluster_proxy_timeout: Duration,
    /// Requests one user may have in progress at once.
    #[arg(long, help_heading = "Fairness", env = "ORRERY_FAIRNESS_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub fairness_concurrency: u32,
    /// Requests of one user that may wait for a slot (429 beyond).
    #[arg(
        long,
        help_heading = "Fairness",
        env = "ORRERY_FAIRNESS_QUEUE",
        default_value_t = 64
    )]
    pub fairness_queue: u32,
    /// The longest a request waits for a slot before 429.
    #[arg(long, help_heading = "Fairness", env = "ORRERY_FAIRNESS_MAX_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub fairness_max_wait: Duration,
    /// Time between samples of the in-process monitoring store.
    #[arg(long, help_heading = "Monitoring", env = "ORRERY_MONITORING_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub monitoring_interval: Duration,
    /// Samples kept per series (a day of minutes by default).
    #[arg(long, help_heading = "Monitoring", env = "ORRERY_MONITORING_RETENTION_SAMPLES", default_value_t = 1440, value_parser = clap::value_parser!(u32).range(1..))]
    pub monitoring_retention_samples: u32,
    /// Series one query selector may match.
    #[arg(
        long,
        help_heading = "Monitoring",
        env = "ORRERY_MONITORING_MAX_SERIES",
        default_value_t = 50_000
    )]
    pub monitoring_max_series: usize,
    /// Points one query may fetch.
    #[arg(
        long,
        env = "ORRERY_MONITORING_MAX_POINTS",
        default_value_t = 50_000_000
    )]
    pub monitoring_max_points: usize,
    /// Steps of one range query.
    #[arg(
        long,
        help_heading = "Monitoring",
        env = "ORRERY_MONITORING_MAX_STEPS",
        default_value_t = 11_000
    )]
    pub monitoring_max_steps: usize,
    /// Wall-clock budget of one query.
    #[arg(long, help_heading = "Monitoring", env = "ORRERY_MONITORING_QUERY_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub monitoring_query_timeout: Duration,
    /// How long a cluster's Prometheus may take to answer.
    #[arg(long, help_heading = "Monitoring", env = "ORRERY_MONITORING_PROMETHEUS_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub monitoring_prometheus_timeout: Duration,
    /// How often the leader looks for alerting rule groups due for evaluation.
    #[arg(long, help_heading = "Alerting", env = "ORRERY_ALERTING_TICK", default_value = "1s", value_parser = parse_duration)]
    pub alerting_tick: Duration,
    /// How long a resolved alert stays listed.
    #[arg(long, help_heading = "Alerting", env = "ORRERY_ALERTING_RESOLVED_RETENTION", default_value = "15m", value_parser = parse_duration)]
    pub alerting_resolved_retention: Duration,
    /// How long one alerting rule's query may take.
    #[arg(long, help_heading = "Alerting", env = "ORRERY_ALERTING_QUERY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub alerting_query_timeout: Duration,
    /// Attempts to deliver one notification.
    #[arg(long, help_heading = "Alerting", env = "ORRERY_ALERTING_NOTIFY_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub alerting_notify_attempts: u32,
    /// Wait after a notification's first failure (doubled after each further one).
    #[arg(long, help_heading = "Alerting", env = "ORRERY_ALERTING_NOTIFY_INITIAL_BACKOFF", default_value = "500ms", value_parser = parse_duration)]
    pub alerting_notify_initial_backoff: Duration,
    /// Longest wait between notification attempts.
    #[arg(long, help_heading = "Alerting", env = "ORRERY_ALERTING_NOTIFY_MAX_BACKOFF", default_value = "30s", value_parser = parse_duration)]
    pub alerting_notify_max_backoff: Duration,
    /// How long one notification attempt may take.
    #[arg(long, help_heading = "Alerting", env = "ORRERY_ALERTING_NOTIFY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub alerting_notify_timeout: Duration,
    /// The registry extensions pull their images from: their charts' `global.imageRegistry`
    /// (docs/extensions.md). Default: none (each chart's own).
    #[arg(
        long,
        help_heading = "Extensions",
        env = "ORRERY_EXTENSION_IMAGE_REGISTRY"
    )]
    pub extension_image_registry: Option<String>,
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

/// An `http(s)://host:port` URL with nothing after the authority.
fn parse_advertise_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{s:?}: give the scheme, host and port only (https://10.1.2.3:30880)"
        ));
    }
    Ok(s.to_string())
}

impl PlatformTunables {
    /// Sets `config` from these values (TLS is [`super::tls`]'s).
    pub fn apply(&self, config: &mut platform::PlatformConfig) {
        config.multiple_login = self.multiple_login;
        config.access_token_ttl = self.access_token_max_age;
        config.refresh_token_ttl = self.refresh_token_max_age;
        config.kubeconfig_token_ttl = self.kubeconfig_token_max_age;
        config.login_record_ttl = self.login_record_max_age;
        config.lockout_threshold = self.lockout_threshold as usize;
        config.lockout_window = self.lockout_window;
        config.lockout_duration = self.lockout_duration;
        config.login_burst = self.login_burst;
        config.login_rate = self.login_rate;
        config.hash_cost = platform::password::HashCost {
            memory_kib: self.password_hash_memory,
            iterations: self.password_hash_iterations,
        };
        config.oauth_clients = self.oauth_client.clone();
        config.lease_duration = self.lease_duration;
        config.lease_retry = self.lease_retry_period;
        config.identity = self.leader_identity.clone();
        config.advertise_url = self.advertise_url.clone();
        // Upgrade tests run one build as another version (docs/deploy.md, "Upgrading"); not a
        // setting, so no flag or key.
        if let Ok(v) = std::env::var("ORRERY_TEST_REPORTED_VERSION") {
            config.version = v;
        }
        config.resync_period = self.resync_period;
        config.prune_period = self.prune_period;
        config.clusters.host_name = self.host_cluster_name.clone();
        config.clusters.health_period = self.health_check_period;
        config.clusters.health_timeout = self.health_check_timeout;
        config.clusters.backoff_max = self.health_check_backoff_max;
        config.clusters.proxy_timeout = self.cluster_proxy_timeout;
        config.fairness.concurrency = self.fairness_concurrency as usize;
        config.fairness.queue = self.fairness_queue as usize;
        config.fairness.max_wait = self.fairness_max_wait;
        config.monitoring.interval = self.monitoring_interval;
        config.monitoring.retention_slots = self.monitoring_retention_samples;
        config.monitoring.limits.max_series = self.monitoring_max_series;
        config.monitoring.limits.max_points = self.monitoring_max_points;
        config.monitoring.limits.max_steps = self.monitoring_max_steps;
        config.monitoring.limits.timeout = self.monitoring_query_timeout;
        config.monitoring.prometheus_timeout = self.monitoring_prometheus_timeout;
        config.alerting.tick = self.alerting_tick;
        config.alerting.resolved_retention = self.alerting_resolved_retention;
        config.alerting.query_timeout = self.alerting_query_timeout;
        config.alerting.retry.attempts = self.alerting_notify_attempts;
        config.alerting.retry.initial_backoff = self.alerting_notify_initial_backoff;
        config.alerting.retry.max_backoff = self.alerting_notify_max_backoff;
        config.alerting.retry.timeout = self.alerting_notify_timeout;
        config.image_registry = self.extension_image_registry.clone();
    }

    /// Combinations no single flag can refuse.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.lease_retry_period < self.lease_duration,
            "the lease retry period ({:?}) must be shorter than the lease duration ({:?})",
            self.lease_retry_period,
            self.lease_duration
        );
        anyhow::ensure!(
            self.tls || self.tls_cert.is_none(),
            "--tls-cert is given but --tls=false turns HTTPS off; drop one of them"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_go_durations_or_seconds() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h30m"), Ok(Duration::from_secs(9000)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["0", "0s", "-1s", "-3", "soon", "", "1e400", "NaN", "10 m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_seconds("5m"), Ok(300.0));
    }

    #[test]
    fn an_advertised_url_is_scheme_host_and_port() {
        assert_eq!(
            parse_advertise_url("https://10.1.2.3:30880/").as_deref(),
            Ok("https://10.1.2.3:30880")
        );
        assert!(parse_advertise_url("http://[fd00::7]:30880").is_ok());
        for bad in [
            "10.1.2.3:30880",
            "https://",
            "https://h:1/path",
            "ftp://h",
            "https://u@h",
        ] {
            assert!(parse_advertise_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clients_are_id_and_secret() {
        assert_eq!(
            parse_client("ci:s:e"),
            Ok(("ci".to_string(), "s:e".to_string()))
        );
        for bad in ["ci", ":s", "ci:"] {
            assert!(parse_client(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_defaults_are_the_platforms() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            t: PlatformTunables,
        }
        let t = T::try_parse_from(["t"]).expect("defaults parse").t;
        let url: http::Uri = "https://127.0.0.1:1".parse().expect("uri");
        let reference = platform::PlatformConfig::new(kube::Config::new(url.clone()), "/d");
        let mut c = platform::PlatformConfig::new(kube::Config::new(url), "/d");
        t.apply(&mut c);
        assert_eq!(c.multiple_login, reference.multiple_login);
        assert_eq!(c.access_token_ttl, reference.access_token_ttl);
        assert_eq!(c.refresh_token_ttl, reference.refresh_token_ttl);
        assert_eq!(c.kubeconfig_token_ttl, reference.kubeconfig_token_ttl);
        assert_eq!(c.login_record_ttl, reference.login_record_ttl);
        assert_eq!(c.lockout_threshold, reference.lockout_threshold);
        assert_eq!(c.lockout_window, reference.lockout_window);
        assert_eq!(c.lockout_duration, reference.lockout_duration);
        assert_eq!(c.login_burst, reference.login_burst);
        assert_eq!(c.login_rate, reference.login_rate);
        assert_eq!(c.hash_cost.memory_kib, reference.hash_cost.memory_kib);
        assert_eq!(c.hash_cost.iterations, reference.hash_cost.iterations);
        assert_eq!(c.oauth_clients, reference.oauth_clients);
        assert_eq!(c.lease_duration, reference.lease_duration);
        assert_eq!(c.lease_retry, reference.lease_retry);
        assert_eq!(c.identity, reference.identity);
        assert_eq!(c.advertise_url, reference.advertise_url);
        assert_eq!(c.resync_period, reference.resync_period);
        assert_eq!(c.prune_period, reference.prune_period);
        assert_eq!(c.clusters.host_name, reference.clusters.host_name);
        assert_eq!(c.clusters.exec_allow, reference.clusters.exec_allow);
        assert_eq!(c.clusters.health_period, reference.clusters.health_period);
        assert_eq!(c.clusters.health_timeout, reference.clusters.health_timeout);
        assert_eq!(c.clusters.backoff_max, reference.clusters.backoff_max);
        assert_eq!(c.clusters.proxy_timeout, reference.clusters.proxy_timeout);
        assert_eq!(c.fairness.concurrency, reference.fairness.concurrency);
        assert_eq!(c.fairness.queue, reference.fairness.queue);
        assert_eq!(c.fairness.max_wait, reference.fairness.max_wait);
        let (m, r) = (&c.monitoring, &reference.monitoring);
        assert_eq!(m.interval, r.interval);
        assert_eq!(m.retention_slots, r.retention_slots);
        assert_eq!(m.limits.max_series, r.limits.max_series);
        assert_eq!(m.limits.max_points, r.limits.max_points);
        assert_eq!(m.limits.max_steps, r.limits.max_steps);
        assert_eq!(m.limits.timeout, r.limits.timeout);
        assert_eq!(m.prometheus_timeout, r.prometheus_timeout);
        let (a, r) = (&c.alerting, &reference.alerting);
        assert_eq!(a.tick, r.tick);
        assert_eq!(a.resolved_retention, r.resolved_retention);
        assert_eq!(a.query_timeout, r.query_timeout);
        assert_eq!(a.retry.attempts, r.retry.attempts);
        assert_eq!(a.retry.initial_backoff, r.retry.initial_backoff);
        assert_eq!(a.retry.max_backoff, r.retry.max_backoff);
        assert_eq!(a.retry.timeout, r.retry.timeout);
    }
}
