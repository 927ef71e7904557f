//! Placeholder.
use std::sync::Arc;
use std::time::Instant;
use crate::engine::{Ctx, Reconcile};
/// Controller state.
#[derive(Default)]
pub(crate) struct StatefulSets;
impl Reconcile for StatefulSets {
    const NAME: &'static str = "statefulset";
    async fn pass(&mut self, _ctx: &Arc<Ctx>) -> Option<Instant> { None }
}
