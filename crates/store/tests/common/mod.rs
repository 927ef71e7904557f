//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use store::{CreateFn, DeleteFn, Store, StoreOptions, StoreTuning, UpdateFn};

/// Options for a test store in `dir`: no background compaction, no fsync.
pub fn opts(dir: &Path) -> StoreOptions {
    StoreOptions {
        path: dir.join("store.db"),
        compaction_interval: Duration::from_secs(3600),
        retain_revisions: 1_000_000,
        durable: false,
    }
}

/// Opens a test store in `dir`.
pub fn open(dir: &Path) -> Arc<Store> {
    Store::open(opts(dir)).expect("open store")
}

/// Opens a test store with tiny in-memory buffers so the SQLite paths get exercised.
pub fn open_small(dir: &Path) -> Arc<Store> {
    let tuning = StoreTuning {
        ring_capacity: 4,
        ring_max_bytes: 1 << 20,
        broadcast_capacity: 2,
        max_batch: 8,
        compaction_step: 3,
    };
    Store::open_tuned(opts(dir), tuning).expect("open store")
}

/// A create value function returning fixed bytes.
pub fn val(s: &str) -> CreateFn {
    let s = s.to_owned();
    Box::new(move |_| s.into_bytes())
}

/// An update value function returning fixed bytes.
pub fn set(s: &str) -> UpdateFn {
    let s = s.to_owned();
    Box::new(move |_, _| Ok(s.into_bytes()))
}

/// A delete function that records the last value as the final one.
pub fn tomb() -> DeleteFn {
    Box::new(|kv, _| kv.value.to_vec())
}

/// The keys and values of a list, as strings.
pub fn pairs(items: &[store::KeyValue]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|kv| {
            (
                kv.key.to_string(),
                String::from_utf8_lossy(&kv.value).into_owned(),
            )
        })
        .collect()
}
