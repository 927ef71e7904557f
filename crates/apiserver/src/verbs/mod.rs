//! The verbs over stored objects: list, watch, create/update/patch (`write`, `patching`,
//! server-side apply in `managed`), delete, and subresources and virtual kinds (`reviews`,
//! `metrics`, `pod_logs`).

pub(crate) mod delete;
pub(crate) mod list;
pub(crate) mod managed;
pub(crate) mod metrics;
pub(crate) mod patching;
pub(crate) mod pod_logs;
pub(crate) mod quota;
pub(crate) mod reviews;
pub(crate) mod subresources;
pub(crate) mod versions;
pub(crate) mod watch;
pub(crate) mod webhooks;
pub(crate) mod write;
