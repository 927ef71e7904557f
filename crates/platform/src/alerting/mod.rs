//! Alerting: KubeSphere's `alerting.kubesphere.io/v2beta1` rule groups at the platform
//! (GlobalRuleGroup), cluster (ClusterRuleGroup) and project (RuleGroup) levels, evaluated by
//! the elected leader against the monitoring engine, with notifications
//! (`notification.kubesphere.io/v2beta2` Receivers: webhook and e-mail) and Silences.
//!
//! Start with [`evaluate::run`]: each pass lists the rule groups of every connected cluster,
//! evaluates those whose interval has passed ([`rules`] parses them, [`state`] moves each alert
//! through inactive → pending → firing → resolved, [`template`] expands annotations), and keeps
//! the alerts in the rule group's `status` — the only copy, so that a new leader carries on
//! where the old one stopped and does not notify again what was already sent. Notifications
//! ([`notify`]) are delivered off the evaluation path with bounded retries; their outcome is
//! written back into the alert. [`api`] lists alerts at the three levels.

pub mod admission;
pub mod api;
pub mod delivery;
pub mod evaluate;
pub mod fingerprint;
pub mod notify;
pub mod rules;
pub mod silences;
pub mod state;
pub mod template;

use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;

use crate::http::ApiError;

pub use crate::monitoring::Sample;

/// Where rule expressions are evaluated: the monitoring engine (`crate::monitoring`), which
/// answers PromQL from a cluster's Prometheus or the in-process store.
pub trait QuerySource: Send + Sync {
    /// Evaluates `expr` at `at` against cluster `cluster`; with `confine`, every selector is
    /// confined to that namespace (as prom-label-proxy does).
    fn instant<'a>(
        &'a self,
        cluster: &'a str,
        expr: &'a str,
        at: SystemTime,
        confine: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Sample>, ApiError>>;
}

/// Timings of evaluation and delivery.
#[derive(Debug, Clone, Copy)]
pub struct AlertingSettings {
    /// How often the leader looks for rule groups whose interval has passed.
    pub tick: Duration,
    /// How a notification is retried.
    pub retry: notify::RetryPolicy,
    /// How long a resolved alert stays listed (as `inactive`).
    pub resolved_retention: Duration,
    /// How long one rule's query may take (then the rule's alerts stay as they were and the
    /// group's `status.evaluationError` says so).
    pub query_timeout: Duration,
}

impl Default for AlertingSettings {
    fn default() -> AlertingSettings {
        AlertingSettings {
            tick: Duration::from_secs(1),
            retry: notify::RetryPolicy::default(),
            resolved_retention: Duration::from_secs(15 * 60),
            query_timeout: Duration::from_secs(30),
        }
    }
}

impl QuerySource for crate::monitoring::Monitoring {
    fn instant<'a>(
        &'a self,
        cluster: &'a str,
        expr: &'a str,
        at: SystemTime,
        confine: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Sample>, ApiError>> {
        Box::pin(crate::monitoring::Monitoring::instant(
            self, cluster, expr, at, confine,
        ))
    }
}
