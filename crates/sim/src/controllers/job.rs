//! Job: runs pods until `completions` succeed (at most `parallelism` at once), fails the Job
//! past `backoffLimit` or `activeDeadlineSeconds`, and reports kube 1.33's conditions
//! (SuccessCriteriaMet/Complete, FailureTarget/Failed) and counts.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use super::{
    Expectations, create_json, is_active, is_ready, keep_transition_times, now_ts, owner_ref,
    pod_from_template, pods_by_owner, write_status,
};
use crate::engine::{Ctx, NextWake, Reconcile};
use crate::events::Involved;

const COMPONENT: &str = "job-controller";

/// Job controller state.
#[derive(Default)]
pub(crate) struct Jobs {
    expectations: Expectations,
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Whether a Job has finished (Complete or Failed condition True).
pub fn finished(job: &Job) -> Option<&'static str> {
    let cs = job.status.as_ref()?.conditions.as_ref()?;
    cs.iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some("Complete"),
            "Failed" => Some("Failed"),
            _ => None,
        })
}

fn cond(ty: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": ty, "status": "True", "reason": reason, "message": message, "lastProbeTime": now, "lastTransitionTime": now})
}

impl Reconcile for Jobs {
    const NAME: &'static str = "job";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let pods = ctx.pods.state();
        let by_owner = pods_by_owner(&pods);
        let mut jobs = ctx.jobs.state();
        jobs.sort_by_key(|j| (j.namespace(), j.name_any()));
        let live: HashSet<String> = jobs.iter().filter_map(|j| j.uid()).collect();
        self.expectations.retain(&live);
        let mut wake = NextWake::default();
        for job in jobs {
            let owned = by_owner
                .get(&job.uid().unwrap_or_default())
                .map(Vec::as_slice)
                .unwrap_or_default();
            self.reconcile(ctx, &job, owned, &mut wake).await;
        }
        wake.get()
    }
}

/// What a Job's pods say: the active ones, and how many succeeded and failed (a restart
/// under `OnFailure` counts as a failure).
struct Counts<'a> {
    active: Vec<&'a Arc<Pod>>,
    succeeded: i32,
    failed: i32,
}

impl<'a> Counts<'a> {
    fn of(owned: &'a [Arc<Pod>]) -> Counts<'a> {
        let restarts: i32 = owned
            .iter()
            .filter(|p| {
                p.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) == Some("OnFailure")
            })
            .flat_map(|p| {
                p.status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .map(|c| c.restart_count)
            })
            .sum();
        Counts {
            active: owned.iter().filter(|p| is_active(p)).collect(),
            succeeded: owned.iter().filter(|p| phase(p) == "Succeeded").count() as i32,
            failed: owned.iter().filter(|p| phase(p) == "Failed").count() as i32 + restarts,
        }
    }
}

/// Where a running Job stands this pass.
enum Outcome {
    Failed(&'static str, &'static str),
    Complete,
    Suspended,
    Running,
}

impl Jobs {
    /// Reconciles one Job: expires it after its TTL once finished; otherwise decides its
    /// outcome, creates or deletes pods for it, and writes its status.
    async fn reconcile(
        &mut self,
        ctx: &Arc<Ctx>,
        job: &Arc<Job>,
        owned: &[Arc<Pod>],
        wake: &mut NextWake,
    ) {
        if job.metadata.deletion_timestamp.is_some() {
            return;
        }
        if finished(job).is_some() {
            expire(ctx, job, wake).await;
            return;
        }
        let uid = job.uid().unwrap_or_default();
        let names: HashSet<String> = owned.iter().map(|p| p.name_any()).collect();
        if !self.expectations.satisfied(&uid, |n| names.contains(n)) {
            wake.after(Duration::from_secs(1));
            return;
        }
        let counts = Counts::of(owned);
        let start = job
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| crate::clock::from_k8s(&t.0));
        let outcome = outcome(ctx, job, &counts, start, wake);
        let now = now_ts();
        let pods_api: Api<Pod> =
            Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
        match outcome {
            Outcome::Failed(reason, message) => {
                delete_pods(&pods_api, &counts.active).await;
                ctx.events.warning(
                    COMPONENT,
                    Involved::of(job.as_ref()),
                    reason,
                    message.to_string(),
                );
            }
            Outcome::Complete => ctx.events.normal(
                COMPONENT,
                Involved::of(job.as_ref()),
                "Completed",
                "Job completed".into(),
            ),
            Outcome::Suspended => delete_pods(&pods_api, &counts.active).await,
            Outcome::Running => {
                self.create_missing(ctx, job, &pods_api, &counts, wake)
                    .await
            }
        }
        write_job_status(ctx, job, &counts, start, &outcome, &now).await;
    }

    /// Creates the pods a running Job lacks (up to `parallelism`, short of `completions`).
    async fn create_missing(
        &mut self,
        ctx: &Arc<Ctx>,
        job: &Arc<Job>,
        pods_api: &Api<Pod>,
        counts: &Counts<'_>,
        wake: &mut NextWake,
    ) {
        let spec = job.spec.clone().unwrap_or_default();
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let want = match spec.completions {
            Some(c) => parallelism.min(c - counts.succeeded),
            None if counts.succeeded > 0 => 0,
            None => parallelism,
        };
        let missing = (want - counts.active.len() as i32).max(0);
        let uid = job.uid().unwrap_or_default();
        let ns = job.namespace().unwrap_or_default();
        for _ in 0..missing {
            let labels = [
                ("batch.kubernetes.io/controller-uid", uid.clone()),
                ("batch.kubernetes.io/job-name", job.name_any()),
                ("controller-uid", uid.clone()),
                ("job-name", job.name_any()),
            ];
            let pod = pod_from_template(
                &spec.template,
                &ns,
                owner_ref(job.as_ref()),
                None,
                Some(&format!("{}-", job.name_any())),
                &labels,
            );
            match create_json(pods_api, pod).await {
                Ok(name) => {
                    ctx.events.normal(
                        COMPONENT,
                        Involved::of(job.as_ref()),
                        "SuccessfulCreate",
                        format!("Created pod: {name}"),
                    );
                    self.expectations.created(&uid, name);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "job pod not created");
                    wake.after(Duration::from_secs(2));
                    break;
                }
            }
        }
    }
}

/// Deletes a finished Job (in the background) once `ttlSecondsAfterFinished` has passed.
async fn expire(ctx: &Arc<Ctx>, job: &Arc<Job>, wake: &mut NextWake) {
    let spec = job.spec.clone().unwrap_or_default();
    let (Some(ttl), Some(done)) = (
        spec.ttl_seconds_after_finished,
        job.status
            .as_ref()
            .and_then(|s| s.completion_time.as_ref().or(s.start_time.as_ref())),
    ) else {
        return;
    };
    let at = crate::clock::from_k8s(&done.0)
        + chrono::Duration::from_std(ctx.clock.real(Duration::from_secs(ttl.max(0) as u64)))
            .unwrap_or_default();
    if ctx.clock.wall_now() >= at {
        let api: Api<Job> =
            Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        let _ = api.delete(&job.name_any(), &dp).await;
    } else {
        wake.at(ctx.clock.instant_at(at));
    }
}

/// Failed past `backoffLimit` or `activeDeadlineSeconds`, complete, suspended, or running.
fn outcome(
    ctx: &Ctx,
    job: &Job,
    counts: &Counts<'_>,
    start: Option<chrono::DateTime<chrono::Utc>>,
    wake: &mut NextWake,
) -> Outcome {
    let spec = job.spec.clone().unwrap_or_default();
    let deadline_hit = match (spec.active_deadline_seconds, start) {
        (Some(secs), Some(s)) => {
            let at = s + chrono::Duration::from_std(
                ctx.clock.real(Duration::from_secs(secs.max(0) as u64)),
            )
            .unwrap_or_default();
            if ctx.clock.wall_now() < at {
                wake.at(ctx.clock.instant_at(at));
            }
            ctx.clock.wall_now() >= at
        }
        _ => false,
    };
    let complete = match spec.completions {
        Some(c) => counts.succeeded >= c,
        None => counts.succeeded >= 1 && counts.active.is_empty(),
    };
    if counts.failed > spec.backoff_limit.unwrap_or(6) {
        Outcome::Failed(
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )
    } else if deadline_hit {
        Outcome::Failed(
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        )
    } else if complete {
        Outcome::Complete
    } else if spec.suspend.unwrap_or(false) {
        Outcome::Suspended
    } else {
        Outcome::Running
    }
}

/// Deletes the given pods (failures are retried on a later pass).
async fn delete_pods(api: &Api<Pod>, pods: &[&Arc<Pod>]) {
    for p in pods {
        let _ = api.delete(&p.name_any(), &DeleteParams::default()).await;
    }
}

/// Writes a Job's status: counts, kube 1.33's conditions for its outcome (transition times
/// kept), start and completion times.
async fn write_job_status(
    ctx: &Ctx,
    job: &Arc<Job>,
    counts: &Counts<'_>,
    start: Option<chrono::DateTime<chrono::Utc>>,
    outcome: &Outcome,
    now: &str,
) {
    let mut conditions: Vec<Value> = Vec::new();
    let mut completion_time = None;
    match outcome {
        Outcome::Failed(reason, message) => {
            conditions.push(cond("FailureTarget", reason, message, now));
            conditions.push(cond("Failed", reason, message, now));
        }
        Outcome::Complete => {
            let msg = "Reached expected number of succeeded pods";
            conditions.push(cond("SuccessCriteriaMet", "CompletionsReached", msg, now));
            conditions.push(cond("Complete", "CompletionsReached", msg, now));
            completion_time = Some(now.to_string());
        }
        Outcome::Suspended => {
            conditions.push(cond("Suspended", "JobSuspended", "Job suspended", now));
        }
        Outcome::Running => {}
    }
    let current = job
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok());
    let mut conditions = Value::Array(conditions);
    keep_transition_times(
        current.as_ref().and_then(|c| c.get("conditions")),
        &mut conditions,
    );
    let ended = matches!(outcome, Outcome::Failed(..) | Outcome::Complete);
    let active = &counts.active;
    let mut status = json!({
        "active": if ended { 0 } else { active.len() },
        "ready": if ended { 0 } else { active.iter().filter(|p| is_ready(p)).count() },
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "terminating": 0,
        "startTime": start.map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or(now.to_string()),
        "uncountedTerminatedPods": {},
    });
    if conditions.as_array().is_some_and(|c| !c.is_empty()) {
        status["conditions"] = conditions;
    }
    if let Some(t) = completion_time {
        status["completionTime"] = json!(t);
    } else if let Some(t) = current.as_ref().and_then(|c| c.get("completionTime")) {
        status["completionTime"] = t.clone();
    }
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
    write_status(&api, job.as_ref(), current, status).await;
}
