//! Platform controllers: level-triggered reconcile passes run only by the elected leader.

pub mod aggregation;
pub mod finalizers;
pub mod groups;
pub mod leader;
pub mod storage;
pub mod tenancy;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::http::AppState;

/// Controller timings.
#[derive(Debug, Clone, Copy)]
pub struct ControllerTimings {
    /// Time between reconcile passes.
    pub resync: Duration,
    /// Time between prunes of login records and token sessions.
    pub prune: Duration,
    /// How long login records are kept.
    pub login_record_ttl: Duration,
    /// How long a locked user stays locked.
    pub lockout_duration: Duration,
}

/// Runs reconcile passes while this replica leads.
pub async fn run(
    state: Arc<AppState>,
    mut leader: watch::Receiver<bool>,
    timings: ControllerTimings,
    shutdown: CancellationToken,
) {
    let mut last_prune: Option<tokio::time::Instant> = None;
    let mut quotas_recalculated = crate::quotas::controller::Recalculated::default();
    let mut aggregated = aggregation::Aggregated::default();
    // A changed role template is aggregated into the roles at once, not at the next resync.
    let mut templates = state.caches.role_templates.subscribe();
    loop {
        if *leader.borrow_and_update() {
            let s = &state;
            let pass = std::time::Instant::now();
            if let Err(e) =
                aggregation::reconcile_changed(&s.client, &s.caches, &mut aggregated).await
            {
                tracing::warn!(error = %e, "role aggregation");
            }
            if let Err(e) = tenancy::reconcile(&s.client, &s.caches).await {
                tracing::warn!(error = %e, "tenancy");
            }
            if let Err(e) = groups::reconcile(&s.client, &s.caches).await {
                tracing::warn!(error = %e, "group membership");
            }
            if let Err(e) = finalizers::reconcile(s).await {
                tracing::warn!(error = %e, "KubeSphere finalizers");
            }
            if let Err(e) = crate::clusters::controller::reconcile(
                &s.client,
                &s.caches,
                &s.clusters.settings.host_name,
            )
            .await
            {
                tracing::warn!(error = %e, "clusters");
            }
            if let Err(e) = crate::clusters::placement::reconcile(&s.caches, &s.clusters).await {
                tracing::warn!(error = %e, "workspace placement");
            }
            // Usage is counted from the objects every five passes; admission charges it
            // in between.
            if let Err(e) = crate::quotas::controller::reconcile(
                s,
                &mut quotas_recalculated,
                timings.resync * 5,
            )
            .await
            {
                tracing::warn!(error = %e, "workspace quotas");
            }
            if let Err(e) = users::reconcile(
                &s.client,
                &s.caches,
                &s.tokens,
                s.settings.hash_cost,
                timings.lockout_duration,
            )
            .await
            {
                tracing::warn!(error = %e, "users");
            }
            if last_prune.is_none_or(|t| t.elapsed() >= timings.prune) {
                last_prune = Some(tokio::time::Instant::now());
                if let Err(e) = users::prune(&s.client, &s.tokens, timings.login_record_ttl).await {
                    tracing::warn!(error = %e, "pruning");
                }
                if let Err(e) = crate::openid::codes::prune(&s.client).await {
                    tracing::warn!(error = %e, "pruning authorization codes");
                }
            }
            s.metrics.controller_pass("platform", pass.elapsed());
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = leader.changed() => {}
            Ok(()) = templates.changed() => {}
            _ = tokio::time::sleep(timings.resync) => {}
        }
    }
}

/// The App Store's controllers (releases, and the apps' states), in their own loop while this
/// replica leads, so that a long install does not hold up the other controllers.
pub async fn run_appstore(
    state: Arc<AppState>,
    mut leader: watch::Receiver<bool>,
    resync: Duration,
    shutdown: CancellationToken,
) {
    // The API and syncs keep apps' states as they change versions; this pass is for changes
    // made by other means (kubectl), and lists every version: once a minute is enough.
    let mut apps_checked: Option<tokio::time::Instant> = None;
    // A repository added (or its spec changed) is synced at once, as a watch-driven controller
    // would; the pass's own status writes wake it once more, which finds nothing due.
    let mut repos = state.caches.repos.subscribe();
    loop {
        if *leader.borrow_and_update() {
            if let Err(e) = crate::appstore::releases::reconcile(&state).await {
                tracing::warn!(error = %e, "app releases");
            }
            if let Err(e) = crate::appstore::repos::reconcile(&state).await {
                tracing::warn!(error = %e, "app repositories");
            }
            if apps_checked.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                apps_checked = Some(tokio::time::Instant::now());
                if let Err(e) = crate::appstore::apps::reconcile(&state).await {
                    tracing::warn!(error = %e, "apps");
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = leader.changed() => {}
            Ok(()) = repos.changed() => {}
            _ = tokio::time::sleep(resync) => {}
        }
    }
}
