//! CronJob: creates Jobs `<name>-<scheduled time in minutes>` on its schedule in *simulated*
//! time (so a sped-up clock runs schedules faster), honours concurrencyPolicy, suspend and the
//! history limits, and reports `active`, `lastScheduleTime` and `lastSuccessfulTime`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use croner::Cron;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{DeleteParams, PropagationPolicy};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::job::finished;
use super::{controller_uid, create_json, owner_ref, write_status};
use crate::clock::from_k8s;
use crate::engine::{Ctx, Reconcile};
use crate::events::Involved;

const COMPONENT: &str = "cronjob-controller";

/// CronJob controller state.
#[derive(Default)]
pub(crate) struct CronJobs {
    seen_done: std::collections::HashSet<String>,
}

/// The most recent schedule time in `(after, now]`, if any.
pub fn last_due(cron: &Cron, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let first = cron.find_next_occurrence(&after, false).ok()?;
    if first > now {
        return None;
    }
    cron.find_previous_occurrence(&now, true)
        .ok()
        .filter(|t| *t > after)
        .or(Some(first))
}

/// The Job name for a scheduled time: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cronjob: &str, scheduled: DateTime<Utc>) -> String {
    format!("{cronjob}-{}", scheduled.timestamp() / 60)
}

impl Reconcile for CronJobs {
    const NAME: &'static str = "cronjob";

    async fn pass(&mut self, ctx: &Arc<Ctx>) -> Option<Instant> {
        let jobs = ctx.jobs.state();
        let mut cjs = ctx.cronjobs.state();
        cjs.sort_by_key(|c| (c.namespace(), c.name_any()));
        let sim_now = ctx.clock.sim_now();
        let mut next: Option<Instant> = None;
        for cj in cjs {
            if cj.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let ns = cj.namespace().unwrap_or_default();
            let name = cj.name_any();
            let uid = cj.uid().unwrap_or_default();
            let spec = cj.spec.clone().unwrap_or_default();
            let mut owned: Vec<&Arc<Job>> = jobs
                .iter()
                .filter(|j| controller_uid(j.as_ref()) == Some(uid.as_str()))
                .collect();
            owned.sort_by_key(|j| {
                (
                    j.metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| t.0.as_second()),
                    j.name_any(),
                )
            });
            let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
            for j in &owned {
                if let Some(how) = finished(j)
                    && self.seen_done.insert(j.uid().unwrap_or_default())
                {
                    let msg = format!("Saw completed job: {}, condition: {how}", j.name_any());
                    ctx.events
                        .normal(COMPONENT, Involved::of(cj.as_ref()), "SawCompletedJob", msg);
                }
            }
            let active: Vec<&&Arc<Job>> = owned.iter().filter(|j| finished(j).is_none()).collect();
            let Ok(cron) = Cron::from_str(&spec.schedule) else {
                ctx.events.warning(
                    COMPONENT,
                    Involved::of(cj.as_ref()),
                    "UnparseableSchedule",
                    format!("unparseable schedule: {:?}", spec.schedule),
                );
                continue;
            };
            let created = cj
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| ctx.clock.to_sim(from_k8s(&t.0)))
                .unwrap_or(sim_now);
            let last = cj
                .status
                .as_ref()
                .and_then(|s| s.last_schedule_time.as_ref())
                .map(|t| from_k8s(&t.0))
                .unwrap_or(created);
            let mut last_schedule = cj
                .status
                .as_ref()
                .and_then(|s| s.last_schedule_time.as_ref())
                .map(|t| from_k8s(&t.0));
            let mut active_names: Vec<(String, String)> = active
                .iter()
                .map(|j| (j.name_any(), j.uid().unwrap_or_default()))
                .collect();
            if !spec.suspend.unwrap_or(false)
                && let Some(due) = last_due(&cron, last, sim_now)
            {
                let too_late = spec
                    .starting_deadline_seconds
                    .is_some_and(|d| (sim_now - due).num_seconds() > d);
                let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
                let skip = too_late || (policy == "Forbid" && !active.is_empty());
                if !skip {
                    if policy == "Replace" {
                        for j in &active {
                            let dp = DeleteParams {
                                propagation_policy: Some(PropagationPolicy::Background),
                                ..Default::default()
                            };
                            let _ = jobs_api.delete(&j.name_any(), &dp).await;
                        }
                        active_names.clear();
                    }
                    let jname = job_name(&name, due);
                    let mut meta = serde_json::to_value(
                        spec.job_template.metadata.clone().unwrap_or_default(),
                    )
                    .unwrap_or(json!({}));
                    meta["name"] = json!(jname);
                    meta["namespace"] = json!(ns);
                    meta["ownerReferences"] = owner_ref(cj.as_ref());
                    meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] =
                        json!(due.to_rfc3339_opts(SecondsFormat::Secs, true));
                    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec.job_template.spec.clone()});
                    match create_json(&jobs_api, job).await {
                        Ok(_) => {
                            ctx.events.normal(
                                COMPONENT,
                                Involved::of(cj.as_ref()),
                                "SuccessfulCreate",
                                format!("Created job {jname}"),
                            );
                            if let Ok(j) = jobs_api.get(&jname).await {
                                active_names.push((jname, j.uid().unwrap_or_default()));
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "cron job not created"),
                    }
                }
                last_schedule = Some(due);
            }
            // History limits.
            for (want_complete, limit) in [
                (true, spec.successful_jobs_history_limit.unwrap_or(3)),
                (false, spec.failed_jobs_history_limit.unwrap_or(1)),
            ] {
                let done: Vec<&&Arc<Job>> = owned
                    .iter()
                    .filter(|j| {
                        finished(j) == Some(if want_complete { "Complete" } else { "Failed" })
                    })
                    .collect();
                let extra = done.len().saturating_sub(limit.max(0) as usize);
                for j in done.iter().take(extra) {
                    let dp = DeleteParams {
                        propagation_policy: Some(PropagationPolicy::Background),
                        ..Default::default()
                    };
                    if jobs_api.delete(&j.name_any(), &dp).await.is_ok() {
                        ctx.events.normal(
                            COMPONENT,
                            Involved::of(cj.as_ref()),
                            "SuccessfulDelete",
                            format!("Deleted job {}", j.name_any()),
                        );
                    }
                }
            }
            let last_success = owned
                .iter()
                .filter(|j| finished(j) == Some("Complete"))
                .filter_map(|j| {
                    j.status
                        .as_ref()?
                        .completion_time
                        .as_ref()
                        .map(|t| from_k8s(&t.0))
                })
                .max()
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .or_else(|| {
                    cj.status
                        .as_ref()
                        .and_then(|s| s.last_successful_time.as_ref())
                        .map(|t| from_k8s(&t.0).to_rfc3339_opts(SecondsFormat::Secs, true))
                });
            let mut status = json!({
                "active": active_names.iter().map(|(n, u)| json!({"apiVersion": "batch/v1", "kind": "Job", "name": n, "namespace": ns, "uid": u})).collect::<Vec<_>>(),
            });
            if let Some(t) = last_schedule {
                status["lastScheduleTime"] = json!(t.to_rfc3339_opts(SecondsFormat::Secs, true));
            }
            if let Some(t) = last_success {
                status["lastSuccessfulTime"] = json!(t);
            }
            if active_names.is_empty() {
                status["active"] = serde_json::Value::Null;
                if let Some(o) = status.as_object_mut() {
                    o.remove("active");
                }
            }
            let current = cj
                .status
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok());
            let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
            write_status(&api, cj.as_ref(), current, status).await;
            let from = last_schedule.unwrap_or(last).max(sim_now);
            if let Ok(n) = cron.find_next_occurrence(&from, false) {
                let at = ctx.clock.instant_at(ctx.clock.to_real(n)) + Duration::from_millis(5);
                next = Some(next.map_or(at, |m| m.min(at)));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn most_recent_missed_schedule_only() {
        let every_minute = Cron::from_str("* * * * *").unwrap();
        assert_eq!(
            last_due(
                &every_minute,
                t("2026-01-01T00:00:30Z"),
                t("2026-01-01T00:00:59Z")
            ),
            None
        );
        assert_eq!(
            last_due(
                &every_minute,
                t("2026-01-01T00:00:30Z"),
                t("2026-01-01T00:01:00Z")
            ),
            Some(t("2026-01-01T00:01:00Z"))
        );
        assert_eq!(
            last_due(
                &every_minute,
                t("2026-01-01T00:00:30Z"),
                t("2026-01-01T00:05:10Z")
            ),
            Some(t("2026-01-01T00:05:00Z"))
        );
        let hourly = Cron::from_str("@hourly").unwrap();
        assert_eq!(
            last_due(
                &hourly,
                t("2026-01-01T00:00:00Z"),
                t("2026-01-01T02:30:00Z")
            ),
            Some(t("2026-01-01T02:00:00Z"))
        );
    }

    #[test]
    fn job_names_use_scheduled_minutes() {
        assert_eq!(
            job_name("tick", t("2026-01-01T00:01:00Z")),
            format!("tick-{}", t("2026-01-01T00:01:00Z").timestamp() / 60)
        );
    }
}
