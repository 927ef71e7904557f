//! The pure timeline of a simulated pod: given the pod spec and how much simulated time has
//! passed since the kubelet took it, what every container is doing and what phase the pod is in.
//!
//! Offsets are simulated durations since the kubelet first saw the pod bound to its node.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::conventions::{self, Behavior, backoff};

/// How long `ErrImagePull` shows after each failed pull before `ImagePullBackOff`.
const PULL_ERROR_SHOWN: Duration = Duration::from_secs(2);

/// A container's state at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Not running: a reason such as `ContainerCreating`, `ErrImagePull`, `CrashLoopBackOff`.
    Waiting {
        /// The kubelet's reason.
        reason: &'static str,
        /// The back-off in force, for messages.
        backoff: Option<Duration>,
    },
    /// Running since an offset.
    Running {
        /// When this instance started.
        since: Duration,
    },
    /// Exited.
    Terminated(Exit),
}

/// One finished container instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Exit code.
    pub code: i32,
    /// When it started.
    pub started: Duration,
    /// When it finished.
    pub finished: Duration,
}

impl Exit {
    /// `Completed` for exit code 0, `Error` otherwise.
    pub fn reason(&self) -> &'static str {
        if self.code == 0 { "Completed" } else { "Error" }
    }
}

/// A container at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerView {
    /// Current state.
    pub state: State,
    /// The previous instance, if it exited.
    pub last: Option<Exit>,
    /// Whether it passes readiness.
    pub ready: bool,
    /// When `ready` last changed (or the container was first considered).
    pub ready_since: Duration,
    /// How many times it was restarted.
    pub restart_count: u32,
    /// When this view next changes on its own.
    pub next_change: Option<Duration>,
}

impl ContainerView {
    fn waiting(reason: &'static str, next: Option<Duration>) -> ContainerView {
        ContainerView {
            state: State::Waiting {
                reason,
                backoff: None,
            },
            last: None,
            ready: false,
            ready_since: Duration::ZERO,
            restart_count: 0,
            next_change: next,
        }
    }

    /// Whether this instance finished for good (it will not be restarted).
    pub fn finished(&self) -> Option<&Exit> {
        match &self.state {
            State::Terminated(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the container has run at least once (running, exited, or backing off).
    pub fn has_run(&self) -> bool {
        matches!(self.state, State::Running { .. } | State::Terminated(_)) || self.last.is_some()
    }
}

/// Whether a container restarts after exiting with `code` under `policy`.
fn restarts(policy: &str, code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => code != 0,
        _ => true,
    }
}

/// The view of one container that first starts at `start`, at time `t`.
pub fn container_at(
    behavior: Behavior,
    policy: &str,
    start: Duration,
    ready_delay: Duration,
    t: Duration,
) -> ContainerView {
    if t < start {
        return ContainerView::waiting("ContainerCreating", Some(start));
    }
    match behavior {
        Behavior::NeverPulls => {
            // Attempts at a_0 = start, a_{k+1} = a_k + shown + backoff(k).
            let mut attempt = start;
            let mut k = 0u32;
            loop {
                let next = attempt + PULL_ERROR_SHOWN + backoff(k);
                if t < next || k > 10_000 {
                    let (reason, change) = if t < attempt + PULL_ERROR_SHOWN {
                        ("ErrImagePull", attempt + PULL_ERROR_SHOWN)
                    } else {
                        ("ImagePullBackOff", next)
                    };
                    let mut v = ContainerView::waiting(reason, Some(change));
                    v.state = State::Waiting {
                        reason,
                        backoff: Some(backoff(k)),
                    };
                    return v;
                }
                attempt = next;
                k += 1;
            }
        }
        Behavior::RunsForever => running(start, ready_delay, t, 0, None),
        Behavior::Exits { after, code } => {
            if !restarts(policy, code) {
                if t < start + after {
                    let mut v = running(start, ready_delay, t, 0, None);
                    v.next_change = Some(
                        v.next_change
                            .map_or(start + after, |n| n.min(start + after)),
                    );
                    return v;
                }
                let exit = Exit {
                    code,
                    started: start,
                    finished: start + after,
                };
                return ContainerView {
                    ready: false,
                    ready_since: exit.finished,
                    state: State::Terminated(exit),
                    last: None,
                    restart_count: 0,
                    next_change: None,
                };
            }
            // Cycle k: runs [s_k, s_k + after), then backs off for backoff(k).
            let mut s = start;
            let mut k = 0u32;
            loop {
                let exit_at = s + after;
                let restart_at = exit_at + backoff(k);
                let last = (k > 0).then(|| {
                    let prev_start = s - backoff(k - 1) - after;
                    Exit {
                        code,
                        started: prev_start,
                        finished: prev_start + after,
                    }
                });
                if t < exit_at {
                    let mut v = running(s, ready_delay, t, k, last);
                    v.next_change = Some(v.next_change.map_or(exit_at, |n| n.min(exit_at)));
                    return v;
                }
                if t < restart_at || k > 100_000 {
                    return ContainerView {
                        state: State::Waiting {
                            reason: "CrashLoopBackOff",
                            backoff: Some(backoff(k)),
                        },
                        last: Some(Exit {
                            code,
                            started: s,
                            finished: exit_at,
                        }),
                        ready: false,
                        ready_since: exit_at,
                        restart_count: k,
                        next_change: Some(restart_at),
                    };
                }
                // Once the back-off is capped every cycle has the same length: skip ahead.
                if backoff(k) == backoff(k + 1) && t >= restart_at + after + backoff(k) {
                    let cycle = after + backoff(k);
                    let skip = ((t - restart_at).as_nanos() / cycle.as_nanos().max(1)) as u32;
                    let skip = skip.saturating_sub(1);
                    s = restart_at + cycle * skip;
                    k += 1 + skip;
                    continue;
                }
                s = restart_at;
                k += 1;
            }
        }
    }
}

fn running(
    since: Duration,
    ready_delay: Duration,
    t: Duration,
    restarts: u32,
    last: Option<Exit>,
) -> ContainerView {
    let ready_at = since + ready_delay;
    let ready = t >= ready_at;
    ContainerView {
        state: State::Running { since },
        last,
        ready,
        ready_since: if ready { ready_at } else { since },
        restart_count: restarts,
        next_change: (!ready).then_some(ready_at),
    }
}

/// The readiness delay of a container: its readiness probe's `initialDelaySeconds`.
pub fn ready_delay(c: &Container) -> Duration {
    let secs = c
        .readiness_probe
        .as_ref()
        .and_then(|p| p.initial_delay_seconds)
        .unwrap_or(0)
        .max(0);
    Duration::from_secs(secs as u64)
}

/// The pod at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    pub phase: &'static str,
    /// Init containers, in spec order.
    pub init: Vec<ContainerView>,
    /// Regular containers, in spec order.
    pub containers: Vec<ContainerView>,
    /// When all init containers completed, if they did.
    pub initialized_at: Option<Duration>,
    /// When anything in this view next changes on its own.
    pub next_change: Option<Duration>,
}

/// The pod `t` after the kubelet took it.
pub fn pod_at(pod: &Pod, t: Duration) -> PodView {
    let empty = Vec::new();
    let spec = pod.spec.as_ref();
    let policy = conventions::restart_policy(pod);
    let init_policy = if policy == "Never" {
        "Never"
    } else {
        "OnFailure"
    };
    let delay = conventions::start_delay(pod);
    let mut next: Option<Duration> = None;
    let mut bump = |n: Option<Duration>| {
        if let Some(n) = n {
            next = Some(next.map_or(n, |m: Duration| m.min(n)));
        }
    };
    let mut cursor = Some(delay);
    let mut init = Vec::new();
    let mut init_failed = false;
    for c in spec
        .map(|s| s.init_containers.as_ref().unwrap_or(&empty))
        .unwrap_or(&empty)
    {
        let Some(start) = cursor else {
            init.push(ContainerView::waiting("PodInitializing", None));
            continue;
        };
        let v = container_at(
            conventions::behavior(pod, c, true),
            init_policy,
            start,
            Duration::ZERO,
            t,
        );
        bump(v.next_change);
        cursor = match v.finished() {
            Some(e) if e.code == 0 => Some(e.finished + delay),
            Some(_) => {
                init_failed = true;
                None
            }
            None => None,
        };
        init.push(v);
    }
    let initialized_at = cursor.map(|c| c.saturating_sub(delay));
    let mut containers = Vec::new();
    for c in spec.map(|s| &s.containers).unwrap_or(&empty) {
        let v = match cursor {
            Some(start) => container_at(
                conventions::behavior(pod, c, false),
                policy,
                start,
                ready_delay(c),
                t,
            ),
            None => ContainerView::waiting("PodInitializing", None),
        };
        bump(v.next_change);
        containers.push(v);
    }
    let phase = if init_failed {
        "Failed"
    } else if cursor.is_none() {
        "Pending"
    } else if !containers.is_empty() && containers.iter().all(|c| c.finished().is_some()) {
        if containers
            .iter()
            .all(|c| c.finished().is_some_and(|e| e.code == 0))
        {
            "Succeeded"
        } else {
            "Failed"
        }
    } else if containers.iter().any(|c| !c.has_run()) {
        "Pending"
    } else {
        "Running"
    };
    PodView {
        phase,
        init,
        containers,
        initialized_at,
        next_change: next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn runs_and_becomes_ready_after_probe_delay() {
        let v = container_at(Behavior::RunsForever, "Always", S(1), S(5), S(0));
        assert_eq!(
            v.state,
            State::Waiting {
                reason: "ContainerCreating",
                backoff: None
            }
        );
        assert_eq!(v.next_change, Some(S(1)));
        let v = container_at(Behavior::RunsForever, "Always", S(1), S(5), S(3));
        assert_eq!(v.state, State::Running { since: S(1) });
        assert!(!v.ready);
        assert_eq!(v.next_change, Some(S(6)));
        let v = container_at(Behavior::RunsForever, "Always", S(1), S(5), S(6));
        assert!(v.ready);
        assert_eq!(v.next_change, None);
    }

    #[test]
    fn crash_loop_backs_off_10_20_40() {
        let b = Behavior::Exits {
            after: S(2),
            code: 1,
        };
        // Runs [1,3), backs off 10s, runs [13,15), backs off 20s, runs [35,37), backs off 40s.
        let at = |t| container_at(b, "Always", S(1), S(0), S(t));
        assert!(matches!(at(2).state, State::Running { .. }));
        let v = at(5);
        assert_eq!(
            v.state,
            State::Waiting {
                reason: "CrashLoopBackOff",
                backoff: Some(S(10))
            }
        );
        assert_eq!(v.restart_count, 0);
        assert_eq!(
            v.last.as_ref().map(|e| (e.started, e.finished)),
            Some((S(1), S(3)))
        );
        assert_eq!(v.next_change, Some(S(13)));
        let v = at(14);
        assert_eq!(
            (v.state.clone(), v.restart_count),
            (State::Running { since: S(13) }, 1)
        );
        assert_eq!(v.last.as_ref().map(|e| e.started), Some(S(1)));
        let v = at(20);
        assert_eq!(
            v.state,
            State::Waiting {
                reason: "CrashLoopBackOff",
                backoff: Some(S(20))
            }
        );
        assert_eq!(at(36).restart_count, 2);
        assert_eq!(
            at(50).state,
            State::Waiting {
                reason: "CrashLoopBackOff",
                backoff: Some(S(40))
            }
        );
    }

    #[test]
    fn crash_loop_skips_ahead_when_capped() {
        let b = Behavior::Exits {
            after: S(2),
            code: 1,
        };
        let day = container_at(b, "Always", S(0), S(0), S(86_400));
        // Cycles 0-4 take 12+22+42+82+162 = 320s; after that every cycle is 2s + 300s.
        assert_eq!(day.restart_count, 5 + (86_400 - 320) / 302);
        let step = container_at(b, "Always", S(0), S(0), S(86_400 + 302));
        assert_eq!(step.restart_count, day.restart_count + 1);
    }

    #[test]
    fn run_to_completion_without_restart() {
        let b = Behavior::Exits {
            after: S(3),
            code: 0,
        };
        let v = container_at(b, "Never", S(1), S(0), S(2));
        assert!(matches!(v.state, State::Running { .. }));
        assert_eq!(v.next_change, Some(S(4)));
        let v = container_at(b, "OnFailure", S(1), S(0), S(9));
        assert_eq!(
            v.finished().map(|e| (e.code, e.reason())),
            Some((0, "Completed"))
        );
    }

    #[test]
    fn image_pull_errors_alternate() {
        let at = |t| container_at(Behavior::NeverPulls, "Always", S(1), S(0), S(t)).state;
        assert_eq!(
            at(2),
            State::Waiting {
                reason: "ErrImagePull",
                backoff: Some(S(10))
            }
        );
        assert_eq!(
            at(5),
            State::Waiting {
                reason: "ImagePullBackOff",
                backoff: Some(S(10))
            }
        );
        assert_eq!(
            at(13),
            State::Waiting {
                reason: "ErrImagePull",
                backoff: Some(S(20))
            }
        );
        assert_eq!(
            at(16),
            State::Waiting {
                reason: "ImagePullBackOff",
                backoff: Some(S(20))
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn timeline_is_monotonic(after in 0u64..100, t1 in 0u64..100_000, dt in 0u64..10_000, code in 0i32..3) {
            let b = Behavior::Exits { after: S(after), code };
            let a = container_at(b, "Always", S(1), S(0), S(t1));
            let z = container_at(b, "Always", S(1), S(0), S(t1 + dt));
            proptest::prop_assert!(z.restart_count >= a.restart_count);
            if let Some(n) = a.next_change { proptest::prop_assert!(n > S(t1)); }
        }
    }
}
