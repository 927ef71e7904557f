//! Silences (`notification.kubesphere.io/v2beta2` Silence, cluster-scoped in the host):
//! `spec.matcher` is a LabelSelector over an alert's labels, active from `spec.startsAt`
//! (default: its creation) until `spec.endsAt` or `startsAt + spec.duration` (default: no
//! end), while `spec.enabled` is not false. A silenced alert is listed as such and not sent.

use std::collections::BTreeMap;

use apimachinery::selector::LabelSelector;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::rules::parse_duration;

/// One Silence, parsed.
#[derive(Debug, Clone)]
pub struct Silence {
    /// Its name.
    pub name: String,
    matcher: LabelSelector,
    starts: Option<DateTime<Utc>>,
    ends: Option<DateTime<Utc>>,
    enabled: bool,
}

fn time(v: &Value, what: &str) -> Result<Option<DateTime<Utc>>, String> {
    match v.as_str() {
        None | Some("") => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| format!("{what}: {s:?} is not an RFC 3339 time: {e}")),
    }
}

impl Silence {
    /// Parses a Silence object; the error says what is wrong with it.
    pub fn parse(obj: &Value) -> Result<Silence, String> {
        let spec = &obj["spec"];
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if spec["matcher"].is_null() {
            return Err("spec.matcher is required".into());
        }
        let matcher = LabelSelector::from_label_selector_json(&spec["matcher"])
            .map_err(|e| format!("spec.matcher: {e}"))?;
        if matcher.is_empty() {
            // An empty selector matches everything: refused, so no typo silences every alert.
            return Err("spec.matcher selects every alert; name at least one label".into());
        }
        let starts = time(&spec["startsAt"], "spec.startsAt")?.or(time(
            &obj["metadata"]["creationTimestamp"],
            "creationTimestamp",
        )?);
        let mut ends = time(&spec["endsAt"], "spec.endsAt")?;
        if ends.is_none()
            && let Some(d) = spec["duration"].as_str()
        {
            let d = parse_duration(d).map_err(|e| format!("spec.duration: {e}"))?;
            let d = chrono::Duration::from_std(d).map_err(|e| format!("spec.duration: {e}"))?;
            ends = starts.map(|s| s + d);
        }
        Ok(Silence {
            name,
            matcher,
            starts,
            ends,
            enabled: spec["enabled"].as_bool().unwrap_or(true),
        })
    }

    /// Whether it is in force at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.starts.is_none_or(|s| s <= now) && self.ends.is_none_or(|e| now < e)
    }

    /// Whether it silences an alert with `labels` at `now`.
    pub fn silences(&self, labels: &BTreeMap<String, String>, now: DateTime<Utc>) -> bool {
        self.is_active(now) && self.matcher.matches(labels)
    }
}

/// Parses every Silence, skipping (and returning the errors of) the invalid ones.
pub fn parse_all(objs: &[Value]) -> (Vec<Silence>, Vec<(String, String)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for o in objs {
        match Silence::parse(o) {
            Ok(s) => ok.push(s),
            Err(e) => bad.push((
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e,
            )),
        }
    }
    (ok, bad)
}

/// Whether any of `silences` silences `labels` at `now`.
pub fn is_silenced(
    silences: &[Silence],
    labels: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> bool {
    silences.iter().any(|s| s.silences(labels, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn matcher_and_window() {
        let s = Silence::parse(&json!({"metadata": {"name": "s"}, "spec": {
            "matcher": {"matchLabels": {"alertname": "PodCrashing"},
                        "matchExpressions": [{"key": "namespace", "operator": "In", "values": ["a", "b"]}]},
            "startsAt": "2026-01-01T00:00:00Z", "duration": "1h"}}))
        .expect("valid");
        let hit = labels(&[("alertname", "PodCrashing"), ("namespace", "a")]);
        assert!(s.silences(&hit, at("2026-01-01T00:30:00Z")));
        assert!(
            !s.silences(&hit, at("2025-12-31T23:59:59Z")),
            "before it starts"
        );
        assert!(
            !s.silences(&hit, at("2026-01-01T01:00:00Z")),
            "ends exclusive"
        );
        assert!(!s.silences(
            &labels(&[("alertname", "PodCrashing"), ("namespace", "c")]),
            at("2026-01-01T00:30:00Z")
        ));
        assert!(!s.silences(
            &labels(&[("alertname", "Other")]),
            at("2026-01-01T00:30:00Z")
        ));
    }

    #[test]
    fn disabled_and_open_ended() {
        let on = Silence::parse(
            &json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"matcher": {"matchLabels": {"a": "1"}}}}),
        )
        .expect("valid");
        assert!(on.silences(&labels(&[("a", "1")]), at("2030-01-01T00:00:00Z")));
        let off = Silence::parse(
            &json!({"spec": {"enabled": false, "matcher": {"matchLabels": {"a": "1"}}}}),
        )
        .expect("valid");
        assert!(!off.silences(&labels(&[("a", "1")]), at("2030-01-01T00:00:00Z")));
        let ended = Silence::parse(&json!({"spec": {"matcher": {"matchLabels": {"a": "1"}},
            "endsAt": "2026-01-01T00:00:00Z"}}))
        .expect("valid");
        assert!(!ended.is_active(at("2026-06-01T00:00:00Z")));
    }

    #[test]
    fn refuses_bad_silences() {
        for (spec, why) in [
            (json!({}), "matcher is required"),
            (json!({"matcher": {}}), "every alert"),
            (
                json!({"matcher": {"matchLabels": {"a": "1"}}, "startsAt": "yesterday"}),
                "RFC 3339",
            ),
            (
                json!({"matcher": {"matchLabels": {"a": "1"}}, "duration": "forever"}),
                "duration",
            ),
            (
                json!({"matcher": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}),
                "matcher",
            ),
        ] {
            let e = Silence::parse(&json!({ "spec": spec })).expect_err(why);
            assert!(e.contains(why), "{why}: {e}");
        }
        let (ok, bad) = parse_all(&[
            json!({"metadata": {"name": "good"}, "spec": {"matcher": {"matchLabels": {"a": "1"}}}}),
            json!({"metadata": {"name": "bad"}, "spec": {}}),
        ]);
        assert_eq!(ok.len(), 1);
        assert_eq!(bad[0].0, "bad");
    }
}
