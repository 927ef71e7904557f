//! Reopen, compaction and the background compactor.

mod common;

use std::time::Duration;

use common::{open, open_small, opts, pairs, set, tomb, val};
use store::{Store, StoreError};

#[tokio::test]
async fn reopen_preserves_state_and_revisions_continue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.create("/a", val("1")).await.unwrap();
        s.create("/b", val("2")).await.unwrap();
        s.update("/a", None, set("1'")).await.unwrap();
        s.delete("/b", None, tomb()).await.unwrap();
        s.close();
    }
    let s = open(dir.path());
    assert_eq!(s.revision(), 4);
    let a = s.get("/a").unwrap();
    assert_eq!(
        (&*a.value, a.create_revision, a.mod_revision),
        (&b"1'"[..], 1, 3)
    );
    assert!(s.get("/b").is_none());
    assert_eq!(s.create("/b", val("again")).await.unwrap().mod_revision, 5);
    // The older states are still listable after the restart.
    assert_eq!(
        pairs(&s.list("/", None, 0, Some(2)).unwrap().items),
        vec![("/a".into(), "1".into()), ("/b".into(), "2".into())]
    );
}

#[tokio::test]
async fn dropping_the_last_handle_closes_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.create("/a", val("1")).await.unwrap();
    }
    let s = open(dir.path());
    assert_eq!(s.revision(), 1);
}

#[tokio::test]
async fn compaction_keeps_latest_versions_and_drops_old_history() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_small(dir.path());
    s.create("/a", val("a1")).await.unwrap(); // 1
    s.create("/b", val("b1")).await.unwrap(); // 2
    s.update("/a", None, set("a2")).await.unwrap(); // 3
    s.delete("/b", None, tomb()).await.unwrap(); // 4
    s.create("/c", val("c1")).await.unwrap(); // 5
    s.update("/c", None, set("c2")).await.unwrap(); // 6
    s.compact(5).unwrap();
    assert_eq!(s.compacted_revision(), 5);
    for rev in [0, 2, 4] {
        assert_eq!(
            s.list("/", None, 0, Some(rev)).unwrap_err(),
            StoreError::Compacted { compacted: 5 }
        );
    }
    let at5 = vec![("/a".into(), "a2".into()), ("/c".into(), "c1".into())];
    assert_eq!(pairs(&s.list("/", None, 0, Some(5)).unwrap().items), at5);
    // Superseded versions (1, 2) and the tombstone (4) are gone from the file.
    let db = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
    let mut stmt = db.prepare("SELECT rev FROM kv ORDER BY rev").unwrap();
    let rows: Vec<i64> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, vec![3, 5, 6]);
    drop(stmt);
    drop(db);
    s.close();
    drop(s);
    // After reopen every read of history goes to SQLite: the rows kept must still answer.
    let s = open_small(dir.path());
    assert_eq!(s.compacted_revision(), 5);
    assert_eq!(pairs(&s.list("/", None, 0, Some(5)).unwrap().items), at5);
    let mut w = s.watch("/", 5).unwrap();
    let e = w.next().await.unwrap().unwrap();
    assert_eq!(e.kv.mod_revision, 6);
    assert_eq!(e.prev.map(|p| p.value), Some("c1".into()));
    assert_eq!(
        s.watch("/", 4).unwrap_err(),
        StoreError::Compacted { compacted: 5 }
    );
}

#[tokio::test]
async fn compacting_past_a_trailing_delete_does_not_rewind_revisions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.create("/a", val("1")).await.unwrap();
        s.delete("/a", None, tomb()).await.unwrap();
        s.compact(2).unwrap();
        s.close();
    }
    let s = open(dir.path());
    assert_eq!((s.revision(), s.compacted_revision()), (2, 2));
    assert_eq!(s.create("/b", val("x")).await.unwrap().mod_revision, 3);
}

#[tokio::test]
async fn compact_is_clamped_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/a", val("1")).await.unwrap();
    s.compact(100).unwrap();
    assert_eq!(s.compacted_revision(), 1);
    s.compact(0).unwrap();
    assert_eq!(s.compacted_revision(), 1);
    assert_eq!(s.get("/a").map(|kv| kv.mod_revision), Some(1));
}

#[tokio::test]
async fn background_compactor_keeps_the_retained_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.compaction_interval = Duration::from_millis(20);
    o.retain_revisions = 10;
    let s = Store::open(o).unwrap();
    for i in 0..50 {
        s.create(&format!("/k/{i}"), val("x")).await.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.compacted_revision() < 40 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.compacted_revision(), 40);
    assert_eq!(s.list("/k/", None, 0, Some(40)).unwrap().items.len(), 40);
    assert!(matches!(
        s.list("/k/", None, 0, Some(39)),
        Err(StoreError::Compacted { .. })
    ));
    assert_eq!(s.count("/k/"), 50);
}

#[tokio::test]
async fn open_fails_readably_on_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(&dir.path().join("missing"));
    let err = Store::open(o).unwrap_err();
    assert!(err.to_string().contains("cannot open store file"), "{err}");
}

#[tokio::test]
async fn background_checkpoint_moves_the_wal_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    for i in 0..3000 {
        s.create(&format!("/k/{i}"), val(&"x".repeat(1024)))
            .await
            .unwrap();
    }
    // Commits never checkpoint themselves, so the data reaches store.db only via the
    // checkpointer thread.
    let db = dir.path().join("store.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&db).unwrap().len() < 3_000_000 && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(std::fs::metadata(&db).unwrap().len() >= 3_000_000);
}

#[tokio::test]
async fn a_second_store_on_the_same_file_is_refused_until_close() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let err = Store::open(opts(dir.path())).unwrap_err();
    assert!(err.to_string().contains("already open"), "{err}");
    s.create("/a", val("1")).await.unwrap();
    s.close();
    let again = Store::open(opts(dir.path())).unwrap();
    assert_eq!(again.revision(), 1);
}
