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
use crate::engine::{Ctx, Reconcile};
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
        let mut next: Option<Instant> = None;
        let mut wake = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        for job in jobs {
            let ns = job.namespace().unwrap_or_default();
            let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
            let spec = job.spec.clone().unwrap_or_default();
            if job.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if finished(&job).is_some() {
                if let (Some(ttl), Some(done)) = (
                    spec.ttl_seconds_after_finished,
                    job.status
                        .as_ref()
                        .and_then(|s| s.completion_time.as_ref().or(s.start_time.as_ref())),
                ) {
                    let at = crate::clock::from_k8s(&done.0)
                        + chrono::Duration::from_std(
                            ctx.clock.real(Duration::from_secs(ttl.max(0) as u64)),
                        )
                        .unwrap_or_default();
                    if ctx.clock.wall_now() >= at {
                        let dp = DeleteParams {
                            propagation_policy: Some(PropagationPolicy::Background),
                            ..Default::default()
                        };
                        let _ = api.delete(&job.name_any(), &dp).await;
                    } else {
                        wake(ctx.clock.instant_at(at));
                    }
                }
                continue;
            }
            let uid = job.uid().unwrap_or_default();
            let empty = Vec::new();
            let owned = by_owner.get(&uid).unwrap_or(&empty);
            let names: HashSet<String> = owned.iter().map(|p| p.name_any()).collect();
            if !self.expectations.satisfied(&uid, |n| names.contains(n)) {
                wake(Instant::now() + Duration::from_secs(1));
                continue;
            }
            let active: Vec<&Arc<Pod>> = owned.iter().filter(|p| is_active(p)).collect();
            let succeeded = owned.iter().filter(|p| phase(p) == "Succeeded").count() as i32;
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
            let failed = owned.iter().filter(|p| phase(p) == "Failed").count() as i32 + restarts;
            let parallelism = spec.parallelism.unwrap_or(1).max(0);
            let backoff_limit = spec.backoff_limit.unwrap_or(6);
            let now = now_ts();
            let start = job
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| crate::clock::from_k8s(&t.0));
            let deadline_hit = match (spec.active_deadline_seconds, start) {
                (Some(secs), Some(s)) => {
                    let at = s + chrono::Duration::from_std(
                        ctx.clock.real(Duration::from_secs(secs.max(0) as u64)),
                    )
                    .unwrap_or_default();
                    if ctx.clock.wall_now() < at {
                        wake(ctx.clock.instant_at(at));
                    }
                    ctx.clock.wall_now() >= at
                }
                _ => false,
            };
            let complete = match spec.completions {
                Some(c) => succeeded >= c,
                None => succeeded >= 1 && active.is_empty(),
            };
            let mut conditions: Vec<Value> = Vec::new();
            let mut completion_time = None;
            let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            let failure = if failed > backoff_limit {
                Some((
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ))
            } else if deadline_hit {
                Some((
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                ))
            } else {
                None
            };
            let suspended = spec.suspend.unwrap_or(false);
            if let Some((reason, message)) = failure {
                for p in &active {
                    let _ = pods_api
                        .delete(&p.name_any(), &DeleteParams::default())
                        .await;
                }
                conditions.push(cond("FailureTarget", reason, message, &now));
                conditions.push(cond("Failed", reason, message, &now));
                ctx.events.warning(
                    COMPONENT,
                    Involved::of(job.as_ref()),
                    reason,
                    message.to_string(),
                );
            } else if complete {
                conditions.push(cond(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &now,
                ));
                conditions.push(cond(
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &now,
                ));
                completion_time = Some(now.clone());
                ctx.events.normal(
                    COMPONENT,
                    Involved::of(job.as_ref()),
                    "Completed",
                    "Job completed".into(),
                );
            } else if suspended {
                for p in &active {
                    let _ = pods_api
                        .delete(&p.name_any(), &DeleteParams::default())
                        .await;
                }
                conditions.push(cond("Suspended", "JobSuspended", "Job suspended", &now));
            } else {
                let want = match spec.completions {
                    Some(c) => parallelism.min(c - succeeded),
                    None if succeeded > 0 => 0,
                    None => parallelism,
                };
                let missing = (want - active.len() as i32).max(0);
                {
                    let template = &spec.template;
                    for _ in 0..missing {
                        let labels = [
                            ("batch.kubernetes.io/controller-uid", uid.clone()),
                            ("batch.kubernetes.io/job-name", job.name_any()),
                            ("controller-uid", uid.clone()),
                            ("job-name", job.name_any()),
                        ];
                        let pod = pod_from_template(
                            template,
                            &ns,
                            owner_ref(job.as_ref()),
                            None,
                            Some(&format!("{}-", job.name_any())),
                            &labels,
                        );
                        match create_json(&pods_api, pod).await {
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
                                wake(Instant::now() + Duration::from_secs(2));
                                break;
                            }
                        }
                    }
                }
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
            let ended = failure.is_some() || complete;
            let mut status = json!({
                "active": if ended { 0 } else { active.len() },
                "ready": if ended { 0 } else { active.iter().filter(|p| is_ready(p)).count() },
                "succeeded": succeeded,
                "failed": failed,
                "terminating": 0,
                "startTime": start.map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or(now.clone()),
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
            write_status(&api, job.as_ref(), current, status).await;
        }
        next
    }
}
