//! Placeholder.
use std::sync::Arc;
use std::time::Instant;
use crate::engine::{Ctx, Reconcile};
use crate::SimError;
/// Controller state.
#[derive(Default)]
pub(crate) struct Volumes;
impl Reconcile for Volumes {
    const NAME: &'static str = "volumes";
    async fn pass(&mut self, _ctx: &Arc<Ctx>) -> Option<Instant> { None }
}
pub(crate) async fn ensure_default_storage_class(_c: &kube::Client) -> Result<(), SimError> { Ok(()) }
