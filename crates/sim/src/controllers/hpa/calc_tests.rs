//! The calculator against the cases of kube's `replica_calculator_test.go` and
//! `horizontal_test.go` (numbers worked through by hand from the same scenarios).

use super::*;
use crate::controllers::hpa::spec::Policy;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn sec(s: i64) -> Duration {
    Duration::try_seconds(s).unwrap_or(if s < 0 { Duration::MIN } else { Duration::MAX })
}

fn samples(states: &[(PodState, Option<i64>)]) -> Vec<Sample> {
    states
        .iter()
        .enumerate()
        .map(|(i, (state, usage))| Sample {
            name: format!("p{i}"),
            state: *state,
            usage: *usage,
        })
        .collect()
}

fn requests(milli: &[i64]) -> BTreeMap<String, i64> {
    milli
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("p{i}"), *r))
        .collect()
}

fn ready(usages: &[i64]) -> Vec<Sample> {
    let s: Vec<_> = usages.iter().map(|u| (PodState::Ready, Some(*u))).collect();
    samples(&s)
}

use PodState::{Ignored, Missing, Ready as R, Unready};

#[test]
fn utilization_scale_up_down_and_tolerance() {
    // TestReplicaCalcScaleUp: 300+500+700 of 3×1000m is 50% against 30% → ceil(3 × 5/3) = 5.
    let up = utilization_replicas(
        3,
        30,
        &ready(&[300, 500, 700]),
        &requests(&[1000; 3]),
        TOLERANCE,
    );
    assert_eq!(
        up,
        Ok(Utilization {
            replicas: 5,
            utilization: 50,
            raw_average: 500
        })
    );
    // TestReplicaCalcScaleDown: 1400 of 5000m is 28% against 50% → ceil(5 × 0.56) = 3.
    let down = utilization_replicas(
        5,
        50,
        &ready(&[100, 300, 500, 250, 250]),
        &requests(&[1000; 5]),
        TOLERANCE,
    );
    assert_eq!(down.map(|u| (u.replicas, u.utilization)), Ok((3, 28)));
    // TestReplicaCalcTolerance: 3060 of 3000m is 102% against 100%: within 0.1, unchanged.
    let within = utilization_replicas(
        3,
        100,
        &ready(&[1010, 1030, 1020]),
        &requests(&[900, 1000, 1100]),
        TOLERANCE,
    );
    assert_eq!(within.map(|u| (u.replicas, u.utilization)), Ok((3, 102)));
    // Just outside the tolerance (ratio 1.11) scales.
    let outside = utilization_replicas(
        3,
        100,
        &ready(&[1110, 1110, 1110]),
        &requests(&[1000; 3]),
        TOLERANCE,
    );
    assert_eq!(outside.map(|u| u.replicas), Ok(4));
    // A very low target asks for far more than the maximum; clamping is normalization's job.
    let low = utilization_replicas(1, 1, &ready(&[300]), &requests(&[1000]), TOLERANCE);
    assert_eq!(low.map(|u| u.replicas), Ok(30));
}

#[test]
fn unready_missing_and_ignored_pods() {
    // TestReplicaCalcScaleUpUnreadyLessScale: the unready pod counts as 0% on a scale-up:
    // ready 1200/2000 = 60% vs 30% → with it, 1200/3000 = 40% → ceil(3 × 4/3) = 4.
    let s = samples(&[(Unready, None), (R, Some(500)), (R, Some(700))]);
    let r = utilization_replicas(3, 30, &s, &requests(&[1000; 3]), TOLERANCE).unwrap();
    assert_eq!((r.replicas, r.utilization), (4, 60));
    // Unready pods do not hold back a scale-down.
    let s = samples(&[(Unready, None), (R, Some(100)), (R, Some(100))]);
    let r = utilization_replicas(3, 50, &s, &requests(&[1000; 3]), TOLERANCE).unwrap();
    assert_eq!(r.replicas, 1);
    // Missing metrics on a scale-up count as 0%: 1800/2000 = 90% vs 50%, then 60% → 4.
    let s = samples(&[(R, Some(900)), (R, Some(900)), (Missing, None)]);
    assert_eq!(
        utilization_replicas(3, 50, &s, &requests(&[1000; 3]), TOLERANCE)
            .unwrap()
            .replicas,
        4
    );
    // On a scale-down as 100% of the request: 10% vs 80%, then 1200/3000 = 40% → 2.
    let s = samples(&[(R, Some(100)), (R, Some(100)), (Missing, None)]);
    assert_eq!(
        utilization_replicas(3, 80, &s, &requests(&[1000; 3]), TOLERANCE)
            .unwrap()
            .replicas,
        2
    );
    // ... or as the target when it is above 100%: 2200/3000 = 73% vs 200% → 2.
    assert_eq!(
        utilization_replicas(3, 200, &s, &requests(&[1000; 3]), TOLERANCE)
            .unwrap()
            .replicas,
        2
    );
    // TestReplicaCalcMissingMetricsNoChangeEq: at the target, the missing pod changes nothing.
    let s = samples(&[(R, Some(1000)), (Missing, None)]);
    assert_eq!(
        utilization_replicas(2, 100, &s, &requests(&[1000; 2]), TOLERANCE)
            .unwrap()
            .replicas,
        2
    );
    // A missing pod that would turn a scale-up into a scale-down leaves the scale alone.
    let s = samples(&[(R, Some(600)), (Missing, None), (Missing, None)]);
    assert_eq!(
        utilization_replicas(3, 50, &s, &requests(&[1000; 3]), TOLERANCE)
            .unwrap()
            .replicas,
        3
    );
    // Ignored (deleted, failed) pods are left out.
    let s = samples(&[(R, Some(500)), (Ignored, Some(0)), (Ignored, None)]);
    assert_eq!(
        utilization_replicas(3, 50, &s, &requests(&[1000; 3]), TOLERANCE)
            .unwrap()
            .replicas,
        3
    );
    // Errors kube reports.
    assert_eq!(
        utilization_replicas(1, 50, &[], &requests(&[]), TOLERANCE),
        Err("no pods returned by selector while calculating replica count".into())
    );
    let none_ready = samples(&[(Unready, None), (Missing, None)]);
    assert!(
        utilization_replicas(2, 50, &none_ready, &requests(&[1000; 2]), TOLERANCE)
            .unwrap_err()
            .starts_with("did not receive metrics")
    );
}

#[test]
fn average_values() {
    // 3 pods averaging 200m against 100m → 6; within the tolerance → unchanged.
    assert_eq!(
        average_value_replicas(3, 100, &ready(&[100, 200, 300]), TOLERANCE),
        Ok((6, 200))
    );
    assert_eq!(
        average_value_replicas(3, 100, &ready(&[100, 105, 95]), TOLERANCE),
        Ok((3, 100))
    );
    // Memory in milli-bytes: 50Mi each against 100Mi → 2 of 4.
    let mi = 1024 * 1024 * 1000;
    assert_eq!(
        average_value_replicas(4, 100 * mi, &ready(&[50 * mi; 4]), TOLERANCE).map(|r| r.0),
        Ok(2)
    );
    // A missing pod on a scale-down counts at the target: (10+10+100)/3 = 40 vs 100 → 2.
    let s = samples(&[(R, Some(10)), (R, Some(10)), (Missing, None)]);
    assert_eq!(
        average_value_replicas(3, 100, &s, TOLERANCE).map(|r| r.0),
        Ok(2)
    );
}

#[test]
fn classify_groups_pods_as_kube_does() {
    let t = Timings {
        cpu_initialization: sec(300),
        initial_readiness_delay: sec(30),
        metric_window: sec(15),
    };
    let now = at(1000);
    let pod = |phase: &str, ready: Option<(bool, i64)>, start: i64| PodFacts {
        deleting: false,
        phase: phase.into(),
        ready: ready.map(|(r, s)| (r, at(s))),
        start_time: Some(at(start)),
        has_metric: true,
    };
    let long_ready = pod("Running", Some((true, 100)), 90);
    assert_eq!(classify(&long_ready, true, now, &t), PodState::Ready);
    assert_eq!(
        classify(
            &PodFacts {
                deleting: true,
                ..long_ready.clone()
            },
            true,
            now,
            &t
        ),
        Ignored
    );
    assert_eq!(classify(&pod("Failed", None, 0), true, now, &t), Ignored);
    assert_eq!(
        classify(&pod("Pending", None, 990), false, now, &t),
        Unready
    );
    assert_eq!(
        classify(
            &PodFacts {
                has_metric: false,
                ..long_ready.clone()
            },
            true,
            now,
            &t
        ),
        Missing
    );
    // Within the CPU initialization period: ready for less than a metric window is unready.
    assert_eq!(
        classify(&pod("Running", Some((true, 990)), 980), true, now, &t),
        Unready
    );
    assert_eq!(
        classify(&pod("Running", Some((true, 980)), 970), true, now, &t),
        PodState::Ready
    );
    // Afterwards: a pod that went unready after having been ready still counts; one that
    // never was does not.
    assert_eq!(
        classify(&pod("Running", Some((false, 900)), 100), true, now, &t),
        PodState::Ready
    );
    assert_eq!(
        classify(&pod("Running", Some((false, 110)), 100), true, now, &t),
        Unready
    );
    // Readiness does not matter for memory.
    assert_eq!(
        classify(&pod("Running", Some((false, 990)), 980), false, now, &t),
        PodState::Ready
    );
}

fn norm(
    h: &mut History,
    b: Option<&Behavior>,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    now: i64,
) -> (i32, &'static str, &'static str) {
    let n = h.normalize(b, current, desired, min, max, at(now), &sec);
    (n.replicas, n.able_to_scale.reason, n.scaling_limited.reason)
}

#[test]
fn normalization_without_behavior() {
    let mut h = History::default();
    h.init(1, at(0));
    // At most twice the current scale (at least 4) at once, below maxReplicas.
    assert_eq!(
        norm(&mut h, None, 1, 30, 1, 10, 0),
        (4, "ReadyForNewScale", "ScaleUpLimit")
    );
    // TooManyReplicas when maxReplicas is the tighter bound.
    let mut h = History::default();
    assert_eq!(
        norm(&mut h, None, 3, 30, 1, 5, 0),
        (5, "ReadyForNewScale", "TooManyReplicas")
    );
    let mut h = History::default();
    h.init(5, at(0));
    assert_eq!(
        norm(&mut h, None, 5, 5, 1, 5, 15),
        (5, "ReadyForNewScale", "DesiredWithinRange")
    );
    // A scale-down waits for the highest recommendation of the last 300 s...
    assert_eq!(
        norm(&mut h, None, 5, 1, 1, 5, 60),
        (5, "ScaleDownStabilized", "DesiredWithinRange")
    );
    // ...and then the minimum applies.
    assert_eq!(
        norm(&mut h, None, 5, 1, 2, 5, 400),
        (2, "ReadyForNewScale", "TooFewReplicas")
    );
}

fn behavior(up: Rules, down: Rules) -> Behavior {
    Behavior {
        scale_up: up,
        scale_down: down,
    }
}

#[test]
fn default_behavior_rates() {
    // Default rules, explicit down window 0.
    let b = behavior(
        Rules::default_up(),
        Rules {
            stabilization_window_seconds: 0,
            ..Rules::default_down()
        },
    );
    let mut h = History::default();
    h.init(5, at(0));
    // Up: the larger of +4 pods or +100% per 15 s: 5 → 10.
    assert_eq!(
        norm(&mut h, Some(&b), 5, 20, 1, 50, 0),
        (10, "ReadyForNewScale", "ScaleUpLimit")
    );
    h.record_scale(Some(&b), 5, 10, at(0), &sec);
    // Within the same 15 s the period started at 5: still at most 10.
    assert_eq!(
        norm(&mut h, Some(&b), 10, 20, 1, 50, 5),
        (10, "ReadyForNewScale", "ScaleUpLimit")
    );
    // A period later: 10 → 20.
    assert_eq!(
        norm(&mut h, Some(&b), 10, 20, 1, 50, 16),
        (20, "ReadyForNewScale", "DesiredWithinRange")
    );
    h.record_scale(Some(&b), 10, 20, at(16), &sec);
    // Down by 100% per period, to the minimum, at once (window 0).
    assert_eq!(
        norm(&mut h, Some(&b), 20, 1, 3, 50, 40),
        (3, "ReadyForNewScale", "TooFewReplicas")
    );
    // maxReplicas tighter than the rate.
    let mut h = History::default();
    assert_eq!(
        norm(&mut h, Some(&b), 5, 20, 1, 7, 0),
        (7, "ReadyForNewScale", "TooManyReplicas")
    );
}

#[test]
fn explicit_policies_windows_and_select() {
    let pods = |value, period_seconds| Policy {
        percent: false,
        value,
        period_seconds,
    };
    let percent = |value, period_seconds| Policy {
        percent: true,
        value,
        period_seconds,
    };
    let down = |select, policies| Rules {
        stabilization_window_seconds: 0,
        select,
        policies,
    };
    // One pod per 60 s down.
    let b = behavior(Rules::default_up(), down(Select::Max, vec![pods(1, 60)]));
    let mut h = History::default();
    assert_eq!(
        norm(&mut h, Some(&b), 5, 1, 1, 10, 0),
        (4, "ReadyForNewScale", "ScaleDownLimit")
    );
    h.record_scale(Some(&b), 5, 4, at(0), &sec);
    assert_eq!(
        norm(&mut h, Some(&b), 4, 1, 1, 10, 30),
        (4, "ReadyForNewScale", "ScaleDownLimit")
    );
    assert_eq!(
        norm(&mut h, Some(&b), 4, 1, 1, 10, 61),
        (3, "ReadyForNewScale", "ScaleDownLimit")
    );
    // Max picks the policy allowing the biggest change, Min the smallest.
    let both = vec![pods(1, 60), percent(50, 60)];
    let mut h = History::default();
    let max = behavior(Rules::default_up(), down(Select::Max, both.clone()));
    assert_eq!(norm(&mut h, Some(&max), 10, 1, 1, 10, 0).0, 5);
    let min = behavior(Rules::default_up(), down(Select::Min, both));
    assert_eq!(norm(&mut h, Some(&min), 10, 1, 1, 10, 100).0, 9);
    // Disabled: no change in that direction.
    let off = behavior(
        Rules::default_up(),
        down(Select::Disabled, vec![pods(1, 60)]),
    );
    assert_eq!(
        norm(&mut History::default(), Some(&off), 10, 1, 1, 10, 0),
        (10, "ReadyForNewScale", "ScaleDownLimit")
    );
    // A scale-up window holds the lowest recent recommendation.
    let up = Rules {
        stabilization_window_seconds: 60,
        ..Rules::default_up()
    };
    let b = behavior(up, Rules::default_down());
    let mut h = History::default();
    h.init(3, at(0));
    assert_eq!(
        norm(&mut h, Some(&b), 3, 6, 1, 10, 10),
        (3, "ScaleUpStabilized", "DesiredWithinRange")
    );
    assert_eq!(
        norm(&mut h, Some(&b), 3, 6, 1, 10, 71),
        (6, "ReadyForNewScale", "DesiredWithinRange")
    );
    // The default scale-down window (300 s) holds the highest.
    assert_eq!(
        norm(&mut h, Some(&b), 6, 2, 1, 10, 100),
        (6, "ScaleDownStabilized", "DesiredWithinRange")
    );
}

proptest::proptest! {
    /// Extreme or odd specs (huge targets and policy values, zero targets, long windows) and
    /// usages never panic; the result is always within the HPA's bounds or the current scale.
    #[test]
    fn extreme_inputs_never_panic(
        current in 0..i32::MAX,
        target in proptest::prelude::any::<i32>(),
        usage in proptest::collection::vec(0..i64::MAX / 4, 1..4),
        value in proptest::prelude::any::<i32>(),
        period in proptest::prelude::any::<i64>(),
        window in proptest::prelude::any::<i64>(),
        min in 0..50i32,
        span in 0..50i32,
    ) {
        let s = ready(&usage);
        let reqs = requests(&vec![i64::MAX / 4; usage.len()]);
        let _ = utilization_replicas(current, target, &s, &reqs, TOLERANCE);
        let _ = average_value_replicas(current, i64::from(target), &s, TOLERANCE);
        let policy = Policy { percent: value % 2 == 0, value, period_seconds: period };
        let rules = Rules { stabilization_window_seconds: window, select: Select::Max, policies: vec![policy] };
        let b = behavior(rules.clone(), rules);
        let mut h = History::default();
        let max = min + span;
        let _ = h.normalize(Some(&b), current, current.saturating_mul(3), min, max, at(5), &sec);
        h.record_scale(Some(&b), current, i32::MAX, at(5), &sec);
        // The controller normalizes only within [min, max] (it clamps before otherwise).
        let current = min + current % (span + 1);
        h.init(current, at(0));
        for behavior in [None, Some(&b)] {
            let n = h.normalize(behavior, current, current.saturating_mul(3), min, max, at(10), &sec);
            h.record_scale(behavior, current, n.replicas, at(10), &sec);
            proptest::prop_assert!(n.replicas == current || (min..=max).contains(&n.replicas), "{n:?}");
        }
    }
}
