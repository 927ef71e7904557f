//! Leader election with the `kube-lease-manager` crate against an embedded cluster: two
//! contenders on one Lease, exactly one leader at a time, takeover after the holder dies, and a
//! quick handover when it releases (issue 3: everything kubectl, controllers and CRDs expect,
//! must-show 4).

mod common;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch::Receiver;
use tokio::task::JoinHandle;

use common::TestCluster;

const LEASE: &str = "orrery-test-leader";
/// Short enough for a quick test, with a grace wide enough that a busy machine renews in time.
const DURATION: u64 = 4;
const GRACE: u64 = 2;
/// Every wait in this file ends by then.
const BOUND: Duration = Duration::from_secs(30);

type Contender = (
    Receiver<bool>,
    JoinHandle<kube_lease_manager::Result<LeaseManager>>,
);

async fn contender(client: &kube::Client, identity: &str) -> Contender {
    let manager = LeaseManagerBuilder::new(client.clone(), LEASE)
        .with_namespace("default")
        .with_identity(identity)
        .with_duration(DURATION)
        .with_grace(GRACE)
        .build()
        .await
        .expect("lease manager");
    manager.watch().await
}

async fn lease(api: &Api<Lease>) -> k8s_openapi::api::coordination::v1::LeaseSpec {
    api.get(LEASE)
        .await
        .expect("get lease")
        .spec
        .unwrap_or_default()
}

async fn until_leader(rx: &mut Receiver<bool>, who: &str) {
    tokio::time::timeout(BOUND, rx.wait_for(|leader| *leader))
        .await
        .unwrap_or_else(|_| panic!("{who} did not become leader within {BOUND:?}"))
        .unwrap_or_else(|_| panic!("{who}'s lease manager stopped"));
}

/// Waits until the lease's holder renews it after `after` (microseconds).
async fn renewed_since(api: &Api<Lease>, after: i64) {
    let deadline = tokio::time::Instant::now() + BOUND;
    while micros(&lease(api).await.renew_time) <= after {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease was not renewed within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn micros(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime>) -> i64 {
    t.as_ref()
        .map(|t| t.0.as_microsecond())
        .unwrap_or_else(|| panic!("time missing from the lease"))
}

#[tokio::test]
async fn one_leader_at_a_time_takeover_and_handover() {
    let c = TestCluster::start(&[]);
    let client = c.client().await;
    let api: Api<Lease> = Api::namespaced(client.clone(), "default");
    let (mut a_rx, a_task) = contender(&client, "alpha").await;
    let (mut b_rx, b_task) = contender(&client, "beta").await;

    // Wait for the first election, then watch over two lease durations (renewals included).
    tokio::time::timeout(BOUND, async {
        while !*a_rx.borrow() && !*b_rx.borrow() {
            tokio::select! {
                _ = a_rx.changed() => {}
                _ = b_rx.changed() => {}
            }
        }
    })
    .await
    .expect("nobody became leader");
    let observe_until = tokio::time::Instant::now() + Duration::from_secs(2 * DURATION);
    while tokio::time::Instant::now() < observe_until {
        let (a, b) = (*a_rx.borrow(), *b_rx.borrow());
        assert!(!(a && b), "two leaders at once");
        assert!(a || b, "the leader lost the lease while alive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a_leads = *a_rx.borrow();
    let (leader, follower, leader_task, follower_task, mut follower_rx) = if a_leads {
        ("alpha", "beta", a_task, b_task, b_rx)
    } else {
        ("beta", "alpha", b_task, a_task, a_rx)
    };
    let spec = lease(&api).await;
    assert_eq!(spec.holder_identity.as_deref(), Some(leader), "{spec:?}");
    assert_eq!(
        spec.lease_duration_seconds,
        Some(DURATION as i32),
        "{spec:?}"
    );
    let transitions = spec.lease_transitions.unwrap_or(0);
    assert!(transitions >= 1, "{spec:?}");

    // The leader dies without releasing: the follower takes over once the lease expires.
    leader_task.abort();
    let _ = leader_task.await;
    let last = lease(&api).await;
    assert_eq!(last.holder_identity.as_deref(), Some(leader));
    until_leader(&mut follower_rx, follower).await;
    let now = lease(&api).await;
    assert_eq!(now.holder_identity.as_deref(), Some(follower), "{now:?}");
    assert_eq!(now.lease_transitions, Some(transitions + 1), "{now:?}");
    assert!(
        micros(&now.acquire_time) >= micros(&last.renew_time) + DURATION as i64 * 1_000_000,
        "taken over only after expiry: last renewal {:?}, acquired {:?}",
        last.renew_time,
        now.acquire_time
    );

    // A third contender waits; the leader steps down cleanly and it takes over.
    let (mut c_rx, c_task) = contender(&client, "gamma").await;
    // gamma has had its chance once the holder has renewed since gamma started trying.
    renewed_since(&api, micros(&lease(&api).await.renew_time)).await;
    assert!(
        !*c_rx.borrow(),
        "gamma leads while {follower} holds the lease"
    );
    drop(follower_rx);
    let stepped_down = tokio::time::timeout(BOUND, follower_task)
        .await
        .expect("the leader's manager stops when its channel closes");
    assert!(
        matches!(stepped_down, Ok(Ok(_))),
        "clean release: {stepped_down:?}"
    );
    until_leader(&mut c_rx, "gamma").await;
    let spec = lease(&api).await;
    assert_eq!(spec.holder_identity.as_deref(), Some("gamma"), "{spec:?}");
    drop(c_rx);
    let _ = tokio::time::timeout(BOUND, c_task).await;
}

#[tokio::test]
async fn a_second_contender_never_steals_a_live_lease() {
    let c = TestCluster::start(&[]);
    let client = c.client().await;
    let api: Api<Lease> = Api::namespaced(client.clone(), "default");
    let (mut first_rx, first_task) = contender(&client, "first").await;
    until_leader(&mut first_rx, "first").await;
    // Starting later, the second contender sees a held, fresh lease.
    let (second_rx, second_task) = contender(&client, "second").await;
    let observe_until = tokio::time::Instant::now() + Duration::from_secs(2 * DURATION);
    while tokio::time::Instant::now() < observe_until {
        assert!(*first_rx.borrow(), "first lost a lease it kept renewing");
        assert!(!*second_rx.borrow(), "second took a live lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let spec = lease(&api).await;
    assert_eq!(spec.holder_identity.as_deref(), Some("first"), "{spec:?}");
    assert_eq!(spec.lease_transitions, Some(1), "{spec:?}");
    // The holder renewed: renewTime moved past acquireTime.
    assert!(
        micros(&spec.renew_time) > micros(&spec.acquire_time),
        "{spec:?}"
    );
    drop(second_rx);
    drop(first_rx);
    let _ = tokio::time::timeout(BOUND, second_task).await;
    let _ = tokio::time::timeout(BOUND, first_task).await;
}
