//! Event.

use serde_json::{Value, json};

use super::fields::*;
use super::*;

/// The `Event` kind.
pub struct Event;

const COLUMNS: &[Col] = &[
    c("Last Seen"),
    c("Type"),
    c("Reason"),
    c("Object"),
    c("Message"),
];

impl Kind for Event {
    fn spec(&self) -> Spec {
        spec("", "v1", "events", "Event").short(&["ev"])
    }

    fn columns(&self) -> &'static [Col] {
        COLUMNS
    }

    fn cells(&self, obj: &Value, _age: Value) -> Vec<Value> {
        let last = s(obj, &["lastTimestamp"])
            .as_str()
            .or_else(|| s(obj, &["eventTime"]).as_str());
        let last_seen = last
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                crate::table::human_duration(
                    (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds(),
                )
            })
            .unwrap_or_else(|| "<unknown>".into());
        vec![
            json!(last_seen),
            json!(str_or(obj, &["type"], "")),
            json!(str_or(obj, &["reason"], "")),
            json!(format!(
                "{}/{}",
                str_or(obj, &["involvedObject", "kind"], "").to_ascii_lowercase(),
                str_or(obj, &["involvedObject", "name"], "")
            )),
            json!(str_or(obj, &["message"], "")),
        ]
    }
}

/// `events.k8s.io/v1` Event (the same objects as the core kind, another shape).
pub struct EventsV1;

impl Kind for EventsV1 {
    fn spec(&self) -> Spec {
        spec("events.k8s.io", "v1", "events", "Event").short(&["ev"])
    }
}
