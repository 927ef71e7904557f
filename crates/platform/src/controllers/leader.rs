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
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: Client,
    namespace: &str,
    name: &str,
    identity: String,
    version: String,
    timings: LeaseTimings,
    tx: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    let deadline = renew_deadline(timings);
    loop {
        // An attempt that cannot finish before the Lease could lapse counts as lost: a leader
        // cut off from the host stops leading before another replica may take over (each
        // call's own bound, 15 s, would let two lead at once for a while).
        let attempt = tokio::time::timeout(
            deadline,
            try_acquire(&api, name, &identity, &version, timings),
        );
        let leading = match attempt.await {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "leader election");
                false
            }
            Err(_) => {
                tracing::warn!(
                    ?deadline,
                    "leader election: the Lease was not renewed in time"
                );
                false
            }
        };
        // Only a change is sent: every controller loop wakes on one, and a renewal is none.
        tx.send_if_modified(|was| {
            let changed = *was != leading;
            if changed {
                tracing::info!(leading, identity = %identity, "leadership changed");
            }
            *was = leading;
            changed
        });
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

/// How long one attempt to take or renew the Lease may take: the lease duration less one retry
/// period (the last renewal was at most that long before the attempt began), so a leader that
/// cannot renew has stepped down before its Lease lapses; at least 100 ms.
fn renew_deadline(timings: LeaseTimings) -> Duration {
    timings
        .duration
        .saturating_sub(timings.retry)
        .max(Duration::from_millis(100))
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// The annotations a leader writes on its Lease: its version (operators see which version
/// leads during an upgrade).
fn leader_annotations(version: &str) -> std::collections::BTreeMap<String, String> {
    [(
        crate::version::LEADER_VERSION_ANNOTATION.to_string(),
        version.to_string(),
    )]
    .into()
}

async fn try_acquire(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
    version: &str,
    timings: LeaseTimings,
) -> Result<bool, crate::error::PlatformError> {
    let secs = i32::try_from(timings.duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let Some(mut lease) = timed("get lease", api.get_opt(name)).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                annotations: Some(leader_annotations(version)),
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
    lease
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .extend(leader_annotations(version));
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
    fn a_leader_that_cannot_renew_steps_down_before_its_lease_lapses() {
        use super::{LeaseTimings, renew_deadline};
        use std::time::Duration;
        let t = |d, r| LeaseTimings {
            duration: Duration::from_secs(d),
            retry: Duration::from_secs(r),
        };
        // Renewed at most `retry` before the attempt, given up `deadline` into it: before
        // `duration` has passed since the renewal.
        for (d, r) in [(15, 2), (5, 1), (2, 1)] {
            let deadline = renew_deadline(t(d, r));
            assert!(
                deadline + Duration::from_secs(r) <= Duration::from_secs(d),
                "{d} {r}"
            );
            assert!(deadline >= Duration::from_millis(100));
        }
        assert_eq!(renew_deadline(t(15, 2)), Duration::from_secs(13));
        assert_eq!(renew_deadline(t(1, 2)), Duration::from_millis(100));
    }

    /// Controller loops wake on every change of the channel: a renewal must not be one (it
    /// made every loop run a pass per renewal, whatever its own period).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renewals_are_not_announced_as_changes() {
        use super::{LeaseTimings, run};
        use k8s_openapi::api::coordination::v1::Lease;
        use std::time::Duration;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cc = apiserver::ClusterConfig::new(dir.path().join("cluster"));
        cc.listen = "127.0.0.1:0".parse().expect("addr");
        cc.durable = false;
        let cluster = apiserver::start(cc).await.expect("cluster");
        let kc = kube::config::Kubeconfig::read_from(&cluster.kubeconfig_path).expect("kc");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let shutdown = tokio_util::sync::CancellationToken::new();
        let timings = LeaseTimings {
            duration: Duration::from_secs(5),
            retry: Duration::from_millis(50),
        };
        let election = tokio::spawn(run(
            client.clone(),
            "default",
            "renewals",
            "me".into(),
            "v1".into(),
            timings,
            tx,
            shutdown.clone(),
        ));
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|leading| *leading))
            .await
            .expect("leads within 30 s")
            .expect("election running");
        // Three renewals later, nothing more was announced.
        let leases: kube::Api<Lease> = kube::Api::namespaced(client, "default");
        let mut renewals = std::collections::HashSet::new();
        for _ in 0..500 {
            let lease = leases.get("renewals").await.expect("lease");
            if let Some(t) = lease.spec.and_then(|s| s.renew_time) {
                renewals.insert(t.0);
            }
            if renewals.len() > 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(renewals.len() > 3, "renewed {} times", renewals.len());
        assert!(!rx.has_changed().expect("election running"));
        // Stepping down is announced.
        shutdown.cancel();
        election.await.expect("election");
        assert!(!*rx.borrow_and_update());
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
