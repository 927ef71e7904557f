//! Delivery of notifications off the evaluation path: the evaluator hands each alert that needs
//! a notification to the [`Outbox`], which sends it to every Receiver that selects it (each in
//! its own task, retried with back-off, at most [`CONCURRENCY`] at once) and keeps the outcome
//! until the evaluator writes it into the alert. A slow or failing receiver never holds up
//! evaluation; an alert already being sent is not handed over again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use apimachinery::selector::LabelSelector;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use kube::Client;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::notify::{self, RetryPolicy, SmtpSettings, TlsMode};
use super::rules::Level;
use super::state::{Alert, Notice};
use crate::kinds::Kind;
use crate::tokens::SYSTEM_NAMESPACE;

/// Notifications sent at once.
pub const CONCURRENCY: usize = 8;

/// A rule group, wherever it lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupRef {
    /// The cluster the object lives in.
    pub cluster: String,
    /// Its level (with the namespace of a RuleGroup).
    pub level: Level,
    /// Its name.
    pub name: String,
}

/// One notification: which alert of which group, firing or resolved.
pub type Key = (GroupRef, String, Notice);

/// How a notification went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// When delivery finished (or was given up).
    pub at: DateTime<Utc>,
    /// What failed, per receiver (`None`: every receiver took it).
    pub error: Option<String>,
}

/// What deliveries need.
pub struct DeliveryContext {
    /// The host cluster (Receivers, Config, the SMTP password's Secret).
    pub host: Client,
    /// For webhooks.
    pub http: reqwest::Client,
    /// Retries.
    pub retry: RetryPolicy,
    /// The platform's URL (`externalURL`, `generatorURL`).
    pub external_url: String,
    /// Stops retries on shutdown.
    pub stop: CancellationToken,
}

/// Notifications in flight and finished.
#[derive(Default)]
pub struct Outbox {
    inflight: Mutex<HashSet<Key>>,
    done: Mutex<HashMap<Key, Outcome>>,
    permits: Option<Arc<Semaphore>>,
    /// Woken when a notification finishes, so that its outcome is recorded at once (the
    /// shorter the wait, the smaller the window in which a new leader would send it again).
    pub finished: tokio::sync::Notify,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Arc<Outbox> {
        Arc::new(Outbox {
            permits: Some(Arc::new(Semaphore::new(CONCURRENCY))),
            ..Default::default()
        })
    }

    /// Starts sending `alert` unless it is already being sent; returns whether it started.
    pub fn submit(self: &Arc<Self>, ctx: &Arc<DeliveryContext>, key: Key, alert: Alert) -> bool {
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            if inflight.contains(&key) || done.contains_key(&key) {
                return false;
            }
            inflight.insert(key.clone());
        }
        let (me, ctx, permits) = (self.clone(), ctx.clone(), self.permits.clone());
        tokio::spawn(async move {
            let _permit = match &permits {
                Some(p) => p.clone().acquire_owned().await.ok(),
                None => None,
            };
            let error = deliver(&ctx, &alert, key.2).await.err();
            if let Some(e) = &error {
                tracing::warn!(alert = %alert.rule_name, fingerprint = %alert.fingerprint, error = %e, "alert notification failed");
            }
            me.done.lock().unwrap_or_else(|e| e.into_inner()).insert(
                key.clone(),
                Outcome {
                    at: Utc::now(),
                    error,
                },
            );
            me.inflight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            me.finished.notify_one();
        });
        true
    }

    /// Whether notifications of `group` finished and wait to be recorded.
    pub fn has_done(&self, group: &GroupRef) -> bool {
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .any(|k| &k.0 == group)
    }

    /// Takes the finished notifications of `group`.
    pub fn take_done(&self, group: &GroupRef) -> Vec<(String, Notice, Outcome)> {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<Key> = done.keys().filter(|k| &k.0 == group).cloned().collect();
        keys.into_iter()
            .filter_map(|k| done.remove(&k).map(|o| (k.1, k.2, o)))
            .collect()
    }

    /// Puts back outcomes that could not be recorded (the status write failed).
    pub fn put_back(&self, group: &GroupRef, outcomes: Vec<(String, Notice, Outcome)>) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        for (fp, n, o) in outcomes {
            done.entry((group.clone(), fp, n)).or_insert(o);
        }
    }

    /// Forgets everything (leadership lost: the next leader reads the status).
    pub fn clear(&self) {
        self.done.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Records outcomes into alerts.
pub fn record(alerts: &mut [Alert], outcomes: &[(String, Notice, Outcome)]) {
    for (fp, notice, o) in outcomes {
        if let Some(a) = alerts.iter_mut().find(|a| &a.fingerprint == fp) {
            match notice {
                Notice::Firing => a.notified_firing = Some(o.at),
                Notice::Resolved => a.notified_resolved = Some(o.at),
            }
            a.notify_error = o.error.clone();
        }
    }
}

/// Whether a channel (`spec.webhook` or `spec.email` of a Receiver) takes an alert.
fn takes(channel: &Value, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    if channel.is_null() || channel["enabled"].as_bool() == Some(false) {
        return Ok(false);
    }
    match &channel["alertSelector"] {
        Value::Null => Ok(true),
        s => LabelSelector::from_label_selector_json(s)
            .map(|s| s.matches(labels))
            .map_err(|e| format!("alertSelector: {e}")),
    }
}

/// The SMTP settings of the first Config (by name) with `spec.email`.
async fn smtp_settings(host: &Client) -> Result<Option<SmtpSettings>, String> {
    let mut configs = list_notification(host, "configs").await?;
    configs.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    let Some(c) = configs.iter().find(|c| c["spec"]["email"].is_object()) else {
        return Ok(None);
    };
    let e = &c["spec"]["email"];
    let name = c["metadata"]["name"].as_str().unwrap_or_default();
    let host_name = e["smartHost"]["host"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let port = e["smartHost"]["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("Config {name}: spec.email.smartHost.port is not a port"))?;
    if host_name.is_empty() {
        return Err(format!(
            "Config {name}: spec.email.smartHost.host is required"
        ));
    }
    let tls = match e["tls"]["mode"].as_str() {
        None | Some("starttls") => TlsMode::StartTls,
        Some("tls") => TlsMode::Implicit,
        Some("none") => TlsMode::None,
        Some(other) => return Err(format!("Config {name}: unknown tls mode {other:?}")),
    };
    let auth = match e["authUsername"].as_str() {
        None | Some("") => None,
        Some(user) => {
            let r = &e["authPassword"]["valueFrom"]["secretKeyRef"];
            let ns = r["namespace"].as_str().unwrap_or(SYSTEM_NAMESPACE);
            let (secret, key) = (
                r["name"].as_str().unwrap_or_default(),
                r["key"].as_str().unwrap_or_default(),
            );
            let obj = crate::kubeapi::get(host, Kind::Secret, Some(ns), secret)
                .await
                .map_err(|e| format!("Config {name}: the password's Secret {ns}/{secret}: {e}"))?
                .ok_or_else(|| format!("Config {name}: Secret {ns}/{secret} not found"))?;
            let pw = obj["data"][key]
                .as_str()
                .and_then(|b| B64.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| format!("Config {name}: Secret {ns}/{secret} has no key {key:?}"))?;
            Some((user.to_string(), pw))
        }
    };
    Ok(Some(SmtpSettings {
        host: host_name,
        port,
        from: e["from"].as_str().unwrap_or_default().to_string(),
        auth,
        tls,
        root_ca: e["tls"]["rootCA"].as_str().map(str::to_string),
        hello: e["hello"].as_str().map(str::to_string),
    }))
}

/// Lists a cluster-scoped `notification.kubesphere.io/v2beta2` resource of the host.
pub async fn list_notification(host: &Client, plural: &str) -> Result<Vec<Value>, String> {
    super::evaluate::list_objects(host, crate::crds::NOTIFICATION, "v2beta2", plural, None)
        .await
        .map_err(|e| format!("listing {plural}: {e}"))
}

/// Sends one alert to every receiver that takes it; the error lists what failed.
async fn deliver(ctx: &DeliveryContext, alert: &Alert, notice: Notice) -> Result<(), String> {
    let receivers = list_notification(&ctx.host, "receivers").await?;
    let mut errors = Vec::new();
    let mut smtp: Option<Result<Option<SmtpSettings>, String>> = None;
    let mut sends = Vec::new();
    for r in &receivers {
        let name = r["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let webhook = &r["spec"]["webhook"];
        match takes(webhook, &alert.labels) {
            Ok(true) => {
                let url = webhook["url"].as_str().unwrap_or_default().to_string();
                let body = notify::webhook_payload(alert, notice, &name, &ctx.external_url);
                let (http, name) = (ctx.http.clone(), name.clone());
                sends.push(Box::pin(async move {
                    notify::with_retries(&ctx.retry, &ctx.stop, || {
                        notify::post_webhook(&http, &url, &body)
                    })
                    .await
                    .map_err(|e| format!("receiver {name} (webhook): {e}"))
                })
                    as futures::future::BoxFuture<'_, Result<(), String>>);
            }
            Ok(false) => {}
            Err(e) => errors.push(format!("receiver {name} (webhook): {e}")),
        }
        let email = &r["spec"]["email"];
        match takes(email, &alert.labels) {
            Ok(true) => {
                if smtp.is_none() {
                    smtp = Some(smtp_settings(&ctx.host).await);
                }
                let to: Vec<String> = email["to"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect();
                match smtp.as_ref() {
                    Some(Ok(Some(s))) if !to.is_empty() => {
                        let s = s.clone();
                        sends.push(Box::pin(async move {
                            notify::with_retries(&ctx.retry, &ctx.stop, || {
                                notify::send_email(&s, &to, alert, notice, ctx.retry.timeout)
                            })
                            .await
                            .map_err(|e| format!("receiver {name} (email): {e}"))
                        }));
                    }
                    Some(Ok(Some(_))) => errors.push(format!(
                        "receiver {name} (email): no address in spec.email.to"
                    )),
                    Some(Ok(None)) => errors.push(format!(
                        "receiver {name} (email): no Config has spec.email (the SMTP server)"
                    )),
                    Some(Err(e)) => errors.push(format!("receiver {name} (email): {e}")),
                    None => {}
                }
            }
            Ok(false) => {}
            Err(e) => errors.push(format!("receiver {name} (email): {e}")),
        }
    }
    for r in futures::future::join_all(sends).await {
        if let Err(e) = r {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channels_select_alerts() {
        let labels: BTreeMap<String, String> = [("severity".to_string(), "critical".to_string())]
            .into_iter()
            .collect();
        assert_eq!(takes(&json!({"url": "u"}), &labels), Ok(true));
        assert_eq!(takes(&Value::Null, &labels), Ok(false));
        assert_eq!(
            takes(&json!({"url": "u", "enabled": false}), &labels),
            Ok(false)
        );
        assert_eq!(
            takes(
                &json!({"alertSelector": {"matchLabels": {"severity": "warning"}}}),
                &labels
            ),
            Ok(false)
        );
        assert_eq!(
            takes(
                &json!({"alertSelector": {"matchLabels": {"severity": "critical"}}}),
                &labels
            ),
            Ok(true)
        );
        assert!(
            takes(
                &json!({"alertSelector": {"matchExpressions": [{"key": "a", "operator": "Bad"}]}}),
                &labels
            )
            .is_err()
        );
    }

    #[test]
    fn outcomes_are_recorded_once() {
        let group = GroupRef {
            cluster: "host".into(),
            level: Level::Cluster,
            name: "g".into(),
        };
        let outbox = Outbox::default();
        let o = Outcome {
            at: Utc::now(),
            error: Some("receiver r (webhook): down".into()),
        };
        outbox.put_back(&group, vec![("fp".into(), Notice::Firing, o.clone())]);
        assert!(outbox.has_done(&group));
        let taken = outbox.take_done(&group);
        assert_eq!(taken.len(), 1);
        assert!(!outbox.has_done(&group));
        let t = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let mut alerts = vec![Alert {
            rule_name: "r".into(),
            cluster: "host".into(),
            fingerprint: "fp".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            state: super::super::state::AlertState::Firing,
            active_at: t,
            fired_at: Some(t),
            resolved_at: None,
            value: "1".into(),
            silenced: false,
            notified_firing: None,
            notified_resolved: None,
            notify_error: None,
        }];
        record(&mut alerts, &taken);
        assert_eq!(alerts[0].notified_firing, Some(o.at));
        assert_eq!(alerts[0].notify_error, o.error);
        assert_eq!(alerts[0].due_notice(), None);
    }
}
