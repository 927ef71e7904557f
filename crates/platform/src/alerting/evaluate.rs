//! The leader's evaluation loop: every tick, each rule group whose interval has passed (by its
//! `status.lastEvaluation`, so a new leader keeps the rhythm) is evaluated and its alerts,
//! silences and notification outcomes written back into its `status` in one merge patch.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::delivery::{self, DeliveryContext, GroupRef, Outbox};
use super::rules::{self, Level};
use super::silences::{self, Silence};
use super::state::{self, Alert, Context};
use super::{AlertingSettings, QuerySource};
use crate::error::PlatformError;
use crate::http::ApiError;
use crate::http::Shared;
use crate::kubeapi::timed;

/// The version of the rule group kinds.
pub const VERSION: &str = "v2beta1";

fn resource(group: &str, version: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: String::new(),
        plural: plural.into(),
    }
}

/// Lists a custom resource: in `ns`, or cluster-wide (every namespace, or cluster-scoped).
pub async fn list_objects(
    client: &Client,
    group: &str,
    version: &str,
    plural: &str,
    ns: Option<&str>,
) -> Result<Vec<Value>, PlatformError> {
    let ar = resource(group, version, plural);
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let list = timed("list", api.list(&ListParams::default())).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect())
}

/// Lists the rule groups of one level in a cluster (`Level::Namespace("")`: every project's).
pub async fn list_groups(
    client: &Client,
    level: &Level,
) -> Result<Vec<(Level, Value)>, PlatformError> {
    let ns = level.namespace().filter(|n| !n.is_empty());
    let objs = list_objects(client, crate::crds::ALERTING, VERSION, level.plural(), ns).await?;
    Ok(objs
        .into_iter()
        .map(|o| {
            let l = match level {
                Level::Namespace(_) => Level::Namespace(
                    o["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .into(),
                ),
                other => other.clone(),
            };
            (l, o)
        })
        .collect())
}

async fn patch_status(
    client: &Client,
    level: &Level,
    name: &str,
    status: Value,
) -> Result<(), PlatformError> {
    let ar = resource(crate::crds::ALERTING, VERSION, level.plural());
    let api: Api<DynamicObject> = match level.namespace() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let patch = json!({ "status": status });
    timed(
        "patch status",
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)),
    )
    .await
    .map(|_| ())
}

fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The alerts kept in the status of rule group `obj` at `level` in cluster `cluster`. A status
/// can be written by whoever may write the group's status subresource, so an entry counts only
/// if it could have come from this group: its labels name this group, its rule and its cluster
/// (the group's own, but for a global group), its project for a RuleGroup, and its fingerprint
/// is theirs. Anything else is dropped — never listed, never notified.
pub fn alerts_of(obj: &Value, level: &Level, cluster: &str) -> Vec<Alert> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    obj["status"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| serde_json::from_value::<Alert>(a.clone()).ok())
        .filter(|a| {
            let label = |k: &str| a.labels.get(k).map(String::as_str);
            label("rule_group") == Some(name)
                && label("alertname") == Some(a.rule_name.as_str())
                && label("cluster") == Some(a.cluster.as_str())
                && (*level == Level::Global || a.cluster == cluster)
                && level
                    .namespace()
                    .is_none_or(|ns| label("namespace") == Some(ns))
                && super::fingerprint::of(&a.labels) == a.fingerprint
        })
        .collect()
}

/// What one pass shares between the groups it looks at.
#[derive(Clone, Copy)]
struct Pass<'a> {
    now: DateTime<Utc>,
    silences: &'a [Silence],
    ready: &'a [String],
    record_only: bool,
}

/// One leader's evaluator.
struct Evaluator {
    state: Shared,
    source: Arc<dyn QuerySource>,
    settings: AlertingSettings,
    outbox: Arc<Outbox>,
    delivery: Arc<DeliveryContext>,
}

/// Evaluates rule groups while this replica leads, until `shutdown`.
pub async fn run(
    state: Shared,
    source: Arc<dyn QuerySource>,
    mut leader: watch::Receiver<bool>,
    settings: AlertingSettings,
    shutdown: CancellationToken,
) {
    let http = match reqwest::Client::builder()
        .timeout(settings.retry.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "alerting: no HTTP client for webhooks");
            return;
        }
    };
    let ev = Evaluator {
        delivery: Arc::new(DeliveryContext {
            host: state.client.clone(),
            http,
            retry: settings.retry,
            external_url: state.settings.public_url.clone(),
            stop: shutdown.clone(),
        }),
        state,
        source,
        settings,
        outbox: Outbox::new(),
    };
    let mut next_pass = tokio::time::Instant::now();
    loop {
        let leading = *leader.borrow_and_update();
        if !leading {
            ev.outbox.clear();
        } else if tokio::time::Instant::now() >= next_pass {
            next_pass = tokio::time::Instant::now() + ev.settings.tick;
            ev.pass(false).await;
        } else {
            // Woken by a finished notification: record it now, evaluate at the tick.
            ev.pass(true).await;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                if *leader.borrow() {
                    // Record what was sent before the lease goes, so the next leader does not
                    // send it again (bounded: shutdown must not hang on a slow cluster).
                    let _ = tokio::time::timeout(FLUSH_TIMEOUT, ev.pass(true)).await;
                }
                return;
            }
            changed = leader.changed() => {
                if changed.is_err() {
                    // Leader election has ended: only shutdown is left to wait for.
                    shutdown.cancelled().await;
                    return;
                }
            }
            _ = ev.outbox.finished.notified() => {}
            // Only the leader evaluates: a follower's `next_pass` is not moved on, and
            // sleeping until it would return at once, forever (a busy loop on every follower).
            _ = tokio::time::sleep_until(next_pass), if leading => {}
        }
    }
}

/// Rule groups evaluated at once.
const GROUPS_AT_ONCE: usize = 4;

/// How long a stopping leader may take to record finished notifications.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Evaluator {
    /// Looks at every rule group; with `record_only`, only records finished notifications
    /// (no evaluation, nothing new sent).
    async fn pass(&self, record_only: bool) {
        let now = Utc::now();
        let host = self.state.clusters.settings.host_name.clone();
        let silences = match delivery::list_notification(&self.state.client, "silences").await {
            Ok(objs) => {
                let (ok, bad) = silences::parse_all(&objs);
                for (name, e) in bad {
                    tracing::debug!(silence = %name, error = %e, "invalid silence ignored");
                }
                ok
            }
            Err(e) => {
                // Without silences nothing may be sent that one would stop: skip this pass.
                tracing::warn!(error = %e, "alerting: silences unavailable");
                return;
            }
        };
        let mut members: Vec<_> = self
            .state
            .clusters
            .all()
            .into_iter()
            .filter(|m| m.is_ready())
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let ready: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        let pass = Pass {
            now,
            silences: &silences,
            ready: &ready,
            record_only,
        };
        let mut work = Vec::new();
        for m in &members {
            let mut levels = vec![Level::Cluster, Level::Namespace(String::new())];
            if m.name == host {
                levels.insert(0, Level::Global);
            }
            for level in levels {
                let groups = match list_groups(&m.client, &level).await {
                    Ok(g) => g,
                    Err(e) => {
                        tracing::debug!(cluster = %m.name, kind = level.plural(), error = %e, "alerting: listing rule groups");
                        continue;
                    }
                };
                for (level, obj) in groups {
                    let gref = GroupRef {
                        cluster: m.name.clone(),
                        level,
                        name: obj["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    };
                    if record_only && !self.outbox.has_done(&gref) {
                        continue;
                    }
                    work.push((m.client.clone(), gref, obj));
                }
            }
        }
        // A few groups at once, so that one slow source does not hold up every other group.
        futures::stream::iter(work)
            .for_each_concurrent(GROUPS_AT_ONCE, |(client, gref, obj)| {
                let pass = &pass;
                async move { self.group(&client, gref, &obj, pass).await }
            })
            .await;
    }

    /// Evaluates one group if its interval has passed, records finished notifications, and
    /// hands over the notifications its alerts need.
    async fn group(&self, client: &Client, gref: GroupRef, obj: &Value, pass: &Pass<'_>) {
        let Pass {
            now,
            silences,
            ready,
            record_only,
        } = *pass;
        let status = &obj["status"];
        let spec = rules::parse_group(obj);
        let interval = spec
            .as_ref()
            .map_or(rules::DEFAULT_INTERVAL, |g| g.interval);
        // Half a tick of slack, so that a group is not pushed a whole tick late every time.
        let interval = chrono::Duration::from_std(interval.saturating_sub(self.settings.tick / 2))
            .unwrap_or(chrono::Duration::MAX);
        let due =
            !record_only && time_of(&status["lastEvaluation"]).is_none_or(|t| now - t >= interval);
        if !due && !self.outbox.has_done(&gref) {
            return;
        }
        let outcomes = self.outbox.take_done(&gref);
        let mut alerts = alerts_of(obj, &gref.level, &gref.cluster);
        let mut next_status = status.as_object().cloned().unwrap_or_default();
        if due {
            next_status.insert(
                "lastEvaluation".into(),
                now.to_rfc3339_opts(SecondsFormat::Secs, true).into(),
            );
            match spec {
                Err(e) => {
                    next_status.insert("evaluationError".into(), e.into());
                }
                Ok(g) => {
                    let (kept, errors) = self.evaluate(&gref, &g, alerts, now, ready).await;
                    alerts = kept;
                    next_status.insert(
                        "evaluationError".into(),
                        if errors.is_empty() {
                            Value::Null
                        } else {
                            errors.join("; ").into()
                        },
                    );
                }
            }
        }
        delivery::record(&mut alerts, &outcomes);
        for a in &mut alerts {
            a.silenced = silences::is_silenced(silences, &a.labels, now);
        }
        for a in alerts.iter().filter(|_| !record_only) {
            if let Some(n) = a.due_notice() {
                let key = (gref.clone(), a.fingerprint.clone(), n);
                self.outbox.submit(&self.delivery, key, a.clone());
            }
        }
        next_status.insert(
            "alerts".into(),
            serde_json::to_value(&alerts).unwrap_or_else(|_| json!([])),
        );
        let next = Value::Object(next_status);
        if &next == status {
            return;
        }
        if let Err(e) = patch_status(client, &gref.level, &gref.name, next).await
            && !crate::kubeapi::is_not_found(&e)
        {
            tracing::warn!(cluster = %gref.cluster, group = %gref.name, error = %e, "alerting: writing status");
            self.outbox.put_back(&gref, outcomes);
        }
    }

    /// Runs every enabled rule of a group; alerts of rules that are gone or disabled are
    /// retired, those of a cluster that could not be asked are kept as they were.
    async fn evaluate(
        &self,
        gref: &GroupRef,
        g: &rules::Group,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
        ready: &[String],
    ) -> (Vec<Alert>, Vec<String>) {
        let mut by_rule: BTreeMap<(String, String), Vec<Alert>> = BTreeMap::new();
        for a in alerts {
            by_rule
                .entry((a.rule_name.clone(), a.cluster.clone()))
                .or_default()
                .push(a);
        }
        let clusters: Vec<String> = match gref.level {
            Level::Global => ready.to_vec(),
            _ => vec![gref.cluster.clone()],
        };
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for rule in g.rules.iter().filter(|r| !r.disabled) {
            for c in &clusters {
                let prev = by_rule
                    .remove(&(rule.name.clone(), c.clone()))
                    .unwrap_or_default();
                let ctx = Context {
                    rule,
                    group: &gref.name,
                    cluster: c,
                    namespace: gref.level.namespace(),
                    now,
                    retention: self.settings.resolved_retention,
                };
                let at = std::time::SystemTime::from(now);
                let query = self
                    .source
                    .instant(c, &rule.expr, at, gref.level.namespace());
                let answer = tokio::time::timeout(self.settings.query_timeout, query)
                    .await
                    .unwrap_or_else(|_| {
                        Err(ApiError::new(
                            504,
                            "Timeout",
                            format!(
                                "no answer within {}s",
                                self.settings.query_timeout.as_secs_f64()
                            ),
                        ))
                    });
                match answer {
                    Ok(samples) if samples.len() > state::MAX_ALERTS_PER_RULE => {
                        // As Prometheus' rule `limit`: an error, not a truncated set (the
                        // alerts stay as they were, so nothing flaps).
                        errors.push(format!(
                            "rule {} in cluster {c}: {} series, more than the {} alerts a rule may have",
                            rule.name,
                            samples.len(),
                            state::MAX_ALERTS_PER_RULE
                        ));
                        out.extend(prev);
                    }
                    Ok(samples) => out.extend(state::step(&ctx, prev, &samples)),
                    Err(e) => {
                        errors.push(format!("rule {} in cluster {c}: {}", rule.name, e.message));
                        out.extend(prev);
                    }
                }
            }
        }
        for ((rule, cluster), rest) in by_rule {
            let evaluated_rule = g.rules.iter().any(|r| r.name == rule && !r.disabled);
            if evaluated_rule && !clusters.contains(&cluster) && gref.level == Level::Global {
                // A cluster not ready now: its alerts wait for it.
                out.extend(rest);
            } else {
                out.extend(state::retire(rest, now, self.settings.resolved_retention));
            }
        }
        out.sort_by(|a, b| {
            (&a.rule_name, &a.cluster, &a.fingerprint).cmp(&(
                &b.rule_name,
                &b.cluster,
                &b.fingerprint,
            ))
        });
        (out, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_alerts_this_group_could_have_made_are_read() {
        let labels = |ns: &str, group: &str| -> std::collections::BTreeMap<String, String> {
            [
                ("alertname", "A"),
                ("rule_group", group),
                ("cluster", "host"),
                ("namespace", ns),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let alert = |l: std::collections::BTreeMap<String, String>, fp: Option<&str>| {
            json!({"ruleName": "A", "cluster": "host",
                "fingerprint": fp.map(str::to_string).unwrap_or_else(|| super::super::fingerprint::of(&l)),
                "labels": l, "state": "firing", "activeAt": "2026-01-01T00:00:00Z", "value": "1"})
        };
        let obj = json!({"metadata": {"name": "g", "namespace": "p"}, "status": {"alerts": [
            alert(labels("p", "g"), None),
            alert(labels("victim", "g"), None),
            alert(labels("p", "other-group"), None),
            alert(labels("p", "g"), Some("0000000000000000")),
            {"not": "an alert"}
        ]}});
        let level = Level::Namespace("p".into());
        let read = alerts_of(&obj, &level, "host");
        assert_eq!(read.len(), 1, "{read:?}");
        assert_eq!(read[0].labels["namespace"], "p");
        assert!(
            alerts_of(&obj, &level, "m1").is_empty(),
            "another cluster's group"
        );
    }
}
