//! Online snapshots: taken while writers keep committing, a snapshot is the store at one
//! revision and holds every write acknowledged before it began.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{open, opts, pairs, set, val};
use store::{Store, backup};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_under_write_load_is_one_revision_with_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // Enough data that the copy takes several backup steps while the writers go on.
    let filler = "x".repeat(4096);
    for i in 0..2_000 {
        s.create(&format!("/fill/{i:05}"), val(&filler))
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("/load/{w}/{i:06}");
                    let kv = s.create(&key, val("v")).await.unwrap();
                    s.update(&key, None, set("v2")).await.unwrap();
                    acked.push((key, kv.mod_revision));
                    i += 1;
                }
                acked
            })
        })
        .collect();
    // Let the writers get going, then note what was acknowledged before the snapshot.
    while s.revision() < 2_500 {
        tokio::task::yield_now().await;
    }
    let before = s.revision();
    let snap_path = dir.path().join("snap.db");
    let source = dir.path().join("store.db");
    let dest = snap_path.clone();
    let mut steps = 0;
    let info = tokio::task::spawn_blocking(move || {
        backup::snapshot(&source, &dest, |_, _| steps += 1).map(|i| (i, steps))
    })
    .await
    .unwrap()
    .unwrap();
    let (info, steps) = info;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(steps > 1, "the copy took {steps} step(s)");
    assert!(info.revision >= before, "{info:?} before {before}");
    assert!(
        s.revision() > info.revision,
        "the writers went on during the snapshot"
    );
    assert_eq!(info.format_version, store::FORMAT_VERSION);
    assert_eq!(backup::inspect(&snap_path).unwrap(), info);

    // The snapshot is exactly the live store's state at its revision.
    let at_snapshot = s.list("/", None, 0, Some(info.revision)).unwrap();
    s.close();
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&snap_path, restored_dir.path().join("store.db")).unwrap();
    let r = Store::open(opts(restored_dir.path())).unwrap();
    assert_eq!(r.revision(), info.revision);
    let restored = r.list("/", None, 0, None).unwrap();
    assert_eq!(pairs(&restored.items), pairs(&at_snapshot.items));
    let restored: BTreeMap<_, _> = restored
        .items
        .iter()
        .map(|kv| (kv.key.to_string(), kv.mod_revision))
        .collect();
    for (key, rev) in acked.iter().filter(|(_, rev)| *rev <= before) {
        assert!(
            restored.contains_key(key),
            "{key} (revision {rev}) is missing"
        );
    }
    // Revisions go on from the snapshot's.
    assert_eq!(
        r.create("/after", val("1")).await.unwrap().mod_revision,
        info.revision + 1
    );
}

#[test]
fn a_snapshot_refuses_to_overwrite_and_needs_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let err = backup::snapshot(
        &dir.path().join("none.db"),
        &dir.path().join("o"),
        |_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("no store file"), "{err}");
    let s = Store::open(opts(dir.path())).unwrap();
    std::fs::write(dir.path().join("o"), b"taken").unwrap();
    let err = backup::snapshot(
        &dir.path().join("store.db"),
        &dir.path().join("o"),
        |_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    s.close();
}

#[test]
fn a_damaged_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.db");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();
    assert!(backup::inspect(&path).is_err());
}
