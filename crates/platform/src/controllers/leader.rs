//! Leader election over a `coordination.k8s.io/v1` Lease, so that one replica runs the
//! controllers at a time.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::kubeapi::timed;

/// Lease timings.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTimings {
    /// How long a lease is valid without renewal.
    pub duration: Duration,
    /// How often the holder renews and others retry.
    pub retry: Duration,
}

/// Runs the election loop, publishing whether this replica leads, until `shutdown`; on shutdown
/// a leader gives the lease up so another replica takes over at once.
pub async fn run(
    client: Client,
    namespace: &str,
    name: &str,
    identity: String,
    timings: LeaseTimings,
    tx: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    loop {
        let leading = match try_acquire(&api, name, &identity, timings).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "leader election");
                false
            }
        };
        if *tx.borrow() != leading {
            tracing::info!(leading, identity = %identity, "leadership changed");
        }
        tx.send_replace(leading);
        tokio::select! {
            _ = shutdown.cancelled() => {
                if leading {
                    let _ = release(&api, name, &identity).await;
                }
                tx.send_replace(false);
                return;
            }
            _ = tokio::time::sleep(timings.retry) => {}
        }
    }
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

async fn try_acquire(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
    timings: LeaseTimings,
) -> Result<bool, crate::error::PlatformError> {
    let secs = i32::try_from(timings.duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let Some(mut lease) = timed("get lease", api.get_opt(name)).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(identity.to_string()),
                lease_duration_seconds: Some(secs),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match timed("create lease", api.create(&PostParams::default(), &lease)).await {
            Ok(_) => Ok(true),
            Err(e) if crate::kubeapi::is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let expired = match &spec.renew_time {
        Some(MicroTime(t)) => {
            let valid = i64::from(spec.lease_duration_seconds.unwrap_or(secs));
            lease_expired(*t, valid, k8s_openapi::jiff::Timestamp::now())
        }
        None => true,
    };
    if holder != identity && !holder.is_empty() && !expired {
        return Ok(false);
    }
    if holder != identity {
        spec.holder_identity = Some(identity.to_string());
        spec.acquire_time = Some(now());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(now());
    spec.lease_duration_seconds = Some(secs);
    match timed(
        "renew lease",
        api.replace(name, &PostParams::default(), &lease),
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(e) if crate::kubeapi::is_conflict(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether a Lease renewed at `renewed` for `valid_secs` has lapsed at `now`, to the
/// microsecond the Lease records (whole seconds would let a dead leader's Lease stand up to a
/// second longer than its duration, and a takeover take longer than duration plus retry).
fn lease_expired(
    renewed: k8s_openapi::jiff::Timestamp,
    valid_secs: i64,
    now: k8s_openapi::jiff::Timestamp,
) -> bool {
    renewed
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(valid_secs))
        .map_or(true, |end| now > end)
}

async fn release(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
) -> Result<(), crate::error::PlatformError> {
    if let Some(mut lease) = timed("get lease", api.get_opt(name)).await?
        && let Some(spec) = lease.spec.as_mut()
        && spec.holder_identity.as_deref() == Some(identity)
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        timed(
            "release lease",
            api.replace(name, &PostParams::default(), &lease),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::lease_expired;
    use k8s_openapi::jiff::Timestamp;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn a_lease_lapses_to_the_microsecond() {
        let renewed = at("2026-01-01T00:00:00.900Z");
        assert!(!lease_expired(renewed, 5, at("2026-01-01T00:00:05.800Z")));
        assert!(!lease_expired(renewed, 5, at("2026-01-01T00:00:05.900Z")));
        // Whole seconds would call it valid until 00:00:06.
        assert!(lease_expired(renewed, 5, at("2026-01-01T00:00:05.901Z")));
        assert!(lease_expired(renewed, 0, at("2026-01-01T00:00:01Z")));
    }
}
