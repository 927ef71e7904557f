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
use crate::engine::{Ctx, NextWake, Reconcile};
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
        let mut wake = NextWake::default();
        for cj in cjs {
            if cj.metadata.deletion_timestamp.is_some() {
                continue;
            }
            self.reconcile(ctx, &cj, &jobs, &mut wake).await;
        }
        wake.get()
    }
}

/// A Job's name and uid, as a CronJob's `status.active` lists it.
type JobRef = (String, String);

impl CronJobs {
    /// Reconciles one CronJob: notes finished Jobs, starts the Job that is due (by its
    /// concurrency policy), prunes history, writes its status and asks to run at the next
    /// schedule time.
    async fn reconcile(
        &mut self,
        ctx: &Ctx,
        cj: &Arc<CronJob>,
        jobs: &[Arc<Job>],
        wake: &mut NextWake,
    ) {
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
        self.note_finished(ctx, cj, &owned);
        let Ok(cron) = Cron::from_str(&spec.schedule) else {
            ctx.events.warning(
                COMPONENT,
                Involved::of(cj.as_ref()),
                "UnparseableSchedule",
                format!("unparseable schedule: {:?}", spec.schedule),
            );
            return;
        };
        let sim_now = ctx.clock.sim_now();
        let created = cj
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| ctx.clock.to_sim(from_k8s(&t.0)))
            .unwrap_or(sim_now);
        let scheduled = cj
            .status
            .as_ref()
            .and_then(|s| s.last_schedule_time.as_ref())
            .map(|t| from_k8s(&t.0));
        let last = scheduled.unwrap_or(created);
        let active: Vec<&Arc<Job>> = owned
            .iter()
            .copied()
            .filter(|j| finished(j).is_none())
            .collect();
        let mut active_names: Vec<JobRef> = active
            .iter()
            .map(|j| (j.name_any(), j.uid().unwrap_or_default()))
            .collect();
        let mut last_schedule = scheduled;
        if !spec.suspend.unwrap_or(false)
            && let Some(due) = last_due(&cron, last, sim_now)
        {
            start_due(ctx, cj, due, &active, &mut active_names).await;
            last_schedule = Some(due);
        }
        prune_history(ctx, cj, &owned).await;
        write_cron_status(ctx, cj, &owned, &active_names, last_schedule).await;
        let from = last_schedule.unwrap_or(last).max(sim_now);
        if let Ok(n) = cron.find_next_occurrence(&from, false) {
            wake.at(ctx.clock.instant_at(ctx.clock.to_real(n)) + Duration::from_millis(5));
        }
    }

    /// Records a `SawCompletedJob` event once for each Job that finished.
    fn note_finished(&mut self, ctx: &Ctx, cj: &CronJob, owned: &[&Arc<Job>]) {
        for j in owned {
            if let Some(how) = finished(j)
                && self.seen_done.insert(j.uid().unwrap_or_default())
            {
                let msg = format!("Saw completed job: {}, condition: {how}", j.name_any());
                ctx.events
                    .normal(COMPONENT, Involved::of(cj), "SawCompletedJob", msg);
            }
        }
    }
}

/// Starts the Job due at `due` unless its starting deadline passed or the policy forbids it
/// (Replace deletes the active Jobs first); `active_names` follows.
async fn start_due(
    ctx: &Ctx,
    cj: &CronJob,
    due: DateTime<Utc>,
    active: &[&Arc<Job>],
    active_names: &mut Vec<JobRef>,
) {
    let spec = cj.spec.clone().unwrap_or_default();
    let ns = cj.namespace().unwrap_or_default();
    let sim_now = ctx.clock.sim_now();
    let too_late = spec
        .starting_deadline_seconds
        .is_some_and(|d| (sim_now - due).num_seconds() > d);
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if too_late || (policy == "Forbid" && !active.is_empty()) {
        return;
    }
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if policy == "Replace" {
        for j in active {
            let _ = jobs_api.delete(&j.name_any(), &background()).await;
        }
        active_names.clear();
    }
    let jname = job_name(&cj.name_any(), due);
    let mut meta = serde_json::to_value(spec.job_template.metadata.clone().unwrap_or_default())
        .unwrap_or(json!({}));
    meta["name"] = json!(jname);
    meta["namespace"] = json!(ns);
    meta["ownerReferences"] = owner_ref(cj);
    meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] =
        json!(due.to_rfc3339_opts(SecondsFormat::Secs, true));
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec.job_template.spec.clone()});
    match create_json(&jobs_api, job).await {
        Ok(_) => {
            ctx.events.normal(
                COMPONENT,
                Involved::of(cj),
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

/// Delete options that leave the Job's pods to the garbage collector.
fn background() -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    }
}

/// Deletes the oldest finished Jobs beyond `successfulJobsHistoryLimit` and
/// `failedJobsHistoryLimit`.
async fn prune_history(ctx: &Ctx, cj: &CronJob, owned: &[&Arc<Job>]) {
    let spec = cj.spec.clone().unwrap_or_default();
    let jobs_api: Api<Job> =
        Api::namespaced(ctx.client.clone(), &cj.namespace().unwrap_or_default());
    for (want, limit) in [
        ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
        ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
    ] {
        let done: Vec<&&Arc<Job>> = owned.iter().filter(|j| finished(j) == Some(want)).collect();
        let extra = done.len().saturating_sub(limit.max(0) as usize);
        for j in done.iter().take(extra) {
            if jobs_api.delete(&j.name_any(), &background()).await.is_ok() {
                ctx.events.normal(
                    COMPONENT,
                    Involved::of(cj),
                    "SuccessfulDelete",
                    format!("Deleted job {}", j.name_any()),
                );
            }
        }
    }
}

/// Writes `active`, `lastScheduleTime` and `lastSuccessfulTime`.
async fn write_cron_status(
    ctx: &Ctx,
    cj: &CronJob,
    owned: &[&Arc<Job>],
    active_names: &[JobRef],
    last_schedule: Option<DateTime<Utc>>,
) {
    let ns = cj.namespace().unwrap_or_default();
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
    let mut status = json!({});
    if !active_names.is_empty() {
        status["active"] = active_names.iter().map(|(n, u)| json!({"apiVersion": "batch/v1", "kind": "Job", "name": n, "namespace": ns, "uid": u})).collect();
    }
    if let Some(t) = last_schedule {
        status["lastScheduleTime"] = json!(t.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Some(t) = last_success {
        status["lastSuccessfulTime"] = json!(t);
    }
    let current = cj
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok());
    let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
    write_status(&api, cj, current, status).await;
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
