//! Placeholder.
use std::sync::Arc;
use std::time::Instant;
use crate::engine::{Ctx, Reconcile};
/// Controller state.
#[derive(Default)]
pub(crate) struct CronJobs;
impl Reconcile for CronJobs {
    const NAME: &'static str = "cronjob";
    async fn pass(&mut self, _ctx: &Arc<Ctx>) -> Option<Instant> { None }
}
