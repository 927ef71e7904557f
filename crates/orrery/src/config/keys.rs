//! The configuration file's keys: each names one flag of `orrery serve` (clap's argument id),
//! so a key, its flag and its `ORRERY_*` variable always mean the same thing and are parsed by
//! the same code. The table is the one list of tunables; `docs/configuration.md` follows it (a
//! test checks that every key is documented).

/// How a value is shown by `orrery config print`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// Shown as it is.
    Plain,
    /// A secret: never shown.
    Whole,
    /// A URL whose user information (`user:password@`) is hidden.
    UrlUserinfo,
    /// `ID:SECRET` pairs whose secret is hidden.
    AfterColon,
}

/// One key of the file.
#[derive(Debug)]
pub struct Key {
    /// Dotted path in the file (`authentication.lockout.threshold`).
    pub path: &'static str,
    /// The clap argument id of the flag (the field name in `ServeArgs` and what it flattens).
    pub arg: &'static str,
    /// How `config print` shows it.
    pub mask: Mask,
}

const fn key(path: &'static str, arg: &'static str) -> Key {
    Key {
        path,
        arg,
        mask: Mask::Plain,
    }
}

const fn secret(path: &'static str, arg: &'static str, mask: Mask) -> Key {
    Key { path, arg, mask }
}

/// Every key, in the order `config print` shows them; a section's keys are contiguous.
pub const KEYS: &[Key] = &[
    key("dataDir", "data_dir"),
    key("listen", "listen"),
    key("kubeListen", "kube_listen"),
    key("kubeconfig", "kubeconfig"),
    key("hostCluster", "host_cluster"),
    secret("adminPassword", "admin_password", Mask::Whole),
    secret("publicURL", "public_url", Mask::UrlUserinfo),
    key("trustedProxies", "trusted_proxies"),
    key("requestHeaderTimeout", "request_header_timeout"),
    key("log.level", "log"),
    key("log.json", "log_json"),
    key("tls.enabled", "tls"),
    key("tls.certFile", "tls_cert"),
    key("tls.keyFile", "tls_key"),
    key("authentication.multipleLogin", "multiple_login"),
    key("authentication.accessTokenMaxAge", "access_token_max_age"),
    key("authentication.refreshTokenMaxAge", "refresh_token_max_age"),
    key(
        "authentication.kubeconfigTokenMaxAge",
        "kubeconfig_token_max_age",
    ),
    key("authentication.loginRecordMaxAge", "login_record_max_age"),
    key("authentication.lockout.threshold", "lockout_threshold"),
    key("authentication.lockout.window", "lockout_window"),
    key("authentication.lockout.duration", "lockout_duration"),
    key("authentication.loginRateLimit.burst", "login_burst"),
    key("authentication.loginRateLimit.perSecond", "login_rate"),
    key(
        "authentication.passwordHash.memoryKiB",
        "password_hash_memory",
    ),
    key(
        "authentication.passwordHash.iterations",
        "password_hash_iterations",
    ),
    secret(
        "authentication.oauthClients",
        "oauth_client",
        Mask::AfterColon,
    ),
    key("leaderElection.leaseDuration", "lease_duration"),
    key("leaderElection.retryPeriod", "lease_retry_period"),
    key("leaderElection.identity", "leader_identity"),
    key("advertiseURL", "advertise_url"),
    key("controllers.resyncPeriod", "resync_period"),
    key("controllers.prunePeriod", "prune_period"),
    key("clusters.hostName", "host_cluster_name"),
    key("clusters.execPluginAllow", "exec_plugin_allow"),
    key("clusters.healthCheckPeriod", "health_check_period"),
    key("clusters.healthCheckTimeout", "health_check_timeout"),
    key("clusters.healthCheckBackoffMax", "health_check_backoff_max"),
    key("clusters.proxyTimeout", "cluster_proxy_timeout"),
    key("fairness.concurrency", "fairness_concurrency"),
    key("fairness.queue", "fairness_queue"),
    key("fairness.maxWait", "fairness_max_wait"),
    key("monitoring.interval", "monitoring_interval"),
    key(
        "monitoring.retentionSamples",
        "monitoring_retention_samples",
    ),
    key("monitoring.maxSeries", "monitoring_max_series"),
    key("monitoring.maxPoints", "monitoring_max_points"),
    key("monitoring.maxSteps", "monitoring_max_steps"),
    key("monitoring.queryTimeout", "monitoring_query_timeout"),
    key(
        "monitoring.prometheusTimeout",
        "monitoring_prometheus_timeout",
    ),
    key("alerting.evaluationTick", "alerting_tick"),
    key("alerting.resolvedRetention", "alerting_resolved_retention"),
    key("alerting.queryTimeout", "alerting_query_timeout"),
    key("alerting.notification.attempts", "alerting_notify_attempts"),
    key(
        "alerting.notification.initialBackoff",
        "alerting_notify_initial_backoff",
    ),
    key(
        "alerting.notification.maxBackoff",
        "alerting_notify_max_backoff",
    ),
    key("alerting.notification.timeout", "alerting_notify_timeout"),
    key("extensions.imageRegistry", "extension_image_registry"),
    key("audit.level", "audit_level"),
    key("audit.readLevel", "audit_read_level"),
    key("audit.logPath", "audit_log_path"),
    key("audit.logMaxSize", "audit_log_maxsize"),
    key("audit.logMaxBackup", "audit_log_maxbackup"),
    secret("audit.webhookURL", "audit_webhook_url", Mask::UrlUserinfo),
    key("audit.webhookBatchMaxSize", "audit_webhook_batch_max_size"),
    key("audit.webhookBatchMaxWait", "audit_webhook_batch_max_wait"),
    key("kubernetes.bookmarkInterval", "bookmark_interval"),
    key("kubernetes.compactionInterval", "compaction_interval"),
    key("kubernetes.retainRevisions", "retain_revisions"),
    key("kubernetes.serviceCIDR", "service_cidr"),
    key(
        "kubernetes.encryptionProviderConfig",
        "encryption_provider_config",
    ),
    key("kubernetes.encryptionRewrite", "encryption_rewrite"),
    key("sim.nodes", "nodes"),
    key("sim.timeScale", "sim_time_scale"),
    key("sim.seed", "seed"),
];

/// The key at `path`.
pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// Whether `path` is a section (a prefix of some key's path).
pub fn is_section(path: &str) -> bool {
    KEYS.iter().any(|k| {
        k.path
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The names directly under `section` ("" for the top level), in table order.
pub fn children(section: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KEYS {
        let rest = if section.is_empty() {
            Some(k.path)
        } else {
            k.path
                .strip_prefix(section)
                .and_then(|r| r.strip_prefix('.'))
        };
        if let Some(rest) = rest {
            let name = rest.split('.').next().unwrap_or(rest);
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_args_are_unique_and_sections_contiguous() {
        let mut paths = std::collections::HashSet::new();
        let mut args = std::collections::HashSet::new();
        for k in KEYS {
            assert!(paths.insert(k.path), "{} twice", k.path);
            assert!(args.insert(k.arg), "{} twice", k.arg);
            assert!(
                !is_section(k.path),
                "{} is both a key and a section",
                k.path
            );
        }
        // Once a section is left it never comes back, so `config print` can nest by prefix.
        let mut closed: Vec<String> = Vec::new();
        let mut open: Vec<String> = Vec::new();
        for k in KEYS {
            let parts: Vec<&str> = k.path.split('.').collect();
            let sections: Vec<String> = (1..parts.len()).map(|i| parts[..i].join(".")).collect();
            for s in open.drain(..) {
                if !sections.contains(&s) {
                    closed.push(s);
                }
            }
            for s in &sections {
                assert!(!closed.contains(s), "section {s} is split");
            }
            open = sections;
        }
    }

    #[test]
    fn children_follow_the_table() {
        assert_eq!(
            children("authentication.lockout"),
            ["threshold", "window", "duration"]
        );
        assert!(children("").contains(&"authentication"));
        assert!(children("").contains(&"listen"));
        assert!(is_section("alerting.notification"));
        assert!(!is_section("alerting.notif"));
    }
}
