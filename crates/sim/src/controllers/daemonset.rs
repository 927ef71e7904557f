//! Placeholder.
use std::sync::Arc;
use std::time::Instant;
use crate::engine::{Ctx, Reconcile};
/// Controller state.
#[derive(Default)]
pub(crate) struct DaemonSets;
impl Reconcile for DaemonSets {
    const NAME: &'static str = "daemonset";
    async fn pass(&mut self, _ctx: &Arc<Ctx>) -> Option<Instant> { None }
}
