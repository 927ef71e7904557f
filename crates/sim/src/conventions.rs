//! The documented conventions that make simulated containers fail or finish (see `README.md`).
//!
//! Everything here is a pure function of the pod spec, so a pod behaves the same in every run.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::clock::parse_duration;

/// Pod annotation: how long each regular container runs before it exits (Go duration).
pub const ANN_DURATION: &str = "sim.orrery.io/duration";
/// Pod annotation: the exit code containers exit with when they finish (default 0).
pub const ANN_EXIT_CODE: &str = "sim.orrery.io/exit-code";
/// Pod annotation: how long pulling and creating each container takes (default 1s).
pub const ANN_START_DELAY: &str = "sim.orrery.io/start-delay";
/// Pod annotation: how long containers take to stop after deletion (default 1s, at most the
/// grace period).
pub const ANN_SHUTDOWN: &str = "sim.orrery.io/shutdown-delay";

/// How long a Job's container runs when the pod does not say (simulated time).
pub const DEFAULT_RUN_TO_COMPLETION: Duration = Duration::from_secs(3);
/// How long a crash-looping container runs before it crashes.
pub const CRASH_AFTER: Duration = Duration::from_secs(2);
/// How long an init container runs.
pub const INIT_RUN: Duration = Duration::from_secs(1);
/// Default time to pull and create a container.
pub const DEFAULT_START_DELAY: Duration = Duration::from_secs(1);
/// Default time containers take to stop.
pub const DEFAULT_SHUTDOWN: Duration = Duration::from_secs(1);

/// What a container does once started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Its image never pulls (`ErrImagePull` ↔ `ImagePullBackOff`).
    NeverPulls,
    /// Runs until the pod is deleted.
    RunsForever,
    /// Runs for a while, then exits with a code; the restart policy decides what follows.
    Exits {
        /// How long it runs (simulated).
        after: Duration,
        /// Its exit code.
        code: i32,
    },
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// Whether an image reference is one that never pulls: its name contains `notfound` or
/// `doesnotexist`, or its tag is `bad`.
pub fn image_never_pulls(image: &str) -> bool {
    let lower = image.to_ascii_lowercase();
    let last = lower.rsplit('/').next().unwrap_or("");
    lower.contains("notfound") || lower.contains("doesnotexist") || last.ends_with(":bad")
}

/// Whether a container crash-loops: its image contains `crashloop`, or its command, args or an
/// env value contains `CRASH`.
pub fn container_crashes(c: &Container) -> bool {
    let image = c.image.as_deref().unwrap_or("").to_ascii_lowercase();
    if image.contains("crashloop") {
        return true;
    }
    let words = c.command.iter().flatten().chain(c.args.iter().flatten());
    let env = c.env.iter().flatten().filter_map(|e| e.value.as_ref());
    words.chain(env).any(|w| w.contains("CRASH"))
}

/// The pod's restart policy (`Always` when unset).
pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// How a regular (or, with `init`, an init) container of `pod` behaves.
pub fn behavior(pod: &Pod, c: &Container, init: bool) -> Behavior {
    if image_never_pulls(c.image.as_deref().unwrap_or("")) {
        return Behavior::NeverPulls;
    }
    let exit_code = annotation(pod, ANN_EXIT_CODE).and_then(|v| v.trim().parse::<i32>().ok());
    if container_crashes(c) {
        let code = exit_code.filter(|c| *c != 0).unwrap_or(1);
        return Behavior::Exits {
            after: CRASH_AFTER,
            code,
        };
    }
    if init {
        return Behavior::Exits {
            after: INIT_RUN,
            code: 0,
        };
    }
    let duration = annotation(pod, ANN_DURATION).and_then(parse_duration);
    match (duration, restart_policy(pod)) {
        (Some(after), _) => Behavior::Exits {
            after,
            code: exit_code.unwrap_or(0),
        },
        (None, "Never" | "OnFailure") => Behavior::Exits {
            after: DEFAULT_RUN_TO_COMPLETION,
            code: exit_code.unwrap_or(0),
        },
        (None, _) => Behavior::RunsForever,
    }
}

/// How long pulling and creating a container of `pod` takes (simulated).
pub fn start_delay(pod: &Pod) -> Duration {
    annotation(pod, ANN_START_DELAY)
        .and_then(parse_duration)
        .unwrap_or(DEFAULT_START_DELAY)
}

/// How long the containers of a deleted pod take to stop (simulated): the annotation or 1s,
/// never more than the grace period.
pub fn shutdown_delay(pod: &Pod) -> Duration {
    let wanted = annotation(pod, ANN_SHUTDOWN)
        .and_then(parse_duration)
        .unwrap_or(DEFAULT_SHUTDOWN);
    let grace = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30)
        .max(0);
    wanted.min(Duration::from_secs(grace as u64))
}

/// The kubelet's back-off before restart `n` (0-based): 10s, 20s, 40s … capped at 5 minutes.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs(10u64.saturating_mul(1u64 << n.min(16)).min(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EnvVar, PodSpec};
    use std::collections::BTreeMap;

    fn pod(restart: &str, ann: &[(&str, &str)], c: Container) -> Pod {
        Pod {
            metadata: kube::api::ObjectMeta {
                annotations: Some(
                    ann.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..Default::default()
            },
            spec: Some(PodSpec {
                restart_policy: Some(restart.into()),
                containers: vec![c],
                ..Default::default()
            }),
            status: None,
        }
    }

    fn container(image: &str) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            ..Default::default()
        }
    }

    #[test]
    fn images_that_never_pull() {
        assert!(image_never_pulls("nginx:bad"));
        assert!(image_never_pulls("registry.local/doesnotexist"));
        assert!(image_never_pulls("example.com/NotFound/app:1"));
        assert!(!image_never_pulls("nginx:1.27"));
        assert!(!image_never_pulls("bad/nginx:1.27"));
    }

    #[test]
    fn crash_markers() {
        let mut c = container("busybox");
        assert!(!container_crashes(&c));
        c.args = Some(vec!["sh".into(), "-c".into(), "exit 1 # CRASH".into()]);
        assert!(container_crashes(&c));
        let mut c = container("busybox");
        c.env = Some(vec![EnvVar {
            name: "MODE".into(),
            value: Some("CRASH".into()),
            value_from: None,
        }]);
        assert!(container_crashes(&c));
        assert!(container_crashes(&container("example/crashloop:1")));
    }

    #[test]
    fn behaviors() {
        let p = pod("Always", &[], container("nginx"));
        assert_eq!(
            behavior(&p, &p.spec.as_ref().unwrap().containers[0], false),
            Behavior::RunsForever
        );
        let p = pod("Never", &[], container("busybox"));
        assert_eq!(
            behavior(&p, &p.spec.as_ref().unwrap().containers[0], false),
            Behavior::Exits {
                after: DEFAULT_RUN_TO_COMPLETION,
                code: 0
            }
        );
        let p = pod(
            "Never",
            &[(ANN_DURATION, "30s"), (ANN_EXIT_CODE, "3")],
            container("busybox"),
        );
        assert_eq!(
            behavior(&p, &p.spec.as_ref().unwrap().containers[0], false),
            Behavior::Exits {
                after: Duration::from_secs(30),
                code: 3
            }
        );
        let p = pod("Always", &[], container("nginx:bad"));
        assert_eq!(
            behavior(&p, &p.spec.as_ref().unwrap().containers[0], false),
            Behavior::NeverPulls
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let secs: Vec<u64> = (0..7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(1000).as_secs(), 300);
    }
}
