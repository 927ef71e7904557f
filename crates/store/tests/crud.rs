//! Create/update/delete semantics, errors and optimistic concurrency.

mod common;

use std::sync::Arc;

use common::{open, set, tomb, val};
use store::{StoreError, UpdateFn};

#[tokio::test]
async fn create_assigns_contiguous_revisions_from_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    assert_eq!(s.revision(), 0);
    let a = s.create("/a", val("1")).await.unwrap();
    let b = s.create("/b", val("2")).await.unwrap();
    assert_eq!((a.create_revision, a.mod_revision), (1, 1));
    assert_eq!((b.create_revision, b.mod_revision), (2, 2));
    assert_eq!(s.revision(), 2);
    assert_eq!(&*s.get("/a").unwrap().value, b"1");
}

#[tokio::test]
async fn create_receives_its_revision() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/x", val("x")).await.unwrap();
    let kv = s
        .create("/y", Box::new(|rev| format!("rv={rev}").into_bytes()))
        .await
        .unwrap();
    assert_eq!(&*kv.value, b"rv=2");
}

#[tokio::test]
async fn create_of_existing_key_fails_and_takes_no_revision() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/a", val("1")).await.unwrap();
    assert_eq!(
        s.create("/a", val("2")).await.unwrap_err(),
        StoreError::AlreadyExists
    );
    assert_eq!(s.revision(), 1);
    assert_eq!(&*s.get("/a").unwrap().value, b"1");
}

#[tokio::test]
async fn update_and_delete_of_missing_key_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    assert_eq!(
        s.update("/nope", None, set("x")).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        s.delete("/nope", Some(3), tomb()).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(s.revision(), 0);
}

#[tokio::test]
async fn update_keeps_create_revision_and_checks_expected() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/a", val("1")).await.unwrap();
    let up = s.update("/a", Some(1), set("2")).await.unwrap();
    assert_eq!((up.create_revision, up.mod_revision), (1, 2));
    assert_eq!(
        s.update("/a", Some(1), set("3")).await.unwrap_err(),
        StoreError::Conflict { current: 2 }
    );
    assert_eq!(
        s.delete("/a", Some(1), tomb()).await.unwrap_err(),
        StoreError::Conflict { current: 2 }
    );
    assert_eq!(&*s.get("/a").unwrap().value, b"2");
    assert_eq!(s.revision(), 2);
}

#[tokio::test]
async fn update_function_sees_current_value_and_can_abort() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/a", val("1")).await.unwrap();
    let f: UpdateFn = Box::new(|kv, rev| {
        let mut v = kv.value.to_vec();
        v.extend_from_slice(format!("+{rev}").as_bytes());
        Ok(v)
    });
    assert_eq!(&*s.update("/a", None, f).await.unwrap().value, b"1+2");
    let abort: UpdateFn = Box::new(|_, _| Err(StoreError::Backend("invalid".into())));
    assert_eq!(
        s.update("/a", None, abort).await.unwrap_err(),
        StoreError::Backend("invalid".into())
    );
    assert_eq!(s.revision(), 2);
    // The aborted write consumed no revision: the next write is 3.
    assert_eq!(s.create("/b", val("b")).await.unwrap().mod_revision, 3);
}

#[tokio::test]
async fn panicking_value_function_is_an_error_not_a_dead_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let err = s
        .create("/a", Box::new(|_| panic!("caller bug")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)));
    assert_eq!(s.create("/a", val("ok")).await.unwrap().mod_revision, 1);
}

#[tokio::test]
async fn delete_returns_final_value_at_delete_revision() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/a", val("1")).await.unwrap();
    let fin = s
        .delete(
            "/a",
            Some(1),
            Box::new(|kv, rev| {
                format!("{}@{rev}", String::from_utf8_lossy(&kv.value)).into_bytes()
            }),
        )
        .await
        .unwrap();
    assert_eq!(&*fin.value, b"1@2");
    assert_eq!((fin.create_revision, fin.mod_revision), (1, 2));
    assert!(s.get("/a").is_none());
    // Re-creating gets a fresh create revision.
    let again = s.create("/a", val("new")).await.unwrap();
    assert_eq!(again.create_revision, 3);
}

#[tokio::test]
async fn writes_to_one_key_in_one_batch_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // Queue without awaiting in between so the writer is likely to take them as one batch.
    let (a, b, c, d) = tokio::join!(
        s.create("/k", val("1")),
        s.update("/k", None, set("2")),
        s.delete("/k", None, tomb()),
        s.create("/k", val("3")),
    );
    let revs: Vec<i64> = [a, b, c, d]
        .into_iter()
        .map(|r| r.unwrap().mod_revision)
        .collect();
    assert_eq!(revs, vec![1, 2, 3, 4]);
    let kv = s.get("/k").unwrap();
    assert_eq!((&*kv.value, kv.create_revision), (&b"3"[..], 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_compare_and_swap_loses_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/counter", val("0")).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..25 {
                    loop {
                        let cur = s.get("/counter").unwrap();
                        let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                        let next = (n + 1).to_string();
                        match s
                            .update("/counter", Some(cur.mod_revision), set(&next))
                            .await
                        {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => conflicts += 1,
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    assert_eq!(&*s.get("/counter").unwrap().value, b"200");
    assert_eq!(s.revision(), 201);
    // With eight racing writers some compare-and-swaps must have lost.
    assert!(conflicts > 0);
}

#[tokio::test]
async fn close_rejects_writes_and_ends_watchers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("/a", val("1")).await.unwrap();
    let mut w = s.watch("/", 1).unwrap();
    s.close();
    assert_eq!(
        s.create("/b", val("2")).await.unwrap_err(),
        StoreError::Closed
    );
    assert!(w.next().await.is_none());
    assert_eq!(s.watch("/", 0).unwrap_err(), StoreError::Closed);
    // Reads of the last state still work.
    assert!(s.get("/a").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_writes_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = common::opts(dir.path());
    o.durable = true;
    let s = store::Store::open(o).unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..20 {
                    s.create(&format!("/g/{t}/{i}"), val("x")).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stats = s.stats();
    assert_eq!(stats.writes, 320);
    assert_eq!(s.revision(), 320);
    // Sixteen writers waiting on fsyncs must have been grouped, on average well above one
    // write per transaction.
    assert!(stats.commits * 3 <= stats.writes, "{stats:?}");
}
