//! The life of an alert (pure): each series a rule's expression returns is an active alert,
//! `pending` until it has been active for the rule's `for`, then `firing`; when its series is
//! gone a firing alert is `inactive` (resolved) and a pending one is dropped, as Prometheus
//! does. Alerts are kept in the rule group's `status.alerts`, which is what makes the state
//! (and what was already notified) outlive the leader that computed it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Sample;
use super::rules::Rule;

/// The most alerts one rule may have in one cluster: they are all kept in the group's status
/// (an object of the API), so an expression returning more series is an evaluation error.
pub const MAX_ALERTS_PER_RULE: usize = 100;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Active for less than the rule's `for`.
    Pending,
    /// Active for at least the rule's `for`.
    Firing,
    /// Resolved: its series is gone (kept for a while, and until its resolution is sent).
    Inactive,
}

impl AlertState {
    /// The name used in the API and in `state=` filters.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Inactive => "inactive",
        }
    }
}

/// One alert as kept in a rule group's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The rule that made it.
    pub rule_name: String,
    /// The cluster its series came from.
    pub cluster: String,
    /// Alertmanager's fingerprint of its labels.
    pub fingerprint: String,
    /// Series labels + rule labels + alertname, severity, rule_group, cluster, namespace.
    pub labels: BTreeMap<String, String>,
    /// The rule's annotations, expanded for this alert.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Its state.
    pub state: AlertState,
    /// When it became active (pending).
    pub active_at: DateTime<Utc>,
    /// When it started firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The last value of its series.
    pub value: String,
    /// Whether a Silence matches it.
    #[serde(default)]
    pub silenced: bool,
    /// When its firing was notified (delivered, or given up on after the retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_firing: Option<DateTime<Utc>>,
    /// When its resolution was notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_resolved: Option<DateTime<Utc>>,
    /// What went wrong with the last notification, per receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_error: Option<String>,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Notice {
    /// The alert fires.
    Firing,
    /// The alert was resolved.
    Resolved,
}

impl Notice {
    /// Alertmanager's status word.
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Firing => "firing",
            Notice::Resolved => "resolved",
        }
    }
}

impl Alert {
    /// The notification this alert still needs, if any: a firing alert whose firing was not
    /// notified, a resolved one whose firing was and whose resolution was not — unless it is
    /// silenced.
    pub fn due_notice(&self) -> Option<Notice> {
        if self.silenced {
            return None;
        }
        match self.state {
            AlertState::Firing if self.notified_firing.is_none() => Some(Notice::Firing),
            AlertState::Inactive
                if self.notified_firing.is_some() && self.notified_resolved.is_none() =>
            {
                Some(Notice::Resolved)
            }
            _ => None,
        }
    }
}

/// What is the same for every alert of one evaluation of a rule.
pub struct Context<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// The rule group's name.
    pub group: &'a str,
    /// The cluster evaluated.
    pub cluster: &'a str,
    /// The project of a project-level group (forced into the labels).
    pub namespace: Option<&'a str>,
    /// The evaluation time.
    pub now: DateTime<Utc>,
    /// How long resolved alerts are kept.
    pub retention: Duration,
}

/// The labels of an alert for `series`: the series' labels without `__name__`, then the
/// rule's labels, then alertname, severity, rule_group, cluster and (project level) namespace,
/// which neither the series nor the rule can change.
pub fn alert_labels(
    ctx: &Context<'_>,
    series: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = series
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.extend(ctx.rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.insert("alertname".into(), ctx.rule.name.clone());
    if !ctx.rule.severity.is_empty() {
        labels.insert("severity".into(), ctx.rule.severity.clone());
    }
    labels.insert("rule_group".into(), ctx.group.to_string());
    labels.insert("cluster".into(), ctx.cluster.to_string());
    if let Some(ns) = ctx.namespace {
        labels.insert("namespace".into(), ns.to_string());
    }
    labels
}

/// Prometheus' formatting of a sample value (Go's `strconv.FormatFloat(v, 'f', -1, 64)`).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// One evaluation step of a rule in one cluster: `previous` are the rule's alerts from that
/// cluster as last kept, `samples` the expression's answer now. Returns the alerts to keep.
pub fn step(ctx: &Context<'_>, previous: Vec<Alert>, samples: &[Sample]) -> Vec<Alert> {
    let mut before: BTreeMap<String, Alert> = previous
        .into_iter()
        .map(|a| (a.fingerprint.clone(), a))
        .collect();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for s in samples {
        let labels = alert_labels(ctx, &s.labels);
        let fingerprint = super::fingerprint::of(&labels);
        if !seen.insert(fingerprint.clone()) {
            // Two series that differ only in labels the alert replaces are one alert.
            continue;
        }
        let annotations = super::template::expand_all(&ctx.rule.annotations, &labels, s.value);
        let mut alert = match before.remove(&fingerprint) {
            Some(a) if a.state != AlertState::Inactive => a,
            // New, or active again after a resolution: a new activation.
            _ => Alert {
                rule_name: ctx.rule.name.clone(),
                cluster: ctx.cluster.to_string(),
                fingerprint,
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                state: AlertState::Pending,
                active_at: ctx.now,
                fired_at: None,
                resolved_at: None,
                value: String::new(),
                silenced: false,
                notified_firing: None,
                notified_resolved: None,
                notify_error: None,
            },
        };
        alert.labels = labels;
        alert.annotations = annotations;
        alert.value = format_value(s.value);
        let for_ = chrono::Duration::from_std(ctx.rule.for_).unwrap_or(chrono::Duration::MAX);
        if alert.state == AlertState::Pending && ctx.now - alert.active_at >= for_ {
            alert.state = AlertState::Firing;
            alert.fired_at = Some(ctx.now);
        }
        out.push(alert);
    }
    out.extend(retire(
        before.into_values().collect(),
        ctx.now,
        ctx.retention,
    ));
    out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    out
}

/// Alerts whose series are gone (or whose rule is): pending ones are dropped, firing ones
/// resolved, resolved ones kept for `retention` and until their resolution is notified.
pub fn retire(alerts: Vec<Alert>, now: DateTime<Utc>, retention: Duration) -> Vec<Alert> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut out = Vec::new();
    for mut a in alerts {
        match a.state {
            AlertState::Pending => {}
            AlertState::Firing => {
                a.state = AlertState::Inactive;
                a.resolved_at = Some(now);
                out.push(a);
            }
            AlertState::Inactive => {
                let expired = a.resolved_at.is_none_or(|t| now - t >= retention);
                // A resolution still to be notified is kept until it is.
                if !expired || a.due_notice().is_some() {
                    out.push(a);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(for_secs: u64) -> Rule {
        Rule {
            name: "PodCrashing".into(),
            expr: "x > 0".into(),
            for_: Duration::from_secs(for_secs),
            severity: "warning".into(),
            labels: [("team".to_string(), "a".to_string())]
                .into_iter()
                .collect(),
            annotations: [(
                "summary".to_string(),
                "{{ $labels.pod }} at {{ $value }}".to_string(),
            )]
            .into_iter()
            .collect(),
            disabled: false,
        }
    }

    fn ctx(rule: &Rule, secs: i64) -> Context<'_> {
        Context {
            rule,
            group: "g",
            cluster: "host",
            namespace: Some("p"),
            now: DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time"),
            retention: Duration::from_secs(60),
        }
    }

    fn sample(pod: &str, v: f64) -> Sample {
        Sample {
            labels: [
                ("__name__", "x"),
                ("pod", pod),
                ("namespace", "elsewhere"),
                ("alertname", "spoofed"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            value: v,
        }
    }

    #[test]
    fn pending_firing_resolved_and_forgotten() {
        let r = rule(10);
        let a = step(&ctx(&r, 0), vec![], &[sample("web", 2.0)]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].state, AlertState::Pending);
        assert_eq!(a[0].due_notice(), None);
        assert_eq!(a[0].labels["namespace"], "p", "confined namespace wins");
        assert_eq!(a[0].labels["alertname"], "PodCrashing");
        assert_eq!(a[0].labels["severity"], "warning");
        assert_eq!(a[0].labels["team"], "a");
        assert_eq!(a[0].labels["cluster"], "host");
        assert_eq!(a[0].labels["rule_group"], "g");
        assert!(!a[0].labels.contains_key("__name__"));
        assert_eq!(a[0].annotations["summary"], "web at 2");
        let a = step(&ctx(&r, 5), a, &[sample("web", 3.0)]);
        assert_eq!(a[0].state, AlertState::Pending, "for not reached");
        let a = step(&ctx(&r, 10), a, &[sample("web", 4.0)]);
        assert_eq!(a[0].state, AlertState::Firing);
        assert_eq!(a[0].value, "4");
        assert_eq!(a[0].due_notice(), Some(Notice::Firing));
        let mut a = a;
        a[0].notified_firing = Some(ctx(&r, 11).now);
        assert_eq!(a[0].due_notice(), None);
        let a = step(&ctx(&r, 20), a, &[]);
        assert_eq!(a[0].state, AlertState::Inactive);
        assert_eq!(a[0].due_notice(), Some(Notice::Resolved));
        // Kept until its resolution is notified, even past the retention.
        let mut a = step(&ctx(&r, 200), a, &[]);
        assert_eq!(a.len(), 1);
        a[0].notified_resolved = Some(ctx(&r, 201).now);
        assert!(step(&ctx(&r, 300), a, &[]).is_empty());
    }

    #[test]
    fn pending_that_vanishes_is_dropped_and_reactivation_is_new() {
        let r = rule(10);
        let a = step(&ctx(&r, 0), vec![], &[sample("web", 1.0)]);
        assert!(step(&ctx(&r, 5), a, &[]).is_empty());
        let r0 = rule(0);
        let a = step(&ctx(&r0, 0), vec![], &[sample("web", 1.0)]);
        assert_eq!(a[0].state, AlertState::Firing, "for 0 fires at once");
        let mut a = step(&ctx(&r0, 5), a, &[]);
        a[0].notified_firing = Some(ctx(&r0, 1).now);
        a[0].notified_resolved = Some(ctx(&r0, 6).now);
        let a = step(&ctx(&r0, 10), a, &[sample("web", 1.0)]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].state, AlertState::Firing);
        assert_eq!(a[0].active_at, ctx(&r0, 10).now);
        assert_eq!(
            a[0].notified_firing, None,
            "a new activation is notified again"
        );
    }

    #[test]
    fn silenced_alerts_are_not_due() {
        let r = rule(0);
        let mut a = step(&ctx(&r, 0), vec![], &[sample("web", 1.0)]);
        a[0].silenced = true;
        assert_eq!(a[0].due_notice(), None);
    }

    #[test]
    fn one_alert_per_label_set() {
        let r = rule(0);
        let a = step(
            &ctx(&r, 0),
            vec![],
            &[sample("web", 1.0), sample("db", 1.0)],
        );
        assert_eq!(a.len(), 2);
        assert_ne!(a[0].fingerprint, a[1].fingerprint);
        // Series differing only in labels the alert overrides collapse into one.
        let mut other = sample("web", 5.0);
        other.labels.insert("namespace".into(), "third".into());
        let a = step(&ctx(&r, 0), vec![], &[sample("web", 1.0), other]);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn values_print_as_prometheus_does() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.5), "0.5");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}
