//! Rule groups as written (`alerting.kubesphere.io/v2beta1` GlobalRuleGroup, ClusterRuleGroup,
//! RuleGroup): `spec.interval` and `spec.rules[]{alert, expr, for, severity, labels,
//! annotations, disable}`, checked and parsed (pure).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// KubeSphere's default evaluation interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest interval accepted (each evaluation is a query per rule and cluster).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The level a rule group lives at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// A GlobalRuleGroup in the host: evaluated against every connected cluster.
    Global,
    /// A ClusterRuleGroup: evaluated against the cluster it lives in.
    Cluster,
    /// A RuleGroup in a project: evaluated against its cluster, confined to its namespace.
    Namespace(String),
}

impl Level {
    /// The resource (plural) of rule groups at this level.
    pub fn plural(&self) -> &'static str {
        match self {
            Level::Global => "globalrulegroups",
            Level::Cluster => "clusterrulegroups",
            Level::Namespace(_) => "rulegroups",
        }
    }

    /// The namespace of a project-level group.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Level::Namespace(ns) => Some(ns),
            _ => None,
        }
    }
}

/// One alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `alert`: the rule's name, the alerts' `alertname`.
    pub name: String,
    /// `expr`: PromQL; every series it returns is an active alert.
    pub expr: String,
    /// `for`: how long an alert stays pending before it fires.
    pub for_: Duration,
    /// `severity`, copied into the alerts' labels when set.
    pub severity: String,
    /// `labels` added to (and overriding) the series' labels.
    pub labels: BTreeMap<String, String>,
    /// `annotations`, templates expanded per alert.
    pub annotations: BTreeMap<String, String>,
    /// `disable`: not evaluated.
    pub disabled: bool,
}

/// A rule group's spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `spec.interval`.
    pub interval: Duration,
    /// `spec.rules`.
    pub rules: Vec<Rule>,
}

/// A duration as rules write it: Go's `time.ParseDuration` ("30s", "1m30s"), plus
/// Prometheus' `d` and `w` units ("1d").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    for (unit, secs) in [('d', 86_400u64), ('w', 7 * 86_400)] {
        if let Some(n) = s.strip_suffix(unit)
            && let Ok(n) = n.parse::<u64>()
        {
            return Ok(Duration::from_secs(n.saturating_mul(secs)));
        }
    }
    let nanos = gofmt::parse_duration(s).map_err(|e| format!("{s:?} is not a duration: {e}"))?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("{s:?} is negative"))
}

fn string_map(v: &Value, what: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(format!("{what}.{k} must be a string")),
            })
            .collect(),
        _ => Err(format!("{what} must be an object of strings")),
    }
}

/// Whether a label name is valid in Prometheus (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a rule group object's spec; the error names the first thing wrong.
pub fn parse_group(obj: &Value) -> Result<Group, String> {
    let spec = &obj["spec"];
    let interval = match spec["interval"].as_str() {
        None | Some("") => DEFAULT_INTERVAL,
        Some(s) => parse_duration(s).map_err(|e| format!("spec.interval: {e}"))?,
    };
    if interval < MIN_INTERVAL {
        return Err(format!(
            "spec.interval: at least {}s",
            MIN_INTERVAL.as_secs()
        ));
    }
    let mut rules = Vec::new();
    for (i, r) in spec["rules"].as_array().into_iter().flatten().enumerate() {
        let at = format!("spec.rules[{i}]");
        let name = r["alert"].as_str().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(format!("{at}.alert is required"));
        }
        if rules.iter().any(|x: &Rule| x.name == name) {
            return Err(format!("{at}.alert {name:?} is used twice"));
        }
        let expr = r["expr"].as_str().unwrap_or_default().trim().to_string();
        if expr.is_empty() {
            return Err(format!("{at}.expr is required"));
        }
        let for_ = match r["for"].as_str() {
            None | Some("") => Duration::ZERO,
            Some(s) => parse_duration(s).map_err(|e| format!("{at}.for: {e}"))?,
        };
        let labels = string_map(&r["labels"], &format!("{at}.labels"))?;
        if let Some(bad) = labels.keys().find(|k| !is_label_name(k)) {
            return Err(format!("{at}.labels: {bad:?} is not a label name"));
        }
        rules.push(Rule {
            name,
            expr,
            for_,
            severity: r["severity"].as_str().unwrap_or_default().to_string(),
            labels,
            annotations: string_map(&r["annotations"], &format!("{at}.annotations"))?,
            disabled: r["disable"].as_bool().unwrap_or(false),
        });
    }
    Ok(Group { interval, rules })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_kubesphere_shape() {
        let g = parse_group(&json!({"spec": {"interval": "30s", "rules": [
            {"alert": "PodCrashing", "expr": "kube_pod_container_status_restarts_total > 0",
             "for": "1m", "severity": "critical", "labels": {"team": "a"},
             "annotations": {"summary": "{{ $labels.pod }} restarts"}},
            {"alert": "Off", "expr": "up == 0", "disable": true}
        ]}}))
        .expect("valid");
        assert_eq!(g.interval, Duration::from_secs(30));
        assert_eq!(g.rules[0].for_, Duration::from_secs(60));
        assert_eq!(g.rules[0].severity, "critical");
        assert_eq!(g.rules[0].labels["team"], "a");
        assert!(g.rules[1].disabled);
        assert_eq!(g.rules[1].for_, Duration::ZERO);
        let d = parse_group(&json!({"spec": {}})).expect("empty");
        assert_eq!(d.interval, DEFAULT_INTERVAL);
        assert!(d.rules.is_empty());
    }

    #[test]
    fn refuses_what_cannot_be_evaluated() {
        for (spec, why) in [
            (json!({"interval": "soon"}), "spec.interval"),
            (json!({"interval": "10ms"}), "at least"),
            (json!({"rules": [{"expr": "up"}]}), "alert is required"),
            (json!({"rules": [{"alert": "a"}]}), "expr is required"),
            (
                json!({"rules": [{"alert": "a", "expr": "up"}, {"alert": "a", "expr": "up"}]}),
                "used twice",
            ),
            (
                json!({"rules": [{"alert": "a", "expr": "up", "for": "-1s"}]}),
                "negative",
            ),
            (
                json!({"rules": [{"alert": "a", "expr": "up", "labels": {"x": 1}}]}),
                "must be a string",
            ),
            (
                json!({"rules": [{"alert": "a", "expr": "up", "labels": {"a-b": "1"}}]}),
                "not a label name",
            ),
        ] {
            let e = parse_group(&json!({ "spec": spec })).expect_err(why);
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("").is_err());
    }
}
