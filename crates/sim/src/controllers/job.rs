//! Placeholder.
use std::sync::Arc;
use std::time::Instant;
use crate::engine::{Ctx, Reconcile};
/// Controller state.
#[derive(Default)]
pub(crate) struct Jobs;
impl Reconcile for Jobs {
    const NAME: &'static str = "job";
    async fn pass(&mut self, _ctx: &Arc<Ctx>) -> Option<Instant> { None }
}
