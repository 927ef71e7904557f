//! The arithmetic of kube's HPA controller, free of I/O: the replica calculator
//! (`replica_calculator.go`: pods grouped into ready, unready, missing and ignored; the usage
//! ratio with its 0.1 tolerance; missing pods counted at 0% on a scale-up and at
//! max(100%, target) of their request on a scale-down; unready pods at 0% on a scale-up) and the
//! normalization of a recommendation (`horizontal.go`: stabilization over recent
//! recommendations, the scale-up limit or the behavior's policies, min/max clamping), with the
//! conditions' reasons and messages kube writes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::spec::{Behavior, DOWNSCALE_STABILIZATION_SECONDS, Rules, Select};

/// kube-controller-manager's `--horizontal-pod-autoscaler-tolerance`.
pub const TOLERANCE: f64 = 0.1;

/// How a pod counts in a calculation (`groupPods`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodState {
    /// Ready, with a metric.
    Ready,
    /// Pending, or (for CPU) not ready yet or too fresh to trust.
    Unready,
    /// Running without a metric.
    Missing,
    /// Being deleted or failed: left out entirely.
    Ignored,
}

/// What `groupPods` looks at in one pod, times in one clock.
#[derive(Clone, Debug)]
pub struct PodFacts {
    pub deleting: bool,
    pub phase: String,
    /// The Ready condition: (status is True, its lastTransitionTime).
    pub ready: Option<(bool, DateTime<Utc>)>,
    pub start_time: Option<DateTime<Utc>>,
    pub has_metric: bool,
}

/// The durations `groupPods` uses, in the same clock as [`PodFacts`].
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization: Duration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub initial_readiness_delay: Duration,
    /// The metric's window (metrics-server's 15 s); its timestamp is taken as `now`.
    pub metric_window: Duration,
}

/// `groupPods` for one pod.
pub fn classify(p: &PodFacts, cpu: bool, now: DateTime<Utc>, t: &Timings) -> PodState {
    if p.deleting || p.phase == "Failed" {
        return PodState::Ignored;
    }
    if p.phase == "Pending" {
        return PodState::Unready;
    }
    if !p.has_metric {
        return PodState::Missing;
    }
    if cpu {
        let unready = match (p.ready, p.start_time) {
            (Some((ready, transition)), Some(start)) => {
                if start + t.cpu_initialization > now {
                    // Within the initialization period: a sample must postdate readiness.
                    !ready || now < transition + t.metric_window
                } else {
                    // Afterwards: ignore only a pod that has never been ready.
                    !ready && start + t.initial_readiness_delay > transition
                }
            }
            _ => true,
        };
        if unready {
            return PodState::Unready;
        }
    }
    PodState::Ready
}

/// One pod in a calculation: its state and its usage in milli-units (when it has a metric).
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub state: PodState,
    pub usage: Option<i64>,
}

/// The result of a utilization calculation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utilization {
    pub replicas: i32,
    /// Percent of the requests (`currentAverageUtilization`).
    pub utilization: i32,
    /// Average usage per pod in milli-units (`currentAverageValue`).
    pub raw_average: i64,
}

fn ratio_of(
    metrics: &BTreeMap<&str, i64>,
    requests: &BTreeMap<String, i64>,
    target: i32,
) -> Result<(f64, i32, i64), String> {
    let (mut used, mut requested, mut n) = (0i64, 0i64, 0i64);
    for (pod, value) in metrics {
        if let Some(r) = requests.get(*pod) {
            used = used.saturating_add(*value);
            requested = requested.saturating_add(*r);
            n += 1;
        }
    }
    if requested == 0 {
        return Err("no metrics returned matched known pods".into());
    }
    let utilization = (used.saturating_mul(100) / requested).min(i64::from(i32::MAX)) as i32;
    Ok((
        f64::from(utilization) / f64::from(target),
        utilization,
        used / n,
    ))
}

struct Grouped<'a> {
    ready: i64,
    unready: BTreeSet<&'a str>,
    missing: BTreeSet<&'a str>,
    metrics: BTreeMap<&'a str, i64>,
}

fn group(samples: &[Sample]) -> Result<Grouped<'_>, String> {
    if samples.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let mut g = Grouped {
        ready: 0,
        unready: BTreeSet::new(),
        missing: BTreeSet::new(),
        metrics: BTreeMap::new(),
    };
    for s in samples {
        match s.state {
            PodState::Ready => {
                g.ready += 1;
                g.metrics.insert(&s.name, s.usage.unwrap_or(0));
            }
            PodState::Unready => {
                g.unready.insert(&s.name);
            }
            PodState::Missing => {
                g.missing.insert(&s.name);
            }
            PodState::Ignored => {}
        }
    }
    if g.metrics.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    Ok(g)
}

/// Whether a recomputed ratio keeps the direction (and size) of the first one.
fn keeps_direction(first: f64, second: f64, tolerance: f64) -> bool {
    !((1.0 - second).abs() <= tolerance
        || (first < 1.0 && second > 1.0)
        || (first > 1.0 && second < 1.0))
}

/// `GetResourceReplicas`: replicas for a target utilization (percent of requests). `requests`
/// holds every pod's request in milli-units (a pod without one is an error before this).
pub fn utilization_replicas(
    current: i32,
    target: i32,
    samples: &[Sample],
    requests: &BTreeMap<String, i64>,
    tolerance: f64,
) -> Result<Utilization, String> {
    let mut g = group(samples)?;
    let (ratio, utilization, raw_average) = ratio_of(&g.metrics, requests, target)?;
    let done = |replicas| {
        Ok(Utilization {
            replicas,
            utilization,
            raw_average,
        })
    };
    let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && g.missing.is_empty() {
        if (1.0 - ratio).abs() <= tolerance {
            return done(current);
        }
        return done((ratio * g.ready as f64).ceil() as i32);
    }
    if ratio < 1.0 {
        let fallback = i64::from(target.max(100));
        for pod in &g.missing {
            g.metrics.insert(
                pod,
                requests
                    .get(*pod)
                    .copied()
                    .unwrap_or(0)
                    .saturating_mul(fallback)
                    / 100,
            );
        }
    } else if ratio > 1.0 {
        for pod in &g.missing {
            g.metrics.insert(pod, 0);
        }
    }
    if scale_up_with_unready {
        for pod in &g.unready {
            g.metrics.insert(pod, 0);
        }
    }
    let (new_ratio, _, _) = ratio_of(&g.metrics, requests, target)?;
    if !keeps_direction(ratio, new_ratio, tolerance) {
        return done(current);
    }
    let replicas = (new_ratio * g.metrics.len() as f64).ceil() as i32;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return done(current);
    }
    done(replicas)
}

/// `calcPlainMetricReplicas`: replicas for a target average value (milli-units); returns the
/// replicas and the current average.
pub fn average_value_replicas(
    current: i32,
    target: i64,
    samples: &[Sample],
    tolerance: f64,
) -> Result<(i32, i64), String> {
    let mut g = group(samples)?;
    let ratio_of = |m: &BTreeMap<&str, i64>| {
        let average = m.values().fold(0i64, |a, v| a.saturating_add(*v)) / m.len().max(1) as i64;
        (average as f64 / target as f64, average)
    };
    let (ratio, average) = ratio_of(&g.metrics);
    let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && g.missing.is_empty() {
        if (1.0 - ratio).abs() <= tolerance {
            return Ok((current, average));
        }
        return Ok(((ratio * g.ready as f64).ceil() as i32, average));
    }
    for pod in &g.missing {
        g.metrics.insert(pod, if ratio < 1.0 { target } else { 0 });
    }
    if scale_up_with_unready {
        for pod in &g.unready {
            g.metrics.insert(pod, 0);
        }
    }
    let (new_ratio, _) = ratio_of(&g.metrics);
    if !keeps_direction(ratio, new_ratio, tolerance) {
        return Ok((current, average));
    }
    Ok(((new_ratio * g.metrics.len() as f64).ceil() as i32, average))
}

/// A condition as `setCondition` writes it: status, reason, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Cond {
    fn new(status: bool, reason: &'static str, message: &str) -> Cond {
        Cond {
            status,
            reason,
            message: message.into(),
        }
    }
}

/// A recommendation normalized: the replicas to set, and the AbleToScale and ScalingLimited
/// conditions saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    pub replicas: i32,
    pub able_to_scale: Cond,
    pub scaling_limited: Cond,
}

#[derive(Clone, Copy, Debug)]
struct Stamped {
    value: i32,
    at: DateTime<Utc>,
}

/// One HPA's memory between syncs (kube keeps it in the controller, so it is lost on a
/// restart): recent recommendations and, with a behavior, recent scale events.
#[derive(Clone, Debug, Default)]
pub struct History {
    recommendations: Vec<Stamped>,
    scale_ups: Vec<Stamped>,
    scale_downs: Vec<Stamped>,
}

const STABILIZED_UP: &str =
    "recent recommendations were lower than current one, applying the lowest recent recommendation";
const STABILIZED_DOWN: &str = "recent recommendations were higher than current one, applying the highest recent recommendation";
const READY: &str = "recommended size matches current size";
const WITHIN: &str = "the desired count is within the acceptable range";
const TOO_FAST_UP: &str =
    "the desired replica count is increasing faster than the maximum scale rate";
const TOO_FAST_DOWN: &str =
    "the desired replica count is decreasing faster than the maximum scale rate";
const TOO_MANY: &str = "the desired replica count is more than the maximum replica count";
const TOO_FEW: &str = "the desired replica count is less than the minimum replica count";

/// Replaces the first entry older than `cutoff` (if `old` says which) or appends.
fn record(list: &mut Vec<Stamped>, old: Option<usize>, value: i32, at: DateTime<Utc>) {
    match old {
        Some(i) => list[i] = Stamped { value, at },
        None => list.push(Stamped { value, at }),
    }
}

/// The replicas added (or removed) by `events` within the last `period` seconds.
fn change_in_period(
    events: &[Stamped],
    period: i64,
    now: DateTime<Utc>,
    sec: &dyn Fn(i64) -> Duration,
) -> i32 {
    let cutoff = before(now, sec(period));
    events
        .iter()
        .filter(|e| e.at > cutoff)
        .fold(0i32, |a, e| a.saturating_add(e.value))
}

/// `now - d`, the earliest time there is when that is out of range.
fn before(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now.checked_sub_signed(d)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl History {
    /// `recordInitialRecommendation`: the current scale is the first recommendation.
    pub fn init(&mut self, current: i32, now: DateTime<Utc>) {
        if self.recommendations.is_empty() {
            self.recommendations.push(Stamped {
                value: current,
                at: now,
            });
        }
    }

    /// `normalizeDesiredReplicas` (no behavior) or `normalizeDesiredReplicasWithBehaviors`.
    /// `sec` turns a number of (simulated) seconds into a duration of the clock `now` is in.
    #[allow(clippy::too_many_arguments)]
    pub fn normalize(
        &mut self,
        behavior: Option<&Behavior>,
        current: i32,
        desired: i32,
        min: i32,
        max: i32,
        now: DateTime<Utc>,
        sec: &dyn Fn(i64) -> Duration,
    ) -> Normalized {
        let Some(b) = behavior else {
            return self.normalize_plain(current, desired, min, max, now, sec);
        };
        let (stabilized, reason, message) =
            self.stabilize_with_behavior(b, current, desired, now, sec);
        let able_to_scale = if stabilized != desired {
            Cond::new(true, reason, message)
        } else {
            Cond::new(true, "ReadyForNewScale", READY)
        };
        let (replicas, reason, message) =
            self.rate_limited(b, current, stabilized, min, max, now, sec);
        Normalized {
            replicas,
            able_to_scale,
            scaling_limited: Cond::new(replicas != stabilized, reason, message),
        }
    }

    fn normalize_plain(
        &mut self,
        current: i32,
        desired: i32,
        min: i32,
        max: i32,
        now: DateTime<Utc>,
        sec: &dyn Fn(i64) -> Duration,
    ) -> Normalized {
        // stabilizeRecommendation: the highest recommendation of the downscale window.
        let cutoff = before(now, sec(DOWNSCALE_STABILIZATION_SECONDS));
        let mut stabilized = desired;
        let mut old = None;
        for (i, r) in self.recommendations.iter().enumerate() {
            if r.at < cutoff {
                old = Some(i);
            } else {
                stabilized = stabilized.max(r.value);
            }
        }
        record(&mut self.recommendations, old, desired, now);
        let able_to_scale = if stabilized != desired {
            Cond::new(true, "ScaleDownStabilized", STABILIZED_DOWN)
        } else {
            Cond::new(true, "ReadyForNewScale", READY)
        };
        // convertDesiredReplicasWithRules: at most twice the current scale (at least 4).
        let scale_up_limit = current.saturating_mul(2).max(4);
        let (upper, upper_reason, upper_message) = if max > scale_up_limit {
            (scale_up_limit, "ScaleUpLimit", TOO_FAST_UP)
        } else {
            (max, "TooManyReplicas", TOO_MANY)
        };
        let (replicas, reason, message) = if stabilized < min {
            (min, "TooFewReplicas", TOO_FEW)
        } else if stabilized > upper {
            (upper, upper_reason, upper_message)
        } else {
            (stabilized, "DesiredWithinRange", WITHIN)
        };
        Normalized {
            replicas,
            able_to_scale,
            scaling_limited: Cond::new(replicas != stabilized, reason, message),
        }
    }

    /// `stabilizeRecommendationWithBehaviors`.
    fn stabilize_with_behavior(
        &mut self,
        b: &Behavior,
        current: i32,
        desired: i32,
        now: DateTime<Utc>,
        sec: &dyn Fn(i64) -> Duration,
    ) -> (i32, &'static str, &'static str) {
        let up_cutoff = before(now, sec(b.scale_up.stabilization_window_seconds));
        let down_cutoff = before(now, sec(b.scale_down.stabilization_window_seconds));
        let (mut up, mut down) = (desired, desired);
        let mut old = None;
        for (i, r) in self.recommendations.iter().enumerate() {
            if r.at > up_cutoff {
                up = up.min(r.value);
            }
            if r.at > down_cutoff {
                down = down.max(r.value);
            }
            if r.at < up_cutoff && r.at < down_cutoff {
                old = Some(i);
            }
        }
        let recommendation = current.max(up).min(down);
        record(&mut self.recommendations, old, desired, now);
        if desired >= current {
            (recommendation, "ScaleUpStabilized", STABILIZED_UP)
        } else {
            (recommendation, "ScaleDownStabilized", STABILIZED_DOWN)
        }
    }

    /// `convertDesiredReplicasWithBehaviorRate`.
    #[allow(clippy::too_many_arguments)]
    fn rate_limited(
        &self,
        b: &Behavior,
        current: i32,
        desired: i32,
        min: i32,
        max: i32,
        now: DateTime<Utc>,
        sec: &dyn Fn(i64) -> Duration,
    ) -> (i32, &'static str, &'static str) {
        if desired > current {
            let limit = self
                .scale_limit(&b.scale_up, true, current, now, sec)
                .max(current);
            let (upper, reason, message) = if max > limit {
                (limit, "ScaleUpLimit", TOO_FAST_UP)
            } else {
                (max, "TooManyReplicas", TOO_MANY)
            };
            if desired > upper {
                return (upper, reason, message);
            }
        } else if desired < current {
            let limit = self
                .scale_limit(&b.scale_down, false, current, now, sec)
                .min(current);
            let (lower, reason, message) = if min < limit {
                (limit, "ScaleDownLimit", TOO_FAST_DOWN)
            } else {
                (min, "TooFewReplicas", TOO_FEW)
            };
            if desired < lower {
                return (lower, reason, message);
            }
        }
        (desired, "DesiredWithinRange", WITHIN)
    }

    /// `calculateScaleUpLimitWithScalingRules` / `calculateScaleDownLimitWithBehaviors`.
    fn scale_limit(
        &self,
        rules: &Rules,
        up: bool,
        current: i32,
        now: DateTime<Utc>,
        sec: &dyn Fn(i64) -> Duration,
    ) -> i32 {
        if rules.select == Select::Disabled {
            return current;
        }
        // Max picks the biggest change: the highest limit up, the lowest down.
        let biggest = rules.select == Select::Max;
        let mut result: Option<i32> = None;
        for p in &rules.policies {
            let added = change_in_period(&self.scale_ups, p.period_seconds, now, sec);
            let removed = change_in_period(&self.scale_downs, p.period_seconds, now, sec);
            let start = current.saturating_sub(added).saturating_add(removed);
            let proposed = match (up, p.percent) {
                (true, false) => start.saturating_add(p.value),
                (true, true) => {
                    (f64::from(start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
                }
                (false, false) => start.saturating_sub(p.value),
                (false, true) => (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32,
            };
            let take_max = up == biggest;
            result = Some(match result {
                None => proposed,
                Some(r) if take_max => r.max(proposed),
                Some(r) => r.min(proposed),
            });
        }
        result.unwrap_or(if up == biggest { i32::MIN } else { i32::MAX })
    }

    /// `storeScaleEvent`: remembers a rescale (only with a behavior; an event older than the
    /// direction's longest policy period is reused).
    pub fn record_scale(
        &mut self,
        behavior: Option<&Behavior>,
        from: i32,
        to: i32,
        now: DateTime<Utc>,
        sec: &dyn Fn(i64) -> Duration,
    ) {
        let Some(b) = behavior else {
            return;
        };
        let (events, rules, change) = if to > from {
            (&mut self.scale_ups, &b.scale_up, to - from)
        } else {
            (&mut self.scale_downs, &b.scale_down, from - to)
        };
        let cutoff = before(now, sec(rules.longest_period()));
        let old = events.iter().rposition(|e| e.at < cutoff);
        record(events, old, change, now);
    }
}

#[cfg(test)]
#[path = "calc_tests.rs"]
mod tests;
