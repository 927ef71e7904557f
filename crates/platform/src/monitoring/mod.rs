//! Monitoring in the platform, per cluster (docs/observability.md, "Monitoring").
//!
//! Two sources answer the same PromQL: a cluster's own Prometheus when its Cluster object names
//! one ([`prometheus`]), otherwise the in-process [`store`] that the elected leader fills by
//! sampling `metrics.k8s.io` and the cluster's pods ([`sampler`]) and shares with the other
//! replicas through host ConfigMaps ([`share`]). Queries are evaluated by [`engine`] (a subset
//! of PromQL, parsed by `promql-parser`); tenants' queries are confined to a namespace on both
//! sources. [`dashboards`] are KubeSphere's `monitoring.kubesphere.io/v1alpha3` metrics built
//! as PromQL templates over these series, served by [`routes`].

pub mod dashboards;
pub mod engine;
pub mod prometheus;
pub mod routes;
pub mod sampler;
pub mod share;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apimachinery::status::ApiError;

use crate::cache::Caches;
use engine::{Limits, QueryError, QueryValue};
use store::Store;

/// One series' value at one time (an instant query's answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its labels (`__name__` included when the expression keeps it).
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Monitoring settings.
#[derive(Debug, Clone, Copy)]
pub struct MonitoringSettings {
    /// Time between samples of the in-process store (its grid step).
    pub interval: Duration,
    /// Samples kept per series (a day of minutes by default).
    pub retention_slots: u32,
    /// Bounds on one query.
    pub limits: Limits,
    /// How long a Prometheus may take to answer.
    pub prometheus_timeout: Duration,
}

impl Default for MonitoringSettings {
    fn default() -> MonitoringSettings {
        MonitoringSettings {
            interval: Duration::from_secs(60),
            retention_slots: 1440,
            limits: Limits::default(),
            prometheus_timeout: Duration::from_secs(30),
        }
    }
}

/// A range: start, end and step.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// First step.
    pub start: SystemTime,
    /// Last step (inclusive).
    pub end: SystemTime,
    /// Step.
    pub step: Duration,
}

/// The platform's monitoring: the in-process stores per cluster and the query entry points.
pub struct Monitoring {
    settings: MonitoringSettings,
    stores: RwLock<HashMap<String, Arc<RwLock<Store>>>>,
    /// Host caches (Cluster objects, where a Prometheus is configured).
    caches: Arc<Caches>,
    client: kube::Client,
    /// Per cluster, the digest of the copy last published (leader) or loaded (follower).
    shared: std::sync::Mutex<HashMap<String, String>>,
}

/// Milliseconds since the epoch.
pub fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The HTTP error of a failed query: bad or unsupported PromQL is 400 (naming the construct),
/// too much work 422, a timeout 503.
pub fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Parse(_) | QueryError::Unsupported(_) | QueryError::Invalid(_) => {
            ApiError::new(400, "BadRequest", e.to_string())
        }
        QueryError::TooLarge(_) => ApiError::new(422, "Invalid", e.to_string()),
        QueryError::Timeout(_) => ApiError::new(503, "ServiceUnavailable", e.to_string()),
    }
}

impl Monitoring {
    /// Monitoring over the host's caches and client.
    pub fn new(
        client: kube::Client,
        caches: Arc<Caches>,
        settings: MonitoringSettings,
    ) -> Monitoring {
        Monitoring {
            settings,
            stores: RwLock::new(HashMap::new()),
            caches,
            client,
            shared: Default::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &MonitoringSettings {
        &self.settings
    }

    /// The host client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The in-process store of a cluster (created empty on first use).
    pub fn store(&self, cluster: &str) -> Arc<RwLock<Store>> {
        if let Ok(stores) = self.stores.read()
            && let Some(s) = stores.get(cluster)
        {
            return s.clone();
        }
        let mut stores = self.stores.write().unwrap_or_else(|p| p.into_inner());
        stores
            .entry(cluster.to_string())
            .or_insert_with(|| {
                Arc::new(RwLock::new(Store::new(
                    self.settings.interval,
                    self.settings.retention_slots,
                )))
            })
            .clone()
    }

    /// Replaces a cluster's store (a follower loading the leader's copy).
    pub fn replace_store(&self, cluster: &str, store: Store) {
        let slot = self.store(cluster);
        let mut s = slot.write().unwrap_or_else(|p| p.into_inner());
        *s = store;
    }

    /// The digest of the shared copy this replica last published or loaded for a cluster.
    pub fn shared_digest(&self, cluster: &str) -> Option<String> {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(cluster)
            .cloned()
    }

    /// Records the digest of the shared copy published or loaded for a cluster.
    pub fn set_shared_digest(&self, cluster: &str, digest: String) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cluster.to_string(), digest);
    }

    /// The clusters that have a store.
    pub fn store_clusters(&self) -> Vec<String> {
        self.stores
            .read()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The Prometheus configured for a cluster, if any.
    pub fn prometheus_of(&self, cluster: &str) -> Option<prometheus::PrometheusConfig> {
        let obj = self.caches.clusters.get(cluster)?;
        prometheus::PrometheusConfig::from_cluster(&obj.obj)
    }

    /// Which source answers a cluster's queries: `"prometheus"` or `"store"`.
    pub fn source_of(&self, cluster: &str) -> &'static str {
        if self.prometheus_of(cluster).is_some() {
            "prometheus"
        } else {
            "store"
        }
    }

    /// Evaluates `expr` at `at` on a cluster's source, confined to a namespace when given.
    pub async fn instant(
        &self,
        cluster: &str,
        expr: &str,
        at: SystemTime,
        confine: Option<&str>,
    ) -> Result<Vec<Sample>, ApiError> {
        match self.query(cluster, expr, At::Instant(at), confine).await? {
            QueryValue::Vector(v) => Ok(v
                .into_iter()
                .map(|(labels, value)| Sample { labels, value })
                .collect()),
            QueryValue::Scalar(value) => Ok(vec![Sample {
                labels: BTreeMap::new(),
                value,
            }]),
            QueryValue::Matrix(_) | QueryValue::String(_) => Err(ApiError::new(
                400,
                "BadRequest",
                "the expression is not an instant vector or scalar",
            )),
        }
    }

    /// Evaluates `expr` at one time or over a range on a cluster's source.
    pub async fn query(
        &self,
        cluster: &str,
        expr: &str,
        at: At,
        confine: Option<&str>,
    ) -> Result<QueryValue, ApiError> {
        let mut parsed = engine::parse(expr).map_err(query_error)?;
        if let Some(config) = self.prometheus_of(cluster) {
            if let Some(ns) = confine {
                engine::confine(&mut parsed, ns);
            }
            let client = config
                .client(&self.client, self.settings.prometheus_timeout)
                .await?;
            return prometheus::query(&client, &config, &parsed.to_string(), at).await;
        }
        let store = self.store(cluster);
        let limits = self.settings.limits;
        let confine = confine.map(str::to_string);
        let job = move || {
            let s = store.read().unwrap_or_else(|p| p.into_inner());
            match at {
                At::Instant(t) => {
                    engine::instant(&*s, &parsed, millis(t), limits, confine.as_deref())
                }
                At::Range(r) => engine::range(
                    &*s,
                    &parsed,
                    millis(r.start),
                    millis(r.end),
                    i64::try_from(r.step.as_millis()).unwrap_or(i64::MAX),
                    limits,
                    confine.as_deref(),
                ),
            }
        };
        // Evaluation is CPU work: off the async workers.
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| ApiError::new(500, "InternalError", format!("query task: {e}")))?
            .map_err(query_error)
    }
}

/// When a query is evaluated.
#[derive(Debug, Clone, Copy)]
pub enum At {
    /// At one time.
    Instant(SystemTime),
    /// At every step of a range.
    Range(Range),
}
