//! Synthetic, deterministic container logs for `pods/log`: every container instance writes a
//! few start-up lines, then one line every few simulated seconds, all derived from the pod's uid,
//! the container name and the instance's restart count, so the same request gives the same lines.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::Stream;
use serde_json::Value;

use crate::hash::fnv64a;

/// Most lines returned when the request does not limit them.
const MAX_LINES: u64 = 10_000;

/// The `pods/log` query options the simulation understands.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// `previous`: the log of the previous (crashed) instance.
    pub previous: bool,
    /// `timestamps`: prefix every line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// `tailLines`.
    pub tail_lines: Option<i64>,
    /// `sinceSeconds`.
    pub since_seconds: Option<i64>,
    /// `sinceTime`.
    pub since_time: Option<DateTime<Utc>>,
    /// `limitBytes`.
    pub limit_bytes: Option<i64>,
    /// The simulation's time scale (lines come faster when time is sped up).
    pub time_scale: f64,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            previous: false,
            timestamps: false,
            tail_lines: None,
            since_seconds: None,
            since_time: None,
            limit_bytes: None,
            time_scale: 1.0,
        }
    }
}

/// Why there is no log to show, with kube's messages (the API server answers 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    /// The pod has no such container.
    #[error("container {container} is not valid for pod {pod}")]
    NoSuchContainer {
        /// Container name.
        container: String,
        /// Pod name.
        pod: String,
    },
    /// The container has not started yet.
    #[error("container \"{container}\" in pod \"{pod}\" is waiting to start: {reason}")]
    NotStarted {
        /// Container name.
        container: String,
        /// Pod name.
        pod: String,
        /// Waiting reason.
        reason: String,
    },
    /// `previous` was asked for but the container never exited.
    #[error("previous terminated container \"{container}\" in pod \"{pod}\" not found")]
    NoPrevious {
        /// Container name.
        container: String,
        /// Pod name.
        pod: String,
    },
}

/// One container instance whose log is shown.
#[derive(Clone, Debug)]
struct Instance {
    key: String,
    image: String,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    exit_code: Option<i64>,
    interval: Duration,
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn instance(pod: &Value, container: &str, opts: &LogOptions) -> Result<Instance, LogError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    let statuses = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|k| pod["status"][*k].as_array())
        .flatten()
        .find(|s| s["name"] == container);
    let in_spec = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod["spec"][*k].as_array())
        .flatten()
        .any(|c| c["name"] == container);
    let not_started = |reason: &str| LogError::NotStarted {
        container: container.into(),
        pod: pod_name.clone(),
        reason: reason.into(),
    };
    let Some(status) = statuses else {
        return Err(if in_spec {
            not_started("ContainerCreating")
        } else {
            LogError::NoSuchContainer {
                container: container.into(),
                pod: pod_name.clone(),
            }
        });
    };
    let restarts = status["restartCount"].as_u64().unwrap_or(0);
    let state = &status["state"];
    let last = &status["lastState"]["terminated"];
    let (which, restart) = if opts.previous {
        if last.is_object() {
            (
                last,
                restarts.saturating_sub(if state["running"].is_object() { 1 } else { 0 }),
            )
        } else {
            return Err(LogError::NoPrevious {
                container: container.into(),
                pod: pod_name.clone(),
            });
        }
    } else if state["running"].is_object() {
        (&state["running"], restarts)
    } else if state["terminated"].is_object() {
        (&state["terminated"], restarts)
    } else if last.is_object() {
        (last, restarts)
    } else {
        return Err(not_started(
            state["waiting"]["reason"]
                .as_str()
                .unwrap_or("ContainerCreating"),
        ));
    };
    let start = ts(&which["startedAt"]).ok_or_else(|| not_started("ContainerCreating"))?;
    let key = format!("{uid}/{container}/{restart}");
    let scale = if opts.time_scale.is_finite() && opts.time_scale > 0.0 {
        opts.time_scale
    } else {
        1.0
    };
    let sim_interval = 2.0 + (fnv64a(key.as_bytes()) % 4) as f64;
    Ok(Instance {
        image: status["image"].as_str().unwrap_or("").to_string(),
        start,
        end: ts(&which["finishedAt"]),
        exit_code: which["exitCode"].as_i64(),
        interval: Duration::from_secs_f64(sim_interval / scale),
        key,
    })
}

const PATHS: [&str; 6] = [
    "/",
    "/healthz",
    "/api/v1/items",
    "/api/v1/items/42",
    "/static/app.js",
    "/login",
];

fn line_text(inst: &Instance, k: u64, at: DateTime<Utc>, last: bool) -> String {
    let h = fnv64a(format!("{}/{k}", inst.key).as_bytes());
    let image = inst.image.to_ascii_lowercase();
    if last && let Some(code) = inst.exit_code {
        return if code == 0 {
            "completed successfully, exiting".to_string()
        } else {
            format!("fatal: simulated failure, exiting with code {code}")
        };
    }
    let web = image.contains("nginx") || image.contains("httpd");
    match (k, web) {
        (0, true) => "/docker-entrypoint.sh: Configuration complete; ready for start up".into(),
        (1, true) => "nginx: using the \"epoll\" event method".into(),
        (2, true) => "nginx: start worker processes".into(),
        (0, false) => format!(
            "starting {} (simulated by orrery)",
            if inst.image.is_empty() {
                "container"
            } else {
                &inst.image
            }
        ),
        (1, false) => "loaded configuration".into(),
        (2, false) => "listening on :8080".into(),
        (_, true) => format!(
            "10.244.{}.{} - - [{}] \"GET {} HTTP/1.1\" 200 {} \"-\" \"kube-probe/1.33\" \"-\"",
            h % 8,
            2 + (h >> 8) % 250,
            at.format("%d/%b/%Y:%H:%M:%S +0000"),
            PATHS[((h >> 16) % PATHS.len() as u64) as usize],
            200 + (h >> 24) % 4000
        ),
        (_, false) => format!(
            "level=info msg=\"handled request\" path={} status=200 duration_ms={}",
            PATHS[((h >> 16) % PATHS.len() as u64) as usize],
            1 + (h >> 24) % 250
        ),
    }
}

fn render(inst: &Instance, k: u64, total: u64, timestamps: bool) -> String {
    let at = line_time(inst, k);
    let text = line_text(inst, k, at, inst.end.is_some() && k + 1 == total);
    if timestamps {
        format!("{} {text}", at.to_rfc3339_opts(SecondsFormat::Nanos, true))
    } else {
        text
    }
}

fn line_time(inst: &Instance, k: u64) -> DateTime<Utc> {
    inst.start + chrono::Duration::from_std(inst.interval.mul_f64(k as f64)).unwrap_or_default()
}

/// How many lines the instance has written by `now`.
fn written_by(inst: &Instance, now: DateTime<Utc>) -> u64 {
    let end = inst.end.map_or(now, |e| e.min(now));
    let elapsed = (end - inst.start).to_std().unwrap_or_default();
    let n = (elapsed.as_secs_f64() / inst.interval.as_secs_f64().max(1e-9)).floor() as u64 + 1;
    if inst.end.is_some_and(|e| e <= now) {
        n + 1
    } else {
        n
    }
}

fn first_line(inst: &Instance, total: u64, opts: &LogOptions, now: DateTime<Utc>) -> u64 {
    let mut first = total.saturating_sub(MAX_LINES);
    let since = opts.since_time.or_else(|| {
        opts.since_seconds
            .map(|s| now - chrono::Duration::seconds(s.max(0)))
    });
    if let Some(since) = since {
        let after = (since - inst.start).to_std().unwrap_or_default();
        first =
            first.max((after.as_secs_f64() / inst.interval.as_secs_f64().max(1e-9)).ceil() as u64);
    }
    if let Some(t) = opts.tail_lines {
        first = first.max(total.saturating_sub(t.max(0) as u64));
    }
    first
}

/// The log lines of `container` in `pod` (a Pod as JSON) up to `now`, honouring `tailLines`,
/// `sinceSeconds`/`sinceTime`, `previous`, `timestamps` and `limitBytes`.
pub fn log_lines(
    pod: &Value,
    container: &str,
    opts: &LogOptions,
    now: DateTime<Utc>,
) -> Result<Vec<String>, LogError> {
    let inst = instance(pod, container, opts)?;
    let total = written_by(&inst, now);
    let mut out = Vec::new();
    let mut bytes = 0i64;
    for k in first_line(&inst, total, opts, now)..total {
        let line = render(&inst, k, total, opts.timestamps);
        bytes += line.len() as i64 + 1;
        if opts.limit_bytes.is_some_and(|l| bytes > l) {
            break;
        }
        out.push(line);
    }
    Ok(out)
}

/// `follow=true`: the lines so far, then each new line when the simulated container writes
/// it, until the instance exits (as given in `pod`) or the receiver is dropped.
pub fn follow_stream(
    pod: Value,
    container: String,
    opts: LogOptions,
) -> Result<impl Stream<Item = String> + Send, LogError> {
    let inst = instance(&pod, &container, &opts)?;
    Ok(async_stream::stream! {
        let now = Utc::now();
        let total = written_by(&inst, now);
        for k in first_line(&inst, total, &opts, now)..total {
            yield render(&inst, k, total, opts.timestamps);
        }
        if inst.end.is_some() {
            return;
        }
        let mut k = total;
        loop {
            let at = line_time(&inst, k);
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            yield render(&inst, k, u64::MAX, opts.timestamps);
            k += 1;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(state: Value, last: Value, restarts: u64) -> Value {
        json!({
            "metadata": {"name": "web-1", "uid": "u-1"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
            "status": {"containerStatuses": [{"name": "nginx", "image": "nginx:1.27", "restartCount": restarts, "state": state, "lastState": last}]},
        })
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn lines_are_deterministic_and_grow_with_time() {
        let p = pod(
            json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
            json!({}),
            0,
        );
        let o = LogOptions::default();
        let a = log_lines(&p, "nginx", &o, t("2026-01-01T00:01:00Z")).unwrap();
        let b = log_lines(&p, "nginx", &o, t("2026-01-01T00:01:00Z")).unwrap();
        assert_eq!(a, b);
        assert!(a.len() >= 10 && a.len() <= 31, "{}", a.len());
        assert!(a[0].contains("Configuration complete"));
        let later = log_lines(&p, "nginx", &o, t("2026-01-01T00:02:00Z")).unwrap();
        assert!(later.len() > a.len());
        assert_eq!(&later[..a.len()], &a[..]);
    }

    #[test]
    fn tail_since_timestamps_and_limit() {
        let p = pod(
            json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
            json!({}),
            0,
        );
        let now = t("2026-01-01T00:10:00Z");
        let all = log_lines(&p, "nginx", &LogOptions::default(), now).unwrap();
        let tail = log_lines(
            &p,
            "nginx",
            &LogOptions {
                tail_lines: Some(3),
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(tail, all[all.len() - 3..].to_vec());
        let since = log_lines(
            &p,
            "nginx",
            &LogOptions {
                since_seconds: Some(30),
                timestamps: true,
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert!(!since.is_empty() && since.len() < 20);
        for l in &since {
            let stamp = t(l.split(' ').next().unwrap());
            assert!(stamp >= t("2026-01-01T00:09:30Z"));
        }
        let limited = log_lines(
            &p,
            "nginx",
            &LogOptions {
                limit_bytes: Some(100),
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert!(limited.iter().map(|l| l.len() + 1).sum::<usize>() <= 100);
    }

    #[test]
    fn previous_instance_and_errors() {
        let crashed = pod(
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            json!({"terminated": {"startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:20Z", "exitCode": 1}}),
            2,
        );
        let now = t("2026-01-01T01:00:00Z");
        let prev = log_lines(
            &crashed,
            "nginx",
            &LogOptions {
                previous: true,
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert!(prev.last().unwrap().contains("exiting with code 1"));
        assert!(prev.len() < 15);
        let fresh = pod(
            json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
            json!({}),
            0,
        );
        assert!(matches!(
            log_lines(
                &fresh,
                "nginx",
                &LogOptions {
                    previous: true,
                    ..Default::default()
                },
                now
            ),
            Err(LogError::NoPrevious { .. })
        ));
        assert!(matches!(
            log_lines(&fresh, "other", &LogOptions::default(), now),
            Err(LogError::NoSuchContainer { .. })
        ));
        let waiting = pod(
            json!({"waiting": {"reason": "ImagePullBackOff"}}),
            json!({}),
            0,
        );
        assert_eq!(
            log_lines(&waiting, "nginx", &LogOptions::default(), now)
                .unwrap_err()
                .to_string(),
            "container \"nginx\" in pod \"web-1\" is waiting to start: ImagePullBackOff"
        );
    }

    #[test]
    fn time_scale_speeds_lines_up() {
        let p = pod(
            json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
            json!({}),
            0,
        );
        let now = t("2026-01-01T00:01:00Z");
        let slow = log_lines(&p, "nginx", &LogOptions::default(), now)
            .unwrap()
            .len();
        let fast = log_lines(
            &p,
            "nginx",
            &LogOptions {
                time_scale: 10.0,
                ..Default::default()
            },
            now,
        )
        .unwrap()
        .len();
        assert!(fast > slow * 8, "{fast} vs {slow}");
    }

    #[tokio::test]
    async fn follow_yields_new_lines_over_time() {
        use futures::StreamExt;
        let start = Utc::now() - chrono::Duration::seconds(1);
        let p = pod(
            json!({"running": {"startedAt": start.to_rfc3339()}}),
            json!({}),
            0,
        );
        let s = follow_stream(
            p,
            "nginx".into(),
            LogOptions {
                time_scale: 50.0,
                ..Default::default()
            },
        )
        .unwrap();
        let got: Vec<String> = tokio::time::timeout(Duration::from_secs(5), s.take(40).collect())
            .await
            .unwrap();
        assert_eq!(got.len(), 40);
    }

    proptest::proptest! {
        #[test]
        fn hostile_pods_never_panic(name in ".{0,10}", started in ".{0,30}", tail in proptest::option::of(-5i64..50), since in proptest::option::of(-5i64..5000)) {
            let p = json!({"metadata": {"name": name}, "status": {"containerStatuses": [{"name": "c", "state": {"running": {"startedAt": started}}}]}});
            let o = LogOptions { tail_lines: tail, since_seconds: since, ..Default::default() };
            let _ = log_lines(&p, "c", &o, Utc::now());
        }
    }
}
