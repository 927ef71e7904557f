//! Placeholder.
use std::sync::Arc;
use std::time::Instant;
use crate::engine::{Ctx, Reconcile};
/// Controller state.
#[derive(Default)]
pub(crate) struct Endpoints;
impl Reconcile for Endpoints {
    const NAME: &'static str = "endpoints";
    async fn pass(&mut self, _ctx: &Arc<Ctx>) -> Option<Instant> { None }
}
