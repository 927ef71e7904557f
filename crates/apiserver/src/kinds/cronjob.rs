//! CronJob.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `CronJob` kind.
pub struct CronJob;

const COLUMNS: &[Col] = &[
    c("Name"),
    c("Schedule"),
    c("Timezone"),
    c("Suspend"),
    int("Active"),
    c("Last Schedule"),
    c("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

impl Kind for CronJob {
    fn spec(&self) -> Spec {
        spec("batch", "v1", "cronjobs", "CronJob")
            .short(&["cj"])
            .all()
            .status()
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        let (cs, is) =
            containers_images(s(obj, &["spec", "jobTemplate", "spec", "template", "spec"]));
        let last = s(obj, &["status", "lastScheduleTime"])
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                crate::table::human_duration(
                    (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds(),
                )
            })
            .unwrap_or_else(|| "<none>".into());
        vec![
            name(obj),
            json!(str_or(obj, &["spec", "schedule"], "")),
            json!(str_or(obj, &["spec", "timeZone"], "<none>")),
            json!(if s(obj, &["spec", "suspend"]) == &Value::Bool(true) {
                "True"
            } else {
                "False"
            }),
            json!(count(obj, &["status", "active"])),
            json!(last),
            age,
            json!(cs),
            json!(is),
            json!(label_selector(s(
                obj,
                &["spec", "jobTemplate", "spec", "selector"]
            ))),
        ]
    }

    fn defaults(&self, obj: &mut Value) {
        let Some(spec) = obj_mut(obj, "spec") else {
            return;
        };
        set_default(spec, "concurrencyPolicy", json!("Allow"));
        set_default(spec, "suspend", json!(false));
        set_default(spec, "successfulJobsHistoryLimit", json!(3));
        set_default(spec, "failedJobsHistoryLimit", json!(1));
    }
}
