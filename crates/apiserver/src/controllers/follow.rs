//! Keeps an in-memory view of one key prefix in step with the store: list, then watch from the
//! listed revision, starting over (reset, list again) when the watch breaks, until shutdown.
//! The RBAC cache and the admission webhook configurations both follow the store this way.

use std::time::Duration;

use store::EventType;

use crate::cluster::Cluster;

/// Follows `prefix`: `reset` empties the view before each (re)list, `apply` takes one key with
/// its value (`None`: deleted), `loaded` runs after each full list has been applied.
pub async fn follow(
    cluster: &Cluster,
    prefix: &str,
    reset: impl Fn(),
    apply: impl Fn(&str, Option<&[u8]>),
    loaded: impl Fn(),
) {
    loop {
        let Ok(listed) = cluster.store.list(prefix, None, 0, None) else {
            tokio::select! {
                _ = cluster.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
            }
        };
        reset();
        for kv in &listed.items {
            apply(&kv.key, Some(&kv.value));
        }
        loaded();
        let Ok(mut watcher) = cluster.store.watch(prefix, listed.revision) else {
            continue;
        };
        loop {
            let ev = tokio::select! {
                _ = cluster.shutdown.cancelled() => return,
                ev = watcher.next() => ev,
            };
            match ev {
                Some(Ok(ev)) => match ev.kind {
                    EventType::Deleted => apply(&ev.kv.key, None),
                    _ => apply(&ev.kv.key, Some(&ev.kv.value)),
                },
                Some(Err(_)) => break,
                None => return,
            }
        }
    }
}
